package runlog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
	"unicode"
)

// SignaturesFile is the name of a run's electronic signatures in its
// directory: one Signature per line, appended, never rewritten. It is not
// covered by the seal: signatures are made after the seal, of its hash.
const SignaturesFile = "signatures.jsonl"

// maxSignaturesFile bounds what a reader takes from signatures.jsonl: a
// signature is about 500 bytes, so some two thousand of them.
const maxSignaturesFile = 1 << 20

// signatureDomain begins every signed statement, so that a signature made
// for a run record cannot be taken for one of anything else signed with
// the same key.
const signatureDomain = "mockloop run record signature v1"

// The meanings of a signature (21 CFR 11.50(a)(3)).
const (
	MeaningReviewed = "reviewed"
	MeaningApproved = "approved"
)

// maxSignatureText bounds a signature's name and comment, in bytes.
const maxSignatureText = 1000

// Statement is what a signature signs: the record, by its run id and the
// hash of its seal (Seal.Sum), bound to the signer's printed name, the
// time, the meaning and the comment (21 CFR 11.50, 11.70). The bytes signed
// are its JSON (encoding/json writes a struct's fields in order).
type Statement struct {
	Domain    string `json:"domain"`     // signatureDomain
	RunID     string `json:"run_id"`     // the run signed
	SealHash  string `json:"seal_hash"`  // Seal.Sum of the record as signed
	Name      string `json:"name"`       // the signer's printed name, from the key file
	Time      string `json:"time"`       // RFC 3339, UTC, to the second
	Meaning   string `json:"meaning"`    // MeaningReviewed or MeaningApproved
	Comment   string `json:"comment"`    // free text, may be empty
	PublicKey string `json:"public_key"` // the signer's Ed25519 public key, base64
}

// Signature is one line of signatures.jsonl: a statement and its Ed25519
// signature (base64) by the statement's public key.
type Signature struct {
	Statement
	Sig string `json:"signature"`
}

// SignatureCheck is what verifying one signature found. Problem is empty
// when the signature is valid: made by its key, of this run's record as it
// is now.
type SignatureCheck struct {
	Line        int       // in signatures.jsonl, from 1
	Signature   Signature // as read; empty fields if the line is not one
	Fingerprint string    // of its public key (KeyFingerprint), "" if none
	Problem     string
}

// What a signature check can find.
const (
	sigChanged   = "the record changed after it was signed"
	sigUntrusted = "signed by an untrusted key (not in the keyring)"
)

// KeyFingerprint names a public key in print: "SHA256:" and the unpadded
// base64 of the key's SHA-256, as ssh-keygen -l shows keys.
func KeyFingerprint(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(h[:])
}

// message returns the bytes a signature of st signs.
func (st Statement) message() []byte {
	b, _ := json.Marshal(st) // strings only: cannot fail
	return b
}

// check returns what is wrong with st as a statement, "" if nothing.
func (st Statement) check() string {
	t, err := time.Parse(time.RFC3339, st.Time)
	switch {
	case st.Domain != signatureDomain:
		return fmt.Sprintf("not a run record signature (domain %q)", st.Domain)
	case err != nil || t.Location() != time.UTC:
		return fmt.Sprintf("bad time %q (want RFC 3339 in UTC)", st.Time)
	case st.Meaning != MeaningReviewed && st.Meaning != MeaningApproved:
		return fmt.Sprintf("unknown meaning %q (want %s or %s)", st.Meaning, MeaningReviewed, MeaningApproved)
	}
	if p := CheckSignerName(st.Name); p != nil {
		return p.Error()
	}
	if len(st.Comment) > maxSignatureText {
		return "comment too long"
	}
	return ""
}

// CheckSignerName says what is wrong with a printed name for signatures:
// empty, too long, or holding control characters (it is printed on
// terminals and in reports).
func CheckSignerName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("empty name")
	case len(name) > maxSignatureText:
		return errors.New("name too long")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return errors.New("name has control characters")
	}
	return nil
}

