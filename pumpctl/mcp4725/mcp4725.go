package mcp4725

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"periph.io/x/conn/v3/i2c"

	"github.com/mockloop/mockloop/pumpctl"
)

// Addresses: 1100 A2 A1 A0, where A2 and A1 are set at the factory (part
// suffix A0..A3) and A0 is the pin (DS22039D §6.0).
const (
	MinAddr uint16 = 0x60
	MaxAddr uint16 = 0x67
)

// MaxCode is the largest 12-bit DAC code; the output is Vref·code/4096, so
// full scale is one LSB below Vref.
const MaxCode = 1<<12 - 1

// cmdWriteDACEEPROM is the write command type C2 C1 C0 = 011 in the first
// byte: DAC register and EEPROM, 3 bytes (DS22039D Table 6-2). The driver
// needs no other: 00x is the fast-mode write (C2 C1 PD1 PD0 D11..D8,
// D7..D0), and 010, the 3-byte write of the DAC register alone, does
// nothing the fast write does not.
const cmdWriteDACEEPROM = 0x60

// Bits of the first byte read back (DS22039D Figure 6-3).
const (
	statusReady = 0x80 // RDY/BSY: 1 = no EEPROM write in progress
	statusPOR   = 0x40 // power-on reset done
)

// PowerDown is the output state selected by the PD1 PD0 bits: driven by
// the amplifier (Normal), or the amplifier off and the output pulled to
// ground through a resistor (DS22039D Table 5-2).
type PowerDown uint8

// Power-down modes.
const (
	Normal        PowerDown = 0
	PowerDown1k   PowerDown = 1
	PowerDown100k PowerDown = 2
	PowerDown500k PowerDown = 3
)

func (p PowerDown) String() string {
	switch p {
	case Normal:
		return "normal"
	case PowerDown1k:
		return "power-down 1 kΩ"
	case PowerDown100k:
		return "power-down 100 kΩ"
	case PowerDown500k:
		return "power-down 500 kΩ"
	}
	return fmt.Sprintf("PowerDown(%d)", uint8(p))
}

// Opts configures a Dev.
type Opts struct {
	// Addr is the 7-bit I²C address, MinAddr..MaxAddr.
	Addr uint16
	// Vref is the supply voltage, which is the DAC's reference: 5.0 V on the
	// bench. It must be measured, not assumed: every volt written is scaled
	// by it.
	Vref float64
}

// Status is what the chip reports when read: its DAC register and the
// EEPROM that is loaded into it at power-up.
type Status struct {
	// Ready is false while an EEPROM write is in progress (RDY/BSY); the
	// chip ignores every write command until it is true again.
	Ready bool
	// PowerOnReset is the POR bit: set once the chip is powered and has
	// loaded its EEPROM.
	PowerOnReset bool
	PowerDown    PowerDown
	Code         uint16
	// EEPROMPowerDown and EEPROMCode are the power-up defaults.
	EEPROMPowerDown PowerDown
	EEPROMCode      uint16
}

// Dev is one MCP4725. It implements pumpctl.AnalogOut with the declared safe
// state 0 V (code 0, amplifier driving): a pump whose drive input is held at
// ground is stopped.
//
// A SetVolts or SetCode that would write the code the chip already holds,
// as far as the driver knows, does no bus traffic: the LV drive is set on
// every frame, and in diastole its code stays 0 for hundreds of frames. The
// driver knows the chip's code after a successful write; it forgets it when
// a write fails (the next one goes out whatever its value), while the
// EEPROM write of StoreDefault keeps the chip deaf to writes, and every
// RefreshEvery skipped writes, so that a chip that lost its output in a
// supply dip gets it back within that many calls. Safe always writes.
//
// Dev is safe for concurrent use, so Safe may be called from any goroutine;
// SetVolts allocates nothing.
type Dev struct {
	name string
	vref float64

	mu   sync.Mutex
	c    i2c.Dev
	code uint16    // DAC code last written
	pd   PowerDown // power-down bits last written
	// known says the chip holds code and pd: the last write succeeded and
	// no EEPROM write could have made the chip ignore it.
	known bool
	// eeprom is set by StoreDefault until a Read finds the chip ready.
	eeprom  bool
	skipped int // writes skipped since the last one
	w       [3]byte
	r       [5]byte
}

// RefreshEvery bounds how many consecutive writes of an unchanged code are
// skipped: the next one goes to the chip again. At the rig's 1 kHz that is
// a second.
const RefreshEvery = 1000

// New returns a driver for the chip at opts.Addr on bus. It does no bus
// traffic: the output stays what the chip loaded from its EEPROM at
// power-up until the first write (the rig calls Safe after building).
func New(bus i2c.Bus, name string, opts Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("mcp4725: nil bus")
	}
	if name == "" {
		return nil, errors.New("mcp4725: empty name")
	}
	if opts.Addr < MinAddr || opts.Addr > MaxAddr {
		return nil, fmt.Errorf("mcp4725: %s: address %#x out of range %#x..%#x", name, opts.Addr, MinAddr, MaxAddr)
	}
	if !(opts.Vref > 0) || math.IsInf(opts.Vref, 0) {
		return nil, fmt.Errorf("mcp4725: %s: Vref %g V must be finite and > 0", name, opts.Vref)
	}
	return &Dev{name: name, vref: opts.Vref, c: i2c.Dev{Bus: bus, Addr: opts.Addr}}, nil
}

