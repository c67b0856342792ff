package reports

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// NotInInflux is what a report made from InfluxDB shows in place of what
// only the run record has (the protocol's hash, the operator, the
// calibration records, ...): such a value is never guessed.
const NotInInflux = "not available from InfluxDB"

// ErrNotInInflux is wrapped by the error of LoadInflux and GenerateInflux
// when InfluxDB holds no point of the run: the run id is wrong, or the run
// was not logged there (yet).
var ErrNotInInflux = errors.New("no such run in InfluxDB")

// influxRun is a run whose points are read from InfluxDB (the schema is
// runlog's, see the runlog.Measurement constants): what LoadInflux builds
// the Report from, and what GenerateInflux reads frames and beats from
// again for the CSV files.
type influxRun struct {
	q      *influxQL
	url    string // the server, without credentials, for the report's notes
	bucket string
	where  string   // the InfluxQL condition selecting the run's points
	epoch  int64    // ns since the Unix epoch of the run's t = 0
	fields []string // the frames' fields (channels), in the report's layout order
}

// influxEvent is a point of the events measurement.
type influxEvent struct {
	ts, seq         int64
	kind, step, msg string
	data            string
	rig             string
}

// influxRunPoint is the run's point of the runs measurement: the sink
// writes it last, once everything else was delivered.
type influxRunPoint struct {
	found       bool
	ts          int64
	rig         string
	outcome     string
	abortReason string
	frames      int64
	durationS   float64
	delivered   bool
}

// influxStepPoint is a point of the steps measurement.
type influxStepPoint struct {
	ts  int64
	res runlog.StepResult
}

// LoadInflux reads the run runID from InfluxDB — its summary point, events,
// step results, beats and frames, as runlog's Sink (or `mockloop sync`)
// wrote them — and builds the same Report model Load builds from the run
// record: for when the record is not on this machine.
//
// The criteria are those of the run's criterion events (each carries the
// whole result, in evaluation order), the step statistics those of its
// step.end events, outcome, abort reason, frame count and duration those of
// its summary point (or, before that point arrived, of its run.end event);
// beat statistics, events, and the plots (trends from InfluxDB's per-column
// minimum, maximum and mean, waveforms from the frames) are made as from
// the record. Values are the record's: frames are float32 there and here,
// the rest travels as JSON or exact decimal text.
//
// What InfluxDB does not hold is shown as NotInInflux, never guessed: the
// protocol's file, hash, description and requirements catalogue, the rig
// config's hash, software version, operator, device under test, calibration
// records, the rig's channel order (channels are in alphabetical order) and
// its nominal sample rate (taken from the frames' timestamps). The
// traceability matrix is built from the criteria's requirement ids only,
// and the results of `always` invariants, which the engine does not log as
// criterion events, are missing. The report's notes, at its top, say all
// this, and what else InfluxDB lacked for this run.
//
// The returned Report writes HTML, PDF, JUnit and criteria CSV; its
// WriteFramesCSV and WriteBeatsCSV read the run record and so fail —
// GenerateInflux writes frames.csv and beats.csv from InfluxDB. ctx bounds
// the queries; cfg says where (URL, Bucket "db" or "db/rp", Token).
func LoadInflux(ctx context.Context, cfg runlog.InfluxConfig, runID string) (*Report, error) {
	r, _, err := loadInflux(ctx, cfg, runID, true)
	return r, err
}

// GenerateInflux is Generate for a run read from InfluxDB (see LoadInflux):
// it makes the reports opt asks for in opt.OutDir, which is required (there
// is no run directory), and returns the paths written. With FormatCSV,
// frames.csv and beats.csv are read from InfluxDB, selected by opt.Frames.
func GenerateInflux(ctx context.Context, cfg runlog.InfluxConfig, runID string, opt Options) ([]string, error) {
	formats, scan, err := opt.formats()
	if err != nil {
		return nil, err
	}
	if opt.OutDir == "" {
		return nil, errors.New("reports: a report from InfluxDB needs an output directory")
	}
	if err := opt.Frames.check(); err != nil {
		return nil, err
	}
	r, src, err := loadInflux(ctx, cfg, runID, scan)
	if err != nil {
		return nil, err
	}
	if !opt.Generated.IsZero() {
		r.Generated = opt.Generated.UTC()
	}
	return r.write(opt.OutDir, formats, opt.Frames,
		func(w io.Writer) error { return src.writeFramesCSV(ctx, r, w, opt.Frames) },
		func(w io.Writer) error { return src.writeBeatsCSV(ctx, r, w, opt.Frames) })
}

