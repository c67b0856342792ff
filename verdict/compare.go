package verdict

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mockloop/mockloop/runlog"
)

// Compare returns how the record's result.json departs from what its data
// make of it: each criterion it lacks or has in addition, each whose value
// lies beyond its tolerance (Tol), whose verdict, limits or unit differ,
// and its outcome. An empty list: result.json states what the record
// shows. Where the recomputed value lies within its tolerance of a limit,
// either verdict is the record's, and none is a difference.
//
// A criterion result.json states as the record gives it takes its value
// (verified: the engine's, to the last bit, which the float32 frames only
// give to the tolerance); one whose value the record does not keep
// (NotRecomputed) takes result.json's value and verdict, once its limits
// are found to be the protocol's; the outcome is made again with them.
func (rc *Recomputed) Compare(res *runlog.Result) []string {
	var diffs []string
	byKey := map[string][]int{}
	for i, c := range res.Criteria {
		byKey[key(c)] = append(byKey[key(c)], i)
	}
	used := make([]bool, len(res.Criteria))
	for i, c := range rc.Criteria {
		q := byKey[key(c)]
		if len(q) == 0 {
			diffs = append(diffs, fmt.Sprintf("result.json lacks %s, judged from the record: %s", label(c), valueText(c.Value, c)))
			continue
		}
		byKey[key(c)], used[q[0]] = q[1:], true
		got := res.Criteria[q[0]]
		d := rc.differs(i, c, got)
		if alt, ok := rc.Alt[i]; ok && d != "" && rc.differs(i, alt, got) == "" {
			d = ""
		}
		switch {
		case d != "":
			diffs = append(diffs, label(c)+": "+d)
		case rc.NotRecomputed[i] != "":
			rc.Criteria[i] = got
		default:
			rc.Criteria[i] = verified(c, got)
		}
	}
	rc.Outcome = outcome(rc.ended, rc.aborted, rc.Criteria)
	if res.Outcome != rc.Outcome {
		diffs = append([]string{fmt.Sprintf("result.json states outcome %q; its criteria and events make it %q", res.Outcome, rc.Outcome)}, diffs...)
	}
	if rc.ended {
		rc.Steps = stepOutcomes(rc.ends, rc.Criteria)
		diffs = append(diffs, rc.compareSteps(res)...)
	}
	for i, c := range res.Criteria {
		if !used[i] {
			diffs = append(diffs, fmt.Sprintf("result.json states %s, which the record's protocol and events do not judge: %s", label(c), valueText(c.Value, c)))
		}
	}
	return diffs
}

// key identifies a criterion's result within a run.
func key(c runlog.CriterionResult) string { return c.Step + "\x00" + c.ID + "\x00" + c.Measure }

// label names a criterion's result in a difference.
func label(c runlog.CriterionResult) string {
	name := c.Measure
	if c.ID != "" {
		name = c.ID + " (" + c.Measure + ")"
	}
	return fmt.Sprintf("criterion %s in step %s", name, c.Step)
}

func valueText(v *float64, c runlog.CriterionResult) string {
	if v == nil {
		return string(c.Verdict) + " without a value"
	}
	return strconv.FormatFloat(*v, 'g', -1, 64) + " " + c.Unit + " " + string(c.Verdict)
}

// differs says how got, as result.json states it, departs from want, the
// i-th recomputed result; "" if it does not.
func (rc *Recomputed) differs(i int, want, got runlog.CriterionResult) string {
	sameLim := sameLimits(got, want, rc.RefTol[i])
	if !sameLim && rc.NotRecomputed[i] != "" && want.Reference == nil {
		// its reference is not in the record either: the limits as
		// written are compared, without the value stated for it
		g, _, _ := strings.Cut(got.Limits, " relative to step ")
		sameLim = g == want.Limits
	}
	switch {
	case !sameLim || !samePtr(got.Lo, want.Lo) || !samePtr(got.Hi, want.Hi):
		return fmt.Sprintf("result.json states limits %q, the protocol %q", got.Limits, want.Limits)
	case got.Unit != want.Unit || got.OnFail != want.OnFail:
		return fmt.Sprintf("result.json states unit %q and on_fail %q, the protocol %q and %q", got.Unit, got.OnFail, want.Unit, want.OnFail)
	case rc.NotRecomputed[i] != "":
		// its value is not in the record: result.json's is shown, if its
		// limits give it the verdict stated
		if f := rc.rejudge[i]; f != nil && got.Value != nil {
			if v := f(*got.Value); v != got.Verdict {
				return fmt.Sprintf("result.json states verdict %s for %s, the limits make it %s", got.Verdict, valueText(got.Value, got), v)
			}
		}
		return ""
	}
	tol := rc.Tol[i]
	valueOK := got.Value == nil && want.Value == nil ||
		got.Value != nil && want.Value != nil && math.Abs(*got.Value-*want.Value) <= tol
	if !valueOK {
		return fmt.Sprintf("result.json states %s, the record's data %s", valueText(got.Value, got), valueText(want.Value, want))
	}
	if got.Verdict != want.Verdict && !(want.Value != nil && nearLimit(*want.Value, want, tol)) {
		return fmt.Sprintf("result.json states verdict %s for %s, the limits make it %s", got.Verdict, valueText(got.Value, got), want.Verdict)
	}
	return ""
}

// nearLimit reports whether v lies within tol of a finite limit of c.
func nearLimit(v float64, c runlog.CriterionResult, tol float64) bool {
	return c.Lo != nil && math.Abs(v-*c.Lo) <= tol || c.Hi != nil && math.Abs(v-*c.Hi) <= tol
}

func samePtr(a, b *float64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// sameLimits reports whether got states want's limits. A relative
// criterion's carry its reference value, which lies within refTol of the
// recomputed one (and its text, to 5 digits, may round either way).
func sameLimits(got, want runlog.CriterionResult, refTol float64) bool {
	if want.Reference == nil || got.Reference == nil {
		return got.Limits == want.Limits && got.Reference == nil && want.Reference == nil
	}
	g, _, _ := strings.Cut(got.Limits, " relative to step ")
	w, _, _ := strings.Cut(want.Limits, " relative to step ")
	return g == w && got.ReferenceStep == want.ReferenceStep && math.Abs(*got.Reference-*want.Reference) <= refTol
}

// verified is the recomputed result want with the value, reference and
// verdict of got, which Compare found to agree with it: the engine's
// float64 value rather than the float32 frames' approximation of it.
func verified(want, got runlog.CriterionResult) runlog.CriterionResult {
	want.Value, want.Reference, want.Verdict, want.Pass = got.Value, got.Reference, got.Verdict, got.Pass
	if got.Reference != nil {
		want.Limits = got.Limits // its reference to 5 digits, as got's
	}
	return want
}
