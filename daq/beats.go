package daq

import (
	"math"
	"time"
)

// Beat is one cardiac cycle on a pressure channel, from one systolic
// upstroke to the next. Because a beat spans exactly one cycle, its maximum
// is the systolic and its minimum the diastolic pressure, and its time
// average the mean pressure, wherever in the cycle the upstroke is taken.
type Beat struct {
	Channel       string
	Start, End    time.Duration
	Systolic      float64 // mmHg
	Diastolic     float64 // mmHg
	Mean          float64 // mmHg, time average over the beat
	PulsePressure float64 // mmHg
	HeartRate     float64 // bpm, from the beat's duration
	// StrokeVolume is the flow channel integrated over the beat, ml (NaN
	// without a flow channel).
	StrokeVolume float64
	// Phases are the beat's values at its end of diastole and end of
	// ejection and its steepest rise and fall, on the detector's value
	// channel (the pressure itself unless AddValue names another); NaN
	// where they could not be found.
	Phases
}

// Value returns the beat aggregate of the protocol language by name
// (systolic, diastolic, map, pulse_pressure, heart_rate, stroke_volume,
// end_diastolic, end_systolic, dp_dt_max, dp_dt_min).
func (b *Beat) Value(agg string) (float64, bool) {
	switch agg {
	case "systolic":
		return b.Systolic, true
	case "diastolic":
		return b.Diastolic, true
	case "map":
		return b.Mean, true
	case "pulse_pressure":
		return b.PulsePressure, true
	case "heart_rate":
		return b.HeartRate, true
	case "stroke_volume":
		return b.StrokeVolume, true
	case "end_diastolic":
		return b.EndDiastolic, true
	case "end_systolic":
		return b.EndSystolic, true
	case "dp_dt_max":
		return b.DpDtMax, true
	case "dp_dt_min":
		return b.DpDtMin, true
	}
	return math.NaN(), false
}

// BeatDetector finds beats in a pressure stream, sample by sample, without
// allocating. A beat starts where the pressure rises faster than an adaptive
// threshold — half the steepest recent upstroke, at least MinSlope — measured
// over 10 ms so that sensor noise does not trigger it; the detector re-arms
// only once the slope has fallen below a quarter of the threshold, and a
// refractory period bounds the rate at 240 bpm. A beat whose pulse pressure
// is below MinPulse is not reported.
//
// A beat in progress longer than maxBeat is given up, unreported, and the
// detector starts afresh: a pressure whose level jumps within a beat (the
// afterload doubled, a preset changed) leaves that beat's minimum below
// every later upstroke, which would then never count as one, and the beat
// would run on until the pressure fell back (measured on the demo: no aortic
// beat for 31 s after a step, then refractory periods of half that, halving,
// for 30 s more).
type BeatDetector struct {
	Channel  string
	MinSlope float64 // mmHg/s; a floor under the adaptive threshold
	// MinPulse is the smallest pulse pressure of a beat; a "beat" with
	// less is sensor noise on a flat pressure (a stopped heart), not a beat.
	// 3 mmHg: five times the range a 0.2 mmHg transducer's noise covers in
	// a beat (about ±3σ), and below the 4.3 mmHg aortic pulse of a patient
	// in shock on partial support (sim.yaml's cardiogenic_shock at P2),
	// which 5 mmHg counted only when the noise added to it (a noise-free
	// model's pressure, a hybrid rig's aop, was then beatless).
	MinPulse float64

	lag        []float64 // the last 10 ms of pressure, for the slope
	lagT       []time.Duration
	head, n    int
	maxSlope   float64
	decay      float64
	armed      bool
	started    bool
	start      time.Duration
	last       time.Duration
	sum, flow  float64 // Σ pressure and ∫ flow dt over the beat so far
	count      int
	lo, hi     float64
	refractory time.Duration
	hasFlow    bool
	prevPeriod time.Duration // the last beat's, for the refractory period
	ph         phaseTracker
	startSeq   int64 // the phase tracker's sample at the beat's start
}

// maxBeat is the longest beat: 20 bpm, below every rig's lowest heart rate
// (30 bpm in configs/rigs).
const maxBeat = 3 * time.Second

