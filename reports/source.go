package reports

import (
	"context"
	"fmt"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// source is where a report reads a run from: its record (recordSource) or
// its points in InfluxDB (influxRun). Whatever a source holds, the report
// is made by the same code: one pass over the frames (Report.scanFrames;
// a summarizer's reductions instead where the source has them), one CSV
// writer of frames and one of beats.
type source interface {
	// head reads what a report needs of the run besides its frames and
	// beats, as far as the source has it.
	head(ctx context.Context) (*runHead, error)
	// scan calls fn with at least every frame with from < t ≤ to (ns on
	// the run clock; from 0 takes t = 0 too, to ≤ from means no upper
	// bound), in time order, with its values in the layout's order; the
	// caller selects, since a source may pass more (the record's segments
	// cost the same to read either way). v is reused. It returns what the
	// source counts of the run's frames, for the record's integrity.
	scan(ctx context.Context, from, to int64, fn func(t int64, v []float64) error) (runlog.FrameStats, error)
	// eachBeat calls fn with every beat of the run, in time order, and
	// returns how many it left out since they could not be read (no
	// channel). It fails with fs.ErrNotExist when the run has no beats at
	// all. b is reused.
	eachBeat(ctx context.Context, fn func(b *runlog.Beat) error) (malformed int, err error)
	// lateNotes are the source's notes once the report has its beats and
	// criteria, after those of head.
	lateNotes(r *Report) []string
}

// summarizer is a source that can reduce the frames itself. A report from
// it takes the trend and the statistics of steps without any from its
// reductions, and scans only the frames of the waveform windows: InfluxDB
// aggregates an hour of frames in about a second, where streaming them to
// the report takes minutes. Reading frames is still scan's alone.
type summarizer interface {
	// trend fills env, a growing envelope of all the layout's channels,
	// with each column's minimum, maximum, sum and count of values per
	// channel; the times of a column's extremes are its start.
	trend(ctx context.Context, env *envelope) error
	// stepStats sets, in stats (layout order), the statistics of each
	// channel that has values in the frames with from < t ≤ to (ns on the
	// run clock), and returns how many frames there are: the most values of
	// any channel.
	stepStats(ctx context.Context, layout []runlog.Channel, from, to int64, stats []runlog.ChannelStats) (frames int64, err error)
}

// runHead is what a source has of a run besides its frames and beats.
type runHead struct {
	run    *runlog.Run
	dir    string // the run's directory, or where it would be
	from   string // what the report is made from, in its text
	influx bool   // no frame segment is read, no checksum verified
	events eventSummary
	spans  []stepSpan
	// criteria are the evaluated criteria; catalogue the requirements
	// they trace to. partialCatalogue: the catalogue is only the ids the
	// criteria name, so a requirement is never missing from it.
	criteria         []runlog.CriterionResult
	catalogue        []runlog.Requirement
	partialCatalogue bool
	notes            []string
	// frames, firstT and lastT, as the source knows them without the
	// pass over the frames (firstT -1: none known).
	frames        runlog.FrameStats
	firstT, lastT int64
	// seal is the verification of the record against its seal; nil when
	// the source is not a record (InfluxDB).
	seal *runlog.Verification
	// recheck is the criteria judged again from the record (recheck).
	recheck *verdictCheck
}

// loadFrom reads the run from src and gathers what the reports show,
// skipping the pass over the frames unless scan: the JUnit and CSV reports
// do not need it, and it is most of the work.
func loadFrom(ctx context.Context, src source, scan bool) (*Report, error) {
	h, err := src.head(ctx)
	if err != nil {
		return nil, err
	}
	r := &Report{Generated: time.Now().UTC(), source: h.from, influx: h.influx, src: src, dir: h.dir, run: h.run,
		events: h.events, notes: h.notes, frames: h.frames, firstT: h.firstT, lastT: h.lastT, seal: h.seal, judged: h.recheck}
	m := &r.run.Manifest
	durS := runLength(r.run.Result, m, r.events.LastT)
	r.steps = stepsOf(r.run.Result, h.spans, durS)
	if scan {
		if err := r.scanFrames(ctx, durS); err != nil {
			return nil, err
		}
	}
	if r.beats, err = readBeats(ctx, src, r.steps, m.Layout); err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, q := range h.catalogue {
		ids[q.ID] = true
	}
	r.crit = criteriaRows(h.criteria, ids)
	timeCriteria(r.crit, r.steps)
	r.unreached = r.unreachedRows(ids)
	r.trace = traceability(h.catalogue, r.crit)
	if h.partialCatalogue {
		r.trace.NoCatalogue = false
	}
	r.notes = append(r.notes, src.lateNotes(r)...)
	return r, nil
}

// recordSource is a run record on disk.
type recordSource struct {
	dir string
	run *runlog.Run
}

// head reads the manifest, result and events.jsonl of the record.
func (s *recordSource) head(context.Context) (*runHead, error) {
	run, err := runlog.Open(s.dir)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	s.run = run
	h := &runHead{run: run, dir: s.dir, from: "the run record", firstT: -1, catalogue: run.Manifest.Protocol.Requirements}
	if h.seal, err = runlog.Verify(s.dir); err != nil { // a file that cannot be read: not intact
		h.seal = &runlog.Verification{Problems: []string{"the record could not be verified: " + err.Error()}}
	}
	h.recheck = recheck(s.dir, run)
	if run.Result != nil {
		h.criteria = run.Result.Criteria
	}
	h.events, h.spans, err = readEvents(s.dir)
	if err != nil {
		h.notes = append(h.notes, "events.jsonl could not be read to its end: "+err.Error())
	}
	if n := h.events.Malformed; n > 0 {
		h.notes = append(h.notes, fmt.Sprintf("events.jsonl has %s that are not events; they are left out.", plural(n, "line")))
	}
	return h, nil
}

// scan reads every frame of the record's segments: all of them, so that
// the stats count the damage of every segment.
func (s *recordSource) scan(_ context.Context, _, _ int64, fn func(t int64, v []float64) error) (runlog.FrameStats, error) {
	return s.run.Frames(func(t time.Duration, v []float64) error { return fn(int64(t), v) })
}

// eachBeat reads beats.jsonl line by line.
func (s *recordSource) eachBeat(_ context.Context, fn func(b *runlog.Beat) error) (int, error) {
	return runlog.EachBeat(s.dir, fn)
}

// lateNotes say what of beats.jsonl could not be read, and that criteria
// were evaluated that the result does not have.
func (s *recordSource) lateNotes(r *Report) []string {
	var notes []string
	if r.beats != nil && r.beats.Malformed > 0 {
		notes = append(notes, fmt.Sprintf("%s has %s that are not beats; they are left out.", runlog.BeatsFile, plural(r.beats.Malformed, "line")))
	}
	if n := r.eventCount(runlog.KindCriterion); len(r.crit) == 0 && n > 0 {
		notes = append(notes, fmt.Sprintf("The run's result has no criteria, but events.jsonl records %s evaluated before the run ended (kind %q).", plural(int(n), "criterion"), runlog.KindCriterion))
	}
	return notes
}
