package runlog

import (
	"bytes"
	"encoding/json"
	"math"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/units"
)

// The JSON documents of a run record (manifest.json, events.jsonl,
// result.json) are a contract: the engine writes them, reports, CI scripts
// and people read them. Field names are snake_case and only ever added to;
// the meaning of an existing field does not change. In manifest.json and
// result.json every key is always there (doc.go, "Keys"; the schemas in
// docs/schemas/ are written by hand and held to these types by tests):
// null means "does not apply" or "not known", a list is [] when empty. A
// field tagged null:"empty" is a string, number or time whose zero value
// means none and is written null (marshalObject). JSON cannot hold NaN or
// ±Inf, so every float that may have no value is a pointer written as null.

// State is the life-cycle state of a run, in manifest.json.
type State string

// Run states.
const (
	// StateRunning: created and not closed. On a run whose lock is not held
	// (its process died), Recover changes it to StateInterrupted.
	StateRunning State = "running"
	// StateClosed: closed by its process with a Result.
	StateClosed State = "closed"
	// StateInterrupted: closed by Recover after the process ended without
	// closing it; its result says how much data was recovered.
	StateInterrupted State = "interrupted"
)

// Outcome is the outcome of a run (Result.Outcome, Manifest.Outcome) or of a
// step (StepResult.Outcome).
type Outcome string

// Outcomes. A run is pass, fail, aborted or interrupted; a step is pass,
// fail, aborted or timeout.
const (
	OutcomePass        Outcome = "pass"        // every criterion passed (or only warned)
	OutcomeFail        Outcome = "fail"        // a criterion failed
	OutcomeAborted     Outcome = "aborted"     // safety trip, fault or operator; see abort_reason
	OutcomeInterrupted Outcome = "interrupted" // the process ended without closing the run (Recover)
	OutcomeTimeout     Outcome = "timeout"     // a step's wait condition did not come true in time
	// OutcomeRetried: an attempt of a step with retry whose criteria
	// failed, run again (language 1.1); its criteria are superseded.
	OutcomeRetried Outcome = "retried"
)

// runOutcome reports whether o is an outcome a whole run may have.
func runOutcome(o Outcome) bool {
	switch o {
	case OutcomePass, OutcomeFail, OutcomeAborted, OutcomeInterrupted:
		return true
	}
	return false
}

// ExitCode is the exit code of a command that ran, or followed, a run
// with this outcome: 0 pass, 1 fail, 2 aborted or interrupted (or
// anything else: a run that did not pass is never reported as passing).
// One home for the mapping: `mockloop run`, the serve queue's exit_code
// and `mockloop run --remote` agree.
func (o Outcome) ExitCode() int {
	switch o {
	case OutcomePass:
		return 0
	case OutcomeFail:
		return 1
	}
	return 2
}

// Verdict is what a criterion's evaluation means for the run.
type Verdict string

// Verdicts.
const (
	VerdictPass   Verdict = "pass"    // the value met the limits
	VerdictFail   Verdict = "fail"    // it did not, and the criterion fails the run
	VerdictWarn   Verdict = "warn"    // it did not, and the criterion only warns
	VerdictNoData Verdict = "no-data" // there was nothing to measure (no frames, no beats)
	// VerdictMarginal: it met the limits but lies outside the criterion's
	// marginal band (language 1.1): a pass, flagged.
	VerdictMarginal Verdict = "marginal"
	// VerdictSuperseded: judged in an attempt of a step that was run
	// again (retry, language 1.1): the last attempt's verdict counts, this
	// one neither passes nor fails the run.
	VerdictSuperseded Verdict = "superseded"
	// VerdictNotReached: the run ended before judging it (verdict.Recompute's
	// Unreached); never in result.json.
	VerdictNotReached Verdict = "not reached"
)

// ClockKind says which time base a run ran on.
type ClockKind string

// Clock kinds.
const (
	ClockVirtual ClockKind = "virtual" // simulated time, as fast as the CPU allows
	ClockReal    ClockKind = "real"    // the monotonic wall clock, at the bench
)

