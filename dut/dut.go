package dut

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DUT is a device under test as the rig commands it: a pump controller with a
// stop, a speed and a level mode. Every driver (VADLINK, or a vendor protocol
// later) implements it; the run engine knows nothing else about the device.
//
// Methods may block for the duration of one exchange with the device (on
// VADLINK at most three 100 ms attempts); they return early when ctx ends.
// They are safe for concurrent use, and are serialised.
type DUT interface {
	// Identify asks the device who it is.
	Identify(ctx context.Context) (Identity, error)
	// SetMode selects how the pump's target speed is set.
	SetMode(ctx context.Context, m Mode) error
	// SetSpeed sets the target speed in ModeSpeed.
	SetSpeed(ctx context.Context, rpm int) error
	// SetLevel selects a performance level (P0..P9) in ModeLevel and
	// returns the target speed it stands for.
	SetLevel(ctx context.Context, level int) (targetRPM int, err error)
	// Stop is the safe command: it puts the pump in its safe state.
	Stop(ctx context.Context) error
	// Status reads the pump's actual state.
	Status(ctx context.Context) (Status, error)
	// ClearAlarms clears latched alarms; those whose cause persists rise
	// again.
	ClearAlarms(ctx context.Context) error
	// Maintain does the driver's periodic upkeep of the link, such as the
	// keep-alive the device's link watchdog needs, and reports a link that
	// was lost. The engine calls it every cycle; it decides on the engine's
	// clock, and costs nothing when nothing is due.
	Maintain(ctx context.Context) error
	// Close releases the link. The device is left as it is; a VADLINK
	// device falls back to its safe speed by itself when the host stops
	// talking.
	Close() error
}

// Reconnector is a DUT whose link can be re-established after it was lost.
type Reconnector interface {
	Reconnect(ctx context.Context) error
}

// Identity is how a device identifies itself.
type Identity struct {
	Model  string
	Serial string
	FW     string // firmware version
	Proto  int    // protocol version; 1 for VADLINK v1
}

// Mode is how the pump's target speed is set.
type Mode int

// Modes.
const (
	ModeStop  Mode = iota // safe state: target is the safe speed (0 rpm unless configured)
	ModeSpeed             // target set in rpm by SetSpeed
	ModeLevel             // target set by a level P0..P9 with SetLevel
)

// String returns the mode as VADLINK writes it.
func (m Mode) String() string {
	switch m {
	case ModeStop:
		return "STOP"
	case ModeSpeed:
		return "SPEED"
	case ModeLevel:
		return "LEVEL"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode reads a mode as VADLINK writes it.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "STOP":
		return ModeStop, nil
	case "SPEED":
		return ModeSpeed, nil
	case "LEVEL":
		return ModeLevel, nil
	}
	return 0, fmt.Errorf("dut: unknown mode %q (want STOP, SPEED or LEVEL)", s)
}

// Alarms is the VADLINK alarm bitmask.
type Alarms uint16

// Alarm bits.
const (
	AlarmSuction        Alarms = 0x01
	AlarmOvercurrent    Alarms = 0x02 // motor overcurrent
	AlarmPurgeLow       Alarms = 0x04 // purge pressure low
	AlarmPurgeHigh      Alarms = 0x08 // purge pressure high
	AlarmSpeedDeviation Alarms = 0x10
	AlarmHostLinkLost   Alarms = 0x20
)

// alarmNames are the bits' names as VADLINK describes them, from bit 0;
// alarmKeys the same as one word each, as a rig config names them
// (`trip_on: [overcurrent, suction]`).
var (
	alarmNames = [...]string{"suction", "motor overcurrent", "purge pressure low",
		"purge pressure high", "speed deviation", "host link lost"}
	alarmKeys = [...]string{"suction", "overcurrent", "purge_low", "purge_high", "speed_deviation", "host_link_lost"}
)

// AlarmKeys are the one-word names of the alarm bits, from bit 0.
func AlarmKeys() []string { return alarmKeys[:] }

// ParseAlarmKey reads the one-word name of an alarm bit ("overcurrent").
func ParseAlarmKey(s string) (Alarms, error) {
	for i, k := range alarmKeys {
		if s == k {
			return 1 << i, nil
		}
	}
	return 0, fmt.Errorf("dut: unknown alarm %q (known: %s)", s, strings.Join(alarmKeys[:], ", "))
}

// String lists the set bits by name, "none" when none is set.
func (a Alarms) String() string {
	if a == 0 {
		return "none"
	}
	return strings.Join(a.names(alarmNames[:]), ", ")
}

// Keys lists the set bits by their one-word names (AlarmKeys); an unknown
// bit as its hex value.
func (a Alarms) Keys() []string { return a.names(alarmKeys[:]) }

// names lists the set bits by their names in table, from bit 0, and the
// bits past it as one hex value.
func (a Alarms) names(table []string) []string {
	var parts []string
	for i, n := range table {
		if a&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if rest := a &^ (1<<len(table) - 1); rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%X", uint16(rest)))
	}
	return parts
}

// Hex is the bitmask as VADLINK writes it: upper-case hex, two digits at least.
func (a Alarms) Hex() string { return fmt.Sprintf("%02X", uint16(a)) }

// ParseAlarms reads a hex bitmask ("20", "0x20", "0").
func ParseAlarms(s string) (Alarms, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 16)
	if err != nil {
		return 0, fmt.Errorf("dut: alarm bitmask %q: not hex", s)
	}
	return Alarms(v), nil
}

// Status is the pump's state as the device reports it.
type Status struct {
	RPM       int // actual speed
	TargetRPM int
	CurrentmA int // motor current
	PowermW   int // motor power
	PurgemmHg int // purge pressure
	Alarms    Alarms
}

// Telemetry is one unsolicited TLM frame.
type Telemetry struct {
	At        time.Duration // host clock when it arrived
	DeviceT   time.Duration // the device's own time stamp (t=<ms>)
	RPM       int
	CurrentmA int
	PowermW   int
	PurgemmHg int
	Alarms    Alarms
}

// AlarmEvent is one unsolicited ALARM frame: bits that rose on the device.
type AlarmEvent struct {
	At   time.Duration // host clock when it arrived
	Bits Alarms
	Text string
}

// Error codes of VADLINK ERR replies.
const (
	CodeUnknownVerb = 1
	CodeBadArgument = 2
	CodeWrongMode   = 3 // not allowed in this mode
	CodeBusy        = 4
	CodeAlarmActive = 5
)

// Error is an ERR reply: the device refused the command.
type Error struct {
	Code int
	Text string
}

// Sentinels for errors.Is(err, dut.ErrBusy) and the like: an *Error matches
// any of them with the same Code, whatever its text.
var (
	ErrUnknownVerb = &Error{Code: CodeUnknownVerb, Text: "unknown verb"}
	ErrBadArgument = &Error{Code: CodeBadArgument, Text: "bad argument"}
	ErrWrongMode   = &Error{Code: CodeWrongMode, Text: "not allowed in this mode"}
	ErrBusy        = &Error{Code: CodeBusy, Text: "busy"}
	ErrAlarmActive = &Error{Code: CodeAlarmActive, Text: "alarm active"}
)

func (e *Error) Error() string {
	return fmt.Sprintf("dut: device refused: error %d (%s)", e.Code, e.Text)
}

// Is matches another *Error by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}
