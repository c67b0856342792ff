package influx

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// InfluxDB measurements written by the sink and by Replay. The schema is a
// contract with dashboards and reports (DESIGN.md, "Data flow"); tags are
// few and of low cardinality, everything else is a field.
const (
	// MeasurementFrames: one point per frame at epoch + t, a float field per
	// channel named as the channel; tags run_id, rig.
	MeasurementFrames = "frames"
	// MeasurementBeats: one point per detected beat at the beat's end;
	// fields systolic, diastolic, mean, pulse_pressure, heart_rate and,
	// when measured, stroke_volume; tags run_id, rig, channel.
	MeasurementBeats = "beats"
	// MeasurementSteps: one point per executed step at its start; fields
	// name, index, outcome, start_s, end_s, frames and per channel
	// <channel>_mean, _min, _max, _std; tags run_id, rig, step (the path).
	MeasurementSteps = "steps"
	// MeasurementEvents: one point per event; fields seq (its position in
	// events.jsonl, from 0), msg, step, data (the JSON of Data); tags
	// run_id, rig, kind.
	MeasurementEvents = "events"
	// MeasurementRuns: one point per run at its epoch; tags run_id, rig.
	// The sink writes it twice, and InfluxDB merges the fields of the two
	// (same series, same time):
	//
	//   - when the run starts, its identity, from the manifest: state
	//     ("running"), protocol, protocol_file, protocol_sha256,
	//     rig_config_sha256, software_version, build (the JSON of the
	//     manifest's build, "" when it has none), operator, host (the
	//     machine that ran it), job (the JSON of the CI job that started
	//     it, "" when none did), dut_model,
	//     dut_serial, dut_fw, dut_profile, dut_profile_sha256 (strings, ""
	//     when the run has none), clock, sample_rate_hz, calibration (the
	//     JSON array of the calibration records in force, as in
	//     manifest.json), exact_channels (the channels whose frame values
	//     are written to the bit, comma-separated: the others are float32
	//     roundings; see lpEncoder) and started (RFC 3339);
	//   - when it ends, last, once everything else was delivered: state
	//     ("closed", or "interrupted" for a run closed by recovery),
	//     outcome, abort_reason, frames, duration_s, delivered.
	//
	// Replay (`mockloop sync`) writes both sets of fields at the end, from
	// the record. Points of older versions have only the end's fields but
	// state: no state field means the identity is not in InfluxDB.
	MeasurementRuns = "runs"
)

// States of a run in the state field of MeasurementRuns: the dashboards
// select a rig's current run with state = RunStateRunning.
const (
	RunStateRunning     = "running"
	RunStateClosed      = "closed"
	RunStateInterrupted = "interrupted"
)

// maxStringField bounds string field values: InfluxDB limits them to 64 KiB.
const maxStringField = 32 << 10

// lpEncoder encodes the points of one run as InfluxDB line protocol with
// nanosecond timestamps into a buffer it reuses. Encoding a frame does not
// allocate once the buffer has grown to a batch.
//
// Values are written as the frame segments keep them, so that a frame
// re-read from the record and written again is the same point with the
// same values: a replay overwrites, it never adds or changes. A column the
// record keeps to the bit (runlog.ColumnCoding.Exact: converter codes,
// integers) is written as its float64, any other as its float32 rounding
// in float32's shortest digits, as records before format 3 kept every
// column.
//
// InfluxDB keeps one point per series and timestamp, so two events of the
// same kind at the same t would overwrite each other. The encoder moves such
// a point 1 ns after the previous one of its series. That depends only on
// the order of the points, which is the order of the record's files, so a
// replay from the record makes the same timestamps.
type lpEncoder struct {
	buf    []byte
	points int

	epoch     int64    // ns since the Unix epoch of the run's t = 0
	frameHead []byte   // "frames,rig=…,run_id=… "
	fieldKeys [][]byte // per channel: the escaped name and '='
	exact     []bool   // per channel: the record keeps it to the bit
	stepKeys  []string // per channel: escaped name prefix for step fields
	runTags   string   // ",rig=…,run_id=…"
	rigTag    string   // ",rig=…" or ""
	runIDTag  string   // ",run_id=…"
	last      map[string]int64
	events    int64 // events encoded: the next event's seq
}

