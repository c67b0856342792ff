package sim_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/pca9685"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/sim"
)

type pwmEvent struct {
	now     time.Duration
	channel int
	duty    float64
}

// pwmRig is the valve controller in simulation: periph's own pca9685
// driver on the emulated bus.
type pwmRig struct {
	clk    *clock.Virtual
	bus    *sim.I2CBus
	chip   *sim.PCA9685
	events []pwmEvent
}

func newPWMChip(t *testing.T) *pwmRig {
	t.Helper()
	r := &pwmRig{clk: clock.NewVirtual(time.Time{}), bus: sim.NewI2CBus("I2C1")}
	r.chip = sim.NewPCA9685(r.clk, func(now time.Duration, ch int, d float64) {
		r.events = append(r.events, pwmEvent{now, ch, d})
	})
	if err := r.bus.Attach(pca9685.I2CAddr, r.chip); err != nil {
		t.Fatal(err)
	}
	return r
}

// newPWMRig also runs periph's constructor (≈200 ms of wall-clock sleeps).
func newPWMRig(t *testing.T) (*pwmRig, *pca9685.Dev) {
	t.Helper()
	r := newPWMChip(t)
	dev, err := pca9685.NewI2C(r.bus, pca9685.I2CAddr)
	if err != nil {
		t.Fatal(err)
	}
	return r, dev
}

// reg reads one register of the chip over the bus.
func (r *pwmRig) reg(t *testing.T, c byte) byte {
	t.Helper()
	b := make([]byte, 1)
	if err := r.bus.Tx(pca9685.I2CAddr, []byte{c}, b); err != nil {
		t.Fatal(err)
	}
	return b[0]
}

func (r *pwmRig) write(t *testing.T, w ...byte) {
	t.Helper()
	if err := r.bus.Tx(pca9685.I2CAddr, w, nil); err != nil {
		t.Fatal(err)
	}
}

func (r *pwmRig) lastDuty(t *testing.T, ch int) float64 {
	t.Helper()
	for i := len(r.events) - 1; i >= 0; i-- {
		if r.events[i].channel == ch {
			return r.events[i].duty
		}
	}
	t.Fatalf("no duty reported for channel %d", ch)
	return 0
}

