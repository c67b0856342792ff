package sim

import (
	"math"
	"sync"
	"time"

	"github.com/mockloop/mockloop/clock"
)

// ADS1115 register pointers and config fields (TI SBAS444, §9.6).
const (
	adsConversion = 0x00
	adsConfig     = 0x01
	adsLoThresh   = 0x02
	adsHiThresh   = 0x03

	adsOS         = 0x8000
	adsSingleShot = 0x0100
	adsDefault    = 0x8583 // power-up config: idle, AIN0–AIN1, ±2.048 V, single-shot, 128 SPS
)

// adsRates are the DR settings 000..111 in samples per second.
var adsRates = [8]float64{8, 16, 32, 64, 128, 250, 475, 860}

// adsFullScales are the PGA settings 000..111 in volts.
var adsFullScales = [8]float64{6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256}

// adsMux gives the positive and negative input of each MUX setting;
// -1 is GND.
var adsMux = [8][2]int{{0, 1}, {0, 3}, {1, 3}, {2, 3}, {0, -1}, {1, -1}, {2, -1}, {3, -1}}

// ADS1115 emulates the TI ADS1115 16-bit ADC (SBAS444) as an I2CDevice:
// the pointer register, the config, conversion and threshold registers,
// single-shot and continuous conversion with the chip's timing on the run
// clock.
//
// A conversion takes exactly 1/DR of clock time (1/860 s at the fastest
// rate; the real oscillator is within ±10 %). While it runs the config
// register reads OS = 0 and the conversion register still holds the
// previous result (0 after power-up); writing OS = 1 meanwhile does not
// start another. At its end the differential input voltage is taken from
// input(end, pin) for each pin of the MUX setting (GND is 0 V) — end may
// be earlier than the clock's now when the result is collected late — and
// converted as the chip does: round(v/FS·32768), saturating at 7FFFh and
// 8000h; NaN converts to 0. In continuous mode (MODE = 0) conversions run
// back to back from the config write and OS reads 0.
//
// Not emulated: the comparator and ALERT/RDY pin (the thresholds are plain
// registers), input limits beyond the full scale, noise, and the general
// call reset.
type ADS1115 struct {
	clk   clock.Clock
	input func(now time.Duration, input int) float64

	mu          sync.Mutex
	ptr         byte
	config      uint16 // as last written, OS bit excepted
	conv        uint16
	lo, hi      uint16
	busy        bool
	continuous  bool          // conversions restart when one ends
	latched     uint16        // config of the conversion in flight
	start, end  time.Duration // of the conversion in flight
	conversions uint64
}

// NewADS1115 returns a chip in its power-up state reading time from clk and
// input voltages from input, which gives the voltage of pin 0..3 against
// GND at a time.
func NewADS1115(clk clock.Clock, input func(now time.Duration, input int) float64) *ADS1115 {
	return &ADS1115{clk: clk, input: input, config: adsDefault &^ adsOS, lo: 0x8000, hi: 0x7FFF}
}

// Tx implements I2CDevice: w[0] sets the pointer (bits 1:0), two more bytes
// write the register MSB first; r reads the register at the pointer, MSB
// first (repeated if longer).
func (a *ADS1115) Tx(w, r []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clk.Now()
	a.update(now)
	if len(w) > 0 {
		a.ptr = w[0] & 3
		if len(w) >= 3 { // a register is written on its second data byte
			a.write(now, uint16(w[1])<<8|uint16(w[2]))
		}
	}
	if len(r) > 0 {
		v := a.readReg()
		for i := range r {
			r[i] = byte(v >> (8 * (1 - i%2)))
		}
	}
	return nil
}

func (a *ADS1115) write(now time.Duration, v uint16) {
	switch a.ptr {
	case adsConversion: // read only
	case adsConfig:
		a.config = v &^ adsOS
		switch {
		case v&adsSingleShot == 0: // continuous: (re)start now
			a.begin(now, true)
		case a.busy:
			// OS = 1 only starts a conversion from power-down; one in
			// continuous mode ends with this one.
			a.continuous = false
		case v&adsOS != 0:
			a.begin(now, false)
		}
	case adsLoThresh:
		a.lo = v
	case adsHiThresh:
		a.hi = v
	}
}

func (a *ADS1115) begin(now time.Duration, continuous bool) {
	a.busy, a.continuous = true, continuous
	a.latched = a.config
	a.start = now
	a.end = now + adsPeriod(a.config)
}

// adsPeriod is the conversion time of a config word, rounded up to the
// nanosecond so that the chip is never faster than its data rate.
func adsPeriod(config uint16) time.Duration {
	return time.Duration(math.Ceil(1e9 / adsRates[config>>5&7]))
}

// update completes the conversion in flight if its time has come.
func (a *ADS1115) update(now time.Duration) {
	if !a.busy || now < a.end {
		return
	}
	if !a.continuous {
		a.conv = a.convert(a.end)
		a.busy = false
		return
	}
	// Back to back: only the latest finished conversion is visible.
	period := a.end - a.start
	n := (now - a.start) / period
	last := a.start + n*period
	a.conv = a.convert(last)
	a.conversions += uint64(n - 1) // convert counted one
	a.start, a.end = last, last+period
}

func (a *ADS1115) convert(at time.Duration) uint16 {
	a.conversions++
	mux := adsMux[a.latched>>12&7]
	v := a.input(at, mux[0])
	if mux[1] >= 0 {
		v -= a.input(at, mux[1])
	}
	code := math.Round(v / adsFullScales[a.latched>>9&7] * 32768)
	switch {
	case math.IsNaN(code):
		code = 0
	case code > 32767:
		code = 32767
	case code < -32768:
		code = -32768
	}
	return uint16(int16(code))
}

func (a *ADS1115) readReg() uint16 {
	switch a.ptr {
	case adsConversion:
		return a.conv
	case adsConfig:
		if a.busy {
			return a.config
		}
		return a.config | adsOS
	case adsLoThresh:
		return a.lo
	}
	return a.hi
}

// Conversions returns the number of conversions completed.
func (a *ADS1115) Conversions() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.update(a.clk.Now())
	return a.conversions
}

var _ I2CDevice = (*ADS1115)(nil)
