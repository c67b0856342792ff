package pumpctl

import (
	"math"
	"testing"
	"time"
)

// TestBeatRingMean: a beat's mean takes its frames from its start up to,
// not including, its end (the first frame of the next beat), skipping
// NaN, also once the ring has wrapped.
func TestBeatRingMean(t *testing.T) {
	r := NewBeatRing(0, 1000) // 4000 frames
	ms := time.Millisecond
	for i := range 10000 {
		v := float64(i)
		if i == 9500 {
			v = math.NaN()
		}
		r.add(time.Duration(i)*ms, v)
	}
	for _, c := range []struct {
		start, end time.Duration
		want       float64
	}{
		{9000 * ms, 9010 * ms, 9004.5},
		{9495 * ms, 9506 * ms, (9495 + 9496 + 9497 + 9498 + 9499 + 9501 + 9502 + 9503 + 9504 + 9505) / 10.0},
		{6000 * ms, 6002 * ms, 6000.5}, // the oldest frames kept
		{9999 * ms, 10000 * ms, 9999},
	} {
		if got := r.Mean(c.start, c.end); got != c.want {
			t.Errorf("mean over [%v, %v) = %g, want %g", c.start, c.end, got, c.want)
		}
	}
	if got := r.Mean(20*time.Second, 21*time.Second); !math.IsNaN(got) {
		t.Errorf("mean of no frames %g, want NaN", got)
	}
	if got := r.Recent(10 * ms); got != (9989+9999)/2.0 { // the newest frame and those up to 10 ms before it
		t.Errorf("recent 10 ms %g", got)
	}
}
