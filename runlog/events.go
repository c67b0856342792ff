package runlog

import (
	"time"

	"bytes"
	"encoding/json"
	"math"

	"github.com/mockloop/mockloop/daq"
)

// Event kinds, and the payload type of each kind's data. Every kind a
// mockloop writes is here, so that writers and readers agree on one
// spelling and one shape. Kind is an open set all the same: readers must
// keep (and may ignore) kinds they do not know, and records of other
// versions may have them.
const (
	KindRunStart       = "run.start"       // RunStartData; msg: the protocol's name
	KindRunEnd         = "run.end"         // RunEndData; msg: the outcome
	KindRunInterrupted = "run.interrupted" // RunInterruptedData, written by Recover; msg: what it found
	KindRunResumed     = "run.resumed"     // RunResumedData; the gap a resumed run bridges
	KindStepStart      = "step.start"      // no data; msg: the step's title
	KindStepEnd        = "step.end"        // StepEndData; msg: the step's outcome
	// KindSetpoint: a parameter was set. SetpointData, or none when the
	// parameter is a preset (loop.preset), whose setpoints follow as
	// events of their own.
	KindSetpoint     = "setpoint"
	KindRamp         = "ramp"          // no data; msg: the ramp as written
	KindUntilMet     = "until.met"     // UntilMetData; msg: the condition
	KindUntilTimeout = "until.timeout" // no data; msg: the condition and timeout
	KindCriterion    = "criterion"     // CriterionData; msg: the verdict as text
	// KindPrompt: a step asks the operator (language 1.1). PromptData;
	// msg: the question. Its answer is a KindOperator event, action
	// prompt.answer (rig.PromptAnswer).
	KindPrompt     = "prompt"
	KindInvariant  = "invariant"   // InvariantData: an always-criterion was first violated
	KindControl    = "control"     // no data; msg: a closed loop switched on or off
	KindFault      = "fault"       // FaultData
	KindSafetyTrip = "safety.trip" // no data; msg: the abort reason
	// KindOperator: something the operator did or allowed. OperatorData
	// for a pause ("paused", "resumed"), none for an overdue calibration
	// run with --allow-overdue.
	KindOperator = "operator"
	// KindDUTTx and KindDUTRx: a frame sent to the DUT, a line received
	// from it; DUTFrameData when it says more than msg, the line. On the
	// wall clock (--realtime, hardware) every frame is one. On virtual
	// time only those of exchanges that changed something or failed are
	// (DUTSummaryData says which), and KindDUTSummary counts them all.
	KindDUTTx = "dut.tx"
	KindDUTRx = "dut.rx"
	// KindDUTSummary: the DUT link's exchanges counted, at the end of
	// every step and of the run; DUTSummaryData; msg: the counts in words.
	KindDUTSummary = "dut.summary"
	// KindDUTAlarm: alarm bits of the DUT rose, a warning (the run trips
	// on those its rig config names); DUTAlarmData; msg: the bits by name.
	KindDUTAlarm = "dut.alarm"
	// KindDUTSafe: how the DUT's safe state went, by its measured speed:
	// reached in time, or not and its power switched off; DUTSafeData.
	KindDUTSafe = "dut.safe"
	// KindAcquisition: the converters' bad-frame counters changed;
	// AcquisitionData.
	KindAcquisition = "acquisition"
	// KindGap: conversions without a value (lost, or read bad) before a
	// frame; GapData.
	KindGap = "acquisition.gap"
)

// Event is one line of events.jsonl: something that happened at a point of
// the run.
type Event struct {
	// T is the run clock's time of the event in seconds since the epoch,
	// the same time base as the frames.
	T float64 `json:"t"`
	// Kind says what happened: one of the Kind constants, or another
	// dotted lower-case name.
	Kind string `json:"kind"`
	// Step is the path of the step it happened in ("3.2"), if any.
	Step string `json:"step,omitempty"`
	// Msg is a human-readable description.
	Msg string `json:"msg,omitempty"`
	// Data holds the event's details (setpoint name and value, a trip's
	// channel and limit, ...) as a JSON object: the payload type of its
	// kind, encoded by NewEvent, read with Decode. It is nil when the event
	// has none. Events read from a record carry it as json.Marshal writes a
	// map: keys sorted, numbers as float64, whatever the file had.
	Data json.RawMessage `json:"data,omitempty"`
	// err is why NewEvent could not encode the payload; Record.Event
	// reports it rather than write the event without its data.
	err error
}

