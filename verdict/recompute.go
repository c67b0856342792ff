package verdict

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
)

// Recomputed is a record's criteria judged again from its data.
type Recomputed struct {
	// Criteria are the results as the engine produced them, in its order:
	// each judged step's criteria when it ended, then the invariants.
	Criteria []runlog.CriterionResult
	// Tol[i] is how far Criteria[i].Value may lie from the engine's: the
	// record keeps frames as float32, so a value over frames is within
	// FrameTolerance of its largest magnitude (see tolerance; beats found
	// again on the frames, redetectTolerance); values over recorded beats
	// (beats.jsonl keeps float64) and of flag channels are exact.
	Tol []float64
	// RefTol[i] is that of a relative criterion's reference value.
	RefTol []float64
	// Alt[i], when set, is another result the engine may have produced:
	// an aborted run's last frame may not have reached the invariants.
	Alt map[int]runlog.CriterionResult
	// NotRecomputed[i], when set, says why Criteria[i]'s value could not
	// be taken from the record (a beat measure beats.jsonl does not keep,
	// in a record whose rig config copy does not say how the engine timed
	// its beats); its value and verdict are then result.json's (Compare).
	NotRecomputed map[int]string
	// Outcome is the run's outcome as its criteria and end make it.
	Outcome runlog.Outcome
	// Unreached are the protocol's criteria an aborted or interrupted run
	// never judged (unreached), verdict runlog.VerdictNotReached, in the
	// protocol's order; not compared with result.json, which has no
	// place for them.
	Unreached []runlog.CriterionResult
	// Steps are the run's step executions (path, name, outcome) with the
	// outcomes its events and criteria make (stepOutcomes), once Compare
	// has settled the criteria; nil for a run that did not end.
	Steps []runlog.StepResult
	// KeptEvery is N of a record that keeps one frame in N of those its
	// run acquired (runlog.Manifest.KeptEvery; 1: all). Above 1, no value
	// over frames is recomputed (NotRecomputed says so: the engine's were
	// over every frame, not comparable with the kept ones); those over
	// beats.jsonl are.
	KeptEvery int
	ends      []stepEnd
	// rejudge[i], for a criterion NotRecomputed, is the verdict its
	// limits give a value (not for a relative or superseded one): the
	// value result.json states is then checked against its verdict.
	rejudge map[int]func(v float64) runlog.Verdict
	// ended: the run's last part has its run.end; aborted: it says so.
	ended, aborted bool
}

// FrameTolerance is the relative difference allowed between a value over
// frames and the engine's, as a share of the largest magnitude among the
// frames it was taken over (scaled for a slope, see tolerance). Storing a
// frame as float32 moves it by at most 2⁻²⁴ (6·10⁻⁸) of itself; the rest
// is left for the different order of the float64 sums.
const FrameTolerance = 1.0 / (1 << 20)

// job is one criterion's measure over one step of the record.
type job struct {
	acc        Acc
	col        int
	dim        units.Dimension
	ref        bool
	start, end time.Duration
	beatCh     string                       // beat measures: the beats' channel
	beatVal    func(b *runlog.Beat) float64 // and their value of the measure
	skip       string                       // why its value cannot be had from the record
	// redetect: a beat measure beats.jsonl does not keep, its beats found
	// again on the frames (detect.go)
	redetect *detectSpec
	scale    float64 // of a redetected measure: its channel's largest magnitude
}

// judgement is one judged step: its until's timeout, then its criteria.
type judgement struct {
	path, title string
	top         int
	end         time.Duration
	timeout     *runlog.CriterionResult
	jobs        []*job
	// superseded: judged in an attempt of a step run again (retry)
	superseded bool
	// prompt is the result of the step's prompt, if it was judged
	prompt *runlog.CriterionResult
}

// openStep is a step started and not yet ended in the events.
type openStep struct {
	path, title string
	step        *protocols.Step
	start       time.Duration
	jobs        []*job
	timeout     *runlog.CriterionResult
	judged      bool // a criterion event was recorded for it
	// firstJudged is len(walk.judged) at its start: the judgements of
	// its nested steps follow
	firstJudged int
	// asked: its prompt was asked; answer, if answered, is the answer
	asked, answered bool
	answer          string
}

