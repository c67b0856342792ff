package rig

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
	"github.com/mockloop/mockloop/verdict"
)

// blockSpan is the time one block of frames covers. Blocks are the unit in
// which frames reach the run record; 10 ms keeps per-block overhead small
// and the loss window at a crash short.
const blockSpan = 10 * time.Millisecond

// AbortError is why a run was aborted. Errors of this type end a run in the safe
// state with outcome "aborted"; any other error is an infrastructure fault,
// which takes the same path.
type AbortError struct {
	Reason string
	// By is the operator action that aborted the run (a stop, an
	// e-stop), recorded in the audit trail as the run ends; nil when no
	// person did (a trip, a fault).
	By *runlog.OperatorData
}

func (a *AbortError) Error() string { return "aborted: " + a.Reason }

func abortf(format string, args ...any) error {
	return &AbortError{Reason: fmt.Sprintf(format, args...)}
}

// engine runs one protocol on one plant, on one clock.
type engine struct {
	ctx   context.Context
	cfg   *Config
	proto *protocols.Protocol
	clk   clock.Clock
	plant Plant
	out   outlets
	prog  *progress
	pause *Pause // or nil
	// prompts answers the steps' prompts from outside the run (or nil);
	// answers are --answer's, by prompt id; operator is who started it.
	prompts *Prompts
	// held: the run is paused inside a step; pauses are the spans of
	// such pauses (the last one open while held): their frames and beats
	// belong to no step.
	held     bool
	pauses   []verdict.Span
	answers  map[string]string
	operator string
	dog      *watchdog // or nil; fed by the sampling loop
	layout   daq.Layout
	rate     float64
	period   time.Duration

	// next is the run's time cursor: the time of the last frame
	// accounted for, or the end of the last step when conversions were
	// lost across it. Step bounds, events, windows and timeouts are on it.
	next time.Duration
	// lateT is, once the run has ended, the latest time of an event the
	// plant reported then (the DUT's own clock, which ran on while the DUT
	// was brought to its safe speed): the engine's last events are not
	// stamped before it, so the record's events stay in time order.
	lateT float64
	// Frame time is conversion time (DESIGN.md decision 7): the frame of
	// conversion c is at t0 + (c − conv0)·period, whenever it was read.
	// anchored: t0 and conv0 are set (by the first good frame); lastConv is
	// the last conversion read, good or bad, goodConv the last good one.
	anchored                  bool
	t0                        time.Duration
	conv0, lastConv, goodConv int64
	// pending: a frame was read (and supervised) but lies beyond the
	// horizon of the step that read it, since conversions were lost
	// across the step's end; the next step accounts it. pendConv, pendT:
	// its conversion and time.
	pending  bool
	pendConv int64
	pendT    time.Duration
	// adcPaced: the clock is the wall clock, and the ADC's data-ready
	// paces the frames; lastRead is the clock's time of the last read
	// that got a conversion.
	adcPaced bool
	lastRead time.Duration
	block    *daq.Block
	scratch  []float64
	frames   int64
	// badRun counts consecutive bad frames; stallFrames of them trip.
	badRun, stallFrames int
	health              Health

	params   map[string]protocols.Value
	active   []*stepRun // running steps, outermost first
	steps    []runlog.StepResult
	criteria []runlog.CriterionResult
	failed   bool
	// refs are the reference values of relative criteria (relative_to):
	// each measured over its reference step when that step last ended.
	refs map[*protocols.Criterion]refValue

	limits  []limitCheck
	dutTrip alarmTrip
	always  []*invariant
	beats   []beatSpec
	ctl     *pumpctl.Targets
	ctlSpan controlSpan  // the timing channel since the targets' last update
	stages  []frameStage // built once: frameStages
	started time.Duration
	// resume, when set, continues an interrupted run from firstStep.
	resume    *resumeState
	firstStep int
}

// limitCheck is one channel's hard limit in the safety supervisor.
type limitCheck struct {
	col      int
	name     string
	dim      units.Dimension
	lo, hi   float64
	debounce int
	count    int
}

// alarmTrip is the supervisor's check of the DUT's alarms: the bits of
// mask (dut.trip_on) in column col trip the run. mask 0: none.
type alarmTrip struct {
	col  int
	mask dut.Alarms
}

// invariant is an `always` criterion checked on every frame.
type invariant struct {
	verdict.Invariant
	col int
}

// stepRun accumulates the data of one running step.
type stepRun struct {
	step   *protocols.Step
	path   string
	title  string
	start  time.Duration
	frames int64
	stats  []daq.Summary // per channel: this step's own frames, then its children's merged in
	crit   []*critRun
	// anyFail is set when a criterion of this step failed (not warned).
	anyFail bool
}

type critRun struct {
	c   *protocols.Criterion
	ref bool // c's measure taken over c's reference step, not judged
	col int
	dim units.Dimension
	acc verdict.Acc
}

// refValue is a relative criterion's reference: its measure's value over
// the reference step, and that step's run path ("2[3].1").
type refValue struct {
	v    float64
	path string
}

