package sim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/mockloop/mockloop/clock"
)

// adcNoise is the ADS131M08's typical input-referred noise at 1 kSPS, gain 1.
const adcNoise = 1.5e-6

// Signals a bench sensor can measure.
var Signals = []string{"lvp", "aop", "lap", "flow_ao", "temp", "level"}

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

	// EStopPin is the emergency-stop input (pulled up, pressed = low).
	EStopPin string
	// Switches maps GPIO names to what they switch: "heater", "drain", or
	// "bypass" (a solenoid the model does not act on; its level is kept).
	Switches map[string]string
}

// Bench is the simulated reference bench: the loop's physics with the chips
// of the real bench emulated on emulated buses. Drivers talk to SPI(), I2C()
// and Pin(); every access advances the physics to the clock's now, so the
// simulation runs exactly as fast as the drivers ask for data.
type Bench struct {
	cfg     BenchConfig
	clk     clock.Clock
	loop    *Loop
	thermal *Thermal
	adc     *ADS131M08
	bus     *I2CBus
	pins    map[string]*Pin
	// ref holds a reference value a signal's sensor sees instead of the
	// loop, as when a transducer is opened to atmosphere for zeroing or
	// connected to a calibrator.
	ref map[string]float64
}

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
	if cfg.DACVref <= 0 || cfg.DriveFullScale <= 0 || cfg.ValveROpen <= 0 {
		return nil, errors.New("sim: bench needs a DAC reference, a drive full scale and a valve resistance")
	}
	loop, err := NewLoop(cfg.Loop, cfg.Initial)
	if err != nil {
		return nil, err
	}
	th, err := NewThermal(cfg.Thermal, cfg.Temperature, cfg.Volume)
	if err != nil {
		return nil, err
	}
	b := &Bench{cfg: cfg, clk: cfg.Clock, loop: loop, thermal: th, pins: map[string]*Pin{}, ref: map[string]float64{}}
	b.adc, err = NewADS131M08(ADS131M08Config{Clock: cfg.Clock, FrontEnd: FrontEndFunc(b.frontEnd), Port: cfg.SPIPort, ClockIn: cfg.ADCClockIn, NoiseRMS: adcNoise})
	if err != nil {
		return nil, err
	}
	b.pins[cfg.DRDYPin] = b.adc.DRDY()
	b.bus = NewI2CBus(cfg.I2CBus)
	attach := []struct {
		addr uint16
		dev  I2CDevice
	}{
		{cfg.DACAddr, NewMCP4725(cfg.Clock, cfg.DACVref, b.drive)},
		{cfg.PWMAddr, NewPCA9685(cfg.Clock, b.duty)},
		{cfg.SlowADCAddr, NewADS1115(cfg.Clock, b.slowInput)},
	}
	for _, a := range attach {
		if err := b.bus.Attach(a.addr, a.dev); err != nil {
			return nil, err
		}
	}
	if cfg.EStopPin != "" {
		b.pins[cfg.EStopPin] = NewPin(cfg.EStopPin, -1, cfg.Clock)
	}
	for name, what := range cfg.Switches {
		p := NewPin(name, -1, cfg.Clock)
		switch what {
		case "heater":
			p.OnOut(func(l gpio.Level) { b.thermal.SetHeater(b.clk.Now(), l == gpio.High) })
		case "drain":
			p.OnOut(func(l gpio.Level) { b.thermal.SetDrain(b.clk.Now(), l == gpio.High) })
		case "bypass":
		default:
			return nil, fmt.Errorf("sim: switch %s does %q; the bench has heater, drain and bypass", name, what)
		}
		b.pins[name] = p
	}
	return b, nil
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

// Loop is the physics, for simulation-only truth signals (lv_volume).
func (b *Bench) Loop() *Loop { return b.loop }

// Thermal is the fluid's temperature and volume model.
func (b *Bench) Thermal() *Thermal { return b.thermal }

// Present makes the sensor of signal see value instead of the loop, as when
// it is opened to atmosphere (0 mmHg) or connected to a calibrator.
func (b *Bench) Present(signal string, value float64) error {
	if !slices.Contains(Signals, signal) {
		return fmt.Errorf("sim: no signal %q on the bench", signal)
	}
	b.ref[signal] = value
	return nil
}

// Reconnect puts the sensor of signal back on the loop.
func (b *Bench) Reconnect(signal string) { delete(b.ref, signal) }

// Close ends the bench's buses.
func (b *Bench) Close() error { return errors.Join(b.adc.Close(), b.bus.Close()) }

// signal returns a physics signal at the bench's current state.
func (b *Bench) signal(name string, st *State) float64 {
	if v, ok := b.ref[name]; ok {
		return v
	}
	switch name {
	case "lvp":
		return st.LVP
	case "aop":
		return st.AoP
	case "lap":
		return st.LAP
	case "flow_ao":
		return st.AorticFlow
	case "temp":
		return b.thermal.Temperature()
	case "level":
		return b.thermal.Level()
	}
	return math.NaN()
}

// frontEnd gives the ADS131M08 its input voltages at a conversion instant.
func (b *Bench) frontEnd(now time.Duration, dst *[8]float64) {
	b.loop.AdvanceTo(now)
	st := b.loop.State()
	for i, in := range b.cfg.ADC {
		if in == nil {
			dst[i] = 0
			continue
		}
		dst[i] = in.Transducer.Volts(b.signal(in.Signal, &st))
	}
}

// slowInput gives the ADS1115 an input voltage at the end of a conversion.
func (b *Bench) slowInput(now time.Duration, input int) float64 {
	if input < 0 || input >= len(b.cfg.SlowADC) || b.cfg.SlowADC[input] == nil {
		return 0
	}
	b.thermal.AdvanceTo(now)
	in := b.cfg.SlowADC[input]
	return in.Transducer.Volts(b.signal(in.Signal, nil))
}

// drive is the LV pump's input: DAC volts → active elastance.
func (b *Bench) drive(now time.Duration, volts float64) {
	b.loop.AdvanceTo(now)
	// The DAC cannot leave 0..Vref; an error here would be a model bug.
	_ = b.loop.SetActiveElastance(max(0, volts) / b.cfg.DACVref * b.cfg.DriveFullScale)
}

// duty is a PWM channel's output: the resistance valve's closing duty.
func (b *Bench) duty(now time.Duration, channel int, duty float64) {
	if channel != b.cfg.ValveChannel {
		return
	}
	b.loop.AdvanceTo(now)
	open := 1 - min(duty, 0.99) // a fully closed pinch valve still leaks
	_ = b.loop.SetSystemicResistance(b.cfg.ValveROpen / (open * open))
}
