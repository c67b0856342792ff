package runlog

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// signAt is when the tests sign.
var signAt = time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)

// newKey makes an Ed25519 key for a test.
func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sign signs dir, failing the test on an error.
func sign(t *testing.T, dir string, k ed25519.PrivateKey, name, meaning string) {
	t.Helper()
	if _, err := Sign(dir, k, name, meaning, "looks right", signAt); err != nil {
		t.Fatal(err)
	}
}

// checks verifies dir and returns its signature checks and failures.
func checks(t *testing.T, dir string) ([]SignatureCheck, []string) {
	t.Helper()
	v, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	return v.Signatures, v.Failures()
}

func TestSignReviewerAndApproverBothValid(t *testing.T) {
	dir := sealedRun(t)
	sign(t, dir, newKey(t), "R. Reviewer", MeaningReviewed)
	sign(t, dir, newKey(t), "A. Approver", MeaningApproved)
	cs, f := checks(t, dir)
	if len(f) != 0 || len(cs) != 2 {
		t.Fatalf("failures %q, %d signatures", f, len(cs))
	}
	if cs[0].Signature.Name != "R. Reviewer" || cs[1].Signature.Meaning != MeaningApproved || cs[0].Line != 1 || cs[1].Line != 2 {
		t.Errorf("signatures %+v", cs)
	}
	if cs[0].Signature.Time != "2026-12-06T09:30:00Z" || cs[0].Signature.RunID != testRunID || !strings.HasPrefix(cs[0].Fingerprint, "SHA256:") {
		t.Errorf("statement %+v", cs[0])
	}
}

// 11.70: any change to the record after signing invalidates every
// signature, and verify names both the file and the signatures.
func TestSignatureInvalidAfterRecordByteChanged(t *testing.T) {
	dir := sealedRun(t)
	sign(t, dir, newKey(t), "R. Reviewer", MeaningReviewed)
	sign(t, dir, newKey(t), "A. Approver", MeaningApproved)
	flipByte(t, filepath.Join(dir, resultFile), 10)
	cs, f := checks(t, dir)
	all := strings.Join(f, "\n")
	for _, want := range []string{"result.json: content differs", "signature 1 (R. Reviewer, reviewed): " + sigChanged, "signature 2 (A. Approver, approved): " + sigChanged} {
		if !strings.Contains(all, want) {
			t.Errorf("failures lack %q:\n%s", want, all)
		}
	}
	if len(cs) != 2 || cs[0].Problem != sigChanged {
		t.Errorf("checks %+v", cs)
	}
}

// Resealing an edited record (anyone can rewrite seal.json) makes the seal
// intact again, but not the signatures: they signed the old seal hash.
func TestSignatureInvalidAfterEditAndReseal(t *testing.T) {
	dir := sealedRun(t)
	sign(t, dir, newKey(t), "R. Reviewer", MeaningReviewed)
	flipByte(t, filepath.Join(dir, eventsFile), 30)
	if err := writeSeal(dir, testRunID, SealedByClose); err != nil {
		t.Fatal(err)
	}
	cs, f := checks(t, dir)
	if len(f) != 1 || len(cs) != 1 || cs[0].Problem != sigChanged {
		t.Errorf("failures %q", f)
	}
}

// 11.70: a signature file copied onto another run does not sign it.
func TestSignatureCopiedToAnotherRunFails(t *testing.T) {
	signed := sealedRun(t)
	sign(t, signed, newKey(t), "R. Reviewer", MeaningReviewed)
	r, _ := create(t, "20261121T080000Z-000001")
	appendN(t, r, 0, 20)
	if err := r.Close(Result{Outcome: OutcomePass}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(signed, SignaturesFile))
	os.WriteFile(filepath.Join(r.Dir(), SignaturesFile), b, 0o644)
	cs, f := checks(t, r.Dir())
	if len(cs) != 1 || cs[0].Problem != "signature belongs to run "+testRunID || len(f) != 1 {
		t.Errorf("copied signature: %+v, failures %q", cs, f)
	}
	// Its run id changed to the other run's: the signature no longer holds.
	os.WriteFile(filepath.Join(r.Dir(), SignaturesFile), []byte(strings.ReplaceAll(string(b), testRunID, "20261121T080000Z-000001")), 0o644)
	if cs, _ := checks(t, r.Dir()); len(cs) != 1 || !strings.HasPrefix(cs[0].Problem, "bad signature") {
		t.Errorf("copied signature with its run id edited: %+v", cs)
	}
}

