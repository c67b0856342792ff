package pumpctl

import (
	"math"
	"testing"
	"time"
)

func TestNormalizedElastancePeak(t *testing.T) {
	var peak, at float64
	for i := 1; i <= 300000; i++ {
		tn := float64(i) / 100000
		if e := NormalizedElastance(tn); e > peak {
			peak, at = e, tn
		}
	}
	t.Logf("En peak %.4f at tn = %.4f", peak, at)
	if math.Abs(peak-1) > 0.01 {
		t.Errorf("En peak = %.4f, want 1 ± 0.01", peak)
	}
	if math.Abs(at-1) > 0.02 {
		t.Errorf("En peaks at tn = %.4f, want 1 ± 0.02", at)
	}
	for _, tn := range []float64{0, -1, math.NaN()} {
		if e := NormalizedElastance(tn); e != 0 {
			t.Errorf("En(%g) = %g, want 0", tn, e)
		}
	}
	// Relaxed well before the next beat at rest (tc/Tmax = 2.5 at 75 bpm),
	// and no overflow far out.
	if e := NormalizedElastance(2.5); e > 1e-6 {
		t.Errorf("En(2.5) = %g, want < 1e-6", e)
	}
	if e := NormalizedElastance(1e6); e > 1e-100 {
		t.Errorf("En(1e6) = %g, want ≈ 0", e)
	}
	if e := NormalizedElastance(1e300); e != 0 {
		t.Errorf("En(1e300) = %g, want 0", e)
	}
}

func newWave(t *testing.T, hr, emax, emin float64) *CardiacWaveform {
	t.Helper()
	w, err := NewCardiacWaveform(hr, emax, emin)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWaveformShape(t *testing.T) {
	// 75 bpm: tc = 0.8 s, Tmax = 0.32 s. The peak of the active elastance is
	// (Emax − Emin)·max(En) at about Tmax into the beat.
	w := newWave(t, 75, 2.0, 0.06)
	if got, want := w.Tmax(), 320*time.Millisecond; got != want {
		t.Errorf("Tmax = %v, want %v", got, want)
	}
	var peak float64
	var peakAt time.Duration
	for i := 1; i < 800; i++ {
		e, started := w.Advance(time.Millisecond)
		if started {
			t.Fatalf("beat started at %d ms, want 800 ms", i)
		}
		if e > peak {
			peak, peakAt = e, time.Duration(i)*time.Millisecond
		}
	}
	if _, started := w.Advance(time.Millisecond); !started {
		t.Errorf("no beat at 800 ms (phase %g)", w.Phase())
	}
	if math.Abs(peak-1.94) > 0.02 {
		t.Errorf("peak active elastance %.3f mmHg/ml, want ≈ 1.94", peak)
	}
	if d := peakAt - 320*time.Millisecond; d < -5*time.Millisecond || d > 5*time.Millisecond {
		t.Errorf("peak at %v, want ≈ 320 ms", peakAt)
	}
	if got := w.Elastance(); math.Abs(got-0.06-w.Active()) > 1e-12 {
		t.Errorf("Elastance = %g, want Emin + Active = %g", got, 0.06+w.Active())
	}
}

// A heart-rate change in mid-systole must not make the waveform jump: the
// step across the change is no larger than the steepest step of an
// undisturbed beat at either rate.
func TestWaveformContinuousAcrossRateChange(t *testing.T) {
	const dt = time.Millisecond
	maxStep := func(hr float64) float64 {
		w := newWave(t, hr, 2, 0.06)
		prev, m := 0.0, 0.0
		for range 2000 {
			e, _ := w.Advance(dt)
			m = max(m, math.Abs(e-prev))
			prev = e
		}
		return m
	}
	limit := max(maxStep(60), maxStep(150))

	for _, tc := range []struct {
		name     string
		from, to float64
		at       int // ms into the first beat
	}{
		{"up in systole", 60, 150, 200},
		{"down in systole", 150, 60, 150},
		{"up at peak", 60, 150, 350},
		{"up in diastole", 60, 150, 700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWave(t, tc.from, 2, 0.06)
			var prev float64
			for range tc.at {
				prev, _ = w.Advance(dt)
			}
			phase := w.Phase()
			if err := w.SetHeartRate(tc.to); err != nil {
				t.Fatal(err)
			}
			if w.Phase() != phase {
				t.Errorf("phase jumped from %g to %g", phase, w.Phase())
			}
			if w.Active() != prev {
				t.Errorf("active elastance jumped from %g to %g on SetHeartRate", prev, w.Active())
			}
			e, _ := w.Advance(dt)
			if d := math.Abs(e - prev); d > limit {
				t.Errorf("step across the change %.4f mmHg/ml, steepest undisturbed step %.4f", d, limit)
			}
		})
	}
}