// Manifest is manifest.json: what ran, on what, by whom and when. Create
// writes it with state "running"; Close or Recover rewrite it (atomically)
// with the state, end time and outcome. It describes every other file of the
// run: the layout gives the frames' columns, the epoch gives the wall time of
// the t of frames and events.
type Manifest struct {
	// SchemaVersion is the version of this file's schema (SchemaVersion),
	// set when it is written; "" in records made before 1.0.0.
	SchemaVersion string `json:"schema_version"`
	// RunID is the run's id (NewRunID), also the name of its directory.
	RunID string `json:"run_id"`
	// Rig is the rig's name from its config.
	Rig string `json:"rig"`
	// RigMode is the rig's mode (its config's mode:): RigModeNumerical,
	// whose bench is the patient, or RigModeHybrid, whose patient is the
	// controller's numerical model (lvp, aop, … are the model's channels)
	// and whose bench is only its boundary (the measured chambers are
	// bench.*). It is here so that whoever reads a record or its report
	// knows which kind of run it was without the rig config. Null in
	// records made before schema 1.2.0, which were all numerical (Mode).
	RigMode string `json:"rig_mode" null:"empty"`
	// Host is the hostname of the machine that ran the run, so that a fleet
	// knows which bench computer made a record; null in records made before
	// 1.0.0 or when the system did not say.
	Host string `json:"host" null:"empty"`
	// Job is the CI job that started the run, null when none did (or in
	// records made before 1.0.0).
	Job *Job `json:"job"`
	// RigConfigSHA256 is the lower-case hex SHA-256 of the rig config, as
	// copied to rig.yaml. Create fills it in.
	RigConfigSHA256 string `json:"rig_config_sha256"`
	// Protocol identifies the protocol; its copy is protocol.yaml.
	Protocol ProtocolRef `json:"protocol"`
	// SoftwareVersion is mockloop's version (as `mockloop version` prints it).
	SoftwareVersion string `json:"software_version"`
	// Build is how that software was built; absent in records made before
	// it was recorded (null). A run made by a build that is not a release is
	// stamped as such in every report.
	Build *Build `json:"build"`
	// DUT is the device under test as it identified itself; null when
	// there is no DUT or it did not answer.
	DUT *DUTIdentity `json:"dut"`
	// DUTProfile is the device profile the rig simulated and checked the
	// DUT with (its config's dut.profile, or --dut); null without a DUT
	// and in records made before profiles.
	DUTProfile *DUTProfile `json:"dut_profile"`
	// DUTLink is how the rig reached the DUT: DUTLinkSerial, DUTLinkPTY or
	// DUTLinkInProcess; null without a DUT and in records made before
	// schema 1.1.0.
	DUTLink string `json:"dut_link" null:"empty"`
	// Calibration lists the calibration records in force for the run's
	// channels; [] when there are none.
	Calibration []Calibration `json:"calibration"`
	// Operator is who started the run (a user name, or e.g. "ci").
	Operator string `json:"operator"`
	// Started is the wall time the run started (RFC 3339, nanoseconds, UTC).
	// Create uses Epoch when it is zero.
	Started time.Time `json:"started"`
	// Ended is the wall time the run ended: Epoch plus the run's duration,
	// i.e. on the run's own time base, so a virtual 24 h run ends 24 h after
	// its epoch whatever the wall clock did. Null while running.
	Ended time.Time `json:"ended" null:"empty"`
	// State is "running", "closed" or "interrupted".
	State State `json:"state"`
	// Outcome is the run's outcome once it has one (as in result.json);
	// null while running.
	Outcome Outcome `json:"outcome" null:"empty"`
	// Layout is the frames' columns, in order; at least one.
	Layout []Channel `json:"layout"`
	// Coding says how the frame segments code each channel's values
	// (ColumnCoding, one per channel): the converter's LSB and
	// calibration for an ADC input, so that its codes are stored
	// exactly. Not in manifest.json: every segment's header carries it.
	// Nil codes every channel as float32 (CodingF32).
	Coding []ColumnCoding `json:"-"`
	// SampleRateHz is the nominal frame rate.
	SampleRateHz float64 `json:"sample_rate_hz"`
	// Clock is "virtual" or "real".
	Clock ClockKind `json:"clock"`
	// RealTime is what the sampling loop's thread obtained on the wall
	// clock (null on virtual time): its scheduling, whether memory was
	// locked, and what the system refused.
	RealTime *RealTime `json:"real_time"`
	// Resumed counts how often the run was continued after an interruption
	// (mockloop run --resume); the gaps are events of kind run.resumed.
	Resumed int `json:"resumed"`
	// FramesKeptEvery is N when the record keeps one frame in N of those
	// the run acquired (a dry run's --frames every:N, on virtual time
	// only), 1 when it keeps every frame; null in records made before
	// 1.1.0, which kept every frame. InfluxDB was sent the same frames as
	// the record; the supervisor, beats, step statistics and criteria saw
	// every frame, so a value over frames cannot be recomputed from the
	// record of a run that kept fewer (KeptEvery).
	FramesKeptEvery int `json:"frames_kept_every" null:"empty"`
	// Epoch is the wall time of t = 0 of the run's clock: frame timestamps
	// and event t are offsets from it.
	Epoch time.Time `json:"epoch"`
}