// Sign signs the closed run in dir with key as name, with meaning and
// comment, at time at, and appends the signature to signatures.jsonl. It
// verifies the record first and refuses one that is not sealed or fails
// verification (ErrNotIntact): a signature vouches for the record as
// sealed. Other signatures are left as they are.
func Sign(dir string, key ed25519.PrivateKey, name, meaning, comment string, at time.Time) (*Signature, error) {
	v, err := Verify(dir)
	if err != nil {
		return nil, err
	}
	if !v.Intact() {
		return nil, fmt.Errorf("runlog: sign %s: %w: %s", dir, ErrNotIntact, strings.Join(v.Failures(), "; "))
	}
	pub := key.Public().(ed25519.PublicKey)
	s := Signature{Statement: Statement{
		Domain: signatureDomain, RunID: v.Seal.RunID, SealHash: v.sum, Name: name,
		Time: at.UTC().Truncate(time.Second).Format(time.RFC3339), Meaning: meaning, Comment: comment,
		PublicKey: base64.StdEncoding.EncodeToString(pub),
	}}
	if p := s.check(); p != "" {
		return nil, fmt.Errorf("runlog: sign %s: %s", dir, p)
	}
	s.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, s.message()))
	line, err := marshalCompact(s) // one line
	if err != nil {
		return nil, err
	}
	if err := appendDurable(filepath.Join(dir, SignaturesFile), append(line, '\n')); err != nil {
		return nil, fmt.Errorf("runlog: sign %s: %w", dir, err)
	}
	return &s, nil
}

// ErrNotIntact is wrapped by Sign's error for a record that is not sealed
// or fails verification.
var ErrNotIntact = errors.New("the record is not intact")

// appendDurable appends b to the file name (created if absent) in one
// write, and makes it durable.
func appendDurable(name string, b []byte) error {
	f, err := openAppend(name, true)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(name))
}

// ParseSignatures decodes signatures.jsonl, one check per non-empty line:
// a line that is not a signature is a check with its Problem, never an
// error, so that one bad line does not hide the others.
func ParseSignatures(b []byte) []SignatureCheck {
	var out []SignatureCheck
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		c := SignatureCheck{Line: i + 1}
		c.Problem = parseSignature(line, &c)
		out = append(out, c)
	}
	return out
}

// parseSignature decodes one line into c, and checks its statement and
// its signature; it returns what is wrong, "" if nothing.
func parseSignature(line []byte, c *SignatureCheck) string {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c.Signature); err != nil {
		c.Signature = Signature{}
		return "not a signature: " + err.Error()
	}
	pub, err := base64.StdEncoding.DecodeString(c.Signature.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return "bad public key"
	}
	c.Fingerprint = KeyFingerprint(pub)
	if p := c.Signature.check(); p != "" {
		return p
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature.Sig)
	if err != nil || !ed25519.Verify(pub, c.Signature.message(), sig) {
		return "bad signature: the signed entry was altered, or not signed by its key"
	}
	return ""
}

// verifySignatures reads the signatures of the run in dir and checks each
// against the run's id and the hash sum of its files as they are now
// (filesIntact: they are as sealed). No signatures file: none. An empty
// sum is a run without a readable seal: no signature can hold.
func verifySignatures(dir, runID, sum string, filesIntact bool) ([]SignatureCheck, string) {
	b, err := ReadFile(filepath.Join(dir, SignaturesFile), maxSignaturesFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, ""
	case err != nil:
		return nil, fmt.Sprintf("%s: unreadable, its signatures cannot be verified: %v", SignaturesFile, err)
	}
	checks := ParseSignatures(b)
	for i := range checks {
		c := &checks[i]
		switch {
		case c.Problem != "":
		case sum == "":
			c.Problem = "cannot hold: the record has no readable seal"
		case c.Signature.RunID != runID:
			c.Problem = "signature belongs to run " + c.Signature.RunID
		case c.Signature.SealHash != sum || !filesIntact:
			c.Problem = sigChanged
		}
	}
	return checks, ""
}

// Distrust marks every valid signature whose key trusted does not accept
// as signed by an untrusted key: a key carried by a signature proves only
// that someone made it, not who (anyone can make a key named after
// anyone); trusted says whether an administrator vouched for the key
// (package signing's keyring).
func (v *Verification) Distrust(trusted func(fingerprint string) bool) {
	for i := range v.Signatures {
		if c := &v.Signatures[i]; c.Problem == "" && !trusted(c.Fingerprint) {
			c.Problem = sigUntrusted
		}
	}
}

// SignatureFailures returns one line per invalid signature, naming the
// signer, the meaning and why.
func (v *Verification) SignatureFailures() []string {
	var out []string
	for _, c := range v.Signatures {
		if c.Problem != "" {
			out = append(out, fmt.Sprintf("%s: signature %d (%s, %s): %s", SignaturesFile, c.Line, c.Signature.Name, c.Signature.Meaning, c.Problem))
		}
	}
	return out
}
