package rig

import (
	"fmt"
	"math"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
)

// newControllers builds the closed-loop targets of the parameters the rig
// supports, in the order of protocols.ParamTable, each from its actuation
// kind, with the gains of the rig config and output limits from the ranges
// of the parameters they drive.
func newControllers(cfg *Config) *pumpctl.Targets {
	ts := &pumpctl.Targets{}
	for _, p := range protocols.ParamTable {
		a := actuations[p.Actuation]
		if _, ok := cfg.Params[p.Name]; !ok || a.target == nil {
			continue
		}
		if t := a.target(p.Name, cfg, ts); t != nil {
			ts.List = append(ts.List, t)
		}
	}
	return ts
}

// applyParam routes a setpoint: targets to their controller, a parameter
// under closed-loop control refused, anything else to the plant.
func (e *engine) applyParam(param string, v protocols.Value) error {
	if t := e.ctl.Find(param); t != nil {
		if v.Off {
			if t.On {
				e.event(runlog.Event{Kind: runlog.KindControl, Msg: fmt.Sprintf("%s off; %s stays at %s", param, t.Drives, units.Format(t.PID.Output(), e.params[t.Drives].Dim))})
			}
			t.On = false
			return nil
		}
		if !t.On {
			t.Setpoint = v.Num
			from, ok := 0.0, false
			if t.From != nil {
				from, ok = t.From()
			} else if cur, set := e.params[t.Drives]; set && cur.Word == "" {
				from, ok = cur.Num, true
			}
			if !ok {
				return fmt.Errorf("%s needs %s set first, to start from", param, t.Drives)
			}
			t.PID.Start(from)
			t.On = true
			e.event(runlog.Event{Kind: runlog.KindControl, Msg: fmt.Sprintf("%s on: %s from %s", param, t.Drives, units.Format(from, t.Dim))})
			if t.From != nil { // the driven actuator is the target's own
				if err := e.plant.Apply(t.Drives, protocols.Value{Num: t.PID.Output(), Dim: t.Dim}); err != nil {
					return err
				}
			}
		}
		t.Setpoint = v.Num
		return nil
	}
	if t := e.ctl.Controlling(param); t != nil {
		return &AbortError{Reason: fmt.Sprintf("%s is under closed-loop control by %s; set %s: off first", param, t.Param, t.Param)}
	}
	return e.plant.Apply(param, v)
}

// maxControlInterval bounds the interval one update of a target acts over:
// one beat at 30 bpm, the slowest heart rate of the rigs' range. A beat the
// detector reports may span several heartbeats — after a large transient
// its adaptive threshold and refractory period miss beats for seconds — and
// the controller's integral and its rate limit both scale with the
// interval: a 12 s "beat" after loop.target.co 8 L/min from the
// cardiogenic-shock preset let one update move the LV drive from 0.3 to
// 4 mmHg/ml at once, and the aortic pressure reached 374 mmHg.
const maxControlInterval = 2 * time.Second

// control updates the targets at each beat of the timing channel (ok),
// and, when none has come for maxControlInterval, on that interval's mean
// as one "beat": a pulse too flat to detect — the aortic pressure of a
// ventricle that no longer ejects, under full support, the state these
// devices are tested in — must not freeze a target (measured: with no
// aortic beat for 3 min of the suction protocol, loop.preload never acted
// and the ventricle was not refilled).
func (e *engine) control(t time.Duration, p, q float64, b daq.Beat, ok bool) error {
	sp := &e.ctlSpan
	sp.add(t, p, q)
	if !ok {
		if t-sp.from < maxControlInterval || sp.n == 0 {
			return nil
		}
		b = sp.beat(t)
	}
	sp.restart(t)
	return e.controlBeat(b)
}

// controlSpan accumulates the timing channel's pressure and the primary
// flow between two updates of the targets.
type controlSpan struct {
	from, last time.Duration
	sum, flow  float64 // Σ pressure, ∫ flow dt (L/min·s)
	n          int
	hasFlow    bool
}

func (sp *controlSpan) add(t time.Duration, p, q float64) {
	if math.IsNaN(p) {
		return
	}
	sp.sum += p
	sp.n++
	if !math.IsNaN(q) && t > sp.last && sp.n > 1 {
		sp.flow += q * (t - sp.last).Seconds()
		sp.hasFlow = true
	}
	sp.last = t
}

// beat is the span up to t as a beat of its mean pressure whose stroke
// volume × heart rate is its mean flow, the measures the targets take.
func (sp *controlSpan) beat(t time.Duration) daq.Beat {
	dur := (t - sp.from).Seconds()
	b := daq.Beat{Start: sp.from, End: t, Mean: sp.sum / float64(sp.n), HeartRate: 60 / dur, StrokeVolume: math.NaN()}
	if sp.hasFlow {
		b.StrokeVolume = sp.flow * 1000 / 60
	}
	return b
}

func (sp *controlSpan) restart(t time.Duration) {
	*sp = controlSpan{from: t, last: t}
}

// controlBeat updates the targets measured on the timing beat channel.
func (e *engine) controlBeat(b daq.Beat) error {
	dt := min(b.End-b.Start, maxControlInterval).Seconds()
	for _, t := range e.ctl.List {
		if !t.On {
			continue
		}
		out := t.PID.Update(t.Setpoint, t.Measure(b), dt)
		v := protocols.Value{Num: out, Dim: t.Dim}
		if err := e.plant.Apply(t.Drives, v); err != nil {
			return abortf("closed-loop %s could not set %s: %v", t.Param, t.Drives, err)
		}
		e.params[t.Drives] = v
	}
	return nil
}