// NewBeatDetector returns a detector for a stream at rate samples per second.
func NewBeatDetector(channel string, rate float64) *BeatDetector {
	n := max(2, int(math.Round(0.010*rate))+1)
	return &BeatDetector{Channel: channel, MinSlope: 100, MinPulse: 3, lag: make([]float64, n), lagT: make([]time.Duration, n),
		decay: math.Pow(0.5, 1/(5*rate)), refractory: 250 * time.Millisecond, lo: math.Inf(1), hi: math.Inf(-1),
		ph: newPhaseTracker(rate)}
}

// Add takes the pressure p (and the flow q in L/min, NaN for none) at t, and
// returns the beat that ended at t, if one did.
func (d *BeatDetector) Add(t time.Duration, p, q float64) (Beat, bool) {
	return d.AddValue(t, p, q, p)
}

// AddValue is Add with a value channel x other than the pressure: the
// beat's Phases are x's, at the instants the pressure times (an LV volume
// timed by the LV pressure: its end-diastolic and end-systolic volumes).
func (d *BeatDetector) AddValue(t time.Duration, p, q, x float64) (Beat, bool) {
	if math.IsNaN(p) {
		return Beat{}, false
	}
	seq := d.ph.add(t, p, x)
	// slope over the lag window
	slope := 0.0
	if d.n == len(d.lag) {
		old, oldT := d.lag[d.head], d.lagT[d.head]
		if dt := (t - oldT).Seconds(); dt > 0 {
			slope = (p - old) / dt
		}
	}
	d.lag[d.head], d.lagT[d.head] = p, t
	d.head = ringNext(d.head, len(d.lag))
	d.n = min(d.n+1, len(d.lag))
	d.maxSlope = max(d.maxSlope*d.decay, slope)
	thr := max(d.MinSlope, d.maxSlope/2)

	var beat Beat
	done := false
	// An onset must be steep, come after the refractory period (at least
	// half the last beat, so a beat is never split in two), and start from
	// the lower half of the range the beat in progress has covered: a true
	// upstroke rises from end-diastolic pressure, near the beat's minimum, a
	// secondary wave (the aortic resonance, a dicrotic notch) from higher up.
	if d.started && t-d.start > maxBeat {
		d.started, d.prevPeriod = false, 0 // given up: see maxBeat
	}
	refr := max(d.refractory, d.prevPeriod/2)
	low := !d.started || d.hi-d.lo < d.MinPulse || p < d.lo+(d.hi-d.lo)/2
	if d.armed && slope > thr && t-d.start >= refr && low {
		if d.started && t > d.start {
			dur := (t - d.start).Seconds()
			beat = Beat{Channel: d.Channel, Start: d.start, End: t, Systolic: d.hi, Diastolic: d.lo,
				Mean: d.sum / float64(d.count), PulsePressure: d.hi - d.lo, HeartRate: 60 / dur, StrokeVolume: math.NaN(),
				Phases: d.ph.phases(d.startSeq, seq)}
			if d.hasFlow {
				beat.StrokeVolume = d.flow * 1000 / 60 // L/min·s → ml
			}
			done = beat.PulsePressure >= d.MinPulse
			d.prevPeriod = t - d.start
		}
		d.started, d.start, d.startSeq, d.armed = true, t, seq, false
		d.sum, d.count, d.flow, d.lo, d.hi, d.hasFlow = 0, 0, 0, math.Inf(1), math.Inf(-1), false
	} else if !d.armed && slope < thr/4 {
		d.armed = true
	}
	if d.started {
		d.sum += p
		d.count++
		if !math.IsNaN(q) && d.last > 0 && t > d.last {
			d.flow += q * (t - d.last).Seconds()
			d.hasFlow = true
		}
		d.lo, d.hi = min(d.lo, p), max(d.hi, p)
	}
	d.last = t
	return beat, done
}

// Reset forgets the stream (e.g. after a gap in acquisition).
func (d *BeatDetector) Reset() {
	d.head, d.n, d.armed, d.started, d.maxSlope = 0, 0, false, false, 0
	d.prevPeriod = 0
	d.ph.reset()
}
