package sim

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/mockloop/mockloop/clock"
)

// adcNoise is the ADS131M08's typical input-referred noise at 1 kSPS, gain 1.
const adcNoise = 1.5e-6

// Signals a bench sensor can measure. flow_dut is the flow through the
// device under test's pump (BenchConfig.Pump; 0 without one); rap and pap
// are the right atrial and pulmonary arterial pressures of a network with
// nodes ra and pa (BenchConfig.Network; 0 without them).
var Signals = []string{"lvp", "aop", "lap", "flow_ao", "flow_dut", "temp", "level", "rap", "pap"}

// Indices of Signals: the emulators' inputs are resolved to them once, so a
// conversion looks nothing up by name.
const (
	sigLVP = iota
	sigAoP
	sigLAP
	sigFlowAo
	sigFlowDUT
	sigTemp
	sigLevel
	sigRAP
	sigPAP
	nSignals
)

// AnalogInput is a sensor on an ADC input: which physics signal it measures
// and the transducer between the two.
type AnalogInput struct {
	Signal     string
	Transducer Transducer
}

// BenchConfig describes the simulated bench: the parts of the reference
// bench (DESIGN.md) and what each of their pins is wired to in the physics.
type BenchConfig struct {
	Clock   clock.Clock
	Loop    Parameters
	Initial Initial
	// Network, if not nil, is the circulation instead of Loop and Initial
	// (NewNetworkLoop); Pump then replaces the constants of its pump link.
	Network *NetworkSpec
	Thermal ThermalParams
	// Fluid temperature and volume at the start.
	Temperature, Volume float64

	SPIPort    string           // name of the ADS131M08's port
	DRDYPin    string           // name of its data-ready pin
	ADCClockIn physic.Frequency // its CLKIN (0: 8.192 MHz)
	// ADC are the ADS131M08 inputs; nil inputs are grounded.
	ADC [8]*AnalogInput

	I2CBus string
	// SlowADC are the ADS1115's single-ended inputs AIN0..AIN3; nil: grounded.
	SlowADC     [4]*AnalogInput
	SlowADCAddr uint16

	// The MCP4725 drives the LV pump: Vref volts on its input give
	// DriveFullScale mmHg/ml of active elastance.
	DACAddr        uint16
	DACVref        float64
	DriveFullScale float64

	// The PCA9685 drives the systemic resistance valve on ValveChannel:
	// R = ValveROpen / (1 − duty)².
	PWMAddr      uint16
	ValveChannel int
	ValveROpen   float64
	// Preload is the venous reservoir and its valve on another PCA9685
	// channel; nil: none.
	Preload *PreloadConfig
	// RVDrive is a second MCP4725, driving the RV pump of a network with
	// a chamber rv (NodeRV); nil: none, the rv chamber keeps its declared
	// drive.
	RVDrive *RVDriveConfig
	// PulmonaryValve is a pinch valve on another PCA9685 channel setting
	// the resistance of a network's link pulmonary (LinkPulmonary); nil:
	// none, the link keeps its declared resistance.
	PulmonaryValve *ValveConfig

	// EStopPin is the emergency-stop input (pulled up, pressed = low).
	EStopPin string
	// Switches maps GPIO names to what they switch: "heater", "drain",
	// "bypass" (a solenoid the model does not act on; its level is kept),
	// or "dut_power" (the DUT's power relay, kept likewise: the simulated
	// DUT is not the bench's, its user wires the pin to it with OnOut).
	Switches map[string]string

	// Pump is the device under test, a rotary pump from the LV to the
	// aorta (it overrides Loop.Pump); nil: no pump in the loop, the
	// loop-only rig.
	Pump *PumpParams
	// Hydraulics, if not nil, makes the bench a hybrid loop's: no patient
	// (Loop, Initial, Network, the resistance valve and the fill pump do
	// nothing), only the chambers around Pump, which it requires, and
	// their drives, commanded by the DAC at DACAddr (the inlet's) and
	// the one of RVDrive (the outlet's; its FullScale unused), each
	// giving ±Hydraulics.DriveFullScale ml/s. LVVolume and RVVolume are
	// 0: the ventricles are the controller's model's.
	Hydraulics *HydraulicsConfig
	// PumpSpeed is the pump's rotor speed in rpm at model time now, as the
	// DUT's firmware drives it, its ramp included. The bench calls it with
	// the physics' time before every advance and holds the speed over the
	// advance, as a motor controller holds its command. Nil: speed 0 until
	// Bench.SetPumpSpeed gives a function. Values outside [0, MaxRPM] are
	// clipped; NaN keeps the speed before.
	PumpSpeed func(now time.Duration) float64
}