// Recompute judges every criterion of the closed run record in dir again
// from its protocol copy, the step windows of its events, its frames and
// its beats, as the engine did while it ran. A record without a protocol
// copy gives ErrNoProtocol.
func Recompute(dir string) (*Recomputed, error) {
	run, err := runlog.Open(dir)
	if err != nil {
		return nil, err
	}
	evs, err := run.ReadEvents()
	if err != nil {
		return nil, err
	}
	m := &run.Manifest
	rc := readRigCopy(dir)
	rc.presets = append(rc.presets, presetWords(evs)...)
	proto, err := parseCopy(dir, m, rc)
	if err != nil {
		return nil, err
	}
	w := &walk{proto: proto, layout: m.Layout, rate: m.SampleRateHz, params: map[string]runlog.SetpointValue{}, notApplicable: map[string]bool{}, flow: primaryFlow(m.Layout),
		kept: m.KeptEvery()}
	if len(rc.beats) > 0 {
		w.firstBeat, w.cycle, w.beatChans = rc.beats[0], rc.beats[0], rc.beats
	}
	if rc.cycle != "" {
		w.cycle = rc.cycle
	}
	if err := w.events(evs); err != nil {
		return nil, err
	}
	if err := w.measure(run); err != nil {
		return nil, err
	}
	out := w.judge()
	out.Unreached, out.ends, out.KeptEvery = w.unreached(out.Criteria), w.ends, w.kept
	return out, nil
}

// presetWords are the presets the record's events set: the words
// loop.preset takes when the record has no rig config copy.
func presetWords(evs []runlog.Event) []string {
	var words []string
	for _, ev := range evs {
		if w, ok := strings.CutPrefix(ev.Msg, "loop.preset = "); ok && ev.Kind == runlog.KindSetpoint {
			words = append(words, w)
		}
	}
	return words
}

// walk is the state of reading a record's events into jobs.
type walk struct {
	// pauses are the spans of pauses inside steps (pausedIn)
	pauses    []Span
	proto     *protocols.Protocol
	layout    []runlog.Channel
	rate      float64
	flow      string // the primary flow channel
	firstBeat string // the rig's first beat channel, if its config copy says
	params    map[string]runlog.SetpointValue
	cycle     string   // the rig's cycle channel, if its config copy says
	beatChans []string // the rig's beat channels, if its config copy says
	resumes   []time.Duration
	stack     []*openStep
	judged    []*judgement
	ended     bool // the run's last part ended (run.end): invariants were judged
	aborted   bool
	lastTop   int       // the last top-level step started
	ends      []stepEnd // the step executions, as they ended
	// notApplicable: criteria (staticKey) whose `when` did not hold, or
	// that a criterion event records as judged (unreached)
	notApplicable map[string]bool
	always        []*Invariant
	cols          []int       // of always
	before        []Invariant // always before the latest frame
	// kept is N of a record that keeps one frame in N (1: all): above 1,
	// values over frames are not recomputed (thinned)
	kept int
}

// thinned is why a value over frames is not recomputed from a record
// that keeps one frame in N.
func thinned(n int) string {
	return fmt.Sprintf("the record keeps 1 frame in %d (dry run): the engine's value over every frame is not comparable with one over the kept frames", n)
}

// seconds is an event's time on the run clock, as the engine had it.
func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// events reads the steps' windows, the parameters at each step's start
// (for `when`) and which steps were judged.
func (w *walk) events(evs []runlog.Event) error {
	for _, ev := range evs {
		switch ev.Kind {
		case runlog.KindSetpoint:
			w.setpoint(ev)
		case runlog.KindStepStart:
			if err := w.start(ev); err != nil {
				return err
			}
		case runlog.KindUntilTimeout:
			w.timedOut(ev)
		case runlog.KindCriterion:
			w.recorded(ev)
			for _, o := range w.stack {
				if o.path == ev.Step {
					o.judged = true
				}
			}
		case runlog.KindPrompt, runlog.KindOperator:
			w.prompted(ev)
			w.pausedIn(ev)
		case runlog.KindStepEnd:
			w.end(ev)
		case runlog.KindRunResumed:
			w.resumed(ev)
		case runlog.KindRunEnd:
			w.ended, w.aborted = true, ev.Msg == string(runlog.OutcomeAborted)
		}
	}
	return nil
}

