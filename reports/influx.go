package reports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/mockloop/mockloop/influx"
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

// influxRun is the source of a report made from a run's points in
// InfluxDB, as package influx writes them (see its Measurement constants;
// what its encoding moved, influx.Unshifter and influx.TagValue give
// back): what LoadInflux and GenerateInflux read the run from.
type influxRun struct {
	q      *influxQL
	runID  string
	url    string // the server, without credentials, for the report's notes
	bucket string
	where  string   // the InfluxQL condition selecting the run's points
	epoch  int64    // ns since the Unix epoch of the run's t = 0
	fields []string // the frames' fields (channels), in the report's layout order
	// exact is, per field, whether its values are written to the bit (the
	// start point's exact_channels); the others are float32 roundings.
	exact []bool
	stats runlog.FrameStats
	notes []string // what the reading of the run's points found amiss
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
	// identity is the run's identity from its start point (see
	// influx.MeasurementRuns); nil for a run logged by an older mockloop.
	identity *influxIdentity
}

// influxIdentity is what the start point of a run says of it.
type influxIdentity struct {
	protocol, protocolFile, protocolSHA256 string
	rigConfigSHA256, softwareVersion       string
	operator, clock, started               string
	dut                                    runlog.DUTIdentity
	profile                                runlog.DUTProfile
	host                                   string
	calibration, build, job                string // JSON
	exactChannels                          string // comma-separated
	sampleRateHz                           float64
}

// influxStepPoint is a point of the steps measurement.
type influxStepPoint struct {
	ts  int64
	res runlog.StepResult
}

// LoadInflux reads the run runID from InfluxDB — its summary point, events,
// step results, beats and frames, as the influx package's Sink (or `mockloop sync`)
// wrote them — and builds the same Report model Load builds from the run
// record: for when the record is not on this machine.
//
// The criteria are those of the run's criterion events (each carries the
// whole result, in evaluation order), the step statistics those of its
// step.end events, outcome, abort reason, frame count and duration those of
// its summary point (or, before that point arrived, of its run.end event);
// beat statistics, events and the waveforms are made as from the record,
// by the same code, from the beats and frames streamed from InfluxDB; the
// trends and the statistics of steps without any from InfluxDB's
// aggregates of the frames (see summarizer), so that a long run is not
// streamed frame by frame. Values are the record's: frames are float32
// there and here, the rest travels as JSON or exact decimal text.
//
// The run's identity — the protocol's file and hash, the rig config's
// hash, software version, operator, device under test, calibration
// records, nominal sample rate — is that of its start point (see
// influx.MeasurementRuns). What InfluxDB does not hold is shown as
// NotInInflux, never guessed: the protocol's description and requirements
// catalogue, the rig's channel order (channels are in alphabetical order)
// and, for a run logged by a mockloop that wrote no start point, the whole
// identity (the sample rate then taken from the frames' timestamps). The
// traceability matrix is built from the criteria's requirement ids only,
// and the results of `always` invariants, which the engine does not log as
// criterion events, are missing. The report's notes, at its top, say all
// this, and what else InfluxDB lacked for this run.
//
// The returned Report writes every report; its WriteFramesCSV and
// WriteBeatsCSV read frames and beats from InfluxDB again. ctx bounds the
// queries of the load; cfg says where (URL, Bucket "db" or "db/rp", Token).
func LoadInflux(ctx context.Context, cfg influx.Config, runID string) (*Report, error) {
	src, err := newInfluxRun(cfg, runID)
	if err != nil {
		return nil, err
	}
	return loadFrom(ctx, src, true)
}

// GenerateInflux is Generate for a run read from InfluxDB (see LoadInflux):
// it makes the reports opt asks for in opt.OutDir, which is required (there
// is no run directory), and returns the paths written. With FormatCSV,
// frames.csv and beats.csv are read from InfluxDB, selected by opt.Frames.
func GenerateInflux(ctx context.Context, cfg influx.Config, runID string, opt Options) ([]string, error) {
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
	src, err := newInfluxRun(cfg, runID)
	if err != nil {
		return nil, err
	}
	return generate(ctx, src, opt.OutDir, formats, scan, opt)
}