// refKey names a relative criterion in a record (StepEndData.References):
// its line and column in the protocol, the same on a resume.
func refKey(c *protocols.Criterion) string { return fmt.Sprintf("%d:%d", c.Pos.Line, c.Pos.Col) }

// beatSpec is one beat detector: on a pressure column, integrating a flow
// column (or none), and reading the phases of beats on column x. channel
// names the measures it serves: all of the pressure channel's, or the flow
// channel's stroke_volume, or (phase) the phases of channel x
// (end_diastolic(lv_volume)).
type beatSpec struct {
	det           *daq.BeatDetector
	p, f, x       int
	channel       string
	record, phase bool
}

// serves reports whether the spec's beats feed measure m.
func (s *beatSpec) serves(m protocols.Measure) bool {
	return m.IsBeat() && m.Channel == s.channel && (s.record || s.phase == protocols.Aggregates[m.Agg].Phase)
}

// beatSpecs builds the detectors of the rig: one per beat channel, with
// the primary flow (the first flow channel) integrated for the record, and
// one per flow channel timed by the first beat channel, for stroke_volume;
// and one timed by the cycle channel for each other channel whose phases
// the protocol measures.
func beatSpecs(cfg *Config, proto *protocols.Protocol, layout daq.Layout, rate float64) []beatSpec {
	var flows []int
	for j, ch := range layout {
		if ch.Dim == units.Flow {
			flows = append(flows, j)
		}
	}
	primary := -1
	if len(flows) > 0 {
		primary = flows[0]
	}
	var specs []beatSpec
	for _, name := range cfg.BeatChannels {
		p := layout.Index(name)
		specs = append(specs, beatSpec{det: daq.NewBeatDetector(name, rate), p: p, f: primary, x: p, channel: name, record: true})
	}
	if len(specs) == 0 {
		return nil
	}
	for _, f := range flows {
		specs = append(specs, beatSpec{det: daq.NewBeatDetector(cfg.BeatChannels[0], rate), p: specs[0].p, f: f, x: f, channel: layout[f].Name})
	}
	cycle := cfg.cycleChannel()
	for _, name := range phaseChannels(proto.Steps, nil) {
		x := layout.Index(name)
		if x < 0 || slices.Contains(cfg.BeatChannels, name) || slices.ContainsFunc(specs, func(s beatSpec) bool { return s.phase && s.channel == name }) {
			continue
		}
		specs = append(specs, beatSpec{det: daq.NewBeatDetector(cycle, rate), p: layout.Index(cycle), f: -1, x: x, channel: name, phase: true})
	}
	return specs
}

// phaseChannels appends the channels of steps' phase measures (criteria and
// until conditions) to names.
func phaseChannels(steps []*protocols.Step, names []string) []string {
	for _, s := range steps {
		for _, c := range s.Criteria {
			if protocols.Aggregates[c.Measure.Agg].Phase {
				names = append(names, c.Measure.Channel)
			}
		}
		if s.Until != nil {
			for _, m := range s.Until.Cond.Measures() {
				if protocols.Aggregates[m.Agg].Phase {
					names = append(names, m.Channel)
				}
			}
		}
		names = phaseChannels(s.Steps, names)
	}
	return names
}

// detectBeats feeds the frame to the beat detectors; a finished beat is
// recorded and handed to the running steps' beat criteria, and a beat of
// the timing channel to the closed-loop targets.
func (e *engine) detectBeats(t time.Duration, frame []float64) error {
	for i := range e.beats {
		s := &e.beats[i]
		q := math.NaN()
		if s.f >= 0 {
			q = frame[s.f]
		}
		b, ok := s.det.AddValue(t, frame[s.p], q, frame[s.x])
		if i == 0 {
			if ok {
				e.prog.beatDone(b, b.End-e.started)
			}
			if err := e.control(t, frame[s.p], q, b, ok); err != nil {
				return err
			}
		}
		if !ok {
			continue
		}
		if s.record {
			rb := runlog.Beat{T: b.End.Seconds(), Start: b.Start.Seconds(), Channel: b.Channel, Systolic: b.Systolic, Diastolic: b.Diastolic,
				Mean: b.Mean, PulsePressure: b.PulsePressure, HeartRate: b.HeartRate, StrokeVolume: finite(b.StrokeVolume)}
			e.out.beat(rb)
		}
		if verdict.Paused(e.pauses, b.End) {
			continue
		}
		for _, sr := range e.active {
			for _, c := range sr.crit {
				if s.serves(c.c.Measure) {
					v, _ := b.Value(c.c.Measure.Agg)
					c.acc.Beat(b.End, v)
				}
			}
		}
	}
	return nil
}

// forever is the horizon of a wait with no end of its own (a pause).
const forever = time.Duration(math.MaxInt64)

