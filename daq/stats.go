package daq

import (
	"math"
	"slices"
	"time"
)

// Stats accumulates the frame aggregates of the protocol language over a
// stream of samples in one pass and constant memory: count, mean and
// variance (Welford, numerically stable over days of data), min, max, RMS and
// the least-squares slope against time. Quantiles need the values themselves;
// they are kept only when KeepValues is set.
type Stats struct {
	N          int64
	mean, m2   float64
	Min, Max   float64
	sumSq      float64
	t0         time.Duration // time of the first sample, for slope
	tMean, ctv float64       // running mean of t and co-moment of (t, v)
	tm2        float64       // running second moment of t
	// set counts the samples not 0 and rises those set after one that
	// was not (a flag's rising edges: count and fraction, language 1.1).
	set, rises int64
	KeepValues bool
	values     []float64
	last       float64 // the latest sample
}

// Add accounts one sample taken at t.
func (s *Stats) Add(t time.Duration, v float64) {
	if s.N == 0 {
		s.Min, s.Max, s.t0 = v, v, t
	}
	s.N++
	n := float64(s.N)
	d := v - s.mean
	s.mean += d / n
	s.m2 += d * (v - s.mean)
	x := (t - s.t0).Seconds()
	dx := x - s.tMean
	s.tMean += dx / n
	s.tm2 += dx * (x - s.tMean)
	s.ctv += dx * (v - s.mean)
	if v < s.Min {
		s.Min = v
	}
	if v > s.Max {
		s.Max = v
	}
	s.sumSq += v * v
	if v != 0 {
		if s.N > 1 && s.last == 0 {
			s.rises++
		}
		s.set++
	}
	s.last = v
	if s.KeepValues {
		s.values = append(s.values, v)
	}
}

// Reset empties the accumulator, keeping any value storage.
func (s *Stats) Reset() {
	keep, vals := s.KeepValues, s.values[:0]
	*s = Stats{KeepValues: keep, values: vals}
}

// Mean is the arithmetic mean (NaN when empty).
func (s *Stats) Mean() float64 {
	if s.N == 0 {
		return math.NaN()
	}
	return s.mean
}

// Std is the population standard deviation (NaN when empty).
func (s *Stats) Std() float64 {
	if s.N == 0 {
		return math.NaN()
	}
	return math.Sqrt(s.m2 / float64(s.N))
}

// RMS is the root mean square (NaN when empty).
func (s *Stats) RMS() float64 {
	if s.N == 0 {
		return math.NaN()
	}
	return math.Sqrt(s.sumSq / float64(s.N))
}

// SlopePerMinute is the least-squares slope of value against time, per
// minute: the drift measure of the protocol language (NaN with fewer than
// two distinct times).
func (s *Stats) SlopePerMinute() float64 {
	if s.N < 2 || s.tm2 == 0 {
		return math.NaN()
	}
	return s.ctv / s.tm2 * 60
}

// Quantile returns the q-quantile (0..1) by linear interpolation between
// order statistics, or NaN if values were not kept or there are none. It
// sorts the kept values in place.
func (s *Stats) Quantile(q float64) float64 {
	if len(s.values) == 0 {
		return math.NaN()
	}
	slices.Sort(s.values)
	pos := q * float64(len(s.values)-1)
	i := int(pos)
	if i >= len(s.values)-1 {
		return s.values[len(s.values)-1]
	}
	f := pos - float64(i)
	return s.values[i]*(1-f) + s.values[i+1]*f
}

// Aggregate returns the named frame aggregate of the protocol language
// (mean, min, max, std, rms, p5, p50, p95, slope; count, the rising edges,
// and fraction, the share of samples set, in percent), and false for an
// unknown name.
func (s *Stats) Aggregate(name string) (float64, bool) {
	if s.N == 0 {
		return math.NaN(), true
	}
	switch name {
	case "mean":
		return s.Mean(), true
	case "min":
		return s.Min, true
	case "max":
		return s.Max, true
	case "std":
		return s.Std(), true
	case "rms":
		return s.RMS(), true
	case "slope":
		return s.SlopePerMinute(), true
	case "p5":
		return s.Quantile(0.05), true
	case "p50":
		return s.Quantile(0.50), true
	case "p95":
		return s.Quantile(0.95), true
	case "count":
		return float64(s.rises), true
	case "fraction":
		return 100 * float64(s.set) / float64(s.N), true
	}
	return math.NaN(), false
}

// Window holds the samples of the last Span of a stream, so that an
// aggregate over "the last 30 s" of a step is exact whatever the step's
// length. Memory is Span × sample rate.
type Window struct {
	Span  time.Duration
	times []time.Duration
	vals  []float64
	head  int // index of the oldest sample
	n     int
}

// NewWindow returns a window over span for a stream of the given rate.
func NewWindow(span time.Duration, rate float64) *Window {
	c := int(math.Ceil(span.Seconds()*rate)) + 2
	return &Window{Span: span, times: make([]time.Duration, c), vals: make([]float64, c)}
}

// Add appends a sample and drops those older than Span before t.
func (w *Window) Add(t time.Duration, v float64) {
	for w.n > 0 && t-w.times[w.head] >= w.Span {
		w.head = ringNext(w.head, len(w.vals))
		w.n--
	}
	if w.n == len(w.vals) { // rate higher than declared: drop the oldest
		w.head = ringNext(w.head, len(w.vals))
		w.n--
	}
	i := ringAt(w.head, w.n, len(w.vals))
	w.times[i], w.vals[i] = t, v
	w.n++
}

// Stats replays the window into s (after resetting it).
func (w *Window) Stats(s *Stats) {
	s.Reset()
	for k := 0; k < w.n; k++ {
		i := ringAt(w.head, k, len(w.vals))
		s.Add(w.times[i], w.vals[i])
	}
}

// Reset empties the window.
func (w *Window) Reset() { w.head, w.n = 0, 0 }

// Len is the number of samples in the window.
func (w *Window) Len() int { return w.n }

// Summary is the light accumulator of a step's per-channel statistics:
// count, mean, variance (Welford), min and max. Summaries of consecutive
// spans merge exactly (Merge), so a step's summary is the merge of its
// children's and only the innermost running step accumulates per frame.
type Summary struct {
	N        int64
	mean, m2 float64
	Min, Max float64
}

// Add accounts one sample.
func (s *Summary) Add(v float64) {
	if s.N == 0 {
		s.Min, s.Max = v, v
	} else if v < s.Min {
		s.Min = v
	} else if v > s.Max {
		s.Max = v
	}
	s.N++
	d := v - s.mean
	s.mean += d / float64(s.N)
	s.m2 += d * (v - s.mean)
}

// Merge adds the samples summarised by o (Chan et al.'s parallel formula).
func (s *Summary) Merge(o *Summary) {
	switch {
	case o.N == 0:
		return
	case s.N == 0:
		*s = *o
		return
	}
	n := s.N + o.N
	d := o.mean - s.mean
	s.m2 += o.m2 + d*d*float64(s.N)*float64(o.N)/float64(n)
	s.mean += d * float64(o.N) / float64(n)
	s.N = n
	s.Min, s.Max = min(s.Min, o.Min), max(s.Max, o.Max)
}

// Mean is the mean (NaN when empty).
func (s *Summary) Mean() float64 {
	if s.N == 0 {
		return math.NaN()
	}
	return s.mean
}

// Std is the population standard deviation (NaN when empty).
func (s *Summary) Std() float64 {
	if s.N == 0 {
		return math.NaN()
	}
	return math.Sqrt(s.m2 / float64(s.N))
}
