package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"

	"github.com/mockloop/mockloop/clock"
)

// Pin is an emulated GPIO pin: the rig's solenoid valves, heater relay,
// e-stop button and the ADC's data-ready line as the drivers see them in
// simulation. It implements periph's gpio.PinIO, so the same driver code
// that takes a host pin on the Pi takes a *Pin here.
//
// As an output, Out records the level and calls the OnOut callback (the
// bench turns that into a valve opening). As an input, its level is what the
// outside world drives with Drive (a test pressing the e-stop), or what the
// pull resistor gives when nothing drives it, or, for a chip output such as
// ADS131M08.DRDY, what the chip model says.
//
// Waiting happens on the run's clock: WaitForEdge(timeout) on a virtual clock
// returns at once with the virtual time advanced (to the edge, or by the
// timeout when none comes), so simulation stays deterministic; on a real
// clock it really waits and a Drive from another goroutine wakes it.
type Pin struct {
	name   string
	number int
	clk    clock.Clock
	src    pinSource // non-nil: a chip model drives this pin

	mu      sync.Mutex
	output  bool
	out     gpio.Level // level the host drives as output
	ext     gpio.Level // level the outside world drives as input
	extSet  bool       // whether anything drives the input
	pull    gpio.Pull
	edge    gpio.Edge
	pending bool               // an edge of the configured kind since the last WaitForEdge or In
	wake    context.CancelFunc // ends a WaitForEdge blocked on a real clock
	onOut   func(gpio.Level)

	// level is what Read returns (1: High), kept by every change of the
	// above, so that Read takes no lock: the supervisor reads the
	// emergency stop on every frame.
	level atomic.Uint32
}

// pinSource is a chip model that drives a pin, such as the ADS131M08's
// data-ready output: it knows the level now and when its next edge comes.
type pinSource interface {
	pinLevel() gpio.Level
	pinWait(edge gpio.Edge, timeout time.Duration) bool
}

// NewPin returns an unconfigured pin named like the host pin it stands for
// ("GPIO25"), waiting on clk.
func NewPin(name string, number int, clk clock.Clock) *Pin {
	return &Pin{name: name, number: number, clk: clk, pull: gpio.Float}
}

// OnOut sets the function called with the level each time the host drives
// the pin as an output (after the pin's state changed, outside its lock).
func (p *Pin) OnOut(f func(gpio.Level)) {
	p.mu.Lock()
	p.onOut = f
	p.mu.Unlock()
}

