package rig

import (
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/dut/dutsim"
	"github.com/mockloop/mockloop/dut/profile"
	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/units"
)

// DUTConfig is the device under test's link and what the rig does with it.
type DUTConfig struct {
	// Port is a serial device path or /dev/serial/by-id/ name, or "sim" for
	// the simulated DUT firmware (dut/dutsim) on a pseudo-terminal, which
	// only the sim backend has.
	Port string
	// Poll is how often STATUS is asked for: the rate of the dut.* channels.
	Poll time.Duration
	// OnLinkLoss is "abort" (the run ends in the safe state) or "reconnect"
	// (wait up to ReconnectWithin for the port to return, then abort).
	OnLinkLoss      string
	ReconnectWithin time.Duration
	// Safe is the DUT's command in the rig's safe state: stop (MODE STOP),
	// a performance level (an Impella is not left stopped in a patient: a
	// stopped pump regurgitates), or a speed.
	Safe DUTSafe
	// TripOn are the alarm bits that trip the run: the safety supervisor
	// checks them in the channel of the DUT's alarms on every frame. Every
	// other alarm that rises is a warning event (runlog.KindDUTAlarm).
	TripOn dut.Alarms
	// StopWithin is how long the DUT's measured speed may take to reach the
	// safe speed after its safe command was answered; the device's OK
	// alone confirms nothing. Past it the safe state fails, "DUT did not
	// stop", and the bench's own means take over (Power).
	StopWithin time.Duration
	// Power names the switch of hardware.switches that powers the DUT
	// (its safe state is on), switched off when the DUT did not stop; ""
	// for none.
	Power string
	// Telemetry is the rate in Hz of TLM frames the DUT is asked for (0:
	// none, STATUS polls only). Their alarms are recorded like an ALARM
	// frame's.
	Telemetry int
	// Faults is a dutsim fault specification for the simulated DUT (tests,
	// drills), e.g. "drop=0.1,delay=50ms".
	Faults dutsim.Faults
	// Profile is the device's profile (dut.profile, profile.Default when
	// the config names none, or --dut): the simulated DUT's firmware and
	// pump are built from it, and the run's manifest records it.
	Profile  *profile.Profile
	profileN *strictyaml.Node // where the config names it, for the placement check
	// Placement is where a hardware bench's plumbing puts the DUT, its
	// inlet and outlet by the names of a circulation's nodes
	// (dut.placement, as a profile's); zero: a left heart's, LV → aorta.
	// A simulated rig's circulation places it by its pump link instead.
	Placement  [2]string
	placementN *strictyaml.Node
}

// DefaultStopWithin is dut.stop_within unless the config says: from the
// highest Impella level, P9 at 51,000 rpm, a ramp of VADLINK's 10,000
// rpm/s reaches 0 in 5.1 s; twice that leaves room for a slower rotor.
const DefaultStopWithin = 10 * time.Second

// DUTSafe is the DUT's safe command.
type DUTSafe struct {
	Mode  dut.Mode
	Level int // with ModeLevel
	RPM   int // with ModeSpeed
}

func (s DUTSafe) String() string {
	switch s.Mode {
	case dut.ModeLevel:
		return "P" + strconv.Itoa(s.Level)
	case dut.ModeSpeed:
		return units.Format(float64(s.RPM), units.Speed)
	}
	return "stop"
}

// dutSignals are the DUT telemetry a channel may carry, and their units.
var (
	dutSignals    = []string{"rpm", "current", "power", "purge", "alarms"}
	dutSignalDims = map[string]units.Dimension{"rpm": units.Speed, "current": units.Current, "power": units.Power, "purge": units.Pressure, "alarms": units.None}
)

// dutKeys are the keys of the dut section.
var dutKeys = []string{"port", "profile", "poll", "on_link_loss", "reconnect_within", "safe", "trip_on", "stop_within", "power", "telemetry", "faults", "placement"}