// newInfluxRun returns the source of the run runID in the InfluxDB of cfg;
// it does not contact the server yet.
func newInfluxRun(cfg influx.Config, runID string) (*influxRun, error) {
	if !runlog.ValidRunID(runID) {
		return nil, fmt.Errorf("reports: %q is not a run id", runID)
	}
	q, err := newInfluxQL(cfg)
	if err != nil {
		return nil, err
	}
	src := &influxRun{q: q, runID: runID, where: "run_id = " + literal(runID), bucket: cfg.Bucket}
	if src.bucket == "" {
		src.bucket = influx.DefaultBucket
	}
	if u, err := url.Parse(cfg.URL); err == nil {
		u.User = nil
		src.url = u.String()
	}
	return src, nil
}

// fixedNotes are the notes of every report from InfluxDB: where it comes
// from, and what InfluxDB never holds.
func (s *influxRun) fixedNotes(r *Report, ir *influxInterp, haveDUT, identity bool) []string {
	rate := "not available"
	if hz := r.run.Manifest.SampleRateHz; hz > 0 {
		rate = statNum(hz) + " Hz"
	}
	notes := []string{
		fmt.Sprintf("This report was made from InfluxDB (%s, bucket %s), not from the run record, which was not at hand. Where it speaks of the record (result.json, events.jsonl, beats.jsonl, frame segments) it means the run's points in InfluxDB; under Record integrity, no frame segment was read and no checksum verified: the frames counted are InfluxDB's frame points.", s.url, s.bucket),
		fmt.Sprintf("Not available from InfluxDB, and shown so: the protocol file, its SHA-256, description and requirements catalogue; the rig config's SHA-256; the software version; the operator; the device under test; the calibration records in force (the run was logged by a mockloop that did not write a start point); the order of the rig's channels (they are listed alphabetically); its nominal sample rate (the %s shown is the median interval of the run's first frames in InfluxDB).", rate),
		"The traceability matrix is built from the criteria's requirement ids only: requirement texts, requirements that no criterion evaluated, and whether an id is in the protocol's catalogue are not known from InfluxDB.",
	}
	if identity { // the start point had it all but these
		notes[1] = "Not available from InfluxDB, and shown so: the protocol's description and requirements catalogue; the order of the rig's channels (they are listed alphabetically). The run's identity (protocol file and SHA-256, rig config SHA-256, software version and build, operator, device under test, calibration records, sample rate) is that of its start point in InfluxDB."
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
		if influx.TagValue(p.kind) == "" { // not an event
			sum.Malformed++
			continue
		}
		e := runlog.Event{T: influx.RunSeconds(p.ts - s.epoch), Kind: p.kind, Step: p.step, Msg: p.msg}
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
	sum.finish()
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
	err := s.q.run(ctx, "SELECT * FROM "+s.q.from(influx.MeasurementRuns)+" WHERE "+s.where, func(sr *influxSeries) error {
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
			if get("started") != nil { // written with the identity fields, all of them
				id := &influxIdentity{protocol: qString(get("protocol")), protocolFile: qString(get("protocol_file")),
					protocolSHA256: qString(get("protocol_sha256")), rigConfigSHA256: qString(get("rig_config_sha256")),
					softwareVersion: qString(get("software_version")), operator: qString(get("operator")),
					clock: qString(get("clock")), started: qString(get("started")), calibration: qString(get("calibration")),
					build: qString(get("build")), host: qString(get("host")), job: qString(get("job")),
					exactChannels: qString(get("exact_channels")),
					dut:           runlog.DUTIdentity{Model: qString(get("dut_model")), Serial: qString(get("dut_serial")), FW: qString(get("dut_fw"))},
					profile:       runlog.DUTProfile{Name: qString(get("dut_profile")), SHA256: qString(get("dut_profile_sha256"))}}
				id.sampleRateHz, _ = qFloat(get("sample_rate_hz"))
				p.identity = id
			}
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
	err := s.q.run(ctx, "SELECT * FROM "+s.q.from(influx.MeasurementEvents)+" WHERE "+s.where+notDUT, func(sr *influxSeries) error {
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
		s.q.from(influx.MeasurementEvents), s.where, literal(runlog.KindDUTTx), literal(runlog.KindDUTRx), ident("kind"))
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
	err := s.q.run(ctx, "SELECT * FROM "+s.q.from(influx.MeasurementSteps)+" WHERE "+s.where, func(sr *influxSeries) error {
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
			sres.Path = influx.TagValue(sres.Path)
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
	err := s.q.run(ctx, "SELECT COUNT(*) FROM "+s.q.from(influx.MeasurementFrames)+" WHERE "+s.where, func(sr *influxSeries) error {
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
