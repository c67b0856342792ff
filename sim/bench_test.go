package sim

import (
	"testing"
	"time"
)

// BenchmarkAdvance1ms measures one rig sample of physics: a new elastance
// from the waveform, then AdvanceTo the next millisecond, with the loop in
// its periodic steady state so valve events occur at their natural rate.
func BenchmarkAdvance1ms(b *testing.B) {
	d := newDriven(b, SimaanNormal(), 75, 2.0)
	d.settle(10 * time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		d.tick()
	}
	b.StopTimer()
	perSample := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perSample*1e9, "ns/sample")
	b.ReportMetric(d.dt.Seconds()/perSample, "sim-s/s")
}
