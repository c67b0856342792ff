package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/internal/crc16"
)

// AnalogFrontEnd supplies the eight differential input voltages of the
// ADS131M08 emulator. Volts is called once for each conversion that is read
// out, with the conversion instant: times never decrease and are never after
// the clock's now. The bench implements it by advancing the physics to now
// and passing each signal through its Transducer. It is called with the
// emulator's lock held and must not call back into the emulator.
type AnalogFrontEnd interface {
	Volts(now time.Duration, dst *[8]float64)
}

// FrontEndFunc adapts a function to AnalogFrontEnd.
type FrontEndFunc func(now time.Duration, dst *[8]float64)

// Volts implements AnalogFrontEnd.
func (f FrontEndFunc) Volts(now time.Duration, dst *[8]float64) { f(now, dst) }

// ADS131M08Config describes the emulated chip's surroundings on the board.
type ADS131M08Config struct {
	// Clock is the run's clock; conversions happen on its timeline. Required.
	Clock clock.Clock
	// FrontEnd supplies the input voltages; nil shorts every input (0 V).
	FrontEnd AnalogFrontEnd
	// ClockIn is the frequency at CLKIN; 0 means 8.192 MHz. The datasheet
	// allows 0.3 to 8.4 MHz in high-resolution mode.
	ClockIn physic.Frequency
	// Port names the SPI port, as periph's registry would ("SPI0.0").
	Port string
	// NoiseRMS is the chip's input-referred noise in volts (SBAS950 table
	// 7-1: about 1.5 µV RMS at 1 kSPS, gain 1). A real converter never
	// returns the same code twice from a grounded input; 0 means no noise,
	// for tests that need exact codes.
	NoiseRMS float64
}

// ADS131M08 emulates a TI ADS131M08 (SBAS950B) on its SPI bus and its
// data-ready pin, so that the real driver runs unchanged in simulation.
//
// It implements spi.PortCloser; the spi.Conn that Connect returns answers
// each Tx as one SPI frame of the chip: the command word (NULL, RESET,
// STANDBY, WAKEUP, LOCK, UNLOCK, RREG, WREG) and its register data come in,
// the response to the previous frame's command, the eight channel words and
// the output CRC go out, in the word length of MODE.WLENGTH. The register
// file holds the datasheet's reset values; every register can be read and
// the writable ones written, but only MODE, CLOCK, GAIN1 and GAIN2 change
// the emulated behaviour (word length, CRC type, input CRC, data rate,
// channel enables, gains). The channel configuration, calibration, current
// detection and global-chop registers are stored, not applied; the register
// map CRC (REGMAP_CRC) reads 0.
//
// Conversions happen at instants k·T (k an integer, T = OSR·2/fCLKIN) on
// the clock's timeline; after a reset, a change of CLOCK or a WAKEUP the
// first valid one is the next such instant (the filter settling of the real
// chip is not modelled). A frame carries the latest conversion at or before
// the clock's now; conversions that passed unread are lost, as on the chip,
// which overwrites them. DRDY reads low while a conversion newer than the
// last one read out is waiting, and the STATUS word's DRDY bits are set for
// the enabled channels in exactly that case.
//
// Faults for tests: CorruptCRC, SuppressDRDY, DropConversions, Freeze,
// Resync, PowerCycle.
type ADS131M08 struct {
	clk     clock.Clock
	afe     AnalogFrontEnd
	clkinHz int64
	name    string
	drdy    *Pin

	mu        sync.Mutex
	connected bool
	closed    bool
	limit     physic.Frequency

	regs        [nRegs]uint16
	locked      bool
	standby     bool
	fResync     bool // STATUS.F_RESYNC, reported once
	crcErr      bool // STATUS.CRC_ERR, reported once
	resp        response
	regAcqUntil time.Duration // no frame accepted before (t_REGACQ after RESET)

	period   time.Duration // T
	phase    time.Duration // conversion k happens at phase + k·T
	kStart   int64         // first valid conversion since the last (re)start
	lastRead int64         // last conversion shifted out (kStart-1: none yet)
	lost     uint64        // conversions overwritten before being read

	// latest's last answer, for the several asks of one frame at one now
	// (a division saved each); latOK is cleared when phase or T change.
	latNow time.Duration
	latK   int64
	latOK  bool

	supFrom, supTo int64 // conversions whose DRDY assertion is suppressed (inclusive)
	// dropBelow, dropSeed: DRDY is suppressed for a random fraction of
	// conversions, those whose hash falls below dropBelow (0: none).
	dropBelow, dropSeed uint64
	corrupt             int // frames whose output CRC is still to be corrupted

	frozen     [8]bool
	frozenSet  [8]bool
	frozenCode [8]int32

	cacheK     int64
	cacheValid bool
	codes      [8]int32
	vin        [8]float64
	noise      [8]Transducer // the chip's own input-referred noise
	out        [maxTxBytes]byte
}

