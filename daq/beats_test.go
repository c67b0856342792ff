package daq

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// synthetic is a pressure like an aortic one: a fast systolic rise and a
// slow diastolic decay, with a flow pulse during systole.
func synthetic(t time.Duration, hr float64) (p, q float64) {
	period := 60 / hr
	ph := math.Mod(t.Seconds(), period) / period
	switch {
	case ph < 0.1: // upstroke 80 → 120
		p = 80 + 40*math.Sin(ph/0.1*math.Pi/2)
	case ph < 0.35: // ejection plateau and fall to the notch
		p = 120 - 20*(ph-0.1)/0.25
	default: // diastolic decay 100 → 80
		p = 80 + 20*math.Exp(-(ph-0.35)/0.2)*(1-(ph-0.35)/0.65)
	}
	if ph < 0.35 {
		q = 20 * math.Sin(ph/0.35*math.Pi) // L/min
	}
	return p, q
}

func TestBeatDetectorOnSynthetic(t *testing.T) {
	for _, hr := range []float64{40, 75, 120, 200} {
		d := NewBeatDetector("aop", 1000)
		r := rand.New(rand.NewPCG(1, 2))
		var beats []Beat
		for i := 0; i < 30_000; i++ {
			ts := time.Duration(i) * time.Millisecond
			p, q := synthetic(ts, hr)
			if b, ok := d.Add(ts, p+0.2*r.NormFloat64(), q); ok {
				beats = append(beats, b)
			}
		}
		want := int(30*hr/60) - 2
		if len(beats) < want {
			t.Fatalf("%g bpm: %d beats in 30 s, want at least %d", hr, len(beats), want)
		}
		// exact values of one cycle of the synthetic wave, computed densely
		var sum, flow float64
		lo, hi := math.Inf(1), math.Inf(-1)
		n := 100_000
		per := 60 / hr
		for i := 0; i < n; i++ {
			p, q := synthetic(time.Duration(float64(i)/float64(n)*per*float64(time.Second)), hr)
			sum, flow = sum+p, flow+q*per/float64(n)
			lo, hi = min(lo, p), max(hi, p)
		}
		for _, b := range beats[1:] {
			if math.Abs(b.HeartRate-hr) > hr*0.02 {
				t.Errorf("%g bpm: beat at %v has heart rate %.2f", hr, b.Start, b.HeartRate)
			}
			if math.Abs(b.Mean-sum/float64(n)) > 0.2 || math.Abs(b.Systolic-hi) > 0.8 || math.Abs(b.Diastolic-lo) > 0.8 {
				t.Errorf("%g bpm: beat %.2f/%.2f mean %.2f, want %.2f/%.2f mean %.2f", hr, b.Systolic, b.Diastolic, b.Mean, hi, lo, sum/float64(n))
			}
			if sv := flow * 1000 / 60; math.Abs(b.StrokeVolume-sv) > 0.02*sv {
				t.Errorf("%g bpm: stroke volume %.2f ml, want %.2f", hr, b.StrokeVolume, sv)
			}
			if math.Abs(b.PulsePressure-(b.Systolic-b.Diastolic)) > 1e-12 {
				t.Error("pulse pressure is not systolic − diastolic")
			}
		}
	}
}

// TestBeatDetectorLevelStep: a pressure whose level jumps 60 mmHg within
// a beat (the afterload doubled) goes on giving beats within maxBeat plus
// a beat or two, at their heart rate — before, none came until the level
// fell back.
func TestBeatDetectorLevelStep(t *testing.T) {
	d := NewBeatDetector("aop", 1000)
	const hr, step = 75.0, 10 * time.Second
	var after []Beat
	for i := 0; i < 30_000; i++ {
		ts := time.Duration(i) * time.Millisecond
		p, q := synthetic(ts, hr)
		if ts >= step { // the level rises by 60 mmHg over 0.3 s
			p += 60 * min(1, (ts-step).Seconds()/0.3)
		}
		if b, ok := d.Add(ts, p, q); ok && b.Start >= step {
			after = append(after, b)
		}
	}
	if len(after) == 0 || after[0].End > step+maxBeat+3*time.Second {
		t.Fatalf("after the step: %d beats, the first %+v", len(after), after)
	}
	if want := int((30*time.Second-after[0].End).Seconds()*hr/60) - 1; len(after) < want {
		t.Errorf("%d beats after the first one after the step, want at least %d", len(after), want)
	}
	for _, b := range after[1:] {
		if math.Abs(b.HeartRate-hr) > hr*0.02 || b.Diastolic < 135 {
			t.Errorf("beat at %v: heart rate %.1f, diastolic %.1f", b.Start, b.HeartRate, b.Diastolic)
		}
	}
}

func TestBeatDetectorIgnoresFlatAndNoise(t *testing.T) {
	d := NewBeatDetector("aop", 1000)
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20_000; i++ {
		if _, ok := d.Add(time.Duration(i)*time.Millisecond, 40+0.3*r.NormFloat64(), math.NaN()); ok {
			t.Fatalf("a beat detected in a non-pulsatile pressure at sample %d", i)
		}
	}
}

func BenchmarkBeatDetector(b *testing.B) {
	d := NewBeatDetector("aop", 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ts := time.Duration(i) * time.Millisecond
		p, q := synthetic(ts, 75)
		d.Add(ts, p, q)
		i++
	}
}
