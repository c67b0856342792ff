package sim

import (
	"fmt"
	"sync"
	"time"

	"github.com/mockloop/mockloop/clock"
)

// PCA9685 registers and bits (NXP PCA9685 product data sheet, Rev. 4,
// https://www.nxp.com/docs/en/data-sheet/PCA9685.pdf, §7.3).
const (
	pcaMode1      = 0x00
	pcaMode2      = 0x01
	pcaSubAdr1    = 0x02
	pcaSubAdr2    = 0x03
	pcaSubAdr3    = 0x04
	pcaAllCallAdr = 0x05
	pcaLED0       = 0x06 // LEDn_ON_L at 0x06 + 4n, then ON_H, OFF_L, OFF_H
	pcaLED15End   = 0x45 // LED15_OFF_H, the last channel register
	pcaAllLED     = 0xFA // ALL_LED_ON_L..ALL_LED_OFF_H: 0xFA..0xFD
	pcaAllLEDEnd  = 0xFD
	pcaPrescale   = 0xFE
	pcaTestMode   = 0xFF

	pcaRestart = 0x80 // MODE1
	pcaExtClk  = 0x40
	pcaAI      = 0x20
	pcaSleep   = 0x10

	pcaInvrt = 0x10 // MODE2
	pcaOCH   = 0x08

	pcaFull = 0x10 // bit 4 of LEDn_ON_H (full on) and LEDn_OFF_H (full off)

	pcaOscillator  = 25e6 // internal oscillator, Hz
	pcaMinPrescale = 3    // the hardware forces PRE_SCALE ≥ 3
)

// PCA9685 emulates the NXP PCA9685 16-channel, 12-bit PWM controller as an
// I2CDevice, register for register, so that periph's devices/v3/pca9685
// driver runs against it unmodified:
//
//   - the control register is the first byte written; with MODE1.AI set it
//     increments after each byte read or written (past LED15_OFF_H to
//     MODE1, and from ALL_LED_ON_L to PRE_SCALE then to MODE1), without AI
//     every byte goes to the same register; a control register in the
//     reserved range 0x46–0xF9 is not acknowledged;
//   - power-up values: MODE1 = 0x11 (SLEEP, ALLCALL), MODE2 = 0x04
//     (OUTDRV), every LEDn_OFF_H = 0x10 (full off), PRE_SCALE = 0x1E
//     (200 Hz);
//   - PRE_SCALE is written only while SLEEP is set (otherwise the write is
//     blocked) and never below 3; MODE1.EXTCLK is sticky;
//   - ALL_LED_* writes load every channel's register and read back as 0;
//     the reserved bits 7:5 of LEDn_ON_H/OFF_H read 0;
//   - full off takes precedence over full on; equal ON and OFF counts give
//     a constant low output; MODE2.INVRT inverts the outputs;
//   - SLEEP stops the oscillator and the outputs are off; entering SLEEP
//     while a channel is not fully off sets RESTART, and the outputs stay
//     off after waking until 1 is written to RESTART (while awake) or, as
//     the data sheet lists, a PWM register is written (OCH = 0: any, at
//     the end of the transaction; OCH = 1: all four of one channel).
//
// Not emulated: the 500 µs oscillator start-up (periph's driver waits it in
// wall time, which a virtual clock does not see), the external clock,
// OE, the sub-addresses and all-call address (attach the device at those
// addresses too if needed), and the software reset.
//
// Each change of a channel's effective duty — the fraction of the period
// its output is high — is reported to onDuty with the run clock's time.
type PCA9685 struct {
	clk    clock.Clock
	onDuty func(now time.Duration, channel int, duty float64)

	mu      sync.Mutex
	reg     [256]byte
	ptr     byte
	restart bool        // MODE1.RESTART as read
	duty    [16]float64 // effective duty last reported
	written [16]uint8   // PWM registers written in this transaction, bit per register
}

// NewPCA9685 returns a chip in its power-up state reading time from clk
// and reporting duty changes to onDuty (nil: not reported).
func NewPCA9685(clk clock.Clock, onDuty func(now time.Duration, channel int, duty float64)) *PCA9685 {
	p := &PCA9685{clk: clk, onDuty: onDuty}
	p.reg[pcaMode1] = pcaSleep | 0x01 // ALLCALL
	p.reg[pcaMode2] = 0x04            // OUTDRV
	p.reg[pcaSubAdr1] = 0xE2
	p.reg[pcaSubAdr2] = 0xE4
	p.reg[pcaSubAdr3] = 0xE8
	p.reg[pcaAllCallAdr] = 0xE0
	for ch := range 16 {
		p.reg[pcaLED0+4*ch+3] = pcaFull
	}
	p.reg[pcaPrescale] = 0x1E
	return p
}

// Tx implements I2CDevice.
func (p *PCA9685) Tx(w, r []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(w) > 0 {
		if c := w[0]; c > pcaLED15End && c < pcaAllLED {
			return fmt.Errorf("sim: pca9685: control register %#04x is reserved: %w", c, ErrNACK)
		}
		p.ptr = w[0]
		p.written = [16]uint8{}
		pwm := false
		for _, b := range w[1:] {
			pwm = p.write(p.ptr, b) || pwm
			p.advance()
		}
		if pwm && p.restart && p.pwmWriteClearsRestart() {
			p.restart = false
		}
	}
	for i := range r {
		r[i] = p.read(p.ptr)
		p.advance()
	}
	p.report()
	return nil
}

