package daq

import (
	"math"
	"time"
)

// The phases of a beat: its end of diastole, its end of ejection and its
// steepest rise and fall, found on the beat's timing pressure and read on
// a value channel (the pressure itself, or another channel such as an LV
// volume timed by it).
//
// Derivatives are least-squares slopes over slopeSpan (20 ms) centred on
// each sample. A two-point difference at 1 kHz turns 0.2 mmHg of sensor
// noise into ±280 mmHg/s, a quarter of a normal heart's dP/dt max; the
// least-squares slope over 21 samples has a noise of σ·√(12/(n(n²−1)))/Δt,
// 7 mmHg/s for the same sensor, and where dP/dt peaks the curve is nearly
// straight (its curvature is zero at the peak), so the window costs the
// peak under 1 % on Simaan's ventricle (daq/phases_test.go, rig's
// TestBeatPhasesMatchTheModel).
const (
	slopeSpan = 20 * time.Millisecond
	// edFraction: end-diastole is the foot of the upstroke, the last
	// instant before dP/dt max where dP/dt is at most this share of it
	// (the threshold of conductance-catheter analysis; on Simaan's
	// ventricle it falls within 1 ms of mitral valve closure).
	edFraction = 0.1
	// preBeat is how far before the detected onset (which fires at half
	// the steepest slope, already on the upstroke) its foot is looked for.
	preBeat = 150 * time.Millisecond
	// longestBeat is the longest beat whose phases are found (24 bpm); a
	// longer one has them NaN.
	longestBeat = 2500 * time.Millisecond
)

// Phases are the values of one beat on its value channel.
type Phases struct {
	// EndDiastolic is the value at the end of diastole (the onset of
	// isovolumic contraction), EndSystolic at the end of ejection.
	EndDiastolic, EndSystolic float64
	// DpDtMax and DpDtMin are the steepest rise and fall of the value
	// channel over the beat, in its unit per second.
	DpDtMax, DpDtMin float64
}

// noPhases is a beat whose phases could not be found.
var noPhases = Phases{math.NaN(), math.NaN(), math.NaN(), math.NaN()}

// phaseTracker keeps the recent samples of a timing pressure p and a value
// channel x with their least-squares slopes, in rings indexed by sample
// sequence number, and finds the phases of a beat once it has ended. It
// allocates only when made.
type phaseTracker struct {
	t            []time.Duration
	p, x, sp, sx []float64 // samples and their slopes (NaN until known)
	seq          int64     // samples added
	half         int       // half the slope window, samples
}

func newPhaseTracker(rate float64) phaseTracker {
	n := int(math.Ceil((longestBeat+preBeat).Seconds()*rate)) + 2
	return phaseTracker{t: make([]time.Duration, n), p: make([]float64, n), x: make([]float64, n),
		sp: make([]float64, n), sx: make([]float64, n), half: max(1, int(math.Round(slopeSpan.Seconds()*rate/2)))}
}

func (r *phaseTracker) at(seq int64) int { return int(seq % int64(len(r.t))) }

// add stores a sample and the slopes of the sample half a window back,
// which now has its whole window. It returns the sample's sequence number.
func (r *phaseTracker) add(t time.Duration, p, x float64) int64 {
	s := r.seq
	i := r.at(s)
	r.t[i], r.p[i], r.x[i], r.sp[i], r.sx[i] = t, p, x, math.NaN(), math.NaN()
	r.seq++
	if c := s - int64(r.half); c-int64(r.half) >= 0 {
		r.sp[r.at(c)], r.sx[r.at(c)] = r.slopes(c)
	}
	return s
}