// KeptEvery is N of a record that keeps one frame in N of those its run
// acquired (FramesKeptEvery); 1 for a record that keeps them all, as
// every record made before the key did.
func (m *Manifest) KeptEvery() int { return max(1, m.FramesKeptEvery) }

// Mode is the rig's mode of the run (RigMode): RigModeNumerical for a
// record made before the key, as every rig was numerical then.
func (m *Manifest) Mode() string {
	if m.RigMode == "" {
		return RigModeNumerical
	}
	return m.RigMode
}

// The modes of a rig (Manifest.RigMode; rig.ModeNumerical and
// rig.ModeHybrid are these, one home for a config's mode: and a record's
// rig_mode).
const (
	// RigModeNumerical: the bench is the patient; its LV drive, valves and
	// compliances make the pressures the device under test sees.
	RigModeNumerical = "numerical"
	// RigModeHybrid: the patient is the circulation the controller
	// computes at the sample rate; the bench's inlet and outlet chambers
	// follow the model's pressures at the device (README, "Hybrid rigs").
	RigModeHybrid = "hybrid"
)

// RealTime is the scheduling a run's sampling loop ran under.
type RealTime struct {
	Policy       string   `json:"policy"`   // SCHED_FIFO or SCHED_OTHER
	Priority     int      `json:"priority"` // 0 under SCHED_OTHER
	MemoryLocked bool     `json:"memory_locked"`
	Refused      []string `json:"refused"` // [] when nothing was refused
}

// Job identifies the CI job that started a run (JobFromEnv), so that a
// fleet's results say which job on which runner ran where. Its strings
// are null when the CI system does not give them.
type Job struct {
	// System is the CI system: "github" (GitHub Actions), "gitlab"
	// (GitLab CI) or "other" (MOCKLOOP_JOB_URL alone).
	System string `json:"system"`
	// URL is the job's page, where its log is.
	URL string `json:"url" null:"empty"`
	// ID is the CI system's id of the job (or of the workflow run, on
	// GitHub, whose URL names it).
	ID string `json:"id" null:"empty"`
	// Name is the job's name in its pipeline or workflow.
	Name string `json:"name" null:"empty"`
	// Runner is the name of the CI runner that executed the job.
	Runner string `json:"runner" null:"empty"`
}

// Requirement is one entry of the protocol's traceability catalogue.
type Requirement struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// ProtocolRef identifies the protocol a run executed.
type ProtocolRef struct {
	Name string `json:"name"` // the protocol's name as declared in it
	File string `json:"file"` // the path it was loaded from, as given
	// SHA256 is the lower-case hex SHA-256 of its bytes, as copied to
	// protocol.yaml. Create fills it in.
	SHA256 string `json:"sha256"`
	// Requirements is the protocol's requirements catalogue, in file order,
	// so reports can trace every requirement to its criteria; [] when it
	// has none.
	Requirements []Requirement `json:"requirements"`
	// Description is the protocol's description; null when it has none.
	Description string `json:"description" null:"empty"`
}

