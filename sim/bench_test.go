package sim

import (
	"testing"
	"time"
)

// BenchmarkAdvance1ms measures the physics of one rig sample: set the
// elastance the waveform gave for it, then AdvanceTo the next millisecond.
// The loop is in its periodic steady state, so valve events occur at their
// natural rate; the waveform itself is precomputed so that only the physics
// is timed (pumpctl has its own benchmark).
func BenchmarkAdvance1ms(b *testing.B) {
	d := newDriven(b, SimaanNormal(), 75, 2.0)
	d.settle(10 * time.Second)
	const beats = 10
	samples := beats * 800 // 75 bpm, 1 kHz
	active := make([]float64, samples)
	for i := range active {
		active[i], _ = d.w.Advance(d.dt)
	}
	l, t, i := d.l, d.t, 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := l.SetActiveElastance(active[i]); err != nil {
			b.Fatal(err)
		}
		t += time.Millisecond
		l.AdvanceTo(t)
		if i++; i == samples {
			i = 0
		}
	}
	b.StopTimer()
	perSample := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perSample*1e9, "ns/sample")
	b.ReportMetric(time.Millisecond.Seconds()/perSample, "sim-s/s")
}

// BenchmarkAdvance1msPump is BenchmarkAdvance1ms with an Impella 2.5 at P8
// in the heart-failure loop, its speed set every sample as the rig sets the
// DUT's: the cost of the pump's state and of its frozen nonlinear terms.
func BenchmarkAdvance1msPump(b *testing.B) {
	d := hfPump(b, 50000)
	d.settle(10 * time.Second)
	const beats = 10
	samples := beats * 706 // 85 bpm, 1 kHz
	active := make([]float64, samples)
	for i := range active {
		active[i], _ = d.w.Advance(d.dt)
	}
	l, t, i := d.l, d.t, 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := l.SetActiveElastance(active[i]); err != nil {
			b.Fatal(err)
		}
		if err := l.SetPumpSpeed(50000); err != nil {
			b.Fatal(err)
		}
		t += time.Millisecond
		l.AdvanceTo(t)
		if i++; i == samples {
			i = 0
		}
	}
	b.StopTimer()
	perSample := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perSample*1e9, "ns/sample")
	b.ReportMetric(time.Millisecond.Seconds()/perSample, "sim-s/s")
}
