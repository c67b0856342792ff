package ads131m08

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/internal/crc16"
)

// Opts configures the chip and the driver's fault detection.
type Opts struct {
	// Clock is the run's clock. The driver waits t_REGACQ after RESET on it
	// and timestamps data-ready on it to detect lost conversions, so in
	// simulation it must be the emulator's clock. Required.
	Clock clock.Clock
	// DataRate is the sample rate in samples per second, fCLKIN/2/OSR for an
	// OSR of 128, 256, ..., 8192 or 16256: at 8.192 MHz 32000, 16000, 8000,
	// 4000, 2000, 1000, 500 or 250 (≈ 251.97). A rate within 1 % of one of
	// these selects it. 0 means 1000.
	DataRate float64
	// ClockIn is the frequency at the chip's CLKIN pin: 0.3 to 8.4 MHz (8.2
	// MHz with a gain above 2). 0 means 8.192 MHz. A 5.12 MHz clock gives
	// exactly 10000 samples per second at OSR 256.
	ClockIn physic.Frequency
	// Gain is the PGA gain of each channel: 1, 2, 4, 8, 16, 32, 64 or 128.
	// 0 means 1. The full-scale input of a channel is ±1.2 V / gain.
	Gain [8]int
	// StuckFrames is how many consecutive frames of identical raw code on a
	// channel count as a stuck channel. 0 means 1000; negative disables the
	// check.
	StuckFrames int
	// ReadyTimeout bounds Read's wait for data-ready. 0 means three sample
	// periods.
	ReadyTimeout time.Duration
	// SPIClock is the SCLK frequency. 0 means the chip's maximum, 25 MHz
	// (0 itself is refused by Linux's spidev); lower it for long wiring.
	SPIClock physic.Frequency
}

// Errors of Read. They are values, so Read allocates nothing to report them.
var (
	// ErrCRC: the frame's CRC did not match; the frame was dropped.
	ErrCRC = errors.New("ads131m08: output frame CRC mismatch; frame dropped")
	// ErrNotReady: data-ready did not assert within the timeout.
	ErrNotReady = errors.New("ads131m08: data-ready timed out")
	// ErrStale: the frame read after data-ready held no new conversion.
	ErrStale = errors.New("ads131m08: frame holds no new conversion")
	// ErrGap: conversions were lost before this frame; dst is valid. It is
	// daq.ErrGap, so callers above the driver recognise a valid frame.
	ErrGap = daq.ErrGap
	// ErrStuck: a channel has shown the same code for Opts.StuckFrames
	// frames; dst is valid. Returned once per episode. It is daq.ErrStuck.
	ErrStuck = daq.ErrStuck
	// ErrChipReset: STATUS says the chip was reset (a supply dip): its data
	// rate and gains are at their defaults. Run New again.
	ErrChipReset = errors.New("ads131m08: chip reset itself; configuration lost")
	// ErrHalted: the device was closed.
	ErrHalted = errors.New("ads131m08: device closed")

	errShortDst = errors.New("ads131m08: Read needs room for 8 channels")
)

// Datasheet facts (SBAS950B).
const (
	// Commands (table 8-11); the response comes in the next frame.
	cmdNull    = 0x0000
	cmdReset   = 0x0011
	cmdStandby = 0x0022
	cmdUnlock  = 0x0655
	cmdRREG    = 0xA000 // 101a aaaa annn nnnn: read nnn nnnn+1 registers from a aaaa a
	cmdWREG    = 0x6000 // 011a aaaa annn nnnn: write nnn nnnn+1 registers from a aaaa a
	ackWREG    = 0x4000 // 010a aaaa ammm mmmm
	ackReset   = 0xFF28 // FF20h | 8 channels

	// Registers (table 8-12).
	regID    = 0x00
	regMode  = 0x02
	regClock = 0x03
	regGain1 = 0x04
	regGain2 = 0x05

	// STATUS bits.
	stResync = 1 << 14
	stReset  = 1 << 10
	stDRDY   = 0x00FF

	// MODE: CRC-CCITT, RESET flag cleared, 24-bit words, SPI timeout on,
	// DRDY from the most lagging channel, driven high, active-low level.
	modeValue = 0x0110
	// CLOCK: all eight channels on, PWR = high-resolution; OSR in bits 4:2.
	clockBase = 0xFF02

	channels   = 8
	wordBytes  = 3
	frameWords = 1 + channels + 1
	frameBytes = frameWords * wordBytes

	refVolts = 1.2
	tREGACQ  = 5 * time.Microsecond
	maxSCLK  = 25 * physic.MegaHertz
)

