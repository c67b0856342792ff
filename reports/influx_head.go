package reports

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mockloop/mockloop/influx"
	"github.com/mockloop/mockloop/runlog"
)

// head reads the run's summary point, events and step points, and what
// InfluxDB has of its frames without reading them (counts, the first and
// last, the sample rate), and builds from them what the record would say
// (see LoadInflux).
func (src *influxRun) head(ctx context.Context) (*runHead, error) {
	runID := src.runID
	rp, err := src.runPoint(ctx)
	if err != nil {
		return nil, err
	}
	evs, dut, err := src.events(ctx)
	if err != nil {
		return nil, err
	}
	stepPts, err := src.stepPoints(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := src.frameCounts(ctx)
	if err != nil {
		return nil, err
	}
	var framePoints int64
	for _, n := range counts {
		framePoints = max(framePoints, n)
	}
	if !rp.found && len(evs) == 0 && len(dut) == 0 && len(stepPts) == 0 && framePoints == 0 {
		return nil, fmt.Errorf("reports: %w: %s (bucket %s at %s)", ErrNotInInflux, runID, src.bucket, src.url)
	}
	inOrder(evs)
	notes := src.findEpoch(rp, stepPts, evs)
	ir := src.interpret(evs, dut)
	notes = append(notes, ir.notes...)
	layout, units := src.layout(ir.steps, counts)
	steps, stepNotes := stepResults(ir.steps, stepPts, units)
	notes = append(notes, stepNotes...)
	res, resNotes := runResult(runID, rp, ir, steps)
	notes = append(notes, resNotes...)
	m := src.manifest(rp, evs, ir, layout, res)

	noDir := filepath.Join(os.DevNull, "influxdb", runID) // never a directory: the record is not here
	h := &runHead{run: &runlog.Run{Dir: noDir, Manifest: m, Result: res}, dir: noDir, from: "InfluxDB", influx: true,
		events: ir.summary, spans: ir.spans, criteria: ir.criteria, partialCatalogue: true, firstT: -1}

	// Frames: how many, the first and last, and the sample rate.
	h.frames = runlog.FrameStats{Frames: framePoints}
	if framePoints > 0 {
		first, last, rate, err := src.frameSpan(ctx)
		if err != nil {
			return nil, err
		}
		h.firstT, h.lastT, h.frames.Last = first, last, time.Duration(last)
		if h.run.Manifest.SampleRateHz == 0 { // not from the start point
			h.run.Manifest.SampleRateHz = rate
		}
	}
	src.stats = h.frames

	// Criteria and traceability: the catalogue is not in InfluxDB, so the
	// matrix lists the ids the criteria use, and no id is flagged as
	// missing from a catalogue nobody here knows.
	ids := map[string]bool{}
	for _, c := range ir.criteria {
		if c.ID != "" && !ids[c.ID] {
			ids[c.ID] = true
			h.catalogue = append(h.catalogue, runlog.Requirement{ID: c.ID, Text: "(requirement text " + NotInInflux + ")"})
		}
	}
	h.notes = append(src.fixedNotes(&Report{run: h.run, events: h.events}, ir, len(dut) > 0, rp.identity != nil), notes...)
	h.notes = append(h.notes, src.notes...)
	return h, nil
}

// inOrder sorts the run's events in the order they happened, with the
// times the sink moved given back: each kind's points are in the order
// written, by time, so their moved times can be undone; then all by time
// and, at the same time, by seq (the order written; a resumed run's sink
// counts seq from 0 again, but at later times).
func inOrder(evs []influxEvent) {
	byTimeSeq := func(a, b influxEvent) int { return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.seq, b.seq)) }
	slices.SortStableFunc(evs, byTimeSeq)
	var u influx.Unshifter
	for i := range evs {
		evs[i].ts = u.Original(evs[i].kind, evs[i].ts)
	}
	slices.SortStableFunc(evs, byTimeSeq)
}

// findEpoch sets the run's epoch, the time of its t = 0, and says how
// when InfluxDB does not have it.
func (src *influxRun) findEpoch(rp influxRunPoint, stepPts []influxStepPoint, evs []influxEvent) []string {
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
	return notes
}

