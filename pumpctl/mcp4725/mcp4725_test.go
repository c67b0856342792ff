package mcp4725

import (
	"errors"
	"math"
	"strings"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

const addr = 0x62 // A2 A1 = 01 (MCP4725A1), A0 pin low

// The byte sequences below are written from DS22039D §6: fast-mode write
// (Figure 6-1) "0 0 PD1 PD0 D11 D10 D9 D8", "D7..D0"; write DAC register
// and EEPROM (Figure 6-2) "0 1 1 X X PD1 PD0 X", "D11..D4", "D3..D0 X X X X";
// read (Figure 6-3) "RDY/BSY POR X X X PD1 PD0 X", "D11..D4",
// "D3..D0 X X X X", "X PD1 PD0 X D11..D8", "D7..D0".

func newDev(t *testing.T, ops ...i2ctest.IO) (*Dev, *i2ctest.Playback) {
	t.Helper()
	bus := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := New(bus, "lv_drive", Opts{Addr: addr, Vref: 5.0})
	if err != nil {
		t.Fatal(err)
	}
	return d, bus
}

func done(t *testing.T, bus *i2ctest.Playback) {
	t.Helper()
	if err := bus.Close(); err != nil {
		t.Error(err)
	}
}

func TestSetVoltsFastWrite(t *testing.T) {
	for _, tc := range []struct {
		volts float64
		w     []byte
	}{
		{0, []byte{0x00, 0x00}},
		{2.5, []byte{0x08, 0x00}},        // 2048 = 0x800: half of 5 V
		{1.0, []byte{0x03, 0x33}},        // 1/5·4096 = 819.2 → 819 = 0x333
		{5.0 / 4096, []byte{0x00, 0x01}}, // one LSB
		{4.999, []byte{0x0F, 0xFF}},      // 4095.18 → 4095
		{4.9995, []byte{0x0F, 0xFF}},     // 4095.59 rounds to 4096: clipped to the top code
		{5.0, []byte{0x0F, 0xFF}},        // Vref itself: the top code
	} {
		d, bus := newDev(t, i2ctest.IO{Addr: addr, W: tc.w})
		if err := d.SetVolts(tc.volts); err != nil {
			t.Errorf("SetVolts(%g): %v", tc.volts, err)
		}
		done(t, bus)
	}
}

func TestSetVoltsRefusesOutOfRange(t *testing.T) {
	d, bus := newDev(t) // no traffic expected
	for _, v := range []float64{-0.001, 5.0001, math.NaN(), math.Inf(1), math.Inf(-1)} {
		err := d.SetVolts(v)
		if err == nil || !strings.HasPrefix(err.Error(), "mcp4725: ") {
			t.Errorf("SetVolts(%g) = %v, want an mcp4725 error", v, err)
		}
	}
	if err := d.SetCode(4096); err == nil {
		t.Error("SetCode(4096) accepted")
	}
	if bus.Count != 0 {
		t.Errorf("%d bus transactions for refused values", bus.Count)
	}
}

func TestPowerDownKeepsCode(t *testing.T) {
	d, bus := newDev(t,
		i2ctest.IO{Addr: addr, W: []byte{0x03, 0x33}}, // 1 V
		i2ctest.IO{Addr: addr, W: []byte{0x33, 0x33}}, // PD = 11 (500 kΩ), same code
		i2ctest.IO{Addr: addr, W: []byte{0x13, 0x33}}, // PD = 01 (1 kΩ)
		i2ctest.IO{Addr: addr, W: []byte{0x03, 0x33}}, // back to normal
		i2ctest.IO{Addr: addr, W: []byte{0x00, 0x00}}, // Safe: 0 V, driven
	)
	if err := d.SetVolts(1); err != nil {
		t.Fatal(err)
	}
	for _, pd := range []PowerDown{PowerDown500k, PowerDown1k, Normal} {
		if err := d.SetPowerDown(pd); err != nil {
			t.Fatal(err)
		}
		if c, p := d.Code(); c != 0x333 || p != pd {
			t.Errorf("after SetPowerDown(%v): code %#x %v", pd, c, p)
		}
	}
	if err := d.Safe(); err != nil {
		t.Fatal(err)
	}
	if c, p := d.Code(); c != 0 || p != Normal {
		t.Errorf("after Safe: code %#x %v, want 0 normal", c, p)
	}
	if err := d.SetPowerDown(4); err == nil {
		t.Error("power-down mode 4 accepted")
	}
	done(t, bus)
}

func TestStoreDefault(t *testing.T) {
	d, bus := newDev(t,
		i2ctest.IO{Addr: addr, W: []byte{0x60, 0x00, 0x00}}, // 0 V, normal
		i2ctest.IO{Addr: addr, W: []byte{0x62, 0xAB, 0xC0}}, // 0xABC, PD = 01
	)
	if err := d.StoreDefault(0, Normal); err != nil {
		t.Fatal(err)
	}
	if err := d.StoreDefault(0xABC, PowerDown1k); err != nil {
		t.Fatal(err)
	}
	if c, p := d.Code(); c != 0xABC || p != PowerDown1k {
		t.Errorf("Code() = %#x %v after StoreDefault", c, p)
	}
	if d.StoreDefault(0x1000, Normal) == nil || d.StoreDefault(0, 7) == nil {
		t.Error("invalid default accepted")
	}
	done(t, bus)
}

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		r    []byte
		want Status
	}{
		{ // ready, powered, normal, DAC 0x800, EEPROM 0 normal
			[]byte{0xC0, 0x80, 0x00, 0x00, 0x00},
			Status{Ready: true, PowerOnReset: true, Code: 0x800},
		},
		{ // EEPROM write in progress; DAC 0xABC in PD 10; EEPROM 0x5A5 in PD 01
			// (don't-care bits set to 1 to prove they are masked)
			[]byte{0x40 | 0x38 | 0x04 | 0x01, 0xAB, 0xCF, 0x80 | 0x20 | 0x10 | 0x05, 0xA5},
			Status{PowerOnReset: true, PowerDown: PowerDown100k, Code: 0xABC,
				EEPROMPowerDown: PowerDown1k, EEPROMCode: 0x5A5},
		},
	} {
		d, bus := newDev(t, i2ctest.IO{Addr: addr, R: tc.r})
		got, err := d.Read()
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("Read(% x) = %+v, want %+v", tc.r, got, tc.want)
		}
		done(t, bus)
	}
}