// Drive sets the level the outside world applies to the input, as a switch
// or a sensor would. An edge of the kind configured with In is remembered for
// the next WaitForEdge and wakes a waiting one. Driving a pin the host uses
// as an output, or one a chip model drives, is an error: that would be a
// short circuit.
func (p *Pin) Drive(l gpio.Level) error {
	if p.src != nil {
		return fmt.Errorf("sim: pin %s is driven by its chip model", p.name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.output {
		return fmt.Errorf("sim: pin %s is an output; driving it from outside would short it", p.name)
	}
	before := p.inputLevel()
	p.ext, p.extSet = l, true
	p.publish()
	if p.edgeMatches(before, l) {
		p.pending = true
		if p.wake != nil {
			p.wake()
		}
	}
	return nil
}

// Release stops driving the input from outside, so it follows its pull
// resistor again (a button let go on a pulled-up line).
func (p *Pin) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := p.inputLevel()
	p.extSet = false
	p.publish()
	if after := p.inputLevel(); !p.output && p.edgeMatches(before, after) {
		p.pending = true
		if p.wake != nil {
			p.wake()
		}
	}
}

// inputLevel is the level of the pin as an input; p.mu must be held.
func (p *Pin) inputLevel() gpio.Level {
	switch {
	case p.extSet:
		return p.ext
	case p.pull == gpio.PullUp:
		return gpio.High
	default: // pulled down, or floating: read as low
		return gpio.Low
	}
}

// publish updates level after a change; p.mu must be held.
func (p *Pin) publish() {
	l := p.out
	if !p.output {
		l = p.inputLevel()
	}
	if l == gpio.High {
		p.level.Store(1)
	} else {
		p.level.Store(0)
	}
}

// edgeMatches reports whether a change from a to b is an edge WaitForEdge
// waits for; p.mu must be held.
func (p *Pin) edgeMatches(a, b gpio.Level) bool {
	switch {
	case a == b:
		return false
	case b == gpio.High:
		return p.edge == gpio.RisingEdge || p.edge == gpio.BothEdges
	default:
		return p.edge == gpio.FallingEdge || p.edge == gpio.BothEdges
	}
}

// String implements conn.Resource.
func (p *Pin) String() string { return p.name }

// Halt implements conn.Resource; an emulated pin has nothing running.
func (p *Pin) Halt() error { return nil }

// Name implements pin.Pin.
func (p *Pin) Name() string { return p.name }

// Number implements pin.Pin.
func (p *Pin) Number() int { return p.number }

// Function implements pin.Pin.
func (p *Pin) Function() string { return string(p.Func()) }

// Func implements pin.PinFunc.
func (p *Pin) Func() pin.Func {
	p.mu.Lock()
	out := p.output
	p.mu.Unlock()
	if out {
		if p.Read() == gpio.High {
			return gpio.OUT_HIGH
		}
		return gpio.OUT_LOW
	}
	if p.Read() == gpio.High {
		return gpio.IN_HIGH
	}
	return gpio.IN_LOW
}

// SupportedFuncs implements pin.PinFunc.
func (p *Pin) SupportedFuncs() []pin.Func {
	if p.src != nil {
		return []pin.Func{gpio.IN}
	}
	return []pin.Func{gpio.IN, gpio.OUT}
}

// SetFunc implements pin.PinFunc.
func (p *Pin) SetFunc(f pin.Func) error {
	switch f {
	case gpio.IN, gpio.IN_HIGH, gpio.IN_LOW, gpio.FLOAT:
		return p.In(gpio.PullNoChange, gpio.NoEdge)
	case gpio.OUT, gpio.OUT_HIGH:
		return p.Out(gpio.High)
	case gpio.OUT_LOW:
		return p.Out(gpio.Low)
	}
	return fmt.Errorf("sim: pin %s: function %q not emulated", p.name, f)
}

// In implements gpio.PinIn. It forgets edges seen so far, as periph's host
// pins try to.
func (p *Pin) In(pull gpio.Pull, edge gpio.Edge) error {
	if pull > gpio.PullUp {
		return fmt.Errorf("sim: pin %s: invalid pull %s", p.name, pull)
	}
	if edge < gpio.NoEdge || edge > gpio.BothEdges {
		return fmt.Errorf("sim: pin %s: invalid edge %s", p.name, edge)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.output = false
	if pull != gpio.PullNoChange {
		p.pull = pull
	}
	p.edge = edge
	p.pending = false
	p.publish()
	return nil
}

// Read implements gpio.PinIn.
func (p *Pin) Read() gpio.Level {
	if p.src != nil {
		return p.src.pinLevel()
	}
	return gpio.Level(p.level.Load() != 0)
}

// WaitForEdge implements gpio.PinIn on the pin's clock: it returns true at
// once if an edge of the configured kind came since the last call (or since
// In), else waits up to timeout for one. A negative timeout waits without
// end; on a virtual clock that does not advance time, it only returns when
// another goroutine drives the pin. Without an edge configured it returns
// false at once.
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	p.mu.Lock()
	edge := p.edge
	if p.src != nil {
		p.mu.Unlock()
		if edge == gpio.NoEdge {
			return false
		}
		return p.src.pinWait(edge, timeout)
	}
	if p.pending {
		p.pending = false
		p.mu.Unlock()
		return true
	}
	if edge == gpio.NoEdge || timeout == 0 || p.output {
		p.mu.Unlock()
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.wake = cancel
	p.mu.Unlock()

	if timeout < 0 {
		<-ctx.Done()
	} else {
		_ = p.clk.SleepUntil(ctx, p.clk.Now()+timeout)
	}
	cancel()

	p.mu.Lock()
	defer p.mu.Unlock()
	p.wake = nil
	got := p.pending
	p.pending = false
	return got
}

// Pull implements gpio.PinIn.
func (p *Pin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// DefaultPull implements gpio.PinIn: emulated pins come up floating.
func (p *Pin) DefaultPull() gpio.Pull { return gpio.Float }

// Out implements gpio.PinOut: the pin becomes an output at level l and the
// OnOut callback learns of it.
func (p *Pin) Out(l gpio.Level) error {
	if p.src != nil {
		return fmt.Errorf("sim: pin %s is an output of its chip; the host cannot drive it", p.name)
	}
	p.mu.Lock()
	p.output = true
	p.out = l
	p.pending = false
	p.publish()
	f := p.onOut
	p.mu.Unlock()
	if f != nil {
		f(l)
	}
	return nil
}

// PWM implements gpio.PinOut; PWM outputs of the rig are on the PCA9685,
// not on host pins, so it is not emulated.
func (p *Pin) PWM(gpio.Duty, physic.Frequency) error {
	return errPWM
}

var errPWM = errors.New("sim: PWM on a host pin is not emulated")

var (
	_ gpio.PinIO  = (*Pin)(nil)
	_ pin.PinFunc = (*Pin)(nil)
)