// PreloadConfig is the bench's preload: a venous reservoir whose head above
// the left atrium a proportional valve on PCA9685 channel Channel sets,
// Head·duty, feeding the atrium through a line of resistance Line. At duty
// 0 the valve pinches the line shut.
//
// The reservoir gives or takes what the line carries, q = (head − LAP) /
// Line: a head above the atrial pressure fills the loop, one below drains
// it, and with the valve held the atrium's mean pressure settles at the
// head, with the time constant of the loop's compliances behind the line
// (about Line × 10 ml/mmHg). The transfer joins the loop at the atrium, as
// the fill pump's does; over each step of the physics it is the exact
// exchange of the line with the atrial compliance alone, added at the
// step's start (zero-order hold), so it is stable at any step length.
type PreloadConfig struct {
	Channel    int
	Head, Line float64 // mmHg at 100 % duty; mmHg·s/ml
}

// RVDriveConfig is the MCP4725 of the RV pump at Addr: Vref volts on its
// input give FullScale percent of the LV drive's active elastance to the
// rv chamber (NodeSpec.Drive; a right-heart bench's RV driver multiplies
// the LV drive's waveform by it).
type RVDriveConfig struct {
	Addr            uint16
	Vref, FullScale float64
}

// ValveConfig is a proportional pinch valve on PCA9685 channel Channel: R
// = ROpen / (1 − duty)², as the systemic resistance valve's.
type ValveConfig struct {
	Channel int
	ROpen   float64
}

// Bench is the simulated reference bench: the loop's physics with the chips
// of the real bench emulated on emulated buses. Drivers talk to SPI(), I2C()
// and Pin(); every access advances the physics to the clock's now, so the
// simulation runs exactly as fast as the drivers ask for data.
//
// The physics may be reached from two goroutines: the engine's, through
// the buses, and the simulated DUT firmware's, through Pump, which answers
// a STATUS request on the DUT server's goroutine while the engine waits for
// the reply. A mutex guards every access to the physics (the loop, the
// thermal model, the sensors' references and transducers); it is taken
// once per conversion or command, uncontended but for those replies.
type Bench struct {
	cfg     BenchConfig
	clk     clock.Clock
	adc     *ADS131M08
	bus     *I2CBus
	pins    map[string]*Pin
	motor   PumpParams // the pump's constants, Impella25's without a pump
	hasPump bool

	// speed is the PumpSpeed function, called without mu (see
	// lockAdvance) at loopNow, the loop's model time as of its last
	// advance.
	speed   atomic.Pointer[func(time.Duration) float64]
	loopNow atomic.Int64

	// wall: the bench runs on the wall clock. There the physics is
	// advanced by the sampling loop's bus accesses alone, and the pump's
	// readout is published for the simulated DUT's firmware (pumpPub):
	// a firmware goroutine that advanced the physics itself would hold mu
	// for the integration and, descheduled meanwhile by a busy machine,
	// hold up the real-time loop behind it (priority inversion; seen: a
	// 144 ms hold, the LV drive held in systole, the aortic flow limit
	// tripped). On virtual time the firmware advances it as before, which
	// keeps a simulated run deterministic.
	wall    bool
	pumpPub pumpPub

	mu      sync.Mutex // guards what follows
	loop    *Loop
	thermal *Thermal
	rpm     float64 // rotor speed last taken from speed
	// fill is the circulating volume the fill pump works toward (NaN:
	// none); it moves FillRate ml/s between reservoir and loop.
	fill float64
	// ref holds a reference value a signal's sensor sees instead of the
	// loop where refOn is set, as when a transducer is opened to
	// atmosphere for zeroing or connected to a calibrator.
	ref   [nSignals]float64
	refOn [nSignals]bool
	// preload is the preload valve's duty (0: the line is shut).
	preload float64
	// adcSig and slowSig are the signals of the ADC inputs (-1: grounded).
	adcSig  [8]int
	slowSig [4]int

	// lvVolume and rvVolume are the ventricles' volumes as of the last
	// advance (float64 bits), for LVVolume and RVVolume without the lock.
	lvVolume, rvVolume atomic.Uint64

	// hyd is a hybrid bench's drives (BenchConfig.Hydraulics); nil: the
	// bench's loop is the patient.
	hyd *hydraulic
}

