package reports

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The forgery: a failing run's result.json and manifest.json
// edited to say pass and name another operator made a clean PASS report,
// its "record integrity" line unchanged. Now Generate still writes the
// reports — showing what the files say — but with INTEGRITY FAILED atop
// the HTML, naming both files, a failing JUnit case, and ErrIntegrity.
func TestForgedPassReportSaysIntegrityFailed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(dir, os.DirFS(fixtureRun(t, "fail"))); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ name, old, new string }{
		{"result.json", `"verdict": "fail"`, `"verdict": "pass"`},
		{"result.json", `"outcome": "fail"`, `"outcome": "pass"`},
		{"manifest.json", `"operator": "ci"`, `"operator": "Q. Auditor"`},
		{"manifest.json", `"outcome": "fail"`, `"outcome": "pass"`},
	} {
		p := filepath.Join(dir, f.name)
		b, _ := os.ReadFile(p)
		os.WriteFile(p, bytes.ReplaceAll(b, []byte(f.old), []byte(f.new)), 0o644)
	}
	out := t.TempDir()
	_, err := Generate(dir, Options{Formats: []string{FormatHTML, FormatJUnit}, OutDir: out})
	if !errors.Is(err, ErrIntegrity) {
		t.Fatalf("Generate: %v, want ErrIntegrity", err)
	}
	html, _ := os.ReadFile(filepath.Join(out, HTMLFile))
	top, _, _ := strings.Cut(string(html), `id="identity"`)
	for _, want := range []string{"INTEGRITY FAILED", "result.json: content differs from the seal", "manifest.json: content differs from the seal"} {
		if !strings.Contains(top, want) {
			t.Errorf("the top of the HTML lacks %q", want)
		}
	}
	junit, _ := os.ReadFile(filepath.Join(out, JUnitFile))
	if !strings.Contains(string(junit), `<testcase name="record integrity" classname="record"`) || !strings.Contains(string(junit), `type="integrity"`) {
		t.Errorf("JUnit has no failing case record integrity:\n%s", junit)
	}
}

// The integrity section's first line is the seal's verification, not the
// frame checksums alone.
func TestIntegritySectionComesFromTheSeal(t *testing.T) {
	r, err := Load(fixtureRun(t, "pass"))
	if err != nil {
		t.Fatal(err)
	}
	rows := r.integrityRows()
	if len(rows) == 0 || rows[0].K != "Record seal" || !strings.HasPrefix(rows[0].V, "intact: every file as sealed") || rows[0].Flag {
		t.Errorf("first integrity row %+v, want the seal's verification, intact", rows[0])
	}
}
