package ads131m08_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi/spitest"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/daq/ads131m08"
	"github.com/mockloop/mockloop/sim"
)

// In most tests DRDY is a sim.Pin driven by the test: a plain emulated
// gpio.PinIO that waits on the virtual clock, so a missed data-ready costs no
// real time. TestPeriphGpiotestPin runs the driver on periph's own
// gpiotest.Pin as well.

// The bytes below are written from the datasheet (SBAS950B), not produced by
// the driver: table 8-11 for the command words and their responses, table
// 8-12 for register addresses and reset values, section 8.5.1 for the frame
// (ten 24-bit words, 16-bit commands MSB-aligned and zero-padded), 8.3.12 for
// the CRC.

// crcCCITT is CRC-16-CCITT as the datasheet states it, bit by bit:
// polynomial 1021h, seed FFFFh, MSB first.
func crcCCITT(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		for i := 7; i >= 0; i-- {
			bit := (x>>i)&1 != 0
			top := crc&0x8000 != 0
			crc <<= 1
			if bit != top {
				crc ^= 0x1021
			}
		}
	}
	return crc
}

func TestCRCReference(t *testing.T) {
	// The CRC-16/CCITT-FALSE check value of the CRC catalogue.
	if got := crcCCITT([]byte("123456789")); got != 0x29B1 {
		t.Fatalf("test CRC of 123456789 = %04X, want 29B1", got)
	}
}

// tx is a frame the host sends: 16-bit words, each padded to 24 bits.
func tx(words ...uint16) []byte {
	b := make([]byte, 30)
	for i, w := range words {
		b[3*i], b[3*i+1] = byte(w>>8), byte(w)
	}
	return b
}

// rx is a frame the chip sends: response word, eight 24-bit channel words
// given as raw bytes, CRC word.
func rx(resp uint16, ch [8][3]byte) []byte {
	b := make([]byte, 30)
	b[0], b[1] = byte(resp>>8), byte(resp)
	for i, c := range ch {
		copy(b[3+3*i:], c[:])
	}
	crc := crcCCITT(b[:27])
	b[27], b[28] = byte(crc>>8), byte(crc)
	return b
}

var zero [8][3]byte

// initOps is New's conversation with the chip for CLOCK, GAIN1, GAIN2.
func initOps(clk, gain1, gain2 uint16) []conntest.IO {
	return []conntest.IO{
		{W: tx(0x0655), R: rx(0x0500, zero)},                    // UNLOCK; STATUS after power-up
		{W: tx(0x0011), R: rx(0x0655, zero)},                    // RESET; UNLOCK acknowledged
		{W: tx(0xA000), R: rx(0xFF28, zero)},                    // RREG ID; RESET acknowledged (FF20h + 8)
		{W: tx(0x6100, 0x0110), R: rx(0x2800, zero)},            // WREG MODE = 0110h; ID 28xxh
		{W: tx(0x6182, clk, gain1, gain2), R: rx(0x4100, zero)}, // WREG CLOCK..GAIN2; MODE write acknowledged
		{W: tx(0xA100), R: rx(0x4182, zero)},                    // RREG MODE; CLOCK..GAIN2 write acknowledged
		{W: tx(0xA180), R: rx(0x0110, zero)},                    // RREG CLOCK; MODE
		{W: tx(0xA200), R: rx(clk, zero)},                       // RREG GAIN1; CLOCK
		{W: tx(0xA280), R: rx(gain1, zero)},                     // RREG GAIN2; GAIN1
		{W: tx(0x0000), R: rx(gain2, zero)},                     // NULL; GAIN2
	}
}

// statusNew is STATUS with 24-bit words and new data on all eight channels.
const statusNew = 0x01FF

type rig struct {
	dev *ads131m08.Dev
	bus *spitest.Playback
	pin *sim.Pin
	clk *clock.Virtual
}