// advance accounts for the next frame if its time lies at or before
// horizon (the end of the hold, ramp or timeout in progress), and reports
// whether it did; the frame then goes through the engine's stages in order
// (frameStages). A frame beyond the horizon stays pending for the next step
// and the cursor moves to the horizon: a step lasts what it says whatever
// the converter lost, and every frame lies within its step.
func (e *engine) advance(horizon time.Duration) (bool, error) {
	if !e.pending {
		if err := e.acquire(horizon); err != nil || !e.pending {
			return false, err
		}
	}
	if e.pendT > horizon {
		e.next = max(e.next, horizon)
		return false, nil
	}
	t, frame := e.account()
	for _, stage := range e.stages {
		if err := stage(t, frame); err != nil {
			return true, err
		}
	}
	return true, nil
}

// frameStage is one consumer of every accounted frame.
type frameStage func(t time.Duration, frame []float64) error

// frameStages are the consumers of each accounted frame, in the order of
// DESIGN.md. The safety supervisor has seen the frame when it was read
// (acquire); then come the actuators and the closed-loop targets for the
// next interval, the beat detectors (which feed the targets, the outlets
// and the beat criteria), the progress line and the running steps'
// statistics and criteria, the `always` invariants, the observer, the
// record's block, and last the watchdog: fed only while frames get through
// every stage.
func (e *engine) frameStages() []frameStage {
	return []frameStage{
		func(t time.Duration, _ []float64) error { return e.actuate(t) },
		func(t time.Duration, f []float64) error { e.ctl.Frame(t, f); return nil },
		e.detectBeats,
		func(t time.Duration, f []float64) error {
			e.prog.frame(t-e.started, f)
			if e.held {
				return nil
			}
			for i, s := range e.active {
				s.add(t, f, i == len(e.active)-1)
			}
			return nil
		},
		e.checkAlways,
		func(t time.Duration, f []float64) error { e.out.frame(t, f); return nil },
		func(time.Duration, []float64) error { return e.fillBlock() },
		func(t time.Duration, _ []float64) error { e.dog.feed(t); return nil },
	}
}

// fillBlock writes the block of frames out when it is full, with the
// acquisition's health and the stuck-sensor check, once per block.
func (e *engine) fillBlock() error {
	if !e.block.Full() {
		return nil
	}
	e.reportHealth()
	if stuck := e.plant.Stuck(); len(stuck) > 0 {
		return abortf("safety trip: sensor %s stuck (reading unchanged for %s): implausible", strings.Join(stuck, ", "), units.FormatDuration(stuckSpan))
	}
	return e.flush()
}

// account takes the pending frame into the record at its time, which
// becomes the cursor's; a gap before it is an event.
func (e *engine) account() (time.Duration, []float64) {
	e.pending = false
	t := e.pendT
	e.next = t
	e.declareGap(e.pendConv - e.goodConv - 1)
	e.goodConv = e.pendConv
	frame := e.block.Append(t)
	copy(frame, e.scratch)
	e.frames++
	return t, frame
}

// declareGap records that the n conversions before the cursor have no
// value: they were lost, or read bad. No value is invented for them.
func (e *engine) declareGap(n int64) {
	if n <= 0 {
		return
	}
	from, to := e.next-time.Duration(n)*e.period, e.next-e.period
	e.event(runlog.NewEvent(runlog.KindGap, "", fmt.Sprintf("%d conversions without a value, %s to %s", n, units.FormatDuration(from), units.FormatDuration(to)),
		runlog.GapData{Conversions: n, FromS: from.Seconds(), ToS: to.Seconds()}))
}

// closeGaps declares, at the end of the run, the conversions between its
// last frame and its end, which no later frame will account.
func (e *engine) closeGaps() {
	if !e.anchored {
		return
	}
	last := e.t0 + time.Duration(e.goodConv-e.conv0)*e.period
	e.declareGap(int64((e.next - last) / e.period))
}

// adcWake is when a loop paced by the ADC's data-ready wakes, given the
// time of its last read: a quarter period before the next conversion is
// due (see acquire). `mockloop timing` measures the loop with the same rule.
func adcWake(lastRead, period time.Duration) time.Duration { return lastRead + period*3/4 }

// acquire waits for and reads the next frame into scratch. A good frame is
// supervised at once and becomes pending, with its conversion's time. A bad
// frame is left out of the record and of every statistic (no value is
// invented), the cursor moves past the conversion it used up, and the run
// goes on unless the acquisition has stalled.
func (e *engine) acquire(horizon time.Duration) error {
	wake := e.next + e.period
	if e.adcPaced && e.anchored {
		// On the wall clock the ADC's data-ready paces the loop: wake a
		// quarter period before its next conversion is due and let the
		// driver wait for the edge, so that every frame is read just
		// after its conversion and a late wake-up of up to a period
		// loses nothing. (Waking on a grid of our own would read each
		// conversion at a phase of its own, and jitter would skip some.)
		wake = adcWake(e.lastRead, e.period)
	}
	if err := e.clk.SleepUntil(e.ctx, wake); err != nil {
		return e.ctxAbort()
	}
	conv, err := e.plant.Read(e.scratch)
	e.plantEvents()
	used := e.anchored && conv > e.lastConv
	if !e.anchored && err == nil {
		// The first good frame sets the time base: it lies one period
		// after the run's start.
		e.anchored, e.t0, e.conv0, e.goodConv, used = true, e.next, conv-1, conv-1, true
	}
	if used {
		e.lastConv = conv
		if e.adcPaced {
			e.lastRead = e.clk.Now()
		}
	}
	t := e.t0 + time.Duration(conv-e.conv0)*e.period
	if err != nil {
		var a *AbortError
		if errors.As(err, &a) {
			return a
		}
		if !errors.Is(err, daq.ErrBadFrame) {
			return abortf("acquisition failed: %v", err)
		}
		if e.badRun++; e.badRun >= e.stallFrames {
			return abortf("acquisition stalled: %d bad frames in a row (last: %v)", e.badRun, err)
		}
		if used {
			e.next = max(e.next, min(t, horizon))
		}
		return e.actuate(e.next)
	}
	e.badRun = 0
	e.pending, e.pendConv, e.pendT = true, conv, t
	if err := e.supervise(e.scratch); err != nil {
		// The frame that tripped is in the record, and in its steps'
		// statistics: a trip on the run's first frame (a DUT alarm
		// present from the start) still shows what tripped it.
		t, frame := e.account()
		for i, s := range e.active {
			s.add(t, frame, i == len(e.active)-1)
		}
		return err
	}
	return nil
}

