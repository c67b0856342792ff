package main

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/internal/testtool"
	"github.com/mockloop/mockloop/runlog"
)

// A criterion in a repeat is one row of the criteria section, summarised
// — "12/12 pass, worst … at iteration k" — with its twelve evaluations in
// the appendix, in the HTML and the PDF (before: twelve identical rows);
// JUnit has one test case of the twelve, criteria.csv all twelve. A real
// run on the simulated rig.
func TestRepeatedCriteriaSummarised(t *testing.T) {
	dir := runPassing(t, "cmd/mockloop/testdata/repeats.yaml")
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	crit, rest, _ := strings.Cut(string(html), `id="traceability"`)
	summary := regexp.MustCompile(`12/12 pass, worst [0-9.]+ mmHg at iteration ([0-9]+) \(#[0-9]+\)`)
	m := summary.FindStringSubmatch(crit)
	if m == nil {
		t.Fatalf("the criteria section has no summary of the 12 iterations:\n%s", crit[strings.Index(crit, `id="criteria"`):])
	}
	// The worst is the evaluation closest to a limit, as result.json has them.
	rec, err := runlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	worst, at := math.Inf(1), ""
	for _, c := range rec.Result.Criteria {
		if c.ID == "REP-1" && c.Value != nil {
			if d := min(*c.Value-*c.Lo, *c.Hi-*c.Value); d < worst {
				worst, at = d, strings.TrimSuffix(strings.TrimPrefix(c.Step, "2["), "].1")
			}
		}
	}
	if m[1] != at {
		t.Errorf("summary says worst at iteration %s, result.json at %s", m[1], at)
	}
	if n := strings.Count(crit, "<td>REP-1"); n != 1 {
		t.Errorf("the criteria section has %d rows of REP-1, want 1", n)
	}
	_, appendix, _ := strings.Cut(rest, `id="appendix-criteria"`)
	if n := strings.Count(appendix, "<td>REP-1"); n != 12 {
		t.Errorf("the appendix lists %d evaluations of REP-1, want 12", n)
	}
	junit, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if n := strings.Count(string(junit), `<testcase name="REP-1 mean(aop)"`); n != 1 || !strings.Contains(string(junit), `<property name="iterations" value="12">`) ||
		!strings.Contains(string(junit), `<property name="worst_iteration" value="`+at+`">`) {
		t.Errorf("JUnit has %d test cases of REP-1, want 1 of 12 iterations, worst in iteration %s", n, at)
	}
	if csv, err := os.ReadFile(filepath.Join(dir, "criteria.csv")); err != nil || strings.Count(string(csv), ",REP-1,") != 12 {
		t.Errorf("criteria.csv next to the reports lacks REP-1's 12 evaluations (%v)", err)
	}
	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	txt, err := exec.Command(pdftotext, "-raw", filepath.Join(dir, "report.pdf"), "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	if flat := strings.Join(strings.Fields(string(txt)), " "); !summary.MatchString(flat) || !strings.Contains(flat, "Appendix A") {
		t.Errorf("the PDF lacks the summary or the appendix")
	}
}

// runPassing runs protocol on the simulated rig from the repository's root,
// which must pass, and returns its run directory, reports made.
func runPassing(t *testing.T, protocol string, flags ...string) string {
	t.Helper()
	chdirRoot(t)
	runs := t.TempDir()
	if code, _, errOut := cli(t, append(append([]string{"run", "--quiet", "--runs", runs}, flags...), protocol)...); code != exitPass {
		t.Fatalf("run %s: exit %d %s", protocol, code, errOut)
	}
	dirs, _ := filepath.Glob(filepath.Join(runs, "*", "report.html"))
	if len(dirs) != 1 {
		t.Fatalf("reports %v", dirs)
	}
	return filepath.Dir(dirs[0])
}
