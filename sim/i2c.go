package sim

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// I2CDevice is a chip on an emulated I²C bus. Tx is one transaction
// addressed to it: w is written, then, after a repeated START, len(r) bytes
// are read into r; either may be empty, as in periph's i2c.Bus. An error
// stands for a NACK and should wrap ErrNACK.
//
// Devices are called with the bus locked, one transaction at a time.
type I2CDevice interface {
	Tx(w, r []byte) error
}

// ErrNACK is wrapped by the errors of transactions that a real bus would
// see not acknowledged: no device at the address, or a device refusing a
// byte.
var ErrNACK = errors.New("sim: i2c: not acknowledged")

// I2CBus is an emulated I²C bus: an i2c.BusCloser that routes each
// transaction to the device attached at its 7-bit address, so periph
// drivers run against chip emulators unmodified. It is safe for concurrent
// use; transactions are serialised as on the wire. Tx allocates nothing
// unless it fails.
type I2CBus struct {
	name string

	mu     sync.Mutex
	devs   [128]I2CDevice
	speed  physic.Frequency
	closed bool
	txs    uint64
}

// NewI2CBus returns an empty bus named name (e.g. "I2C1"), at the standard
// 100 kHz until SetSpeed.
func NewI2CBus(name string) *I2CBus {
	return &I2CBus{name: name, speed: 100 * physic.KiloHertz}
}

// Attach puts d at addr. Addresses 0x00–0x07 and 0x78–0x7F are reserved by
// the I²C specification (general call, 10-bit addressing, ...) and are
// refused, as is an address already taken.
func (b *I2CBus) Attach(addr uint16, d I2CDevice) error {
	if d == nil {
		return fmt.Errorf("sim: i2c %s: nil device at %#04x", b.name, addr)
	}
	if addr < 0x08 || addr > 0x77 {
		return fmt.Errorf("sim: i2c %s: address %#04x is reserved or not 7-bit", b.name, addr)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.devs[addr] != nil {
		return fmt.Errorf("sim: i2c %s: address %#04x already taken", b.name, addr)
	}
	b.devs[addr] = d
	return nil
}

// String implements i2c.Bus.
func (b *I2CBus) String() string { return b.name }

// Tx implements i2c.Bus.
func (b *I2CBus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("sim: i2c %s: bus closed", b.name)
	}
	var d I2CDevice
	if addr < uint16(len(b.devs)) {
		d = b.devs[addr]
	}
	if d == nil {
		return fmt.Errorf("sim: i2c %s: address %#04x: %w", b.name, addr, ErrNACK)
	}
	b.txs++
	return d.Tx(w, r)
}

// SetSpeed implements i2c.Bus. Any positive frequency is accepted and
// recorded; it does not change timing, which in simulation is the
// devices' business.
func (b *I2CBus) SetSpeed(f physic.Frequency) error {
	if f <= 0 {
		return fmt.Errorf("sim: i2c %s: invalid speed %s", b.name, f)
	}
	b.mu.Lock()
	b.speed = f
	b.mu.Unlock()
	return nil
}

// Speed returns the frequency last set.
func (b *I2CBus) Speed() physic.Frequency {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.speed
}

// Transactions returns the number of transactions delivered to devices.
func (b *I2CBus) Transactions() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.txs
}

// Close implements i2c.BusCloser: later transactions fail.
func (b *I2CBus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

var _ i2c.BusCloser = (*I2CBus)(nil)
