package reports

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/mockloop/mockloop/runlog"
)

// stepExec is one executed step, from result.json or, for a run without
// steps in its result (an interrupted run), from its events.
type stepExec struct {
	Index        int
	Path, Name   string
	StartS, EndS float64
	Frames       int64
	Outcome      string
	Stats        map[string]runlog.ChannelStats
	computed     bool // Stats computed by the report from the frames
}

// label names the step as the reports do: "2.1 settle".
func (s *stepExec) label() string { return stepLabel(s.Path, s.Name) }

// writtenLabel names the step as the protocol writes it, without the
// iteration of a loop: "2.1 hour" for "2[17].1 hour [#17]".
func (s *stepExec) writtenLabel() string {
	p, n, _ := written(s.Path, s.Name)
	return stepLabel(p, n)
}

// stepsOf returns the run's step executions: the result's, or else those
// the events tell of. A step the events saw start but not end (the run was
// interrupted) ends at endS.
func stepsOf(res *runlog.Result, spans []stepSpan, endS float64) []stepExec {
	var out []stepExec
	if res != nil && len(res.Steps) > 0 {
		for _, s := range res.Steps {
			out = append(out, stepExec{Index: s.Index, Path: s.Path, Name: s.Name, StartS: s.StartS, EndS: s.EndS,
				Frames: s.Frames, Outcome: string(s.Outcome), Stats: s.Channels})
		}
		return out
	}
	for i, sp := range spans {
		e := stepExec{Index: i, Path: sp.Path, Name: sp.Name, StartS: sp.StartS, EndS: sp.EndS, Frames: sp.Frames, Outcome: sp.Outcome}
		if math.IsNaN(e.EndS) {
			e.EndS, e.Outcome = max(endS, e.StartS), "unfinished"
		}
		out = append(out, e)
	}
	return out
}

// isParent reports whether the step at path has nested steps among steps:
// its time covers theirs, so its waveform would repeat its last child's.
func isParent(path string, steps []stepExec) bool {
	for i := range steps {
		if p := steps[i].Path; strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") { // "2[17].1" is in loop 2
			return true
		}
	}
	return false
}

// poolSteps reports whether the step statistics pool the executions of
// each step as written: when the run executed more than maxStepExecs
// steps, or a step more than maxIterRows times (a loop's iterations).
func poolSteps(steps []stepExec) bool {
	if len(steps) > maxStepExecs {
		return true
	}
	n := map[string]int{}
	for i := range steps {
		k := steps[i].writtenLabel()
		if n[k]++; n[k] > maxIterRows {
			return true
		}
	}
	return false
}

// cursor finds, for times given in increasing order, the intervals
// (lo, hi] that contain them, in amortised constant time per call. Steps
// are such intervals: a step's frames come after its start (the last frame
// of the step before, or the instant its setpoints were applied) up to
// and including its end, as the engine accounts them.
type cursor struct {
	lo, hi []int64 // interval bounds, ns
	order  []int   // interval indices by lo
	next   int     // next interval in order to start
	active []int   // intervals containing the last time
}

// newCursor returns a cursor over the intervals (lo[i], hi[i]].
func newCursor(lo, hi []int64) *cursor {
	c := &cursor{lo: lo, hi: hi, order: make([]int, len(lo))}
	for i := range c.order {
		c.order[i] = i
	}
	slices.SortStableFunc(c.order, func(a, b int) int { return cmp.Compare(lo[a], lo[b]) })
	return c
}

// at returns the intervals that contain t. The slice is reused by the next
// call. Times must not decrease between calls (frames are in order); an
// earlier time is treated as the last one seen.
func (c *cursor) at(t int64) []int {
	if len(c.active) > 0 {
		keep := c.active[:0]
		for _, i := range c.active {
			if t <= c.hi[i] {
				keep = append(keep, i)
			}
		}
		c.active = keep
	}
	for c.next < len(c.order) && c.lo[c.order[c.next]] < t {
		if i := c.order[c.next]; t <= c.hi[i] {
			c.active = append(c.active, i)
		}
		c.next++
	}
	return c.active
}