// loadInflux is LoadInflux, skipping the plots and the statistics of steps
// without any unless scan (JUnit and CSV do not need them), and returning
// the source for further reads.
func loadInflux(ctx context.Context, cfg runlog.InfluxConfig, runID string, scan bool) (*Report, *influxRun, error) {
	if !runlog.ValidRunID(runID) {
		return nil, nil, fmt.Errorf("reports: %q is not a run id", runID)
	}
	q, err := newInfluxQL(cfg)
	if err != nil {
		return nil, nil, err
	}
	src := &influxRun{q: q, where: "run_id = " + literal(runID), bucket: cfg.Bucket}
	if src.bucket == "" {
		src.bucket = runlog.DefaultBucket
	}
	if u, err := url.Parse(cfg.URL); err == nil {
		u.User = nil
		src.url = u.String()
	}

	rp, err := src.runPoint(ctx)
	if err != nil {
		return nil, nil, err
	}
	evs, dut, err := src.events(ctx)
	if err != nil {
		return nil, nil, err
	}
	stepPts, err := src.stepPoints(ctx)
	if err != nil {
		return nil, nil, err
	}
	counts, err := src.frameCounts(ctx)
	if err != nil {
		return nil, nil, err
	}
	var framePoints int64
	for _, n := range counts {
		framePoints = max(framePoints, n)
	}
	if !rp.found && len(evs) == 0 && len(dut) == 0 && len(stepPts) == 0 && framePoints == 0 {
		return nil, nil, fmt.Errorf("reports: %w: %s (bucket %s at %s)", ErrNotInInflux, runID, src.bucket, src.url)
	}

	// The events in the order they happened: each kind's points are in
	// the order written, by time, so their moved times can be undone; then
	// all by time and, at the same time, by seq (the order written; a
	// resumed run's sink counts seq from 0 again, but at later times).
	byTimeSeq := func(a, b influxEvent) int { return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.seq, b.seq)) }
	slices.SortStableFunc(evs, byTimeSeq)
	unshift(evs)
	slices.SortStableFunc(evs, byTimeSeq)

	// The epoch: the summary point's time; else each step point is at the
	// epoch plus its start_s (moved 1 ns later at most, by a collision);
	// else the first event's time, which is the run clock's reading at
	// the start after the epoch (0 on a virtual clock).
	var notes []string
	switch {
	case rp.found:
		src.epoch = rp.ts
	case len(stepPts) > 0:
		src.epoch = math.MaxInt64
		for _, p := range stepPts {
			src.epoch = min(src.epoch, p.ts-durationOf(p.res.StartS))
		}
	default:
		src.epoch = math.MaxInt64
		for _, e := range evs {
			src.epoch = min(src.epoch, e.ts)
		}
		if len(evs) == 0 {
			src.epoch = 0
		}
		notes = append(notes, "The run's epoch (its t = 0) is not in InfluxDB: it is taken as the time of its first event, so times t may be off by the clock's reading when the run started.")
	}

	ir := src.interpret(evs, dut)
	notes = append(notes, ir.notes...)

	// Layout: the frames' fields and the steps' channels, alphabetically
	// (InfluxDB keeps no field order), with the units of the step results.
	units := map[string]string{}
	names := map[string]bool{}
	for _, s := range ir.steps {
		for ch, st := range s.Channels {
			names[ch] = true
			if units[ch] == "" {
				units[ch] = st.Unit
			}
		}
	}
	for f, n := range counts {
		if n > 0 {
			names[f] = true
		}
	}
	for n := range names {
		src.fields = append(src.fields, n)
	}
	slices.Sort(src.fields)
	layout := make([]runlog.Channel, len(src.fields))
	for i, f := range src.fields {
		layout[i] = runlog.Channel{Name: f, Unit: units[f]}
	}

	// Steps: the step.end events' results; else (a run logged by an older
	// mockloop) the steps measurement, which has no per-channel count.
	steps := ir.steps
	if len(steps) == 0 && len(stepPts) > 0 {
		for _, p := range stepPts {
			s := p.res
			for ch, st := range s.Channels {
				st.Unit = units[ch]
				s.Channels[ch] = st
			}
			steps = append(steps, s)
		}
		slices.SortStableFunc(steps, func(a, b runlog.StepResult) int { return cmp.Compare(a.Index, b.Index) })
		notes = append(notes, "The run's step.end events carry no step results (it was logged by an older mockloop): the step statistics are those of the steps measurement, where n is the step's frame count.")
	}

	// Result: the summary point's, else the run.end event's; none while
	// InfluxDB has neither (the run is running, or its end has not
	// arrived). The delivery is shown only when complete: how many points
	// are still spooled on the rig is not known here.
	var res *runlog.Result
	switch {
	case rp.found:
		res = &runlog.Result{RunID: runID, Outcome: runlog.Outcome(rp.outcome), AbortReason: rp.abortReason,
			Frames: rp.frames, DurationS: rp.durationS}
		if rp.delivered {
			res.Influx = &runlog.InfluxDelivery{Delivered: true}
		} else {
			notes = append(notes, "The run's summary point says InfluxDB refused some of its points as invalid (delivered=false): they are missing from this report.")
		}
	case ir.ended:
		res = &runlog.Result{RunID: runID, Outcome: runlog.Outcome(ir.endOutcome), Frames: ir.endFrames, DurationS: max(0, ir.endT-ir.startT)}
		if res.Outcome == runlog.OutcomeAborted {
			res.AbortReason = ir.tripMsg
		}
		notes = append(notes, "InfluxDB has no summary point (measurement runs) for this run: not all of its points had arrived when this report was made (`mockloop sync` on the rig completes them). Outcome, frame count and duration are those of its run.end event.")
	default:
		notes = append(notes, "InfluxDB has neither a summary point nor a run.end event for this run: it is still running, or its end has not arrived (`mockloop sync` on the rig completes it). This report shows what InfluxDB holds now.")
	}
	if res != nil {
		res.Steps, res.Criteria = steps, ir.criteria
		if res.Steps == nil {
			res.Steps = []runlog.StepResult{}
		}
		if res.Criteria == nil {
			res.Criteria = []runlog.CriterionResult{}
		}
	}

	rig := rp.rig
	for i := 0; rig == "" && i < len(evs); i++ {
		rig = evs[i].rig
	}
	m := runlog.Manifest{
		RunID:           runID,
		Rig:             cmp.Or(rig, NotInInflux),
		RigConfigSHA256: NotInInflux,
		Protocol: runlog.ProtocolRef{Name: cmp.Or(ir.protocol, NotInInflux), File: NotInInflux, SHA256: NotInInflux,
			Description: NotInInflux},
		SoftwareVersion: NotInInflux,
		DUT:             &runlog.DUTIdentity{Model: NotInInflux, Serial: NotInInflux, FW: NotInInflux},
		Calibration: []runlog.Calibration{{Channel: "all channels", Method: NotInInflux, Date: NotInInflux,
			Due: NotInInflux, Reference: NotInInflux}},
		Operator: NotInInflux,
		Started:  time.Unix(0, src.epoch).UTC(),
		State:    runlog.State("unknown"),
		Layout:   layout,
		Clock:    runlog.ClockKind(cmp.Or(ir.clock, NotInInflux)),
		Epoch:    time.Unix(0, src.epoch).UTC(),
	}
	if res != nil {
		m.State, m.Outcome = runlog.StateClosed, res.Outcome
		if res.Outcome == runlog.OutcomeInterrupted { // closed by Recover, then synced
			m.State = runlog.StateInterrupted
		}
		m.Ended = m.Epoch.Add(time.Duration(durationOf(res.DurationS)))
	}

	noDir := filepath.Join(os.DevNull, "influxdb", runID) // never a directory: the record is not here
	r := &Report{Generated: time.Now().UTC(), source: "InfluxDB", influx: true, dir: noDir, run: &runlog.Run{Dir: noDir, Manifest: m, Result: res}, firstT: -1}
	r.events = ir.summary
	durS := runLength(res, &m, ir.summary.LastT)
	r.steps = stepsOf(res, ir.spans, durS)

	// Frames: how many, the first and last, and the sample rate.
	r.frames = runlog.FrameStats{Frames: framePoints}
	if framePoints > 0 {
		first, last, rate, err := src.frameSpan(ctx)
		if err != nil {
			return nil, nil, err
		}
		r.firstT, r.lastT, r.frames.Last = first, last, time.Duration(last)
		r.run.Manifest.SampleRateHz = rate
	}
	if scan {
		if err := src.scanFrames(ctx, r, durS); err != nil {
			return nil, nil, err
		}
	}
	if r.beats, err = src.beats(ctx, r.steps, layout); err != nil {
		return nil, nil, err
	}
	if r.beats.Malformed > 0 {
		notes = append(notes, fmt.Sprintf("InfluxDB has %s without a channel; they are left out.", plural(r.beats.Malformed, "beat")))
	}

	// Criteria and traceability: the catalogue is not in InfluxDB, so the
	// matrix lists the ids the criteria use, and no id is flagged as
	// missing from a catalogue nobody here knows.
	var cat []runlog.Requirement
	ids := map[string]bool{}
	for _, c := range ir.criteria {
		if c.ID != "" && !ids[c.ID] {
			ids[c.ID] = true
			cat = append(cat, runlog.Requirement{ID: c.ID, Text: "(requirement text " + NotInInflux + ")"})
		}
	}
	r.crit = criteriaRows(ir.criteria, ids)
	r.trace = traceability(cat, r.crit)
	r.trace.NoCatalogue = false

	r.notes = append(src.fixedNotes(r, ir, len(dut) > 0), notes...)
	return r, src, nil
}

