package protocols

import (
	"github.com/mockloop/mockloop/units"
)

// Param is a settable parameter of language v1: one entry of ParamTable,
// the one place a parameter is declared. The language validates protocols
// from it, the rig reads its config and applies setpoints by it, and the
// README's parameter table is checked against it.
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
	// Range says which part of the rig config supports the parameter and
	// bounds its setpoints.
	Range RangeSource
	// Actuation is how a rig applies the parameter. A rig has one handler
	// per kind, so a parameter acted on like an existing one is a new
	// entry here and nothing else.
	Actuation Actuation
	// Doc says what the parameter sets, for the README's table.
	Doc string
}

// RangeSource is the section of a rig config that supports a parameter:
// a parameter the rig config does not support is refused by validation.
type RangeSource string

const (
	// RangeParameters: the rig config's `parameters:` section lists the
	// parameter with its range, {min, max}.
	RangeParameters RangeSource = "parameters"
	// RangePresets: the rig config's `presets:` section; its names are
	// the parameter's words.
	RangePresets RangeSource = "presets"
	// RangeDUT: the rig config's `dut:` section, the device under test;
	// the parameter's words are all allowed.
	RangeDUT RangeSource = "dut"
)

// Actuation names how a rig applies a parameter: which actuator it sets, or
// which closed-loop target or handler takes it. The names are the rig's
// dispatch keys; the language only carries them.
type Actuation string

// The actuation kinds of the language's parameters.
const (
	ActPreset          Actuation = "preset"                    // the preset's setpoints, in order
	ActHeartRate       Actuation = "waveform.heart_rate"       // cardiac waveform: beats per minute
	ActSystoleFraction Actuation = "waveform.systole_fraction" // cardiac waveform: systole's share of a beat
	ActContractility   Actuation = "waveform.contractility"    // cardiac waveform: peak elastance (LV drive)
	ActResistance      Actuation = "resistance_valve"          // systemic resistance pinch valve
	ActRVContractility Actuation = "rv_drive"                  // RV pump's DAC: its share of the LV drive's waveform
	ActPulmonaryR      Actuation = "pulmonary_valve"           // pulmonary resistance pinch valve
	ActThermostat      Actuation = "heater"                    // heater relay, on/off around the target
	ActTargetMAP       Actuation = "target.map"                // closed loop: beat mean pressure on the resistance valve
	ActTargetCO        Actuation = "target.co"                 // closed loop: cardiac output on the LV drive
	ActTargetPreload   Actuation = "target.preload"            // closed loop: left-atrial pressure on the preload valve
	ActDUTMode         Actuation = "dut.mode"                  // the device's operating mode
	ActDUTSpeed        Actuation = "dut.speed"                 // the device's speed setpoint, rate-limited on the line
	ActDUTLevel        Actuation = "dut.level"                 // the device's performance level
	ActDUTClear        Actuation = "dut.clear"                 // the device's latched alarms cleared
)

// ParamTable is every parameter of language v1, in the order suggestions
// and the README list them.
var ParamTable = []Param{
	{Name: "loop.preset", Range: RangePresets, Actuation: ActPreset,
		Doc: "a named set of setpoints from the rig config"},
	{Name: "loop.heart_rate", Dim: units.Rate, Rampable: true, Range: RangeParameters, Actuation: ActHeartRate,
		Doc: "heart rate of the cardiac waveform"},
	{Name: "loop.systole_fraction", Dim: units.Percent, Rampable: true, Range: RangeParameters, Actuation: ActSystoleFraction,
		Doc: "systole's share of each beat"},
	{Name: "loop.contractility", Dim: units.Elastance, Rampable: true, Range: RangeParameters, Actuation: ActContractility,
		Doc: "peak active elastance of the LV drive"},
	{Name: "loop.resistance", Dim: units.Resistance, Rampable: true, Range: RangeParameters, Actuation: ActResistance,
		Doc: "systemic resistance (resistance valve)"},
	{Name: "loop.rv_contractility", Dim: units.Percent, Rampable: true, Range: RangeParameters, Actuation: ActRVContractility,
		Doc: "right-ventricular contractility, as a share of the LV drive's active elastance (RV drive)"},
	{Name: "loop.pulmonary_resistance", Dim: units.Resistance, Rampable: true, Range: RangeParameters, Actuation: ActPulmonaryR,
		Doc: "pulmonary vascular resistance (pulmonary valve)"},
	{Name: "loop.preload", Dim: units.Pressure, Rampable: true, Range: RangeParameters, Actuation: ActTargetPreload,
		Doc: "closed-loop target: the mean left-atrial pressure of each beat, on the preload valve"},
	{Name: "loop.target.map", Dim: units.Pressure, Off: true, Rampable: true, Range: RangeParameters, Actuation: ActTargetMAP,
		Doc: "closed-loop target: mean arterial pressure, on the resistance valve"},
	{Name: "loop.target.co", Dim: units.Flow, Off: true, Rampable: true, Range: RangeParameters, Actuation: ActTargetCO,
		Doc: "closed-loop target: cardiac output, on the LV drive"},
	{Name: "loop.temperature", Dim: units.Temperature, Range: RangeParameters, Actuation: ActThermostat,
		Doc: "fluid temperature, held by the heater"},
	{Name: "dut.mode", Words: []string{"stop", "speed", "level"}, Range: RangeDUT, Actuation: ActDUTMode,
		Doc: "the device's operating mode"},
	{Name: "dut.speed", Dim: units.Speed, Rampable: true, Range: RangeParameters, Actuation: ActDUTSpeed,
		Doc: "the device's speed (speed mode)"},
	{Name: "dut.level", Words: []string{"P0", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9"}, Range: RangeDUT, Actuation: ActDUTLevel,
		Doc: "the device's performance level (level mode)"},
	{Name: "dut.clear", Words: []string{"alarms"}, Range: RangeDUT, Actuation: ActDUTClear,
		Doc: "clears the device's latched alarms (VADLINK CLEAR), as an operator acknowledges them; those whose cause persists rise again"},
}

// Params is ParamTable by name.
var Params = map[string]Param{}

// paramNames are the names of ParamTable in its order, for suggestions.
var paramNames []string

func init() {
	for _, p := range ParamTable {
		Params[p.Name] = p
		paramNames = append(paramNames, p.Name)
	}
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
	// DUT is the name of the DUT profile the rig drives ("" none), checked
	// against the protocol's requires dut; OtherDevice lets a protocol
	// written for another through (run --allow-other-device), to be
	// recorded as a deviation.
	DUT         string
	OtherDevice bool
}
