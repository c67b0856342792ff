package daq

import (
	"math"
	"time"
)

// Rolling keeps mean, std, rms, min and max over a trailing time window,
// updated in O(1) amortised per sample, so an until condition such as
// "mean(aop, 10 s) within 65 mmHg ± 3 mmHg" can be checked on every frame.
type Rolling struct {
	win            *Window
	sum, sumSq     float64
	minQ, maxQ     deque
	added, evicted int64 // sample sequence numbers
	sinceExact     int
	// first and last are the times of the first and the latest sample;
	// period is the sample period. The window is full once the samples
	// cover its span, whether or not conversions were lost within it.
	first, last, period time.Duration
}

// NewRolling returns a rolling aggregate over span at the given sample rate.
func NewRolling(span time.Duration, rate float64) *Rolling {
	w := NewWindow(span, rate)
	c := len(w.vals)
	return &Rolling{win: w, minQ: newDeque(c), maxQ: newDeque(c), period: time.Duration(math.Round(float64(time.Second) / rate))}
}

// Add appends a sample at t, evicting samples older than the span.
func (r *Rolling) Add(t time.Duration, v float64) {
	w := r.win
	for w.n > 0 && (t-w.times[w.head] >= w.Span || w.n == len(w.vals)) {
		old := w.vals[w.head]
		r.sum -= old
		r.sumSq -= old * old
		r.minQ.evict(r.evicted)
		r.maxQ.evict(r.evicted)
		r.evicted++
		w.head = ringNext(w.head, len(w.vals))
		w.n--
	}
	i := ringAt(w.head, w.n, len(w.vals))
	w.times[i], w.vals[i] = t, v
	w.n++
	if r.added == 0 {
		r.first = t
	}
	r.last = t
	r.sum += v
	r.sumSq += v * v
	r.minQ.push(r.added, v, func(a, b float64) bool { return a >= b })
	r.maxQ.push(r.added, v, func(a, b float64) bool { return a <= b })
	r.added++
	// Running sums drift after millions of add/subtract pairs: recompute
	// exactly once per window length.
	if r.sinceExact++; r.sinceExact >= len(w.vals) {
		r.sinceExact = 0
		r.sum, r.sumSq = 0, 0
		for k := 0; k < w.n; k++ {
			x := w.vals[ringAt(w.head, k, len(w.vals))]
			r.sum += x
			r.sumSq += x * x
		}
	}
}

// Full reports whether the samples cover the window's whole span yet: a
// condition on "the mean of the last 10 s" must not be met after 1 s, and
// must be met after 10 s even if conversions were lost within them.
func (r *Rolling) Full() bool { return r.added > 0 && r.last-r.first+r.period >= r.win.Span }

// Aggregate returns mean, std, rms, min or max over the window.
func (r *Rolling) Aggregate(name string) (float64, bool) {
	n := float64(r.win.n)
	if n == 0 {
		return math.NaN(), true
	}
	mean := r.sum / n
	switch name {
	case "mean":
		return mean, true
	case "std":
		return math.Sqrt(max(0, r.sumSq/n-mean*mean)), true
	case "rms":
		return math.Sqrt(max(0, r.sumSq/n)), true
	case "min":
		return r.minQ.front(), true
	case "max":
		return r.maxQ.front(), true
	}
	return math.NaN(), false
}

// Sum is the sum of the window's samples (a flag's rising edges, when
// the samples are 1 at each).
func (r *Rolling) Sum() float64 { return r.sum }

// RollingAggregates are the aggregates Rolling supports.
var RollingAggregates = []string{"mean", "std", "rms", "min", "max"}

// deque is a monotonic queue of (sequence, value) in a fixed ring.
type deque struct {
	seq        []int64
	val        []float64
	head, size int
}

func newDeque(c int) deque { return deque{seq: make([]int64, c), val: make([]float64, c)} }

func (d *deque) push(s int64, v float64, dominated func(back, v float64) bool) {
	for d.size > 0 {
		b := ringAt(d.head, d.size-1, len(d.val))
		if !dominated(d.val[b], v) {
			break
		}
		d.size--
	}
	i := ringAt(d.head, d.size, len(d.val))
	d.seq[i], d.val[i] = s, v
	d.size++
}

func (d *deque) evict(s int64) {
	if d.size > 0 && d.seq[d.head] == s {
		d.head = ringNext(d.head, len(d.val))
		d.size--
	}
}

func (d *deque) front() float64 { return d.val[d.head] }

// ringNext is the index after i in a ring of n, and ringAt the index k
// after head (0 ≤ i, head, k < n): a compare instead of the division of
// a modulo, on paths that run for every frame.
func ringNext(i, n int) int {
	if i++; i == n {
		return 0
	}
	return i
}

func ringAt(head, k, n int) int {
	if i := head + k; i < n {
		return i
	}
	return head + k - n
}
