package verdict

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
)

// Acc accumulates one criterion's measure over its step: the frames'
// statistics (over the whole step, or kept in a window of its last `over`)
// or the values of the beats that ended in the step. The engine feeds it
// frame by frame as it runs; Recompute feeds it the record's frames and
// beats in the step's window.
type Acc struct {
	C     *protocols.Criterion
	Stats daq.Stats
	win   *daq.Window
	// Beats are the values of the beats that ended in the step (beat
	// measures only).
	Beats []BeatValue
}

// BeatValue is a beat's value of a measure, at the beat's end.
type BeatValue struct {
	End time.Duration
	V   float64
}

// NewAcc starts the accumulator of criterion c on frames at rate Hz.
func NewAcc(c *protocols.Criterion, rate float64) Acc {
	a := Acc{C: c}
	_, isQ := c.Measure.Quantile()
	a.Stats.KeepValues = isQ
	if c.Over > 0 {
		a.win = daq.NewWindow(c.Over, rate)
	}
	return a
}

// Frame accounts a frame's value of the criterion's channel at t.
func (a *Acc) Frame(t time.Duration, v float64) {
	if a.win != nil {
		a.win.Add(t, v)
	} else {
		a.Stats.Add(t, v)
	}
}

// Beat accounts a beat that ended at end with value v of the measure.
func (a *Acc) Beat(end time.Duration, v float64) {
	a.Beats = append(a.Beats, BeatValue{End: end, V: v})
}

// Measured is the criterion's measure over its window, the step having
// ended at end: the value and how many frames or beats it was taken over.
func (a *Acc) Measured(end time.Duration) (float64, int64) {
	if a.win != nil {
		a.win.Stats(&a.Stats)
	}
	m := a.C.Measure
	if m.IsBeat() {
		return BeatStat(a.Beats, end, a.C.Over, m.Stat)
	}
	v, _ := a.Stats.Aggregate(m.Agg)
	return v, a.Stats.N
}

// BeatStat is the statistic stat (protocols.BeatStats; "" for the mean) of
// the beats that ended in the step, or in its last `over` before end, and
// how many there were. It is the frame aggregates' arithmetic over the
// beats' values, so min(map(aop)) and min(aop) agree on what a minimum is.
func BeatStat(beats []BeatValue, end, over time.Duration, stat string) (float64, int64) {
	s := daq.Stats{KeepValues: strings.HasPrefix(stat, "p")}
	sum := 0.0
	for _, b := range beats {
		if over > 0 && b.End <= end-over || math.IsNaN(b.V) {
			continue
		}
		s.Add(b.End, b.V)
		sum += b.V
	}
	if s.N == 0 {
		return math.NaN(), 0
	}
	if stat == "" {
		// the plain sum, as records made before statistics over beats
		// have it, to the last bit
		return sum / float64(s.N), s.N
	}
	v, _ := s.Aggregate(stat)
	return v, s.N
}

// Ref is a relative criterion's reference: its measure's value over the
// reference step, and that step's run path ("2[3].1"). OK is false while
// the reference step has not run.
type Ref struct {
	V    float64
	Path string
	OK   bool
}