// Payload is the data of an event of some kind: one of the *Data types of
// this file. The set is closed so that every payload has its JSON form
// declared here.
type Payload interface{ payload() }

// NewEvent makes an event of a kind with its payload as data; T is the
// writer's to set. A payload that encodes as {} (all its fields left out)
// gives no data, as a map without keys did.
func NewEvent(kind, step, msg string, p Payload) Event {
	e := Event{Kind: kind, Step: step, Msg: msg}
	b, err := marshalCompact(p)
	switch {
	case err != nil:
		e.err = err
	case string(b) != "{}":
		e.Data = b
	}
	return e
}

// Decode decodes the event's data into p, a pointer to the payload type of
// its kind (see the Kind constants). Fields the data does not have are left
// as they are, and so is p when the event has no data. As json.Unmarshal,
// it fills in what it can when a value has the wrong type, and reports the
// first such value.
func (e Event) Decode(p Payload) error {
	if len(e.Data) == 0 {
		return nil
	}
	return json.Unmarshal(e.Data, p)
}

// UnmarshalJSON implements json.Unmarshaler. The data must be a JSON object
// or null; it is kept in the form Data describes, so that an event reads
// back the same whoever wrote the file.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w struct {
		T    float64        `json:"t"`
		Kind string         `json:"kind"`
		Step string         `json:"step"`
		Msg  string         `json:"msg"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	data, err := canonicalData(w.Data)
	if err != nil {
		return err
	}
	*e = Event{T: w.T, Kind: w.Kind, Step: w.Step, Msg: w.Msg, Data: data}
	return nil
}

// ParseData reads event data kept elsewhere than events.jsonl (InfluxDB's
// data field) into the form of Event.Data. It fails when b is not a JSON
// object or null.
func ParseData(b []byte) (json.RawMessage, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return canonicalData(m)
}

// canonicalData encodes decoded data as Event.Data: nil for none.
func canonicalData(m map[string]any) (json.RawMessage, error) {
	if len(m) == 0 {
		return nil, nil
	}
	return marshalCompact(m) // what JSON decoded to, JSON encodes
}

// Reading is a measured value in an event's data. JSON has no NaN: a value
// that is NaN or ±Inf is written as null, and null reads back as NaN, so
// that a missing value never reads as zero.
type Reading float64

// MarshalJSON implements json.Marshaler.
func (r Reading) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(r)) || math.IsInf(float64(r), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(r))
}

// UnmarshalJSON implements json.Unmarshaler.
func (r *Reading) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = Reading(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(r))
}

// SetpointValue is a parameter's value as a setpoint event records it: a
// word ("off", a mode, a level) as a JSON string, or else a number in the
// parameter's canonical unit (null, read back as NaN, if not finite).
type SetpointValue struct {
	Num  float64
	Word string
}

// MarshalJSON implements json.Marshaler.
func (v SetpointValue) MarshalJSON() ([]byte, error) {
	if v.Word != "" {
		return marshalCompact(v.Word)
	}
	return Reading(v.Num).MarshalJSON()
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *SetpointValue) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(b, []byte(`"`)) {
		*v = SetpointValue{}
		return json.Unmarshal(b, &v.Word)
	}
	var r Reading
	if err := r.UnmarshalJSON(b); err != nil {
		return err
	}
	*v = SetpointValue{Num: float64(r)}
	return nil
}

// The payload types. Their fields are declared in the order of their JSON
// names, the order in which json.Marshal writes a map's keys: events.jsonl
// was written from maps, and its lines stay as they were.

