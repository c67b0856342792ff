package protocols

import (
	"github.com/mockloop/mockloop/units"
)

// Param is a settable parameter of language v1.
type Param struct {
	Name string
	// Dim is the quantity's dimension; None for word-valued parameters.
	Dim units.Dimension
	// Words are the allowed words of a word-valued parameter; nil for
	// loop.preset, whose words come from the rig.
	Words []string
	// Off says the parameter accepts `off` (closed-loop targets).
	Off bool
	// Rampable says the parameter can be ramped.
	Rampable bool
}

// Params is every parameter of language v1, by name.
var Params = map[string]Param{
	"loop.preset":           {Name: "loop.preset"},
	"loop.heart_rate":       {Name: "loop.heart_rate", Dim: units.Rate, Rampable: true},
	"loop.systole_fraction": {Name: "loop.systole_fraction", Dim: units.Percent, Rampable: true},
	"loop.contractility":    {Name: "loop.contractility", Dim: units.Elastance, Rampable: true},
	"loop.resistance":       {Name: "loop.resistance", Dim: units.Resistance, Rampable: true},
	"loop.preload":          {Name: "loop.preload", Dim: units.Pressure, Rampable: true},
	"loop.target.map":       {Name: "loop.target.map", Dim: units.Pressure, Off: true, Rampable: true},
	"loop.target.co":        {Name: "loop.target.co", Dim: units.Flow, Off: true, Rampable: true},
	"loop.temperature":      {Name: "loop.temperature", Dim: units.Temperature},
	"dut.mode":              {Name: "dut.mode", Words: []string{"stop", "speed", "level"}},
	"dut.speed":             {Name: "dut.speed", Dim: units.Speed, Rampable: true},
	"dut.level":             {Name: "dut.level", Words: []string{"P0", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9"}},
}

// paramNames is the sorted list of parameter names, for suggestions.
var paramNames = []string{
	"loop.preset", "loop.heart_rate", "loop.systole_fraction", "loop.contractility",
	"loop.resistance", "loop.preload", "loop.target.map", "loop.target.co",
	"loop.temperature", "dut.mode", "dut.speed", "dut.level",
}

// Range is a closed interval in canonical units; a nil end is open.
type Range struct {
	Min, Max *float64
}

// Contains reports whether v lies in the range.
func (r Range) Contains(v float64) bool {
	return (r.Min == nil || v >= *r.Min) && (r.Max == nil || v <= *r.Max)
}

// RigInfo is what a rig tells the language about itself, so that a protocol
// can be validated before anything moves.
type RigInfo struct {
	Name string
	// Channels are the frame channels the rig provides and their dimensions.
	Channels map[string]units.Dimension
	// Params are the parameters the rig supports, each with the range a
	// setpoint must stay in. A parameter missing here is not supported.
	Params map[string]Range
	// Presets are the names loop.preset accepts.
	Presets []string
	// Limits are the rig's hard limits per channel; a protocol may only
	// tighten them.
	Limits map[string]Range
	// BeatChannels are the pressure channels beats are detected on, and
	// FlowChannels those stroke volume can be integrated from; beat
	// aggregates on other channels are refused.
	BeatChannels []string
}
