package pumpctl

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/devices/v3/pca9685"
)

// PCA9685 registers and MODE bits (NXP PCA9685 data sheet, Tables 4–6).
const (
	pcaAddr     = 0x40
	pcaMode1    = 0x00
	pcaMode2    = 0x01
	pcaLED0OnL  = 0x06 // LEDn_ON_L = 0x06 + 4n, then ON_H, OFF_L, OFF_H
	pcaAllOnL   = 0xFA
	pcaPrescale = 0xFE

	pcaRestart = 0x80
	pcaAI      = 0x20
	pcaSleep   = 0x10
	pcaAllCall = 0x01
	pcaOutDrv  = 0x04 // MODE2: totem-pole outputs
	pcaFull    = 0x10 // bit 4 of LEDn_ON_H / LEDn_OFF_H: full on / full off
)

// pcaInit is the traffic of periph's pca9685.NewI2C against a chip fresh
// from power-up (MODE1 = 11h: SLEEP, ALLCALL): all channels off, totem-pole
// outputs, wake up, auto-increment on, then the 50 Hz prescale (written
// only while asleep, as the chip requires) and RESTART.
func pcaInit() []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: pcaAddr, W: []byte{pcaAllOnL, 0, 0, 0, 0}},
		{Addr: pcaAddr, W: []byte{pcaMode2, pcaOutDrv}},
		{Addr: pcaAddr, W: []byte{pcaMode1, pcaAllCall}},
		{Addr: pcaAddr, W: []byte{pcaMode1}, R: []byte{pcaAllCall}},
		{Addr: pcaAddr, W: []byte{pcaMode1, pcaAllCall | pcaAI}},
		{Addr: pcaAddr, W: []byte{pcaMode1}, R: []byte{pcaAllCall | pcaAI}},
		{Addr: pcaAddr, W: []byte{pcaMode1, pcaAllCall | pcaAI | pcaSleep}},
		{Addr: pcaAddr, W: []byte{pcaPrescale, 122}}, // periph: (25 MHz/4096 + 25 Hz)/50 Hz
		{Addr: pcaAddr, W: []byte{pcaMode1, pcaAllCall | pcaAI}},
		{Addr: pcaAddr, W: []byte{pcaMode1, pcaAllCall | pcaAI | pcaRestart}},
	}
}

// ch3 is the first register of channel 3, LED3_ON_L.
const ch3 = pcaLED0OnL + 4*3