// RunStartData is the data of run.start.
type RunStartData struct {
	Clock ClockKind `json:"clock"`
	Rig   string    `json:"rig"` // the rig's name from its config
}

// RunEndData is the data of run.end.
type RunEndData struct {
	Frames int64 `json:"frames"` // frames recorded
}

// RunInterruptedData is the data of run.interrupted: what Recover found
// and cut.
type RunInterruptedData struct {
	CutEventBytes     int64 `json:"cut_event_bytes"`     // an unfinished last line of events.jsonl
	CutFrameBytes     int64 `json:"cut_frame_bytes"`     // a torn record at the end of the last segment
	DamagedFrameBytes int64 `json:"damaged_frame_bytes"` // unreadable frame bytes left in place
	Frames            int64 `json:"frames"`              // frames recovered
}

// RunResumedData is the data of run.resumed: the steps a resumed run keeps,
// and the gap of run time it bridges.
type RunResumedData struct {
	CompletedSteps int     `json:"completed_steps"` // top-level steps completed before the interruption
	GapFromS       float64 `json:"gap_from_s"`      // run clock of the last frame or event before it
	GapToS         float64 `json:"gap_to_s"`        // run clock at which the run went on
}

// StepEndData is the data of step.end. The whole result rides in it, so
// that a resumed run, or a report of an interrupted one, recovers it.
type StepEndData struct {
	Frames int64       `json:"frames"`           // frames recorded during the step
	Result *StepResult `json:"result,omitempty"` // nil in records of older versions
	// References are the values measured over the step for later steps'
	// relative criteria, by the criterion's line:col in the protocol, so
	// that a resumed run judges them against the same reference.
	References map[string]float64 `json:"references,omitempty"`
}

// SetpointData is the data of a setpoint other than a preset.
type SetpointData struct {
	Param string        `json:"param"`
	Value SetpointValue `json:"value"`
}

// UntilMetData is the data of until.met.
type UntilMetData struct {
	AfterS float64 `json:"after_s"` // how long the wait took
	Value  Reading `json:"value"`   // the measure's value that met the condition (the first, of several)
	// Values are each measure's value, in the order written, when the
	// condition has several (language 1.1: and, or, not).
	Values []Reading `json:"values,omitempty"`
}

// CriterionData is the data of criterion. The whole result rides in it, so
// that a resumed run, the live view and a report from InfluxDB recover it.
type CriterionData struct {
	Result  *CriterionResult `json:"result,omitempty"` // nil in records of older versions
	Verdict Verdict          `json:"verdict"`
}

// InvariantData is the data of invariant: the criterion, and the value
// that first violated it.
type InvariantData struct {
	ID    string  `json:"id"`
	Value Reading `json:"value"`
}

// FaultData is the data of fault.
type FaultData struct {
	Stack string `json:"stack"` // the goroutine's stack at a panic
}

// OperatorData is the data of an operator event: one entry of the run's
// audit trail (21 CFR 11.10(e)): who did what, when, why and what it
// changed. events.jsonl is append-only and sealed with the record, so an
// entry is never rewritten. Records made before the audit trail carry
// only BeforeStep, on a pause or its end.
type OperatorData struct {
	BeforeStep int `json:"before_step,omitempty"` // the top-level step it came before, from 1
	// Action is what was done: one of the Action constants.
	Action string `json:"action,omitempty"`
	// At is the wall-clock time (UTC) of the action, as the person saw it.
	At time.Time `json:"at,omitzero"`
	// By is the person: a bench-view user's name, a CI token's name, or
	// on the command line --operator, else the OS user.
	By string `json:"by,omitempty"`
	// Role is By's role where the bench view knows it (operator,
	// reviewer, admin); Via is the way the action came: cli, bench-view,
	// api (a token), control (mockloop stop), button (the e-stop).
	Role string `json:"role,omitempty"`
	Via  string `json:"via,omitempty"`
	// Reason is why, as the person gave it; required where the action
	// departs from the protocol as written.
	Reason string `json:"reason,omitempty"`
	// Old and New are the value before and after, where the action
	// changes one (a calibration's coefficients, a parameter).
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// Deviation marks a departure from the protocol as written (a pause,
	// an operator stop, a resume after interruption, an overdue
	// calibration, a development build on hardware, a DUT or rig other
	// than the one required): the report lists it with its Reason.
	Deviation bool `json:"deviation,omitempty"`
}