func newRig(t *testing.T, opts ads131m08.Opts, ops []conntest.IO) *rig {
	t.Helper()
	r := &rig{
		bus: &spitest.Playback{Playback: conntest.Playback{Ops: ops, DontPanic: true}},
		clk: clock.NewVirtual(time.Unix(0, 0)),
	}
	r.pin = sim.NewPin("GPIO25", 25, r.clk)
	opts.Clock = r.clk
	dev, err := ads131m08.New(r.bus, r.pin, &opts)
	if err != nil {
		t.Fatal(err)
	}
	r.dev = dev
	return r
}

// ready makes DRDY fall, as the chip does when a conversion completes
// (after the last read took it high).
func (r *rig) ready() {
	_ = r.pin.Drive(gpio.High)
	_ = r.pin.Drive(gpio.Low)
}

func TestInitSequence(t *testing.T) {
	// 1 kSPS at 8.192 MHz is OSR 4096: OSR[2:0] = 101b, PWR = 10b (HR),
	// all channels on: CLOCK = FF16h. Default gains 1: GAIN1 = GAIN2 = 0.
	r := newRig(t, ads131m08.Opts{}, initOps(0xFF16, 0, 0))
	if err := r.bus.Close(); err != nil {
		t.Fatal(err) // every frame of the sequence was sent
	}
	if got := r.dev.DataRate(); got != 1000 {
		t.Errorf("data rate %g, want 1000", got)
	}
	// The only wait of New is t_REGACQ = 5 µs after RESET.
	if got := r.clk.Now(); got != 5*time.Microsecond {
		t.Errorf("New took %v of the clock, want 5µs", got)
	}
	if r.pin.Pull() != gpio.PullUp {
		t.Errorf("DRDY pull %s, want PullUp", r.pin.Pull())
	}
}

func TestInitSequenceRatesAndGains(t *testing.T) {
	for _, c := range []struct {
		name   string
		opts   ads131m08.Opts
		clk    uint16
		g1, g2 uint16
	}{
		// OSR 16256 (111b): 4.096 MHz / 16256 ≈ 251.97 SPS, asked as 250.
		{"250", ads131m08.Opts{DataRate: 250}, 0xFF1E, 0, 0},
		// OSR 128 (000b): 32 kSPS.
		{"32k", ads131m08.Opts{DataRate: 32000}, 0xFF02, 0, 0},
		// 5.12 MHz CLKIN, OSR 256 (001b): 10 kSPS.
		{"10k", ads131m08.Opts{DataRate: 10000, ClockIn: 5120 * physic.KiloHertz}, 0xFF06, 0, 0},
		// PGAGAINn codes 0..7 in the nibbles of GAIN1 (ch 0-3) and GAIN2 (ch 4-7).
		{"gains", ads131m08.Opts{Gain: [8]int{1, 2, 4, 8, 16, 32, 64, 128}}, 0xFF16, 0x3210, 0x7654},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, c.opts, initOps(c.clk, c.g1, c.g2))
			if err := r.bus.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestInitFailures(t *testing.T) {
	for _, c := range []struct {
		name  string
		frame int // 0-based frame whose response is wrong
		resp  uint16
		want  string
	}{
		{"no reset ack", 2, 0x0011, "RESET acknowledgement is 0011h, want FF28h"},
		{"not an M08", 3, 0x2400, "ID"},
		{"clock not written", 7, 0xFF0E, "CLOCK read back is FF0Eh, want FF16h"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ops := initOps(0xFF16, 0, 0)
			ops[c.frame].R = rx(c.resp, zero)
			bus := &spitest.Playback{Playback: conntest.Playback{Ops: ops, DontPanic: true}}
			clk := clock.NewVirtual(time.Time{})
			_, err := ads131m08.New(bus, sim.NewPin("GPIO25", 25, clk), &ads131m08.Opts{Clock: clk})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want an error containing %q", err, c.want)
			}
		})
	}
	t.Run("bad CRC", func(t *testing.T) {
		ops := initOps(0xFF16, 0, 0)
		ops[4].R[28] ^= 0x01
		bus := &spitest.Playback{Playback: conntest.Playback{Ops: ops, DontPanic: true}}
		clk := clock.NewVirtual(time.Time{})
		_, err := ads131m08.New(bus, sim.NewPin("GPIO25", 25, clk), &ads131m08.Opts{Clock: clk})
		if err == nil || !strings.Contains(err.Error(), "CRC") {
			t.Fatalf("New: %v, want a CRC error", err)
		}
	})
}

