package ads1115

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/ads1x15"
)

// Register traffic written from SBAS444 §9.5.3 and §9.6: a register write is
// the pointer byte then MSB, LSB; a read writes the pointer byte and reads
// MSB, LSB after a repeated START. Pointer 00 = conversion, 01 = config.
//
// Config words (SBAS444 Table 8), single-shot at 860 SPS, comparator off:
//
//	AIN0/GND ±4.096 V: OS 1 | MUX 100 | PGA 001 | MODE 1 | DR 111 | 0 0 0 | QUE 11
//	                 = 1100 0011 1110 0011 = 0xC3E3
//	AIN1/GND ±2.048 V: 1 101 010 1 111 000 11 = 0xD5E3
//
// While converting the chip reads OS = 0 (0x43E3); done, OS = 1 (0xC3E3).
const addr = 0x49 // ADDR pin to VDD

var (
	startA0 = i2ctest.IO{Addr: addr, W: []byte{0x01, 0xC3, 0xE3}}
	startA1 = i2ctest.IO{Addr: addr, W: []byte{0x01, 0xD5, 0xE3}}
)

func busyA0() i2ctest.IO { return i2ctest.IO{Addr: addr, W: []byte{0x01}, R: []byte{0x43, 0xE3}} }
func doneA0() i2ctest.IO { return i2ctest.IO{Addr: addr, W: []byte{0x01}, R: []byte{0xC3, 0xE3}} }
func doneA1() i2ctest.IO { return i2ctest.IO{Addr: addr, W: []byte{0x01}, R: []byte{0xD5, 0xE3}} }
func result(msb, lsb byte) i2ctest.IO {
	return i2ctest.IO{Addr: addr, W: []byte{0x00}, R: []byte{msb, lsb}}
}

func benchOpts() Opts {
	return Opts{Addr: addr, DataRate: 860, Inputs: []Input{
		{Channel: ads1x15.Channel0, FullScale: 4.096}, // fluid temperature
		{Channel: ads1x15.Channel1, FullScale: 2.048}, // reservoir level
	}}
}

func newDev(t *testing.T, ops ...i2ctest.IO) (*Dev, *i2ctest.Playback) {
	t.Helper()
	bus := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := New(bus, benchOpts())
	if err != nil {
		t.Fatal(err)
	}
	return d, bus
}

func poll(t *testing.T, d *Dev, dst []float64) {
	t.Helper()
	if err := d.Poll(dst); err != nil {
		t.Fatal(err)
	}
}

func TestPollStateMachine(t *testing.T) {
	d, bus := newDev(t,
		startA0,                               // poll 1: start A0
		busyA0(),                              // poll 2: still converting
		doneA0(), result(0x40, 0x00), startA1, // poll 3: 0x4000 = 16384 → 2.048 V; start A1
		doneA1(), result(0xC0, 0x00), startA0, // poll 4: 0xC000 = −16384 → −1.024 V; start A0
		doneA0(), result(0x7F, 0xFF), startA1, // poll 5: positive full scale
	)
	dst := make([]float64, 2)
	poll(t, d, dst)
	if !math.IsNaN(dst[0]) || !math.IsNaN(dst[1]) {
		t.Errorf("before any conversion dst = %v, want NaN", dst)
	}
	poll(t, d, dst)
	if !math.IsNaN(dst[0]) {
		t.Errorf("result %g before OS = 1", dst[0])
	}
	poll(t, d, dst)
	if dst[0] != 2.048 || !math.IsNaN(dst[1]) {
		t.Errorf("after A0: dst = %v, want [2.048 NaN]", dst)
	}
	poll(t, d, dst)
	if dst[0] != 2.048 || dst[1] != -1.024 {
		t.Errorf("after A1: dst = %v, want [2.048 -1.024] (A0 held)", dst)
	}
	poll(t, d, dst)
	if want := 4.096 * 32767 / 32768; dst[0] != want {
		t.Errorf("7FFFh on ±4.096 V = %g V, want %g", dst[0], want)
	}
	if h := d.Health(); h.Frames != 3 || h.Bad() != 0 {
		t.Errorf("health %+v, want 3 frames, none bad", h)
	}
	if err := bus.Close(); err != nil {
		t.Error(err)
	}
}

func TestPollRestartsAfterChipReset(t *testing.T) {
	d, bus := newDev(t,
		startA0,
		// The chip was reset: power-up default config 8583h (OS 1, AIN0–AIN1,
		// ±2.048 V, 128 SPS). Its conversion register is 0, which must not
		// be taken as A0's result.
		i2ctest.IO{Addr: addr, W: []byte{0x01}, R: []byte{0x85, 0x83}},
		startA0, // same poll: A0 again
		doneA0(), result(0x10, 0x00), startA1,
	)
	dst := make([]float64, 2)
	poll(t, d, dst)
	poll(t, d, dst)
	if !math.IsNaN(dst[0]) {
		t.Errorf("stored %g from a reset chip", dst[0])
	}
	poll(t, d, dst)
	if dst[0] != 0.512 {
		t.Errorf("A0 = %g, want 0.512", dst[0])
	}
	if h := d.Health(); h.Frames != 1 || h.MissedReady != 1 {
		t.Errorf("health %+v, want 1 frame, 1 missed", h)
	}
	if err := bus.Close(); err != nil {
		t.Error(err)
	}
}