var osrs = [8]int{128, 256, 512, 1024, 2048, 4096, 8192, 16256}

// FullScale is the input voltage at which a channel at PGA gain gain
// clips: ±1.2 V / gain. A reading there is the chip's limit, not the
// sensor's value.
func FullScale(gain int) float64 { return refVolts / float64(max(gain, 1)) }

// CheckClock reports why the chip cannot convert at rate (SPS, within 1 %)
// from a CLKIN of clockIn with its PGA at gains up to maxGain, or nil: a rig
// config is checked with it before a run, not only when New meets the chip.
func CheckClock(clockIn physic.Frequency, rate float64, maxGain int) error {
	_, err := osrFor(clockIn, rate, maxGain)
	return err
}

// osrFor returns the oversampling ratio's code that makes rate from clockIn.
func osrFor(clockIn physic.Frequency, rate float64, maxGain int) (int, error) {
	maxClk := 8400 * physic.KiloHertz
	if maxGain > 2 {
		maxClk = 8200 * physic.KiloHertz
	}
	if clockIn < 300*physic.KiloHertz || clockIn > maxClk {
		return -1, fmt.Errorf("ads131m08: CLKIN %s outside 300 kHz to %s (high-resolution mode, gain up to %d)", clockIn, maxClk, maxGain)
	}
	fmod := float64(clockIn) / float64(physic.Hertz) / 2
	osrCode := -1
	for i, osr := range osrs {
		if r := fmod / float64(osr); math.Abs(rate-r) <= 0.01*r {
			osrCode = i
		}
	}
	if osrCode < 0 {
		rates := make([]string, len(osrs))
		for i, osr := range osrs {
			rates[i] = strconv.FormatFloat(fmod/float64(osr), 'g', 6, 64)
		}
		return -1, fmt.Errorf("ads131m08: data rate %g SPS not available with CLKIN %s; it offers %s SPS",
			rate, clockIn, strings.Join(rates, ", "))
	}
	return osrCode, nil
}

// window is how many recent reads the conversion phase is estimated from:
// long enough to catch a read with the least latency, short enough that
// 100 ppm of clock drift between chip and host moves the phase by under 1 %
// of a period within it.
const window = 64

// Dev is an ADS131M08 in continuous conversion. Read is meant for one
// goroutine, the acquisition loop; Health may be called from any.
type Dev struct {
	name    string
	conn    spi.Conn
	drdy    gpio.PinIn
	clk     clock.Clock
	rate    float64
	period  time.Duration
	timeout time.Duration
	stuckN  int
	scale   [channels]float64 // volts per code
	regs    [4]uint16         // MODE, CLOCK, GAIN1, GAIN2 as written

	tx [frameBytes]byte // arrays, not slices: no allocation per frame
	rx [frameBytes]byte

	anchored bool
	k        int64 // the driver's index of the last conversion read, since the anchor
	// conv is the index of the last conversion read since the first Read,
	// lost ones included; unlike k it survives a re-anchoring, so frame
	// times taken from it never step back (see Conversion).
	conv     int64
	convAt   time.Duration // when conv was seen
	convSeen bool
	latency  time.Duration // of the last read (Latency)
	// offs are t − k·T of the last window reads (their latency plus the
	// chip's phase), kept as a sliding-window minimum: the reads whose
	// offset no later read undercuts, in order, so the first is the
	// minimum, found without scanning the window every frame.
	offs       [window]offset
	head       int // first of offs, a ring
	nLive      int // entries of offs in use
	nOffs      int64
	lastCode   [channels]int32
	run        [channels]int
	stuck      uint8
	resetSeen  bool
	halted     bool
	lastStatus uint16

	// The health counters: atomics, written by Read alone, so that a
	// frame costs one atomic add and Health may read them from anywhere.
	frames, crcErrors, missedReady, gaps, stuckFrames atomic.Uint64
}

// offset is one read's t − k·T and its number among the reads.
type offset struct {
	n int64
	v time.Duration
}

var (
	_ daq.ADC       = (*Dev)(nil)
	_ conn.Resource = (*Dev)(nil)
)

