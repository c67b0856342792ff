package pumpctl

import (
	"fmt"
	"math"
	"time"
)

// Limits of the cardiac waveform's setpoints.
const (
	// MaxHeartRate is the highest heart rate in bpm. Above about 255 bpm
	// Simaan's automatic Tmax = 0.2 + 0.15·tc is longer than the cycle
	// itself, so the ventricle would never relax.
	MaxHeartRate = 250.0

	// MaxSystoleFraction is the largest systole fraction f (Tmax = f·tc).
	// At f = 0.7 the normalised elastance has fallen to 1.5 % of its peak
	// when the next beat starts; above it the ventricle does not relax
	// before it contracts again and the waveform jumps at every beat.
	MaxSystoleFraction = 0.7

	// ContractilitySlew is how fast Emax follows its setpoint by default,
	// in mmHg/ml per second: the whole range of the rigs' contractility
	// (0.2 to 3 mmHg/ml) in 5.6 s, some seven beats at 75 bpm. A step of
	// Emax lands on a ventricle filled for the old one: from the
	// heart-failure preset (448 ml in the loop, Emax 0.4 mmHg/ml) a step to
	// 2 mmHg/ml drove the simulated aortic pressure to 453 mmHg and its flow
	// beyond 240 L/min on the next beats, against 188 mmHg and 54 L/min once
	// the volume had moved into the arteries; followed at 0.5 mmHg/ml per
	// second the peaks stay within 2 L/min of the steady state's
	// (rig/ranges_test.go). It is the rate the rig's closed-loop cardiac
	// output target already moved the drive at.
	ContractilitySlew = 0.5
)

// Constants of the normalised elastance curve (Simaan et al. 2009).
const (
	enScale    = 1.55
	enRiseTime = 0.7  // normalised time of the rising (contraction) term
	enRiseExp  = 1.9  // steepness of contraction
	enFallTime = 1.17 // normalised time of the falling (relaxation) term
	enFallExp  = 21.9 // steepness of relaxation
)

// Constants of NormalizedElastance's evaluation: 0.7^1.9, and 1.17^-21.9.
var (
	riseTimePow   = math.Pow(enRiseTime, enRiseExp)
	fallTimeNegPw = math.Pow(enFallTime, -enFallExp)
)

// NormalizedElastance is Simaan's normalised elastance En(tn), the double
// Hill function
//
//	En(tn) = 1.55·[(tn/0.7)^1.9 / (1 + (tn/0.7)^1.9)]·[1 / (1 + (tn/1.17)^21.9)]
//
// of the normalised time tn = t/Tmax since the beat started. It rises from 0
// at tn = 0 to a peak of about 1 near tn = 1 (end systole) and falls back to
// nearly 0 by tn ≈ 1.5. It is 0 for tn ≤ 0.
func NormalizedElastance(tn float64) float64 {
	if !(tn > 0) { // also catches NaN
		return 0
	}
	// It runs at the control rate: one logarithm and one exponential
	// instead of two math.Pow, since 21.9 = 11·1.9 + 1 makes
	// tn^21.9 = (tn^1.9)^11·tn. Written as 1/(1 + x^-a) so that overflow
	// gives 0 or 1, never Inf/Inf.
	e := math.Exp(enRiseExp * math.Log(tn)) // tn^1.9
	e2 := e * e
	e4 := e2 * e2
	e11 := e4 * e4 * e2 * e // tn^20.9
	rise := 1 / (1 + riseTimePow/e)
	fall := 1 / (1 + e11*tn*fallTimeNegPw)
	return enScale * rise * fall
}

