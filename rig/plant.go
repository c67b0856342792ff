package rig

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/ads1x15"
	"periph.io/x/devices/v3/pca9685"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/daq/ads1115"
	"github.com/mockloop/mockloop/daq/ads131m08"
	"github.com/mockloop/mockloop/dut/dutsim"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/pumpctl/mcp4725"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/sim"
	"github.com/mockloop/mockloop/units"
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
	// Read measures the next frame into dst (len(Layout())) and returns
	// the index of its conversion (daq.ADC.Conversion): the engine's time
	// base. An error wrapping daq.ErrBadFrame means this frame is lost,
	// not the run; the index is then the conversion it used up, if any.
	Read(dst []float64) (conv int64, err error)
	// Actuate updates the actuators for the interval that starts at now.
	Actuate(now time.Duration) error
	// Safe drives every actuator to its declared safe state. It must work
	// from any state, repeatedly, and is the last thing a run does.
	Safe() error
	// EStop reports whether the emergency stop is pressed; it never blocks.
	EStop() bool
	// Health returns the acquisition's bad-frame counters.
	Health() Health
	// Stuck names the channels whose reading has not changed for too long
	// to be a live sensor (a real transducer always has noise).
	Stuck() []string
	// TakeEvents returns what the plant has to record since the last call
	// (the DUT link's frames), in order.
	TakeEvents() []runlog.Event
	// DUT is the identity of the device under test, or nil.
	DUT() *runlog.DUTIdentity
	// DUTLink is how the DUT is reached (runlog.DUTLink*); "" without one.
	DUTLink() string
	// SummariseDUT queues for TakeEvents a dut.summary event of the DUT
	// link's exchanges since the last one, for step, at at (run: of the
	// whole run, at its end); nothing without a DUT.
	SummariseDUT(step string, at time.Duration, run bool)
	Close() error
}

// Health is the acquisition's health: the fast and the slow converter.
type Health struct {
	ADC, SlowADC daq.ADCHealth
}

// stuckSpan is how long a sensor's reading may stay bit-identical before
// the supervisor calls it implausible: a real transducer's noise changes
// the 24-bit code on every sample, so a second of identical codes is a
// disconnected or failed sensor, not a steady pressure.
const stuckSpan = time.Second

// softStart is how long the LV drive takes to bring its active elastance
// in, linearly, when the heart starts after the loop has been at rest for
// more than restBeforeSoftStart. At rest the ventricle fills and the aorta
// drains, so a first beat at full contractility ejects far beyond any
// later one: on the wall clock a run's heart starts some 0.4 s after the
// plant was made (the PWM chip's oscillator, the DUT link, the record),
// and its first beat peaked at 45.7 L/min of aortic flow against 36.6 at
// steady state (it tripped the aortic flow limit of the time, 45 L/min),
// the longer the rest the higher. Benches start their LV pump gently for
// the same reason. On virtual time the heart starts within
// milliseconds and its first beat is as it was.
const (
	softStart           = 3 * time.Second
	restBeforeSoftStart = 100 * time.Millisecond
)

// slowPoll is how often the slow ADC is polled: each poll collects a
// finished conversion or starts the next, so every slow input is fresh
// within a few tens of milliseconds.
const slowPoll = 5 * time.Millisecond

// busPlant is the loop built of the bench's parts on periph buses. The same
// code drives the emulated bench and the Pi's: only the buses differ.
type busPlant struct {
	layout     daq.Layout
	acq        *daq.Acquisition
	fastInputs []daq.Input
	adc        *ads131m08.Dev
	truth      []truthColumn
	flags      []flagColumn
	heart      *pumpctl.CardiacWaveform
	drive      *pumpctl.PumpDrive
	valve      *pumpctl.ResistanceValve
	rvDrive    *pumpctl.PumpDrive       // nil: none
	pulmonary  *pumpctl.ResistanceValve // nil: none
	preload    *pumpctl.PreloadValve    // nil: none
	switches   []pumpctl.Switch
	estop      pumpctl.Input
	last       time.Duration // of the last actuation; the heart's clock
	beating    bool          // the heart has had its first actuation
	rested     time.Duration // since when the loop rests, on the run's clock
	softFrom   time.Duration // start of the soft start; -1: none
	safe       bool
	buses      *buses
	bench      *sim.Bench  // nil on hardware
	dut        *dutLink    // nil without a DUT
	hybrid     *hybridLoop // nil on a numerical rig
	thermo     thermostat
}