func newPCA(t *testing.T, bus *i2ctest.Playback) *pca9685.Dev {
	t.Helper()
	dev, err := pca9685.NewI2C(bus, pcaAddr)
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

func TestValveRegisterTraffic(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true, Ops: append(pcaInit(),
		// SetDuty(0.5): ON = 0, OFF = 2048 = 0x800, auto-incremented from LED3_ON_L.
		i2ctest.IO{Addr: pcaAddr, W: []byte{ch3, 0x00, 0x00, 0x00, 0x08}},
		// SetDuty(0.3): OFF = round(1228.8) = 1229 = 0x4CD.
		i2ctest.IO{Addr: pcaAddr, W: []byte{ch3, 0x00, 0x00, 0xCD, 0x04}},
		// SetDuty(1): LED3_ON_H full-on bit; OFF_L, OFF_H cleared (full-off
		// would take precedence).
		i2ctest.IO{Addr: pcaAddr, W: []byte{ch3 + 1, pcaFull, 0x00, 0x00}},
		// SetDuty(0): LED3_OFF_H full-off bit.
		i2ctest.IO{Addr: pcaAddr, W: []byte{ch3 + 3, pcaFull}},
		// Safe (safe duty 0): written again although the duty is 0 already.
		i2ctest.IO{Addr: pcaAddr, W: []byte{ch3 + 3, pcaFull}},
	)}
	v, err := NewValve("resistance", newPCA(t, bus), 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(v.Duty()) {
		t.Errorf("Duty before any write = %g, want NaN", v.Duty())
	}
	for _, tc := range []struct {
		duty, want float64
	}{
		{0.5, 0.5},
		{0.5, 0.5},           // unchanged: no traffic
		{0.5 + 1e-5, 0.5},    // same count: no traffic
		{0.3, 1229.0 / 4096}, // quantised
		{1, 1},               // full on
		{0, 0},               // full off
		{1.0 / 16384, 0},     // rounds to count 0: already off, no traffic
	} {
		if err := v.SetDuty(tc.duty); err != nil {
			t.Fatalf("SetDuty(%g): %v", tc.duty, err)
		}
		if got := v.Duty(); got != tc.want {
			t.Errorf("SetDuty(%g): Duty() = %g, want %g", tc.duty, got, tc.want)
		}
	}
	if err := v.Safe(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []float64{-0.01, 1.01, math.NaN(), math.Inf(1)} {
		if err := v.SetDuty(d); err == nil || !strings.HasPrefix(err.Error(), "pumpctl: valve resistance: ") {
			t.Errorf("SetDuty(%g) = %v, want a pumpctl error", d, err)
		}
	}
	if err := bus.Close(); err != nil {
		t.Error(err)
	}
}

func TestValveRetriesAfterBusError(t *testing.T) {
	pb := &i2ctest.Playback{DontPanic: true, Ops: append(pcaInit(),
		i2ctest.IO{Addr: pcaAddr, W: []byte{ch3, 0x00, 0x00, 0x00, 0x08}},
	)}
	bus := &nackOnce{Playback: pb}
	dev, err := pca9685.NewI2C(bus, pcaAddr)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewValve("resistance", dev, 3, 0)
	bus.armed = true
	if err := v.SetDuty(0.5); err == nil || !strings.HasPrefix(err.Error(), "pumpctl: valve resistance: ") {
		t.Fatalf("SetDuty on a failing bus = %v", err)
	}
	if !math.IsNaN(v.Duty()) {
		t.Errorf("Duty() = %g after a failed write, want NaN (unknown)", v.Duty())
	}
	// The same duty again: the chip may not hold it, so it is written.
	if err := v.SetDuty(0.5); err != nil {
		t.Fatal(err)
	}
	if err := pb.Close(); err != nil {
		t.Error(err)
	}
}

// nackOnce fails the first transaction after it is armed, like a NACK, and
// plays back the others.
type nackOnce struct {
	*i2ctest.Playback
	armed bool
}

func (b *nackOnce) Tx(addr uint16, w, r []byte) error {
	if b.armed {
		b.armed = false
		return errors.New("i2c: no acknowledge")
	}
	return b.Playback.Tx(addr, w, r)
}

func TestValveValidates(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true, Ops: pcaInit()}
	dev := newPCA(t, bus)
	for _, tc := range []struct {
		name string
		dev  *pca9685.Dev
		ch   int
		safe float64
	}{
		{"", dev, 0, 0},
		{"v", nil, 0, 0},
		{"v", dev, -1, 0},
		{"v", dev, 16, 0},
		{"v", dev, 0, 1.5},
		{"v", dev, 0, math.NaN()},
	} {
		if _, err := NewValve(tc.name, tc.dev, tc.ch, tc.safe); err == nil {
			t.Errorf("NewValve(%q, %v, %d, %g) accepted", tc.name, tc.dev != nil, tc.ch, tc.safe)
		}
	}
}

// testPin is a gpio.PinIO that records what is done to it. (periph's
// gpiotest.Pin needs github.com/jonboulle/clockwork, which is not in this
// module's go.sum.)
type testPin struct {
	gpio.PinIO // gpio.INVALID: the methods not overridden fail
	mu         sync.Mutex
	level      gpio.Level
	pull       gpio.Pull
	edge       gpio.Edge
	outs       []gpio.Level
	err        error // returned by In and Out
}

func newTestPin() *testPin { return &testPin{PinIO: gpio.INVALID} }

func (p *testPin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	p.pull, p.edge = pull, edge
	if pull == gpio.PullUp {
		p.level = gpio.High
	}
	return nil
}

func (p *testPin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

func (p *testPin) Out(l gpio.Level) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	p.level = l
	p.outs = append(p.outs, l)
	return nil
}

func (p *testPin) set(l gpio.Level) {
	p.mu.Lock()
	p.level = l
	p.mu.Unlock()
}

func TestSolenoidLevels(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts SwitchOpts
		want []gpio.Level // Set(true), Set(false), Safe()
	}{
		{"drain, active high, safe off", SwitchOpts{}, []gpio.Level{gpio.High, gpio.Low, gpio.Low}},
		{"bypass, active high, safe on", SwitchOpts{SafeOn: true}, []gpio.Level{gpio.High, gpio.Low, gpio.High}},
		{"heater relay board, active low, safe off", SwitchOpts{ActiveLow: true}, []gpio.Level{gpio.Low, gpio.High, gpio.High}},
		{"active low, safe on", SwitchOpts{ActiveLow: true, SafeOn: true}, []gpio.Level{gpio.Low, gpio.High, gpio.Low}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pin := newTestPin()
			s, err := NewSolenoid("sw", pin, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(pin.outs) != 0 {
				t.Errorf("NewSolenoid drove the pin: %v", pin.outs)
			}
			if _, known := s.On(); known {
				t.Error("state known before any write")
			}
			if err := s.Set(true); err != nil {
				t.Fatal(err)
			}
			if on, known := s.On(); !on || !known {
				t.Errorf("On() = %v, %v after Set(true)", on, known)
			}
			if err := s.Set(false); err != nil {
				t.Fatal(err)
			}
			if err := s.Safe(); err != nil {
				t.Fatal(err)
			}
			if on, _ := s.On(); on != tc.opts.SafeOn {
				t.Errorf("On() = %v after Safe, want %v", on, tc.opts.SafeOn)
			}
			if len(pin.outs) != 3 || pin.outs[0] != tc.want[0] || pin.outs[1] != tc.want[1] || pin.outs[2] != tc.want[2] {
				t.Errorf("pin levels %v, want %v", pin.outs, tc.want)
			}
		})
	}
}

