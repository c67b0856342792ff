package verdict_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/reports"
	"github.com/mockloop/mockloop/runlog"
)

// reported generates the HTML and JUnit reports of the run in dir, fails
// the test on an integrity failure (the record's verdicts recomputed
// differ from result.json), and returns the two files' text.
func reported(t *testing.T, dir string) (html, junit string) {
	t.Helper()
	out := t.TempDir()
	if _, err := reports.Generate(dir, reports.Options{Formats: []string{reports.FormatHTML, reports.FormatJUnit}, OutDir: out}); err != nil {
		t.Fatalf("reports: %v", err)
	}
	h, _ := os.ReadFile(filepath.Join(out, reports.HTMLFile))
	j, _ := os.ReadFile(filepath.Join(out, reports.JUnitFile))
	if strings.Contains(string(h), "INTEGRITY FAILED") {
		t.Error("the report says INTEGRITY FAILED")
	}
	return string(h), string(j)
}

// A criterion's marginal band (language 1.1): a passing value outside it
// is judged marginal, still a pass, by the engine and again from the
// record; one inside it passes plainly, and a failing value fails.
func TestMarginalBand(t *testing.T) {
	src := []byte(`protocol: 1
name: marginal
steps:
  - name: baseline
    set: {loop.preset: healthy}
    hold: 6 s
    criteria:
      - {id: MG-1, measure: mean(aop), between: [10 mmHg, 300 mmHg], marginal: {between: [20 mmHg, 30 mmHg]}}
      - {id: MG-2, measure: mean(aop), between: [10 mmHg, 300 mmHg], marginal: {min: 20 mmHg}}
      - {id: MG-3, measure: mean(aop), max: 30 mmHg, marginal: {max: 20 mmHg}}
  - name: again
    hold: 6 s
    criteria:
      - {id: MG-4, measure: mean(aop), relative_to: baseline, between: [-50 %, 50 %], marginal: {max: 49 %}}
`)
	res, dir := runOn(t, "sim-loop-only.yaml", "", src)
	want := map[string]runlog.Verdict{"MG-1": runlog.VerdictMarginal, "MG-2": runlog.VerdictPass, "MG-3": runlog.VerdictFail, "MG-4": runlog.VerdictPass}
	for _, c := range res.Criteria {
		if c.Verdict != want[c.ID] {
			t.Errorf("%s: verdict %s (value %v), want %s", c.ID, c.Verdict, c.Value, want[c.ID])
		}
		if c.Verdict == runlog.VerdictMarginal && (!c.Pass || c.Reason == "") {
			t.Errorf("%s: marginal with pass %v, reason %q: want a pass that says why", c.ID, c.Pass, c.Reason)
		}
	}
	if res.Outcome != runlog.OutcomeFail {
		t.Errorf("outcome %s, want fail (MG-3)", res.Outcome)
	}
	agrees(t, dir, res)
	html, junit := reported(t, dir)
	if !strings.Contains(html, `class="warn">MARGINAL`) {
		t.Error("the HTML report does not show MARGINAL in amber")
	}
	if !strings.Contains(junit, `<property name="marginal" value="true">`) {
		t.Error("the JUnit report has no marginal property")
	}
}

// A step with retry runs again while its criteria fail, up to count more
// times: every attempt is a step execution, the earlier attempts'
// criteria superseded, the last attempt's verdicts count; Recompute and
// the reports agree.
func TestRetry(t *testing.T) {
	src := []byte(`protocol: 1
name: retry
steps:
  - name: never
    set: {loop.preset: healthy}
    hold: 3 s
    retry: {count: 2}
    criteria:
      - {id: RT-1, measure: mean(aop), max: 1 mmHg}
  - name: once
    hold: 3 s
    retry: {count: 3}
    criteria:
      - {id: RT-2, measure: mean(aop), min: 1 mmHg}
  - name: outer
    retry: {count: 1}
    steps:
      - name: inner
        hold: 2 s
        criteria:
          - {id: RT-3, measure: mean(aop), min: 1 mmHg}
    criteria:
      - {id: RT-4, measure: mean(aop), max: 1 mmHg, on_fail: warn}
      - {id: RT-5, measure: mean(aop), max: 1 mmHg}
`)
	res, dir := runOn(t, "sim-loop-only.yaml", "", src)
	var got []string
	for _, c := range res.Criteria {
		if c.Step != "always" {
			got = append(got, c.ID+" "+string(c.Verdict))
		}
	}
	want := "RT-1 superseded, RT-1 superseded, RT-1 fail, RT-2 pass, RT-3 superseded, RT-4 superseded, RT-5 superseded, RT-3 pass, RT-4 warn, RT-5 fail"
	if strings.Join(got, ", ") != want {
		t.Errorf("criteria\n %s\nwant\n %s", strings.Join(got, ", "), want)
	}
	var steps []string
	for _, s := range res.Steps {
		steps = append(steps, fmt.Sprintf("%s#%d %s", s.Path, s.Attempt, s.Outcome))
	}
	wantSteps := "1#1 retried, 1#2 retried, 1#3 fail, 2#1 pass, 3.1#0 pass, 3#1 retried, 3.1#0 pass, 3#2 fail"
	if strings.Join(steps, ", ") != wantSteps {
		t.Errorf("steps\n %s\nwant\n %s", strings.Join(steps, ", "), wantSteps)
	}
	if res.Outcome != runlog.OutcomeFail {
		t.Errorf("outcome %s, want fail", res.Outcome)
	}
	agrees(t, dir, res)
	_, junit := reported(t, dir)
	if n := strings.Count(junit, "<failure"); n != 2 {
		t.Errorf("JUnit has %d failures, want 2 (the last attempts of steps 1 and 3)", n)
	}
	if !strings.Contains(junit, "SUPERSEDED") {
		t.Error("JUnit does not list the superseded attempts")
	}
}