// unshift gives back their times to events that the sink moved: InfluxDB
// keeps one point per series and time, so the encoder writes an event 1 ns
// after the previous one of its kind when it would not come after it. evs
// are in the order of their times in InfluxDB. The engine's events are at
// frame deadlines, never 1 ns apart, so a point 1 ns after the previous one
// of its kind was moved, and is at that one's time.
func unshift(evs []influxEvent) {
	type last struct{ stored, orig int64 }
	prev := map[string]last{}
	for i := range evs {
		e := &evs[i]
		stored := e.ts
		if p, ok := prev[e.kind]; ok && stored == p.stored+1 {
			e.ts = p.orig
		}
		prev[e.kind] = last{stored, e.ts}
	}
}

// runSeconds is a time on the run clock, ns from InfluxDB, in seconds as
// the engine writes them (time.Duration.Seconds), so that they read back
// the same.
func runSeconds(ns int64) float64 { return time.Duration(ns).Seconds() }

// fixedNotes are the notes of every report from InfluxDB: where it comes
// from, and what InfluxDB never holds.
func (s *influxRun) fixedNotes(r *Report, ir *influxInterp, haveDUT bool) []string {
	rate := "not available"
	if hz := r.run.Manifest.SampleRateHz; hz > 0 {
		rate = statNum(hz) + " Hz"
	}
	notes := []string{
		fmt.Sprintf("This report was made from InfluxDB (%s, bucket %s), not from the run record, which was not at hand. Where it speaks of the record (result.json, events.jsonl, beats.jsonl, frame segments) it means the run's points in InfluxDB; under Record integrity, no frame segment was read and no checksum verified: the frames counted are InfluxDB's frame points.", s.url, s.bucket),
		fmt.Sprintf("Not available from InfluxDB, and shown so: the protocol file, its SHA-256, description and requirements catalogue; the rig config's SHA-256; the software version; the operator; the device under test; the calibration records in force; the order of the rig's channels (they are listed alphabetically); its nominal sample rate (the %s shown is the median interval of the run's first frames in InfluxDB).", rate),
		"The traceability matrix is built from the criteria's requirement ids only: requirement texts, requirements that no criterion evaluated, and whether an id is in the protocol's catalogue are not known from InfluxDB.",
	}
	// Runs logged since the engine logs invariant results as criterion
	// events have them; for older runs, say what is missing.
	if !slices.ContainsFunc(ir.criteria, func(c runlog.CriterionResult) bool { return c.Step == alwaysStep }) {
		inv := "No end-of-run result of an `always` invariant is in InfluxDB (runs logged by an older mockloop did not log them): if the protocol has any, they are missing from the criteria table and the JUnit report; a violation is listed among the events (kind invariant)."
		if n := r.eventCount(runlog.KindInvariant); n > 0 {
			inv += fmt.Sprintf(" This run has %s.", plural(int(n), "invariant violation event"))
		}
		if res := r.run.Result; res != nil && res.Outcome == runlog.OutcomeFail &&
			!slices.ContainsFunc(ir.criteria, func(c runlog.CriterionResult) bool { return c.Verdict == runlog.VerdictFail }) {
			inv += " The run failed, but no criterion in InfluxDB did: an `always` invariant failed it."
		}
		notes = append(notes, inv)
	}
	if !haveDUT {
		notes = append(notes, "A run sends no DUT traffic (events dut.tx, dut.rx) to InfluxDB as it goes: if the run had a device under test, the event counts leave its traffic out.")
	}
	return notes
}