// thermostat holds the fluid temperature with the heater relay: on below
// the target by more than the hysteresis, off above it by more, so the
// relay does not chatter on sensor noise.
type thermostat struct {
	heater    pumpctl.Switch
	col       int // the fluid temperature column, -1 none
	target    float64
	on, state bool
	last      float64
}

const thermoHysteresis = 0.2 // °C

// truthColumn is a simulation-only channel read straight from the physics.
type truthColumn struct {
	col  int
	read func() float64
}

// plantFor builds the plant of a rig config's backend. Tests replace it to
// wrap the plant with faults.
var plantFor = newPlant

// newPlant builds the rig's plant on its backend's buses, with the given
// channel calibrations, and puts it in its safe state.
func newPlant(cfg *Config, clk clock.Clock, cals map[string]daq.Calibration) (Plant, error) {
	rested := clk.Now() // the loop rests from here until the heart starts
	var b *buses
	var bench *sim.Bench
	var err error
	switch cfg.Backend {
	case "sim":
		b, bench, err = simBuses(cfg, clk)
	case "hardware":
		b, err = hardwareBuses(cfg.Hardware)
	default:
		err = fmt.Errorf("rig: backend %q is not available", cfg.Backend)
	}
	if err != nil {
		return nil, err
	}
	p, err := buildPlant(cfg, clk, b, cals)
	if err != nil {
		b.close()
		return nil, err
	}
	p.bench, p.rested = bench, rested
	if cfg.DUT != nil {
		var pump dutsim.Pump
		if bench != nil {
			pump = benchPump{bench}
		}
		if p.dut, err = openDUT(cfg, clk, pump); err != nil {
			p.Close()
			return nil, err
		}
		if bench != nil && p.dut.srv != nil {
			bench.SetPumpSpeed(firmwareSpeed(p.dut.srv))
		}
		if err := p.wireDUTPower(cfg, bench); err != nil {
			p.Close()
			return nil, err
		}
	}
	for j, ch := range cfg.Channels {
		if in := cfg.Inputs[ch.Name]; in.Kind == "flag" {
			p.flags = append(p.flags, flagColumn{col: j, parent: daq.Layout(cfg.Channels).Index(in.Signal), mask: in.Index})
		}
	}
	for j, ch := range cfg.Channels {
		switch in := cfg.Inputs[ch.Name]; {
		case in.Kind == "sim" && bench != nil:
			read := map[string]func() float64{"lv_volume": bench.LVVolume, "rv_volume": bench.RVVolume}[in.Signal]
			p.truth = append(p.truth, truthColumn{col: j, read: read})
		case in.Kind == "model" || in.Kind == "tracking":
			p.truth = append(p.truth, truthColumn{col: j, read: p.hybrid.column(in, ch.Dim)})
		}
	}
	if err := p.Safe(); err != nil {
		p.Close()
		return nil, fmt.Errorf("rig: safe state at start: %w", err)
	}
	p.safe = false
	if err := p.startRightHeart(cfg.Sim.Circulation); err != nil {
		p.Close()
		return nil, fmt.Errorf("rig: right heart at start: %w", err)
	}
	if err := p.settle(clk, cfg.SampleRate); err != nil {
		p.Close()
		return nil, err
	}
	p.softFrom = -1
	return p, nil
}

// startRightHeart gives the RV drive and the pulmonary valve, put in
// their safe state with the rest, the values the simulated patient's
// circulation declares for them (the rv chamber's drive, the pulmonary
// link's resistance), so that a protocol that never sets
// loop.rv_contractility or loop.pulmonary_resistance runs the patient as
// declared. On hardware nothing declares them: the RV pump rests and the
// valve stays at its safe duty until a preset or setpoint sets them. The
// RV pump does not move before the heart's first beat either way: it
// scales the LV drive's waveform.
func (p *busPlant) startRightHeart(c *sim.NetworkSpec) error {
	if c == nil {
		return nil
	}
	if i := slices.IndexFunc(c.Nodes, func(n sim.NodeSpec) bool { return n.Name == sim.NodeRV }); i >= 0 && p.rvDrive != nil {
		if err := p.rvDrive.Set(c.Nodes[i].Drive * 100); err != nil {
			return err
		}
	}
	if i := slices.IndexFunc(c.Links, func(l sim.LinkSpec) bool { return l.Name == sim.LinkPulmonary }); i >= 0 && p.pulmonary != nil {
		return p.pulmonary.SetResistance(c.Links[i].R)
	}
	return nil
}

