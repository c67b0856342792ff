package pumpctl

import (
	"math"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/units"
)

// Gains are a closed-loop target's PID gains and output rate limit. They
// suit the loop the rig is: the rig config's `control:` section tunes them
// per target, its defaults being those tuned on the simulated bench.
type Gains struct {
	Kp, Ki, Kd float64 // output per unit error, per unit error·s, per unit error/s
	Rate       float64 // largest output change per second (0: none)
}

// PID is a controller with these gains and output limits [lo, hi].
func (g Gains) PID(lo, hi float64) PID {
	return PID{Kp: g.Kp, Ki: g.Ki, Kd: g.Kd, Min: lo, Max: hi, Rate: g.Rate}
}

// Target is a closed-loop hemodynamic target: a PID controller updated on
// every beat, from the beat's value of a measure, driving an open-loop
// parameter. Beat-to-beat control is how mock loops hold MAP or cardiac
// output: a beat's mean is free of the pulsatile ripple a per-sample
// controller would chase.
type Target struct {
	Param    string          // the target parameter, e.g. loop.target.map
	Drives   string          // the parameter it drives, e.g. loop.resistance
	Dim      units.Dimension // of what it drives
	PID      PID
	Setpoint float64
	On       bool
	Measure  func(b daq.Beat) float64
	// From gives the output control starts from, bumpless: nil for the
	// driven parameter's value in force.
	From func() (float64, bool)
}

// MAPTarget holds the mean arterial pressure of each beat (the beat's mean
// on the timing channel) with the parameter drives, a resistance.
func MAPTarget(param, drives string, g Gains, lo, hi float64) *Target {
	return &Target{Param: param, Drives: drives, Dim: units.Resistance, PID: g.PID(lo, hi),
		Measure: func(b daq.Beat) float64 { return b.Mean }}
}

// COTarget holds the cardiac output of each beat (stroke volume times
// heart rate, L/min) with the parameter drives, the LV drive's elastance.
func COTarget(param, drives string, g Gains, lo, hi float64) *Target {
	return &Target{Param: param, Drives: drives, Dim: units.Elastance, PID: g.PID(lo, hi),
		Measure: func(b daq.Beat) float64 { return b.StrokeVolume * b.HeartRate / 1000 }}
}

// PreloadTarget holds the mean left-atrial pressure of each beat with the
// preload valve (the parameter drives), which sets the head of the venous
// reservoir the atrium is filled from and drains into. The head is where
// the atrium's mean pressure settles, so the valve is a well-behaved
// actuator: the output is in mmHg, and a change of head shows in the
// atrium with the time constant of the reservoir's line and the loop's
// compliance behind the atrium, about 6 s on the simulated bench (0.2
// mmHg·s/ml × ~30 ml/mmHg). The default gains put the controller's zero
// near that pole (Ki/Kp = 1/5 s), which leaves a closed loop of about
// first order: it settles in some ten seconds without overshoot, which a
// bench wants more than speed. The output stays within 0 and the valve's
// head (the integral stops at either while the error pushes further: no
// windup), and the rate limit, 2 mmHg/s, keeps a large setpoint step from
// slamming the reservoir's head.
// Control starts with the head at the atrium's mean pressure of the last
// second, so opening the shut line moves nothing (bumpless). lap is the
// atrial pressure, frame by frame.
func PreloadTarget(param, drives string, g Gains, head float64, lap *BeatRing) *Target {
	t := &Target{Param: param, Drives: drives, Dim: units.Pressure, PID: g.PID(0, head),
		Measure: func(b daq.Beat) float64 { return lap.Mean(b.Start, b.End) }}
	t.From = func() (float64, bool) {
		// About a beat of the atrial pressure; before any frame (a
		// protocol's first setpoint), the target itself.
		if v := lap.Recent(time.Second); !math.IsNaN(v) {
			return v, true
		}
		return t.Setpoint, true
	}
	return t
}

// Targets are a rig's closed-loop targets, and the channels they measure
// frame by frame (the left-atrial pressure of the last beats, for
// loop.preload).
type Targets struct {
	List  []*Target
	Rings []*BeatRing
}

// Frame takes every frame, before the beat it ends (if it ends one) is
// handed to the targets.
func (ts *Targets) Frame(t time.Duration, frame []float64) {
	for _, r := range ts.Rings {
		r.add(t, frame[r.col])
	}
}

// Find returns the target of param, or nil.
func (ts *Targets) Find(param string) *Target {
	for _, t := range ts.List {
		if t.Param == param {
			return t
		}
	}
	return nil
}

// Controlling returns the target that drives param, if it is on.
func (ts *Targets) Controlling(param string) *Target {
	for _, t := range ts.List {
		if t.On && t.Drives == param {
			return t
		}
	}
	return nil
}

// BeatRing keeps a channel's frames long enough to average any beat the
// detector reports (down to 30 bpm, with room to spare).
type BeatRing struct {
	col  int
	t    []time.Duration
	v    []float64
	next int // where the next frame goes
	n    int
}

const ringSpan = 4 * time.Second

// NewBeatRing keeps column col of frames at rate Hz.
func NewBeatRing(col int, rate float64) *BeatRing {
	n := int(math.Ceil(ringSpan.Seconds() * rate))
	return &BeatRing{col: col, t: make([]time.Duration, n), v: make([]float64, n)}
}

func (r *BeatRing) add(t time.Duration, v float64) {
	r.t[r.next], r.v[r.next] = t, v
	if r.next++; r.next == len(r.t) {
		r.next = 0
	}
	r.n = min(r.n+1, len(r.t))
}

// Mean is the mean of the frames from start up to (not including) end, the
// span of a beat, or NaN if there are none.
func (r *BeatRing) Mean(start, end time.Duration) float64 {
	sum, n := 0.0, 0
	for k, i := 0, r.next; k < r.n; k++ {
		if i--; i < 0 {
			i = len(r.t) - 1
		}
		if r.t[i] < start {
			break
		}
		if r.t[i] < end && !math.IsNaN(r.v[i]) {
			sum += r.v[i]
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Recent is the mean of the frames of the last span, NaN if there are none.
func (r *BeatRing) Recent(span time.Duration) float64 {
	if r.n == 0 {
		return math.NaN()
	}
	i := r.next - 1
	if i < 0 {
		i = len(r.t) - 1
	}
	return r.Mean(r.t[i]-span, r.t[i]+1)
}