func TestOptsRefused(t *testing.T) {
	clk := clock.NewVirtual(time.Time{})
	for _, c := range []struct {
		name string
		opts *ads131m08.Opts
		want string
	}{
		{"nil", nil, "Clock is required"},
		{"no clock", &ads131m08.Opts{}, "Clock is required"},
		{"10k at 8.192 MHz", &ads131m08.Opts{Clock: clk, DataRate: 10000},
			"data rate 10000 SPS not available with CLKIN 8.192MHz; it offers 32000, 16000, 8000, 4000, 2000, 1000, 500, 251.969 SPS"},
		{"gain 3", &ads131m08.Opts{Clock: clk, Gain: [8]int{0, 0, 3}}, "channel 2 gain 3"},
		{"CLKIN too fast", &ads131m08.Opts{Clock: clk, ClockIn: 9 * physic.MegaHertz}, "CLKIN 9MHz outside"},
		{"CLKIN too fast for gain 4", &ads131m08.Opts{Clock: clk, ClockIn: 8300 * physic.KiloHertz, Gain: [8]int{4}}, "CLKIN 8.300MHz outside 300 kHz to 8.200MHz"},
		{"SCLK", &ads131m08.Opts{Clock: clk, SPIClock: 30 * physic.MegaHertz}, "SPI clock 30MHz"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bus := &spitest.Playback{Playback: conntest.Playback{DontPanic: true}}
			_, err := ads131m08.New(bus, sim.NewPin("GPIO25", 25, clk), c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want an error containing %q", err, c.want)
			}
			if bus.Initialized {
				t.Error("the port was connected for refused options")
			}
		})
	}
}

func TestReadKnownCodes(t *testing.T) {
	gains := [8]int{1, 2, 4, 8, 16, 32, 64, 128}
	ops := append(initOps(0xFF16, 0x3210, 0x7654), conntest.IO{
		W: tx(0x0000),
		R: rx(statusNew, [8][3]byte{
			{0x7F, 0xFF, 0xFF}, // positive full scale
			{0x80, 0x00, 0x00}, // negative full scale
			{0x00, 0x00, 0x01}, // one LSB
			{0xFF, 0xFF, 0xFF}, // minus one LSB
			{0x40, 0x00, 0x00}, // half of positive full scale
			{0xC0, 0x00, 0x00}, // half of negative full scale
			{0x12, 0x34, 0x56},
			{0x00, 0x00, 0x00},
		}),
	})
	r := newRig(t, ads131m08.Opts{Gain: gains}, ops)
	r.ready()
	var v [8]float64
	if err := r.dev.Read(v[:]); err != nil {
		t.Fatal(err)
	}
	// V = code / 2^23 × 1.2 V / gain.
	want := [8]float64{
		1.2 * (1<<23 - 1) / (1 << 23),
		-1.2 / 2,
		1.2 / 4 / (1 << 23),
		-1.2 / 8 / (1 << 23),
		1.2 / 16 / 2,
		-1.2 / 32 / 2,
		1.2 / 64 * 0x123456 / (1 << 23),
		0,
	}
	for ch := range v {
		if math.Abs(v[ch]-want[ch]) > 1e-15 {
			t.Errorf("channel %d: %.12g V, want %.12g V", ch, v[ch], want[ch])
		}
	}
	if h := r.dev.Health(); h != (daq.ADCHealth{Frames: 1}) {
		t.Errorf("health %+v", h)
	}
	if err := r.bus.Close(); err != nil {
		t.Error(err)
	}
}