// Judge is the result of criterion c of the step at path, titled title,
// whose channel has dimension dim, its measure being v over n frames or
// beats (Acc.Measured); ref is its reference if it is relative. A failed
// criterion's verdict is FAIL, or WARN when its on_fail says so; what a
// failure does to the run is the caller's.
func Judge(c *protocols.Criterion, path, title string, dim units.Dimension, v float64, n int64, ref Ref) runlog.CriterionResult {
	rdim, _ := c.Measure.ResultDim(dim)
	res := runlog.CriterionResult{ID: c.ID, Name: c.Name, Step: path, StepName: title, Measure: c.Measure.Text,
		Unit: unitText(rdim, c.Measure), Limits: c.Bound.Text, Lo: finite(c.Bound.Lo), Hi: finite(c.Bound.Hi), OnFail: c.OnFail.String()}
	if c.Over > 0 {
		res.Over = "last " + units.FormatDuration(c.Over)
	}
	var noRef string
	if rel := c.Relative; rel != nil {
		measureUnit := res.Unit
		res.Unit = rel.Unit(measureUnit)
		res.ReferenceStep = ref.Path
		switch {
		case !ref.OK:
			noRef = fmt.Sprintf("its reference step %s (%s) has not run", rel.Path, rel.Step.Title())
		case math.IsNaN(ref.V) || math.IsInf(ref.V, 0):
			noRef = fmt.Sprintf("%s has no value in its reference step %s", c.Measure.Text, ref.Path)
		default:
			res.Reference = finite(ref.V)
			res.Limits += fmt.Sprintf(" relative to step %s: %s %s", ref.Path, strconv.FormatFloat(ref.V, 'g', 5, 64), measureUnit)
			v = rel.Change(v, ref.V)
		}
	}
	pass := false
	switch {
	case noRef != "":
		res.Verdict, res.Reason = runlog.VerdictNoData, noRef
	case n == 0 && c.Measure.IsBeat():
		res.Verdict, res.Reason = runlog.VerdictNoData, "no beats detected"
	case n == 0:
		res.Verdict, res.Reason = runlog.VerdictNoData, "no frames in the step"
	case math.IsNaN(v) || math.IsInf(v, 0):
		res.Verdict, res.Reason = runlog.VerdictNoData, fmt.Sprintf("%s has no value over %d samples", c.Measure.Text, n)
	default:
		res.Value = finite(v)
		pass = c.Bound.Holds(v)
		res.Verdict = runlog.VerdictFail
		switch {
		case pass && c.Marginal != nil && !c.Marginal.Holds(v):
			res.Verdict, res.Reason = runlog.VerdictMarginal, "outside the marginal band "+c.Marginal.Text
		case pass:
			res.Verdict = runlog.VerdictPass
		}
	}
	res.Pass = pass
	if !pass && c.OnFail == protocols.Warn {
		res.Verdict = runlog.VerdictWarn
	}
	return res
}

// PromptResult is the criterion result of a step's prompt (language
// 1.1) given its answer, if it was answered: judged (ok) when the prompt
// expects an answer or was not answered; a wrong or missing answer fails,
// or warns when the prompt's on_fail says so.
func PromptResult(pr *protocols.Prompt, path, title, answer string, answered bool) (res runlog.CriterionResult, ok bool) {
	if answered && pr.Expect == "" {
		return res, false
	}
	res = runlog.CriterionResult{Step: path, StepName: title, Measure: "prompt " + pr.ID, Limits: "an answer", OnFail: pr.OnFail.String()}
	if pr.Expect != "" {
		res.Limits = "answer " + pr.Expect
	}
	switch {
	case !answered:
		res.Verdict, res.Reason = runlog.VerdictFail, "not answered"
	case pr.Expected(answer):
		res.Verdict, res.Pass, res.Reason = runlog.VerdictPass, true, "answered "+answer
	default:
		res.Verdict, res.Reason = runlog.VerdictFail, "answered "+answer
	}
	if !res.Pass && pr.OnFail == protocols.Warn {
		res.Verdict = runlog.VerdictWarn
	}
	return res, true
}

// Supersede is a criterion result judged in an attempt of a step that ran
// again (retry, language 1.1): verdict superseded, which neither passes
// nor fails the run; Pass and the reason keep what was judged, so the
// attempt's step outcomes stay what they were.
func Supersede(r runlog.CriterionResult) runlog.CriterionResult {
	why := "attempt run again; it judged " + string(r.Verdict)
	if r.Reason != "" {
		why += " (" + r.Reason + ")"
	}
	r.Verdict, r.Reason = runlog.VerdictSuperseded, why
	return r
}