func TestPollBusError(t *testing.T) {
	pb := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		startA0,
		// the config read fails here (NACK)
		startA0, // the next Poll starts input 0 again
		doneA0(), result(0x20, 0x00), startA1,
	}}
	bus := &failingBus{Playback: pb, failAt: 2}
	d, err := New(bus, benchOpts())
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 2)
	poll(t, d, dst)
	err = d.Poll(dst)
	if err == nil || !strings.HasPrefix(err.Error(), "ads1115: read config of input 0: ") {
		t.Fatalf("Poll on a failing bus = %v", err)
	}
	if h := d.Health(); h.MissedReady != 1 {
		t.Errorf("health %+v, want 1 missed", h)
	}
	poll(t, d, dst)
	poll(t, d, dst)
	if dst[0] != 1.024 {
		t.Errorf("A0 after recovery = %g, want 1.024", dst[0])
	}
	if err := pb.Close(); err != nil {
		t.Error(err)
	}
}

// failingBus fails its failAt-th transaction (1-based) like a NACK and
// plays back the others.
type failingBus struct {
	*i2ctest.Playback
	n, failAt int
}

func (b *failingBus) Tx(addr uint16, w, r []byte) error {
	b.n++
	if b.n == b.failAt {
		return errors.New("i2c: no acknowledge")
	}
	return b.Playback.Tx(addr, w, r)
}

func TestPollShortDst(t *testing.T) {
	d, bus := newDev(t)
	if err := d.Poll(make([]float64, 1)); err == nil {
		t.Error("Poll with a short dst accepted")
	}
	if bus.Count != 0 {
		t.Error("bus traffic for a refused Poll")
	}
}

func TestConfigWords(t *testing.T) {
	// Differential AIN2–AIN3 (MUX 011), ±0.256 V (PGA 101), 8 SPS (DR 000):
	// 1 011 101 1 000 000 11 = 0xBB03.
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: MinAddr, W: []byte{0x01, 0xBB, 0x03}},
	}}
	d, err := New(bus, Opts{DataRate: 8, Inputs: []Input{{Channel: ads1x15.Channel2Minus3, FullScale: 0.256}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.ConversionTime(); got != 125*time.Millisecond {
		t.Errorf("ConversionTime at 8 SPS = %v", got)
	}
	poll(t, d, make([]float64, 1))
	if err := bus.Close(); err != nil {
		t.Error(err)
	}
	d, _ = New(bus, Opts{Inputs: []Input{{Channel: ads1x15.Channel3, FullScale: 6.144}}})
	if got, want := d.ConversionTime(), 1162791*time.Nanosecond; got != want {
		t.Errorf("ConversionTime at the default 860 SPS = %v, want %v", got, want)
	}
}

func TestNewValidates(t *testing.T) {
	bus := &i2ctest.Playback{}
	in := []Input{{Channel: ads1x15.Channel0, FullScale: 4.096}}
	for _, o := range []Opts{
		{Inputs: nil},
		{Inputs: make([]Input, 9)},
		{Addr: 0x4C, Inputs: in},
		{Addr: 0x47, Inputs: in},
		{DataRate: 1000, Inputs: in},
		{DataRate: -1, Inputs: in},
		{Inputs: []Input{{Channel: ads1x15.Channel0, FullScale: 5}}},
		{Inputs: []Input{{Channel: ads1x15.Channel0}}}, // full scale forgotten
		{Inputs: []Input{{Channel: 8, FullScale: 4.096}}},
		{Inputs: []Input{{Channel: -1, FullScale: 4.096}}},
	} {
		if _, err := New(bus, o); err == nil || !strings.HasPrefix(err.Error(), "ads1115: ") {
			t.Errorf("New(%+v) = %v, want an ads1115 error", o, err)
		}
	}
	if _, err := New(nil, Opts{Inputs: in}); err == nil {
		t.Error("nil bus accepted")
	}
}

// fakeChip answers like a chip whose conversions finish on the second
// config read, without the playback's bookkeeping, for allocation counts.
type fakeChip struct{ reads int }

func (*fakeChip) String() string                  { return "fake" }
func (*fakeChip) SetSpeed(physic.Frequency) error { return nil }
func (f *fakeChip) Tx(_ uint16, w, r []byte) error {
	if len(r) == 2 && w[0] == regConfig {
		f.reads++
		r[0], r[1] = 0x43, 0xE3
		if f.reads%2 == 0 {
			r[0] = 0xC3
		}
	}
	return nil
}

func TestPollAllocatesNothing(t *testing.T) {
	d, err := New(&fakeChip{}, Opts{Inputs: []Input{{Channel: ads1x15.Channel0, FullScale: 4.096}}})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 1)
	if n := testing.AllocsPerRun(1000, func() {
		if err := d.Poll(dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Poll allocates %g times per call", n)
	}
	if d.Health().Frames == 0 {
		t.Error("no conversion completed: the fake does not exercise the result path")
	}
}
