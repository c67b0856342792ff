package reports

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// signatureHTML generates the HTML of dir with opt and returns its
// Signatures section and Generate's error.
func signatureHTML(t *testing.T, dir string, opt Options) (string, error) {
	t.Helper()
	opt.Formats, opt.OutDir = []string{FormatHTML}, t.TempDir()
	_, err := Generate(dir, opt)
	html, rerr := os.ReadFile(filepath.Join(opt.OutDir, HTMLFile))
	if rerr != nil {
		t.Fatalf("%v (Generate: %v)", rerr, err)
	}
	_, sec, _ := strings.Cut(string(html), `<section id="signatures">`)
	sec, _, _ = strings.Cut(sec, "</section>")
	return sec, err
}

// 11.50: the report shows each signature's printed name, date and time,
// meaning and whether it verifies; a record without any says it is not
// signed and keeps the table for ink.
func TestReportSignaturesSection(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(dir, os.DirFS(fixtureRun(t, "pass"))); err != nil {
		t.Fatal(err)
	}
	sec, err := signatureHTML(t, dir, Options{})
	if err != nil || !strings.Contains(sec, "Not signed") || !strings.Contains(sec, "Performed by") {
		t.Errorf("unsigned record: %v\n%s", err, sec)
	}
	at := time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)
	var trusted string
	for _, who := range []struct{ name, meaning string }{{"R. Reviewer", runlog.MeaningReviewed}, {"Q. Auditor", runlog.MeaningApproved}} {
		pub, key, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := runlog.Sign(dir, key, who.name, who.meaning, "see DHF-12", at); err != nil {
			t.Fatal(err)
		}
		if trusted == "" {
			trusted = runlog.KeyFingerprint(pub)
		}
	}
	sec, err = signatureHTML(t, dir, Options{})
	for _, want := range []string{"R. Reviewer", "Q. Auditor", "reviewed", "approved", "2026-12-06 09:30:00 UTC", "see DHF-12", "not checked against a keyring"} {
		if !strings.Contains(sec, want) {
			t.Errorf("signed record, no keyring: section lacks %q\n%s", want, sec)
		}
	}
	if err != nil || strings.Contains(sec, "Performed by") || strings.Contains(sec, "Not signed") {
		t.Errorf("signed record: %v, or the ink table shown\n%s", err, sec)
	}
	sec, err = signatureHTML(t, dir, Options{Trusted: func(fp string) bool { return fp == trusted }})
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(sec, "INVALID: signed by an untrusted key") || strings.Count(sec, ">valid<") != 1 {
		t.Errorf("one untrusted key: %v\n%s", err, sec)
	}
}
