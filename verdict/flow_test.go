package verdict_test

import (
	"testing"

	"github.com/mockloop/mockloop/runlog"
)

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
}