func TestSolenoidError(t *testing.T) {
	pin := newTestPin()
	s, _ := NewSolenoid("drain", pin, SwitchOpts{})
	if err := s.Set(true); err != nil {
		t.Fatal(err)
	}
	pin.err = errors.New("gpio: line busy")
	if err := s.Set(false); err == nil || !strings.HasPrefix(err.Error(), "pumpctl: switch drain: ") {
		t.Errorf("Set on a failing pin = %v", err)
	}
	if _, known := s.On(); known {
		t.Error("state still known after a failed write")
	}
	if _, err := NewSolenoid("", pin, SwitchOpts{}); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := NewSolenoid("x", nil, SwitchOpts{}); err == nil {
		t.Error("nil pin accepted")
	}
}

func TestSolenoidAllocatesNothing(t *testing.T) {
	s, _ := NewSolenoid("heater", nopPin{gpio.INVALID}, SwitchOpts{})
	on := false
	if n := testing.AllocsPerRun(1000, func() {
		on = !on
		_ = s.Set(on)
	}); n != 0 {
		t.Errorf("Set allocates %g times per call", n)
	}
}

type nopPin struct{ gpio.PinIO }

func (nopPin) Out(gpio.Level) error { return nil }

func TestEStop(t *testing.T) {
	pin := newTestPin()
	e, err := NewEStop("estop", pin)
	if err != nil {
		t.Fatal(err)
	}
	if pin.pull != gpio.PullUp || pin.edge != gpio.FallingEdge {
		t.Errorf("pin configured %v %v, want pull-up, falling edge", pin.pull, pin.edge)
	}
	if e.Active() {
		t.Error("active while released (pulled up)")
	}
	pin.set(gpio.Low) // pressed
	if !e.Active() {
		t.Error("not active while pressed")
	}
	if !e.Active() {
		t.Error("a pressed button must read active on every poll")
	}
	pin.set(gpio.High) // released by hand
	if e.Active() {
		t.Error("active after release")
	}

	bad := newTestPin()
	bad.err = errors.New("gpio: no such pin")
	if _, err := NewEStop("estop", bad); err == nil || !strings.HasPrefix(err.Error(), "pumpctl: e-stop estop: ") {
		t.Errorf("NewEStop on a failing pin = %v", err)
	}
	if _, err := NewEStop("estop", nil); err == nil {
		t.Error("nil pin accepted")
	}
}