func (c *Config) dut(e *strictyaml.Errors, n *strictyaml.Node) {
	fields, ok := e.Mapping(n, "dut", dutKeys)
	if !ok {
		return
	}
	d := &DUTConfig{Poll: 100 * time.Millisecond, OnLinkLoss: "abort", ReconnectWithin: 5 * time.Second, StopWithin: DefaultStopWithin}
	for _, f := range fields {
		switch f.Key {
		case "port":
			d.Port, _ = e.Scalar(f.Value, "dut port")
		case "profile":
			d.Profile, d.profileN = c.dutProfile(e, f.Value), f.Value
		case "poll", "reconnect_within", "stop_within":
			v, ok := quantity(e, f.Value, units.Time, "dut "+f.Key)
			if ok && (v < 0.01 || v > 60) {
				e.At(f.Value, "dut %s must be from 10 ms to 60 s", f.Key)
			}
			*map[string]*time.Duration{"poll": &d.Poll, "reconnect_within": &d.ReconnectWithin, "stop_within": &d.StopWithin}[f.Key] = units.Seconds(v)
		case "on_link_loss":
			if s, ok := e.Scalar(f.Value, "on_link_loss"); ok {
				if s != "abort" && s != "reconnect" {
					e.At(f.Value, "on_link_loss must be abort or reconnect")
				}
				d.OnLinkLoss = s
			}
		case "safe":
			d.Safe = dutSafe(e, f.Value)
		case "trip_on":
			d.TripOn = c.dutTripOn(e, f.Value)
		case "power":
			d.Power = c.dutPower(e, f.Value)
		case "telemetry":
			if v, ok := quantity(e, f.Value, units.Frequency, "dut telemetry"); ok {
				if v != float64(int(v)) || v < 0 || v > dutsim.MaxTelemetryHz {
					e.At(f.Value, "dut telemetry must be a whole number of Hz from 0 to %d", dutsim.MaxTelemetryHz)
				}
				d.Telemetry = int(v)
			}
		case "placement":
			d.Placement, d.placementN = dutPlacement(e, f.Value), f.Value
		case "faults":
			if s, ok := e.Scalar(f.Value, "dut faults"); ok {
				ft, err := dutsim.ParseFaults(s)
				if err != nil {
					e.At(f.Value, "%v", err)
				}
				d.Faults = ft
			}
		}
	}
	if field(fields, "profile") == nil {
		var err error
		if d.Profile, err = profile.Load(profile.Default, ""); err != nil {
			e.At(n, "dut profile %s: %v", profile.Default, err)
		}
	}
	switch {
	case d.Port == "":
		e.At(n, "dut needs a port (a serial device, or sim)")
	case d.Port == "sim" && c.Backend == "hardware":
		e.At(n, "dut port sim is the simulated DUT; a hardware rig names its serial device")
	case d.Port != "sim" && !strings.HasPrefix(d.Port, "/"):
		e.At(n, "dut port %q must be an absolute device path (e.g. /dev/serial/by-id/...) or sim", d.Port)
	}
	c.DUT = d
}

// dutPlacement decodes dut.placement: {inlet: NODE, outlet: NODE}.
func dutPlacement(e *strictyaml.Errors, n *strictyaml.Node) (pl [2]string) {
	fields, ok := e.Mapping(n, "dut placement", []string{"inlet", "outlet"})
	if !ok {
		return pl
	}
	for _, f := range fields {
		s, ok := e.Scalar(f.Value, "dut placement "+f.Key)
		if !ok {
			continue
		}
		if err := checkName("node", s); err != nil {
			e.At(f.Value, "dut placement %s: %v", f.Key, err)
			continue
		}
		pl[map[string]int{"inlet": 0, "outlet": 1}[f.Key]] = s
	}
	switch {
	case pl[0] == "" || pl[1] == "":
		e.At(n, "dut placement needs an inlet and an outlet")
	case pl[0] == pl[1]:
		e.At(n, "dut placement: inlet and outlet are both %s", pl[0])
	}
	return pl
}