// SwitchKinds are what the bench's GPIO outputs can switch (BenchConfig.Switches).
var SwitchKinds = []string{"heater", "drain", "bypass", "dut_power"}

// NewBench builds the bench.
func NewBench(cfg BenchConfig) (*Bench, error) {
	if cfg.Clock == nil {
		return nil, errors.New("sim: bench needs a clock")
	}
	for _, in := range append(cfg.ADC[:], cfg.SlowADC[:]...) {
		if in != nil && !slices.Contains(Signals, in.Signal) {
			return nil, fmt.Errorf("sim: no signal %q on the bench (have %v)", in.Signal, Signals)
		}
	}
	sigOf := func(in *AnalogInput) int {
		if in == nil {
			return -1
		}
		return slices.Index(Signals, in.Signal)
	}
	if err := cfg.checkActuators(); err != nil {
		return nil, err
	}
	loop, err := newBenchLoop(&cfg)
	if err != nil {
		return nil, err
	}
	if err := cfg.checkRightHeart(loop); err != nil {
		return nil, err
	}
	// The physics starts at the clock's now: a bench built partway through
	// a run's time (a resumed run) starts in its initial state then, rather
	// than integrating the whole gap with its pumps stopped.
	loop.StartAt(cfg.Clock.Now())
	th, err := NewThermal(cfg.Thermal, cfg.Temperature, cfg.Volume)
	if err != nil {
		return nil, err
	}
	th.t = loop.t
	b := &Bench{cfg: cfg, clk: cfg.Clock, loop: loop, thermal: th, pins: map[string]*Pin{}, motor: Impella25(), fill: math.NaN()}
	if cfg.Hydraulics != nil {
		b.hyd = newHydraulic(cfg.Hydraulics, loop)
	}
	_, b.wall = cfg.Clock.(*clock.Real)
	for i, in := range cfg.ADC {
		b.adcSig[i] = sigOf(in)
	}
	for i, in := range cfg.SlowADC {
		b.slowSig[i] = sigOf(in)
	}
	b.lvVolume.Store(math.Float64bits(loop.lvVolume()))
	b.rvVolume.Store(math.Float64bits(loop.rvVolume()))
	if loop.c.pump {
		b.motor, b.hasPump = loop.c.pp, true
	}
	b.SetPumpSpeed(cfg.PumpSpeed)
	b.adc, err = NewADS131M08(ADS131M08Config{Clock: cfg.Clock, FrontEnd: FrontEndFunc(b.frontEnd), Port: cfg.SPIPort, ClockIn: cfg.ADCClockIn, NoiseRMS: adcNoise})
	if err != nil {
		return nil, err
	}
	b.pins[cfg.DRDYPin] = b.adc.DRDY()
	b.bus = NewI2CBus(cfg.I2CBus)
	if err := b.attachI2C(); err != nil {
		return nil, err
	}
	if cfg.EStopPin != "" {
		b.pins[cfg.EStopPin] = NewPin(cfg.EStopPin, -1, cfg.Clock)
	}
	for name, what := range cfg.Switches {
		p := NewPin(name, -1, cfg.Clock)
		switch what {
		case "heater":
			p.OnOut(func(l gpio.Level) {
				b.mu.Lock()
				defer b.mu.Unlock()
				b.thermal.SetHeater(b.clk.Now(), l == gpio.High)
			})
		case "drain":
			p.OnOut(func(l gpio.Level) {
				b.mu.Lock()
				defer b.mu.Unlock()
				b.thermal.SetDrain(b.clk.Now(), l == gpio.High)
			})
		case "bypass", "dut_power":
		default:
			return nil, fmt.Errorf("sim: switch %s does %q; the bench has %s", name, what, strings.Join(SwitchKinds, ", "))
		}
		b.pins[name] = p
	}
	return b, nil
}

