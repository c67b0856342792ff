package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/signing"
)

const signUsage = `usage: mockloop sign [--runs DIR] --meaning reviewed|approved [--comment TEXT] [--key FILE | --name NAME] [--keys DIR] RUN

Signs a closed run's record electronically (21 CFR 11.50, 11.70): verifies
it against its seal first and refuses one that fails or is not sealed, then
signs a statement binding the seal's hash, the run id, the signer's printed
name (the key's), the time (UTC), the meaning and the comment, with the
signer's key (--key FILE, or the key of --name in --keys DIR, or the only
key there) unlocked by its passphrase (asked on the terminal, or
$MOCKLOOP_PASSPHRASE). The signature is appended to the run's
signatures.jsonl; earlier ones stay. RUN is a run id (or a unique prefix of
one) in --runs, or a run directory.

exit codes: 0 signed, 1 the record is not intact or not sealed, 3 invalid
input (flags, no such run, no such key, a wrong passphrase), 4 the
signature could not be written

flags:
`

// cmdSign implements `mockloop sign`.
func cmdSign(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sign", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, signUsage)
		fs.PrintDefaults()
	}
	runsDir := fs.String("runs", "runs", "directory of run records")
	meaning := fs.String("meaning", "", "what the signature means: `reviewed` or approved")
	comment := fs.String("comment", "", "a comment the signature carries")
	keyFile := fs.String("key", "", "the signer's key `FILE`")
	name := fs.String("name", "", "sign with the key of `NAME` in --keys")
	kf := addKeyFlags(fs)
	pos, ok := parseArgs(fs, args, 1, "usage: mockloop sign [--runs DIR] --meaning reviewed|approved [--comment TEXT] [--key FILE | --name NAME] RUN")
	if !ok {
		return exitInvalid
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "mockloop sign: %v\n", err)
		return code
	}
	if *meaning != runlog.MeaningReviewed && *meaning != runlog.MeaningApproved {
		return fail(exitInvalid, fmt.Errorf("--meaning %q: want %s or %s", *meaning, runlog.MeaningReviewed, runlog.MeaningApproved))
	}
	dir, err := findRun(*runsDir, pos[0])
	if err != nil {
		return fail(exitInvalid, err)
	}
	key, err := signerKey(*keyFile, *name, *kf.keys)
	if err != nil {
		return fail(exitInvalid, err)
	}
	pass, err := readPassphrase("passphrase of the key of "+termtext.Escape(key.Name)+": ", false)
	if err != nil {
		return fail(exitInvalid, err)
	}
	priv, err := key.Unlock(pass)
	if err != nil {
		return fail(exitInvalid, err)
	}
	s, err := runlog.Sign(dir, priv, key.Name, *meaning, *comment, time.Now())
	switch {
	case errors.Is(err, runlog.ErrNotRun):
		return fail(exitInvalid, err)
	case errors.Is(err, runlog.ErrNotIntact):
		return fail(exitFail, err)
	case err != nil:
		return fail(exitInfra, err)
	}
	fmt.Fprintf(stdout, "%s: signed (%s) by %s at %s, key %s, seal %s\n", dir, s.Meaning, termtext.Escape(s.Name), s.Time, key.Fingerprint(), s.SealHash)
	return exitPass
}

// signerKey finds the signer's key: the file given, else the key of name
// in dir, else the only key in dir.
func signerKey(file, name, dir string) (*signing.KeyFile, error) {
	if file != "" {
		return signing.ReadKeyFile(file)
	}
	keys, _, err := signing.Keys(dir)
	if err != nil {
		return nil, err
	}
	var found []*signing.KeyFile
	var names []string
	for _, k := range keys {
		names = append(names, termtext.Escape(k.Name))
		if name == "" || k.Name == name {
			found = append(found, k)
		}
	}
	switch {
	case len(keys) == 0:
		return nil, fmt.Errorf("no signing key in %s: make one with mockloop keys new --name \"Full Name\"", dir)
	case len(found) == 0:
		return nil, fmt.Errorf("no key of %q in %s (keys of: %s)", name, dir, strings.Join(names, ", "))
	case len(found) > 1:
		return nil, fmt.Errorf("%d keys in %s fit (keys of: %s): give --key FILE or --name NAME", len(found), dir, strings.Join(names, ", "))
	}
	return found[0], nil
}

// printSignatures writes one line per signature of the record: signer,
// meaning, time, comment, key fingerprint, and valid or why not.
func printSignatures(w io.Writer, v *runlog.Verification) {
	if len(v.Signatures) == 0 {
		fmt.Fprintln(w, "signatures: none")
	}
	for _, c := range v.Signatures {
		s := c.Signature
		line := fmt.Sprintf("signature %d: %s, %s, %s", c.Line, s.Name, s.Meaning, s.Time)
		if s.Comment != "" {
			line += fmt.Sprintf(", comment %q", s.Comment)
		}
		if c.Fingerprint != "" {
			line += ", key " + c.Fingerprint
		}
		what := "valid"
		if c.Problem != "" {
			what = "INVALID: " + c.Problem
		}
		fmt.Fprintln(w, termtext.Escape(line+": "+what))
	}
}

// keyringTrust returns whether the keyring at path trusts a key, for a
// report; a keyring that cannot be read is said on stderr and nothing is
// checked (the report says its signatures' keys were not).
func keyringTrust(path string, stderr io.Writer) func(string) bool {
	kr, err := signing.ReadKeyring(path)
	if err != nil {
		fmt.Fprintf(stderr, "mockloop: %v; signatures' keys not checked\n", err)
		return nil
	}
	return kr.Trusted
}
