package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/internal/influxtest"
	"github.com/mockloop/mockloop/internal/testtool"
	"github.com/mockloop/mockloop/runlog"
)

// signingHome gives the test a MOCKLOOP_HOME of its own and the
// passphrase of its keys; it returns the home.
func signingHome(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: argon2id over 64 MiB per key is slow under qemu; package signing tests the keys")
	}
	home := t.TempDir()
	t.Setenv("MOCKLOOP_HOME", home)
	t.Setenv("MOCKLOOP_PASSPHRASE", "correct horse battery")
	return home
}

// newTrustedKey makes the key of name and, if trust, adds it to the
// keyring; it returns the key's fingerprint.
func newTrustedKey(t *testing.T, name string, trust bool) string {
	t.Helper()
	code, out, errOut := cli(t, "keys", "new", "--name", name)
	if code != exitPass {
		t.Fatalf("keys new: exit %d\n%s%s", code, out, errOut)
	}
	fp := strings.Fields(strings.TrimPrefix(out, name))[0]
	if trust {
		if code, out, errOut := cli(t, "keys", "trust", fp); code != exitPass || !strings.Contains(out, "trusted: "+name) {
			t.Fatalf("keys trust: exit %d\n%s%s", code, out, errOut)
		}
	}
	return fp
}

// signRun signs dir as name with meaning, wanting exit code want.
func signRun(t *testing.T, dir, name, meaning string, want int) string {
	t.Helper()
	code, out, errOut := cli(t, "sign", "--meaning", meaning, "--comment", "checked against the protocol", "--name", name, dir)
	if code != want {
		t.Fatalf("sign as %s: exit %d, want %d\n%s%s", name, code, want, out, errOut)
	}
	return out + errOut
}

// signedRun is a finished run signed by a reviewer and an approver, both
// trusted.
func signedRun(t *testing.T) string {
	t.Helper()
	signingHome(t)
	dir := failedRun(t)
	newTrustedKey(t, "R. Reviewer", true)
	newTrustedKey(t, "A. Approver", true)
	signRun(t, dir, "R. Reviewer", runlog.MeaningReviewed, exitPass)
	signRun(t, dir, "A. Approver", runlog.MeaningApproved, exitPass)
	return dir
}