func TestWaveformBeatRate(t *testing.T) {
	w := newWave(t, 75, 2, 0.06)
	count := func(d time.Duration, step time.Duration) int {
		n := 0
		for range d / step {
			if _, started := w.Advance(step); started {
				n++
			}
		}
		return n
	}
	// 60 s at 75 bpm: 75 beats, the 75th exactly at 60 s.
	if n := count(time.Minute, time.Millisecond); n != 75 {
		t.Errorf("75 bpm for 1 min: %d beats, want 75", n)
	}
	if err := w.SetHeartRate(120); err != nil {
		t.Fatal(err)
	}
	if n := count(30*time.Second, time.Millisecond); n != 60 {
		t.Errorf("120 bpm for 30 s: %d beats, want 60", n)
	}
	// An irregular step that is no divisor of the cycle still keeps the rate.
	if err := w.SetHeartRate(72); err != nil {
		t.Fatal(err)
	}
	if n := count(10*time.Minute, 1234*time.Microsecond); n < 719 || n > 721 {
		t.Errorf("72 bpm for 10 min in 1.234 ms steps: %d beats, want 720 ± 1", n)
	}
	if got, want := w.Beats(), uint64(75+60); got < want+719 || got > want+721 {
		t.Errorf("Beats() = %d, want %d ± 1", got, want+720)
	}
	// One step longer than several cycles reports one start and counts all.
	w2 := newWave(t, 60, 2, 0.06)
	if _, started := w2.Advance(3500 * time.Millisecond); !started || w2.Beats() != 3 {
		t.Errorf("3.5 s in one step: started %v, beats %d; want true, 3", started, w2.Beats())
	}
	if p := w2.Phase(); math.Abs(p-0.5) > 1e-9 {
		t.Errorf("phase after 3.5 s at 60 bpm = %g, want 0.5", p)
	}
}

func TestWaveformSystoleFraction(t *testing.T) {
	peakTime := func(w *CardiacWaveform) time.Duration {
		var peak float64
		var at time.Duration
		for i := 1; i < 1000; i++ {
			if e, _ := w.Advance(time.Millisecond); e > peak {
				peak, at = e, time.Duration(i)*time.Millisecond
			}
		}
		return at
	}
	w := newWave(t, 60, 2, 0.06) // automatic: Tmax = 0.2 + 0.15 s
	if got := peakTime(w); got < 345*time.Millisecond || got > 352*time.Millisecond {
		t.Errorf("automatic Tmax at 60 bpm: peak at %v, want ≈ 350 ms", got)
	}
	w = newWave(t, 60, 2, 0.06)
	if err := w.SetSystoleFraction(0.25); err != nil {
		t.Fatal(err)
	}
	if got, want := w.Tmax(), 250*time.Millisecond; got != want {
		t.Errorf("Tmax with f = 0.25: %v, want %v", got, want)
	}
	if got := peakTime(w); got < 245*time.Millisecond || got > 252*time.Millisecond {
		t.Errorf("f = 0.25 at 60 bpm: peak at %v, want ≈ 250 ms", got)
	}
	// Tmax follows the heart rate while the fraction is set.
	if err := w.SetHeartRate(120); err != nil {
		t.Fatal(err)
	}
	if got, want := w.Tmax(), 125*time.Millisecond; got != want {
		t.Errorf("Tmax with f = 0.25 at 120 bpm: %v, want %v", got, want)
	}
	if err := w.SetSystoleFraction(0); err != nil {
		t.Fatal(err)
	}
	if got, want := w.Tmax(), 275*time.Millisecond; got != want {
		t.Errorf("automatic Tmax at 120 bpm: %v, want %v", got, want)
	}
}

