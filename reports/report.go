package reports

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// Plot resolution: the columns of a trend over the whole run and of a
// step's waveform. They bound the memory of a report whatever the run's
// length, and match the width of a plot on a page or screen.
const (
	trendCols = 1000 // even: a growing envelope merges columns pairwise
	waveCols  = 600
	waveSpanS = 3.0 // seconds of the end of each step shown as waveform

	maxWavesAll  = 24 // step executions that all get a waveform
	maxWaves     = 48 // waveforms at most
	maxStepMarks = 40 // step start marks on a trend at most
)

// Report is a run as the V&V reports present it, gathered from its record
// by Load in one pass over the frames. Its Write methods render it; they
// may be called in any order and more than once.
type Report struct {
	// Generated is when the report was made, shown in the HTML and PDF.
	// Load sets it to the current time; set it to make output repeatable.
	Generated time.Time

	// source says what the report was made from: "the run record", or
	// InfluxDB (then no frame segment was read and no checksum verified).
	source string
	influx bool
	src    source // frames and beats are read from here

	dir    string
	run    *runlog.Run
	events eventSummary
	steps  []stepExec
	crit   []critRow
	trace  traceView
	beats  *beatsView
	frames runlog.FrameStats
	seal   *runlog.Verification // nil: made from InfluxDB, nothing to verify
	judged *verdictCheck        // criteria judged again from the record; nil: from InfluxDB, or no result
	firstT int64                // ns, time of the first frame, -1 without frames
	lastT  int64                // ns, time of the last frame
	waves  []waveView
	trends []*figure
	notes  []string // problems found reading the record
	wNote  string   // which steps have waveforms, when not all
	tNote  string   // how to read the trends

	trustChecked bool // seal's signatures checked against a keyring (distrust)

	unreached []critRow // criteria the run ended before judging (unreachedRows)
}

// waveView is the waveform plots of the end of one step execution.
type waveView struct {
	Title   string
	Figures []*figure
	step    int
	lo, hi  float64 // window, seconds
	env     *envelope
}

// Load reads the run record in dir — a finished, failed, aborted,
// interrupted or even running run — and gathers what the reports show,
// reading frames, events and beats once each, as streams.
//
// Damage in the record (a torn or corrupt frame record, malformed event or
// beat lines) does not fail Load: the report shows what could be read and
// says what could not. Load fails when the manifest cannot be read or a
// file cannot be read at all.
func Load(dir string) (*Report, error) { return load(dir, true) }

// load is Load, skipping the pass over the frames unless scan: the JUnit
// and CSV reports do not need it, and it is most of the work.
func load(dir string, scan bool) (*Report, error) {
	return loadFrom(context.Background(), &recordSource{dir: dir}, scan)
}

// hasBeats reports whether the run has a beats file.
func (r *Report) hasBeats() bool { return r.beats != nil }

// eventCount returns the number of events of kind k.
func (r *Report) eventCount(k string) int64 {
	for _, c := range r.events.Counts {
		if c.Kind == k {
			return c.Count
		}
	}
	return 0
}

// runLength is a run's length in seconds: its result's, else from its
// start to its end in the manifest, else to its last event (lastT).
func runLength(res *runlog.Result, m *runlog.Manifest, lastT float64) float64 {
	switch {
	case res != nil && res.DurationS > 0:
		return res.DurationS
	case !m.Ended.IsZero():
		return m.Ended.Sub(m.Epoch).Seconds()
	}
	return lastT
}

// newTrend is the trend envelope of every one of width channels over a run
// expected to last durS seconds (a little more, so the last frame fits);
// it grows if the run is longer.
func newTrend(width int, durS float64) *envelope {
	all := make([]int, width)
	for i := range all {
		all[i] = i
	}
	span := durS*1.002 + 0.01
	return newEnvelope(all, trendCols, 0, int64(math.Ceil(span*1e9/trendCols)), true)
}

// scanFrames makes from the frames the trend envelope of every channel,
// the waveform envelopes of the ends of steps, and the statistics of steps
// whose result has none (an interrupted run), then the plots. durS is the
// expected length of the run; the trend adapts if it is longer. From a
// source that is a summarizer, the trend and the statistics are its
// reductions and only the waveform windows are scanned; from any other,
// one pass over every frame makes all three.
func (r *Report) scanFrames(ctx context.Context, durS float64) error {
	layout := r.run.Manifest.Layout
	trend := newTrend(len(layout), durS)
	r.waves, r.wNote = waveWindows(r.steps, layout)
	if sum, ok := r.src.(summarizer); ok {
		if err := r.summarize(ctx, sum, trend); err != nil {
			return err
		}
	} else if err := r.scanAll(ctx, trend); err != nil {
		return err
	}
	r.plots(trend)
	return nil
}

