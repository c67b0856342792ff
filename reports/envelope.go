package reports

import "math"

// envelope reduces frames to what a plot of a fixed number of columns can
// show: per column (an equal slice of time) and channel, the minimum, the
// maximum, their times, and the sum and count for the mean. Its memory is
// proportional to columns × channels, whatever the number of frames, so a
// 24-hour run is reduced in one streaming pass; and every peak survives,
// since a column's extremes are exactly those of its frames.
//
// A growing envelope (trends over a run whose length is not known exactly)
// doubles its column width when a frame falls past its last column, merging
// neighbouring columns pairwise; a fixed one (a step's waveform window)
// ignores frames outside [t0, t0+n·dt).
type envelope struct {
	cols []int // frame indices of the channels kept
	n    int   // columns
	t0   int64 // ns, start of column 0
	dt   int64 // ns, width of a column
	grow bool

	// Per column c and kept channel j, at c*len(cols)+j. A column with
	// cnt 0 has no finite value of that channel.
	lo, hi   []float64
	loT, hiT []int64
	sum      []float64
	cnt      []int64

	frames int64 // frames added (in range)
	last   int   // highest column with a frame, -1 before the first

	// cur is the column of the previous frame and [curLo, curHi) its time
	// span, so that frames in order find their column without a division.
	cur          int
	curLo, curHi int64
}

// newEnvelope returns an envelope of n columns (n even when grow) of width
// dt ns starting at t0 ns, keeping the channels at the given frame indices.
func newEnvelope(cols []int, n int, t0, dt int64, grow bool) *envelope {
	if dt < 1 {
		dt = 1
	}
	w := len(cols)
	e := &envelope{cols: cols, n: n, t0: t0, dt: dt, grow: grow, last: -1, cur: -1,
		lo: make([]float64, n*w), hi: make([]float64, n*w),
		loT: make([]int64, n*w), hiT: make([]int64, n*w),
		sum: make([]float64, n*w), cnt: make([]int64, n*w)}
	for i := range e.lo {
		e.lo[i], e.hi[i] = math.Inf(1), math.Inf(-1)
	}
	return e
}

// add adds a frame at t ns with the values of all channels in frame order.
func (e *envelope) add(t int64, frame []float64) {
	c := e.cur
	if c < 0 || t < e.curLo || t >= e.curHi {
		c = e.column(t)
		if c < 0 {
			return
		}
	}
	e.frames++
	if c > e.last {
		e.last = c
	}
	w := len(e.cols)
	base := c * w
	for j, col := range e.cols {
		v := frame[col]
		if v-v != 0 { // NaN or ±Inf (their difference is NaN): no place on a plot
			continue
		}
		k := base + j
		if v < e.lo[k] {
			e.lo[k], e.loT[k] = v, t
		}
		if v > e.hi[k] {
			e.hi[k], e.hiT[k] = v, t
		}
		e.sum[k] += v
		e.cnt[k]++
	}
}

// column returns the column of time t, growing the envelope if it must, and
// caches it; -1 when a fixed envelope does not cover t.
func (e *envelope) column(t int64) int {
	if t < e.t0 {
		if e.grow {
			t = e.t0 // before the start (not written by the engine): first column
		} else {
			return -1
		}
	}
	c := (t - e.t0) / e.dt
	for c >= int64(e.n) {
		if !e.grow {
			return -1
		}
		e.double()
		c = (t - e.t0) / e.dt
	}
	e.cur = int(c)
	e.curLo = e.t0 + c*e.dt
	e.curHi = e.curLo + e.dt
	return e.cur
}

// double merges columns pairwise, halving the resolution to cover twice
// the time.
func (e *envelope) double() {
	w := len(e.cols)
	for c := 0; c < e.n/2; c++ {
		for j := range w {
			d, a, b := c*w+j, 2*c*w+j, (2*c+1)*w+j
			lo, loT := e.lo[a], e.loT[a]
			if e.lo[b] < lo {
				lo, loT = e.lo[b], e.loT[b]
			}
			hi, hiT := e.hi[a], e.hiT[a]
			if e.hi[b] > hi {
				hi, hiT = e.hi[b], e.hiT[b]
			}
			e.lo[d], e.loT[d], e.hi[d], e.hiT[d] = lo, loT, hi, hiT
			e.sum[d], e.cnt[d] = e.sum[a]+e.sum[b], e.cnt[a]+e.cnt[b]
		}
	}
	for k := e.n / 2 * w; k < e.n*w; k++ {
		e.lo[k], e.hi[k], e.loT[k], e.hiT[k], e.sum[k], e.cnt[k] = math.Inf(1), math.Inf(-1), 0, 0, 0, 0
	}
	if e.last >= 0 {
		e.last /= 2
	}
	e.dt *= 2
	e.cur = -1
}

// bucket is one column of one channel of an envelope, with times in seconds.
type bucket struct {
	T        float64 // middle of the column
	Lo, Hi   float64
	LoT, HiT float64
	Mean     float64
	N        int64
}

// buckets returns the columns that have values of kept channel j, in time
// order. Columns without values are left out: a plot shows them as a gap,
// found where consecutive buckets are more than one column width apart.
func (e *envelope) buckets(j int) []bucket {
	w := len(e.cols)
	var out []bucket
	for c := 0; c <= e.last; c++ {
		k := c*w + j
		if e.cnt[k] == 0 {
			continue
		}
		out = append(out, bucket{
			T:    float64(e.t0+int64(c)*e.dt+e.dt/2) / 1e9,
			Lo:   e.lo[k],
			Hi:   e.hi[k],
			LoT:  float64(e.loT[k]) / 1e9,
			HiT:  float64(e.hiT[k]) / 1e9,
			Mean: e.sum[k] / float64(e.cnt[k]),
			N:    e.cnt[k],
		})
	}
	return out
}

// width returns the column width in seconds.
func (e *envelope) width() float64 { return float64(e.dt) / 1e9 }