// wireDUTPower gives the DUT link its power switch, if the rig declares
// one. On the simulated bench the switch's pin powers the simulated DUT:
// switched off, it goes dead (dutsim's PowerOff).
func (p *busPlant) wireDUTPower(cfg *Config, bench *sim.Bench) error {
	name := cfg.DUT.Power
	if name == "" {
		return nil
	}
	i := slices.IndexFunc(cfg.Hardware.Switches, func(s Switch) bool { return s.Name == name })
	if i < 0 {
		return fmt.Errorf("rig: DUT power switch %s is not a switch of the rig", name)
	}
	p.dut.power = p.switches[i]
	if bench == nil || p.dut.srv == nil {
		return nil
	}
	pin, err := bench.Pin(cfg.Hardware.Switches[i].Pin)
	if err != nil {
		return err
	}
	sp, ok := pin.(*sim.Pin)
	if !ok {
		return fmt.Errorf("rig: DUT power switch %s: pin %s is not the simulated bench's", name, pin)
	}
	srv := p.dut.srv
	sp.OnOut(func(l gpio.Level) {
		if l == gpio.Low {
			srv.PowerOff()
		}
	})
	return nil
}

// settle reads until the acquisition delivers a frame with a value on every
// channel, so that a run starts with converters in their steady state: the
// first conversion after configuration is not valid on the chip, and the
// slow ADC has no value until its first conversion. Neither may cost the
// run a frame or put a NaN in it.
func (p *busPlant) settle(clk clock.Clock, rate float64) error {
	frame := make([]float64, len(p.layout))
	period := time.Duration(float64(time.Second) / rate)
	var err error
	for range int(rate) { // at most a second
		if _, err = p.acq.Read(frame); err == nil && allFinite(frame, p.truthCols()) {
			return nil
		}
		if serr := clk.SleepUntil(context.Background(), clk.Now()+period); serr != nil {
			return serr
		}
	}
	if err == nil {
		err = errors.New("a channel has no value")
	}
	return fmt.Errorf("rig: acquisition does not start: %w", err)
}

// truthCols are the columns acquisition does not fill.
func (p *busPlant) truthCols() []int {
	cols := make([]int, len(p.truth))
	for i, t := range p.truth {
		cols[i] = t.col
	}
	return cols
}

func allFinite(frame []float64, skip []int) bool {
	for j, v := range frame {
		if (math.IsNaN(v) || math.IsInf(v, 0)) && !slices.Contains(skip, j) {
			return false
		}
	}
	return true
}

func buildPlant(cfg *Config, clk clock.Clock, b *buses, cals map[string]daq.Calibration) (*busPlant, error) {
	p := &busPlant{layout: cfg.Channels, buses: b}
	if err := p.buildAcquisition(cfg, clk, cals); err != nil {
		return nil, err
	}
	if err := p.buildActuators(cfg, clk.Now()); err != nil {
		return nil, err
	}
	p.thermo.col = -1
	for j, ch := range cfg.Channels {
		if ch.Dim == units.Temperature && p.thermo.col < 0 {
			p.thermo.col = j
		}
	}
	// Starting values until the initial preset applies its own.
	var err error
	if p.heart, err = pumpctl.NewCardiacWaveform(75, 2.0, cfg.Sim.Emin); err != nil {
		return nil, err
	}
	return p, nil
}

