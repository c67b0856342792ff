package reports

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestEnvelopeExact feeds a growing envelope, started far too narrow, with
// frames of irregular spacing, gaps, NaN and Inf, and checks every column
// against a brute-force reduction over the envelope's final columns: the
// minimum and maximum (and their times) must be exact, the mean close.
func TestEnvelopeExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type frame struct {
		t int64
		v []float64
	}
	var frames []frame
	tn := int64(3e6)
	for i := range 50_000 {
		tn += 1e6 + rng.Int64N(2e6)
		if i == 20_000 {
			tn += 4e9 // a hole in the data
		}
		v := []float64{math.Sin(float64(tn)/3e8) * 100, rng.NormFloat64(), float64(i)}
		if i%997 == 0 {
			v[1] = math.NaN()
		}
		if i%1009 == 0 {
			v[0] = math.Inf(1)
		}
		frames = append(frames, frame{tn, v})
	}
	e := newEnvelope([]int{0, 1, 2}, 100, 0, 1e6, true) // 0.1 s of columns for ~100 s of frames
	for _, f := range frames {
		e.add(f.t, f.v)
	}
	if e.dt <= 1e6 || e.n != 100 {
		t.Fatalf("envelope did not grow: %d columns of %d ns", e.n, e.dt)
	}
	if last := frames[len(frames)-1].t; last >= e.t0+int64(e.n)*e.dt || last < e.t0+int64(e.n/2)*e.dt {
		t.Errorf("last frame %d ns outside the second half of the columns (width %d ns): the envelope grew too much", last, e.dt)
	}
	for j := range 3 {
		bs := e.buckets(j)
		k := 0
		for c := 0; c < e.n; c++ {
			lo, hi := e.t0+int64(c)*e.dt, e.t0+int64(c+1)*e.dt
			var m moments
			var loT, hiT int64
			for _, f := range frames {
				v := f.v[j]
				if f.t < lo || f.t >= hi || math.IsNaN(v) || math.IsInf(v, 0) {
					continue
				}
				if m.n == 0 || v < m.min {
					loT = f.t
				}
				if m.n == 0 || v > m.max {
					hiT = f.t
				}
				m.add(v)
			}
			if m.n == 0 {
				continue
			}
			if k >= len(bs) {
				t.Fatalf("channel %d: column %d missing", j, c)
			}
			b := bs[k]
			k++
			if b.N != m.n || b.Lo != m.min || b.Hi != m.max || b.LoT != float64(loT)/1e9 || b.HiT != float64(hiT)/1e9 ||
				math.Abs(b.Mean-m.mean) > 1e-9*max(1, math.Abs(m.mean)) {
				t.Fatalf("channel %d column %d: got %+v, want n %d min %v at %d max %v at %d mean %v", j, c, b, m.n, m.min, loT, m.max, hiT, m.mean)
			}
		}
		if k != len(bs) {
			t.Errorf("channel %d: %d columns, brute force has %d", j, len(bs), k)
		}
	}
}

// TestEnvelopeFixed checks that a fixed envelope keeps only its window.
func TestEnvelopeFixed(t *testing.T) {
	e := newEnvelope([]int{0}, 10, 1e9, 1e8, false) // [1 s, 2 s)
	for ts := int64(0); ts < 3e9; ts += 1e7 {
		e.add(ts, []float64{float64(ts)})
	}
	bs := e.buckets(0)
	if len(bs) != 10 || e.frames != 100 {
		t.Fatalf("%d columns, %d frames; want 10, 100", len(bs), e.frames)
	}
	if bs[0].Lo != 1e9 || bs[9].Hi != 2e9-1e7 {
		t.Errorf("window [%v, %v], want [1e9, 1.99e9]", bs[0].Lo, bs[9].Hi)
	}
}

// TestWaveformKeepsPeaks checks that decimating a waveform to a few columns
// keeps its extremes: a one-sample spike must reach the plot.
func TestWaveformKeepsPeaks(t *testing.T) {
	e := newEnvelope([]int{0}, 20, 0, 5e7, false) // 1 s in 20 columns
	for i := range 1000 {
		v := math.Sin(float64(i) / 50)
		if i == 517 {
			v = 250
		}
		e.add(int64(i)*1e6, []float64{v})
	}
	f := waveformFigure("x", chanGroup{Unit: "mmHg", Cols: []int{0}}, e, synthLayout, 0, 1, gapOf(e, 1000))
	peak := 0.0
	for _, l := range f.Series[0].Lines {
		for _, p := range l {
			peak = max(peak, p.Y)
		}
	}
	if peak != 250 || f.Y1 < 250 {
		t.Errorf("spike of 250 drawn as %v (axis to %v)", peak, f.Y1)
	}
}
