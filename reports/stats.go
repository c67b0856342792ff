package reports

import (
	"math"

	"github.com/mockloop/mockloop/runlog"
)

// moments accumulates count, mean, variance (Welford's method, stable over
// millions of values), minimum and maximum of a stream of values.
type moments struct {
	n        int64
	mean, m2 float64
	min, max float64
}

// add adds a value; NaN is skipped.
func (m *moments) add(v float64) {
	if v != v {
		return
	}
	if m.n == 0 {
		m.min, m.max = v, v
	} else {
		m.min, m.max = min(m.min, v), max(m.max, v)
	}
	m.n++
	d := v - m.mean
	m.mean += d / float64(m.n)
	m.m2 += d * (v - m.mean)
}

// merge adds the values summarised by o (Chan et al.'s parallel formula).
func (m *moments) merge(o moments) {
	if o.n == 0 {
		return
	}
	if m.n == 0 {
		*m = o
		return
	}
	n := m.n + o.n
	d := o.mean - m.mean
	m.mean += d * float64(o.n) / float64(n)
	m.m2 += o.m2 + d*d*float64(m.n)*float64(o.n)/float64(n)
	m.min, m.max = min(m.min, o.min), max(m.max, o.max)
	m.n = n
}

// std is the population standard deviation, as runlog.ChannelStats has it.
func (m *moments) std() float64 {
	if m.n == 0 {
		return math.NaN()
	}
	return math.Sqrt(max(0, m.m2/float64(m.n)))
}

// channelStats converts to the record's statistics type.
func (m *moments) channelStats(unit string) runlog.ChannelStats {
	if m.n == 0 {
		nan := math.NaN()
		return runlog.ChannelStats{Unit: unit, Mean: nan, Min: nan, Max: nan, Std: nan}
	}
	return runlog.ChannelStats{Unit: unit, N: m.n, Mean: m.mean, Min: m.min, Max: m.max, Std: m.std()}
}

// momentsOf converts back from the record's statistics, so that the
// statistics of several executions of a step can be pooled.
func momentsOf(s runlog.ChannelStats) moments {
	if s.N == 0 || math.IsNaN(s.Mean) {
		return moments{}
	}
	sd := s.Std
	if math.IsNaN(sd) {
		sd = 0
	}
	return moments{n: s.N, mean: s.Mean, m2: sd * sd * float64(s.N), min: s.Min, max: s.Max}
}

// nan is a quiet NaN, the "no value" of statistics.
func nan() float64 { return math.NaN() }