// New connects port once (SPI mode 1, 8-bit words, opts.SPIClock),
// configures drdy as an input with a pull-up and falling-edge detection,
// resets and configures the chip and verifies the configuration by reading
// it back. A port that was connected stays connected if New fails.
func New(port spi.Port, drdy gpio.PinIn, opts *Opts) (*Dev, error) {
	if opts == nil || opts.Clock == nil {
		return nil, errors.New("ads131m08: Opts.Clock is required (the run's clock)")
	}
	o := *opts
	if o.DataRate == 0 {
		o.DataRate = 1000
	}
	if o.ClockIn == 0 {
		o.ClockIn = 8192 * physic.KiloHertz
	}
	if o.SPIClock == 0 {
		o.SPIClock = maxSCLK
	}
	if o.SPIClock < 0 || o.SPIClock > maxSCLK {
		return nil, fmt.Errorf("ads131m08: SPI clock %s outside (0, %s]", o.SPIClock, maxSCLK)
	}
	d := &Dev{name: "ADS131M08{" + port.String() + "}", drdy: drdy, clk: o.Clock}
	var gain1, gain2 uint16
	maxGain := 1
	for ch, g := range o.Gain {
		if g == 0 {
			g = 1
		}
		code := -1
		for c := range 8 {
			if 1<<c == g {
				code = c
			}
		}
		if code < 0 {
			return nil, fmt.Errorf("ads131m08: channel %d gain %d; the PGA has 1, 2, 4, 8, 16, 32, 64, 128", ch, g)
		}
		maxGain = max(maxGain, g)
		d.scale[ch] = refVolts / float64(g) / (1 << 23)
		if ch < 4 {
			gain1 |= uint16(code) << (4 * ch)
		} else {
			gain2 |= uint16(code) << (4 * (ch - 4))
		}
	}
	osrCode, err := osrFor(o.ClockIn, o.DataRate, maxGain)
	if err != nil {
		return nil, err
	}
	fmod := float64(o.ClockIn) / float64(physic.Hertz) / 2
	d.rate = fmod / float64(osrs[osrCode])
	d.period = time.Duration(math.Round(float64(time.Second) / d.rate))
	d.timeout = o.ReadyTimeout
	if d.timeout <= 0 {
		d.timeout = 3 * d.period
	}
	d.stuckN = o.StuckFrames
	if d.stuckN == 0 {
		d.stuckN = 1000
	}
	d.regs = [4]uint16{modeValue, clockBase | uint16(osrCode)<<2, gain1, gain2}

	c, err := port.Connect(o.SPIClock, spi.Mode1, 8)
	if err != nil {
		return nil, fmt.Errorf("ads131m08: connect %s: %w", port, err)
	}
	d.conn = c
	if err := drdy.In(gpio.PullUp, gpio.FallingEdge); err != nil {
		return nil, fmt.Errorf("ads131m08: data-ready pin %s: %w", drdy, err)
	}
	if err := d.configure(); err != nil {
		return nil, err
	}
	return d, nil
}

// configure resets the chip and writes and verifies the configuration. Each
// command's response arrives in the following frame, so every step checks
// the previous one's answer.
func (d *Dev) configure() error {
	steps := []struct {
		cmd  uint16
		data []uint16
		want uint16 // response expected to the previous command
		mask uint16
		what string
	}{
		{cmd: cmdUnlock, mask: 0}, // answers whatever came before
		{cmd: cmdReset, want: cmdUnlock, mask: 0xFFFF, what: "UNLOCK acknowledgement"},
		{cmd: cmdRREG | regID<<7, want: ackReset, mask: 0xFFFF, what: "RESET acknowledgement"},
		{cmd: cmdWREG | regMode<<7, data: d.regs[:1], want: 0x2800, mask: 0xFF00, what: "ID (2 in RESERVED, CHANCNT 8)"},
		{cmd: cmdWREG | regClock<<7 | 2, data: d.regs[1:], want: ackWREG | regMode<<7, mask: 0xFFFF, what: "WREG MODE acknowledgement"},
		{cmd: cmdRREG | regMode<<7, want: ackWREG | regClock<<7 | 2, mask: 0xFFFF, what: "WREG CLOCK..GAIN2 acknowledgement"},
		{cmd: cmdRREG | regClock<<7, want: d.regs[0], mask: 0xFFFF, what: "MODE read back"},
		{cmd: cmdRREG | regGain1<<7, want: d.regs[1], mask: 0xFFFF, what: "CLOCK read back"},
		{cmd: cmdRREG | regGain2<<7, want: d.regs[2], mask: 0xFFFF, what: "GAIN1 read back"},
		{cmd: cmdNull, want: d.regs[3], mask: 0xFFFF, what: "GAIN2 read back"},
	}
	for i, s := range steps {
		clear(d.tx[:])
		put16(d.tx[:], s.cmd)
		for j, v := range s.data {
			put16(d.tx[(1+j)*wordBytes:], v)
		}
		if err := d.conn.Tx(d.tx[:], d.rx[:]); err != nil {
			return fmt.Errorf("ads131m08: configure, frame %d: %w", i+1, err)
		}
		if i > 0 && !d.crcOK() {
			return fmt.Errorf("ads131m08: configure, frame %d: CRC mismatch (is an ADS131M08 on %s, in SPI mode 1 with 24-bit words?)", i+1, d.name)
		}
		if got := get16(d.rx[:]); got&s.mask != s.want&s.mask {
			return fmt.Errorf("ads131m08: configure, frame %d: %s is %04Xh, want %04Xh", i+1, s.what, got, s.want)
		}
		if s.cmd == cmdReset {
			if err := d.clk.SleepUntil(context.Background(), d.clk.Now()+tREGACQ); err != nil {
				return fmt.Errorf("ads131m08: waiting after RESET: %w", err)
			}
		}
	}
	clear(d.tx[:]) // from now on every frame is NULL
	return nil
}

