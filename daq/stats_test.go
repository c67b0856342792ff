package daq

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// naive computes the aggregates the textbook way, two passes.
func naive(ts []time.Duration, vs []float64, agg string) float64 {
	n := float64(len(vs))
	mean := 0.0
	for _, v := range vs {
		mean += v
	}
	mean /= n
	switch agg {
	case "mean":
		return mean
	case "min":
		return slices.Min(vs)
	case "max":
		return slices.Max(vs)
	case "std":
		s := 0.0
		for _, v := range vs {
			s += (v - mean) * (v - mean)
		}
		return math.Sqrt(s / n)
	case "rms":
		s := 0.0
		for _, v := range vs {
			s += v * v
		}
		return math.Sqrt(s / n)
	case "slope":
		tm := 0.0
		for _, t := range ts {
			tm += t.Seconds()
		}
		tm /= n
		num, den := 0.0, 0.0
		for i, t := range ts {
			num += (t.Seconds() - tm) * (vs[i] - mean)
			den += (t.Seconds() - tm) * (t.Seconds() - tm)
		}
		return num / den * 60
	}
	q := map[string]float64{"p5": 0.05, "p50": 0.5, "p95": 0.95}[agg]
	s := slices.Clone(vs)
	slices.Sort(s)
	pos := q * (n - 1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (s[i+1]-s[i])*(pos-float64(i))
}

func series(n int, seed uint64) ([]time.Duration, []float64) {
	r := rand.New(rand.NewPCG(seed, 1))
	ts := make([]time.Duration, n)
	vs := make([]float64, n)
	for i := range vs {
		ts[i] = time.Duration(i) * time.Millisecond
		// a pulsatile pressure with drift and noise, offset far from 0 to
		// expose cancellation in naive one-pass formulas
		vs[i] = 1e4 + 20*math.Sin(float64(i)/100) + 0.3*float64(i)/1000 + r.NormFloat64()
	}
	return ts, vs
}

func TestStatsMatchesTwoPass(t *testing.T) {
	ts, vs := series(50_000, 1)
	s := Stats{KeepValues: true}
	for i := range vs {
		s.Add(ts[i], vs[i])
	}
	for _, agg := range []string{"mean", "min", "max", "std", "rms", "slope", "p5", "p50", "p95"} {
		got, ok := s.Aggregate(agg)
		want := naive(ts, vs, agg)
		if !ok || math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
			t.Errorf("%s: got %.12g, want %.12g", agg, got, want)
		}
	}
	if _, ok := s.Aggregate("median"); ok {
		t.Error("unknown aggregate accepted")
	}
}

func TestStatsEmptyAndReset(t *testing.T) {
	var s Stats
	if v, _ := s.Aggregate("mean"); !math.IsNaN(v) {
		t.Errorf("mean of nothing = %g, want NaN", v)
	}
	s.Add(0, 5)
	if v, _ := s.Aggregate("slope"); !math.IsNaN(v) {
		t.Errorf("slope of one sample = %g, want NaN", v)
	}
	if v, _ := s.Aggregate("p50"); !math.IsNaN(v) {
		t.Errorf("quantile without kept values = %g, want NaN", v)
	}
	s.Reset()
	if s.N != 0 {
		t.Error("reset kept samples")
	}
}

func TestWindowKeepsExactlyTheSpan(t *testing.T) {
	ts, vs := series(10_000, 2)
	w := NewWindow(2*time.Second, 1000)
	for i := range vs {
		w.Add(ts[i], vs[i])
	}
	var s Stats
	w.Stats(&s)
	if w.Len() != 2000 {
		t.Fatalf("window holds %d samples, want 2000", w.Len())
	}
	if got, want := s.Mean(), naive(ts[8000:], vs[8000:], "mean"); math.Abs(got-want) > 1e-9 {
		t.Errorf("window mean %g, want %g", got, want)
	}
}

func TestRollingMatchesBruteForce(t *testing.T) {
	ts, vs := series(30_000, 3)
	r := NewRolling(500*time.Millisecond, 1000)
	for i := range vs {
		r.Add(ts[i], vs[i])
		if r.Full() != (i >= 499) {
			t.Fatalf("sample %d: Full() = %v", i, r.Full())
		}
		if i%997 != 0 || i < 499 {
			continue
		}
		for _, agg := range RollingAggregates {
			got, _ := r.Aggregate(agg)
			want := naive(ts[i-499:i+1], vs[i-499:i+1], agg)
			if math.Abs(got-want) > 1e-6*math.Abs(want) {
				t.Errorf("sample %d %s: rolling %.9g, brute force %.9g", i, agg, got, want)
			}
		}
	}
}