// How a run reached its DUT (Manifest.DUTLink).
const (
	// DUTLinkSerial: a device on a serial port (USB-serial adapter).
	DUTLinkSerial = "serial"
	// DUTLinkPTY: the simulated DUT on a pseudo-terminal, through the
	// same serial library and tty layer as a real adapter (the wall
	// clock's way to it).
	DUTLinkPTY = "pty"
	// DUTLinkInProcess: the simulated DUT's firmware reached in the same
	// process, request and response, with the same driver and codec
	// (virtual time's way to it: deterministic, and no thread hand-off
	// per exchange).
	DUTLinkInProcess = "in-process"
)

// DUTIdentity is the device under test as it identified itself; what it
// did not say is null.
type DUTIdentity struct {
	Model  string `json:"model" null:"empty"`
	Serial string `json:"serial" null:"empty"`
	FW     string `json:"fw" null:"empty"` // firmware version
}

// DUTProfile identifies a device profile (configs/duts/*.yaml or a file).
type DUTProfile struct {
	Name   string `json:"name"`   // its name, the file's base name: impella-cp
	SHA256 string `json:"sha256"` // lower-case hex SHA-256 of the file's bytes
}

// Equal reports whether p and q are the same profile (both nil, or the
// same name and bytes).
func (p *DUTProfile) Equal(q *DUTProfile) bool {
	if p == nil || q == nil {
		return p == q
	}
	return *p == *q
}

// Calibration is one calibration record in force for a channel, as the rig
// config gives it. Dates are kept as written (ISO 8601, e.g. "2026-11-02").
// What the config does not give is null.
type Calibration struct {
	Channel   string `json:"channel"`
	Method    string `json:"method" null:"empty"`    // e.g. "two-point", "linear fit"
	Date      string `json:"date" null:"empty"`      // when it was done
	Due       string `json:"due" null:"empty"`       // when it must be done again
	Reference string `json:"reference" null:"empty"` // reference instrument or certificate
	// Fields holds anything else the calibration has (gain, offset,
	// points, ...); null when nothing. Keys are sorted in the JSON.
	Fields map[string]any `json:"fields"`
}

// Build is the build of the software that made a run. A release is a
// build from a tagged, unmodified source tree (its Version is the tag);
// anything else — a plain `go build`, a dirty tree, a commit past a tag —
// is a development build, not evidence for a design history file.
type Build struct {
	Version  string `json:"version"`
	Revision string `json:"revision" null:"empty"` // the VCS commit, when the build knew it
	Time     string `json:"time" null:"empty"`     // the commit's time (RFC 3339)
	Modified bool   `json:"modified"`              // built from a tree with uncommitted changes
	Release  bool   `json:"release"`
}

// Channel is one column of the frames: its name, as protocols and reports use
// it ("aop", "dut.rpm"), and its unit as text, the canonical unit of its
// dimension ("mmHg", "L/min"). The unit is text so that a record stays
// readable whatever becomes of the units package.
type Channel struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
}

// Channels returns the record layout of a daq layout, naming each channel's
// unit with unit, normally the method expression units.Dimension.Unit.
func Channels(l daq.Layout, unit func(units.Dimension) string) []Channel {
	cs := make([]Channel, len(l))
	for i, c := range l {
		cs[i] = Channel{Name: c.Name, Unit: unit(c.Dim)}
	}
	return cs
}