func TestBusErrorIsReported(t *testing.T) {
	// The playback expects another address: the write fails like a NACK.
	d, _ := newDev(t, i2ctest.IO{Addr: addr + 1, W: []byte{0x08, 0x00}})
	err := d.SetVolts(2.5)
	if err == nil || !strings.HasPrefix(err.Error(), "mcp4725: lv_drive: ") {
		t.Fatalf("SetVolts on a failing bus = %v", err)
	}
	if c, _ := d.Code(); c != 0 {
		t.Errorf("code %#x recorded although the write failed", c)
	}
}

func TestNewValidates(t *testing.T) {
	bus := &i2ctest.Playback{}
	for _, tc := range []struct {
		name string
		opts Opts
	}{
		{"x", Opts{Addr: 0x5F, Vref: 5}},
		{"x", Opts{Addr: 0x68, Vref: 5}},
		{"x", Opts{Addr: 0x60, Vref: 0}},
		{"x", Opts{Addr: 0x60, Vref: math.NaN()}},
		{"x", Opts{Addr: 0x60, Vref: math.Inf(1)}},
		{"", Opts{Addr: 0x60, Vref: 5}},
	} {
		if _, err := New(bus, tc.name, tc.opts); err == nil || !strings.HasPrefix(err.Error(), "mcp4725: ") {
			t.Errorf("New(%q, %+v) = %v, want an mcp4725 error", tc.name, tc.opts, err)
		}
	}
	if _, err := New(nil, "x", Opts{Addr: 0x60, Vref: 5}); err == nil {
		t.Error("nil bus accepted")
	}
}