// Datasheet facts the emulator stands on (SBAS950B). They are written out
// here, not shared with the driver, so each checks the other.
const (
	nRegs = 64

	regID      = 0x00
	regSTATUS  = 0x01
	regMODE    = 0x02
	regCLOCK   = 0x03
	regGAIN1   = 0x04
	regGAIN2   = 0x05
	regCFG     = 0x06
	regTHMSB   = 0x07
	regTHLSB   = 0x08
	regCH0     = 0x09 // CHn_CFG at 0x09+5n, then OCAL_MSB, OCAL_LSB, GCAL_MSB, GCAL_LSB
	regLastCH  = 0x30
	regMAPCRC  = 0x3E
	resetValID = 0x2800 // RESERVED 0010b, CHANCNT 8, revision 00h

	opNULL    = 0x0000
	opRESET   = 0x0011
	opSTANDBY = 0x0022
	opWAKEUP  = 0x0033
	opLOCK    = 0x0555
	opUNLOCK  = 0x0655
	ackRESET  = 0xFF28 // FF20h + channel count

	modeRegCRCEn = 1 << 13
	modeRxCRCEn  = 1 << 12
	modeCRCType  = 1 << 11
	modeReset    = 1 << 10

	frameWords  = 10 // response, 8 channels, CRC
	maxSCLK     = 25 * physic.MegaHertz
	maxTxBytes  = 4096 // the Pi's spidev buffer: larger transfers fail there
	tREGACQ     = 5 * time.Microsecond
	codeMax     = 1<<23 - 1
	codeMin     = -1 << 23
	refVolts    = 1.2
	defaultCLKI = 8192 * physic.KiloHertz
)

var osrs = [8]int64{128, 256, 512, 1024, 2048, 4096, 8192, 16256}

type respKind uint8

const (
	respStatus respKind = iota // STATUS, read when the frame starts
	respWord                   // a fixed word
	respRegs                   // RREG of several registers: header and data, no ADC data
)

type response struct {
	kind    respKind
	word    uint16
	addr, n int
}

// NewADS131M08 returns a powered-up chip: registers at their reset values,
// converting at the default 4 kSPS (OSR 1024 at 8.192 MHz).
func NewADS131M08(cfg ADS131M08Config) (*ADS131M08, error) {
	if cfg.Clock == nil {
		return nil, errors.New("sim: ADS131M08 needs a clock")
	}
	f := cfg.ClockIn
	if f == 0 {
		f = defaultCLKI
	}
	if f < 300*physic.KiloHertz || f > 8400*physic.KiloHertz {
		return nil, fmt.Errorf("sim: ADS131M08 CLKIN %s outside 300 kHz to 8.4 MHz", f)
	}
	name := cfg.Port
	if name == "" {
		name = "ADS131M08"
	}
	c := &ADS131M08{clk: cfg.Clock, afe: cfg.FrontEnd, clkinHz: int64(f / physic.Hertz), name: name}
	c.drdy = &Pin{name: name + ".DRDY", number: -1, clk: cfg.Clock, src: c, pull: gpio.Float}
	if cfg.NoiseRMS < 0 || math.IsNaN(cfg.NoiseRMS) {
		return nil, fmt.Errorf("sim: ADS131M08 noise %g V is not a noise level", cfg.NoiseRMS)
	}
	for ch := range c.noise {
		c.noise[ch] = Transducer{Sensitivity: 1, NoiseRMS: cfg.NoiseRMS, Seed: 0xad5131 + uint64(ch)}
	}
	c.supFrom, c.supTo = 1, 0
	c.reset(c.clk.Now())
	c.resp = response{kind: respStatus}
	c.regAcqUntil = 0
	return c, nil
}