// layout is the run's channels: the frames' fields and the steps'
// channels, alphabetically (InfluxDB keeps no field order), with the units
// of the step results. It sets the fields frames are read from.
func (src *influxRun) layout(stepRes []runlog.StepResult, counts map[string]int64) ([]runlog.Channel, map[string]string) {
	units := map[string]string{}
	names := map[string]bool{}
	for _, s := range stepRes {
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

	return layout, units
}

// stepResults are the run's step results: the step.end events' results;
// else (a run logged by an older mockloop) the steps measurement, which has
// no per-channel count.
func stepResults(fromEvents []runlog.StepResult, stepPts []influxStepPoint, units map[string]string) ([]runlog.StepResult, []string) {
	var notes []string
	steps := fromEvents
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

	return steps, notes
}

// runResult is the run's result: the summary point's, else the run.end
// event's; none while InfluxDB has neither (the run is running, or its
// end has not arrived). The delivery is shown only when complete: how many
// points are still spooled on the rig is not known here.
func runResult(runID string, rp influxRunPoint, ir *influxInterp, steps []runlog.StepResult) (*runlog.Result, []string) {
	var notes []string
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

	return res, notes
}

// manifest is the run's manifest as far as InfluxDB has it — the identity
// of its start point, if it has one — the rest NotInInflux.
func (src *influxRun) manifest(rp influxRunPoint, evs []influxEvent, ir *influxInterp, layout []runlog.Channel, res *runlog.Result) runlog.Manifest {
	rig := rp.rig
	for i := 0; rig == "" && i < len(evs); i++ {
		rig = evs[i].rig
	}
	m := runlog.Manifest{
		RunID:           src.runID,
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
	if rp.identity != nil {
		src.notes = append(src.notes, applyIdentity(&m, rp.identity)...)
		exact := strings.Split(rp.identity.exactChannels, ",")
		src.exact = make([]bool, len(src.fields))
		for j, f := range src.fields {
			src.exact[j] = slices.Contains(exact, f)
		}
	}
	if res != nil {
		m.State, m.Outcome = runlog.StateClosed, res.Outcome
		if res.Outcome == runlog.OutcomeInterrupted { // closed by Recover, then synced
			m.State = runlog.StateInterrupted
		}
		m.Ended = m.Epoch.Add(time.Duration(durationOf(res.DurationS)))
	}

	return m
}

// applyIdentity puts the identity of a run's start point into its
// manifest, and returns notes on what of it could not be read.
func applyIdentity(m *runlog.Manifest, id *influxIdentity) []string {
	var notes []string
	m.Protocol.Name = cmp.Or(id.protocol, m.Protocol.Name)
	m.Protocol.File, m.Protocol.SHA256 = id.protocolFile, id.protocolSHA256
	m.RigConfigSHA256, m.SoftwareVersion, m.Operator = id.rigConfigSHA256, id.softwareVersion, id.operator
	m.Clock = runlog.ClockKind(cmp.Or(id.clock, string(m.Clock)))
	m.SampleRateHz = id.sampleRateHz
	m.DUT, m.DUTProfile = nil, nil
	if id.dut != (runlog.DUTIdentity{}) {
		m.DUT = &id.dut
	}
	if id.profile != (runlog.DUTProfile{}) {
		m.DUTProfile = &id.profile
	}
	var cal []runlog.Calibration
	if err := json.Unmarshal([]byte(id.calibration), &cal); err == nil {
		m.Calibration = cal
		if m.Calibration == nil {
			m.Calibration = []runlog.Calibration{}
		}
	} else {
		notes = append(notes, "The calibration records of the run's start point in InfluxDB are not JSON (cut short at InfluxDB's limit on string fields?): they are shown as not available.")
	}
	if id.build != "" {
		var b runlog.Build
		if err := json.Unmarshal([]byte(id.build), &b); err == nil {
			m.Build = &b
		} else {
			notes = append(notes, "The build of the software in the run's start point in InfluxDB is not JSON: whether it was a release is not known.")
		}
	}
	m.Host = id.host
	if id.job != "" {
		var j runlog.Job
		if err := json.Unmarshal([]byte(id.job), &j); err == nil {
			m.Job = &j
		} else {
			notes = append(notes, "The CI job in the run's start point in InfluxDB is not JSON: it is shown as not available.")
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, id.started); err == nil {
		m.Started = t.UTC()
	}
	return notes
}

// scan streams the run's frames in from < t ≤ to (see timeRange) from
// InfluxDB, and returns what InfluxDB counts of them.
func (src *influxRun) scan(ctx context.Context, from, to int64, fn func(t int64, v []float64) error) (runlog.FrameStats, error) {
	return src.stats, src.frames(ctx, from, to, fn)
}

// lateNotes say how many beats InfluxDB has without a channel.
func (src *influxRun) lateNotes(r *Report) []string {
	if r.beats != nil && r.beats.Malformed > 0 {
		return []string{fmt.Sprintf("InfluxDB has %s without a channel; they are left out.", plural(r.beats.Malformed, "beat"))}
	}
	return nil
}