// slopes are the least-squares slopes of p and x over the window centred
// on sample c, per second, in one pass: times are taken from the centre's,
// so they stay within the window's ±10 ms and the sums do not cancel.
func (r *phaseTracker) slopes(c int64) (dp, dx float64) {
	var st, stt, sp, stp, sx, stx float64
	t0 := r.t[r.at(c)]
	// The window's ring index steps on with a wrap, not a division per
	// sample (this runs for every sample, twice a channel pair).
	i := r.at(c - int64(r.half))
	for range 2*r.half + 1 {
		// Duration.Seconds to the bit below 1 s (the window is 20 ms),
		// within an ulp above.
		dt := float64(r.t[i]-t0) / 1e9
		st, stt = st+dt, stt+dt*dt
		sp, stp, sx, stx = sp+r.p[i], stp+dt*r.p[i], sx+r.x[i], stx+dt*r.x[i]
		if i++; i == len(r.t) {
			i = 0
		}
	}
	n := float64(2*r.half + 1)
	den := n*stt - st*st
	if den == 0 {
		return math.NaN(), math.NaN()
	}
	return (n*stp - st*sp) / den, (n*stx - st*sx) / den
}

// reset forgets the samples (a gap in acquisition).
func (r *phaseTracker) reset() { r.seq = 0 }

// phases finds the phases of the beat of samples [start, end): its dP/dt
// max and min on the timing pressure, the foot of its upstroke (end of
// diastole) and the end of ejection, and reads the value channel there.
//
// The end of ejection is the knee of the pressure's fall: between the
// systolic peak and dP/dt min, the first instant where the pressure falls
// as steeply as the chord joining the two. While the valve is open the
// ventricle's pressure follows the artery's slow fall; once it closes the
// pressure drops at once, so the knee is the closure (within 3 ms and
// 1.5 mmHg on Simaan's ventricle, normal and failing); volume is constant
// from there until the next filling, so the volume read there is the
// end-systolic volume.
func (r *phaseTracker) phases(start, end int64) Phases {
	last := end - int64(r.half) // the last sample with its slopes
	if start < int64(r.half) || last <= start || r.seq-start > int64(len(r.t)) {
		return noPhases
	}
	first := start - r.samplesBefore(start)
	iMax := start
	ph := Phases{DpDtMax: math.Inf(-1), DpDtMin: math.Inf(1)}
	for k := start; k <= last; k++ {
		i := r.at(k)
		if r.sp[i] > r.sp[r.at(iMax)] {
			iMax = k
		}
		if !math.IsNaN(r.sx[i]) {
			ph.DpDtMax, ph.DpDtMin = max(ph.DpDtMax, r.sx[i]), min(ph.DpDtMin, r.sx[i])
		}
	}
	iMin := iMax
	for k := iMax; k <= last; k++ {
		if r.sp[r.at(k)] < r.sp[r.at(iMin)] {
			iMin = k
		}
	}
	thr := edFraction * r.sp[r.at(iMax)]
	ed := iMax
	for ed > first && r.sp[r.at(ed)] > thr {
		ed--
	}
	ph.EndDiastolic, ph.EndSystolic = r.x[r.at(ed)], r.x[r.at(r.knee(iMax, iMin))]
	return ph
}

// samplesBefore is how many samples of preBeat lie before sample start.
func (r *phaseTracker) samplesBefore(start int64) int64 {
	k := start
	t0 := r.t[r.at(start)]
	for k > int64(r.half) && r.seq-(k-1) <= int64(len(r.t)) && t0-r.t[r.at(k-1)] <= preBeat {
		k--
	}
	return start - k
}

// knee is the end of ejection between dP/dt max and dP/dt min (see phases).
func (r *phaseTracker) knee(iMax, iMin int64) int64 {
	pk := iMax
	for k := iMax; k <= iMin; k++ {
		if r.p[r.at(k)] > r.p[r.at(pk)] {
			pk = k
		}
	}
	dt := (r.t[r.at(iMin)] - r.t[r.at(pk)]).Seconds()
	if dt <= 0 {
		return iMin
	}
	chord := (r.p[r.at(iMin)] - r.p[r.at(pk)]) / dt
	for k := pk; k < iMin; k++ {
		if r.sp[r.at(k)] <= chord {
			return k
		}
	}
	return iMin
}
