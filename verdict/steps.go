package verdict

import (
	"fmt"

	"github.com/mockloop/mockloop/runlog"
)

// stepEnd is a step execution as its step.end event records it.
type stepEnd struct {
	path, title string
	outcome     runlog.Outcome // as the event states it
}

// stepOutcomes are the outcomes of the run's step executions, in the order
// they ended, as the engine makes them from the record: aborted when the
// step's end says so (a trip, a fault, the operator: only the events tell);
// else aborted if one of its criteria with on_fail: abort fails it, fail
// if another does (a no-data one too, unless it only warns); else timeout
// if its until timed out (the end says so); else pass. A step's outcome
// is its own criteria's, not its sub-steps'. crit are the run's criteria
// as Compare settled them; the until's own timeout result is not one of
// them (the engine's "timeout" outcome, unless a criterion failed).
func stepOutcomes(ends []stepEnd, crit []runlog.CriterionResult) []runlog.StepResult {
	out := make([]runlog.StepResult, len(ends))
	for i, e := range ends {
		o := runlog.OutcomePass
		if e.outcome == runlog.OutcomeTimeout {
			o = runlog.OutcomeTimeout
		}
		for _, c := range crit {
			if c.Step != e.path || c.Reason == timedOut || c.Pass || c.OnFail == "warn" {
				continue
			}
			if c.OnFail == "abort" {
				o = runlog.OutcomeAborted
			} else if o != runlog.OutcomeAborted {
				o = runlog.OutcomeFail
			}
		}
		switch e.outcome {
		case runlog.OutcomeAborted, runlog.OutcomeRetried:
			o = e.outcome
		}
		out[i] = runlog.StepResult{Index: i, Path: e.path, Name: e.title, Outcome: o}
	}
	return out
}

// compareSteps returns how result.json's step outcomes depart from the
// recomputed ones (rc.Steps).
func (rc *Recomputed) compareSteps(res *runlog.Result) []string {
	if len(res.Steps) != len(rc.Steps) {
		return []string{fmt.Sprintf("result.json states %d step executions, the record's events %d", len(res.Steps), len(rc.Steps))}
	}
	var diffs []string
	for i, s := range res.Steps {
		want := rc.Steps[i]
		if s.Path != want.Path || s.Outcome != want.Outcome {
			diffs = append(diffs, fmt.Sprintf("step %s (%s): result.json states outcome %q; its criteria and events make it %q", want.Path, want.Name, s.Outcome, want.Outcome))
		}
	}
	return diffs
}
