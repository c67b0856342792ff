package verdict_test

import (
	"testing"

	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/verdict"
)

// abortsInStep1 aborts in step 1 of 3: U-1 (on_fail: abort) cannot pass.
// Step 2's criterion and those of step 3's repeated sub-step are never
// judged.
const abortsInStep1 = `protocol: 1
name: aborts-early
steps:
  - name: one
    set: {loop.preset: healthy}
    hold: 2 s
    criteria:
      - {id: U-1, measure: max(aop), min: 500 mmHg, on_fail: abort}
      - {id: U-2, measure: mean(aop), min: 10 mmHg}
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
