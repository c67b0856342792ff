package verdict_test

import (
	"strings"
	"testing"

	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/verdict"
)

// abortsInStep1 aborts in step 1 of 3: U-1 (on_fail: abort) cannot pass.
// Step 2's criterion and those of step 3's repeated sub-step are never
// judged; U-5's when does not hold, so it is not applicable, not unreached.
const abortsInStep1 = `protocol: 1
name: aborts-early
steps:
  - name: one
    set: {loop.preset: healthy}
    hold: 2 s
    criteria:
      - {id: U-1, measure: max(aop), min: 500 mmHg, on_fail: abort}
      - {id: U-2, measure: mean(aop), min: 10 mmHg}
      - {id: U-5, measure: mean(aop), min: 10 mmHg, when: loop.preset == heart_failure}
  - name: two
    hold: 2 s
    criteria:
      - {id: U-3, name: mean pressure, measure: mean(aop), between: [60 mmHg, 140 mmHg]}
  - repeat: {count: 2}
    steps:
      - name: held
        hold: 1 s
        criteria:
          - {id: U-4, measure: min(aop), min: 10 mmHg, on_fail: warn}
`

// An aborted run's criteria of the steps it never started are in
// Unreached, with the protocol's limits and the step it stopped in; the
// judged ones are not.
func TestRecomputeListsCriteriaNeverReachedByAbortedRun(t *testing.T) {
	res, dir := runOn(t, "sim-loop-only.yaml", "", []byte(abortsInStep1))
	if res.Outcome != runlog.OutcomeAborted {
		t.Fatalf("outcome %s (%s), want aborted", res.Outcome, res.AbortReason)
	}
	rc, err := verdict.Recompute(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := rc.Compare(res); len(d) > 0 {
		t.Errorf("the unreached criteria change the comparison: %v", d)
	}
	if len(rc.Steps) != 1 || rc.Steps[0].Path != "1" || rc.Steps[0].Outcome != runlog.OutcomeAborted || res.Steps[0].Outcome != runlog.OutcomeAborted {
		t.Errorf("recomputed steps %+v, want step 1 aborted as the engine's %+v", rc.Steps, res.Steps)
	}
	want := []struct{ id, step, name, limits, unit, onFail, reason string }{
		{"U-3", "2", "two", "between 60 mmHg and 140 mmHg", "mmHg", "fail", "not reached: the run was aborted before step 2"},
		{"U-4", "3.1", "held", "≥ 10 mmHg", "mmHg", "warn", "not reached: the run was aborted before step 3"},
	}
	if len(rc.Unreached) != len(want) {
		t.Fatalf("unreached %+v, want U-3 and U-4", rc.Unreached)
	}
	for i, w := range want {
		u := rc.Unreached[i]
		if u.ID != w.id || u.Step != w.step || u.StepName != w.name || u.Unit != w.unit || u.OnFail != w.onFail ||
			u.Verdict != runlog.VerdictNotReached || u.Reason != w.reason || u.Value != nil || u.Pass {
			t.Errorf("unreached[%d] = %+v, want %s in step %s (%s), %s, on_fail %s, not reached: %q", i, u, w.id, w.step, w.name, w.unit, w.onFail, w.reason)
		}
		if u.Limits == "" || u.Lo == nil {
			t.Errorf("%s: limits %q, lo %v: want the protocol's", u.ID, u.Limits, u.Lo)
		}
	}
}

// A run that ended as planned reached every criterion.
func TestRecomputePassingRunHasNoUnreachedCriteria(t *testing.T) {
	res, dir := runOn(t, "sim-loop-only.yaml", "", []byte(`protocol: 1
name: passes
steps:
  - name: one
    set: {loop.preset: healthy}
    hold: 2 s
    criteria:
      - {id: P-1, measure: mean(aop), min: 10 mmHg}
  - name: two
    hold: 1 s
    criteria:
      - {id: P-2, measure: mean(aop), min: 10 mmHg, when: loop.preset == heart_failure}
`))
	if res.Outcome != runlog.OutcomePass {
		t.Fatalf("outcome %s, want pass", res.Outcome)
	}
	rc, err := verdict.Recompute(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Unreached) != 0 {
		t.Errorf("a passing run has unreached criteria: %+v", rc.Unreached)
	}
}

// An interrupted run's result has no criteria; those its events record as
// judged were reached, the rest are not: cut 1 s into step 2, C1 was
// judged, C2 not, and step 3's never started.
func TestRecomputeInterruptedRunListsOnlyCriteriaItsEventsNeverJudged(t *testing.T) {
	_, dir := runOn(t, "sim-loop-only.yaml", "", []byte(resumeSrc))
	interrupt(t, dir, "2")
	rc, err := verdict.Recompute(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range rc.Unreached {
		got = append(got, u.ID+" "+u.Step+": "+u.Reason)
	}
	want := []string{
		"C2 2: not reached: the run was interrupted in step 2",
		"C3 3.1: not reached: the run was interrupted before step 3",
		"C4 3.1: not reached: the run was interrupted before step 3",
		"C5 3.1: not reached: the run was interrupted before step 3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unreached:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