// Result is result.json, written when the run is closed: the outcome, and the
// evidence for it.
type Result struct {
	// SchemaVersion is the version of this file's schema (SchemaVersion),
	// set when it is written; "" in records made before 1.0.0.
	SchemaVersion string `json:"schema_version"`
	// RunID is the run's id; Close sets it.
	RunID string `json:"run_id"`
	// Rig, Host and Job say which rig, on which machine, ran the run for
	// which CI job, as in the manifest (Close copies them), so that a CI
	// job reading only result.json knows; null in records made before
	// 1.0.0 (the manifest has the rig).
	Rig  string `json:"rig" null:"empty"`
	Host string `json:"host" null:"empty"`
	Job  *Job   `json:"job"`
	// Outcome is "pass", "fail", "aborted" or "interrupted".
	Outcome Outcome `json:"outcome"`
	// AbortReason says why an aborted run was aborted (the safety trip,
	// fault or operator action), or what Recover found for an interrupted
	// one; null for a run that ended otherwise.
	AbortReason string `json:"abort_reason" null:"empty"`
	// Frames is the number of frames in the record; Close and Recover set
	// it from what was written to the segments.
	Frames int64 `json:"frames"`
	// DurationS is the run's duration on its clock, in seconds; it must be
	// finite.
	DurationS float64 `json:"duration_s"`
	// Steps are the executed steps, in execution order; [] when none.
	Steps []StepResult `json:"steps"`
	// Criteria are all evaluated criteria, in evaluation order; [] when none.
	Criteria []CriterionResult `json:"criteria"`
	// Influx reports delivery to InfluxDB; null when the run had no
	// InfluxDB sink.
	Influx *InfluxDelivery `json:"influx"`
}

// StepResult is one executed step of a run.
type StepResult struct {
	// Index is the step's position in execution order, from 0.
	Index int `json:"index"`
	// Path is the step's position in the protocol, 1-based, dotted for
	// nested steps: "3.2" is the second sub-step of the third step. A
	// repeated step has one StepResult per execution, with the same path.
	Path   string  `json:"path"`
	Name   string  `json:"name"`
	StartS float64 `json:"start_s"` // run clock, seconds
	EndS   float64 `json:"end_s"`   // run clock, seconds
	// Frames counts the frames acquired during the step, over which
	// Channels are computed: all of them recorded, except in a run that
	// kept one frame in N (Manifest.FramesKeptEvery), whose record holds
	// about Frames/N of them.
	Frames  int64   `json:"frames"`
	Outcome Outcome `json:"outcome"` // "pass", "fail", "aborted", "timeout" or "retried"
	// Attempt is the attempt's number, from 1, of a step with retry
	// (language 1.1); null for a step without.
	Attempt int `json:"attempt" null:"empty"`
	// Channels are statistics of each channel's frames during the step, by
	// channel name; null when none were computed.
	Channels map[string]ChannelStats `json:"channels"`
}

// ChannelStats summarises the values of one channel over a step.
//
// In JSON it is {"unit", "n", "mean", "min", "max", "std"}. A statistic that
// has no finite value — all four when N is 0, or one that overflowed or met a
// NaN sample — is null in the JSON (left out in records made before 1.0.0),
// and reads back as NaN.
type ChannelStats struct {
	Unit string  // the channel's unit, as in the layout
	N    int64   // number of values
	Mean float64 // arithmetic mean
	Min  float64
	Max  float64
	Std  float64 // population standard deviation (divided by N)
}

// statsJSON is the wire form of ChannelStats.
type statsJSON struct {
	Unit string   `json:"unit"`
	N    int64    `json:"n"`
	Mean *float64 `json:"mean"`
	Min  *float64 `json:"min"`
	Max  *float64 `json:"max"`
	Std  *float64 `json:"std"`
}

// MarshalJSON implements json.Marshaler, writing non-finite statistics null.
func (s ChannelStats) MarshalJSON() ([]byte, error) {
	w := statsJSON{Unit: s.Unit, N: s.N}
	if s.N > 0 {
		w.Mean, w.Min, w.Max, w.Std = finite(s.Mean), finite(s.Min), finite(s.Max), finite(s.Std)
	}
	return marshalCompact(w)
}

// UnmarshalJSON implements json.Unmarshaler; missing statistics become NaN.
func (s *ChannelStats) UnmarshalJSON(b []byte) error {
	var w statsJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = ChannelStats{Unit: w.Unit, N: w.N, Mean: orNaN(w.Mean), Min: orNaN(w.Min), Max: orNaN(w.Max), Std: orNaN(w.Std)}
	return nil
}

