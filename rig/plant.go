package rig

import (
	"fmt"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/sim"
)

// Plant is the loop a run drives: it takes parameter setpoints, updates its
// actuators once per frame (the cardiac waveform, controllers), measures a
// frame, and goes to its safe state. The engine knows nothing else of the
// hardware.
type Plant interface {
	Layout() daq.Layout
	// Apply takes a setpoint. Ranges were checked against the rig config
	// before the run; Apply still refuses what its hardware cannot do.
	Apply(param string, v protocols.Value) error
	// Read measures the frame at now into dst (len(Layout())).
	Read(now time.Duration, dst []float64) error
	// Actuate updates the actuators for the interval that starts at now.
	Actuate(now time.Duration) error
	// Safe drives every actuator to its declared safe state. It must work
	// from any state, repeatedly, and is the last thing a run does.
	Safe() error
	Close() error
}

// simPlant is the simulated loop: the cardiac waveform generator of pumpctl
// drives the simulated ventricle and the systemic resistance valve sets the
// model's resistance.
//
// This first form connects pumpctl and daq to the physics directly; the chip
// emulators (ADS131M08, MCP4725, PCA9685 on periph buses) replace these
// direct connections so that the same drivers run in simulation and on the
// bench.
type simPlant struct {
	cfg    *Config
	loop   *sim.Loop
	heart  *pumpctl.CardiacWaveform
	layout daq.Layout
	last   time.Duration
	safe   bool
}

func newSimPlant(cfg *Config) (*simPlant, error) {
	p := sim.SimaanNormal()
	p.Emin = cfg.Sim.Emin
	loop, err := sim.NewLoop(p, sim.SimaanInitial())
	if err != nil {
		return nil, fmt.Errorf("rig: %w", err)
	}
	// Starting values until the initial preset applies its own.
	heart, err := pumpctl.NewCardiacWaveform(75, 2.0, p.Emin)
	if err != nil {
		return nil, fmt.Errorf("rig: %w", err)
	}
	sp := &simPlant{cfg: cfg, loop: loop, heart: heart}
	for _, c := range sim.Channels() {
		if cfg.Channels.Index(c.Name) < 0 {
			continue
		}
		sp.layout = append(sp.layout, cfg.Channels[cfg.Channels.Index(c.Name)])
	}
	for _, c := range cfg.Channels {
		if sp.layout.Index(c.Name) < 0 {
			return nil, fmt.Errorf("rig: channel %q of %s is not measured by the sim backend", c.Name, cfg.File)
		}
	}
	return sp, nil
}

func (p *simPlant) Layout() daq.Layout { return p.layout }

func (p *simPlant) Apply(param string, v protocols.Value) error {
	switch param {
	case "loop.heart_rate":
		return p.heart.SetHeartRate(v.Num)
	case "loop.contractility":
		return p.heart.SetContractility(v.Num)
	case "loop.systole_fraction":
		return p.heart.SetSystoleFraction(v.Num / 100)
	case "loop.resistance":
		return p.loop.SetSystemicResistance(v.Num)
	}
	return fmt.Errorf("the sim backend has no actuator for %s", param)
}

func (p *simPlant) Read(now time.Duration, dst []float64) error {
	p.loop.AdvanceTo(now)
	var all [sim.NumChannels]float64
	p.loop.Read(all[:])
	j := 0
	for i, c := range sim.Channels() {
		if j < len(p.layout) && p.layout[j].Name == c.Name {
			dst[j] = all[i]
			j++
		}
	}
	return nil
}

func (p *simPlant) Actuate(now time.Duration) error {
	if p.safe {
		return nil
	}
	active, _ := p.heart.Advance(now - p.last)
	p.last = now
	return p.loop.SetActiveElastance(active)
}

func (p *simPlant) Safe() error {
	p.safe = true
	if err := p.loop.SetActiveElastance(0); err != nil {
		return err
	}
	return p.loop.SetSystemicResistance(p.cfg.SafeResistance)
}

func (p *simPlant) Close() error { return nil }

// plantFor builds the plant of a rig config's backend. Tests replace it to
// wrap the plant with faults.
var plantFor = newPlant

func newPlant(cfg *Config) (Plant, error) {
	switch cfg.Backend {
	case "sim":
		return newSimPlant(cfg)
	}
	return nil, fmt.Errorf("rig: backend %q is not available", cfg.Backend)
}