func (e *engine) actuate(t time.Duration) error {
	err := e.plant.Actuate(t)
	e.plantEvents()
	if err != nil {
		var a *AbortError
		if errors.As(err, &a) {
			return a
		}
		return abortf("actuator write failed: %v", err)
	}
	return nil
}

// plantEvents records what the plant reported, with the plant's own
// timestamps: the DUT's frames in the record alone, what the DUT did
// (alarms, its safe state) in every outlet. It returns the latest event's
// time.
func (e *engine) plantEvents() (latest float64) {
	for _, ev := range e.plant.TakeEvents() {
		latest = max(latest, ev.T)
		if ev.Kind == runlog.KindDUTTx || ev.Kind == runlog.KindDUTRx {
			e.out.deviceEvent(ev)
		} else {
			e.out.event(ev)
		}
	}
	return latest
}

// reportHealth records a change of the acquisition counters as an event, at
// most once per block: bad frames are surfaced, never hidden.
func (e *engine) reportHealth() {
	h := e.plant.Health()
	if h.ADC.Bad() == e.health.ADC.Bad() && h.SlowADC.Bad() == e.health.SlowADC.Bad() {
		return
	}
	e.event(runlog.NewEvent(runlog.KindAcquisition, "", fmt.Sprintf("ADC bad frames: %d (CRC %d, missed data-ready %d, gaps %d, stuck %d); slow ADC bad: %d",
		h.ADC.Bad(), h.ADC.CRCErrors, h.ADC.MissedReady, h.ADC.Gaps, h.ADC.Stuck, h.SlowADC.Bad()),
		runlog.AcquisitionData{ADC: h.ADC, SlowADC: h.SlowADC}))
	e.health = h
}

func (e *engine) flush() error {
	if e.block.Len() == 0 {
		return nil
	}
	err := e.out.blocks(e.block)
	e.block.Reset()
	return err
}

// ctxAbort turns the end of the run's context into an abort with its cause
// (the CLI sets the signal as cause).
func (e *engine) ctxAbort() error {
	cause := context.Cause(e.ctx)
	var a *AbortError
	if errors.As(cause, &a) {
		return a
	}
	return abortf("operator: %v", cause)
}

// supervise checks the emergency stop, the DUT's alarms of dut.trip_on
// (the device's word, at once: no debounce) and the hard limits with
// debounce. A NaN counts as out of range: an implausible reading must not
// hide an excursion.
func (e *engine) supervise(frame []float64) error {
	if e.plant.EStop() {
		return &AbortError{Reason: "emergency stop pressed", By: &runlog.OperatorData{Action: runlog.ActionEStop,
			At: time.Now().UTC(), By: "e-stop button", Via: "button", Deviation: true}}
	}
	if t := e.dutTrip; t.mask != 0 {
		if v := frame[t.col]; v > 0 && v <= math.MaxUint16 {
			if a := dut.Alarms(v) & t.mask; a != 0 {
				return abortf("safety trip: DUT alarm 0x%s: %s", a.Hex(), a)
			}
		}
	}
	for i := range e.limits {
		l := &e.limits[i]
		v := frame[l.col]
		if v >= l.lo && v <= l.hi {
			l.count = 0
			continue
		}
		if l.count++; l.count < l.debounce {
			continue
		}
		switch {
		case math.IsNaN(v):
			return abortf("safety trip: %s reading is not a number", l.name)
		case v > l.hi:
			return abortf("safety trip: %s %s above hard limit %s", l.name, units.Format(v, l.dim), units.Format(l.hi, l.dim))
		default:
			return abortf("safety trip: %s %s below hard limit %s", l.name, units.Format(v, l.dim), units.Format(l.lo, l.dim))
		}
	}
	return nil
}