// CardiacWaveform generates the active elastance of the left ventricle,
//
//	e(t) = (Emax − Emin)·En(t/Tmax)
//
// in mmHg/ml, where Emax is the contractility setpoint, Emin the bench's
// passive elastance (added by the ventricle itself, not by the waveform), t
// the time since the current beat started and Tmax the time to peak
// elastance: Simaan's 0.2 + 0.15·tc with tc = 60/HR, or f·tc when a systole
// fraction f is set.
//
// The generator integrates two accumulators instead of computing t from a
// clock: the beat phase (advanced by dt/tc, a beat starts when it wraps) and
// the normalised time tn (advanced by dt/Tmax). A heart-rate change therefore
// changes only how fast they move from then on: the waveform never jumps,
// the current beat finishes at the new rate, and beats keep their number.
// A contractility change is slewed (ContractilitySlew): Emax moves to its
// new setpoint over several beats, as the loop's volume can follow.
//
// A CardiacWaveform is not safe for concurrent use; it belongs to the control
// loop. Its methods allocate nothing.
type CardiacWaveform struct {
	hr      float64 // heart rate, bpm
	emax    float64 // contractility in force, mmHg/ml
	target  float64 // contractility setpoint, mmHg/ml
	slew    float64 // largest change of emax per second, 0: at once
	emin    float64 // passive elastance, mmHg/ml
	sysFrac float64 // systole fraction, 0 = automatic Tmax
	tc      float64 // cycle length, s
	tmax    float64 // time to peak elastance, s

	phase  float64 // fraction of the current beat elapsed, [0, 1)
	tn     float64 // normalised time since the current beat started
	active float64 // active elastance at the current time, mmHg/ml
	beats  uint64  // beats started since construction
}

// NewCardiacWaveform returns a generator at the start of a beat (active
// elastance 0) with automatic Tmax, Emax at contractility and later changes
// of it slewed at ContractilitySlew. It returns an error instead of a
// generator if a setpoint is out of range: 0 < heartRateBPM ≤ MaxHeartRate,
// emin ≥ 0 and contractility ≥ emin, all finite.
func NewCardiacWaveform(heartRateBPM, contractility, emin float64) (*CardiacWaveform, error) {
	if !(emin >= 0) || math.IsInf(emin, 0) {
		return nil, fmt.Errorf("pumpctl: passive elastance Emin %g mmHg/ml: must be finite and ≥ 0", emin)
	}
	w := &CardiacWaveform{emin: emin}
	if err := w.SetHeartRate(heartRateBPM); err != nil {
		return nil, err
	}
	if err := w.SetContractility(contractility); err != nil {
		return nil, err
	}
	w.slew = ContractilitySlew
	return w, nil
}

// SetHeartRate sets the heart rate in beats per minute, 0 < bpm ≤
// MaxHeartRate. The beat in progress continues at the new rate from its
// current phase.
func (w *CardiacWaveform) SetHeartRate(bpm float64) error {
	if !(bpm > 0 && bpm <= MaxHeartRate) {
		return fmt.Errorf("pumpctl: heart rate %g bpm out of range (0, %g]", bpm, MaxHeartRate)
	}
	w.hr = bpm
	w.tc = 60 / bpm
	w.updateTmax()
	return nil
}

// SetContractility sets the setpoint of Emax, the peak elastance of a beat
// in mmHg/ml. It must be finite and at least Emin; Emax = Emin is a
// ventricle that does not contract. Emax follows the setpoint at the slew
// rate (SetContractilitySlew) as the waveform advances; with no slew rate
// the new value applies at once, scaling the current beat.
func (w *CardiacWaveform) SetContractility(mmHgPerMl float64) error {
	if !(mmHgPerMl >= w.emin) || math.IsInf(mmHgPerMl, 0) {
		return fmt.Errorf("pumpctl: contractility %g mmHg/ml: must be finite and ≥ Emin %g mmHg/ml", mmHgPerMl, w.emin)
	}
	w.target = mmHgPerMl
	if w.slew == 0 {
		w.emax = mmHgPerMl
		w.active = (w.emax - w.emin) * NormalizedElastance(w.tn)
	}
	return nil
}