// buildAcquisition opens the ADCs on the buses: the ADS131M08 paced by its
// data-ready pin, and the ADS1115 up to the highest slow input in use.
func (p *busPlant) buildAcquisition(cfg *Config, clk clock.Clock, cals map[string]daq.Calibration) error {
	h, b := cfg.Hardware, p.buses
	drdy, err := b.pin(h.DRDY)
	if err != nil {
		return err
	}
	var gains [8]int
	for i := range gains {
		gains[i] = h.ADCGain
	}
	p.adc, err = ads131m08.New(b.spi, drdy, &ads131m08.Opts{Clock: clk, DataRate: cfg.SampleRate, Gain: gains,
		StuckFrames: int(stuckSpan.Seconds() * cfg.SampleRate),
		ClockIn:     physic.Frequency(h.ADCClockIn * float64(physic.Hertz))})
	if err != nil {
		return err
	}
	var fast, slow []daq.Input
	slowUsed := -1
	for j, ch := range cfg.Channels {
		in := cfg.Inputs[ch.Name]
		switch in.Kind {
		case "adc":
			fast = append(fast, daq.Input{Index: in.Index, Column: j, Cal: cals[ch.Name]})
		case "slow_adc":
			slow = append(slow, daq.Input{Index: in.Index, Column: j, Cal: cals[ch.Name]})
			slowUsed = max(slowUsed, in.Index)
		}
	}
	var slowADC daq.SlowADC
	if h.SlowADC != nil && slowUsed >= 0 {
		var inputs []ads1115.Input
		for i := 0; i <= slowUsed; i++ {
			inputs = append(inputs, ads1115.Input{Channel: ads1x15.Channel0 + ads1x15.Channel(i), FullScale: slowFullScale})
		}
		dev, err := ads1115.New(b.i2c, ads1115.Opts{Addr: h.SlowADC.Address, DataRate: int(h.SlowADC.DataRate), Inputs: inputs})
		if err != nil {
			return err
		}
		slowADC = dev
	}
	p.fastInputs = fast
	if p.acq, err = daq.NewAcquisition(p.adc, fast, slowADC, slow); err != nil {
		return err
	}
	p.acq.SlowPollEvery(int(math.Ceil(slowPoll.Seconds() * cfg.SampleRate)))
	return nil
}

// buildActuators opens the actuators with their safe states: the LV drive's
// DAC, the valves on the PWM, the switches and the emergency stop.
func (p *busPlant) buildActuators(cfg *Config, start time.Duration) error {
	h, b := cfg.Hardware, p.buses
	if cfg.Mode == ModeHybrid {
		return p.buildHybrid(cfg, start)
	}
	dac, err := mcp4725.New(b.i2c, "lv_drive", mcp4725.Opts{Addr: h.LVDrive.Address, Vref: h.LVDrive.Vref})
	if err != nil {
		return err
	}
	p.drive = &pumpctl.PumpDrive{Out: dac, FullScale: h.LVDrive.FullScale, Vref: h.LVDrive.Vref, Dim: units.Elastance}
	if d := h.RVDrive; d != nil {
		dac, err := mcp4725.New(b.i2c, "rv_drive", mcp4725.Opts{Addr: d.Address, Vref: d.Vref})
		if err != nil {
			return err
		}
		p.rvDrive = &pumpctl.PumpDrive{Out: dac, FullScale: d.FullScale, Vref: d.Vref, Dim: units.Percent}
	}
	pwm, err := pca9685.NewI2C(b.i2c, h.PWM.Address)
	if err != nil {
		return fmt.Errorf("rig: PCA9685: %w", err)
	}
	if err := pwm.SetPwmFreq(physic.Frequency(h.PWM.Frequency * float64(physic.Hertz))); err != nil {
		return fmt.Errorf("rig: PCA9685: %w", err)
	}
	out, err := pumpctl.NewValve("resistance_valve", pwm, h.Valve.Channel, h.Valve.SafeDuty)
	if err != nil {
		return err
	}
	p.valve = &pumpctl.ResistanceValve{Out: out, ROpen: h.Valve.ROpen, MaxDuty: h.Valve.MaxDuty}
	return p.buildCommon(cfg, pwm)
}

// buildHybrid opens a hybrid bench's chamber drives and starts the
// controller's model of the patient at the clock's now.
func (p *busPlant) buildHybrid(cfg *Config, start time.Duration) error {
	h := cfg.Hardware
	var drives [2]*pumpctl.FlowDrive
	for i, d := range []*PumpDrive{h.InletDrive, h.OutletDrive} {
		name := [2]string{"inlet_drive", "outlet_drive"}[i]
		dac, err := mcp4725.New(p.buses.i2c, name, mcp4725.Opts{Addr: d.Address, Vref: d.Vref})
		if err != nil {
			return err
		}
		drives[i] = &pumpctl.FlowDrive{Out: dac, FullScale: d.FullScale / sim.MlPerSToLPerMin, Vref: d.Vref}
	}
	var err error
	if p.hybrid, err = newHybridLoop(cfg, drives[0], drives[1], start); err != nil {
		return err
	}
	return p.buildCommon(cfg, nil)
}