// waveWindows are the empty waveform envelopes, pressures and flows over
// the last waveSpanS seconds, of the steps pickWaveSteps chooses, and its
// note.
func waveWindows(steps []stepExec, layout []runlog.Channel) ([]waveView, string) {
	var hemoCols []int
	for _, g := range hemodynamic(channelGroups(layout)) {
		hemoCols = append(hemoCols, g.Cols...)
	}
	idx, note := pickWaveSteps(steps)
	var waves []waveView
	for _, i := range idx {
		s := &steps[i]
		lo, hi := max(s.StartS, s.EndS-waveSpanS), s.EndS
		dt := int64(math.Ceil((hi - lo) * 1e9 / waveCols))
		waves = append(waves, waveView{step: i, lo: lo, hi: hi, env: newEnvelope(hemoCols, waveCols, durationOf(lo), dt, false)})
	}
	return waves, note
}

// stepsWithoutStats are the indices of the steps whose result has no
// statistics.
func (r *Report) stepsWithoutStats() []int {
	var need []int
	for i := range r.steps {
		if r.steps[i].Stats == nil {
			need = append(need, i)
		}
	}
	return need
}

// setComputedStats gives step i the statistics computed for this report,
// in layout order, and its frame count unless its result has one.
func (r *Report) setComputedStats(i int, stats []runlog.ChannelStats, frames int64) {
	s := &r.steps[i]
	s.Stats, s.computed = map[string]runlog.ChannelStats{}, true
	for j, c := range r.run.Manifest.Layout {
		s.Stats[c.Name] = stats[j]
	}
	if s.Frames == 0 {
		s.Frames = frames
	}
}

// scanAll is the one pass over every frame of the source: into the trend,
// the waveform windows the frame falls in, and the moments of the steps
// without statistics it falls in.
func (r *Report) scanAll(ctx context.Context, trend *envelope) error {
	layout := r.run.Manifest.Layout
	var wlo, whi []int64
	for _, w := range r.waves {
		wlo, whi = append(wlo, durationOf(w.lo)), append(whi, durationOf(w.hi))
	}
	waveCur := newCursor(wlo, whi)

	need := r.stepsWithoutStats()
	var slo, shi []int64
	for _, i := range need {
		slo, shi = append(slo, durationOf(r.steps[i].StartS)), append(shi, durationOf(r.steps[i].EndS))
	}
	statCur := newCursor(slo, shi)
	acc := make([][]moments, len(need))
	for i := range acc {
		acc[i] = make([]moments, len(layout))
	}
	nframes := make([]int64, len(need))

	st, err := r.src.scan(ctx, 0, 0, func(ns int64, v []float64) error {
		if r.firstT < 0 {
			r.firstT = ns
		}
		r.lastT = ns
		trend.add(ns, v)
		if len(wlo) > 0 {
			for _, i := range waveCur.at(ns) {
				r.waves[i].env.add(ns, v)
			}
		}
		if len(need) > 0 {
			for _, i := range statCur.at(ns) {
				nframes[i]++
				a := acc[i]
				for j, x := range v {
					a[j].add(x)
				}
			}
		}
		return nil
	})
	r.frames = st
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}

	for k, i := range need {
		stats := make([]runlog.ChannelStats, len(layout))
		for j, c := range layout {
			stats[j] = acc[k][j].channelStats(c.Unit)
		}
		r.setComputedStats(i, stats, nframes[k])
	}
	return nil
}