// advance moves the control register after a byte if MODE1.AI is set.
func (p *PCA9685) advance() {
	if p.reg[pcaMode1]&pcaAI == 0 {
		return
	}
	switch p.ptr {
	case pcaLED15End, pcaPrescale, pcaTestMode:
		p.ptr = pcaMode1
	default:
		p.ptr++
	}
}

// write stores b in register c as the chip does and reports whether c is
// a PWM register.
func (p *PCA9685) write(c, b byte) bool {
	switch {
	case c == pcaMode1:
		old := p.reg[pcaMode1]
		wasAsleep := old&pcaSleep != 0
		if b&pcaRestart != 0 && !wasAsleep && b&pcaSleep == 0 {
			p.restart = false // writing 1 restarts the PWM channels
		}
		if !wasAsleep && b&pcaSleep != 0 && p.anyActive() {
			p.restart = true
		}
		p.reg[pcaMode1] = b&^pcaRestart | old&pcaExtClk
	case c == pcaMode2:
		p.reg[pcaMode2] = b & 0x1F // bits 7:5 reserved, read 0
	case c >= pcaLED0 && c <= pcaLED15End:
		p.writeLED(c, b)
		return true
	case c >= pcaAllLED && c <= pcaAllLEDEnd:
		for ch := range 16 {
			p.writeLED(byte(pcaLED0+4*ch)+c-pcaAllLED, b)
		}
		return true
	case c == pcaPrescale:
		if p.reg[pcaMode1]&pcaSleep != 0 {
			p.reg[pcaPrescale] = max(b, pcaMinPrescale)
		}
	default: // sub-addresses, all-call address, test mode
		p.reg[c] = b
	}
	return false
}

func (p *PCA9685) writeLED(c, b byte) {
	k := (c - pcaLED0) % 4
	if k == 1 || k == 3 { // ON_H, OFF_H: bits 7:5 are not writable
		b &= 0x1F
	}
	p.reg[c] = b
	p.written[(c-pcaLED0)/4] |= 1 << k
}

// pwmWriteClearsRestart tells whether the PWM writes of this transaction
// clear RESTART: with MODE2.OCH = 0 (outputs change on STOP) any PWM
// register write does; with OCH = 1 (change on ACK) all four registers of
// one channel must have been written.
func (p *PCA9685) pwmWriteClearsRestart() bool {
	if p.reg[pcaMode2]&pcaOCH == 0 {
		return true
	}
	for _, m := range p.written {
		if m == 0x0F {
			return true
		}
	}
	return false
}

func (p *PCA9685) read(c byte) byte {
	switch {
	case c == pcaMode1:
		if p.restart {
			return p.reg[pcaMode1] | pcaRestart
		}
		return p.reg[pcaMode1]
	case c >= pcaAllLED && c <= pcaAllLEDEnd:
		return 0 // write only
	}
	return p.reg[c]
}

// anyActive tells whether a channel is not fully off.
func (p *PCA9685) anyActive() bool {
	for ch := range 16 {
		if p.reg[pcaLED0+4*ch+3]&pcaFull == 0 {
			return true
		}
	}
	return false
}

// effective returns the fraction of the PWM period during which channel
// ch's output is high.
func (p *PCA9685) effective(ch int) float64 {
	base := pcaLED0 + 4*ch
	onL, onH, offL, offH := p.reg[base], p.reg[base+1], p.reg[base+2], p.reg[base+3]
	var d float64
	switch {
	case p.reg[pcaMode1]&pcaSleep != 0 || p.restart:
		d = 0 // oscillator stopped, or waiting for RESTART
	case offH&pcaFull != 0:
		d = 0
	case onH&pcaFull != 0:
		d = 1
	default:
		on := int(onH&0x0F)<<8 | int(onL)
		off := int(offH&0x0F)<<8 | int(offL)
		d = float64((off-on+4096)%4096) / 4096
	}
	if p.reg[pcaMode2]&pcaInvrt != 0 {
		d = 1 - d
	}
	return d
}

func (p *PCA9685) report() {
	var now time.Duration
	read := false
	for ch := range p.duty {
		d := p.effective(ch)
		if d == p.duty[ch] {
			continue
		}
		p.duty[ch] = d
		if p.onDuty == nil {
			continue
		}
		if !read {
			now, read = p.clk.Now(), true
		}
		p.onDuty(now, ch, d)
	}
}

// Duty returns the effective duty of channel 0..15.
func (p *PCA9685) Duty(channel int) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.duty[channel]
}

// Frequency returns the PWM frequency in Hz set by PRE_SCALE:
// 25 MHz / (4096·(PRE_SCALE + 1)).
func (p *PCA9685) Frequency() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return pcaOscillator / (4096 * (float64(p.reg[pcaPrescale]) + 1))
}

var _ I2CDevice = (*PCA9685)(nil)