// codes gives channel ch the 24-bit code base+ch, so frames differ.
func codes(base int32) (c [8][3]byte) {
	for ch := range c {
		v := base + int32(ch)
		c[ch] = [3]byte{byte(v >> 16), byte(v >> 8), byte(v)}
	}
	return c
}

func TestReadBadCRC(t *testing.T) {
	bad := rx(statusNew, codes(100))
	bad[27] ^= 0x80
	ops := append(initOps(0xFF16, 0, 0),
		conntest.IO{W: tx(0), R: bad},
		conntest.IO{W: tx(0), R: rx(statusNew, codes(200))},
	)
	r := newRig(t, ads131m08.Opts{}, ops)
	v := [8]float64{7, 7, 7, 7, 7, 7, 7, 7}
	r.ready()
	if err := r.dev.Read(v[:]); !errors.Is(err, ads131m08.ErrCRC) {
		t.Fatalf("Read of a corrupted frame: %v, want ErrCRC", err)
	}
	if v[0] != 7 {
		t.Error("a frame with a bad CRC was written to dst")
	}
	r.clk.Advance(time.Millisecond)
	r.ready()
	if err := r.dev.Read(v[:]); err != nil {
		t.Fatalf("good frame after a bad one: %v", err)
	}
	if got, want := v[3], 203*1.2/(1<<23); math.Abs(got-want) > 1e-15 {
		t.Errorf("channel 3 = %g, want %g", got, want)
	}
	if h := r.dev.Health(); h != (daq.ADCHealth{Frames: 1, CRCErrors: 1}) {
		t.Errorf("health %+v", h)
	}
}

func TestReadMissedReady(t *testing.T) {
	ops := append(initOps(0xFF16, 0, 0), conntest.IO{W: tx(0), R: rx(statusNew, codes(5))})
	r := newRig(t, ads131m08.Opts{ReadyTimeout: 2 * time.Millisecond}, ops)
	var v [8]float64
	_ = r.pin.Drive(gpio.High) // DRDY high, and no edge comes
	before := r.clk.Now()
	if err := r.dev.Read(v[:]); !errors.Is(err, ads131m08.ErrNotReady) {
		t.Fatalf("Read without data-ready: %v, want ErrNotReady", err)
	}
	if waited := r.clk.Now() - before; waited != 2*time.Millisecond {
		t.Errorf("waited %v for data-ready, want the 2ms timeout", waited)
	}
	if r.bus.Count != 10 {
		t.Errorf("a frame was read without data-ready")
	}
	r.ready()
	if err := r.dev.Read(v[:]); err != nil {
		t.Fatalf("Read after a missed data-ready: %v", err)
	}
	if h := r.dev.Health(); h != (daq.ADCHealth{Frames: 1, MissedReady: 1}) {
		t.Errorf("health %+v", h)
	}
}

func TestReadAlreadyLow(t *testing.T) {
	// The chip holds DRDY low until the frame is read: a low pin is ready
	// data, with no edge to wait for.
	ops := append(initOps(0xFF16, 0, 0), conntest.IO{W: tx(0), R: rx(statusNew, codes(5))})
	r := newRig(t, ads131m08.Opts{}, ops)
	_ = r.pin.Drive(gpio.Low)
	var v [8]float64
	if err := r.dev.Read(v[:]); err != nil {
		t.Fatal(err)
	}
}

func TestReadStale(t *testing.T) {
	// STATUS DRDY[7:0] = 0: the frame repeats the conversion read before.
	ops := append(initOps(0xFF16, 0, 0), conntest.IO{W: tx(0), R: rx(0x0100, codes(5))})
	r := newRig(t, ads131m08.Opts{}, ops)
	r.ready()
	var v [8]float64
	if err := r.dev.Read(v[:]); !errors.Is(err, ads131m08.ErrStale) {
		t.Fatalf("Read: %v, want ErrStale", err)
	}
	if h := r.dev.Health(); h != (daq.ADCHealth{MissedReady: 1}) {
		t.Errorf("health %+v", h)
	}
}

