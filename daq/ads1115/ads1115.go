package ads1115

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/devices/v3/ads1x15"

	"github.com/mockloop/mockloop/daq"
)

// Addresses: the ADDR pin tied to GND, VDD, SDA or SCL (SBAS444 Table 4).
const (
	MinAddr uint16 = ads1x15.I2CAddr // 0x48
	MaxAddr uint16 = 0x4B
)

// Register pointers (SBAS444 §9.6.1).
const (
	regConversion = 0x00
	regConfig     = 0x01
)

// Config register fields (SBAS444 §9.6.3).
const (
	cfgOS         = 0x8000 // write: start a single conversion; read: 1 = idle
	cfgMuxShift   = 12
	cfgPGAShift   = 9
	cfgSingleShot = 0x0100 // MODE = 1: single-shot / power-down
	cfgDRShift    = 5
	cfgCompQueOff = 0x0003 // COMP_QUE = 11: comparator disabled, ALERT/RDY high-Z
)

// fullScales are the PGA settings 000..101 (110 and 111 repeat 0.256 V).
var fullScales = [...]float64{6.144, 4.096, 2.048, 1.024, 0.512, 0.256}

// dataRates are the DR settings 000..111 in samples per second.
var dataRates = [...]int{8, 16, 32, 64, 128, 250, 475, 860}

// MaxDataRate is the chip's fastest conversion rate, in samples per second
// in total over all inputs: a faster I²C clock does not help.
const MaxDataRate = 860

// Input is one multiplexer setting converted in turn.
type Input struct {
	// Channel selects the multiplexer input: ads1x15.Channel0..Channel3
	// measure AINx against GND, the others a differential pair.
	Channel ads1x15.Channel
	// FullScale is the programmable-gain amplifier's range, ±FullScale
	// volts: 6.144, 4.096, 2.048, 1.024, 0.512 or 0.256. Pick the smallest
	// that holds the signal; no input may exceed VDD + 0.3 V whatever the
	// range.
	FullScale float64
}

// Opts configures a Dev.
type Opts struct {
	// Addr is the 7-bit I²C address, MinAddr..MaxAddr; 0 means MinAddr.
	Addr uint16
	// DataRate is the conversion rate in samples per second: 8, 16, 32,
	// 64, 128, 250, 475 or 860; 0 means 860. Slower rates average longer
	// and are quieter.
	DataRate int
	// Inputs are converted in this order, round robin; dst[i] of Poll is
	// Inputs[i]. At least one, at most 8.
	Inputs []Input
}

type input struct {
	config uint16  // config word that starts this input's conversion
	lsb    float64 // volts per count
}

// Dev is one ADS1115. It implements daq.SlowADC; Poll allocates nothing.
// Dev is safe for concurrent use, though Poll belongs to one loop.
type Dev struct {
	period time.Duration

	mu     sync.Mutex
	c      i2c.Dev
	inputs []input
	volts  []float64 // latest result per input; NaN before the first
	next   int       // input being converted, or to be started
	busy   bool      // a conversion of inputs[next] is in flight
	health daq.ADCHealth
	w      [3]byte
	r      [2]byte
}

// New returns a driver for the chip at opts.Addr on bus. It does no bus
// traffic; the first Poll starts the first conversion.
func New(bus i2c.Bus, opts Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("ads1115: nil bus")
	}
	addr := opts.Addr
	if addr == 0 {
		addr = MinAddr
	}
	if addr < MinAddr || addr > MaxAddr {
		return nil, fmt.Errorf("ads1115: address %#x out of range %#x..%#x", addr, MinAddr, MaxAddr)
	}
	rate := opts.DataRate
	if rate == 0 {
		rate = MaxDataRate
	}
	dr := -1
	for i, r := range dataRates {
		if r == rate {
			dr = i
		}
	}
	if dr < 0 {
		return nil, fmt.Errorf("ads1115: data rate %d SPS: must be one of %v", rate, dataRates)
	}
	if len(opts.Inputs) == 0 || len(opts.Inputs) > 8 {
		return nil, fmt.Errorf("ads1115: %d inputs: need 1 to 8", len(opts.Inputs))
	}
	d := &Dev{
		// Rounded up so that a caller waiting this long finds the result.
		period: time.Duration(math.Ceil(float64(time.Second) / float64(rate))),
		c:      i2c.Dev{Bus: bus, Addr: addr},
		inputs: make([]input, len(opts.Inputs)),
		volts:  make([]float64, len(opts.Inputs)),
	}
	for i, in := range opts.Inputs {
		if in.Channel < ads1x15.Channel0Minus1 || in.Channel > ads1x15.Channel3 {
			return nil, fmt.Errorf("ads1115: input %d: invalid channel %d", i, in.Channel)
		}
		pga := -1
		for j, fs := range fullScales {
			if math.Abs(in.FullScale-fs) < 1e-9 {
				pga = j
			}
		}
		if pga < 0 {
			return nil, fmt.Errorf("ads1115: input %d (AIN %s): full scale %g V: must be one of %v", i, in.Channel, in.FullScale, fullScales)
		}
		d.inputs[i] = input{
			config: cfgOS | uint16(in.Channel)<<cfgMuxShift | uint16(pga)<<cfgPGAShift |
				cfgSingleShot | uint16(dr)<<cfgDRShift | cfgCompQueOff,
			lsb: fullScales[pga] / 32768,
		}
		d.volts[i] = math.NaN()
	}
	return d, nil
}