func (e *engine) checkAlways(t time.Duration, frame []float64) error {
	for _, inv := range e.always {
		v := frame[inv.col]
		outside, first := inv.Add(t, v)
		if !outside {
			continue
		}
		c, b := inv.C, inv.C.Bound
		if first {
			e.event(runlog.NewEvent(runlog.KindInvariant, "", fmt.Sprintf("%s violated: %s %s, limit %s", c.Label(), c.Channel, units.Format(v, inv.Dim), b.Text),
				runlog.InvariantData{ID: c.ID, Value: runlog.Reading(v)}))
		}
		if c.OnFail == protocols.Abort {
			return abortf("invariant %s violated: %s %s, limit %s", c.Label(), c.Channel, units.Format(v, inv.Dim), b.Text)
		}
	}
	return nil
}

// run executes the whole protocol. It returns the abort, or nil.
func (e *engine) run() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = abortf("panic: %v", r)
			e.event(runlog.NewEvent(runlog.KindFault, "", fmt.Sprintf("panic: %v", r), runlog.FaultData{Stack: string(debug.Stack())}))
		}
	}()
	if e.resume != nil {
		if err := e.restore(); err != nil {
			return err
		}
	} else if e.cfg.Initial != "" {
		if err := e.set(protocols.Setpoint{Param: "loop.preset", Value: protocols.Value{Word: e.cfg.Initial}}, ""); err != nil {
			return err
		}
	}
	for i := e.firstStep; i < len(e.proto.Steps); i++ {
		if err := e.holdWhilePaused(i); err != nil {
			return err
		}
		if err := e.runStep(e.proto.Steps[i], strconv.Itoa(i+1), ""); err != nil {
			return err
		}
	}
	return nil
}

func (e *engine) runSteps(steps []*protocols.Step, prefix, suffix string) error {
	for i, s := range steps {
		path := prefix + strconv.Itoa(i+1)
		if n := len(e.active); n > 0 { // a boundary inside a step: a pause takes effect here
			if _, err := e.pauseAt(0, e.active[n-1].path); err != nil {
				return err
			}
		}
		if err := e.runStep(s, path, suffix); err != nil {
			return err
		}
	}
	return nil
}

// runStep runs a step; one with retry (language 1.1) runs again while its
// own criteria fail and attempts remain, each attempt recorded as a step
// execution of its own, the superseded attempts' criteria so marked.
func (e *engine) runStep(s *protocols.Step, path, suffix string) error {
	for attempt := 1; ; attempt++ {
		title := s.Title() + suffix
		if s.Retry > 0 {
			title += fmt.Sprintf(" (attempt %d/%d)", attempt, s.Retry+1)
		}
		failed, judged := e.failed, len(e.criteria)
		sr, outcome, err := e.attempt(s, path, title)
		if outcome == string(runlog.OutcomeFail) && err == nil && attempt <= s.Retry {
			e.failed = failed
			e.supersede(judged)
			e.endStep(sr, string(runlog.OutcomeRetried), attempt)
			e.progress("step %s: criteria failed, attempt %d of %d", path, attempt+1, s.Retry+1)
			continue
		}
		if s.Retry == 0 {
			attempt = 0
		}
		e.endStep(sr, outcome, attempt)
		return err
	}
}

// supersede marks the criteria judged since the first judged of an
// attempt that runs again: they neither pass nor fail the run. Their
// events keep what was judged; the step's end event says "retried", from
// which verdict.Recompute supersedes them the same way.
func (e *engine) supersede(first int) {
	for i := first; i < len(e.criteria); i++ {
		e.criteria[i] = verdict.Supersede(e.criteria[i])
	}
}

// attempt runs one execution of step s and judges its criteria; the
// caller ends it with the outcome.
func (e *engine) attempt(s *protocols.Step, path, title string) (*stepRun, string, error) {
	sr := e.beginStep(s, path, title)
	e.active = append(e.active, sr)
	err := e.stepBody(s, path)
	e.active = e.active[:len(e.active)-1]
	if n := len(e.active); n > 0 {
		for j := range sr.stats {
			e.active[n-1].stats[j].Merge(&sr.stats[j])
		}
	}
	outcome := "pass"
	var a *AbortError
	switch {
	case errors.As(err, &a):
		outcome = "aborted"
	case errors.Is(err, errTimeout):
		outcome, err = "timeout", nil
	case err != nil:
		outcome = "aborted"
	}
	if err == nil {
		if cerr := e.judge(sr); cerr != nil {
			err, outcome = cerr, "aborted"
		} else if sr.anyFail {
			outcome = "fail"
		}
	}
	return sr, outcome, err
}

var errTimeout = errors.New("until timed out")

func (e *engine) beginStep(s *protocols.Step, path, title string) *stepRun {
	sr := &stepRun{step: s, path: path, title: title, start: e.next, stats: make([]daq.Summary, len(e.layout))}
	for i, c := range append(slices.Clip(s.Criteria), s.Refs...) {
		ref := i >= len(s.Criteria)
		if !ref && c.When != nil && !e.whenHolds(c.When) {
			continue
		}
		col := e.layout.Index(c.Measure.Channel)
		cr := &critRun{c: c, ref: ref, col: col, dim: e.layout[col].Dim, acc: verdict.NewAcc(c, e.rate)}
		sr.crit = append(sr.crit, cr)
	}
	if len(e.active) == 0 {
		e.prog.stepStarted(path, e.proto.StepCount(), title, e.next-e.started)
	}
	e.event(runlog.Event{Kind: runlog.KindStepStart, Step: path, Msg: title})
	return sr
}

