package rig

import (
	"fmt"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
)

// target is a closed-loop hemodynamic target: a PID controller updated on
// every beat, from the beat's value of a measure, driving an open-loop
// parameter. Beat-to-beat control is how mock loops hold MAP or cardiac
// output: a beat's mean is free of the pulsatile ripple a per-sample
// controller would chase.
type target struct {
	param    string // the target parameter, e.g. loop.target.map
	drives   string // the parameter it drives, e.g. loop.resistance
	pid      pumpctl.PID
	setpoint float64
	on       bool
	measure  func(b daq.Beat) float64
}

// controllers are the rig's closed-loop targets.
type controllers struct {
	targets []*target
}

// newControllers builds the targets the rig supports, with output limits
// from the ranges of the parameters they drive. Gains suit the simulated
// loop; a bench tunes them in its rig config later.
func newControllers(cfg *Config) *controllers {
	c := &controllers{}
	lim := func(p string, lo, hi float64) (float64, float64) {
		r := cfg.Params[p]
		if r.Min != nil {
			lo = *r.Min
		}
		if r.Max != nil {
			hi = *r.Max
		}
		return lo, hi
	}
	if _, ok := cfg.Params["loop.target.map"]; ok {
		lo, hi := lim("loop.resistance", 0, 3)
		lo = max(lo, cfg.Hardware.Valve.ROpen)
		c.targets = append(c.targets, &target{param: "loop.target.map", drives: "loop.resistance",
			pid:     pumpctl.PID{Kp: 0.03, Ki: 0.012, Min: lo, Max: hi, Rate: 0.5},
			measure: func(b daq.Beat) float64 { return b.Mean }})
	}
	if _, ok := cfg.Params["loop.target.co"]; ok {
		lo, hi := lim("loop.contractility", 0.2, 4)
		c.targets = append(c.targets, &target{param: "loop.target.co", drives: "loop.contractility",
			pid:     pumpctl.PID{Kp: 0.05, Ki: 0.05, Min: lo, Max: hi, Rate: 0.5},
			measure: func(b daq.Beat) float64 { return b.StrokeVolume * b.HeartRate / 1000 }})
	}
	return c
}

func (c *controllers) find(param string) *target {
	for _, t := range c.targets {
		if t.param == param {
			return t
		}
	}
	return nil
}

// controlling returns the target that drives param, if it is on.
func (c *controllers) controlling(param string) *target {
	for _, t := range c.targets {
		if t.on && t.drives == param {
			return t
		}
	}
	return nil
}

// applyParam routes a setpoint: targets to their controller, a parameter
// under closed-loop control refused, anything else to the plant.
func (e *engine) applyParam(param string, v protocols.Value) error {
	if t := e.ctl.find(param); t != nil {
		if v.Off {
			if t.on {
				e.event(runlog.Event{Kind: "control", Msg: fmt.Sprintf("%s off; %s stays at %s", param, t.drives, units.Format(t.pid.Output(), e.params[t.drives].Dim))})
			}
			t.on = false
			return nil
		}
		if !t.on {
			cur, ok := e.params[t.drives]
			if !ok || cur.Word != "" {
				return fmt.Errorf("%s needs %s set first, to start from", param, t.drives)
			}
			t.pid.Start(cur.Num)
			t.on = true
			e.event(runlog.Event{Kind: "control", Msg: fmt.Sprintf("%s on: %s from %s", param, t.drives, units.Format(cur.Num, cur.Dim))})
		}
		t.setpoint = v.Num
		return nil
	}
	if t := e.ctl.controlling(param); t != nil {
		return &Abort{Reason: fmt.Sprintf("%s is under closed-loop control by %s; set %s: off first", param, t.param, t.param)}
	}
	return e.plant.Apply(param, v)
}

// controlBeat updates the targets measured on the timing beat channel.
func (e *engine) controlBeat(b daq.Beat) error {
	for _, t := range e.ctl.targets {
		if !t.on {
			continue
		}
		out := t.pid.Update(t.setpoint, t.measure(b), (b.End - b.Start).Seconds())
		v := protocols.Value{Num: out, Dim: e.params[t.drives].Dim}
		if err := e.plant.Apply(t.drives, v); err != nil {
			return abortf("closed-loop %s could not set %s: %v", t.param, t.drives, err)
		}
		e.params[t.drives] = v
	}
	return nil
}