// The actions of the audit trail (OperatorData.Action).
const (
	ActionStart             = "start"
	ActionPause             = "pause"
	ActionResume            = "resume"
	ActionStop              = "stop"
	ActionEStop             = "e-stop"
	ActionPromptAnswer      = "prompt.answer"
	ActionAcknowledge       = "acknowledge" // an e-stop, safety trip or fault acknowledged (the bench view)
	ActionCalibrate         = "calibrate"
	ActionZero              = "zero"
	ActionAllowOverdue      = "allow-overdue"
	ActionAllowDevBuild     = "allow-dev-build"
	ActionResumeInterrupted = "resume-interrupted"
	ActionOtherDevice       = "other-device" // a DUT or rig other than the protocol requires
)

// PromptData is the data of a prompt event, and what the bench view and
// the queue show of a prompt waiting for its answer.
type PromptData struct {
	ID       string   `json:"id"`
	Step     string   `json:"step"`
	Message  string   `json:"message"`
	Choices  []string `json:"choices"`
	Input    string   `json:"input"` // number, text, or "" with choices
	Unit     string   `json:"unit"`
	TimeoutS *float64 `json:"timeout_s"` // null: waits until answered
	Default  *string  `json:"default"`
	AskedT   float64  `json:"asked_t"` // run clock, seconds
}

// DUTFrameData is the data of dut.tx and dut.rx, when the line alone does
// not say it all.
type DUTFrameData struct {
	Error string `json:"error,omitempty"` // why the frame was not understood, or the link failed
	Retry int    `json:"retry,omitempty"` // the command's resend, from 1
}

// DUTSummaryData is the data of dut.summary: what went over the DUT link,
// counted, since the previous summary of its scope.
//
// On virtual time a run records as dut.tx and dut.rx events (Logged
// "changes") the frames of
//   - every request but STATUS and PING (HELLO, MODE, SPEED, LEVEL, TELEM,
//     CLEAR, ...), and its reply: each is a command or a question asked
//     once;
//   - a STATUS exchange whose reply differs from the previous STATUS reply
//     in anything but its readings (rpm, cur, pwr, purge): its target,
//     its alarms, a field the rig does not know, an ERR; the first STATUS.
//     The readings are the dut.rpm, dut.current, dut.power and dut.purge
//     channels of the frames, at every poll; one a rig declares no
//     channel for is not recorded on virtual time (a simulated device's
//     readings are a function of the run, which runs again the same; a
//     rig that wants them declares the channel), and an alarm it raises
//     (purge low, overcurrent) is a change all the same;
//   - a PING exchange whose reply is anything but a bare OK;
//   - every error: an exchange retried or never answered (all its
//     attempts), a line dropped (bad CRC, bad syntax, too long), a reply to
//     no outstanding request, an ERR reply (NAK);
//   - every ALARM frame, and a TLM frame whose alarms differ from the
//     previous TLM's;
//   - the link's restoration after a reconnect.
//
// The rest is counted here only. On the wall clock (a real device, or
// --realtime) every frame is recorded (Logged "all"): there the line is a
// real device's, its exchanges take real time, so they come at most some
// ten a second, and the frame-by-frame trace is what an investigation of
// the device needs; a dry run on virtual time makes as many in minutes as
// the bench in days, of a simulated device whose every state change is
// kept.
type DUTSummaryData struct {
	// Alarms and TLM (last) count the unsolicited frames delivered.
	Alarms int64 `json:"alarm_frames"`
	// Errors count what went wrong on the line.
	Errors DUTErrors `json:"errors"`
	// Exchanges counts the requests by verb ("STATUS": 6000), a retry not
	// counted again.
	Exchanges map[string]int64 `json:"exchanges"`
	// Frames counts the frames sent and the lines received; FramesLogged
	// those of them recorded as dut.tx and dut.rx events.
	Frames       int64 `json:"frames"`
	FramesLogged int64 `json:"frames_logged"`
	// FromS is the run clock, in seconds, where the count starts.
	FromS float64 `json:"from_s"`
	// Link is how the DUT is reached (the manifest's dut_link).
	Link string `json:"link"`
	// Logged is which frames are recorded: "all" or "changes" (above).
	Logged string `json:"logged"`
	// Reconnects counts the link re-established (on_link_loss: reconnect).
	Reconnects int64 `json:"reconnects"`
	// Retries counts requests sent again for want of a reply.
	Retries int64 `json:"retries"`
	// Scope is "step": since the previous step's summary (the first: since
	// the link was opened, before the run); or "run": the whole run, from
	// the link's opening, in the run's last summary.
	Scope string `json:"scope"`
	TLM   int64  `json:"tlm_frames"`
}