// Issue 17 acceptance: sign as reviewer and approver; verify exits 0 and
// lists both; the report shows both (HTML and the PDF's text).
func TestSignReviewerAndApproverVerifyAndReportShowBoth(t *testing.T) {
	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	dir := signedRun(t)
	code, out, errOut := cli(t, "verify", dir)
	if code != exitPass || !strings.Contains(out, "intact, sealed by close") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"signature 1: R. Reviewer, reviewed, ", "signature 2: A. Approver, approved, ", `comment "checked against the protocol", key SHA256:`} {
		if !strings.Contains(out, want) {
			t.Errorf("verify lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, ": valid\n") != 2 {
		t.Errorf("verify: not two valid signatures:\n%s", out)
	}
	outDir := t.TempDir()
	if code, _, errOut := cli(t, "report", "--format", "html,pdf", "--out", outDir, dir); code != exitPass {
		t.Fatalf("report: exit %d\n%s", code, errOut)
	}
	html, _ := os.ReadFile(filepath.Join(outDir, "report.html"))
	txt, err := exec.Command(pdftotext, "-layout", filepath.Join(outDir, "report.pdf"), "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for what, doc := range map[string]string{"HTML": string(html), "PDF": string(txt)} {
		for _, want := range []string{"R. Reviewer", "A. Approver", "reviewed", "approved", " UTC", "SHA256:", "valid"} {
			if !strings.Contains(doc, want) {
				t.Errorf("%s report lacks %q", what, want)
			}
		}
		for _, fp := range regexp.MustCompile(`key SHA256:([A-Za-z0-9+/]{43})`).FindAllStringSubmatch(out, -1) {
			if what == "PDF" && !strings.Contains(doc, fp[1]) {
				t.Errorf("PDF report lacks the key %s unbroken", fp[1])
			}
		}
		if strings.Contains(doc, "Performed by") || strings.Contains(doc, "INVALID") {
			t.Errorf("%s report of a signed run shows the wet-ink table or an invalid signature", what)
		}
	}
}

// 11.70: one byte of the record changed after signing fails verify, which
// names the file and both signatures.
func TestSignatureInvalidAfterOneByteChanged(t *testing.T) {
	dir := signedRun(t)
	editByte(t, dir, "events.jsonl")
	code, out, errOut := cli(t, "verify", dir)
	if code != exitFail {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"events.jsonl: line ", "R. Reviewer, reviewed", "A. Approver, approved", "INVALID: the record changed after it was signed", "NOT INTACT"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "INVALID: the record changed after it was signed"); n != 2 {
		t.Errorf("%d signatures invalid, want 2:\n%s", n, out)
	}
}

// 11.70: a signatures file copied onto another run fails there.
func TestSignatureCopiedOntoAnotherRunFails(t *testing.T) {
	dir := signedRun(t)
	other := failedRun(t)
	b, _ := os.ReadFile(filepath.Join(dir, runlog.SignaturesFile))
	os.WriteFile(filepath.Join(other, runlog.SignaturesFile), b, 0o644)
	code, out, _ := cli(t, "verify", other)
	if code != exitFail || strings.Count(out, "INVALID: signature belongs to run "+filepath.Base(dir)) != 2 || !strings.Contains(out, "record intact, SIGNATURE INVALID") {
		t.Errorf("verify of the other run: exit %d\n%s", code, out)
	}
}

func TestSignWrongPassphraseRefused(t *testing.T) {
	signingHome(t)
	dir := failedRun(t)
	newTrustedKey(t, "R. Reviewer", true)
	t.Setenv("MOCKLOOP_PASSPHRASE", "wrong horse battery")
	out := signRun(t, dir, "R. Reviewer", runlog.MeaningReviewed, exitInvalid)
	if !strings.Contains(out, "wrong passphrase") {
		t.Errorf("output %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, runlog.SignaturesFile)); err == nil {
		t.Error("signed with a wrong passphrase")
	}
}

// Anyone can make a key named "Q. Auditor": verify accepts only keys an
// administrator put in the keyring.
func TestSignByUntrustedKeyFailsVerify(t *testing.T) {
	signingHome(t)
	dir := failedRun(t)
	newTrustedKey(t, "Q. Auditor", false)
	signRun(t, dir, "Q. Auditor", runlog.MeaningApproved, exitPass)
	code, out, _ := cli(t, "verify", dir)
	if code != exitFail || !strings.Contains(out, "Q. Auditor, approved") || !strings.Contains(out, "INVALID: signed by an untrusted key") {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
	if code, out, _ := cli(t, "keys", "list"); code != exitPass || !strings.Contains(out, "Q. Auditor\tSHA256:") || !strings.Contains(out, "not trusted") {
		t.Errorf("keys list: exit %d\n%s", code, out)
	}
}

// sign vouches for an intact, sealed record only: exit 1 otherwise.
func TestSignRefusesTamperedOrUnsealedRecord(t *testing.T) {
	signingHome(t)
	run := failedRun(t)
	newTrustedKey(t, "R. Reviewer", true)
	tampered := copyRun(t, run)
	editByte(t, tampered, "result.json")
	if out := signRun(t, tampered, "R. Reviewer", runlog.MeaningReviewed, exitFail); !strings.Contains(out, "result.json: content differs") {
		t.Errorf("tampered: %s", out)
	}
	unsealed := copyRun(t, run)
	os.Remove(filepath.Join(unsealed, runlog.SealFile))
	if out := signRun(t, unsealed, "R. Reviewer", runlog.MeaningReviewed, exitFail); !strings.Contains(out, "not sealed") {
		t.Errorf("unsealed: %s", out)
	}
}

func TestKeysNewOwnerOnlyAndTrustByFile(t *testing.T) {
	home := signingHome(t)
	newTrustedKey(t, "R. Reviewer", false)
	files, _ := filepath.Glob(filepath.Join(home, "keys", "*.key"))
	if len(files) != 1 {
		t.Fatalf("key files %v", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v %v", fi.Mode(), err)
	}
	if code, out, errOut := cli(t, "keys", "trust", files[0]); code != exitPass || !strings.Contains(out, "trusted: R. Reviewer") {
		t.Errorf("trust by file: exit %d %s%s", code, out, errOut)
	}
	os.WriteFile(files[0], []byte(`{"version":1,"name":"R. Reviewer"}`), 0o600)
	if code, _, errOut := cli(t, "keys", "list"); code != exitInvalid || !strings.Contains(errOut, "public_key: 0 bytes") {
		t.Errorf("edited key file: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, "keys", "new"); code != exitInvalid || !strings.Contains(errOut, "--name") {
		t.Errorf("keys new without a name: exit %d %s", code, errOut)
	}
}

// syncedRun is a closed run under runs whose points were spooled, signed
// by a trusted reviewer if sign is set, then edited by edit, then synced
// to a real InfluxDB; it returns the run's directory.
func syncedRun(t *testing.T, srv *influxtest.Server, sign bool, edit func(dir string)) string {
	t.Helper()
	runs := t.TempDir()
	dir := filepath.Join(runs, spooledRun(t, runs))
	if sign {
		newTrustedKey(t, "R. Reviewer", true)
		signRun(t, dir, "R. Reviewer", runlog.MeaningReviewed, exitPass)
	}
	edit(dir)
	if code, out, errOut := cli(t, "sync", "--runs", runs, "--influx", srv.URL); code != exitPass || !strings.Contains(out, "delivered") {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	return dir
}

// sync used to rewrite result.json and reseal the run: every signature
// made before it became invalid, and an edited result.json was sealed as
// intact. It now leaves the sealed files alone.
func TestSyncKeepsSignaturesAndDoesNotLaunderEdits(t *testing.T) {
	signingHome(t)
	srv := influxtest.Start(t)
	t.Setenv("MOCKLOOP_INFLUX_TOKEN", "")
	dir := syncedRun(t, srv, true, func(string) {})
	code, out, _ := cli(t, "verify", dir)
	if code != exitPass || !strings.Contains(out, "R. Reviewer, reviewed") || !strings.Contains(out, ": valid") {
		t.Errorf("signed, then synced: verify exit %d\n%s", code, out)
	}
	if r, err := runlog.Open(dir); err != nil || r.Influx() == nil || !r.Influx().Delivered {
		t.Errorf("delivery not recorded: %v", err)
	}
	dir = syncedRun(t, srv, false, func(d string) { editString(t, d, "result.json", `"pass"`, `"fail"`) })
	if code, out, _ := cli(t, "verify", dir); code != exitFail || !strings.Contains(out, "result.json: content differs from the seal") {
		t.Errorf("edited, then synced: verify exit %d\n%s", code, out)
	}
}