// checkActuators checks the LV drive, the resistance valve and the
// preload, or a hybrid bench's drives.
func (cfg *BenchConfig) checkActuators() error {
	if cfg.Hydraulics != nil {
		return cfg.checkHydraulics()
	}
	if cfg.DACVref <= 0 || cfg.DriveFullScale <= 0 || cfg.ValveROpen <= 0 {
		return errors.New("sim: bench needs a DAC reference, a drive full scale and a valve resistance")
	}
	if pl := cfg.Preload; pl != nil {
		switch {
		case pl.Channel < 0 || pl.Channel > 15 || pl.Channel == cfg.ValveChannel:
			return fmt.Errorf("sim: preload valve on PCA9685 channel %d: not a free channel", pl.Channel)
		case !(pl.Head > 0) || !(pl.Line > 0) || math.IsInf(pl.Head, 0) || math.IsInf(pl.Line, 0):
			return fmt.Errorf("sim: preload reservoir head %g mmHg and line %g mmHg·s/ml must be finite and > 0", pl.Head, pl.Line)
		}
	}
	return nil
}

// checkRightHeart checks the right heart's actuators against the
// circulation: the RV drive needs a chamber rv, the pulmonary valve a
// resistance named pulmonary and a PCA9685 channel of its own. A hybrid
// bench's RV drive is its outlet drive (checkHydraulics).
func (cfg *BenchConfig) checkRightHeart(l *Loop) error {
	if cfg.Hydraulics != nil {
		return nil
	}
	if d := cfg.RVDrive; d != nil {
		if _, ok := l.Drive(NodeRV); !ok {
			return fmt.Errorf("sim: the RV drive needs a circulation with a chamber %s", NodeRV)
		}
		if !(d.Vref > 0) || !(d.FullScale > 0) || math.IsInf(d.FullScale, 0) {
			return errors.New("sim: the RV drive needs a DAC reference and a full scale, finite and > 0")
		}
	}
	if v := cfg.PulmonaryValve; v != nil {
		if _, ok := l.Resistance(LinkPulmonary); !ok {
			return fmt.Errorf("sim: the pulmonary valve needs a circulation with a resistance %s", LinkPulmonary)
		}
		taken := v.Channel == cfg.ValveChannel || (cfg.Preload != nil && v.Channel == cfg.Preload.Channel)
		if v.Channel < 0 || v.Channel > 15 || taken {
			return fmt.Errorf("sim: pulmonary valve on PCA9685 channel %d: not a free channel", v.Channel)
		}
		if !(v.ROpen > 0) || math.IsInf(v.ROpen, 0) {
			return fmt.Errorf("sim: pulmonary valve open resistance %g mmHg·s/ml must be finite and > 0", v.ROpen)
		}
	}
	return nil
}

// attachI2C puts the bench's I²C chips on its bus: the LV drive's DAC, the
// valves' PWM, the slow ADC, and the RV drive's DAC if the bench has one
// (a hybrid bench's drives' DACs power up at mid-scale: newDriveDAC).
func (b *Bench) attachI2C() error {
	cfg := &b.cfg
	newDAC := NewMCP4725
	if cfg.Hydraulics != nil {
		newDAC = newDriveDAC
	}
	attach := []struct {
		addr uint16
		dev  I2CDevice
	}{
		{cfg.DACAddr, newDAC(cfg.Clock, cfg.DACVref, b.drive)},
		{cfg.PWMAddr, NewPCA9685(cfg.Clock, b.duty)},
		{cfg.SlowADCAddr, NewADS1115(cfg.Clock, b.slowInput)},
	}
	if d := cfg.RVDrive; d != nil {
		attach = append(attach, struct {
			addr uint16
			dev  I2CDevice
		}{d.Addr, newDAC(cfg.Clock, d.Vref, b.rvDrive)})
	}
	for _, a := range attach {
		if err := b.bus.Attach(a.addr, a.dev); err != nil {
			return err
		}
	}
	return nil
}

// SPI is the ADS131M08's port.
func (b *Bench) SPI() spi.PortCloser { return b.adc }

// ADC is the emulated ADS131M08, for fault injection in tests.
func (b *Bench) ADC() *ADS131M08 { return b.adc }

// I2C is the bus of the DAC, the PWM chip and the slow ADC.
func (b *Bench) I2C() i2c.BusCloser { return b.bus }

// Pin returns the named GPIO of the bench.
func (b *Bench) Pin(name string) (gpio.PinIO, error) {
	p, ok := b.pins[name]
	if !ok {
		return nil, fmt.Errorf("sim: the bench has no pin %s", name)
	}
	return p, nil
}

