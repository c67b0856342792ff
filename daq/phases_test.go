package daq

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// lvWave is a ventricle-like pressure with analytic phases: flat at ped in
// diastole, ped + A·sin²(π·φ/s) in systole (φ the phase in the cycle, s the
// systolic share). Its dP/dt is ±A·π/(s·T) at φ = s/4 and 3s/4; its foot
// (dP/dt at 10 % of the maximum) lies at sin(2πφ/s) = 0.1, and the knee
// of its fall (slope equal to the chord from the peak to dP/dt min) at
// sin(2πφ/s) = −2/π, where p = ped + A·(1 + cos(asin(2/π)))/2.
type lvWave struct{ hr, ped, a, s float64 }

func (w lvWave) at(t time.Duration) float64 {
	per := 60 / w.hr
	ph := math.Mod(t.Seconds(), per) / per
	if ph >= w.s {
		return w.ped
	}
	return w.ped + w.a*math.Pow(math.Sin(math.Pi*ph/w.s), 2)
}

func (w lvWave) dpdtMax() float64 { return w.a * math.Pi / (w.s * 60 / w.hr) }
func (w lvWave) endDiastolic() float64 {
	return w.ped + w.a*math.Pow(math.Sin(math.Asin(edFraction)/2), 2)
}
func (w lvWave) endSystolic() float64 { return w.ped + w.a*(1+math.Cos(math.Asin(2/math.Pi)))/2 }

// TestBeatPhasesOnAnalyticWaveforms: end-diastolic and end-systolic values
// and dP/dt max and min of a noisy synthetic ventricle match their
// analytic values; the derivative is robust against 0.2 mmHg of noise.
func TestBeatPhasesOnAnalyticWaveforms(t *testing.T) {
	for _, w := range []lvWave{
		{hr: 75, ped: 8, a: 110, s: 0.4},
		{hr: 60, ped: 20, a: 60, s: 0.35},
		{hr: 120, ped: 5, a: 100, s: 0.45},
		{hr: 40, ped: 12, a: 30, s: 0.3},
	} {
		d := NewBeatDetector("lvp", 1000)
		r := rand.New(rand.NewPCG(5, 6))
		var beats []Beat
		for i := 0; i < 20_000; i++ {
			ts := time.Duration(i) * time.Millisecond
			if b, ok := d.Add(ts, w.at(ts)+0.2*r.NormFloat64(), math.NaN()); ok {
				beats = append(beats, b)
			}
		}
		if len(beats) < int(20*w.hr/60)-2 {
			t.Fatalf("%+v: %d beats", w, len(beats))
		}
		for _, b := range beats {
			check := func(name string, got, want, tol float64) {
				if !(math.Abs(got-want) <= tol) {
					t.Errorf("%+v: beat at %v: %s %.2f, want %.2f ± %.2f", w, b.Start, name, got, want, tol)
				}
			}
			// 3 %, and at least 3σ of the slope's noise (7 mmHg/s):
			// the maximum of a noisy slope lies above the true one
			check("dp_dt_max", b.DpDtMax, w.dpdtMax(), max(0.03*w.dpdtMax(), 21))
			check("dp_dt_min", b.DpDtMin, -w.dpdtMax(), max(0.03*w.dpdtMax(), 21))
			check("end_diastolic", b.EndDiastolic, w.endDiastolic(), 1)
			// a sine has no sharp knee (a valve's closure makes one): its
			// flat dP/dt min moves with the noise, and the chord with it
			check("end_systolic", b.EndSystolic, w.endSystolic(), max(0.05*w.a, 1))
		}
	}
}

// TestBeatPhasesOfAnotherChannel: AddValue reads a value channel at the
// instants the pressure times: a volume that empties during systole reads
// its largest value at end-diastole and its smallest at the end of
// ejection, and its derivative in ml/s.
func TestBeatPhasesOfAnotherChannel(t *testing.T) {
	w := lvWave{hr: 75, ped: 8, a: 110, s: 0.4}
	per := 0.8
	// volume: 140 ml in diastole, falling by 70·sin²(πφ/(2·0.55s)) from
	// the onset to 0.55 s (the pressure's knee is at 0.61 s), then flat at
	// 70 ml until 0.95 s, then refilling linearly until φ = 0.9
	vol := func(ts time.Duration) float64 {
		ph := math.Mod(ts.Seconds(), per) / per
		switch {
		case ph < 0.55*w.s:
			return 140 - 70*math.Pow(math.Sin(math.Pi*ph/(2*0.55*w.s)), 2)
		case ph < 0.95*w.s:
			return 70
		case ph < 0.9:
			return 70 + 70*(ph-0.95*w.s)/(0.9-0.95*w.s)
		}
		return 140
	}
	d := NewBeatDetector("lvp", 1000)
	n := 0
	for i := 0; i < 10_000; i++ {
		ts := time.Duration(i) * time.Millisecond
		b, ok := d.AddValue(ts, w.at(ts), math.NaN(), vol(ts))
		if !ok {
			continue
		}
		n++
		if math.Abs(b.EndDiastolic-140) > 0.5 || math.Abs(b.EndSystolic-70) > 0.5 {
			t.Errorf("beat at %v: EDV %.2f ESV %.2f, want 140 and 70", b.Start, b.EndDiastolic, b.EndSystolic)
		}
		if want := -70 * math.Pi / (2 * 0.55 * w.s * per); math.Abs(b.DpDtMin-want) > 0.02*-want {
			t.Errorf("beat at %v: dV/dt min %.1f ml/s, want %.1f", b.Start, b.DpDtMin, want)
		}
	}
	if n < 10 {
		t.Fatalf("%d beats", n)
	}
}

// TestBeatPhasesNaNWithoutHistory: a beat longer than the phase history
// has no phases, never values of another beat.
func TestBeatPhasesNaNWithoutHistory(t *testing.T) {
	w := lvWave{hr: 20, ped: 8, a: 110, s: 0.1}
	d := NewBeatDetector("lvp", 1000)
	n := 0
	for i := 0; i < 20_000; i++ {
		ts := time.Duration(i) * time.Millisecond
		if b, ok := d.Add(ts, w.at(ts), math.NaN()); ok {
			n++
			if !math.IsNaN(b.EndDiastolic) || !math.IsNaN(b.DpDtMax) {
				t.Errorf("a 3 s beat has phases %+v", b.Phases)
			}
		}
	}
	if n == 0 {
		t.Fatal("no beats")
	}
}