func TestWaveformRejectsBadSetpoints(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, c := range []struct{ hr, emax, emin float64 }{
		{0, 2, 0.06}, {-75, 2, 0.06}, {251, 2, 0.06}, {nan, 2, 0.06}, {inf, 2, 0.06},
		{75, 0.05, 0.06}, {75, nan, 0.06}, {75, inf, 0.06},
		{75, 2, -0.01}, {75, 2, nan}, {75, inf, inf},
	} {
		if w, err := NewCardiacWaveform(c.hr, c.emax, c.emin); err == nil {
			t.Errorf("NewCardiacWaveform(%g, %g, %g) = %+v, want error", c.hr, c.emax, c.emin, w)
		}
	}

	w := newWave(t, 75, 2, 0.06)
	for range 100 {
		w.Advance(time.Millisecond)
	}
	before := *w
	for _, hr := range []float64{0, -1, 300, nan, inf} {
		if err := w.SetHeartRate(hr); err == nil {
			t.Errorf("SetHeartRate(%g) accepted", hr)
		}
	}
	for _, e := range []float64{0.059, -1, nan, inf} {
		if err := w.SetContractility(e); err == nil {
			t.Errorf("SetContractility(%g) accepted", e)
		}
	}
	for _, f := range []float64{-0.1, 0.71, 1, nan, inf} {
		if err := w.SetSystoleFraction(f); err == nil {
			t.Errorf("SetSystoleFraction(%g) accepted", f)
		}
	}
	if *w != before {
		t.Errorf("refused setpoints changed the generator:\n got %+v\nwant %+v", *w, before)
	}
	for _, r := range []float64{-0.1, nan, inf} {
		if err := w.SetContractilitySlew(r); err == nil {
			t.Errorf("SetContractilitySlew(%g) accepted", r)
		}
	}
	if *w != before {
		t.Errorf("refused slew rates changed the generator:\n got %+v\nwant %+v", *w, before)
	}
	// Edge values are accepted: a non-contracting ventricle (at once,
	// without a slew), the top rate.
	if err := w.SetContractilitySlew(0); err != nil {
		t.Error(err)
	}
	if err := w.SetContractility(0.06); err != nil {
		t.Error(err)
	}
	if e, _ := w.Advance(time.Millisecond); e != 0 {
		t.Errorf("Emax = Emin: active elastance %g, want 0", e)
	}
	if err := w.SetHeartRate(MaxHeartRate); err != nil {
		t.Error(err)
	}
	if e, started := w.Advance(0); e != w.Active() || started {
		t.Errorf("Advance(0) = %g, %v; want unchanged %g, false", e, started, w.Active())
	}
}

// TestContractilitySlew: Emax follows a new setpoint at the slew rate, in
// either direction, and lands on it; the setpoint is what Contractility
// says throughout. Without a slew it applies at once.
func TestContractilitySlew(t *testing.T) {
	w := newWave(t, 75, 2, 0.06)
	if w.Emax() != 2 || w.Contractility() != 2 {
		t.Fatalf("a new generator's Emax %g, setpoint %g; want 2 at once", w.Emax(), w.Contractility())
	}
	for _, c := range []struct {
		to    float64
		after time.Duration
		want  float64
	}{
		{3, time.Second, 2 + ContractilitySlew},
		{3, 10 * time.Second, 3},
		{0.4, time.Second, 3 - ContractilitySlew},
		{0.4, 10 * time.Second, 0.4},
	} {
		if err := w.SetContractility(c.to); err != nil {
			t.Fatal(err)
		}
		for range c.after / time.Millisecond {
			w.Advance(time.Millisecond)
		}
		if math.Abs(w.Emax()-c.want) > 1e-9 || w.Contractility() != c.to {
			t.Errorf("%v towards %g: Emax %g, setpoint %g; want %g, %g", c.after, c.to, w.Emax(), w.Contractility(), c.want, c.to)
		}
		if peak := (w.Emax() - 0.06) * 1.01; w.Active() > peak { // max En = 1 ± 0.01
			t.Errorf("active elastance %g above the peak of the Emax in force, %g", w.Active(), peak)
		}
	}
	if err := w.SetContractility(2); err != nil {
		t.Fatal(err)
	}
	w.Advance(time.Millisecond)
	if err := w.SetContractilitySlew(0); err != nil || w.Emax() != 2 {
		t.Errorf("slew 0: Emax %g (%v), want the setpoint 2 at once", w.Emax(), err)
	}
	if err := w.SetContractility(1); err != nil || w.Emax() != 1 {
		t.Errorf("without a slew: Emax %g (%v), want 1 at once", w.Emax(), err)
	}
}

func TestWaveformAdvanceAllocatesNothing(t *testing.T) {
	w := newWave(t, 75, 2, 0.06)
	if n := testing.AllocsPerRun(1000, func() { w.Advance(time.Millisecond) }); n != 0 {
		t.Errorf("Advance allocates %g times per call", n)
	}
}

func BenchmarkWaveformAdvance(b *testing.B) {
	w, err := NewCardiacWaveform(75, 2, 0.06)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		w.Advance(time.Millisecond)
	}
}