// DRDY is the chip's data-ready output, an input pin to the host.
func (c *ADS131M08) DRDY() *Pin { return c.drdy }

// String implements spi.Port.
func (c *ADS131M08) String() string { return c.name }

// LimitSpeed implements spi.PortCloser.
func (c *ADS131M08) LimitSpeed(f physic.Frequency) error {
	if f <= 0 {
		return fmt.Errorf("sim: %s: invalid speed limit %s", c.name, f)
	}
	c.mu.Lock()
	c.limit = f
	c.mu.Unlock()
	return nil
}

// Close implements spi.PortCloser; later transfers fail.
func (c *ADS131M08) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

// Connect implements spi.Port. It refuses what the chip or the host's
// spidev would refuse: a second Connect, a clock of 0 Hz or above the
// chip's 25 MHz, any mode but 1 (CPOL=0, CPHA=1: the chip shifts data out on
// the rising and samples on the falling SCLK edge), any word size but 8 bits.
func (c *ADS131M08) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, fmt.Errorf("sim: %s: port closed", c.name)
	case c.connected:
		return nil, fmt.Errorf("sim: %s: Connect called twice", c.name)
	case f <= 0:
		return nil, fmt.Errorf("sim: %s: SPI clock %s rejected; pass the chip's maximum", c.name, f)
	case f > maxSCLK:
		return nil, fmt.Errorf("sim: %s: SPI clock %s above the ADS131M08's %s", c.name, f, maxSCLK)
	case mode != spi.Mode1:
		return nil, fmt.Errorf("sim: %s: SPI %s; the ADS131M08 needs Mode1 (CPOL=0, CPHA=1)", c.name, mode)
	case bits != 8:
		return nil, fmt.Errorf("sim: %s: %d bits per word; send 24-bit words as 3 bytes", c.name, bits)
	}
	if c.limit != 0 && f > c.limit {
		f = c.limit
	}
	c.connected = true
	return &ads131m08Conn{c: c, f: f}, nil
}

// ads131m08Conn is the connected bus: every Tx is one frame, chip select
// low for the whole transfer.
type ads131m08Conn struct {
	c *ADS131M08
	f physic.Frequency
}

func (k *ads131m08Conn) String() string       { return k.c.name }
func (k *ads131m08Conn) Duplex() conn.Duplex  { return conn.Full }
func (k *ads131m08Conn) MaxTxSize() int       { return maxTxBytes }
func (k *ads131m08Conn) Tx(w, r []byte) error { return k.c.frame(w, r) }
func (k *ads131m08Conn) TxPackets([]spi.Packet) error {
	return fmt.Errorf("sim: %s: TxPackets not emulated; send each frame with Tx", k.c.name)
}

var (
	_ spi.PortCloser = (*ADS131M08)(nil)
	_ spi.Conn       = (*ads131m08Conn)(nil)
	_ conn.Limits    = (*ads131m08Conn)(nil)
)

// Fault injection.

// CorruptCRC flips a bit of the output CRC of the next n frames, as noise
// on MISO would.
func (c *ADS131M08) CorruptCRC(n int) {
	c.mu.Lock()
	c.corrupt += n
	c.mu.Unlock()
}

// SuppressDRDY keeps DRDY from asserting for the next n conversions, as a
// broken wire or a lost interrupt would: the chip still converts (and
// overwrites), the host is just not told.
func (c *ADS131M08) SuppressDRDY(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	from := max(c.latest(c.clk.Now())+1, c.kStart)
	c.supFrom, c.supTo = from, from+int64(n)-1
}

// DropConversions keeps DRDY from asserting for a random fraction (0 to 1)
// of all later conversions, chosen by seed, as a host that misses
// interrupts would see them: the chip converts and overwrites, and the
// next frame read is a later conversion. 0 ends it.
func (c *ADS131M08) DropConversions(fraction float64, seed uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropBelow, c.dropSeed = uint64(min(max(fraction, 0), 1)*(1<<63))*2, seed
}

