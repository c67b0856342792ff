package ads131m08

import (
	"math/rand/v2"
	"testing"
	"time"
)

// refAdvance is advance as first written: the phase is the minimum of the
// last window offsets, scanned every read.
type refAdvance struct {
	period   time.Duration
	anchored bool
	k        int64
	offs     [window]time.Duration
	nOffs    int
}

func (d *refAdvance) advance(t time.Duration) uint64 {
	if !d.anchored {
		d.anchored, d.k = true, 0
		d.offs[0], d.nOffs = t, 1
		return 0
	}
	phase := d.offs[0]
	for _, o := range d.offs[1:min(d.nOffs, window)] {
		phase = min(phase, o)
	}
	last := phase + time.Duration(d.k)*d.period
	n := int64(1)
	if dt := t - last + d.period/10; dt > d.period {
		n = int64(dt / d.period)
	}
	d.k += n
	d.offs[d.nOffs%window] = t - time.Duration(d.k)*d.period
	d.nOffs++
	return uint64(n - 1)
}

// TestAdvanceSlidingMinimum: the sliding-window minimum judges every read
// as the scan of the whole window does, through jitter, drift, lost
// conversions and re-anchoring.
func TestAdvanceSlidingMinimum(t *testing.T) {
	const period = time.Millisecond
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		d := &Dev{period: period}
		ref := &refAdvance{period: period}
		tm := time.Duration(rng.Int64N(int64(period)))
		drift := time.Duration(rng.Int64N(6000)) - 3000 // ns per read: a fast or slow chip clock
		for i := range 20000 {
			// Mostly one period later; sometimes conversions are lost.
			step := period + drift
			if rng.IntN(100) == 0 {
				step += time.Duration(1+rng.IntN(3)) * period
			}
			tm += step
			lat := time.Duration(rng.ExpFloat64() * float64(30*time.Microsecond))
			if trial%2 == 1 {
				lat = 0 // the simulator's exact timing: equal offsets
			}
			if rng.IntN(5000) == 0 {
				d.anchored, ref.anchored = false, false
			}
			if got, want := d.advance(tm+lat), ref.advance(tm+lat); got != want || d.k != ref.k {
				t.Fatalf("trial %d read %d: lost %d k %d, reference lost %d k %d", trial, i, got, d.k, want, ref.k)
			}
		}
	}
}