func TestPCA9685PeriphDriver(t *testing.T) {
	r, dev := newPWMRig(t)
	// periph's init: awake, auto-increment, all-call; RESTART done; 50 Hz
	// requested, prescale 122 written while asleep.
	if m := r.reg(t, 0x00); m != 0x21 {
		t.Errorf("MODE1 after init = %#04x, want 0x21 (AI, ALLCALL)", m)
	}
	if got, want := r.chip.Frequency(), 25e6/(4096*123); got != want {
		t.Errorf("frequency %g Hz, want %g (prescale 122)", got, want)
	}
	if len(r.events) != 0 {
		t.Errorf("init changed outputs: %v", r.events)
	}
	r.clk.Advance(7 * time.Millisecond)
	for _, tc := range []struct {
		name string
		do   func() error
		ch   int
		want float64
	}{
		{"SetPwm 25 %", func() error { return dev.SetPwm(2, 0, 1024) }, 2, 0.25},
		{"SetPwm phase-shifted 50 %", func() error { return dev.SetPwm(2, 1000, 3048) }, 2, 0.5},
		{"SetPwm wrapping", func() error { return dev.SetPwm(2, 3000, 1000) }, 2, 2096.0 / 4096},
		{"SetFullOn", func() error { return dev.SetFullOn(2) }, 2, 1},
		// Full off leaves LED2_ON_H's full-on bit set: full off wins.
		{"SetFullOff", func() error { return dev.SetFullOff(2) }, 2, 0},
		{"SetAllPwm", func() error { return dev.SetAllPwm(0, 2048) }, 15, 0.5},
	} {
		if err := tc.do(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := r.lastDuty(t, tc.ch); got != tc.want {
			t.Errorf("%s: channel %d duty %g, want %g", tc.name, tc.ch, got, tc.want)
		}
		if got := r.chip.Duty(tc.ch); got != tc.want {
			t.Errorf("%s: Duty(%d) = %g, want %g", tc.name, tc.ch, got, tc.want)
		}
	}
	for ch := range 16 {
		if d := r.chip.Duty(ch); d != 0.5 {
			t.Errorf("after SetAllPwm channel %d at %g", ch, d)
		}
	}
	if e := r.events[len(r.events)-1]; e.now != 7*time.Millisecond {
		t.Errorf("reported at %v, want the clock's 7ms", e.now)
	}
}

func TestPCA9685FrequencyChangeRestarts(t *testing.T) {
	r, dev := newPWMRig(t)
	if err := dev.SetPwm(1, 0, 2048); err != nil {
		t.Fatal(err)
	}
	r.events = r.events[:0]
	// SetPwmFreq sleeps the chip with a channel running (RESTART is set,
	// outputs off), writes the prescale, wakes it, and writes RESTART.
	if err := dev.SetPwmFreq(200 * physic.Hertz); err != nil {
		t.Fatal(err)
	}
	if len(r.events) != 2 || r.events[0].duty != 0 || r.events[1].duty != 0.5 {
		t.Errorf("channel 1 during the frequency change: %v, want off then back to 0.5", r.events)
	}
	// periph computes (25 MHz/4096 + 100 Hz)/200 Hz = 31.
	if got, want := r.chip.Frequency(), 25e6/(4096*32); got != want {
		t.Errorf("frequency %g Hz, want %g", got, want)
	}
}

func TestPCA9685ValveRoundTrip(t *testing.T) {
	r, dev := newPWMRig(t)
	v, err := pumpctl.NewValve("resistance", dev, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []float64{0.3, 0.9, 1, 0.001, 0} {
		if err := v.SetDuty(d); err != nil {
			t.Fatal(err)
		}
		if got := r.chip.Duty(4); math.Abs(got-d) > 0.5/4096 {
			t.Errorf("SetDuty(%g): channel duty %g", d, got)
		}
	}
	if err := v.SetDuty(0.6); err != nil {
		t.Fatal(err)
	}
	if err := v.Safe(); err != nil {
		t.Fatal(err)
	}
	if got := r.lastDuty(t, 4); got != 0 {
		t.Errorf("Safe: duty %g, want the safe 0", got)
	}
}

func TestPCA9685Registers(t *testing.T) {
	r := newPWMChip(t)
	// Power-up values.
	for _, tc := range []struct{ reg, want byte }{
		{0x00, 0x11}, {0x01, 0x04}, {0x05, 0xE0}, {0x09, 0x10}, {0x45, 0x10}, {0xFE, 0x1E},
	} {
		if got := r.reg(t, tc.reg); got != tc.want {
			t.Errorf("power-up register %#04x = %#04x, want %#04x", tc.reg, got, tc.want)
		}
	}
	// Without AI every byte goes to the same register.
	r.write(t, 0x06, 1, 2, 3)
	if on0L, on0H := r.reg(t, 0x06), r.reg(t, 0x07); on0L != 3 || on0H != 0 {
		t.Errorf("AI off: LED0_ON_L, ON_H = %d, %d, want 3, 0", on0L, on0H)
	}
	// PRE_SCALE only while asleep, never below 3.
	r.write(t, 0x00, 0x01) // wake
	r.write(t, 0xFE, 0x50)
	if p := r.reg(t, 0xFE); p != 0x1E {
		t.Errorf("PRE_SCALE written while awake: %#04x", p)
	}
	r.write(t, 0x00, 0x11) // sleep
	r.write(t, 0xFE, 0x50)
	if p := r.reg(t, 0xFE); p != 0x50 {
		t.Errorf("PRE_SCALE written while asleep: %#04x, want 0x50", p)
	}
	r.write(t, 0xFE, 1)
	if p := r.reg(t, 0xFE); p != 3 {
		t.Errorf("PRE_SCALE 1 stored as %d, want the minimum 3", p)
	}
	// EXTCLK is sticky.
	r.write(t, 0x00, 0x51)
	r.write(t, 0x00, 0x11)
	if m := r.reg(t, 0x00); m&0x40 == 0 {
		t.Errorf("MODE1 = %#04x: EXTCLK cleared by a write", m)
	}
	// With AI: auto-increment wraps past LED15_OFF_H to MODE1, and from
	// ALL_LED_OFF_H through PRE_SCALE to MODE1; ALL_LED reads 0;
	// reserved bits of ON_H/OFF_H are not writable.
	r.write(t, 0x00, 0x21|0x40)
	r.write(t, 0x44, 0xAA, 0xFF) // LED15_OFF_L, OFF_H
	b := make([]byte, 3)
	if err := r.bus.Tx(pca9685.I2CAddr, []byte{0x44}, b); err != nil {
		t.Fatal(err)
	}
	if b[0] != 0xAA || b[1] != 0x1F || b[2] != 0x61 {
		t.Errorf("read from LED15_OFF_L: % x, want aa 1f 61", b)
	}
	r.write(t, 0xFA, 1, 2, 3, 4)
	if err := r.bus.Tx(pca9685.I2CAddr, []byte{0xFA}, b); err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || b[1] != 0 || b[2] != 0 {
		t.Errorf("ALL_LED read back % x, want zeros", b)
	}
	if on, off := r.reg(t, 0x06+4*9+1), r.reg(t, 0x06+4*9+2); on != 2 || off != 3 {
		t.Errorf("ALL_LED write: LED9_ON_H %d, OFF_L %d, want 2, 3", on, off)
	}
	// Reserved control registers are not acknowledged.
	if err := r.bus.Tx(pca9685.I2CAddr, []byte{0x46, 0}, nil); !errors.Is(err, sim.ErrNACK) {
		t.Errorf("write to reserved 0x46 = %v, want ErrNACK", err)
	}
}

func TestPCA9685OutputRules(t *testing.T) {
	r := newPWMChip(t)
	r.write(t, 0x00, 0x21) // awake, AI
	// ON == OFF: constant low.
	r.write(t, 0x06, 0x00, 0x01, 0x00, 0x01)
	if d := r.chip.Duty(0); d != 0 {
		t.Errorf("ON = OFF: duty %g, want 0", d)
	}
	r.write(t, 0x06, 0, 0, 0, 0x04) // 25 %
	if d := r.chip.Duty(0); d != 0.25 {
		t.Fatalf("duty %g, want 0.25", d)
	}
	// INVRT inverts every output, including the ones fully off.
	r.write(t, 0x01, 0x14)
	if d0, d1 := r.chip.Duty(0), r.chip.Duty(1); d0 != 0.75 || d1 != 1 {
		t.Errorf("INVRT: duties %g, %g, want 0.75, 1", d0, d1)
	}
	r.write(t, 0x01, 0x04)

	// Sleep with a channel running: outputs off, RESTART set; after
	// waking they stay off until RESTART is written.
	r.write(t, 0x00, 0x31)
	if d := r.chip.Duty(0); d != 0 {
		t.Errorf("asleep: duty %g, want 0", d)
	}
	r.write(t, 0x00, 0x21)
	if m := r.reg(t, 0x00); m != 0xA1 {
		t.Errorf("MODE1 after waking = %#04x, want RESTART set (0xa1)", m)
	}
	if d := r.chip.Duty(0); d != 0 {
		t.Errorf("awake before RESTART: duty %g, want 0", d)
	}
	r.write(t, 0x00, 0xA1)
	if d, m := r.chip.Duty(0), r.reg(t, 0x00); d != 0.25 || m != 0x21 {
		t.Errorf("after RESTART: duty %g MODE1 %#04x, want 0.25 and RESTART clear", d, m)
	}

	// OCH = 0: any PWM write (then STOP) clears RESTART.
	r.write(t, 0x00, 0x31)
	r.write(t, 0x00, 0x21)
	r.write(t, 0x06+4*5+2, 0x00) // LED5_OFF_L
	if d := r.chip.Duty(0); d != 0.25 {
		t.Errorf("OCH = 0, after a PWM write: duty %g, want 0.25", d)
	}
	// OCH = 1: only all four registers of a channel do.
	r.write(t, 0x01, 0x0C)
	r.write(t, 0x00, 0x31)
	r.write(t, 0x00, 0x21)
	r.write(t, 0x06+4*5+2, 0x00)
	if d := r.chip.Duty(0); d != 0 {
		t.Errorf("OCH = 1, one register written: duty %g, want 0 (still waiting)", d)
	}
	r.write(t, 0x06+4*5, 0, 0, 0, 0x10)
	if d := r.chip.Duty(0); d != 0.25 {
		t.Errorf("OCH = 1, a channel written: duty %g, want 0.25", d)
	}

	// Orderly shutdown (all channels fully off) before sleep: no RESTART.
	r.write(t, 0xFD, 0x10)
	r.write(t, 0x00, 0x31)
	r.write(t, 0x00, 0x21)
	if m := r.reg(t, 0x00); m != 0x21 {
		t.Errorf("MODE1 after an orderly shutdown and wake = %#04x, want 0x21", m)
	}
}