// Freeze makes channel ch repeat the code of its next conversion for ever,
// as a channel whose input stage died would: a real transducer is never
// that quiet.
func (c *ADS131M08) Freeze(ch int) error {
	if ch < 0 || ch > 7 {
		return fmt.Errorf("sim: %s: no channel %d", c.name, ch)
	}
	c.mu.Lock()
	c.frozen[ch], c.frozenSet[ch] = true, false
	c.mu.Unlock()
	return nil
}

// Thaw undoes Freeze.
func (c *ADS131M08) Thaw(ch int) error {
	if ch < 0 || ch > 7 {
		return fmt.Errorf("sim: %s: no channel %d", c.name, ch)
	}
	c.mu.Lock()
	c.frozen[ch] = false
	c.mu.Unlock()
	return nil
}

// Resync models a SYNC pulse the chip saw out of step with its clock: the
// conversion phase restarts now, and the next STATUS word has F_RESYNC set.
func (c *ADS131M08) Resync() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clk.Now()
	c.phase = now
	c.latOK = false
	c.restart(now)
	c.fResync = true
}

// PowerCycle models a supply dip: every register returns to its reset
// value and STATUS.RESET is set again, which the driver must notice since
// its data rate and gains are gone.
func (c *ADS131M08) PowerCycle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset(c.clk.Now())
	c.resp = response{kind: respStatus}
	c.regAcqUntil = 0
}

// Inspection, for tests and the bench.

// Register returns the content of register addr as the chip holds it.
func (c *ADS131M08) Register(addr int) uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readReg(addr, c.clk.Now())
}

// Standby reports whether the chip is in standby (after STANDBY, until WAKEUP or RESET).
func (c *ADS131M08) Standby() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.standby
}

// Period is the time between conversions at the current OSR.
func (c *ADS131M08) Period() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.period
}

// Lost is the number of conversions overwritten before they were read out.
func (c *ADS131M08) Lost() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// Chip state. Every method below needs c.mu.

func (c *ADS131M08) reset(now time.Duration) {
	c.regs = [nRegs]uint16{}
	c.regs[regID] = resetValID
	c.regs[regSTATUS] = 0x0500
	c.regs[regMODE] = 0x0510
	c.regs[regCLOCK] = 0xFF0E
	c.regs[regCFG] = 0x0600
	for ch := range 8 {
		c.regs[regCH0+5*ch+3] = 0x8000 // GCAL_MSB: gain 1.0
	}
	c.locked, c.standby = false, false
	c.fResync, c.crcErr = false, false
	c.phase = 0
	c.latOK = false
	c.restart(now)
	c.resp = response{kind: respWord, word: ackRESET}
	c.regAcqUntil = now + tREGACQ
}

// restart begins converting afresh: the first valid conversion is the next
// instant of the schedule after now.
func (c *ADS131M08) restart(now time.Duration) {
	osr := osrs[c.regs[regCLOCK]>>2&7]
	c.period = time.Duration((osr*2*int64(time.Second) + c.clkinHz/2) / c.clkinHz)
	c.latOK = false
	c.kStart = c.latest(now) + 1
	c.lastRead = c.kStart - 1
	c.cacheValid = false
}

// latest is the index of the last conversion instant at or before now.
func (c *ADS131M08) latest(now time.Duration) int64 {
	if c.latOK && now == c.latNow {
		return c.latK
	}
	d, p := int64(now-c.phase), int64(c.period)
	k := d / p
	if d%p != 0 && d < 0 {
		k--
	}
	c.latNow, c.latK, c.latOK = now, k, true
	return k
}

// converting reports whether ADC data are being produced (and so output).
func (c *ADS131M08) converting() bool {
	return !c.standby && c.regs[regCLOCK]>>8 != 0
}

// fresh reports whether a conversion newer than the last read is waiting.
func (c *ADS131M08) fresh(now time.Duration) bool {
	k := c.latest(now)
	return c.converting() && k >= c.kStart && k > c.lastRead
}

func (c *ADS131M08) suppressed(k int64) bool {
	return k >= c.supFrom && k <= c.supTo || c.dropBelow > 0 && splitmix64(uint64(k)^c.dropSeed) < c.dropBelow
}