// influxInterp is what the run's events say.
type influxInterp struct {
	summary  eventSummary
	spans    []stepSpan
	criteria []runlog.CriterionResult
	steps    []runlog.StepResult // from step.end events, in order

	protocol, clock string  // from run.start
	startT          float64 // of run.start
	ended           bool    // a run.end event
	endT            float64
	endOutcome      string
	endFrames       int64
	tripMsg         string // of the last safety.trip
	notes           []string
}

// notJSON is the data shown for an event whose data in InfluxDB is not
// JSON: the text as it is.
type notJSON struct {
	Text string `json:"data (not JSON)"`
}

// interpret turns the run's events, in order, into the event summary the
// reports show — as readEvents makes it from events.jsonl — and collects
// the criteria and step results they carry and what run.start, run.end and
// safety.trip say. dut counts the DUT traffic events, which are not read.
func (s *influxRun) interpret(evs []influxEvent, dut map[string]int64) *influxInterp {
	ir := &influxInterp{}
	sum := &ir.summary
	counts := map[string]int64{}
	var noResult, badData int
	startSeen := false
	for _, p := range evs {
		if p.kind == "-" || p.kind == "" { // the sink's stand-in for an empty kind: not an event
			sum.Malformed++
			continue
		}
		e := runlog.Event{T: runSeconds(p.ts - s.epoch), Kind: p.kind, Step: p.step, Msg: p.msg}
		if p.data != "" {
			var err error
			if e.Data, err = runlog.ParseData([]byte(p.data)); err != nil {
				// cut short at InfluxDB's string limit: show it as text
				e.Data, _ = json.Marshal(notJSON{p.data})
				badData++
			}
		}
		sum.Total++
		counts[e.Kind]++
		sum.LastT = max(sum.LastT, e.T)
		switch e.Kind {
		case runlog.KindStepStart:
			ir.spans = append(ir.spans, stepSpan{Path: e.Step, Name: e.Msg, StartS: e.T, EndS: nan()})
		case runlog.KindStepEnd:
			var d runlog.StepEndData
			err := e.Decode(&d)
			for i := len(ir.spans) - 1; i >= 0; i-- {
				if ir.spans[i].Path == e.Step && ir.spans[i].EndS != ir.spans[i].EndS {
					ir.spans[i].EndS, ir.spans[i].Outcome = e.T, e.Msg
					ir.spans[i].Frames = d.Frames
					break
				}
			}
			if err == nil && d.Result != nil {
				ir.steps = append(ir.steps, *d.Result)
			}
		case runlog.KindCriterion:
			var d runlog.CriterionData
			if err := e.Decode(&d); err == nil && d.Result != nil {
				ir.criteria = append(ir.criteria, *d.Result)
			} else {
				noResult++
			}
		case runlog.KindRunStart:
			if !startSeen {
				startSeen = true
				var d runlog.RunStartData
				_ = e.Decode(&d) // what could be read of it
				ir.protocol, ir.startT, ir.clock = e.Msg, e.T, string(d.Clock)
			}
		case runlog.KindRunEnd:
			var d runlog.RunEndData
			_ = e.Decode(&d) // what could be read of it
			ir.ended, ir.endT, ir.endOutcome, ir.endFrames = true, e.T, e.Msg, d.Frames
		case runlog.KindSafetyTrip:
			ir.tripMsg = e.Msg
		}
		sum.classify(&e)
	}
	for k, n := range dut {
		counts[k] += n
		sum.Total += n
	}
	for k, n := range counts {
		sum.Counts = append(sum.Counts, kindCount{Kind: k, Count: n, Class: eventClass(k)})
	}
	slices.SortFunc(sum.Counts, func(a, b kindCount) int { return strings.Compare(a.Kind, b.Kind) })
	if sum.Malformed > 0 {
		ir.notes = append(ir.notes, fmt.Sprintf("InfluxDB has %s without a kind; they are left out.", plural(sum.Malformed, "event")))
	}
	if noResult > 0 {
		ir.notes = append(ir.notes, fmt.Sprintf("%s carry no result (logged by an older mockloop): they are not in the criteria table; the events count them.", plural(noResult, "criterion event")))
	}
	if badData > 0 {
		ir.notes = append(ir.notes, fmt.Sprintf("The data of %s is not JSON (cut short at InfluxDB's limit on string fields); it is shown as text.", plural(badData, "event")))
	}
	return ir
}

