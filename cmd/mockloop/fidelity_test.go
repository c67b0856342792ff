package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/fidelity"
	"github.com/mockloop/mockloop/internal/testtool"
)

// fidelityKeys are the keys of every entry of fidelity.json.
var fidelityKeys = []string{"id", "case", "published", "simulated", "error", "tolerance", "source", "pass", "unit", "rig"}

// readFidelityJSON reads dir/fidelity.json and checks that every entry has
// exactly fidelityKeys, a number simulated and a number or range
// published.
func readFidelityJSON(t *testing.T, dir string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "fidelity.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []map[string]any
	if err := json.Unmarshal(data, &entries); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if len(e) != len(fidelityKeys) {
			t.Errorf("%v: keys %v, want %v", e["id"], len(e), fidelityKeys)
		}
		for _, k := range fidelityKeys {
			if _, ok := e[k]; !ok {
				t.Errorf("%v: no %q", e["id"], k)
			}
		}
		if _, ok := e["simulated"].(float64); !ok {
			t.Errorf("%v: simulated %v is not a number", e["id"], e["simulated"])
		}
		switch p := e["published"].(type) {
		case float64:
		case map[string]any:
			if len(p) == 0 {
				t.Errorf("%v: published range with neither min nor max", e["id"])
			}
			for k, v := range p {
				if _, ok := v.(float64); !ok || (k != "min" && k != "max") {
					t.Errorf("%v: published %v", e["id"], p)
				}
			}
		default:
			t.Errorf("%v: published %v is neither a number nor a range", e["id"], p)
		}
	}
	return entries
}

// TestFidelityReportAllCasesPass runs `mockloop fidelity` (every case
// through the simulated rig) and checks its exit code, its JSON (one entry
// per case, every key, every case passed), its HTML in headless Chromium
// (no console error, no request, nothing referenced outside the page, a
// plot per group) and its PDF (qpdf, a row per case in pdftotext's text).
// The report is kept as a test artifact (go test -artifacts; make test).
func TestFidelityReportAllCasesPass(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: about 1,700 s of simulated patient")
	}
	chdirRoot(t)
	out := t.ArtifactDir()
	var stdout, stderr bytes.Buffer
	code := fidelityWith([]string{"--out", out}, nil, &stdout, &stderr)
	t.Logf("%s%s", stdout.Bytes(), stderr.Bytes())
	if code != exitPass {
		t.Fatalf("exit %d, want 0", code)
	}
	cases := fidelity.Cases()
	entries := readFidelityJSON(t, out)
	if len(entries) != len(cases) {
		t.Fatalf("%d entries, %d cases", len(entries), len(cases))
	}
	for i, e := range entries {
		if e["id"] != cases[i].ID || e["pass"] != true {
			t.Errorf("entry %d: id %v pass %v, want %s passed", i, e["id"], e["pass"], cases[i].ID)
		}
	}
	if n := strings.Count(stdout.String(), "PASS "); n != len(cases) {
		t.Errorf("%d PASS lines on stdout, want one per case (%d)", n, len(cases))
	}
	t.Run("html", func(t *testing.T) { checkFidelityHTML(t, out, cases) })
	t.Run("pdf", func(t *testing.T) { checkFidelityPDF(t, out, cases) })
}

