package reports

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// beatMetric names one quantity of a beat, with its unit (empty: the
// channel's pressure unit). get returns nil when the beat does not have it
// (runlog.Beat reads a missing value as NaN, or StrokeVolume as nil).
type beatMetric struct {
	Key, Title, Unit string
	get              func(*runlog.Beat) *float64
}

var beatMetrics = []beatMetric{
	{"systolic", "Systolic", "", func(b *runlog.Beat) *float64 { return present(&b.Systolic) }},
	{"diastolic", "Diastolic", "", func(b *runlog.Beat) *float64 { return present(&b.Diastolic) }},
	{"mean", "Mean", "", func(b *runlog.Beat) *float64 { return present(&b.Mean) }},
	{"pulse_pressure", "Pulse pressure", "", func(b *runlog.Beat) *float64 { return present(&b.PulsePressure) }},
	{"heart_rate", "Heart rate", "bpm", func(b *runlog.Beat) *float64 { return present(&b.HeartRate) }},
	{"stroke_volume", "Stroke volume", "ml", func(b *runlog.Beat) *float64 { return b.StrokeVolume }},
}

// present returns p, or nil when *p is NaN: a value the beat does not have.
func present(p *float64) *float64 {
	if math.IsNaN(*p) {
		return nil
	}
	return p
}

// pressureUnit is the unit of beat pressures: the canonical pressure unit
// of the record (units.Pressure), for channels the layout does not name.
const pressureUnit = "mmHg"

// beatGroup is the statistics of the beats of one channel in one step (all
// its executions pooled) or in the whole run.
type beatGroup struct {
	channel, step string
	m             []moments // per beatMetric
}

// beatRow is one row of the beat statistics table.
type beatRow struct {
	Channel string
	Step    string // step label, or "whole run"
	Beats   string
	Cells   []string // per metric: "mean ± sd", or "-"
	Total   bool     // the whole-run row of a channel
}

// beatsView is the beat statistics section; nil when the run has no beats.
type beatsView struct {
	Headers   []string // metric titles with units
	Rows      []beatRow
	Beats     int64
	Malformed int
}

// beatTable accumulates beat statistics per channel and step (as the
// protocol writes it, all executions and iterations pooled) and over the whole run: the one computation behind the
// beat section, whether the beats come from beats.jsonl or from InfluxDB.
type beatTable struct {
	view   beatsView
	steps  []stepExec
	cur    *cursor
	groups map[[2]string]*beatGroup
	order  [][2]string
}

func newBeatTable(steps []stepExec) *beatTable {
	lo, hi := stepBounds(steps)
	return &beatTable{steps: steps, cur: newCursor(lo, hi), groups: map[[2]string]*beatGroup{}}
}

func (t *beatTable) group(ch, step string) *beatGroup {
	k := [2]string{ch, step}
	g, ok := t.groups[k]
	if !ok {
		g = &beatGroup{channel: ch, step: step, m: make([]moments, len(beatMetrics))}
		t.groups[k] = g
		t.order = append(t.order, k)
	}
	return g
}

// add accounts one beat (beats must come in time order).
func (t *beatTable) add(b *runlog.Beat) {
	t.view.Beats++
	whole := t.group(b.Channel, "")
	var inStep *beatGroup
	if i := innermost(t.cur.at(durationOf(b.T)), t.steps); i >= 0 {
		inStep = t.group(b.Channel, t.steps[i].writtenLabel())
	}
	for j, bm := range beatMetrics {
		if v := bm.get(b); v != nil {
			whole.m[j].add(*v)
			if inStep != nil {
				inStep.m[j].add(*v)
			}
		}
	}
}

// finish makes the section: headers with units, then per channel (in
// first-seen order) its steps and its whole-run row.
func (t *beatTable) finish(layout []runlog.Channel) *beatsView {
	bv := &t.view
	unit := pressureUnit
	for _, c := range layout {
		if _, ok := t.groups[[2]string{c.Name, ""}]; ok && c.Unit != "" {
			unit = c.Unit // the unit of the first beat channel in the layout
			break
		}
	}
	for _, bm := range beatMetrics {
		u := bm.Unit
		if u == "" {
			u = unit
		}
		bv.Headers = append(bv.Headers, bm.Title+" ["+u+"]")
	}
	var chans []string
	seen := map[string]bool{}
	for _, k := range t.order {
		if !seen[k[0]] {
			seen[k[0]] = true
			chans = append(chans, k[0])
		}
	}
	for _, ch := range chans {
		for _, k := range t.order {
			if k[0] == ch && k[1] != "" {
				bv.Rows = append(bv.Rows, t.groups[k].row(false))
			}
		}
		bv.Rows = append(bv.Rows, t.groups[[2]string{ch, ""}].row(true))
	}
	return bv
}

// readBeats computes the beat statistics from the beats of a run, read
// once, in order. It returns nil, nil when the run has no beats.
func readBeats(ctx context.Context, src source, steps []stepExec, layout []runlog.Channel) (*beatsView, error) {
	t := newBeatTable(steps)
	bad, err := src.eachBeat(ctx, func(b *runlog.Beat) error { t.add(b); return nil })
	t.view.Malformed += bad
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reports: beats: %w", err)
	}
	return t.finish(layout), nil
}

// row makes the table row of a group.
func (g *beatGroup) row(total bool) beatRow {
	r := beatRow{Channel: g.channel, Step: g.step, Total: total}
	if total {
		r.Step = "whole run"
	}
	var n int64
	for j := range g.m {
		m := &g.m[j]
		n = max(n, m.n)
		if m.n == 0 {
			r.Cells = append(r.Cells, "-")
			continue
		}
		r.Cells = append(r.Cells, statNum(m.mean)+" ± "+statNum(m.std()))
	}
	r.Beats = fmtCount(n)
	return r
}

// stepBounds returns the steps' intervals in ns, for a cursor.
func stepBounds(steps []stepExec) (lo, hi []int64) {
	lo, hi = make([]int64, len(steps)), make([]int64, len(steps))
	for i, s := range steps {
		lo[i], hi[i] = durationOf(s.StartS), durationOf(s.EndS)
	}
	return lo, hi
}

// innermost returns, of the steps at the given indices, the one with the
// shortest span (the most deeply nested), or -1 if there are none.
func innermost(idx []int, steps []stepExec) int {
	best := -1
	for _, i := range idx {
		if best < 0 || steps[i].EndS-steps[i].StartS < steps[best].EndS-steps[best].StartS {
			best = i
		}
	}
	return best
}

// durationOf converts run-clock seconds to ns.
func durationOf(s float64) int64 { return int64(time.Duration(math.Round(s * 1e9))) }