// Fails reports whether a judged criterion fails the run: it did not pass
// and its on_fail is not warn.
func Fails(c *protocols.Criterion, res runlog.CriterionResult) bool {
	return !res.Pass && c.OnFail != protocols.Warn
}

// finite maps NaN and ±Inf to nil: JSON has no NaN, and a missing value
// must read as missing, not as zero.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func unitText(d units.Dimension, m protocols.Measure) string {
	if per := protocols.Aggregates[m.Agg].Per; per != "" {
		return d.Unit() + "/" + per
	}
	return d.Unit()
}

// Text is a judged criterion in a line: its verdict, value and limits, or
// why it has no value.
func Text(r runlog.CriterionResult) string {
	if r.Value == nil {
		return string(r.Verdict) + " (" + r.Reason + ")"
	}
	return fmt.Sprintf("%s %s %s, limit %s", r.Verdict, r.Measure, strconv.FormatFloat(*r.Value, 'g', 6, 64)+" "+r.Unit, r.Limits)
}

// Invariant is an `always` criterion checked on every frame of the run.
type Invariant struct {
	C        *protocols.Criterion
	Dim      units.Dimension // its channel's
	Worst    float64         // value furthest outside, or the closest approach to a limit
	Violated bool
	N        int64
	First    time.Duration // time of the first violation
}

// Add accounts a frame's value v at t. It reports whether v lies outside
// the bound, and whether it is the first violation.
func (inv *Invariant) Add(t time.Duration, v float64) (outside, first bool) {
	inv.N++
	b := inv.C.Bound
	if !b.Holds(v) {
		if !inv.Violated {
			inv.Violated, inv.First, inv.Worst, first = true, t, v, true
		}
		if math.IsNaN(v) || excess(v, b) > excess(inv.Worst, b) {
			inv.Worst = v
		}
		return true, first
	}
	if !inv.Violated && (inv.N == 1 || closer(v, inv.Worst, b)) {
		inv.Worst = v
	}
	return false, false
}

// excess is how far v lies outside b (0 inside).
func excess(v float64, b protocols.Bound) float64 {
	return max(b.Lo-v, v-b.Hi, 0)
}

// closer reports whether v is nearer to b's nearest finite edge than w: the
// reported value of a passing invariant is its closest approach to a limit.
func closer(v, w float64, b protocols.Bound) bool {
	d := func(x float64) float64 { return min(x-b.Lo, b.Hi-x) }
	return d(v) < d(w)
}

// Result is the invariant's criterion result at the end of the run.
func (inv *Invariant) Result() runlog.CriterionResult {
	c := inv.C
	res := runlog.CriterionResult{ID: c.ID, Name: c.Name, Step: "always", Measure: c.Channel, Unit: inv.Dim.Unit(),
		Limits: c.Bound.Text, Lo: finite(c.Bound.Lo), Hi: finite(c.Bound.Hi), OnFail: c.OnFail.String()}
	switch {
	case inv.N == 0:
		res.Verdict, res.Reason = runlog.VerdictNoData, "no frames"
	case inv.Violated:
		res.Value = finite(inv.Worst)
		res.Verdict = runlog.VerdictFail
		res.Reason = fmt.Sprintf("first violated at %s", units.FormatDuration(inv.First))
		if c.OnFail == protocols.Warn {
			res.Verdict = runlog.VerdictWarn
		}
	default:
		res.Value, res.Verdict, res.Pass = finite(inv.Worst), runlog.VerdictPass, true
	}
	return res
}

// Span is a pause inside a step (language 1.1): the frames after From up
// to To belong to no step's statistics or criteria, nor the beats that
// ended then. To is -1 while the pause lasts.
type Span struct{ From, To time.Duration }

// Paused reports whether t lies in one of the spans.
func Paused(spans []Span, t time.Duration) bool {
	for _, s := range spans {
		if t > s.From && (s.To < 0 || t <= s.To) {
			return true
		}
	}
	return false
}