// String implements conn.Resource.
func (d *Dev) String() string { return d.name }

// Channels implements daq.ADC.
func (d *Dev) Channels() int { return channels }

// DataRate is the chip's actual sample rate in samples per second.
func (d *Dev) DataRate() float64 { return d.rate }

// Period is the time between conversions.
func (d *Dev) Period() time.Duration { return d.period }

// Stuck is the set of channels (bit n for channel n) in a stuck episode.
func (d *Dev) Stuck() uint8 { return d.stuck }

// Conversion implements daq.ADC: the index of the conversion the last Read
// delivered or consumed (a frame that failed its CRC check still used one
// up), counted from the first conversion Read saw, lost conversions
// included. A frame's time is Conversion × Period after that first one: the
// chip's crystal, not the host's wake-up, is the run's time base.
func (d *Dev) Conversion() int64 { return d.conv }

// Latency is how much later than the earliest of the last 64 the last
// conversion's data-ready was seen: the host's wake-up latency above its
// best case, which is all a host can tell of it (the chip does not stamp
// its conversions). `mockloop timing` reports it.
func (d *Dev) Latency() time.Duration { return d.latency }

// LSB is input's volts per code (1.2 V / gain / 2^23): Read's voltage is
// its code times this, exactly, which a run record uses to store the code.
func (d *Dev) LSB(input int) float64 { return d.scale[input] }

// Status is the STATUS word of the last frame that passed its CRC check.
func (d *Dev) Status() uint16 { return d.lastStatus }

// Health implements daq.ADC.
// The counters are read one by one: taken while Read runs, one may
// already count the frame in progress and another not yet.
func (d *Dev) Health() daq.ADCHealth {
	return daq.ADCHealth{Frames: d.frames.Load(), CRCErrors: d.crcErrors.Load(), MissedReady: d.missedReady.Load(),
		Gaps: d.gaps.Load(), Stuck: d.stuckFrames.Load()}
}

// Read implements daq.ADC: it waits for data-ready, reads one frame and
// writes the eight input voltages, V = code / 2^23 × 1.2 V / gain, into
// dst[:8]. See the package documentation for the errors.
func (d *Dev) Read(dst []float64) error {
	if d.halted {
		return ErrHalted
	}
	if len(dst) < channels {
		return errShortDst
	}
	t, ok := d.waitReady()
	if !ok {
		d.missedReady.Add(1)
		return ErrNotReady
	}
	if err := d.conn.Tx(d.tx[:], d.rx[:]); err != nil {
		return fmt.Errorf("ads131m08: read frame: %w", err)
	}
	if !d.crcOK() {
		lost := d.advance(t) // a conversion was consumed all the same
		d.crcErrors.Add(1)
		d.addGaps(lost)
		return ErrCRC
	}
	st := get16(d.rx[:])
	d.lastStatus = st
	if st&stReset != 0 {
		if !d.resetSeen {
			d.resetSeen = true
			d.gaps.Add(1)
		}
		return ErrChipReset
	}
	if st&stDRDY != stDRDY {
		d.missedReady.Add(1)
		return ErrStale
	}
	var lost uint64
	if st&stResync != 0 { // the schedule restarted: one gap, a new anchor
		lost, d.anchored = 1, false
	}
	lost += d.advance(t)
	var stuck uint64 // channels whose episode begins with this frame
	for ch := range channels {
		b := d.rx[(1+ch)*wordBytes:]
		code := int32(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8) >> 8
		dst[ch] = float64(code) * d.scale[ch]
		if d.stuckN < 0 {
			continue
		}
		if d.run[ch] > 0 && code == d.lastCode[ch] {
			d.run[ch]++
		} else {
			d.run[ch], d.lastCode[ch] = 1, code
			d.stuck &^= 1 << ch
		}
		if d.run[ch] == d.stuckN {
			d.stuck |= 1 << ch
			stuck++
		}
	}
	d.frames.Add(1)
	d.addGaps(lost)
	if stuck > 0 {
		d.stuckFrames.Add(stuck)
	}
	switch {
	case lost > 0:
		return ErrGap
	case stuck > 0:
		return ErrStuck
	}
	return nil
}