// runPoint reads the run's summary point.
func (s *influxRun) runPoint(ctx context.Context) (influxRunPoint, error) {
	var p influxRunPoint
	err := s.q.run(ctx, "SELECT * FROM "+s.q.from(runlog.MeasurementRuns)+" WHERE "+s.where, func(sr *influxSeries) error {
		for _, row := range sr.Values {
			ts, err := qTime(sr, row)
			if err != nil {
				return err
			}
			p = influxRunPoint{found: true, ts: ts}
			get := func(name string) any {
				if i := sr.col(name); i >= 0 && i < len(row) {
					return row[i]
				}
				return nil
			}
			p.rig, p.outcome, p.abortReason = qString(get("rig")), qString(get("outcome")), qString(get("abort_reason"))
			p.frames, _ = qInt(get("frames"))
			p.durationS, _ = qFloat(get("duration_s"))
			p.delivered, _ = get("delivered").(bool)
		}
		return nil
	})
	return p, err
}

// events reads the run's events but its DUT traffic, which it only counts
// by kind: a long run with a DUT has millions of those.
func (s *influxRun) events(ctx context.Context) ([]influxEvent, map[string]int64, error) {
	var evs []influxEvent
	notDUT := fmt.Sprintf(" AND kind != %s AND kind != %s", literal(runlog.KindDUTTx), literal(runlog.KindDUTRx))
	err := s.q.run(ctx, "SELECT * FROM "+s.q.from(runlog.MeasurementEvents)+" WHERE "+s.where+notDUT, func(sr *influxSeries) error {
		ci := map[string]int{}
		for _, c := range []string{"seq", "kind", "step", "msg", "data", "rig"} {
			ci[c] = sr.col(c)
		}
		get := func(row []any, name string) any {
			if i := ci[name]; i >= 0 && i < len(row) {
				return row[i]
			}
			return nil
		}
		for _, row := range sr.Values {
			ts, err := qTime(sr, row)
			if err != nil {
				return err
			}
			seq, _ := qInt(get(row, "seq"))
			evs = append(evs, influxEvent{ts: ts, seq: seq, kind: qString(get(row, "kind")), step: qString(get(row, "step")),
				msg: qString(get(row, "msg")), data: qString(get(row, "data")), rig: qString(get(row, "rig"))})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	dut := map[string]int64{}
	stmt := fmt.Sprintf("SELECT COUNT(%s) FROM %s WHERE %s AND (kind = %s OR kind = %s) GROUP BY %s", ident("seq"),
		s.q.from(runlog.MeasurementEvents), s.where, literal(runlog.KindDUTTx), literal(runlog.KindDUTRx), ident("kind"))
	err = s.q.run(ctx, stmt, func(sr *influxSeries) error {
		i := sr.col("count")
		for _, row := range sr.Values {
			if i >= 0 && i < len(row) {
				if n, ok := qInt(row[i]); ok && n > 0 {
					dut[sr.Tags["kind"]] += n
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return evs, dut, nil
}

// stepPoints reads the run's points of the steps measurement.
func (s *influxRun) stepPoints(ctx context.Context) ([]influxStepPoint, error) {
	var pts []influxStepPoint
	suffixes := []string{"_mean", "_min", "_max", "_std"}
	err := s.q.run(ctx, "SELECT * FROM "+s.q.from(runlog.MeasurementSteps)+" WHERE "+s.where, func(sr *influxSeries) error {
		for _, row := range sr.Values {
			ts, err := qTime(sr, row)
			if err != nil {
				return err
			}
			sres := runlog.StepResult{Channels: map[string]runlog.ChannelStats{}}
			stats := map[string]*[4]float64{}
			for i, c := range sr.Columns {
				if i >= len(row) || row[i] == nil {
					continue
				}
				v := row[i]
				switch c {
				case "time", "rig", "run_id":
				case "step":
					sres.Path = qString(v)
				case "name":
					sres.Name = qString(v)
				case "outcome":
					sres.Outcome = runlog.Outcome(qString(v))
				case "index":
					n, _ := qInt(v)
					sres.Index = int(n)
				case "frames":
					sres.Frames, _ = qInt(v)
				case "start_s":
					sres.StartS, _ = qFloat(v)
				case "end_s":
					sres.EndS, _ = qFloat(v)
				default:
					for k, suf := range suffixes {
						if ch, ok := strings.CutSuffix(c, suf); ok && ch != "" {
							f, ok := qFloat(v)
							if !ok {
								break
							}
							st := stats[ch]
							if st == nil {
								st = &[4]float64{nan(), nan(), nan(), nan()}
								stats[ch] = st
							}
							st[k] = f
							break
						}
					}
				}
			}
			for ch, st := range stats {
				sres.Channels[ch] = runlog.ChannelStats{N: sres.Frames, Mean: st[0], Min: st[1], Max: st[2], Std: st[3]}
			}
			if sres.Path == "-" {
				sres.Path = ""
			}
			pts = append(pts, influxStepPoint{ts: ts, res: sres})
		}
		return nil
	})
	return pts, err
}

// frameCounts returns, per field of the frames measurement, how many of
// the run's frames have a value of it.
func (s *influxRun) frameCounts(ctx context.Context) (map[string]int64, error) {
	counts := map[string]int64{}
	err := s.q.run(ctx, "SELECT COUNT(*) FROM "+s.q.from(runlog.MeasurementFrames)+" WHERE "+s.where, func(sr *influxSeries) error {
		for _, row := range sr.Values {
			for i, c := range sr.Columns {
				f, ok := strings.CutPrefix(c, "count_")
				if !ok || i >= len(row) {
					continue
				}
				if n, ok := qInt(row[i]); ok && n > 0 {
					counts[f] += n
				}
			}
		}
		return nil
	})
	return counts, err
}