// summarize fills the trend and the statistics of steps without any from
// the reductions of sum, and the waveform windows from scans of those
// windows only: what the report shows of a long run without reading every
// frame (from InfluxDB, a server's aggregates take a second where the
// frames of an hour take minutes to stream). The first and last frame, and
// the frame count, are the source's head's.
func (r *Report) summarize(ctx context.Context, sum summarizer, trend *envelope) error {
	layout := r.run.Manifest.Layout
	if r.firstT >= 0 {
		for r.lastT >= trend.t0+int64(trend.n)*trend.dt {
			trend.double() // as the pass's envelope grows when a frame falls past it
		}
		if err := sum.trend(ctx, trend); err != nil {
			return err
		}
		for i := range r.waves {
			env := r.waves[i].env
			_, err := r.src.scan(ctx, durationOf(r.waves[i].lo), durationOf(r.waves[i].hi), func(t int64, v []float64) error {
				env.add(t, v)
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	for _, i := range r.stepsWithoutStats() {
		stats := make([]runlog.ChannelStats, len(layout))
		for j, c := range layout {
			stats[j] = (&moments{}).channelStats(c.Unit)
		}
		var frames int64
		from, to := durationOf(r.steps[i].StartS), durationOf(r.steps[i].EndS)
		if r.firstT >= 0 && to > from {
			var err error
			if frames, err = sum.stepStats(ctx, layout, from, to, stats); err != nil {
				return err
			}
		}
		r.setComputedStats(i, stats, frames)
	}
	return nil
}

// plots makes the figures from the envelopes.
func (r *Report) plots(trend *envelope) {
	layout := r.run.Manifest.Layout
	rate := r.run.Manifest.SampleRateHz
	groups := channelGroups(layout)
	for i := range r.waves {
		w := &r.waves[i]
		s := &r.steps[w.step]
		w.Title = fmt.Sprintf("Step %s: last %s (%s – %s s)", s.label(), fmtDuration(w.hi-w.lo), fmtNum3(w.lo), fmtNum3(w.hi))
		if w.env.frames == 0 {
			continue
		}
		for _, g := range hemodynamic(groups) {
			f := waveformFigure(g.Title, g, w.env, layout, w.lo, w.hi, gapOf(w.env, rate))
			w.Figures = append(w.Figures, f)
		}
		w.env = nil // let the envelope go; the figures have what is needed
	}
	if r.firstT < 0 {
		return
	}
	x0, x1 := float64(r.firstT)/1e9, float64(r.lastT)/1e9
	xs, xl := timeAxis(x1 - x0)
	var marks []mark
	for _, s := range r.steps {
		if !strings.Contains(s.Path, ".") {
			marks = append(marks, mark{X: s.StartS / xs, Label: s.Path})
		}
	}
	if len(marks) > maxStepMarks {
		marks = nil
	}
	for _, g := range groups {
		r.trends = append(r.trends, trendFigure(g, trend, layout, x0, x1, gapOf(trend, rate), xs, xl, marks))
	}
	r.tNote = fmt.Sprintf("Each of the %d plot columns spans %s of the run: the band is the range of the frames in it (minimum to maximum, so no peak is lost), the line their mean. Dotted lines mark the start of top-level steps.",
		trendCols, fmtDuration(trend.width()))
	if marks == nil {
		r.tNote = strings.TrimSuffix(r.tNote, " Dotted lines mark the start of top-level steps.")
	}
}

// pickWaveSteps chooses the step executions that get a waveform: all of
// them in a short run; in a long, repetitive one the first and the last
// execution of each step as written (of a loop, its first and last
// iteration); steps with nested steps never (their end is
// their last child's). It says so in note when not all are shown.
func pickWaveSteps(steps []stepExec) (idx []int, note string) {
	var cand []int
	for i := range steps {
		if steps[i].EndS > steps[i].StartS && !isParent(steps[i].Path, steps) {
			cand = append(cand, i)
		}
	}
	if len(cand) <= maxWavesAll {
		return cand, ""
	}
	first, last := map[string]int{}, map[string]int{}
	var paths []string
	for _, i := range cand {
		p := steps[i].writtenLabel() // every iteration of a loop is the same step
		if _, ok := first[p]; !ok {
			first[p] = i
			paths = append(paths, p)
		}
		last[p] = i
	}
	pick := func(both bool) []int {
		var out []int
		for _, p := range paths {
			if both && first[p] != last[p] {
				out = append(out, first[p])
			}
			out = append(out, last[p])
		}
		return out
	}
	idx = pick(true)
	how := "the first and the last execution of each step"
	if len(idx) > maxWaves {
		idx, how = pick(false), "the last execution of each step"
	}
	if len(idx) > maxWaves {
		idx, how = idx[:maxWaves], fmt.Sprintf("the last execution of the first %d steps", maxWaves)
	}
	// In time order.
	slices.Sort(idx)
	return idx, fmt.Sprintf("Waveforms are shown for %d of %d step executions: %s.", len(idx), len(cand), how)
}