// splitmix64 is the finaliser of SplitMix64 (Steele, Lea, Flood 2014): a
// well-mixed hash of a conversion's index, so that which conversions a
// Drop fault loses does not depend on when anyone asked.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// pinLevel implements pinSource: DRDY is low while fresh data wait, unless
// their assertion is suppressed.
func (c *ADS131M08) pinLevel() gpio.Level {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clk.Now()
	if c.fresh(now) && !c.suppressed(c.latest(now)) {
		return gpio.Low
	}
	return gpio.High
}

// nextAssert is the time DRDY next falls, if the chip is converting.
func (c *ADS131M08) nextAssert(now time.Duration) (time.Duration, bool) {
	if !c.converting() {
		return 0, false
	}
	k := max(c.latest(now)+1, c.kStart)
	for range 1 << 16 {
		switch {
		case k >= c.supFrom && k <= c.supTo:
			k = c.supTo + 1
		case c.suppressed(k):
			k++ // dropped at random
		default:
			return c.phase + time.Duration(k)*c.period, true
		}
	}
	return 0, false // every conversion dropped
}

// pinWait implements pinSource: true at once if data are ready, else a
// sleep on the clock to the next DRDY assertion if it comes within timeout,
// else a sleep of timeout and false. Only the falling (asserting) edge is
// modelled.
func (c *ADS131M08) pinWait(edge gpio.Edge, timeout time.Duration) bool {
	falling := edge == gpio.FallingEdge || edge == gpio.BothEdges
	start := c.clk.Now()
	for {
		c.mu.Lock()
		now := c.clk.Now()
		if falling && c.fresh(now) && !c.suppressed(c.latest(now)) {
			c.mu.Unlock()
			return true
		}
		next, ok := c.nextAssert(now)
		c.mu.Unlock()
		ok = ok && falling
		if timeout >= 0 && (!ok || next > start+timeout) {
			if end := start + timeout; end > now {
				_ = c.clk.SleepUntil(context.Background(), end)
			}
			return false
		}
		if !ok { // waiting for ever on a chip that will never assert
			return false
		}
		if err := c.clk.SleepUntil(context.Background(), next); err != nil {
			return false
		}
	}
}

// conversion returns the codes of conversion k, sampling the front end the
// first time it is asked.
func (c *ADS131M08) conversion(k int64) *[8]int32 {
	if c.cacheValid && c.cacheK == k {
		return &c.codes
	}
	if c.afe != nil {
		c.afe.Volts(c.phase+time.Duration(k)*c.period, &c.vin)
	} else {
		c.vin = [8]float64{}
	}
	for ch := range 8 {
		if c.frozen[ch] && c.frozenSet[ch] {
			c.codes[ch] = c.frozenCode[ch]
			continue
		}
		c.codes[ch] = quantize(c.noise[ch].Volts(c.vin[ch]), c.gain(ch))
		if c.frozen[ch] {
			c.frozenCode[ch], c.frozenSet[ch] = c.codes[ch], true
		}
	}
	c.cacheK, c.cacheValid = k, true
	return &c.codes
}

// gain is the PGA gain of channel ch from GAIN1/GAIN2.
func (c *ADS131M08) gain(ch int) float64 {
	r := c.regs[regGAIN1]
	if ch >= 4 {
		r = c.regs[regGAIN2]
	}
	return float64(int(1) << (r >> (4 * (ch % 4)) & 7))
}

// quantize is the ideal 24-bit transfer function: one code is
// 1.2 V / gain / 2^23, rounded to nearest, clipped at 7FFFFFh and 800000h.
func quantize(v, gain float64) int32 {
	x := math.Round(v * gain / refVolts * (1 << 23))
	switch {
	case x != x: // NaN: an open input, read as zero
		return 0
	case x > codeMax:
		return codeMax
	case x < codeMin:
		return codeMin
	}
	return int32(x)
}

// status is the STATUS register now; drdy says whether the data of the
// frame being output are new.
func (c *ADS131M08) status(drdy bool) uint16 {
	s := c.regs[regMODE] & (modeCRCType | modeReset | 0x0300)
	if c.locked {
		s |= 1 << 15
	}
	if c.fResync {
		s |= 1 << 14
	}
	if c.crcErr {
		s |= 1 << 12
	}
	if drdy {
		s |= c.regs[regCLOCK] >> 8
	}
	return s
}