func TestReadGapFromTiming(t *testing.T) {
	const T = time.Millisecond
	ops := initOps(0xFF16, 0, 0)
	for i := range 7 {
		ops = append(ops, conntest.IO{W: tx(0), R: rx(statusNew, codes(int32(10*i)))})
	}
	r := newRig(t, ads131m08.Opts{}, ops)
	var v [8]float64
	read := func(after time.Duration) error {
		r.clk.Advance(after)
		r.ready()
		return r.dev.Read(v[:])
	}
	steps := []struct {
		after time.Duration
		want  error
		gaps  uint64
	}{
		{0, nil, 0},                        // anchors the schedule
		{T, nil, 0},                        // on time
		{T * 17 / 10, nil, 0},              // 0.7 T late: still the next conversion
		{T * 3 / 10, nil, 0},               // and the one after, on time again
		{3 * T, ads131m08.ErrGap, 2},       // two conversions passed unread
		{T * 21 / 10, ads131m08.ErrGap, 3}, // one more, read 0.1 T late
		{T * 9 / 10, nil, 3},
	}
	for i, s := range steps {
		if err := read(s.after); !errors.Is(err, s.want) {
			t.Fatalf("read %d: %v, want %v", i, err, s.want)
		}
		if g := r.dev.Health().Gaps; g != s.gaps {
			t.Fatalf("read %d: %d gaps, want %d", i, g, s.gaps)
		}
	}
	if f := r.dev.Health().Frames; f != 7 {
		t.Errorf("%d frames delivered, want 7: gap frames are valid", f)
	}
}

func TestReadResyncAndChipReset(t *testing.T) {
	ops := append(initOps(0xFF16, 0, 0),
		conntest.IO{W: tx(0), R: rx(statusNew, codes(1))},
		conntest.IO{W: tx(0), R: rx(statusNew|1<<14, codes(2))}, // F_RESYNC
		conntest.IO{W: tx(0), R: rx(statusNew|1<<10, codes(3))}, // RESET: defaults are back
		conntest.IO{W: tx(0), R: rx(statusNew|1<<10, codes(4))},
	)
	r := newRig(t, ads131m08.Opts{}, ops)
	var v [8]float64
	r.ready()
	if err := r.dev.Read(v[:]); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(time.Millisecond)
	r.ready()
	if err := r.dev.Read(v[:]); !errors.Is(err, ads131m08.ErrGap) {
		t.Fatalf("F_RESYNC: %v, want ErrGap", err)
	}
	for range 2 {
		r.clk.Advance(time.Millisecond)
		r.ready()
		if err := r.dev.Read(v[:]); !errors.Is(err, ads131m08.ErrChipReset) {
			t.Fatalf("STATUS.RESET: %v, want ErrChipReset", err)
		}
	}
	if h := r.dev.Health(); h != (daq.ADCHealth{Frames: 2, Gaps: 2}) {
		t.Errorf("health %+v, want 2 frames and 2 gaps (the resync, the reset once)", h)
	}
}