// newLPEncoder returns an encoder for the points of a run.
func newLPEncoder(runID, rig string, layout []runlog.Channel, coding []runlog.ColumnCoding, epoch time.Time) *lpEncoder {
	e := &lpEncoder{epoch: epoch.UnixNano(), last: make(map[string]int64)}
	if rig != "" {
		e.rigTag = ",rig=" + escapeTag(rig)
	}
	e.runIDTag = ",run_id=" + escapeTag(runID)
	e.runTags = e.rigTag + e.runIDTag
	e.frameHead = []byte(MeasurementFrames + e.runTags + " ")
	for i, c := range layout {
		e.exact = append(e.exact, i < len(coding) && coding[i].Exact())
		e.fieldKeys = append(e.fieldKeys, []byte(escapeTag(c.Name)+"="))
		e.stepKeys = append(e.stepKeys, escapeTag(c.Name))
	}
	return e
}

// checkFieldName reports why a channel name cannot be an InfluxDB field key.
func checkFieldName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("channel without a name")
	case name == "time":
		return fmt.Errorf("channel %q: InfluxDB refuses a field named time", name)
	case strings.ContainsAny(name, "\n\r"):
		return fmt.Errorf("channel %q: newline in the name", name)
	}
	return nil
}

// reset empties the buffer for the next batch.
func (e *lpEncoder) reset() { e.buf, e.points = e.buf[:0], 0 }