func (e *engine) endStep(sr *stepRun, outcome string, attempt int) {
	var refs map[string]float64
	for _, cr := range sr.crit {
		if r, ok := e.refs[cr.c]; ok && cr.ref && r.path == sr.path {
			if refs == nil {
				refs = map[string]float64{}
			}
			refs[refKey(cr.c)] = r.v
		}
	}
	res := runlog.StepResult{Index: len(e.steps), Path: sr.path, Name: sr.title,
		StartS: sr.start.Seconds(), EndS: e.next.Seconds(), Frames: sr.frames, Outcome: runlog.Outcome(outcome), Attempt: attempt,
		Channels: make(map[string]runlog.ChannelStats, len(e.layout))}
	for j, ch := range e.layout {
		st := &sr.stats[j]
		res.Channels[ch.Name] = runlog.ChannelStats{Unit: ch.Dim.Unit(), N: st.N, Mean: st.Mean(), Min: st.Min, Max: st.Max, Std: st.Std()}
	}
	e.steps = append(e.steps, res)
	e.out.step(res)
	e.plant.SummariseDUT(sr.path, e.next, false)
	e.plantEvents()
	// The whole result rides in the event, so a resumed run recovers it.
	e.event(runlog.NewEvent(runlog.KindStepEnd, sr.path, outcome, runlog.StepEndData{Frames: sr.frames, Result: &res, References: refs}))
}

// finite maps NaN and ±Inf to nil: JSON has no NaN, and a missing value
// must read as missing, not as zero.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// add accounts a frame. Only the innermost running step keeps channel
// statistics frame by frame; an enclosing step receives its children's when
// they end (mergeInto), which is exact and halves the work of nested steps.
func (sr *stepRun) add(t time.Duration, frame []float64, innermost bool) {
	sr.frames++
	if innermost {
		for j := range sr.stats {
			sr.stats[j].Add(frame[j])
		}
	}
	for _, c := range sr.crit {
		c.acc.Frame(t, frame[c.col])
	}
}

func (e *engine) stepBody(s *protocols.Step, path string) error {
	for _, sp := range s.Set {
		if err := e.set(sp, path); err != nil {
			return err
		}
	}
	if len(s.Ramp) > 0 {
		if err := e.ramp(s.Ramp, path); err != nil {
			return err
		}
	}
	if s.Prompt != nil {
		if err := e.ask(s.Prompt, path); err != nil {
			return err
		}
	}
	switch {
	case s.Hold > 0:
		return e.hold(s.Hold, path)
	case s.Until != nil:
		return e.until(s.Until, path)
	case s.Sweep != nil:
		for i, set := range s.Sweep.Iterations() {
			for _, sp := range set {
				if err := e.set(sp, path); err != nil {
					return err
				}
			}
			if err := e.runSteps(s.Steps, fmt.Sprintf("%s[%d].", path, i+1), " ["+s.Sweep.Label(set)+"]"); err != nil {
				return err
			}
		}
	case s.Repeat != nil:
		start := e.next
		for i := 0; ; i++ {
			if s.Repeat.Count > 0 && i >= s.Repeat.Count || s.Repeat.For > 0 && e.next-start >= s.Repeat.For {
				break
			}
			if err := e.runSteps(s.Steps, fmt.Sprintf("%s[%d].", path, i+1), fmt.Sprintf(" [#%d]", i+1)); err != nil {
				return err
			}
		}
	case len(s.Steps) > 0:
		return e.runSteps(s.Steps, path+".", "")
	}
	return nil
}

// hold stays in the step for d of its own time: a pause requested meanwhile
// takes effect at once, and the hold's remaining time waits for it.
func (e *engine) hold(d time.Duration, path string) error {
	end := e.next + d
	for e.next+e.period <= end {
		if e.pause.Requested() {
			paused, err := e.pauseAt(0, path)
			if err != nil {
				return err
			}
			end += paused
		}
		if _, err := e.advance(end); err != nil {
			return err
		}
	}
	return nil
}

// set applies a setpoint to the plant and remembers it for when and ramps.
func (e *engine) set(sp protocols.Setpoint, path string) error {
	if sp.Param == "loop.preset" {
		preset := e.cfg.Presets[sp.Value.Word]
		e.event(runlog.Event{Kind: runlog.KindSetpoint, Step: path, Msg: "loop.preset = " + sp.Value.Word})
		e.params[sp.Param] = sp.Value
		for _, p := range preset {
			if err := e.set(p, path); err != nil {
				return err
			}
		}
		return nil
	}
	err := e.applyParam(sp.Param, sp.Value)
	e.plantEvents()
	if err != nil {
		var a *AbortError
		if errors.As(err, &a) {
			return a
		}
		return abortf("setting %s to %s failed: %v", sp.Param, sp.Value, err)
	}
	e.params[sp.Param] = sp.Value
	e.event(runlog.NewEvent(runlog.KindSetpoint, path, sp.Param+" = "+sp.Value.String(), runlog.SetpointData{Param: sp.Param, Value: recordedValue(sp.Value)}))
	return nil
}

