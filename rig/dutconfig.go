package rig

import (
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/dut/dutsim"
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
	// Faults is a dutsim fault specification for the simulated DUT (tests,
	// drills), e.g. "drop=0.1,delay=50ms".
	Faults dutsim.Faults
}

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

func (c *Config) dut(e *strictyaml.Errors, n *strictyaml.Node) {
	fields, ok := e.Mapping(n, "dut", []string{"port", "poll", "on_link_loss", "reconnect_within", "safe", "faults"})
	if !ok {
		return
	}
	d := &DUTConfig{Poll: 100 * time.Millisecond, OnLinkLoss: "abort", ReconnectWithin: 5 * time.Second}
	for _, f := range fields {
		switch f.Key {
		case "port":
			d.Port, _ = e.Scalar(f.Value, "dut port")
		case "poll", "reconnect_within":
			v, ok := quantity(e, f.Value, units.Time, "dut "+f.Key)
			if ok && (v < 0.01 || v > 60) {
				e.At(f.Value, "dut %s must be from 10 ms to 60 s", f.Key)
			}
			if f.Key == "poll" {
				d.Poll = units.Seconds(v)
			} else {
				d.ReconnectWithin = units.Seconds(v)
			}
		case "on_link_loss":
			if s, ok := e.Scalar(f.Value, "on_link_loss"); ok {
				if s != "abort" && s != "reconnect" {
					e.At(f.Value, "on_link_loss must be abort or reconnect")
				}
				d.OnLinkLoss = s
			}
		case "safe":
			s, ok := e.Scalar(f.Value, "dut safe")
			if !ok {
				continue
			}
			switch {
			case s == "stop":
				d.Safe = DUTSafe{Mode: dut.ModeStop}
			case len(s) == 2 && s[0] == 'P' && s[1] >= '0' && s[1] <= '9':
				d.Safe = DUTSafe{Mode: dut.ModeLevel, Level: int(s[1] - '0')}
			default:
				v, err := units.ParseAs(s, units.Speed)
				if err != nil || v < 0 || v > dutsim.MaxRPM || v != float64(int(v)) {
					e.At(f.Value, "dut safe must be stop, a level P0..P9 or a speed up to %d rpm", dutsim.MaxRPM)
					continue
				}
				d.Safe = DUTSafe{Mode: dut.ModeSpeed, RPM: int(v)}
			}
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