// dutSafe decodes dut.safe: stop, a level P0..P9, or a speed.
func dutSafe(e *strictyaml.Errors, n *strictyaml.Node) DUTSafe {
	s, ok := e.Scalar(n, "dut safe")
	switch {
	case !ok || s == "stop":
		return DUTSafe{Mode: dut.ModeStop}
	case len(s) == 2 && s[0] == 'P' && s[1] >= '0' && s[1] <= '9':
		return DUTSafe{Mode: dut.ModeLevel, Level: int(s[1] - '0')}
	}
	v, err := units.ParseAs(s, units.Speed)
	if err != nil || v < 0 || v > dutsim.MaxRPM || v != float64(int(v)) {
		e.At(n, "dut safe must be stop, a level P0..P9 or a speed up to %d rpm", dutsim.MaxRPM)
		return DUTSafe{Mode: dut.ModeStop}
	}
	return DUTSafe{Mode: dut.ModeSpeed, RPM: int(v)}
}

// dutTripOn decodes dut.trip_on, a list of alarm names. The safety
// supervisor trips on them in the channel of the DUT's alarms, so the
// rig must have one (channels are decoded before the dut section).
func (c *Config) dutTripOn(e *strictyaml.Errors, n *strictyaml.Node) dut.Alarms {
	items, ok := e.Sequence(n, "dut trip_on")
	if !ok {
		return 0
	}
	var mask dut.Alarms
	for _, it := range items {
		s, ok := e.Scalar(it, "alarm")
		if !ok {
			continue
		}
		a, err := dut.ParseAlarmKey(s)
		if err != nil {
			e.At(it, "dut trip_on: unknown alarm %q%s (known: %s)", s, strictyaml.Suggest(s, dut.AlarmKeys()), strings.Join(dut.AlarmKeys(), ", "))
			continue
		}
		mask |= a
	}
	if mask != 0 && c.dutAlarmColumn() == "" {
		e.At(n, "dut trip_on needs a channel of the DUT's alarms (e.g. dut.alarms: {unit: flags, dut: alarms}): the safety supervisor trips on it")
	}
	return mask
}

// dutAlarmColumn is the channel of the DUT's alarms, "" if none.
func (c *Config) dutAlarmColumn() string {
	for _, ch := range c.Channels {
		if in := c.Inputs[ch.Name]; in.Kind == "dut" && in.Signal == "alarms" {
			return ch.Name
		}
	}
	return ""
}

// dutPower decodes dut.power: the switch of hardware.switches that powers
// the DUT. Its safe state must be on: the safe state keeps the DUT
// powered, to hold its own safe command; the rig switches it off only
// when the DUT did not stop.
func (c *Config) dutPower(e *strictyaml.Errors, n *strictyaml.Node) string {
	s, ok := e.Scalar(n, "dut power")
	if !ok {
		return ""
	}
	var names []string
	for _, sw := range c.Hardware.Switches {
		if sw.Name == s {
			if !sw.Safe {
				e.At(n, "dut power switch %s must have safe: on (the safe state keeps the DUT powered; it is switched off only when the DUT did not stop)", s)
			}
			return s
		}
		names = append(names, sw.Name)
	}
	e.At(n, "dut power %q is not a switch of hardware.switches%s", s, strictyaml.Suggest(s, names))
	return s
}

// WallClockOnly says why the rig cannot run on virtual time, or "" if it
// can. Real hardware and a real device under test live in real time: a
// DUT on a serial port ramps its pump at its own pace while virtual time
// races ahead, so its readings would be recorded against the wrong
// instants (the P8 step of a 2 s run recorded 140 rpm). Such a rig runs on
// the wall clock whatever --realtime says.
func (c *Config) WallClockOnly() string {
	switch {
	case c.Backend == "hardware":
		return "rig " + c.Name + " is hardware"
	case c.DUT != nil && c.DUT.Port != "sim":
		return "the DUT on " + c.DUT.Port + " is a real device"
	}
	return ""
}