// Name implements pumpctl.Actuator.
func (d *Dev) Name() string { return d.name }

// String returns the name, bus and address, for logs.
func (d *Dev) String() string { return fmt.Sprintf("mcp4725 %s on %s", d.name, d.c.String()) }

// Vref returns the reference (supply) voltage.
func (d *Dev) Vref() float64 { return d.vref }

// Code returns the DAC code last written successfully and its power-down
// mode.
func (d *Dev) Code() (uint16, PowerDown) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.code, d.pd
}

// SetVolts implements pumpctl.AnalogOut: it sets the output to v, rounded
// to the nearest of the 4096 steps of Vref/4096 (Vref itself gives the top
// code, one LSB below Vref). Values outside [0, Vref] and NaN are an error
// and nothing is written. It also leaves power-down mode.
func (d *Dev) SetVolts(v float64) error {
	if !(v >= 0 && v <= d.vref) {
		return fmt.Errorf("mcp4725: %s: %g V out of range [0, %g] V", d.name, v, d.vref)
	}
	code := uint16(math.Round(v / d.vref * (MaxCode + 1)))
	return d.SetCode(min(code, MaxCode))
}

// SetCode writes a raw 12-bit code with the fast-mode write (2 bytes:
// 0 0 PD1 PD0 D11..D8, D7..D0) in normal mode, unless the chip is known to
// hold it already (see Dev).
func (d *Dev) SetCode(code uint16) error {
	if code > MaxCode {
		return fmt.Errorf("mcp4725: %s: code %d out of range 0..%d", d.name, code, MaxCode)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.known && code == d.code && d.pd == Normal && d.skipped < RefreshEvery-1 {
		d.skipped++
		return nil
	}
	return d.fastWrite(code, Normal)
}

// SetPowerDown switches the amplifier off and pulls the output to ground
// through the given resistor, or back on with Normal; the DAC code is kept.
func (d *Dev) SetPowerDown(pd PowerDown) error {
	if pd > PowerDown500k {
		return fmt.Errorf("mcp4725: %s: invalid power-down mode %d", d.name, pd)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fastWrite(d.code, pd)
}

func (d *Dev) fastWrite(code uint16, pd PowerDown) error {
	d.w[0] = byte(pd)<<4 | byte(code>>8)
	d.w[1] = byte(code)
	d.skipped = 0
	if err := d.c.Tx(d.w[:2], nil); err != nil {
		d.known = false // the chip may hold either code now
		return fmt.Errorf("mcp4725: %s: %w", d.name, err)
	}
	d.code, d.pd, d.known = code, pd, !d.eeprom
	return nil
}

// Safe implements pumpctl.Actuator: 0 V, driven. It writes even if the
// output is believed to be at 0 V already.
func (d *Dev) Safe() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fastWrite(0, Normal)
}

// Read reads the chip's DAC register and EEPROM (5 bytes).
func (d *Dev) Read() (Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.c.Tx(nil, d.r[:]); err != nil {
		return Status{}, fmt.Errorf("mcp4725: %s: read: %w", d.name, err)
	}
	r := d.r
	if d.eeprom && r[0]&statusReady != 0 {
		d.eeprom = false // writes take effect again; the next one goes out
	}
	return Status{
		Ready:           r[0]&statusReady != 0,
		PowerOnReset:    r[0]&statusPOR != 0,
		PowerDown:       PowerDown(r[0] >> 1 & 3),
		Code:            uint16(r[1])<<4 | uint16(r[2])>>4,
		EEPROMPowerDown: PowerDown(r[3] >> 5 & 3),
		EEPROMCode:      uint16(r[3]&0x0F)<<8 | uint16(r[4]),
	}, nil
}

// StoreDefault writes code and pd to the DAC register and to the EEPROM,
// whose content the chip outputs at power-up: storing 0 V makes the pump
// stay stopped when the bench is switched on before the controller runs.
//
// The EEPROM write takes 25 ms (50 ms at most) during which the chip
// ignores every write command; poll Read until Ready. The EEPROM endures
// about a million writes: never call this from the control loop.
func (d *Dev) StoreDefault(code uint16, pd PowerDown) error {
	if code > MaxCode {
		return fmt.Errorf("mcp4725: %s: code %d out of range 0..%d", d.name, code, MaxCode)
	}
	if pd > PowerDown500k {
		return fmt.Errorf("mcp4725: %s: invalid power-down mode %d", d.name, pd)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.w = [3]byte{cmdWriteDACEEPROM | byte(pd)<<1, byte(code >> 4), byte(code << 4)}
	// Until a Read finds it ready the chip ignores writes: none may be
	// taken as done.
	d.eeprom, d.known = true, false
	if err := d.c.Tx(d.w[:3], nil); err != nil {
		return fmt.Errorf("mcp4725: %s: store default: %w", d.name, err)
	}
	d.code, d.pd = code, pd
	return nil
}

var _ pumpctl.AnalogOut = (*Dev)(nil)