// CriterionResult is one evaluated acceptance criterion.
//
// Value, Lo and Hi are null in JSON when nil or not finite; a string the
// protocol does not give (an id, a name, a window) is null.
type CriterionResult struct {
	// ID is the criterion's id from the protocol, for requirement tracing.
	ID string `json:"id" null:"empty"`
	// Name is its human-readable name from the protocol.
	Name string `json:"name" null:"empty"`
	// Step is the path of the step it was evaluated in ("3.2"), as in
	// StepResult.Path; empty for a criterion over the whole run.
	Step string `json:"step"`
	// StepName is that step's name.
	StepName string `json:"step_name" null:"empty"`
	// Measure is the measured quantity as written, e.g. "mean(aop)".
	Measure string `json:"measure"`
	// Over is the window it was measured over as written, e.g. "last 10 s".
	Over string `json:"over" null:"empty"`
	// Value is the measured value in Unit; nil when there was no data.
	// For a criterion relative to an earlier step it is the change from
	// Reference, in percent of it or in the measure's unit (Unit says).
	Value *float64 `json:"value"`
	// Reference is, for a relative criterion, the same measure's value in
	// its reference step, in the measure's unit, and ReferenceStep that
	// step's path.
	Reference     *float64 `json:"reference"`
	ReferenceStep string   `json:"reference_step" null:"empty"`
	// Unit is the unit of Value, Lo and Hi as text.
	Unit string `json:"unit"`
	// Limits are the limits as written, e.g. "between 55 mmHg and 90 mmHg";
	// for a relative criterion followed by its reference, "between -10 %
	// and +5 % relative to step 1: 97.75 mmHg".
	Limits string `json:"limits"`
	// Lo and Hi are the limits in Unit; nil for an open side.
	Lo *float64 `json:"lo"`
	Hi *float64 `json:"hi"`
	// Verdict is what the evaluation means for the run given OnFail.
	Verdict Verdict `json:"verdict"`
	// Pass reports whether the value met the limits: true for verdicts
	// "pass" and "marginal", false for "fail", "warn" and "no-data"; for
	// "superseded", what the superseded attempt judged.
	Pass bool `json:"pass"`
	// OnFail is what a failure does, as written in the protocol ("fail",
	// "warn", "abort").
	OnFail string `json:"on_fail"`
	// Reason explains a verdict that the value alone does not, e.g. "no
	// beats detected".
	Reason string `json:"reason" null:"empty"`
}

// MarshalJSON implements json.Marshaler, writing non-finite numbers as null.
func (c CriterionResult) MarshalJSON() ([]byte, error) {
	type plain CriterionResult // no methods: no recursion
	p := plain(c)
	p.Value, p.Lo, p.Hi, p.Reference = finitePtr(c.Value), finitePtr(c.Lo), finitePtr(c.Hi), finitePtr(c.Reference)
	return marshalObject(p)
}

// InfluxDelivery reports whether a run's data reached InfluxDB (DESIGN.md,
// decision 3: a run whose data has not all arrived says so).
type InfluxDelivery struct {
	// Delivered is true when every point was written to the server.
	Delivered bool `json:"delivered"`
	// SpooledPoints is the number of points left in the disk spool for
	// `mockloop sync` to replay.
	SpooledPoints int64 `json:"spooled_points"`
	// Error is the last write error; null when there was none.
	Error string `json:"error" null:"empty"`
}

// marshalCompact is json.Marshal without escaping <, > and &: the record's
// files are read by people and scripts, not embedded in HTML, and limits are
// written "< 90 mmHg".
func marshalCompact(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// finite returns a pointer to a copy of v, or nil if v is NaN or ±Inf.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// finitePtr is finite for a value that may be absent.
func finitePtr(p *float64) *float64 {
	if p == nil {
		return nil
	}
	return finite(*p)
}

// orNaN is the inverse of finite.
func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