// buildCommon opens what both modes may have: the pulmonary and preload
// valves on the PWM, the switches and the emergency stop.
func (p *busPlant) buildCommon(cfg *Config, pwm *pca9685.Dev) error {
	h, b := cfg.Hardware, p.buses
	if v := h.Pulmonary; v != nil {
		out, err := pumpctl.NewValve("pulmonary_valve", pwm, v.Channel, v.SafeDuty)
		if err != nil {
			return err
		}
		p.pulmonary = &pumpctl.ResistanceValve{Out: out, ROpen: v.ROpen, MaxDuty: v.MaxDuty}
	}
	if pv := h.Preload; pv != nil {
		out, err := pumpctl.NewValve("preload_valve", pwm, pv.Channel, pv.SafeDuty)
		if err != nil {
			return err
		}
		p.preload = &pumpctl.PreloadValve{Out: out, Head: pv.Head}
	}
	for _, s := range h.Switches {
		pin, err := b.pin(s.Pin)
		if err != nil {
			return err
		}
		sw, err := pumpctl.NewSolenoid(s.Name, pin, pumpctl.SwitchOpts{SafeOn: s.Safe})
		if err != nil {
			return err
		}
		p.switches = append(p.switches, sw)
		if s.Name == "heater" {
			p.thermo.heater = sw
		}
	}
	pin, err := b.pin(h.EStop)
	if err != nil {
		return err
	}
	p.estop, err = pumpctl.NewEStop("estop", pin)
	return err
}

func (p *busPlant) Layout() daq.Layout { return p.layout }

// Apply dispatches on the parameter's actuation kind (actuations).
func (p *busPlant) Apply(param string, v protocols.Value) error {
	if def, ok := paramDef(param); ok {
		if a := actuations[def.Actuation]; a.apply != nil {
			if err := a.apply(p, v); !errors.Is(err, errNoActuator) {
				return err
			}
		}
	}
	return fmt.Errorf("the rig has no actuator for %s", param)
}

// setTemperature takes loop.temperature: the thermostat's target.
func (p *busPlant) setTemperature(v protocols.Value) error {
	if p.thermo.heater == nil || p.thermo.col < 0 {
		return errNoActuator
	}
	p.thermo.target, p.thermo.on = v.Num, true
	return nil
}

func (p *busPlant) Read(dst []float64) (int64, error) {
	conv, err := p.acq.Read(dst)
	if err != nil {
		return conv, err
	}
	if p.hybrid != nil {
		if err := p.hybrid.observe(dst); err != nil {
			return conv, err
		}
	}
	for _, t := range p.truth {
		dst[t.col] = t.read()
	}
	if p.thermo.col >= 0 {
		p.thermo.last = dst[p.thermo.col]
	}
	if p.dut != nil {
		if err := p.dut.read(dst); err != nil {
			return conv, err
		}
	}
	for _, f := range p.flags {
		dst[f.col] = 0
		if int(dst[f.parent])&f.mask != 0 {
			dst[f.col] = 1
		}
	}
	return conv, nil
}

// Coding is how the run record codes each column (runlog.ColumnCoding): a
// converter's inputs by their codes, so that the record holds exactly
// what the ADC produced; the DUT's integer telemetry (rpm, mA, alarm
// bits) and the flags as integers; the rest (simulation truth, a DUT's
// power and purge pressure after their unit conversion) as float32.
func (p *busPlant) Coding() []runlog.ColumnCoding {
	cs := make([]runlog.ColumnCoding, len(p.layout))
	for j := range cs {
		cs[j].Kind = runlog.CodingF32
	}
	for _, q := range p.acq.Quanta() {
		cs[q.Column] = runlog.ColumnCoding{Kind: runlog.CodingADC, LSB: q.LSB, Coeffs: q.Cal.Coeffs}
	}
	for _, f := range p.flags {
		cs[f.col].Kind = runlog.CodingInt
	}
	if p.dut != nil {
		for _, c := range p.dut.cols {
			if s := dutSignals[c.signal]; s == "rpm" || s == "current" || s == "alarms" {
				cs[c.col].Kind = runlog.CodingInt
			}
		}
	}
	return cs
}