func (w *walk) setpoint(ev runlog.Event) {
	if word, ok := strings.CutPrefix(ev.Msg, "loop.preset = "); ok {
		w.params["loop.preset"] = runlog.SetpointValue{Word: word}
		return
	}
	d := runlog.SetpointData{Value: runlog.SetpointValue{Num: math.NaN()}}
	if ev.Decode(&d) == nil && d.Param != "" {
		w.params[d.Param] = d.Value
	}
}

// holds reports whether a criterion's `when` holds for the parameters as
// the record set them (the engine's evaluation on recorded values).
func (w *walk) holds(wh *protocols.Condition) bool {
	return wh.Eval(func(leaf *protocols.Condition) bool {
		cur, ok := w.params[leaf.Param]
		v := protocols.Value{Num: cur.Num, Word: cur.Word, Off: cur.Word == "off"}
		if v.Off {
			v.Word = ""
		}
		return leaf.HoldsValue(v, ok)
	})
}

// stepAt is the protocol's step at a run path ("2[3].1").
func stepAt(steps []*protocols.Step, path string) (*protocols.Step, error) {
	var s *protocols.Step
	for part := range strings.SplitSeq(path, ".") {
		n, _, _ := strings.Cut(part, "[")
		i, err := strconv.Atoi(n)
		if err != nil || i < 1 || i > len(steps) {
			return nil, fmt.Errorf("verdict: the events name step %q, which the protocol copy does not have", path)
		}
		s = steps[i-1]
		steps = s.Steps
	}
	if s == nil {
		return nil, fmt.Errorf("verdict: the events name a step with no path")
	}
	return s, nil
}

func (w *walk) start(ev runlog.Event) error {
	s, err := stepAt(w.proto.Steps, ev.Step)
	if err != nil {
		return err
	}
	o := &openStep{path: ev.Step, title: ev.Msg, step: s, start: seconds(ev.T), firstJudged: len(w.judged)}
	for i, c := range append(s.Criteria[:len(s.Criteria):len(s.Criteria)], s.Refs...) {
		ref := i >= len(s.Criteria)
		if !ref && c.When != nil && !w.holds(c.When) {
			w.notApplicable[staticKey(o.path, c.ID, c.Measure.Text)] = true
			continue
		}
		o.jobs = append(o.jobs, w.newJob(c, ref, o.start))
	}
	w.stack = append(w.stack, o)
	w.lastTop = max(w.lastTop, runlog.TopStep(o.path))
	return nil
}

// newJob is the measure of criterion c over a step that started at start.
func (w *walk) newJob(c *protocols.Criterion, ref bool, start time.Duration) *job {
	col := -1
	for i, ch := range w.layout {
		if ch.Name == c.Measure.Channel {
			col = i
		}
	}
	j := &job{acc: NewAcc(c, w.rate), col: col, ref: ref, start: start, end: -1}
	if col >= 0 {
		j.dim = dimOf(w.layout[col].Unit)
	}
	if m := c.Measure; m.IsBeat() {
		j.beatCh, j.beatVal, j.skip = w.beatSource(m)
		if j.skip != "" {
			j.redetect, j.skip = w.detectSpec(m, j.skip)
		}
	}
	if w.kept > 1 && (j.redetect != nil || !c.Measure.IsBeat() && col >= 0) {
		j.redetect, j.skip = nil, thinned(w.kept)
	}
	return j
}

// beatSource is where beats.jsonl keeps a beat measure: the channel of its
// beats and their value of it. It keeps the beats of the rig's beat
// channels with the primary flow's stroke volume; phases of the cycle and
// other flows' stroke volumes the engine detected and did not record.
func (w *walk) beatSource(m protocols.Measure) (string, func(*runlog.Beat) float64, string) {
	switch m.Agg {
	case "systolic":
		return m.Channel, func(b *runlog.Beat) float64 { return b.Systolic }, ""
	case "diastolic":
		return m.Channel, func(b *runlog.Beat) float64 { return b.Diastolic }, ""
	case "map":
		return m.Channel, func(b *runlog.Beat) float64 { return b.Mean }, ""
	case "pulse_pressure":
		return m.Channel, func(b *runlog.Beat) float64 { return b.PulsePressure }, ""
	case "heart_rate":
		return m.Channel, func(b *runlog.Beat) float64 { return b.HeartRate }, ""
	case "stroke_volume":
		if m.Channel == w.flow && w.firstBeat != "" {
			return w.firstBeat, func(b *runlog.Beat) float64 {
				if b.StrokeVolume == nil {
					return math.NaN()
				}
				return *b.StrokeVolume
			}, ""
		}
		return "", nil, "the stroke volume of " + m.Channel + " is not in " + runlog.BeatsFile
	}
	return "", nil, m.Agg + " of each beat is not in " + runlog.BeatsFile
}