// frame appends the point of one frame; it reports false, appending
// nothing, when no value is finite (InfluxDB has no NaN or ±Inf, and a point
// needs a field).
func (e *lpEncoder) frame(t time.Duration, values []float64) bool {
	start := len(e.buf)
	e.buf = append(e.buf, e.frameHead...)
	sep := false
	for j, v := range values {
		bits := 64
		if !e.exact[j] {
			v, bits = float64(float32(v)), 32
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if sep {
			e.buf = append(e.buf, ',')
		}
		sep = true
		e.buf = append(e.buf, e.fieldKeys[j]...)
		e.buf = strconv.AppendFloat(e.buf, v, 'g', -1, bits)
	}
	if !sep {
		e.buf = e.buf[:start]
		return false
	}
	e.buf = append(e.buf, ' ')
	e.buf = strconv.AppendInt(e.buf, e.epoch+int64(t), 10)
	e.buf = append(e.buf, '\n')
	e.points++
	return true
}

// event appends the point of the next event of the run.
func (e *lpEncoder) event(ev runlog.Event) {
	seq := e.events
	e.events++
	tags := ",kind=" + escapeTag(orNoTag(ev.Kind)) + e.runTags
	e.buf = append(e.buf, MeasurementEvents...)
	e.buf = append(e.buf, tags...)
	e.buf = append(e.buf, " seq="...)
	e.buf = strconv.AppendInt(e.buf, seq, 10)
	e.buf = append(e.buf, 'i')
	if ev.Msg != "" {
		e.buf = appendStringField(e.buf, "msg", ev.Msg)
	}
	if ev.Step != "" {
		e.buf = appendStringField(e.buf, "step", ev.Step)
	}
	if len(ev.Data) > 0 { // compact JSON, non-finite numbers as null (runlog.NewEvent)
		e.buf = appendStringField(e.buf, "data", string(ev.Data))
	}
	e.endPoint(MeasurementEvents+tags, secondsNs(ev.T))
}

// beat appends the point of a beat.
func (e *lpEncoder) beat(b runlog.Beat) {
	tags := ",channel=" + escapeTag(orNoTag(b.Channel)) + e.runTags
	start := len(e.buf)
	e.buf = append(e.buf, MeasurementBeats...)
	e.buf = append(e.buf, tags...)
	n := 0
	add := func(k string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		if n == 0 {
			e.buf = append(e.buf, ' ')
		} else {
			e.buf = append(e.buf, ',')
		}
		n++
		e.buf = append(e.buf, k...)
		e.buf = append(e.buf, '=')
		e.buf = strconv.AppendFloat(e.buf, v, 'g', -1, 64)
	}
	add("systolic", b.Systolic)
	add("diastolic", b.Diastolic)
	add("mean", b.Mean)
	add("pulse_pressure", b.PulsePressure)
	add("heart_rate", b.HeartRate)
	if b.StrokeVolume != nil {
		add("stroke_volume", *b.StrokeVolume)
	}
	if n == 0 {
		e.buf = e.buf[:start]
		return
	}
	e.endPoint(MeasurementBeats+tags, secondsNs(b.T))
}

// step appends the point of a step result, with the statistics of the
// channels of the layout (others in s.Channels are left out).
func (e *lpEncoder) step(s runlog.StepResult, layout []runlog.Channel) {
	tags := e.runTags + ",step=" + escapeTag(orNoTag(s.Path))
	e.buf = append(e.buf, MeasurementSteps...)
	e.buf = append(e.buf, tags...)
	e.buf = append(e.buf, " index="...)
	e.buf = strconv.AppendInt(e.buf, int64(s.Index), 10)
	e.buf = append(e.buf, "i,frames="...)
	e.buf = strconv.AppendInt(e.buf, s.Frames, 10)
	e.buf = append(e.buf, 'i')
	e.buf = appendStringField(e.buf, "name", s.Name)
	e.buf = appendStringField(e.buf, "outcome", string(s.Outcome))
	e.buf = appendFloatField(e.buf, "start_s", s.StartS)
	e.buf = appendFloatField(e.buf, "end_s", s.EndS)
	for j, c := range layout {
		st, ok := s.Channels[c.Name]
		if !ok || st.N == 0 {
			continue
		}
		k := e.stepKeys[j]
		e.buf = appendFloatField(e.buf, k+"_mean", st.Mean)
		e.buf = appendFloatField(e.buf, k+"_min", st.Min)
		e.buf = appendFloatField(e.buf, k+"_max", st.Max)
		e.buf = appendFloatField(e.buf, k+"_std", st.Std)
	}
	e.endPoint(MeasurementSteps+tags, secondsNs(s.StartS))
}

// runStart appends the point of the run's start, at its epoch: its state,
// running, and its identity (see MeasurementRuns). It allocates (the
// calibration's JSON), once per run.
func (e *lpEncoder) runStart(m *runlog.Manifest) {
	e.buf = append(e.buf, MeasurementRuns...)
	e.buf = append(e.buf, e.runTags...)
	e.buf = append(e.buf, ` state="`+RunStateRunning+`"`...)
	e.identity(m)
	e.buf = append(e.buf, ' ')
	e.buf = strconv.AppendInt(e.buf, e.epoch, 10)
	e.buf = append(e.buf, '\n')
	e.points++
}

// identity appends the identity fields of the run's point (each after a
// first field): every one is written, "" when the manifest has none, so
// that a report tells a run without a DUT from a point without identity.
func (e *lpEncoder) identity(m *runlog.Manifest) {
	var dut runlog.DUTIdentity
	if m.DUT != nil {
		dut = *m.DUT
	}
	var profile runlog.DUTProfile
	if m.DUTProfile != nil {
		profile = *m.DUTProfile
	}
	cal := m.Calibration
	if cal == nil {
		cal = []runlog.Calibration{}
	}
	calJSON, err := json.Marshal(cal)
	if err != nil { // a field value that is not JSON: said, not hidden
		calJSON = []byte(strconv.Quote("influx: calibration: " + err.Error()))
	}
	var build, job []byte
	if m.Build != nil { // a development build is stamped in every report
		build, _ = json.Marshal(m.Build) // strings and booleans: no error
	}
	if m.Job != nil { // which CI job ran where (a fleet's question)
		job, _ = json.Marshal(m.Job) // strings: no error
	}
	for _, f := range [...]struct{ k, v string }{
		{"protocol", m.Protocol.Name}, {"protocol_file", m.Protocol.File}, {"protocol_sha256", m.Protocol.SHA256},
		{"rig_config_sha256", m.RigConfigSHA256}, {"software_version", m.SoftwareVersion}, {"build", string(build)},
		{"operator", m.Operator}, {"host", m.Host}, {"job", string(job)},
		{"dut_model", dut.Model}, {"dut_serial", dut.Serial}, {"dut_fw", dut.FW},
		{"dut_profile", profile.Name}, {"dut_profile_sha256", profile.SHA256},
		{"clock", string(m.Clock)}, {"calibration", string(calJSON)}, {"exact_channels", exactChannels(m)},
		{"started", m.Started.UTC().Format(time.RFC3339Nano)},
	} {
		e.buf = appendStringField(e.buf, f.k, f.v)
	}
	e.buf = appendFloatField(e.buf, "sample_rate_hz", m.SampleRateHz)
}

// exactChannels names, comma-separated, the channels m's record keeps to
// the bit (runlog.ColumnCoding.Exact), whose frame values the sink writes
// as float64: a report from InfluxDB reads them so, and rounds the others
// to float32 as the record keeps them.
func exactChannels(m *runlog.Manifest) string {
	var names []string
	for i, c := range m.Coding {
		if c.Exact() && i < len(m.Layout) {
			names = append(names, m.Layout[i].Name)
		}
	}
	return strings.Join(names, ",")
}

// run appends the run's summary point, at its epoch, with the identity
// fields too when m is not nil (Replay: the start point may never have
// been delivered).
func (e *lpEncoder) run(res *runlog.Result, frames int64, delivered bool, m *runlog.Manifest) {
	state := RunStateClosed
	if res.Outcome == runlog.OutcomeInterrupted {
		state = RunStateInterrupted
	}
	e.buf = append(e.buf, MeasurementRuns...)
	e.buf = append(e.buf, e.runTags...)
	e.buf = append(e.buf, " frames="...)
	e.buf = strconv.AppendInt(e.buf, frames, 10)
	e.buf = append(e.buf, "i,delivered="...)
	e.buf = strconv.AppendBool(e.buf, delivered)
	e.buf = appendStringField(e.buf, "state", state)
	e.buf = appendStringField(e.buf, "outcome", string(res.Outcome))
	if res.AbortReason != "" {
		e.buf = appendStringField(e.buf, "abort_reason", res.AbortReason)
	}
	e.buf = appendFloatField(e.buf, "duration_s", res.DurationS)
	if m != nil {
		e.identity(m)
	}
	e.buf = append(e.buf, ' ')
	e.buf = strconv.AppendInt(e.buf, e.epoch, 10)
	e.buf = append(e.buf, '\n')
	e.points++
}

// endPoint appends the timestamp of a point of the series key at offset ns
// from the epoch, 1 ns after the series' previous point if it would not
// come after it, and ends the line.
func (e *lpEncoder) endPoint(series string, ns int64) {
	ts := e.epoch + ns
	if last, ok := e.last[series]; ok && ts <= last {
		ts = last + 1
	}
	e.last[series] = ts
	e.buf = append(e.buf, ' ')
	e.buf = strconv.AppendInt(e.buf, ts, 10)
	e.buf = append(e.buf, '\n')
	e.points++
}

// tagEscaper escapes a measurement, tag key, tag value or field key: comma,
// equals sign and space get a backslash; a line break, which line protocol
// cannot hold there, becomes a space.
var tagEscaper = strings.NewReplacer(",", `\,`, "=", `\=`, " ", `\ `, "\n", `\ `, "\r", `\ `)

func escapeTag(s string) string { return tagEscaper.Replace(s) }

// stringEscaper escapes a string field value: backslash and double quote get
// a backslash. Line breaks are written as \n and \r, which InfluxDB keeps as
// those two characters: the record has the original.
var stringEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)

// appendStringField appends ",key=\"value\"" (a field after the first),
// truncating the value to maxStringField bytes at a rune boundary.
func appendStringField(b []byte, key, v string) []byte {
	if len(v) > maxStringField {
		cut := maxStringField
		for cut > 0 && v[cut]&0xC0 == 0x80 {
			cut--
		}
		v = v[:cut] + "…"
	}
	b = append(b, ',')
	b = append(b, key...)
	b = append(b, `="`...)
	b = append(b, stringEscaper.Replace(v)...)
	return append(b, '"')
}

// appendFloatField appends ",key=value" (a field after the first), or
// nothing when v is not finite.
func appendFloatField(b []byte, key string, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return b
	}
	b = append(b, ',')
	b = append(b, key...)
	b = append(b, '=')
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