// flagColumn is a flag channel: bit mask of the parent column's value.
type flagColumn struct {
	col, parent, mask int
}

func (p *busPlant) Actuate(now time.Duration) error {
	if p.safe {
		return nil
	}
	if !p.beating {
		// The first beat starts at the first actuation, from rest: a
		// run on the wall clock starts well after t = 0 (the DUT link
		// and the config take their time), and advancing the waveform
		// by that gap would start the heart in mid-systole, at full
		// elastance on a full ventricle.
		p.last, p.beating = now, true
		if now-p.rested > restBeforeSoftStart {
			p.softFrom = now
		}
	}
	active, beat := p.heart.Advance(now - p.last)
	p.last = now
	if p.softFrom >= 0 {
		if f := float64(now-p.softFrom) / float64(softStart); f < 1 {
			active *= f
		} else {
			p.softFrom = -1
		}
	}
	var err error
	if p.hybrid != nil {
		err = p.hybrid.actuate(now, active, beat)
	} else {
		err = p.drive.Set(active)
	}
	if err != nil {
		return err
	}
	if t := &p.thermo; t.on {
		want := t.state
		switch {
		case t.last < t.target-thermoHysteresis:
			want = true
		case t.last > t.target+thermoHysteresis:
			want = false
		}
		if want != t.state {
			if err := t.heater.Set(want); err != nil {
				return err
			}
			t.state = want
		}
	}
	if p.dut != nil {
		return p.dut.actuate(now)
	}
	return nil
}

// Safe drives every actuator to its safe state; one failing does not stop
// the others from being tried.
func (p *busPlant) Safe() error {
	p.safe = true
	p.thermo.on, p.thermo.state = false, false
	var errs []error
	if p.hybrid != nil {
		errs = append(errs, p.hybrid.safe()) // the chamber drives stop
	}
	if p.drive != nil {
		errs = append(errs, p.drive.Safe())
	}
	if p.valve != nil {
		errs = append(errs, p.valve.Safe())
	}
	if p.rvDrive != nil {
		errs = append(errs, p.rvDrive.Safe()) // the RV pump stops
	}
	if p.pulmonary != nil {
		errs = append(errs, p.pulmonary.Safe())
	}
	if p.preload != nil {
		errs = append(errs, p.preload.Safe())
	}
	for _, s := range p.switches {
		if p.dut != nil && p.dut.off && s == p.dut.power {
			continue // switched off because the DUT did not stop: it stays off
		}
		errs = append(errs, s.Safe())
	}
	if p.dut != nil {
		errs = append(errs, p.dut.safe())
	}
	return errors.Join(errs...)
}

func (p *busPlant) Stuck() []string {
	mask := p.adc.Stuck()
	if mask == 0 {
		return nil
	}
	var names []string
	for _, in := range p.fastInputs {
		if mask&(1<<in.Index) != 0 {
			names = append(names, p.layout[in.Column].Name)
		}
	}
	return names
}

func (p *busPlant) TakeEvents() []runlog.Event {
	if p.dut == nil {
		return nil
	}
	return p.dut.takeEvents()
}

func (p *busPlant) DUT() *runlog.DUTIdentity {
	if p.dut == nil {
		return nil
	}
	return p.dut.identity()
}

func (p *busPlant) DUTLink() string {
	if p.dut == nil {
		return ""
	}
	return p.dut.link
}

func (p *busPlant) SummariseDUT(step string, at time.Duration, run bool) {
	if p.dut != nil {
		p.dut.summarise(step, at, run)
	}
}

func (p *busPlant) EStop() bool { return p.estop.Active() }

func (p *busPlant) Health() Health {
	fast, slow := p.acq.Health()
	return Health{ADC: fast, SlowADC: slow}
}

func (p *busPlant) Close() error {
	var errs []error
	if p.dut != nil {
		errs = append(errs, p.dut.close())
	}
	return errors.Join(append(errs, p.adc.Close(), p.buses.close())...)
}