func (c *ADS131M08) readReg(addr int, now time.Duration) uint16 {
	switch {
	case addr == regSTATUS:
		return c.status(c.fresh(now))
	case addr < 0 || addr >= nRegs:
		return 0
	}
	return c.regs[addr]
}

// writeReg stores v in a writable register, keeping reserved bits zero,
// and applies what the write changes.
func (c *ADS131M08) writeReg(addr int, v uint16, now time.Duration) {
	old := uint16(0)
	if addr >= 0 && addr < nRegs {
		old = c.regs[addr]
	}
	switch {
	case addr == regMODE:
		// RESET can only be cleared by writing 0.
		v = v&0x3B1F | v&old&modeReset
	case addr == regCLOCK:
		v &= 0xFF1F
	case addr == regGAIN1, addr == regGAIN2:
		v &= 0x7777
		c.cacheValid = false
	case addr == regCFG:
		v &= 0x1FFF
	case addr == regTHLSB:
		v &= 0xFF0F
	case addr == regTHMSB:
	case addr >= regCH0 && addr <= regLastCH:
		if (addr-regCH0)%5 == 2 || (addr-regCH0)%5 == 4 { // OCAL_LSB, GCAL_LSB
			v &= 0xFF00
		}
	default: // ID, STATUS, REGMAP_CRC, reserved: read-only
		return
	}
	c.regs[addr] = v
	if addr == regCLOCK && v != old {
		c.restart(now)
	}
}

func (c *ADS131M08) wordBytes() int {
	switch c.regs[regMODE] >> 8 & 3 {
	case 0:
		return 2
	case 1:
		return 3
	}
	return 4
}

// frame is one SPI transfer with chip select low throughout.
func (c *ADS131M08) frame(w, r []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clk.Now()
	switch {
	case c.closed:
		return fmt.Errorf("sim: %s: port closed", c.name)
	case len(r) != 0 && len(r) != len(w):
		return fmt.Errorf("sim: %s: Tx with %d bytes out and %d in; a full-duplex frame needs both equal", c.name, len(w), len(r))
	case len(w) > maxTxBytes:
		return fmt.Errorf("sim: %s: Tx of %d bytes above spidev's %d", c.name, len(w), maxTxBytes)
	case now < c.regAcqUntil:
		return fmt.Errorf("sim: %s: frame %v after RESET; wait t_REGACQ = %v first", c.name, now-(c.regAcqUntil-tREGACQ), tREGACQ)
	}
	wb := c.wordBytes()
	if len(w) == 0 || len(w)%wb != 0 {
		return fmt.Errorf("sim: %s: frame of %d bytes is not whole %d-byte words", c.name, len(w), wb)
	}
	words := len(w) / wb
	cmd := uint16(w[0])<<8 | uint16(w[1])
	rxCRC := c.regs[regMODE]&modeRxCRCEn != 0
	need := 1 // words the command needs on DIN
	if cmd&0xE000 == 0x6000 {
		need += int(cmd&0x7F) + 1
	}
	if rxCRC {
		need++
	}
	layout := frameWords // response, 8 channels, CRC
	if c.resp.kind == respRegs {
		layout = c.resp.n + 2 // header, registers, CRC; no ADC data
	}
	full := max(layout, need)
	converting := c.converting()
	if converting || c.resp.kind == respRegs {
		if words != full {
			return fmt.Errorf("sim: %s: frame of %d words, the chip expects %d words of %d bytes (%d bytes)",
				c.name, words, full, wb, full*wb)
		}
	} else if words < need || words > full {
		return fmt.Errorf("sim: %s: frame of %d words; the command needs %d to %d", c.name, words, need, full)
	}

	// DOUT: the response to the last command, the conversion, the CRC.
	out := c.out[:len(w)]
	clear(out)
	wlen := c.regs[regMODE] >> 8 & 3
	k := c.latest(now)
	data := converting && c.resp.kind != respRegs && k >= c.kStart
	isNew := data && k > c.lastRead
	switch c.resp.kind {
	case respStatus:
		put16(out, c.status(isNew))
		c.fResync, c.crcErr = false, false
	case respWord:
		put16(out, c.resp.word)
	case respRegs:
		put16(out, 0xE000|uint16(c.resp.addr)<<7|uint16(c.resp.n-1))
		for i := range c.resp.n {
			put16(out[(1+i)*wb:], c.readReg(c.resp.addr+i, now))
		}
	}
	if data {
		codes := c.conversion(k)
		en := c.regs[regCLOCK] >> 8
		for ch := range 8 {
			if en>>ch&1 != 0 && (1+ch) < words {
				putCode(out[(1+ch)*wb:], codes[ch], wlen)
			}
		}
		if isNew {
			c.lost += uint64(k - c.lastRead - 1)
			c.lastRead = k
		}
	}
	if words >= layout {
		at := (layout - 1) * wb
		crc := frameCRC(out[:at], c.regs[regMODE]&modeCRCType != 0)
		if c.corrupt > 0 {
			crc ^= 1
			c.corrupt--
		}
		put16(out[at:], crc)
	}
	copy(r, out)

	// DIN: the command, taking effect at the end of the frame.
	c.resp = response{kind: respStatus}
	if rxCRC {
		at := (need - 1) * wb
		if uint16(w[at])<<8|uint16(w[at+1]) != frameCRC(w[:at], c.regs[regMODE]&modeCRCType != 0) {
			c.crcErr = true
			return nil
		}
	}
	c.exec(cmd, w, wb, words == full, now)
	return nil
}

