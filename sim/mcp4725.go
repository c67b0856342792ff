package sim

import (
	"sync"
	"time"

	"github.com/mockloop/mockloop/clock"
)

// MCP4725EEPROMWrite is how long the emulated MCP4725 is busy writing its
// EEPROM: the typical 25 ms of DS22039D (50 ms at most).
const MCP4725EEPROMWrite = 25 * time.Millisecond

// MCP4725 emulates the Microchip MCP4725 12-bit DAC (DS22039D) as an
// I2CDevice: the fast-mode write (2 bytes per update, repeatable), the
// write of the DAC register with or without the EEPROM (3 bytes,
// repeatable), reserved commands ignored, and the read of 5 bytes
// (status, DAC register, EEPROM; repeated if the master reads on).
//
// The output is Vdd·code/4096 when the amplifier drives it and 0 V in any
// power-down mode (the pull-down resistor's load is not modelled). Each
// change of the output is reported to onChange with the run clock's time.
// An EEPROM write keeps RDY/BSY low for MCP4725EEPROMWrite on the clock,
// and the chip ignores every write command meanwhile, as the real one does.
// Reset emulates a power cycle: the DAC register is loaded from the EEPROM.
// The general-call reset and wake-up commands (address 0) are not
// emulated.
type MCP4725 struct {
	clk      clock.Clock
	vdd      float64
	onChange func(now time.Duration, volts float64)

	mu         sync.Mutex
	code       uint16 // DAC register
	pd         uint8  // its power-down bits
	eeCode     uint16 // EEPROM
	eePD       uint8
	eeBusyTill time.Duration
	eeBusy     bool
	out        float64
	writes     uint64
}

// NewMCP4725 returns a chip powered by vdd volts, which is also its
// reference, reading time from clk, and reporting output changes to
// onChange (nil: not reported). Its EEPROM holds code 0 in normal mode, so
// it powers up at 0 V.
func NewMCP4725(clk clock.Clock, vdd float64, onChange func(now time.Duration, volts float64)) *MCP4725 {
	return &MCP4725{clk: clk, vdd: vdd, onChange: onChange}
}

// Tx implements I2CDevice.
func (m *MCP4725) Tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clk.Now()
	if m.eeBusy && now >= m.eeBusyTill {
		m.eeBusy = false
	}
	if len(w) > 0 && !m.eeBusy {
		m.write(now, w)
	}
	for i := range r {
		r[i] = m.readByte(i % 5)
	}
	return nil
}

// write decodes one write transaction: C2 C1 of the first byte select a
// fast-mode write (00) or a 3-byte command (01); the master may repeat the
// command bytes before STOP.
func (m *MCP4725) write(now time.Duration, w []byte) {
	for len(w) > 0 {
		switch w[0] >> 6 {
		case 0: // fast mode: 0 0 PD1 PD0 D11..D8, D7..D0
			if len(w) < 2 {
				return // the DAC latches on the second byte's ACK
			}
			m.set(now, uint16(w[0]&0x0F)<<8|uint16(w[1]), w[0]>>4&3)
			w = w[2:]
		case 1: // C2 C1 C0 X X PD1 PD0 X, D11..D4, D3..D0 X X X X
			if len(w) < 3 {
				return
			}
			code, pd := uint16(w[1])<<4|uint16(w[2])>>4, w[0]>>1&3
			m.set(now, code, pd)
			if w[0]&0x20 != 0 { // C0 = 1: and the EEPROM
				m.eeCode, m.eePD = code, pd
				m.eeBusy, m.eeBusyTill = true, now+MCP4725EEPROMWrite
				return // later bytes arrive during the EEPROM write: ignored
			}
			w = w[3:]
		default: // 1xx: reserved, ignored by the chip
			return
		}
	}
}

func (m *MCP4725) set(now time.Duration, code uint16, pd uint8) {
	m.code, m.pd = code, pd
	m.writes++
	out := 0.0
	if pd == 0 {
		out = m.vdd * float64(code) / 4096
	}
	if out != m.out {
		m.out = out
		if m.onChange != nil {
			m.onChange(now, out)
		}
	}
}

// readByte is byte i of the 5-byte read (DS22039D Figure 6-3).
func (m *MCP4725) readByte(i int) byte {
	switch i {
	case 0: // RDY/BSY POR X X X PD1 PD0 X
		b := byte(0x40) | m.pd<<1 // powered: POR set
		if !m.eeBusy {
			b |= 0x80
		}
		return b
	case 1:
		return byte(m.code >> 4)
	case 2:
		return byte(m.code << 4)
	case 3: // X PD1 PD0 X D11..D8
		return m.eePD<<5 | byte(m.eeCode>>8)
	default:
		return byte(m.eeCode)
	}
}

// Reset emulates a power cycle: any EEPROM write completes, and the DAC
// register is loaded from the EEPROM.
func (m *MCP4725) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.eeBusy = false
	m.set(m.clk.Now(), m.eeCode, m.eePD)
}

// Volts returns the output voltage.
func (m *MCP4725) Volts() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out
}

// Code returns the DAC register: the code and the power-down bits.
func (m *MCP4725) Code() (code uint16, powerDown uint8) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.code, m.pd
}

// Writes returns the number of DAC register updates accepted.
func (m *MCP4725) Writes() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

var _ I2CDevice = (*MCP4725)(nil)
