package pumpctl

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/devices/v3/pca9685"
)

// pwmSteps is the PCA9685's resolution: 4096 counts per PWM period.
const pwmSteps = 4096

// Valve is a proportional pinch valve on one channel of a PCA9685 PWM
// controller, driven through periph's pca9685 driver. It implements
// PWMOut; its safe state is a duty chosen per valve (e.g. 0 for a valve
// whose driver leaves it fully open without drive, so the loop fails open).
//
// The duty is quantised to 1/4096. 0 and 1 use the chip's full-off and
// full-on bits, so they are exact. A SetDuty that would write the count
// already written does no bus traffic, so calling it every control cycle
// with a steady setpoint costs nothing; a change costs one 5-byte write
// (and one small allocation inside periph's driver). Safe always writes.
//
// Build the pca9685.Dev (its constructor and SetPwmFreq each sleep about
// 100 ms) when the rig is built, never in the loop. Valve is safe for
// concurrent use.
type Valve struct {
	name    string
	dev     *pca9685.Dev
	channel int
	safe    float64

	mu    sync.Mutex
	count int // last count written, 0..pwmSteps; -1 = unknown
}

// NewValve returns the valve on channel 0..15 of dev with the given safe
// duty in [0, 1]. It does no bus traffic.
func NewValve(name string, dev *pca9685.Dev, channel int, safeDuty float64) (*Valve, error) {
	if name == "" {
		return nil, errors.New("pumpctl: valve with an empty name")
	}
	if dev == nil {
		return nil, fmt.Errorf("pumpctl: valve %s: nil PCA9685", name)
	}
	if channel < 0 || channel > 15 {
		return nil, fmt.Errorf("pumpctl: valve %s: PCA9685 channel %d out of range 0..15", name, channel)
	}
	if !(safeDuty >= 0 && safeDuty <= 1) {
		return nil, fmt.Errorf("pumpctl: valve %s: safe duty %g out of range [0, 1]", name, safeDuty)
	}
	return &Valve{name: name, dev: dev, channel: channel, safe: safeDuty, count: -1}, nil
}

// Name implements Actuator.
func (v *Valve) Name() string { return v.name }

// SafeDuty returns the duty Safe sets.
func (v *Valve) SafeDuty() float64 { return v.safe }

// Duty returns the duty last written (quantised), or NaN before the first
// write.
func (v *Valve) Duty() float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.count < 0 {
		return math.NaN()
	}
	return float64(v.count) / pwmSteps
}

// SetDuty implements PWMOut: d in [0, 1], anything else (NaN included) is
// an error and nothing is written.
func (v *Valve) SetDuty(d float64) error { return v.set(d, false) }

// Safe implements Actuator: it writes the safe duty, whatever was written
// before.
func (v *Valve) Safe() error { return v.set(v.safe, true) }

func (v *Valve) set(d float64, force bool) error {
	if !(d >= 0 && d <= 1) {
		return fmt.Errorf("pumpctl: valve %s: duty %g out of range [0, 1]", v.name, d)
	}
	count := int(math.Round(d * pwmSteps))
	v.mu.Lock()
	defer v.mu.Unlock()
	if count == v.count && !force {
		return nil
	}
	var err error
	switch count {
	case 0:
		err = v.dev.SetFullOff(v.channel)
	case pwmSteps:
		err = v.dev.SetFullOn(v.channel)
	default:
		// On at count 0, off at count: duty count/4096.
		err = v.dev.SetPwm(v.channel, 0, gpio.Duty(count))
	}
	if err != nil {
		v.count = -1 // the chip may hold either value now
		return fmt.Errorf("pumpctl: valve %s: %w", v.name, err)
	}
	v.count = count
	return nil
}

// SwitchOpts configures a Solenoid.
type SwitchOpts struct {
	// ActiveLow drives the pin Low for on, for relay boards with inverting
	// (optocoupler) inputs.
	ActiveLow bool
	// SafeOn is the state Safe sets: false for a normally closed drain
	// valve or the heater, true for a valve that must be open when the rig
	// stops.
	SafeOn bool
}

// Solenoid is an on/off output on a GPIO pin: a solenoid valve or a relay
// (the heater). It implements Switch; its safe state is SwitchOpts.SafeOn.
// It is safe for concurrent use and allocates nothing.
type Solenoid struct {
	name      string
	pin       gpio.PinOut
	activeLow bool
	safeOn    bool

	mu    sync.Mutex
	on    bool
	known bool // on reflects a successful write
}

// NewSolenoid returns the switch on pin. It does not touch the pin: until
// the first Set or Safe the pin stays as it is (an input after boot, so a
// relay board with pull-downs stays off).
func NewSolenoid(name string, pin gpio.PinOut, opts SwitchOpts) (*Solenoid, error) {
	if name == "" {
		return nil, errors.New("pumpctl: switch with an empty name")
	}
	if pin == nil {
		return nil, fmt.Errorf("pumpctl: switch %s: nil pin", name)
	}
	return &Solenoid{name: name, pin: pin, activeLow: opts.ActiveLow, safeOn: opts.SafeOn}, nil
}

// Name implements Actuator.
func (s *Solenoid) Name() string { return s.name }

// Set implements Switch: it drives the pin to the level of on (High, or
// Low if ActiveLow).
func (s *Solenoid) Set(on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := gpio.Level(on != s.activeLow)
	if err := s.pin.Out(l); err != nil {
		s.known = false
		return fmt.Errorf("pumpctl: switch %s: %w", s.name, err)
	}
	s.on, s.known = on, true
	return nil
}

// Safe implements Actuator.
func (s *Solenoid) Safe() error { return s.Set(s.safeOn) }

// On reports the state last set successfully, and false for known when
// none was (never set, or the last write failed).
func (s *Solenoid) On() (on, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.on, s.known
}

// EStop is the emergency-stop button: a normally open contact to ground on
// a GPIO input with the internal pull-up, so a pressed button reads Low. It
// implements Input. (A broken wire reads as released: a wiring that fails
// safe needs a normally closed contact and the opposite polarity.)
//
// Active reads the level and never blocks. It does not consume edges with
// WaitForEdge(0): periph's gpio contract reserves -1 for "no timeout", but
// host/v3's gpioioctl driver (Raspberry Pi OS Bookworm, Pi 5, and the
// bcm283x driver on top of it) treats a timeout of 0 as "wait forever",
// which would hang the supervisor. Emergency-stop buttons latch
// mechanically until released by hand, so the level is the complete
// signal; the pin is still configured for falling edges so that a
// goroutine may block in WaitForEdge(-1) to react between polls.
type EStop struct {
	name string
	pin  gpio.PinIn
}

// NewEStop configures pin as an input with pull-up and falling-edge
// detection and returns the button.
func NewEStop(name string, pin gpio.PinIn) (*EStop, error) {
	if name == "" {
		return nil, errors.New("pumpctl: e-stop with an empty name")
	}
	if pin == nil {
		return nil, fmt.Errorf("pumpctl: e-stop %s: nil pin", name)
	}
	if err := pin.In(gpio.PullUp, gpio.FallingEdge); err != nil {
		return nil, fmt.Errorf("pumpctl: e-stop %s: %w", name, err)
	}
	return &EStop{name: name, pin: pin}, nil
}

// Name implements Input.
func (e *EStop) Name() string { return e.name }

// Active implements Input: true while the pin reads Low.
func (e *EStop) Active() bool { return e.pin.Read() == gpio.Low }

var (
	_ PWMOut = (*Valve)(nil)
	_ Switch = (*Solenoid)(nil)
	_ Input  = (*EStop)(nil)
)