func TestReadStuckChannel(t *testing.T) {
	// Channel 5 repeats its code; the others move.
	frame := func(i, ch5 int32) []byte {
		c := codes(10 * i)
		c[5] = [3]byte{0, 0, byte(ch5)}
		return rx(statusNew, c)
	}
	ops := initOps(0xFF16, 0, 0)
	seq := []int32{9, 9, 9, 9, 8, 8, 8}
	for i, c := range seq {
		ops = append(ops, conntest.IO{W: tx(0), R: frame(int32(i), c)})
	}
	r := newRig(t, ads131m08.Opts{StuckFrames: 3}, ops)
	want := []error{nil, nil, ads131m08.ErrStuck, nil, nil, nil, ads131m08.ErrStuck}
	var v [8]float64
	for i := range seq {
		r.clk.Advance(time.Millisecond)
		r.ready()
		if err := r.dev.Read(v[:]); !errors.Is(err, want[i]) {
			t.Fatalf("frame %d: %v, want %v", i, err, want[i])
		}
		if i == 3 && r.dev.Stuck() != 1<<5 {
			t.Errorf("stuck set %08b during the episode, want channel 5", r.dev.Stuck())
		}
		if i == 4 && r.dev.Stuck() != 0 {
			t.Errorf("stuck set %08b after the code changed", r.dev.Stuck())
		}
	}
	if h := r.dev.Health(); h.Stuck != 2 || h.Frames != 7 {
		t.Errorf("health %+v, want 2 stuck episodes in 7 frames", h)
	}
}

func TestHaltSendsStandby(t *testing.T) {
	ops := append(initOps(0xFF16, 0, 0), conntest.IO{W: tx(0x0022), R: rx(statusNew, zero)})
	r := newRig(t, ads131m08.Opts{}, ops)
	if err := r.dev.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.dev.Close(); err != nil { // idempotent: no second frame
		t.Fatal(err)
	}
	if err := r.bus.Close(); err != nil {
		t.Fatal(err)
	}
	var v [8]float64
	if err := r.dev.Read(v[:]); !errors.Is(err, ads131m08.ErrHalted) {
		t.Fatalf("Read after Close: %v", err)
	}
}

func TestReadShortDst(t *testing.T) {
	r := newRig(t, ads131m08.Opts{}, initOps(0xFF16, 0, 0))
	if err := r.dev.Read(make([]float64, 7)); err == nil {
		t.Fatal("Read into 7 values succeeded")
	}
}

func TestPeriphGpiotestPin(t *testing.T) {
	ops := append(initOps(0xFF16, 0, 0),
		conntest.IO{W: tx(0), R: rx(statusNew, codes(0x100000))},
		conntest.IO{W: tx(0), R: rx(statusNew, codes(-0x100000))},
	)
	bus := &spitest.Playback{Playback: conntest.Playback{Ops: ops, DontPanic: true}}
	pin := &gpiotest.Pin{N: "GPIO25", Num: 25, EdgesChan: make(chan gpio.Level, 1)}
	dev, err := ads131m08.New(bus, pin, &ads131m08.Opts{Clock: clock.NewVirtual(time.Time{}), ReadyTimeout: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if pin.Pull() != gpio.PullUp || pin.Read() != gpio.High {
		t.Fatalf("DRDY configured as %s reading %s, want PullUp and high", pin.Pull(), pin.Read())
	}
	var v [8]float64
	// No edge within the timeout (2 ms of real time with gpiotest): missed.
	if err := dev.Read(v[:]); !errors.Is(err, ads131m08.ErrNotReady) {
		t.Fatalf("Read without an edge: %v, want ErrNotReady", err)
	}
	pin.EdgesChan <- gpio.Low // DRDY falls
	if err := dev.Read(v[:]); err != nil {
		t.Fatal(err)
	}
	if want := 0x100007 * 1.2 / (1 << 23); math.Abs(v[7]-want) > 1e-15 {
		t.Errorf("channel 7 = %g V, want %g V", v[7], want)
	}
	// gpiotest keeps the pin low, as the chip does while the next result
	// waits unread: Read takes it without waiting for an edge.
	if err := dev.Read(v[:]); err != nil {
		t.Fatal(err)
	}
	if want := -0x0FFFF9 * 1.2 / (1 << 23); math.Abs(v[7]-want) > 1e-15 {
		t.Errorf("channel 7 = %g V, want %g V", v[7], want)
	}
	if h := dev.Health(); h != (daq.ADCHealth{Frames: 2, MissedReady: 1}) {
		t.Errorf("health %+v", h)
	}
	if err := bus.Close(); err != nil {
		t.Error(err)
	}
}