// recordedValue is a setpoint's value as its event records it: "off" and
// words as text, numbers in the parameter's canonical unit.
func recordedValue(v protocols.Value) runlog.SetpointValue {
	if v.Off || v.Word != "" {
		return runlog.SetpointValue{Word: v.String()}
	}
	return runlog.SetpointValue{Num: v.Num}
}

// ramp moves parameters linearly from their current values, applying the
// interpolated value on every frame.
func (e *engine) ramp(ramps []protocols.Ramp, path string) error {
	from := make([]float64, len(ramps))
	over := time.Duration(0)
	for i, r := range ramps {
		cur, ok := e.params[r.Param]
		if !ok || cur.Off || cur.Word != "" {
			return abortf("cannot ramp %s: it has no numeric value to start from (set it first)", r.Param)
		}
		from[i] = cur.Num
		over = max(over, r.Over)
		e.event(runlog.Event{Kind: runlog.KindRamp, Step: path, Msg: fmt.Sprintf("%s from %s to %s over %s", r.Param, units.Format(cur.Num, cur.Dim), r.To, units.FormatDuration(r.Over))})
	}
	start := e.next
	end := start + over
	for e.next+e.period <= end {
		elapsed := e.next + e.period - start
		for i, r := range ramps {
			f := min(1, elapsed.Seconds()/r.Over.Seconds())
			v := protocols.Value{Num: from[i] + (r.To.Num-from[i])*f, Dim: r.To.Dim}
			if err := e.applyParam(r.Param, v); err != nil {
				var a *AbortError
				if errors.As(err, &a) {
					return a
				}
				return abortf("ramping %s failed: %v", r.Param, err)
			}
			e.params[r.Param] = v
		}
		if _, err := e.advance(end); err != nil {
			return err
		}
	}
	for _, r := range ramps { // land exactly on the target
		if err := e.set(protocols.Setpoint{Param: r.Param, Value: r.To}, path); err != nil {
			return err
		}
	}
	return nil
}

// until holds the step until its condition holds on a frame, or times out.
// Each measure of the condition is kept up to date on every frame
// (condTerm); the condition is judged once all of them have a value.
func (e *engine) until(u *protocols.Until, path string) error {
	leaves := u.Cond.Leaves()
	terms := make(map[*protocols.Condition]*condTerm, len(leaves))
	for _, l := range leaves {
		t := e.newCondTerm(l.Measure)
		terms[l] = t
		if t.beats != nil {
			// the step's own criterion list carries the beats to the condition
			sr := e.active[len(e.active)-1]
			sr.crit = append(sr.crit, t.beats)
			defer func() { sr.crit = slices.DeleteFunc(sr.crit, func(c *critRun) bool { return c == t.beats }) }()
		}
	}
	start := e.next
	end := start + u.Timeout
	for e.next < end {
		taken, err := e.advance(end)
		if err != nil {
			return err
		}
		if !taken {
			continue // a bad frame or a gap: no value to judge, none invented
		}
		ready := true
		for _, l := range leaves {
			ready = terms[l].update(e.scratch, e.next, start) && ready // scratch holds the frame just taken
		}
		if ready && u.Cond.Eval(func(l *protocols.Condition) bool { return l.Holds(terms[l].v) }) {
			d := runlog.UntilMetData{AfterS: (e.next - start).Seconds(), Value: runlog.Reading(terms[leaves[0]].v)}
			for i := 0; len(leaves) > 1 && i < len(leaves); i++ {
				d.Values = append(d.Values, runlog.Reading(terms[leaves[i]].v))
			}
			e.event(runlog.NewEvent(runlog.KindUntilMet, path, u.Cond.Text, d))
			return nil
		}
	}
	reason := fmt.Sprintf("%s not met within %s", u.Cond.Text, units.FormatDuration(u.Timeout))
	e.event(runlog.Event{Kind: runlog.KindUntilTimeout, Step: path, Msg: reason})
	switch u.OnTimeout {
	case protocols.Abort:
		return abortf("step %s: %s", path, reason)
	case protocols.Continue:
		return nil
	}
	e.failed = true
	e.addCriterion(runlog.CriterionResult{Step: path, StepName: e.active[len(e.active)-1].title,
		Measure: u.Cond.Text, Limits: "met within " + units.FormatDuration(u.Timeout), Verdict: runlog.VerdictFail, OnFail: "fail", Reason: "timed out"}, reason)
	return errTimeout
}

// condTerm is one measure of an until condition, updated frame by frame:
// a frame aggregate rolling over its window (or the step so far), a
// flag's count or fraction likewise, or a beat aggregate's statistic over
// the beats that ended in the window.
type condTerm struct {
	m     protocols.Measure
	col   int
	roll  *daq.Rolling
	whole daq.Stats
	beats *critRun
	prev  float64 // the flag's previous value (count over a window; NaN before the first)
	v     float64 // the latest value
}