// SetContractilitySlew sets how fast Emax follows its setpoint, in mmHg/ml
// per second, finite and ≥ 0; 0 applies every setpoint at once (and
// brings Emax to the setpoint now).
func (w *CardiacWaveform) SetContractilitySlew(mmHgPerMlPerS float64) error {
	if !(mmHgPerMlPerS >= 0) || math.IsInf(mmHgPerMlPerS, 0) {
		return fmt.Errorf("pumpctl: contractility slew %g mmHg/ml/s: must be finite and ≥ 0", mmHgPerMlPerS)
	}
	w.slew = mmHgPerMlPerS
	if w.slew == 0 {
		return w.SetContractility(w.target)
	}
	return nil
}

// SetSystoleFraction sets Tmax = f·tc, the time to peak elastance as a
// fraction of the cycle, for 0 < f ≤ MaxSystoleFraction; f = 0 returns to
// Simaan's heart-rate dependent Tmax = 0.2 + 0.15·tc.
func (w *CardiacWaveform) SetSystoleFraction(f float64) error {
	if !(f == 0 || (f > 0 && f <= MaxSystoleFraction)) {
		return fmt.Errorf("pumpctl: systole fraction %g: must be 0 (automatic) or in (0, %g]", f, MaxSystoleFraction)
	}
	w.sysFrac = f
	w.updateTmax()
	return nil
}

func (w *CardiacWaveform) updateTmax() {
	if w.sysFrac > 0 {
		w.tmax = w.sysFrac * w.tc
	} else {
		w.tmax = 0.2 + 0.15*w.tc
	}
}

// HeartRate returns the heart rate in bpm.
func (w *CardiacWaveform) HeartRate() float64 { return w.hr }

// Contractility returns the setpoint of Emax in mmHg/ml.
func (w *CardiacWaveform) Contractility() float64 { return w.target }

// Emax returns the Emax in force, mmHg/ml: the setpoint once the slew has
// reached it.
func (w *CardiacWaveform) Emax() float64 { return w.emax }

// Emin returns the passive elastance in mmHg/ml.
func (w *CardiacWaveform) Emin() float64 { return w.emin }

// SystoleFraction returns the systole fraction, 0 when Tmax is automatic.
func (w *CardiacWaveform) SystoleFraction() float64 { return w.sysFrac }

// Tmax returns the time from the start of a beat to peak elastance at the
// current heart rate.
func (w *CardiacWaveform) Tmax() time.Duration { return time.Duration(w.tmax * float64(time.Second)) }

// Phase returns the fraction of the current beat elapsed, in [0, 1).
func (w *CardiacWaveform) Phase() float64 { return max(w.phase, 0) }

// Beats returns the number of beats started since construction (the first,
// at construction, not counted).
func (w *CardiacWaveform) Beats() uint64 { return w.beats }

// Active returns the active elastance at the current time in mmHg/ml, the
// value last returned by Advance.
func (w *CardiacWaveform) Active() float64 { return w.active }

// Elastance returns the ventricle's total elastance Emin + active, mmHg/ml.
func (w *CardiacWaveform) Elastance() float64 { return w.emin + w.active }

// phaseSlack absorbs rounding in the phase sum: without it, 800 steps of
// 1 ms at 75 bpm may add up to 0.9999999999 and the beat would start one
// step late. The slack is kept (phase goes slightly negative), so it does
// not accumulate.
const phaseSlack = 1e-9

// Advance moves the waveform forward by dt and returns the active elastance
// at the end of the interval and whether a new beat started within it. A
// dt ≤ 0 changes nothing.
func (w *CardiacWaveform) Advance(dt time.Duration) (active float64, beatStarted bool) {
	if dt <= 0 {
		return w.active, false
	}
	s := dt.Seconds()
	if w.emax != w.target { // slewing
		step := w.slew * s
		w.emax = max(w.emax-step, min(w.emax+step, w.target))
	}
	w.phase += s / w.tc
	w.tn += s / w.tmax
	if w.phase >= 1-phaseSlack {
		n := math.Floor(w.phase + phaseSlack)
		w.phase -= n
		w.beats += uint64(n)
		// Time into the new beat, at the current rate.
		w.tn = w.phase * w.tc / w.tmax
		beatStarted = true
	}
	w.active = (w.emax - w.emin) * NormalizedElastance(w.tn)
	return w.active, beatStarted
}