// PressEStop presses (true) or releases the emergency-stop button.
func (b *Bench) PressEStop(pressed bool) error {
	p, ok := b.pins[b.cfg.EStopPin]
	if !ok {
		return errors.New("sim: the bench has no emergency stop")
	}
	if pressed {
		return p.Drive(gpio.Low)
	}
	p.Release()
	return nil
}

// newBenchLoop is the loop of cfg: its Network or Simaan's circuit, with
// cfg.Pump in it, or a hybrid bench's chambers around cfg.Pump.
func newBenchLoop(cfg *BenchConfig) (*Loop, error) {
	if cfg.Hydraulics != nil {
		return newHydraulicLoop(*cfg.Hydraulics, *cfg.Pump)
	}
	if cfg.Network == nil {
		params := cfg.Loop
		if cfg.Pump != nil {
			params.Pump = cfg.Pump
		}
		return NewLoop(params, cfg.Initial)
	}
	spec := *cfg.Network
	if cfg.Pump != nil {
		var ok bool
		if spec, ok = spec.WithPump(*cfg.Pump); !ok {
			return nil, errors.New("sim: the bench has a pump but its network no pump link to place it")
		}
	}
	return NewNetworkLoop(spec)
}

// Loop is the physics, for tests and for simulation-only truth signals
// read on the goroutine that drives the bench. It bypasses the bench's
// lock: while a simulated DUT may call Pump, read the physics with State.
func (b *Bench) Loop() *Loop { return b.loop }

// State returns the loop's state as of its last advance; safe to call
// concurrently with the buses and Pump.
func (b *Bench) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.loop.State()
}

// Thermal is the fluid's temperature and volume model. Like Loop, it
// bypasses the bench's lock.
func (b *Bench) Thermal() *Thermal { return b.thermal }

// SetPumpSpeed replaces BenchConfig.PumpSpeed, for a rig that starts the
// DUT's firmware after the bench; nil holds the speed in force.
func (b *Bench) SetPumpSpeed(f func(now time.Duration) float64) {
	if f == nil {
		b.speed.Store(nil)
		return
	}
	b.speed.Store(&f)
}