// exec carries out a command word; unknown words, and commands the lock
// forbids, act as NULL.
func (c *ADS131M08) exec(cmd uint16, w []byte, wb int, full bool, now time.Duration) {
	addr, n := int(cmd>>7&0x3F), int(cmd&0x7F)+1
	switch {
	case cmd == opNULL:
	case cmd == opUNLOCK:
		c.locked = false
		c.resp = response{kind: respWord, word: cmd}
	case cmd&0xE000 == 0xA000: // RREG
		switch {
		case n > 1:
			c.resp = response{kind: respRegs, addr: addr, n: n}
		case addr != regSTATUS:
			c.resp = response{kind: respWord, word: c.readReg(addr, now)}
		}
	case c.locked: // only NULL, UNLOCK and RREG pass the lock
	case cmd == opRESET:
		if !full { // the datasheet: a short RESET frame does not reset
			c.resp = response{kind: respWord, word: cmd}
			return
		}
		c.reset(now)
	case cmd == opSTANDBY:
		c.standby = true
		c.resp = response{kind: respWord, word: cmd}
	case cmd == opWAKEUP:
		if c.standby {
			c.standby = false
			c.restart(now)
		}
		c.resp = response{kind: respWord, word: cmd}
	case cmd == opLOCK:
		c.locked = true
		c.resp = response{kind: respWord, word: cmd}
	case cmd&0xE000 == 0x6000: // WREG
		for i := range n {
			b := w[(1+i)*wb:]
			c.writeReg(addr+i, uint16(b[0])<<8|uint16(b[1]), now)
		}
		c.resp = response{kind: respWord, word: 0x4000 | cmd&0x1FFF}
	}
}

// put16 writes a command, response, register or CRC word: 16 bits, MSB
// first, the rest of the word left zero.
func put16(b []byte, v uint16) {
	b[0], b[1] = byte(v>>8), byte(v)
}

// putCode writes a 24-bit conversion result in the word length of
// MODE.WLENGTH: truncated to 16 bits, 24 bits, zero-padded or sign-extended
// to 32 bits.
func putCode(b []byte, code int32, wlen uint16) {
	switch wlen {
	case 0:
		b[0], b[1] = byte(code>>16), byte(code>>8)
	case 1, 2:
		b[0], b[1], b[2] = byte(code>>16), byte(code>>8), byte(code)
	case 3:
		b[0], b[1], b[2], b[3] = byte(code>>24), byte(code>>16), byte(code>>8), byte(code)
	}
}

// frameCRC is the output or input frame CRC of the chip: CCITT, or ANSI
// when MODE.CRC_TYPE is set.
func frameCRC(b []byte, ansi bool) uint16 {
	if ansi {
		return crc16.Checksum(b, crc16.ANSI)
	}
	return crc16.Checksum(b, crc16.CCITT)
}
