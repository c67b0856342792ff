package runlog_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/reports"
	"github.com/mockloop/mockloop/runlog"
)

// A step's outcome edited in result.json from fail to pass, the record
// sealed again: the report is INTEGRITY FAILED naming the step, and its
// steps table shows the outcome the record's criteria make, FAIL.
func TestEditedStepOutcomeResealedIsIntegrityFailureNamingTheStep(t *testing.T) {
	dir, res := failingRun(t)
	if len(res.Steps) != 1 || res.Steps[0].Outcome != runlog.OutcomeFail {
		t.Fatalf("steps %+v, want step 1 failed", res.Steps)
	}
	editResult(t, dir, func(r *runlog.Result) { r.Steps[0].Outcome = runlog.OutcomePass })
	out := t.TempDir()
	_, err := reports.Generate(dir, reports.Options{Formats: []string{reports.FormatHTML}, OutDir: out})
	says := `step 1 (baseline): result.json states outcome "pass"; its criteria and events make it "fail"`
	if !errors.Is(err, reports.ErrIntegrity) || !strings.Contains(err.Error(), says) {
		t.Fatalf("Generate: %v\nwant INTEGRITY FAILED saying %q", err, says)
	}
	html, _ := os.ReadFile(filepath.Join(out, reports.HTMLFile))
	if !strings.Contains(string(html), strings.ReplaceAll(says, `"`, "&#34;")) {
		t.Error("the HTML report's integrity section does not name the step")
	}
	if !regexp.MustCompile(`<td>1 baseline</td><td>[^<]*</td><td class="bad">fail</td>`).Match(html) {
		t.Error("the HTML steps table does not show step 1's recomputed fail")
	}
}