// Channels implements daq.SlowADC.
func (d *Dev) Channels() int { return len(d.inputs) }

// LSB is input's volts per count (its full scale / 32768): Poll's voltage
// is its count times this, exactly, which a run record uses to store the
// count.
func (d *Dev) LSB(input int) float64 { return d.inputs[input].lsb }

// ConversionTime is the duration of one conversion, 1/DataRate rounded up
// to the nanosecond.
func (d *Dev) ConversionTime() time.Duration { return d.period }

// String returns the bus and address, for logs.
func (d *Dev) String() string { return "ads1115 on " + d.c.String() }

// Poll implements daq.SlowADC. It makes one step and never waits:
//
//   - no conversion in flight: write the config register (OS = 1, the
//     input's MUX and PGA, single-shot, data rate, comparator off), which
//     starts a conversion;
//   - one in flight: read the config register; while OS = 0 the chip is
//     still converting and Poll returns; once OS = 1, read the conversion
//     register, store the input's volts and start the next input.
//
// Either way dst[i] receives the latest voltage of Inputs[i], NaN until its
// first conversion. A bus error is returned (and counted); the next Poll
// starts the same input again.
func (d *Dev) Poll(dst []float64) error {
	if len(dst) < len(d.inputs) {
		return fmt.Errorf("ads1115: dst has %d elements, need %d", len(dst), len(d.inputs))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.step()
	copy(dst, d.volts)
	return err
}

func (d *Dev) step() error {
	if d.busy {
		in := &d.inputs[d.next]
		d.w[0] = regConfig
		if err := d.c.Tx(d.w[:1], d.r[:]); err != nil {
			return d.fail("read config", err)
		}
		cfg := uint16(d.r[0])<<8 | uint16(d.r[1])
		if cfg&^cfgOS != in.config&^cfgOS {
			// The chip no longer holds what was written: it was reset
			// (power glitch) or another master wrote it. The conversion
			// register says nothing about this input; start it again.
			d.health.MissedReady++
			d.busy = false
			return d.start()
		}
		if cfg&cfgOS == 0 {
			return nil // still converting
		}
		d.w[0] = regConversion
		if err := d.c.Tx(d.w[:1], d.r[:]); err != nil {
			return d.fail("read conversion", err)
		}
		raw := int16(uint16(d.r[0])<<8 | uint16(d.r[1]))
		d.volts[d.next] = float64(raw) * in.lsb
		d.health.Frames++
		d.busy = false
		d.next = (d.next + 1) % len(d.inputs)
	}
	return d.start()
}

// start writes the config register of inputs[next], starting its
// conversion.
func (d *Dev) start() error {
	cfg := d.inputs[d.next].config
	d.w = [3]byte{regConfig, byte(cfg >> 8), byte(cfg)}
	if err := d.c.Tx(d.w[:3], nil); err != nil {
		return d.fail("start conversion", err)
	}
	d.busy = true
	return nil
}

func (d *Dev) fail(op string, err error) error {
	d.health.MissedReady++
	d.busy = false
	return fmt.Errorf("ads1115: %s of input %d: %w", op, d.next, err)
}

// Health implements daq.SlowADC. Frames counts conversions delivered;
// MissedReady counts conversions lost to a bus error or to a chip that had
// lost its configuration. The other counters stay 0. A chip that stops
// converting shows as Frames no longer increasing.
func (d *Dev) Health() daq.ADCHealth {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.health
}

var _ daq.SlowADC = (*Dev)(nil)
