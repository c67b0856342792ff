package rig

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/sim"
	"github.com/mockloop/mockloop/units"
)

// actuation is how the rig applies one kind of parameter
// (protocols.Param.Actuation): the one place the rig knows a kind, so a
// parameter of an existing kind is an entry of protocols.ParamTable only.
type actuation struct {
	// apply sets the parameter on the plant; errNoActuator if this plant
	// lacks the part. Nil for the kinds the engine takes itself: presets
	// and closed-loop targets.
	apply func(p *busPlant, v protocols.Value) error
	// needs says what else the rig config must have for a parameter of
	// this kind; has checks it.
	needs string
	has   func(c *Config) bool
	// dut says the kind acts on the device under test: the rig config
	// needs a dut section.
	dut bool
	// target builds the kind's closed-loop target for parameter param;
	// gains are its defaults, which the rig config's control: section
	// overrides. Nil for open-loop kinds.
	target func(param string, cfg *Config, ts *pumpctl.Targets) *pumpctl.Target
	gains  pumpctl.Gains
}

// Plant parameters that protocols do not set: the rig's own setpoints.
const (
	// preloadHead is the preload valve: the venous reservoir's head, mmHg.
	// loop.preload drives it.
	preloadHead = "preload_valve.head"
	// fillParam is the loop's circulating volume, set by a preset's fill
	// on the simulated bench.
	fillParam = "loop.fill"

	actPreloadHead protocols.Actuation = "preload_valve"
	actFill        protocols.Actuation = "fill"
)

// plantParams are the plant parameters outside the language, by name.
var plantParams = map[string]protocols.Param{
	preloadHead: {Name: preloadHead, Dim: units.Pressure, Actuation: actPreloadHead},
	fillParam:   {Name: fillParam, Dim: units.Volume, Actuation: actFill},
}

// paramDef is the definition of a parameter the plant may be given.
func paramDef(name string) (protocols.Param, bool) {
	if p, ok := protocols.Params[name]; ok {
		return p, true
	}
	p, ok := plantParams[name]
	return p, ok
}

// errNoActuator says the plant lacks the part a parameter acts on.
var errNoActuator = errors.New("no actuator")