func TestBlock(t *testing.T) {
	b := NewBlock(3, 2)
	copy(b.Append(time.Millisecond), []float64{1, 2, 3})
	copy(b.Append(2*time.Millisecond), []float64{4, 5, 6})
	if !b.Full() || b.Len() != 2 || b.Frame(1)[2] != 6 || b.Times[1] != 2*time.Millisecond {
		t.Errorf("block %+v", b)
	}
	defer func() {
		if recover() == nil {
			t.Error("append to a full block did not panic")
		}
	}()
	b.Reset()
	if b.Len() != 0 || b.Cap() != 2 {
		t.Errorf("reset block %+v", b)
	}
	b.Append(0)
	b.Append(0)
	b.Append(0)
}

func BenchmarkStatsAdd(b *testing.B) {
	var s Stats
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(time.Duration(i), float64(i%1000))
		i++
	}
}

func BenchmarkRollingAdd(b *testing.B) {
	r := NewRolling(10*time.Second, 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Add(time.Duration(i)*time.Millisecond, float64(i%1000))
		i++
	}
}

func TestSummaryMergeEqualsOnePass(t *testing.T) {
	ts, vs := series(30_000, 9)
	var whole, a, b, c Summary
	for i, v := range vs {
		whole.Add(v)
		switch {
		case i < 7000:
			a.Add(v)
		case i < 7001:
			b.Add(v)
		default:
			c.Add(v)
		}
	}
	var merged Summary
	merged.Merge(&a)
	merged.Merge(&Summary{})
	merged.Merge(&b)
	merged.Merge(&c)
	if merged.N != whole.N || merged.Min != whole.Min || merged.Max != whole.Max ||
		math.Abs(merged.Mean()-whole.Mean()) > 1e-9 || math.Abs(merged.Std()-whole.Std()) > 1e-9 {
		t.Errorf("merged %+v, one pass %+v", merged, whole)
	}
	if want := naive(ts, vs, "std"); math.Abs(whole.Std()-want) > 1e-9 {
		t.Errorf("std %g, two-pass %g", whole.Std(), want)
	}
}

// TestRollingFullOnTimeNotCount: a rolling window is full once its samples
// span it, by their times: conversions lost inside it (frame time is
// conversion time) do not keep an until condition from ever being judged.
func TestRollingFullOnTimeNotCount(t *testing.T) {
	for _, tc := range []struct {
		name string
		skip func(i int) bool
	}{
		{"every sample", func(int) bool { return false }},
		{"every tenth lost", func(i int) bool { return i%10 == 3 }},
		{"a 2 ms gap", func(i int) bool { return i == 4 || i == 5 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRolling(10*time.Millisecond, 1000)
			for i := 1; i <= 12; i++ {
				if tc.skip(i) {
					continue
				}
				r.Add(time.Duration(i)*time.Millisecond, 1)
				if want := i >= 10; r.Full() != want {
					t.Fatalf("after the sample at %d ms: full %v, want %v", i, r.Full(), want)
				}
			}
		})
	}
}

// TestStatsCountAndFraction: count is a flag's rising edges — a flag set
// at the window's start is not one — and fraction the share of samples set,
// in percent.
func TestStatsCountAndFraction(t *testing.T) {
	for _, c := range []struct {
		samples         []float64
		count, fraction float64
	}{
		{[]float64{0, 0, 0, 0}, 0, 0},
		{[]float64{1, 1, 0, 0}, 0, 50},
		{[]float64{0, 1, 0, 1}, 2, 50},
		{[]float64{0, 1, 1, 1, 0, 0, 0, 1}, 2, 50},
		{[]float64{0, 3, 0, 0}, 1, 25}, // any value not 0 is set
	} {
		var s Stats
		for i, v := range c.samples {
			s.Add(time.Duration(i)*time.Millisecond, v)
		}
		n, _ := s.Aggregate("count")
		f, _ := s.Aggregate("fraction")
		if n != c.count || f != c.fraction {
			t.Errorf("%v: count %g, fraction %g %%; want %g, %g %%", c.samples, n, f, c.count, c.fraction)
		}
	}
}
