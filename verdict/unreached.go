package verdict

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
)

// unreached are the protocol's criteria the run never judged because it
// ended early (aborted or interrupted): every criterion of a top-level step
// it never started, and each criterion of a started step (of any
// iteration of a repeat or sweep) that has no result at all. They are the
// acceptance criteria set in advance that the record holds no verdict for;
// a report shows each as not reached rather than leave it out. A run that
// ended as planned has none, and neither does a criterion whose `when`
// did not hold when its step started.
func (w *walk) unreached(judged []runlog.CriterionResult) []runlog.CriterionResult {
	if w.ended && !w.aborted {
		return nil
	}
	how := "interrupted"
	if w.ended {
		how = "aborted"
	}
	seen := map[string]bool{}
	for _, c := range judged {
		seen[staticKey(c.Step, c.ID, c.Measure)] = true
	}
	var out []runlog.CriterionResult
	var visit func(steps []*protocols.Step, prefix string)
	visit = func(steps []*protocols.Step, prefix string) {
		for i, s := range steps {
			path := prefix + strconv.Itoa(i+1)
			top := runlog.TopStep(path)
			for _, c := range s.Criteria {
				k := staticKey(path, c.ID, c.Measure.Text)
				if seen[k] || w.notApplicable[k] {
					continue
				}
				why := fmt.Sprintf("not reached: the run was %s before step %d", how, top)
				if top <= w.lastTop {
					why = fmt.Sprintf("not reached: the run was %s in step %d", how, w.lastTop)
				}
				out = append(out, w.unjudged(c, path, s.Title(), why))
			}
			visit(s.Steps, path+".")
		}
	}
	visit(w.proto.Steps, "")
	return out
}

// recorded notes the criterion a criterion event records as judged: an
// interrupted run's judged criteria are in its events only (its result
// has none), and were reached.
func (w *walk) recorded(ev runlog.Event) {
	var d runlog.CriterionData
	if ev.Decode(&d) == nil && d.Result != nil {
		w.notApplicable[staticKey(d.Result.Step, d.Result.ID, d.Result.Measure)] = true
	}
}

// unjudged is criterion c of the step at path as the protocol sets it,
// with no value: its verdict runlog.VerdictNotReached and why.
func (w *walk) unjudged(c *protocols.Criterion, path, title, why string) runlog.CriterionResult {
	dim := units.None
	for _, ch := range w.layout {
		if ch.Name == c.Measure.Channel {
			dim = dimOf(ch.Unit)
		}
	}
	res := Judge(c, path, title, dim, 0, 0, Ref{})
	if rel := c.Relative; rel != nil {
		res.Limits += " relative to step " + rel.Path
	}
	res.Verdict, res.Reason, res.Pass = runlog.VerdictNotReached, why, false
	return res
}

// staticKey identifies a criterion of the protocol by its step's path
// without iterations ("2[3].1" is step 2.1), its id and its measure.
func staticKey(path, id, measure string) string {
	var b strings.Builder
	for len(path) > 0 {
		i := strings.IndexByte(path, '[')
		if i < 0 {
			b.WriteString(path)
			break
		}
		b.WriteString(path[:i])
		j := strings.IndexByte(path[i:], ']')
		if j < 0 {
			break
		}
		path = path[i+j+1:]
	}
	return b.String() + "\x00" + id + "\x00" + measure
}