// actuations are the kinds the rig applies. Output limits of the targets
// not in their driven parameter's range are the simulated loop's.
var actuations = map[protocols.Actuation]actuation{
	protocols.ActPreset: {},
	protocols.ActHeartRate: {apply: func(p *busPlant, v protocols.Value) error {
		return p.heart.SetHeartRate(v.Num)
	}},
	protocols.ActSystoleFraction: {apply: func(p *busPlant, v protocols.Value) error {
		return p.heart.SetSystoleFraction(v.Num / 100)
	}},
	protocols.ActContractility: {apply: func(p *busPlant, v protocols.Value) error {
		return p.heart.SetContractility(v.Num)
	}},
	protocols.ActResistance: {apply: func(p *busPlant, v protocols.Value) error {
		if p.hybrid != nil {
			return p.hybrid.model.SetSystemicResistance(v.Num)
		}
		return p.valve.SetResistance(v.Num)
	}},
	protocols.ActRVContractility: {apply: func(p *busPlant, v protocols.Value) error {
		switch {
		case p.hybrid != nil:
			return p.hybrid.model.SetDrive(sim.NodeRV, v.Num/100)
		case p.rvDrive == nil:
			return errNoActuator
		}
		return p.rvDrive.Set(v.Num)
	}, needs: "hardware.rv_drive (a hybrid rig: a chamber rv in its circulation)", has: func(c *Config) bool {
		return c.Hardware.RVDrive != nil || modelHas(c, sim.NodeRV, units.Pressure)
	}},
	protocols.ActPulmonaryR: {apply: func(p *busPlant, v protocols.Value) error {
		switch {
		case p.hybrid != nil:
			return p.hybrid.model.SetResistance(sim.LinkPulmonary, v.Num)
		case p.pulmonary == nil:
			return errNoActuator
		}
		return p.pulmonary.SetResistance(v.Num)
	}, needs: "hardware.pulmonary_valve (a hybrid rig: a link pulmonary in its circulation)", has: func(c *Config) bool {
		return c.Hardware.Pulmonary != nil || modelHas(c, sim.LinkPulmonary, units.Flow)
	}},
	protocols.ActThermostat: {apply: (*busPlant).setTemperature,
		needs: "a temperature channel and a switch named heater",
		has: func(c *Config) bool {
			heater := slices.ContainsFunc(c.Hardware.Switches, func(s Switch) bool { return s.Name == "heater" })
			temp := slices.ContainsFunc(c.Channels, func(ch daq.Channel) bool { return ch.Dim == units.Temperature })
			return heater && temp
		}},
	protocols.ActTargetMAP: {
		needs: "beat detection (beats:) and loop.resistance",
		has: func(c *Config) bool {
			_, hasR := c.Params["loop.resistance"]
			return len(c.BeatChannels) > 0 && hasR
		},
		gains: pumpctl.Gains{Kp: 0.03, Ki: 0.012, Rate: 0.5},
		target: func(param string, cfg *Config, _ *pumpctl.Targets) *pumpctl.Target {
			lo, hi := outputRange(cfg, "loop.resistance", 0, 3)
			return pumpctl.MAPTarget(param, "loop.resistance", cfg.Control[param], max(lo, cfg.Hardware.Valve.ROpen), hi)
		}},
	protocols.ActTargetCO: {
		needs: "beat detection (beats:), a flow channel and loop.contractility",
		has: func(c *Config) bool {
			_, hasC := c.Params["loop.contractility"]
			hasFlow := slices.ContainsFunc(c.Channels, func(ch daq.Channel) bool { return ch.Dim == units.Flow })
			return len(c.BeatChannels) > 0 && hasFlow && hasC
		},
		gains: pumpctl.Gains{Kp: 0.05, Ki: 0.05, Rate: 0.5},
		target: func(param string, cfg *Config, _ *pumpctl.Targets) *pumpctl.Target {
			lo, hi := outputRange(cfg, "loop.contractility", 0.2, 4)
			return pumpctl.COTarget(param, "loop.contractility", cfg.Control[param], lo, hi)
		}},
	protocols.ActTargetPreload: {
		needs: "beat detection (beats:), a pressure channel named lap and a preload_valve in hardware (a hybrid rig: hybrid preload)",
		has: func(c *Config) bool {
			lap := c.Channels.Index("lap") >= 0 && c.Channels[c.Channels.Index("lap")].Dim == units.Pressure
			return len(c.BeatChannels) > 0 && lap && c.preloadHead() > 0
		},
		gains: pumpctl.Gains{Kp: 1, Ki: 0.2, Rate: 2},
		target: func(param string, cfg *Config, ts *pumpctl.Targets) *pumpctl.Target {
			if cfg.preloadHead() == 0 {
				return nil
			}
			lap := pumpctl.NewBeatRing(cfg.Channels.Index("lap"), cfg.SampleRate)
			ts.Rings = append(ts.Rings, lap)
			return pumpctl.PreloadTarget(param, preloadHead, cfg.Control[param], cfg.preloadHead(), lap)
		}},
	protocols.ActDUTMode:  {dut: true, apply: dutApply((*dutLink).setModeWord)},
	protocols.ActDUTLevel: {dut: true, apply: dutApply((*dutLink).setLevelWord)},
	protocols.ActDUTSpeed: {dut: true, apply: dutApply((*dutLink).setSpeed)},
	protocols.ActDUTClear: {dut: true, apply: dutApply((*dutLink).clearAlarms)},
	actPreloadHead: {apply: func(p *busPlant, v protocols.Value) error {
		if p.hybrid != nil && p.hybrid.cfg.PreloadHead > 0 {
			if !(v.Num >= 0 && v.Num <= p.hybrid.cfg.PreloadHead) {
				return fmt.Errorf("rig: the model's reservoir head %s is outside 0 to %s", units.Format(v.Num, units.Pressure), units.Format(p.hybrid.cfg.PreloadHead, units.Pressure))
			}
			p.hybrid.head = v.Num
			return nil
		}
		if p.preload == nil {
			return errNoActuator
		}
		return p.preload.SetHead(v.Num)
	}},
	actFill: {apply: func(p *busPlant, v protocols.Value) error {
		if p.hybrid != nil { // the patient's blood volume is the model's
			p.hybrid.fill = v.Num
			return nil
		}
		if p.bench == nil {
			return errNoActuator
		}
		return p.bench.SetFill(v.Num)
	}},
}

// outputRange is a target's output limits: the range of the parameter it
// drives, lo and hi where the range is open.
func outputRange(cfg *Config, drives string, lo, hi float64) (float64, float64) {
	r := cfg.Params[drives]
	if r.Min != nil {
		lo = *r.Min
	}
	if r.Max != nil {
		hi = *r.Max
	}
	return lo, hi
}

// modelHas reports whether a hybrid rig's model has the node (dim
// units.Pressure) or link (units.Flow) named name.
func modelHas(c *Config, name string, dim units.Dimension) bool {
	return c.Mode == ModeHybrid && c.Sim.Circulation != nil && modelSignalFits(c.Sim.Circulation, name, dim) == ""
}

// preloadHead is the highest head of the rig's venous reservoir, mmHg: its
// preload valve's, or a hybrid model's (HybridConfig.PreloadHead); 0 for
// none.
func (c *Config) preloadHead() float64 {
	switch {
	case c.Hardware.Preload != nil:
		return c.Hardware.Preload.Head
	case c.Hybrid != nil:
		return c.Hybrid.PreloadHead
	}
	return 0
}
