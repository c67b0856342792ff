package reports

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/verdict"
)

// verdictCheck is what judging the record's criteria again from its data
// (verdict.Recompute) found: how result.json departs from it, or why
// nothing could be judged again.
type verdictCheck struct {
	diffs []string // each an integrity failure
	note  string   // not recomputed, and why; "" when recomputed
	n     int      // criteria recomputed
	kept  int      // of which the record lacks the value: result.json's shown
	every int      // the record keeps 1 frame in every (1: all)
	// unreached: the protocol's criteria the run ended before judging
	unreached []runlog.CriterionResult
}

// recheck judges the criteria of the closed run in dir again from its
// frames and protocol copy, and makes run.Result state the recomputed
// criteria and outcome, which every report then shows (result.json's own
// are kept for the comparison only): a report certifies what the record's
// data say, not what an editable result.json states. A criterion whose
// value the record does not keep shows result.json's. A record without a
// protocol copy (an older version), or whose copy today's language no
// longer reads, is shown as stated, and the integrity section says its
// verdicts were not recomputed.
func recheck(dir string, run *runlog.Run) *verdictCheck {
	if run.Result == nil {
		return nil
	}
	rc, err := verdict.Recompute(dir)
	switch {
	case errors.Is(err, verdict.ErrNoProtocol):
		return &verdictCheck{note: "verdicts not recomputed: no protocol copy"}
	case err != nil:
		return &verdictCheck{note: "verdicts not recomputed: " + err.Error()}
	}
	vc := &verdictCheck{diffs: rc.Compare(run.Result), n: len(rc.Criteria), kept: len(rc.NotRecomputed), every: rc.KeptEvery, unreached: rc.Unreached}
	res := *run.Result
	res.Outcome, res.Criteria = rc.Outcome, rc.Criteria
	if len(rc.Steps) == len(res.Steps) { // the steps table shows the recomputed outcomes
		res.Steps = slices.Clone(res.Steps)
		for i := range res.Steps {
			res.Steps[i].Outcome = rc.Steps[i].Outcome
		}
	}
	run.Result = &res
	return vc
}

// verdictFailures are the differences between result.json and the
// recomputed criteria: integrity failures.
func (r *Report) verdictFailures() []string {
	if r.judged == nil {
		return nil
	}
	return r.judged.diffs
}

// verdictRows are the rows of the integrity section that say whether the
// verdicts shown were judged again from the frames and the protocol.
func (r *Report) verdictRows() []kv {
	vc := r.judged
	switch {
	case vc == nil:
		return nil
	case vc.note != "":
		return []kv{{K: "Verdicts", V: vc.note, Flag: true}}
	case len(vc.diffs) > 0:
		rows := []kv{{K: "Verdicts", V: integrityFailed + ": result.json does not state what the record's frames and protocol give; the recomputed criteria are shown", Flag: true}}
		for _, d := range vc.diffs {
			rows = append(rows, kv{K: "Differs", V: d, Flag: true})
		}
		return rows
	}
	v := fmt.Sprintf("recomputed from the frames, beats and protocol copy: %d criteria as result.json states them", vc.n)
	if vc.n == 1 {
		v = "recomputed from the frames, beats and protocol copy: 1 criterion as result.json states it"
	}
	switch {
	case vc.kept > 0 && vc.every > 1:
		v += fmt.Sprintf(" (%s over frames as stated: the record keeps 1 frame in %d (dry run), and the engine's values over every frame are not comparable with the kept ones; their limits, and the verdicts the limits give them, are checked)", plural(vc.kept, "value"), vc.every)
	case vc.kept > 0:
		v += fmt.Sprintf(" (%s of a beat measure the record does not keep: as stated)", plural(vc.kept, "value"))
	}
	return []kv{{K: "Verdicts", V: v}}
}