// An entry edited (the meaning, the name, the comment) fails its signature.
func TestSignatureEntryEditedIsBadSignature(t *testing.T) {
	for _, edit := range [][2]string{{`"reviewed"`, `"approved"`}, {"R. Reviewer", "Q. Auditor"}, {"looks right", "looks wrong"}, {"09:30:00Z", "09:31:00Z"}} {
		dir := sealedRun(t)
		sign(t, dir, newKey(t), "R. Reviewer", MeaningReviewed)
		p := filepath.Join(dir, SignaturesFile)
		b, _ := os.ReadFile(p)
		os.WriteFile(p, []byte(strings.Replace(string(b), edit[0], edit[1], 1)), 0o644)
		if cs, _ := checks(t, dir); len(cs) != 1 || !strings.HasPrefix(cs[0].Problem, "bad signature") {
			t.Errorf("%s → %s: %+v", edit[0], edit[1], cs)
		}
	}
}

// A signature vouches for a sealed, intact record: nothing else is signed.
func TestSignRefusesRecordNotIntactOrNotSealed(t *testing.T) {
	dir := sealedRun(t)
	flipByte(t, filepath.Join(dir, resultFile), 10)
	if _, err := Sign(dir, newKey(t), "R. Reviewer", MeaningReviewed, "", signAt); err == nil || !strings.Contains(err.Error(), "result.json") {
		t.Errorf("tampered record signed: %v", err)
	}
	dir = sealedRun(t)
	os.Remove(filepath.Join(dir, SealFile))
	if _, err := Sign(dir, newKey(t), "R. Reviewer", MeaningReviewed, "", signAt); err == nil || !strings.Contains(err.Error(), NotSealed) {
		t.Errorf("unsealed record signed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, SignaturesFile)); err == nil {
		t.Error("a refused signature was written")
	}
}

// A signed record whose seal is removed lists its signatures as invalid,
// rather than showing none.
func TestSignaturesOfRecordWithoutSealListedInvalid(t *testing.T) {
	dir := sealedRun(t)
	sign(t, dir, newKey(t), "R. Reviewer", MeaningReviewed)
	os.Remove(filepath.Join(dir, SealFile))
	cs, f := checks(t, dir)
	if len(cs) != 1 || !strings.Contains(cs[0].Problem, "no readable seal") || len(f) != 2 {
		t.Errorf("checks %+v, failures %q", cs, f)
	}
}

func TestSignatureUntrustedKeyFails(t *testing.T) {
	dir := sealedRun(t)
	trusted, other := newKey(t), newKey(t)
	sign(t, dir, trusted, "R. Reviewer", MeaningReviewed)
	sign(t, dir, other, "Q. Auditor", MeaningApproved)
	v, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	fp := KeyFingerprint(trusted.Public().(ed25519.PublicKey))
	v.Distrust(func(f string) bool { return f == fp })
	if v.Signatures[0].Problem != "" || v.Signatures[1].Problem != sigUntrusted || v.Intact() {
		t.Errorf("checks %+v, intact %v", v.Signatures, v.Intact())
	}
}

// sync records the delivery without touching what the seal covers: the
// seal stays byte for byte, and the signatures valid.
func TestSyncDeliveryKeepsSealAndSignatures(t *testing.T) {
	dir := sealedRun(t)
	sign(t, dir, newKey(t), "R. Reviewer", MeaningReviewed)
	seal, _ := os.ReadFile(filepath.Join(dir, SealFile))
	if err := SetInfluxDelivery(dir, InfluxDelivery{Delivered: true}); err != nil {
		t.Fatal(err)
	}
	if cs, f := checks(t, dir); len(f) != 0 || len(cs) != 1 || cs[0].Problem != "" {
		t.Fatalf("after sync: %q", f)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, SealFile)); string(after) != string(seal) {
		t.Error("sync rewrote the seal")
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Influx(); d == nil || !d.Delivered {
		t.Errorf("delivery %+v", d)
	}
}

// An edited result.json followed by sync is not resealed as intact.
func TestSyncDoesNotLaunderAnEditedResult(t *testing.T) {
	dir := sealedRun(t)
	flipByte(t, filepath.Join(dir, resultFile), 10)
	if err := SetInfluxDelivery(dir, InfluxDelivery{Delivered: true}); err != nil {
		t.Fatal(err)
	}
	if f := verify(t, dir); len(f) != 1 || !strings.HasPrefix(f[0], "result.json: content differs") {
		t.Errorf("after edit and sync: %q", f)
	}
}

// A signatures file that is not one gives a problem per line, never a
// panic, and never a valid signature.
func FuzzParseSignatures(f *testing.F) {
	dir := sealedRun(f)
	if _, err := Sign(dir, newKey(f), "R. Reviewer", MeaningReviewed, "ok", signAt); err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, SignaturesFile))
	f.Add(b)
	f.Add([]byte("{}\n\n{\"domain\":1}\nnot json"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range ParseSignatures(b) {
			if c.Problem == "" && c.Signature.Domain != signatureDomain {
				t.Errorf("line %d valid without the domain: %+v", c.Line, c.Signature)
			}
		}
	})
}