func (e *engine) newCondTerm(m protocols.Measure) *condTerm {
	t := &condTerm{m: m, col: e.layout.Index(m.Channel), prev: math.NaN()} // a flag set at the start is no rise, as in daq.Stats
	switch {
	case m.IsBeat():
		c := &protocols.Criterion{Measure: m}
		t.beats = &critRun{c: c, col: t.col, dim: e.layout[t.col].Dim, acc: verdict.Acc{C: c}}
	case m.Window > 0:
		t.roll = daq.NewRolling(m.Window, e.rate)
	}
	return t
}

// update takes the frame at t (the step started at start) and reports
// whether the term has a value: a window waits until it is full.
func (t *condTerm) update(frame []float64, now, start time.Duration) bool {
	v := frame[t.col]
	switch {
	case t.beats != nil:
		var n int64
		t.v, n = verdict.BeatStat(t.beats.acc.Beats, now, t.m.Window, t.m.Stat)
		return n > 0 && now-start >= t.m.Window
	case t.roll != nil:
		x := v
		switch t.m.Agg {
		case "count": // a rising edge, as daq.Stats counts them
			x = 0
			if v != 0 && t.prev == 0 {
				x = 1
			}
			t.prev = v
		case "fraction":
			x = 0
			if v != 0 {
				x = 100
			}
		}
		t.roll.Add(now, x)
		if !t.roll.Full() {
			return false
		}
		switch t.m.Agg {
		case "count":
			t.v = math.Round(t.roll.Sum())
		case "fraction":
			t.v, _ = t.roll.Aggregate("mean")
		default:
			t.v, _ = t.roll.Aggregate(t.m.Agg)
		}
		return true
	}
	t.whole.Add(now, v)
	t.v, _ = t.whole.Aggregate(t.m.Agg)
	return true
}

func (e *engine) whenHolds(w *protocols.Condition) bool {
	return w.Eval(func(leaf *protocols.Condition) bool {
		cur, ok := e.params[leaf.Param]
		return leaf.HoldsValue(cur, ok)
	})
}

// judge evaluates the criteria of a finished step (verdict.Judge); a
// failure fails the step and the run, or aborts it.
func (e *engine) judge(sr *stepRun) error {
	var abort error
	for _, cr := range sr.crit {
		c := cr.c
		v, n := cr.acc.Measured(e.next)
		if cr.ref {
			if e.refs == nil {
				e.refs = map[*protocols.Criterion]refValue{}
			}
			e.refs[c] = refValue{v, sr.path}
			continue
		}
		r, ok := e.refs[c]
		res := verdict.Judge(c, sr.path, sr.title, cr.dim, v, n, verdict.Ref{V: r.v, Path: r.path, OK: ok})
		if verdict.Fails(c, res) {
			sr.anyFail, e.failed = true, true
			if c.OnFail == protocols.Abort && abort == nil {
				abort = abortf("criterion %s failed in step %s: %s", c.Label(), sr.path, verdict.Text(res))
			}
		}
		e.addCriterion(res, c.Label()+": "+verdict.Text(res))
	}
	return abort
}

// addCriterion records a judged criterion, with the whole result in its
// event so that a resumed run recovers it.
func (e *engine) addCriterion(res runlog.CriterionResult, msg string) {
	e.criteria = append(e.criteria, res)
	e.event(runlog.NewEvent(runlog.KindCriterion, res.Step, msg, runlog.CriterionData{Result: &res, Verdict: res.Verdict}))
}

// invariantResults turns the always-invariants into criterion results.
func (e *engine) invariantResults() {
	for _, inv := range e.always {
		res := inv.Result()
		if res.Verdict == runlog.VerdictFail {
			e.failed = true
		}
		e.addCriterion(res, inv.C.Label()+": "+verdict.Text(res))
	}
}

func (e *engine) event(ev runlog.Event) {
	ev.T = max(e.next.Seconds(), e.lateT)
	e.out.event(ev)
}

func (e *engine) progress(format string, args ...any) { e.prog.line(format, args...) }

// limitsFor merges the rig's hard limits with the protocol's tightening.
func limitsFor(cfg *Config, p *protocols.Protocol, layout daq.Layout) []limitCheck {
	var out []limitCheck
	for j, ch := range layout {
		r, ok := cfg.Limits[ch.Name]
		lo, hi := math.Inf(-1), math.Inf(1)
		if ok {
			if r.Min != nil {
				lo = *r.Min
			}
			if r.Max != nil {
				hi = *r.Max
			}
		}
		for _, l := range p.Limits {
			if l.Channel != ch.Name {
				continue
			}
			ok = true
			if l.Min != nil {
				lo = max(lo, *l.Min)
			}
			if l.Max != nil {
				hi = min(hi, *l.Max)
			}
		}
		if ok {
			out = append(out, limitCheck{col: j, name: ch.Name, dim: ch.Dim, lo: lo, hi: hi, debounce: cfg.Debounce})
		}
	}
	return out
}