// waitReady returns when data-ready is asserted, with the time it was seen.
// The chip holds DRDY low until the frame is read, so a low pin means data
// wait; otherwise it waits for the falling edge and confirms the level, since
// an edge queued before the last read may still be reported.
func (d *Dev) waitReady() (time.Duration, bool) {
	if d.drdy.Read() == gpio.Low {
		return d.clk.Now(), true
	}
	deadline := d.clk.Now() + d.timeout
	for range 4 {
		left := deadline - d.clk.Now()
		if left <= 0 || !d.drdy.WaitForEdge(left) {
			return 0, false
		}
		if d.drdy.Read() == gpio.Low {
			return d.clk.Now(), true
		}
	}
	return 0, false
}

// advance accounts the conversion just read, whose data-ready was seen at
// t, moves Conversion on, and returns how many conversions passed unread
// before it.
//
// Conversion k happens at φ + k·T and is seen at t = φ + k·T + latency,
// latency ≥ 0, so min(t − k·T) over recent reads estimates φ to within the
// least latency among them. The conversion read at t is then
// n = ⌊(t − φ̂ − k·T)/T + 0.1⌋ periods after the last one: exact while a read
// comes less than 0.9 T after its conversion. A misjudged frame shifts k
// by one but not the estimate of φ, so later frames are judged right.
func (d *Dev) advance(t time.Duration) uint64 {
	n := d.conversions(t)
	switch {
	case !d.convSeen:
		d.convSeen = true
	case n > 0:
		d.conv += n
	default:
		// A re-anchoring: the phase is new, so the periods since the
		// last read are the best count there is, and at least one.
		d.conv += max(1, int64((t-d.convAt+d.period/2)/d.period))
	}
	d.convAt = t
	if n <= 0 {
		return 0
	}
	return uint64(n - 1)
}

// conversions returns how many periods passed since the last conversion
// read, or 0 when t starts a new anchor.
func (d *Dev) conversions(t time.Duration) int64 {
	if !d.anchored {
		d.anchored, d.k, d.nOffs, d.nLive = true, 0, 0, 0
		d.pushOffset(t)
		return 0
	}
	// The minimum over the last window reads; older ones drop out.
	for d.offs[d.head].n < d.nOffs-window {
		d.head, d.nLive = (d.head+1)%window, d.nLive-1
	}
	phase := d.offs[d.head].v
	last := phase + time.Duration(d.k)*d.period
	n := int64(1)
	if dt := t - last + d.period/10; dt > d.period {
		n = int64(dt / d.period)
	}
	d.k += n
	d.pushOffset(t - time.Duration(d.k)*d.period)
	d.latency = t - time.Duration(d.k)*d.period - d.offs[d.head].v
	return n
}

// pushOffset records the offset of read number d.nOffs: the entries it
// undercuts can never be the minimum again and go.
func (d *Dev) pushOffset(v time.Duration) {
	for d.nLive > 0 && d.offs[(d.head+d.nLive-1)%window].v >= v {
		d.nLive--
	}
	if d.nLive == window { // only when every entry is older than the window
		d.head, d.nLive = (d.head+1)%window, d.nLive-1
	}
	d.offs[(d.head+d.nLive)%window] = offset{n: d.nOffs, v: v}
	d.nLive++
	d.nOffs++
}

func (d *Dev) addGaps(n uint64) {
	if n > 0 {
		d.gaps.Add(n)
	}
}

// crcOK checks the CRC word against the 27 bytes before it.
func (d *Dev) crcOK() bool {
	const at = (frameWords - 1) * wordBytes
	return crc16.Checksum(d.rx[:at], crc16.CCITT) == get16(d.rx[at:])
}

// Halt implements conn.Resource: the chip goes to standby (conversions
// stop, the inputs are released). Read fails afterwards.
func (d *Dev) Halt() error {
	if d.halted {
		return nil
	}
	clear(d.tx[:])
	put16(d.tx[:], cmdStandby)
	err := d.conn.Tx(d.tx[:], d.rx[:])
	clear(d.tx[:])
	d.halted = true
	if err != nil {
		return fmt.Errorf("ads131m08: standby: %w", err)
	}
	return nil
}

// Close puts the chip in standby like Halt. The SPI port and the pin stay
// the caller's.
func (d *Dev) Close() error { return d.Halt() }

func put16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }

func get16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
