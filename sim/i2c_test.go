package sim_test

import (
	"errors"
	"testing"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/mockloop/mockloop/sim"
)

// echoChip records the last transaction and answers reads with 0xA5.
type echoChip struct{ w []byte }

func (e *echoChip) Tx(w, r []byte) error {
	e.w = append(e.w[:0], w...)
	for i := range r {
		r[i] = 0xA5
	}
	return nil
}

func TestI2CBusRoutesByAddress(t *testing.T) {
	bus := sim.NewI2CBus("I2C1")
	a, b := &echoChip{}, &echoChip{}
	if err := bus.Attach(0x48, a); err != nil {
		t.Fatal(err)
	}
	if err := bus.Attach(0x60, b); err != nil {
		t.Fatal(err)
	}
	dev := i2c.Dev{Bus: bus, Addr: 0x60} // as a periph driver sees it
	r := make([]byte, 2)
	if err := dev.Tx([]byte{1, 2}, r); err != nil {
		t.Fatal(err)
	}
	if string(b.w) != "\x01\x02" || a.w != nil || r[0] != 0xA5 || r[1] != 0xA5 {
		t.Errorf("routed wrong: a %v, b %v, r %v", a.w, b.w, r)
	}
	err := bus.Tx(0x49, []byte{0}, nil)
	if !errors.Is(err, sim.ErrNACK) {
		t.Errorf("Tx to an empty address = %v, want ErrNACK", err)
	}
	if err := bus.Tx(0x400, nil, r); !errors.Is(err, sim.ErrNACK) {
		t.Errorf("Tx to a 10-bit address = %v, want ErrNACK", err)
	}
	if n := bus.Transactions(); n != 1 {
		t.Errorf("Transactions() = %d, want 1 (NACKs not delivered)", n)
	}
}

func TestI2CBusAttachRules(t *testing.T) {
	bus := sim.NewI2CBus("I2C1")
	for _, addr := range []uint16{0x00, 0x07, 0x78, 0x7F, 0x80} {
		if err := bus.Attach(addr, &echoChip{}); err == nil {
			t.Errorf("Attach(%#x) accepted a reserved address", addr)
		}
	}
	if err := bus.Attach(0x40, nil); err == nil {
		t.Error("Attach(nil) accepted")
	}
	if err := bus.Attach(0x40, &echoChip{}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Attach(0x40, &echoChip{}); err == nil {
		t.Error("second device at 0x40 accepted")
	}
}

func TestI2CBusSpeedAndClose(t *testing.T) {
	var bus i2c.BusCloser = sim.NewI2CBus("I2C1")
	if bus.String() != "I2C1" {
		t.Errorf("String() = %q", bus.String())
	}
	if err := bus.SetSpeed(400 * physic.KiloHertz); err != nil {
		t.Fatal(err)
	}
	if got := bus.(*sim.I2CBus).Speed(); got != 400*physic.KiloHertz {
		t.Errorf("Speed() = %s", got)
	}
	if err := bus.SetSpeed(0); err == nil {
		t.Error("SetSpeed(0) accepted")
	}
	_ = bus.(*sim.I2CBus).Attach(0x40, &echoChip{})
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bus.Tx(0x40, []byte{0}, nil); err == nil {
		t.Error("Tx on a closed bus succeeded")
	}
}