// stepStatRow is one row of the per-step statistics table.
type stepStatRow struct {
	Step    string // step label; empty on continuation rows of the same step
	Span    string // "0.010 – 30.010 s", or the number of executions when pooled
	Outcome string
	Channel string
	Unit    string
	N       string
	Mean    string
	Min     string
	Max     string
	Std     string
	First   bool // first row of a step
}

// stepsView is the per-step statistics section.
type stepsView struct {
	Pooled   bool // executions of the same step pooled (too many to list)
	Note     string
	Rows     []stepStatRow
	Computed bool // some statistics were computed from the frames
}

// maxStepExecs is the number of step executions listed one by one; beyond
// it, executions of the same step path are pooled into one entry.
const maxStepExecs = 30

// stepStats builds the per-step statistics section. layout gives the
// channel order.
func stepStats(steps []stepExec, layout []runlog.Channel) stepsView {
	var sv stepsView
	type entry struct {
		label, span, outcome string
		stats                map[string]moments
		units                map[string]string
	}
	var entries []*entry
	pool := poolSteps(steps)
	sv.Pooled = pool
	if pool {
		sv.Note = "The run executed more steps than are listed one by one; executions of the same step, every iteration of a loop, are pooled (n-weighted mean, pooled standard deviation, overall minimum and maximum). result.json has each execution."
	}
	byPath := map[string]*entry{}
	counts := map[string]int{}
	for i := range steps {
		s := &steps[i]
		if s.computed {
			sv.Computed = true
		}
		var e *entry
		key, label := s.Path+"\x00"+s.Name, s.label()
		if pool {
			key, label = s.writtenLabel(), s.writtenLabel()
			e = byPath[key]
			counts[key]++
		}
		if e == nil {
			e = &entry{label: label, span: fmtNum3(s.StartS) + " – " + fmtSeconds(s.EndS), outcome: s.Outcome,
				stats: map[string]moments{}, units: map[string]string{}}
			entries = append(entries, e)
			if pool {
				byPath[key] = e
			}
		} else if verdictRank(s.Outcome) > verdictRank(e.outcome) {
			e.outcome = s.Outcome
		}
		for name, st := range s.Stats {
			m := e.stats[name]
			m.merge(momentsOf(st))
			e.stats[name] = m
			e.units[name] = st.Unit
		}
	}
	if pool {
		for k, e := range byPath {
			e.span = plural(counts[k], "execution")
		}
	}
	for _, e := range entries {
		first := true
		for _, ch := range orderedChannels(e.stats, layout) {
			m := e.stats[ch]
			r := stepStatRow{Channel: ch, Unit: e.units[ch], N: "0", Mean: "-", Min: "-", Max: "-", Std: "-", First: first}
			if first {
				r.Step, r.Span, r.Outcome = e.label, e.span, e.outcome
			}
			first = false
			if m.n > 0 {
				r.N, r.Mean, r.Min, r.Max, r.Std = fmtCount(m.n), statNum(m.mean), statNum(m.min), statNum(m.max), statNum(m.std())
			}
			sv.Rows = append(sv.Rows, r)
		}
		if first { // no statistics at all
			sv.Rows = append(sv.Rows, stepStatRow{Step: e.label, Span: e.span, Outcome: e.outcome, Channel: "-", First: true})
		}
	}
	return sv
}

// orderedChannels returns the names in m in layout order, then any others
// sorted.
func orderedChannels[V any](m map[string]V, layout []runlog.Channel) []string {
	var out []string
	for _, c := range layout {
		if _, ok := m[c.Name]; ok {
			out = append(out, c.Name)
		}
	}
	var rest []string
	for k := range m {
		if !slices.ContainsFunc(layout, func(c runlog.Channel) bool { return c.Name == k }) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}