// simBuses builds the emulated bench of a sim rig config: the same parts,
// with the transducers the config's nominal calibrations describe, made
// imperfect by the sim section's offsets and noise.
func simBuses(cfg *Config, clk clock.Clock) (*buses, *sim.Bench, error) {
	h := cfg.Hardware
	params := sim.SimaanNormal()
	params.Emin = cfg.Sim.Emin
	bc := sim.BenchConfig{
		Clock: clk, Loop: params, Initial: sim.SimaanInitial(),
		Thermal: sim.DefaultThermal(), Temperature: 37, Volume: 2000,
		SPIPort: h.SPI, DRDYPin: h.DRDY, ADCClockIn: physic.Frequency(h.ADCClockIn * float64(physic.Hertz)), I2CBus: h.I2C,
		DACAddr: h.LVDrive.Address, DACVref: h.LVDrive.Vref, DriveFullScale: h.LVDrive.FullScale,
		PWMAddr: h.PWM.Address, ValveChannel: h.Valve.Channel, ValveROpen: h.Valve.ROpen,
		EStopPin: h.EStop, Switches: map[string]string{},
	}
	if d := h.RVDrive; d != nil {
		bc.RVDrive = &sim.RVDriveConfig{Addr: d.Address, Vref: d.Vref, FullScale: d.FullScale}
	}
	if v := h.Pulmonary; v != nil {
		bc.PulmonaryValve = &sim.ValveConfig{Channel: v.Channel, ROpen: v.ROpen}
	}
	if pv := h.Preload; pv != nil {
		bc.Preload = &sim.PreloadConfig{Channel: pv.Channel, Head: pv.Head, Line: cfg.Sim.PreloadLine}
	}
	if cfg.DUT != nil && cfg.DUT.Port == "sim" {
		pump := pumpParams(cfg.DUT.Profile) // the simulated DUT's pump, in the loop
		bc.Pump = &pump
	}
	if cfg.Mode == ModeHybrid {
		hy, err := simHydraulics(cfg)
		if err != nil {
			return nil, nil, err
		}
		bc.Hydraulics = hy
		bc.PWMAddr = 0x40 // the emulated PCA9685 is there, unused
		// The drives' DACs; their full scale is hy's (checkHybrid: one).
		in, out := h.InletDrive, h.OutletDrive
		bc.DACAddr, bc.DACVref = in.Address, in.Vref
		bc.RVDrive = &sim.RVDriveConfig{Addr: out.Address, Vref: out.Vref}
	} else {
		bc.Network = cfg.Sim.Circulation
	}
	if h.SlowADC != nil {
		bc.SlowADCAddr = h.SlowADC.Address
	} else {
		bc.SlowADCAddr = 0x48
	}
	for _, s := range h.Switches {
		bc.Switches[s.Pin] = s.Name
		if cfg.DUT != nil && s.Name == cfg.DUT.Power {
			bc.Switches[s.Pin] = "dut_power"
		}
	}
	seed := uint64(1)
	for _, ch := range cfg.Channels {
		in := cfg.Inputs[ch.Name]
		if in.Kind != "adc" && in.Kind != "slow_adc" {
			continue
		}
		c := in.Nominal.Coeffs
		if len(c) != 2 || c[1] == 0 {
			return nil, nil, fmt.Errorf("rig: the sim backend models linear transducers; channel %s's nominal calibration is not", ch.Name)
		}
		t := cfg.Sim.Transducers[ch.Name]
		// nominal: value = c0 + c1·V; the simulated sensor reads value+offset.
		ai := &sim.AnalogInput{Signal: benchSignal(ch.Name), Transducer: sim.Transducer{
			Sensitivity: 1 / c[1], Offset: (t.Offset - c[0]) / c[1], NoiseRMS: t.Noise / math.Abs(c[1]), Seed: seed}}
		seed++
		switch in.Kind {
		case "adc":
			bc.ADC[in.Index] = ai
		case "slow_adc":
			if in.Index > 3 {
				return nil, nil, fmt.Errorf("rig: channel %s: the ADS1115 has inputs 0 to 3", ch.Name)
			}
			bc.SlowADC[in.Index] = ai
		}
	}
	bench, err := sim.NewBench(bc)
	if err != nil {
		return nil, nil, fmt.Errorf("rig: %w", err)
	}
	return &buses{spi: bench.SPI(), i2c: bench.I2C(), pin: bench.Pin, close: bench.Close}, bench, nil
}
