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

// target is a closed-loop hemodynamic target: a PID controller updated on
// every beat, from the beat's value of a measure, driving an open-loop
// parameter. Beat-to-beat control is how mock loops hold MAP or cardiac
// output: a beat's mean is free of the pulsatile ripple a per-sample
// controller would chase.
type target struct {
	param    string          // the target parameter, e.g. loop.target.map
	drives   string          // the parameter it drives, e.g. loop.resistance
	dim      units.Dimension // of what it drives
	pid      pumpctl.PID
	setpoint float64
	on       bool
	measure  func(b daq.Beat) float64
	// from gives the output control starts from, bumpless: nil for the
	// driven parameter's value in force.
	from func() (float64, bool)
}

// controllers are the rig's closed-loop targets, and what they measure
// frame by frame: the left-atrial pressure of the last beats, for
// loop.preload.
type controllers struct {
	targets []*target
	lap     *beatRing // nil without loop.preload
}

// beatRing keeps a channel's frames long enough to average any beat the
// detector reports (down to 30 bpm, with room to spare).
type beatRing struct {
	col  int
	t    []time.Duration
	v    []float64
	next int // where the next frame goes
	n    int
}

const ringSpan = 4 * time.Second

func newBeatRing(col int, rate float64) *beatRing {
	n := int(math.Ceil(ringSpan.Seconds() * rate))
	return &beatRing{col: col, t: make([]time.Duration, n), v: make([]float64, n)}
}

func (r *beatRing) add(t time.Duration, v float64) {
	r.t[r.next], r.v[r.next] = t, v
	if r.next++; r.next == len(r.t) {
		r.next = 0
	}
	r.n = min(r.n+1, len(r.t))
}

// mean is the mean of the frames from start up to (not including) end, the
// span of a beat, or NaN if there are none.
func (r *beatRing) mean(start, end time.Duration) float64 {
	sum, n := 0.0, 0
	for k, i := 0, r.next; k < r.n; k++ {
		if i--; i < 0 {
			i = len(r.t) - 1
		}
		if r.t[i] < start {
			break
		}
		if r.t[i] < end && !math.IsNaN(r.v[i]) {
			sum += r.v[i]
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// recent is the mean of the frames of the last span, NaN if there are none.
func (r *beatRing) recent(span time.Duration) float64 {
	if r.n == 0 {
		return math.NaN()
	}
	i := r.next - 1
	if i < 0 {
		i = len(r.t) - 1
	}
	return r.mean(r.t[i]-span, r.t[i]+1)
}

// frame takes every frame, before the beat it ends (if it ends one) is
// handed to the targets.
func (c *controllers) frame(t time.Duration, frame []float64) {
	if c.lap != nil {
		c.lap.add(t, frame[c.lap.col])
	}
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
		c.targets = append(c.targets, &target{param: "loop.target.map", drives: "loop.resistance", dim: units.Resistance,
			pid:     pumpctl.PID{Kp: 0.03, Ki: 0.012, Min: lo, Max: hi, Rate: 0.5},
			measure: func(b daq.Beat) float64 { return b.Mean }})
	}
	if _, ok := cfg.Params["loop.target.co"]; ok {
		lo, hi := lim("loop.contractility", 0.2, 4)
		c.targets = append(c.targets, &target{param: "loop.target.co", drives: "loop.contractility", dim: units.Elastance,
			pid:     pumpctl.PID{Kp: 0.05, Ki: 0.05, Min: lo, Max: hi, Rate: 0.5},
			measure: func(b daq.Beat) float64 { return b.StrokeVolume * b.HeartRate / 1000 }})
	}
	if _, ok := cfg.Params["loop.preload"]; ok && cfg.Hardware.Preload != nil {
		c.targets = append(c.targets, c.preloadTarget(cfg))
	}
	return c
}

// preloadTarget holds the mean left-atrial pressure of each beat at
// loop.preload with the preload valve, which sets the head of the venous
// reservoir the atrium is filled from and drains into. The head is where
// the atrium's mean pressure settles, so the valve is a well-behaved
// actuator: the output is in mmHg, and a change of head shows in the
// atrium with the time constant of the reservoir's line and the loop's
// compliance behind the atrium, about 6 s on the simulated bench (0.2
// mmHg·s/ml × ~30 ml/mmHg). The gains put the controller's zero near that
// pole (Ki/Kp = 1/5 s), which leaves a closed loop of about first order:
// it settles in some ten seconds without overshoot, which a bench wants
// more than speed. The output stays within 0 and the valve's head (the
// integral stops at either while the error pushes further: no windup), and
// the rate limit, 2 mmHg/s, keeps a large setpoint step from slamming the
// reservoir's head.
// Control starts with the head at the atrium's mean pressure of the last
// second, so opening the shut line moves nothing (bumpless).
func (c *controllers) preloadTarget(cfg *Config) *target {
	c.lap = newBeatRing(cfg.Channels.Index("lap"), cfg.SampleRate)
	t := &target{param: "loop.preload", drives: preloadHead, dim: units.Pressure,
		pid:     pumpctl.PID{Kp: 1, Ki: 0.2, Min: 0, Max: cfg.Hardware.Preload.Head, Rate: 2},
		measure: func(b daq.Beat) float64 { return c.lap.mean(b.Start, b.End) }}
	t.from = func() (float64, bool) {
		// About a beat of the atrial pressure; before any frame (a
		// protocol's first setpoint), the target itself.
		if v := c.lap.recent(time.Second); !math.IsNaN(v) {
			return v, true
		}
		return t.setpoint, true
	}
	return t
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
				e.event(runlog.Event{Kind: runlog.KindControl, Msg: fmt.Sprintf("%s off; %s stays at %s", param, t.drives, units.Format(t.pid.Output(), e.params[t.drives].Dim))})
			}
			t.on = false
			return nil
		}
		if !t.on {
			t.setpoint = v.Num
			from, ok := 0.0, false
			if t.from != nil {
				from, ok = t.from()
			} else if cur, set := e.params[t.drives]; set && cur.Word == "" {
				from, ok = cur.Num, true
			}
			if !ok {
				return fmt.Errorf("%s needs %s set first, to start from", param, t.drives)
			}
			t.pid.Start(from)
			t.on = true
			e.event(runlog.Event{Kind: runlog.KindControl, Msg: fmt.Sprintf("%s on: %s from %s", param, t.drives, units.Format(from, t.dim))})
			if t.from != nil { // the driven actuator is the target's own
				if err := e.plant.Apply(t.drives, protocols.Value{Num: t.pid.Output(), Dim: t.dim}); err != nil {
					return err
				}
			}
		}
		t.setpoint = v.Num
		return nil
	}
	if t := e.ctl.controlling(param); t != nil {
		return &Abort{Reason: fmt.Sprintf("%s is under closed-loop control by %s; set %s: off first", param, t.param, t.param)}
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

// controlBeat updates the targets measured on the timing beat channel.
func (e *engine) controlBeat(b daq.Beat) error {
	dt := min(b.End-b.Start, maxControlInterval).Seconds()
	for _, t := range e.ctl.targets {
		if !t.on {
			continue
		}
		out := t.pid.Update(t.setpoint, t.measure(b), dt)
		v := protocols.Value{Num: out, Dim: t.dim}
		if err := e.plant.Apply(t.drives, v); err != nil {
			return abortf("closed-loop %s could not set %s: %v", t.param, t.drives, err)
		}
		e.params[t.drives] = v
	}
	return nil
}