// checkFidelityHTML opens fidelity.html in headless Chromium.
func checkFidelityHTML(t *testing.T, dir string, cases []fidelity.Case) {
	bin := testtool.Need(t, "chromium", "chromium")
	page := filepath.Join(dir, "fidelity.html")
	dom := testtool.SelfContained(t, bin, t.TempDir(), page)
	text := string(dom)
	if n := strings.Count(text, "<svg"); n != len(fidelity.Groups()) {
		t.Errorf("%d plots, want one per group (%d)", n, len(fidelity.Groups()))
	}
	if n := strings.Count(text, "<circle"); n != len(cases) {
		t.Errorf("%d simulated points in the plots, want one per case (%d)", n, len(cases))
	}
	for _, want := range []string{"not to predict patient outcomes", "no coronary circulation", "no baroreflex",
		"TestNetworkSolverMatchesReference", "ALL " + strconv.Itoa(len(cases)) + " CASES PASS"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, c := range cases {
		if !strings.Contains(text, c.ID) {
			t.Errorf("the page lacks case %s", c.ID)
		}
	}
}

// checkFidelityPDF checks fidelity.pdf with qpdf and its text with
// pdftotext: a row per case with its verdict, and a row of its group's
// plot.
func checkFidelityPDF(t *testing.T, dir string, cases []fidelity.Case) {
	qpdf := testtool.Need(t, "qpdf", "qpdf")
	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	file := filepath.Join(dir, "fidelity.pdf")
	if out, err := exec.Command(qpdf, "--check", file).CombinedOutput(); err != nil || !strings.Contains(string(out), "No syntax or stream encoding errors") {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
	txt, err := exec.Command(pdftotext, "-layout", file, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	text := string(txt)
	for _, want := range []string{"Context of use", "no coronary circulation", "all " + strconv.Itoa(len(cases)) + " cases pass"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF lacks %q", want)
		}
	}
	lines := strings.Split(text, "\n")
	for _, c := range cases {
		found := false
		for _, l := range lines {
			// The id is the first line of its row, with the verdict.
			f := strings.Fields(l)
			found = found || len(f) > 1 && f[0] == c.ID && slices.Contains(f, "pass")
		}
		if !found {
			t.Errorf("the PDF has no row of %s with its verdict", c.ID)
		}
		if n := strings.Count(text, c.ID+" "); n < 2 {
			t.Errorf("the PDF names %s %d times, want its plot's row and its table's", c.ID, n)
		}
	}
	if strings.Contains(text, "�") {
		t.Error("the text has replacement characters")
	}
}

// TestFidelityCaseOutOfToleranceExitsOne: a case the simulator does not
// meet (the ESPVR slope held to an impossible tolerance) makes the
// command exit 1 and its entry say pass false, with its simulated value.
func TestFidelityCaseOutOfToleranceExitsOne(t *testing.T) {
	chdirRoot(t)
	var c fidelity.Case
	for _, x := range fidelity.Cases() {
		if x.ID == "simaan.espvr" {
			c = x
		}
	}
	c.Tol = fidelity.Tolerance{Below: 1e-9, Above: 1e-9, Why: "impossible"}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := fidelityWith([]string{"--out", out}, []fidelity.Case{c}, &stdout, &stderr); code != exitFail {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout.Bytes(), stderr.Bytes())
	}
	e := readFidelityJSON(t, out)
	if len(e) != 1 || e[0]["pass"] != false || !strings.HasPrefix(stdout.String(), "FAIL  simaan.espvr") {
		t.Errorf("JSON %v, stdout %q: want the case failed", e, stdout.String())
	}
}

// TestFidelityBadUsageExitsThree: an argument or an unknown flag is bad
// usage.
func TestFidelityBadUsageExitsThree(t *testing.T) {
	for _, args := range [][]string{{"extra"}, {"--nope"}} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"fidelity"}, args...), &stdout, &stderr); code != exitInvalid {
			t.Errorf("fidelity %v: exit %d, want 3", args, code)
		}
	}
}

// TestFidelityBadRigConfigExitsThree: a mistake in a rig config of
// --rig-dir is invalid input: exit 3 with the file, line and column,
// before any run starts; so is a --rig-dir that does not exist.
func TestFidelityBadRigConfigExitsThree(t *testing.T) {
	chdirRoot(t)
	dir := t.TempDir()
	for _, f := range []string{"sim-loop-only.yaml", "sim-loop-only.calibration.json"} {
		data, err := os.ReadFile(filepath.Join("configs/rigs", f))
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.Replace(data, []byte("loop.heart_rate: 75 bpm"), []byte("loop.heart_rate: 75"), 1)
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	simaan := fidelity.Cases()[:1]
	for _, c := range []struct{ rigDir, want string }{
		{dir, filepath.Join(dir, "sim-loop-only.yaml") + ":"},
		{filepath.Join(dir, "none"), "no such file"},
	} {
		var stdout, stderr bytes.Buffer
		code := fidelityWith([]string{"--rig-dir", c.rigDir, "--out", t.TempDir()}, simaan, &stdout, &stderr)
		if code != exitInvalid || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("--rig-dir %s: exit %d, stderr %q; want 3 and %q", c.rigDir, code, stderr.String(), c.want)
		}
		t.Logf("%s", stderr.Bytes())
	}
}