// timedOut is the reason of an until's timeout result.
const timedOut = "timed out"

func (w *walk) timedOut(ev runlog.Event) {
	if len(w.stack) == 0 {
		return
	}
	o := w.stack[len(w.stack)-1]
	u := o.step.Until
	if o.path != ev.Step || u == nil || u.OnTimeout != protocols.Fail {
		return
	}
	o.timeout = &runlog.CriterionResult{Step: o.path, StepName: o.title, Measure: u.Cond.Text,
		Limits: "met within " + units.FormatDuration(u.Timeout), Verdict: runlog.VerdictFail, OnFail: "fail", Reason: timedOut}
}

// end closes the innermost step; it was judged unless its body aborted
// (an abort by one of its own criteria is recorded with them).
func (w *walk) end(ev runlog.Event) {
	n := len(w.stack)
	if n == 0 || w.stack[n-1].path != ev.Step {
		return
	}
	o := w.stack[n-1]
	w.stack = w.stack[:n-1]
	w.ends = append(w.ends, stepEnd{path: o.path, title: o.title, outcome: runlog.Outcome(ev.Msg)})
	if ev.Msg == string(runlog.OutcomeAborted) && !o.judged {
		return
	}
	end := seconds(ev.T)
	for _, j := range o.jobs {
		j.end = end
	}
	jd := &judgement{path: o.path, title: o.title, top: runlog.TopStep(o.path), end: end, timeout: o.timeout, jobs: o.jobs}
	if pr := o.step.Prompt; pr != nil && o.asked {
		if res, ok := PromptResult(pr, o.path, o.title, o.answer, o.answered); ok {
			jd.prompt = &res
			if !res.Pass && pr.OnFail == protocols.Abort {
				jd.jobs = nil // the prompt aborted the step: nothing else was judged
			}
		}
	}
	w.judged = append(w.judged, jd)
	if ev.Msg == string(runlog.OutcomeRetried) {
		// an attempt run again (retry): what it and its nested steps
		// judged is superseded, as the engine's supersede did
		for _, jd := range w.judged[o.firstJudged:] {
			jd.superseded = true
		}
	}
}

// prompted notes a step's prompt asked (a prompt event) and its answer
// (the operator event of action prompt.answer), for PromptResult at the
// step's end.
func (w *walk) prompted(ev runlog.Event) {
	n := len(w.stack)
	if n == 0 || w.stack[n-1].path != ev.Step {
		return
	}
	o := w.stack[n-1]
	if ev.Kind == runlog.KindPrompt {
		o.asked = true
		return
	}
	var d runlog.OperatorData
	if ev.Decode(&d) == nil && d.Action == runlog.ActionPromptAnswer && o.asked {
		o.answered, o.answer = true, d.New
	}
}

// pausedIn keeps the spans of pauses inside steps (the operator events
// paused and resumed with a step): their frames and beats belong to no
// step, as in the engine.
func (w *walk) pausedIn(ev runlog.Event) {
	if ev.Kind != runlog.KindOperator || ev.Step == "" {
		return
	}
	switch ev.Msg {
	case "paused":
		w.pauses = append(w.pauses, Span{From: seconds(ev.T), To: -1})
	case "resumed":
		if n := len(w.pauses); n > 0 {
			w.pauses[n-1].To = seconds(ev.T)
		}
	}
}

// resumed forgets what the interrupted part judged of the steps the
// resumed run ran again, as the engine did (rig's restore).
func (w *walk) resumed(ev runlog.Event) {
	var d runlog.RunResumedData
	_ = ev.Decode(&d)
	kept := w.judged[:0]
	for _, j := range w.judged {
		if j.top <= d.CompletedSteps {
			kept = append(kept, j)
		}
	}
	ends := w.ends[:0]
	for _, e := range w.ends {
		if runlog.TopStep(e.path) <= d.CompletedSteps {
			ends = append(ends, e)
		}
	}
	w.judged, w.ends, w.stack, w.ended = kept, ends, nil, false
	w.resumes = append(w.resumes, seconds(d.GapFromS))
}