// DUTErrors counts what went wrong on the DUT link (DUTSummaryData).
type DUTErrors struct {
	BadCRC      int64 `json:"bad_crc"`      // lines dropped for their CRC
	BadSyntax   int64 `json:"bad_syntax"`   // unparsable lines, and frames with a malformed payload
	LinkLost    int64 `json:"link_lost"`    // the link declared lost
	NAK         int64 `json:"nak"`          // ERR replies: the device refused a request
	NoReply     int64 `json:"no_reply"`     // requests unanswered after every attempt
	SeqMismatch int64 `json:"seq_mismatch"` // replies to no outstanding request, dropped
	TooLong     int64 `json:"too_long"`     // lines over VADLINK's 128 bytes, dropped
	Unexpected  int64 `json:"unexpected"`   // valid frames the host has no use for
}

// Which frames of the DUT link a run records (DUTSummaryData.Logged).
const (
	DUTLoggedAll     = "all"
	DUTLoggedChanges = "changes"
)

// DUTAlarmData is the data of dut.alarm.
type DUTAlarmData struct {
	Bits  int      `json:"bits"`  // the bits that rose, VADLINK's bitmask
	Names []string `json:"names"` // their one-word names (suction, overcurrent, ...)
	// Source is the frame that showed them: ALARM (the device's own word),
	// TLM or STATUS (bits an ALARM frame did not announce).
	Source string `json:"source"`
}

// DUTSafeData is the data of dut.safe.
type DUTSafeData struct {
	AfterS    float64 `json:"after_s"`             // since the safe command was answered
	Confirmed bool    `json:"confirmed"`           // the speed reached the safe speed in time
	PowerOff  bool    `json:"power_off,omitempty"` // the rig switched the DUT's power off
	RPM       Reading `json:"rpm"`                 // the last speed measured; null when none could be
	SafeRPM   int     `json:"safe_rpm"`            // the speed of the safe command
}

// AcquisitionData is the data of acquisition: the converters' counters.
type AcquisitionData struct {
	ADC     daq.ADCHealth `json:"adc"`
	SlowADC daq.ADCHealth `json:"slow_adc"`
}

// GapData is the data of acquisition.gap.
type GapData struct {
	Conversions int64   `json:"conversions"` // conversions without a value
	FromS       float64 `json:"from_s"`      // run clock of the first of them
	ToS         float64 `json:"to_s"`        // run clock of the last
}

func (RunStartData) payload()       {}
func (RunEndData) payload()         {}
func (RunInterruptedData) payload() {}
func (PromptData) payload()         {}
func (RunResumedData) payload()     {}
func (StepEndData) payload()        {}
func (SetpointData) payload()       {}
func (UntilMetData) payload()       {}
func (CriterionData) payload()      {}
func (InvariantData) payload()      {}
func (FaultData) payload()          {}
func (OperatorData) payload()       {}
func (DUTFrameData) payload()       {}
func (DUTAlarmData) payload()       {}
func (DUTSafeData) payload()        {}
func (DUTSummaryData) payload()     {}
func (AcquisitionData) payload()    {}
func (GapData) payload()            {}