// Pump returns the DUT pump's console readout at now for the simulated DUT
// firmware: the physics is advanced to now (never back) at the speed in
// force, without asking PumpSpeed, which the firmware itself answers.
// Safe to call from any goroutine. Without a pump in the loop it reads
// the motor of Impella25 turning unloaded at the speed last taken from
// PumpSpeed: no flow, the purge at its pressure, no suction.
//
// On the wall clock it takes neither the lock nor the physics forward: it
// returns the readout as of the physics' last advance, which the sampling
// loop made at most a conversion ago (see Bench.wall).
func (b *Bench) Pump(now time.Duration) PumpReadout {
	if b.wall {
		return b.pumpPub.load()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	return b.readout()
}

// readout is the pump's readout at the loop's state; b.mu is held.
func (b *Bench) readout() PumpReadout {
	if r, ok := b.loop.Pump(); ok {
		return r
	}
	return b.motor.readout(b.loop.Now(), b.rpm, 0, false)
}

// pumpPub is a PumpReadout published by one writer (under Bench.mu) to
// readers that take no lock: a sequence lock, odd while a write is under
// way, over the readout's fields as float64 bits.
type pumpPub struct {
	seq atomic.Uint64
	f   [7]atomic.Uint64 // Time, RPM, FlowLmin, CurrentmA, PowermW, PurgemmHg, Suction
}

func (p *pumpPub) store(r PumpReadout) {
	suction := 0.0
	if r.Suction {
		suction = 1
	}
	p.seq.Add(1)
	for i, v := range [7]float64{float64(r.Time), r.RPM, r.FlowLmin, r.CurrentmA, r.PowermW, r.PurgemmHg, suction} {
		p.f[i].Store(math.Float64bits(v))
	}
	p.seq.Add(1)
}

// load returns the last readout stored. The writer is the real-time loop,
// which finishes a write in nanoseconds, so a reader that finds one under
// way yields and tries again.
func (p *pumpPub) load() PumpReadout {
	var v [7]float64
	for {
		s := p.seq.Load()
		if s&1 == 0 {
			for i := range v {
				v[i] = math.Float64frombits(p.f[i].Load())
			}
			if p.seq.Load() == s {
				break
			}
		}
		runtime.Gosched()
	}
	return PumpReadout{Time: time.Duration(v[0]), RPM: v[1], FlowLmin: v[2], CurrentmA: v[3], PowermW: v[4], PurgemmHg: v[5], Suction: v[6] != 0}
}

// Present makes the sensor of signal see value instead of the loop, as when
// it is opened to atmosphere (0 mmHg) or connected to a calibrator.
func (b *Bench) Present(signal string, value float64) error {
	if !slices.Contains(Signals, signal) {
		return fmt.Errorf("sim: no signal %q on the bench", signal)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.Index(Signals, signal)
	b.ref[i], b.refOn[i] = value, true
	return nil
}

// Reconnect puts the sensor of signal back on the loop.
func (b *Bench) Reconnect(signal string) {
	i := slices.Index(Signals, signal)
	if i < 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refOn[i] = false
}

// Close ends the bench's buses.
func (b *Bench) Close() error { return errors.Join(b.adc.Close(), b.bus.Close()) }

// lockAdvance takes the physics' lock and advances the loop to now, the
// pump at the speed PumpSpeed gives for the loop's time, held over the
// advance; the caller unlocks. PumpSpeed is called before the lock is
// taken: it reads the simulated DUT firmware's state under the firmware's
// lock, and the firmware calls Pump under that lock, so calling it under
// the bench's could deadlock the two goroutines. Should Pump advance the
// loop in between, the speed applies from a little later than the time it
// was asked for.
func (b *Bench) lockAdvance(now time.Duration) {
	f := b.speed.Load()
	var rpm float64
	if f != nil {
		rpm = (*f)(time.Duration(b.loopNow.Load()))
	}
	b.mu.Lock()
	if f != nil && !math.IsNaN(rpm) {
		b.rpm = min(max(rpm, 0), b.motor.MaxRPM)
		if b.hasPump {
			_ = b.loop.SetPumpSpeed(b.rpm) // in range by construction
		}
	}
	b.advance(now)
}

// FillRate is how fast the bench's fill pump moves fluid between the
// reservoir and the loop: gentle enough that filling a failing heart's
// extra 160 ml raises atrial pressure over seconds, not in one step.
const FillRate = 50.0 // ml/s

// SetFill has the fill pump bring the circulating volume to ml (a preset's
// preload: a failing heart is a volume-loaded one). A hybrid bench has
// none: its patient's volume is the controller's model's.
func (b *Bench) SetFill(ml float64) error {
	if b.hyd != nil {
		return errors.New("sim: the hybrid bench's fill is the model's: its chambers are held by their drives")
	}
	if !(ml > 0) || math.IsInf(ml, 0) {
		return fmt.Errorf("sim: fill %g ml is not a volume", ml)
	}
	b.mu.Lock()
	b.fill = ml
	b.mu.Unlock()
	return nil
}

// Preload returns the preload valve's duty as the bench last took it (0:
// the line is shut, or there is no preload valve) and the reservoir's head
// it gives, mmHg.
func (b *Bench) Preload() (duty, head float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg.Preload == nil {
		return 0, 0
	}
	return b.preload, b.preload * b.cfg.Preload.Head
}

// Fill is the circulating volume now, ml.
func (b *Bench) Fill() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.loop.Volume()
}

// advance advances the loop to now; b.mu is held. The fill pump's and the
// preload line's transfers over the interval are added at its start
// (zero-order hold, as the loop's other inputs).
func (b *Bench) advance(now time.Duration) {
	if !math.IsNaN(b.fill) {
		if done, _ := b.loop.FillToward(b.fill, (now - b.loop.Now()).Seconds()); done {
			b.fill = math.NaN()
		}
	}
	if b.preload > 0 && now > b.loop.Now() {
		pl := b.cfg.Preload
		_ = b.loop.FillFromReservoir(b.preload*pl.Head, pl.Line, (now - b.loop.Now()).Seconds())
	}
	if b.hyd != nil {
		b.hyd.advance(b.loop, now)
	} else {
		b.loop.AdvanceTo(now)
	}
	b.loopNow.Store(int64(b.loop.Now()))
	b.lvVolume.Store(math.Float64bits(b.loop.lvVolume()))
	b.rvVolume.Store(math.Float64bits(b.loop.rvVolume()))
	if b.wall {
		b.pumpPub.store(b.readout())
	}
}

// LVVolume is the LV volume as of the physics' last advance, ml, what
// State().LVVolume says, read without the lock: a simulation-only truth
// channel takes it on every frame. 0 on a hybrid bench, whose inlet
// chamber is no ventricle.
func (b *Bench) LVVolume() float64 { return math.Float64frombits(b.lvVolume.Load()) }

// RVVolume is LVVolume for the right ventricle (node rv of a network; 0
// without one).
func (b *Bench) RVVolume() float64 { return math.Float64frombits(b.rvVolume.Load()) }

// signal returns physics signal sig (an index of Signals) at the loop's
// current state; b.mu is held. The values are those of State.
func (b *Bench) signal(sig int) float64 {
	if b.refOn[sig] {
		return b.ref[sig]
	}
	l := b.loop
	switch sig {
	case sigLVP:
		return l.lvp()
	case sigAoP:
		return l.aop()
	case sigLAP:
		return l.lap()
	case sigFlowAo:
		return l.aorticFlow()
	case sigFlowDUT:
		return l.pumpFlow()
	case sigTemp:
		return b.thermal.Temperature()
	case sigLevel:
		return b.thermal.Level()
	case sigRAP:
		return l.rap()
	case sigPAP:
		return l.pap()
	}
	return math.NaN()
}

// frontEnd gives the ADS131M08 its input voltages at a conversion instant.
func (b *Bench) frontEnd(now time.Duration, dst *[8]float64) {
	b.lockAdvance(now)
	defer b.mu.Unlock()
	for i, in := range b.cfg.ADC {
		if in == nil {
			dst[i] = 0
			continue
		}
		dst[i] = in.Transducer.Volts(b.signal(b.adcSig[i]))
	}
}

// slowInput gives the ADS1115 an input voltage at the end of a conversion.
func (b *Bench) slowInput(now time.Duration, input int) float64 {
	if input < 0 || input >= len(b.cfg.SlowADC) || b.cfg.SlowADC[input] == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.thermal.AdvanceTo(now)
	// The loop as of its last advance: its signals are the fast ADC's.
	return b.cfg.SlowADC[input].Transducer.Volts(b.signal(b.slowSig[input]))
}

// drive is the LV pump's input: DAC volts → active elastance; on a
// hybrid bench, the inlet drive's commanded flow.
func (b *Bench) drive(now time.Duration, volts float64) {
	b.lockAdvance(now)
	defer b.mu.Unlock()
	if b.hyd != nil {
		b.hyd.command(0, volts, b.cfg.DACVref)
		return
	}
	// The DAC cannot leave 0..Vref; an error here would be a model bug.
	_ = b.loop.SetActiveElastance(max(0, volts) / b.cfg.DACVref * b.cfg.DriveFullScale)
}

// rvDrive is the RV pump's input: DAC volts → the rv chamber's share of
// the LV drive's active elastance; on a hybrid bench, the outlet drive's
// commanded flow.
func (b *Bench) rvDrive(now time.Duration, volts float64) {
	b.lockAdvance(now)
	defer b.mu.Unlock()
	d := b.cfg.RVDrive
	if b.hyd != nil {
		b.hyd.command(1, volts, d.Vref)
		return
	}
	// The DAC cannot leave 0..Vref; an error here would be a model bug.
	_ = b.loop.SetDrive(NodeRV, max(0, volts)/d.Vref*d.FullScale/100)
}

// duty is a PWM channel's output: the resistance valve's closing duty, the
// pulmonary valve's, or the preload valve's. A hybrid bench has no
// valves (its resistances are the model's): the duty moves nothing.
func (b *Bench) duty(now time.Duration, channel int, duty float64) {
	if b.hyd != nil {
		return
	}
	pl, pv := b.cfg.Preload, b.cfg.PulmonaryValve
	preload, pulmonary := pl != nil && channel == pl.Channel, pv != nil && channel == pv.Channel
	if !preload && !pulmonary && channel != b.cfg.ValveChannel {
		return
	}
	b.lockAdvance(now)
	defer b.mu.Unlock()
	open := 1 - min(duty, 0.99) // a fully closed pinch valve still leaks
	switch {
	case preload:
		b.preload = min(max(duty, 0), 1)
	case pulmonary:
		_ = b.loop.SetResistance(LinkPulmonary, pv.ROpen/(open*open))
	default:
		_ = b.loop.SetSystemicResistance(b.cfg.ValveROpen / (open * open))
	}
}