func TestSetVoltsAllocatesNothing(t *testing.T) {
	d, err := New(nullBus{}, "lv_drive", Opts{Addr: addr, Vref: 5})
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	if n := testing.AllocsPerRun(1000, func() {
		v += 0.001
		if err := d.SetVolts(math.Mod(v, 5)); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("SetVolts allocates %g times per call", n)
	}
}

// nullBus acknowledges everything, for allocation counts without the
// playback's own bookkeeping.
type nullBus struct{}

func (nullBus) String() string                  { return "null" }
func (nullBus) Tx(uint16, []byte, []byte) error { return nil }
func (nullBus) SetSpeed(physic.Frequency) error { return nil }

// countBus counts writes and fails them while fail is set.
type countBus struct {
	writes int
	last   []byte
	fail   bool
	read   []byte // what a read returns
}

func (b *countBus) String() string { return "count" }
func (b *countBus) Tx(_ uint16, w, r []byte) error {
	if b.fail {
		return errors.New("NACK")
	}
	if len(w) > 0 {
		b.writes++
		b.last = append(b.last[:0], w...)
	}
	copy(r, b.read)
	return nil
}
func (b *countBus) SetSpeed(physic.Frequency) error { return nil }

// TestUnchangedCodeNotRewritten: a write of the code the chip holds does no
// bus traffic, a change does, and Safe always writes.
func TestUnchangedCodeNotRewritten(t *testing.T) {
	bus := &countBus{}
	d, err := New(bus, "lv_drive", Opts{Addr: addr, Vref: 5})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := d.SetCode(0x123); err != nil {
			t.Fatal(err)
		}
	}
	if bus.writes != 1 {
		t.Errorf("10 writes of one code: %d on the bus, want 1", bus.writes)
	}
	if err := d.SetCode(0x124); err != nil || bus.writes != 2 {
		t.Errorf("a changed code: %v, %d writes, want 2", err, bus.writes)
	}
	if err := d.Safe(); err != nil || bus.writes != 3 {
		t.Errorf("Safe: %v, %d writes, want 3", err, bus.writes)
	}
	if err := d.Safe(); err != nil || bus.writes != 4 {
		t.Errorf("Safe again: %v, %d writes, want 4: Safe always writes", err, bus.writes)
	}
	// Out of power-down, the same code must be written again.
	if err := d.SetPowerDown(PowerDown1k); err != nil || bus.writes != 5 {
		t.Fatal(err, bus.writes)
	}
	if err := d.SetCode(0); err != nil || bus.writes != 6 || bus.last[0] != 0 {
		t.Errorf("leaving power-down with the same code: %v, %d writes (last %x), want 6", err, bus.writes, bus.last)
	}
}

// TestFailedWriteRetried: after a failed write the driver no longer knows
// what the chip holds, so the same code goes out again.
func TestFailedWriteRetried(t *testing.T) {
	bus := &countBus{}
	d, _ := New(bus, "lv_drive", Opts{Addr: addr, Vref: 5})
	if err := d.SetCode(100); err != nil {
		t.Fatal(err)
	}
	bus.fail = true
	if err := d.SetCode(200); err == nil {
		t.Fatal("a failed write was not reported")
	}
	if err := d.SetCode(100); err == nil {
		t.Fatal("the code known before a failed write was taken as still held")
	}
	bus.fail = false
	if err := d.SetCode(100); err != nil || bus.writes != 2 {
		t.Errorf("after a failure: %v, %d writes, want 2", err, bus.writes)
	}
}

// TestUnchangedCodeRefreshed: a steady code is written again every
// RefreshEvery calls, so a chip that lost it is corrected.
func TestUnchangedCodeRefreshed(t *testing.T) {
	bus := &countBus{}
	d, _ := New(bus, "lv_drive", Opts{Addr: addr, Vref: 5})
	for range 3 * RefreshEvery {
		if err := d.SetCode(7); err != nil {
			t.Fatal(err)
		}
	}
	if bus.writes != 3 {
		t.Errorf("%d calls: %d writes, want 3", 3*RefreshEvery, bus.writes)
	}
}

// TestWritesAfterStoreDefault: while the EEPROM write may be running the
// chip ignores writes, so none is taken as done until a Read finds the
// chip ready; the first write after that goes out whatever its value.
func TestWritesAfterStoreDefault(t *testing.T) {
	bus := &countBus{read: []byte{0x40, 0, 0, 0, 0}} // busy, POR
	d, _ := New(bus, "lv_drive", Opts{Addr: addr, Vref: 5})
	if err := d.StoreDefault(0, Normal); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := d.SetCode(50); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Read(); err != nil {
		t.Fatal(err)
	}
	if err := d.SetCode(50); err != nil {
		t.Fatal(err)
	}
	if bus.writes != 5 {
		t.Errorf("during the EEPROM write: %d writes, want 5 (store and every SetCode)", bus.writes)
	}
	bus.read[0] = 0xC0 // ready
	if _, err := d.Read(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := d.SetCode(50); err != nil {
			t.Fatal(err)
		}
	}
	if bus.writes != 6 {
		t.Errorf("after the chip was ready: %d writes, want 6 (one more)", bus.writes)
	}
}
