package sim_test

import (
	"math"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/pumpctl/mcp4725"
	"github.com/mockloop/mockloop/sim"
)

const dacLSB = 5.0 / 4096

type dacEvent struct {
	now   time.Duration
	volts float64
}

// dacRig is the bench's LV drive in simulation: the mcp4725 driver on the
// emulated I²C bus, the emulated chip powered at 5 V.
type dacRig struct {
	clk    *clock.Virtual
	bus    *sim.I2CBus
	chip   *sim.MCP4725
	dev    *mcp4725.Dev
	events []dacEvent
}

func newDACRig(t testing.TB) *dacRig {
	t.Helper()
	r := &dacRig{clk: clock.NewVirtual(time.Time{}), bus: sim.NewI2CBus("I2C1")}
	r.chip = sim.NewMCP4725(r.clk, 5.0, func(now time.Duration, v float64) {
		r.events = append(r.events, dacEvent{now, v})
	})
	if err := r.bus.Attach(0x60, r.chip); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.dev, err = mcp4725.New(r.bus, "lv_drive", mcp4725.Opts{Addr: 0x60, Vref: 5.0}); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *dacRig) last(t *testing.T) dacEvent {
	t.Helper()
	if len(r.events) == 0 {
		t.Fatal("no output change reported")
	}
	return r.events[len(r.events)-1]
}

func TestMCP4725RoundTrip(t *testing.T) {
	r := newDACRig(t)
	r.clk.Advance(3 * time.Millisecond)
	for _, v := range []float64{2.5, 1.234, 4.9, 0.001, 5.0} {
		if err := r.dev.SetVolts(v); err != nil {
			t.Fatal(err)
		}
		e := r.last(t)
		if math.Abs(e.volts-v) > dacLSB {
			t.Errorf("SetVolts(%g): callback saw %g V, more than one LSB away", v, e.volts)
		}
		if e.now != 3*time.Millisecond {
			t.Errorf("SetVolts(%g): callback at %v, want the clock's 3ms", v, e.now)
		}
		if r.chip.Volts() != e.volts {
			t.Errorf("chip output %g, last reported %g", r.chip.Volts(), e.volts)
		}
	}
	st, err := r.dev.Read()
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := r.chip.Code(); !st.Ready || !st.PowerOnReset || st.Code != code || st.PowerDown != mcp4725.Normal {
		t.Errorf("Read() = %+v, chip code %#x", st, code)
	}
	// An unchanged output is not reported again.
	n := len(r.events)
	if err := r.dev.SetVolts(5.0); err != nil {
		t.Fatal(err)
	}
	if len(r.events) != n {
		t.Error("a write that leaves the output unchanged was reported")
	}
}

func TestMCP4725PowerDownAndSafe(t *testing.T) {
	r := newDACRig(t)
	if err := r.dev.SetVolts(3); err != nil {
		t.Fatal(err)
	}
	if err := r.dev.SetPowerDown(mcp4725.PowerDown1k); err != nil {
		t.Fatal(err)
	}
	if e := r.last(t); e.volts != 0 {
		t.Errorf("powered down: %g V, want 0", e.volts)
	}
	if st, _ := r.dev.Read(); st.PowerDown != mcp4725.PowerDown1k || st.Code != 2458 {
		t.Errorf("Read() in power-down = %+v, want PD 01 and the code of 3 V (2458)", st)
	}
	if err := r.dev.SetPowerDown(mcp4725.Normal); err != nil {
		t.Fatal(err)
	}
	if e := r.last(t); math.Abs(e.volts-3) > dacLSB {
		t.Errorf("woken up: %g V, want 3", e.volts)
	}
	if err := r.dev.Safe(); err != nil {
		t.Fatal(err)
	}
	if e := r.last(t); e.volts != 0 {
		t.Errorf("Safe: %g V, want 0", e.volts)
	}
}

func TestMCP4725EEPROMWrite(t *testing.T) {
	r := newDACRig(t)
	if err := r.dev.StoreDefault(819, mcp4725.Normal); err != nil { // 1 V
		t.Fatal(err)
	}
	st, _ := r.dev.Read()
	if st.Ready || st.EEPROMCode != 819 || st.Code != 819 {
		t.Errorf("just after StoreDefault: %+v, want busy, EEPROM and DAC 819", st)
	}
	writes := r.chip.Writes()
	r.clk.Advance(sim.MCP4725EEPROMWrite - time.Nanosecond)
	if err := r.dev.SetVolts(4); err != nil {
		t.Fatal(err)
	}
	if r.chip.Writes() != writes || math.Abs(r.chip.Volts()-1) > dacLSB {
		t.Errorf("a write during the EEPROM write changed the output to %g V", r.chip.Volts())
	}
	if st, _ := r.dev.Read(); st.Ready {
		t.Error("ready 1 ns before the EEPROM write ends")
	}
	r.clk.Advance(time.Nanosecond)
	if st, _ := r.dev.Read(); !st.Ready {
		t.Error("still busy after the EEPROM write time")
	}
	if err := r.dev.SetVolts(4); err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.chip.Volts()-4) > dacLSB {
		t.Errorf("after the EEPROM write: %g V, want 4", r.chip.Volts())
	}
	r.chip.Reset() // power cycle: back to the stored default
	if e := r.last(t); math.Abs(e.volts-1) > dacLSB {
		t.Errorf("after power cycle: %g V, want the stored 1 V", e.volts)
	}
}

func TestMCP4725CommandDecoding(t *testing.T) {
	r := newDACRig(t)
	tx := func(w []byte, n int) []byte {
		t.Helper()
		rd := make([]byte, n)
		if err := r.bus.Tx(0x60, w, rd); err != nil {
			t.Fatal(err)
		}
		return rd
	}
	// Fast mode repeated before STOP: two updates; a lone trailing byte is
	// not latched.
	tx([]byte{0x08, 0x00, 0x0F, 0xFF, 0x01}, 0)
	if code, pd := r.chip.Code(); code != 0xFFF || pd != 0 || r.chip.Writes() != 2 {
		t.Errorf("repeated fast write: code %#x pd %d writes %d", code, pd, r.chip.Writes())
	}
	// Write DAC register (C2 C1 C0 = 010, PD = 10), repeated: EEPROM untouched.
	tx([]byte{0x44, 0x12, 0x30, 0x40, 0xAB, 0xC0}, 0)
	if code, pd := r.chip.Code(); code != 0xABC || pd != 0 {
		t.Errorf("repeated 3-byte write: code %#x pd %d", code, pd)
	}
	// Reserved command (C2 = 1): ignored.
	tx([]byte{0x80, 0x00, 0x00}, 0)
	if code, _ := r.chip.Code(); code != 0xABC {
		t.Errorf("reserved command changed the code to %#x", code)
	}
	// Reading on past 5 bytes repeats them.
	rd := tx(nil, 10)
	if want := []byte{0xC0, 0xAB, 0xC0, 0x00, 0x00}; string(rd[:5]) != string(want) || string(rd[5:]) != string(rd[:5]) {
		t.Errorf("read % x, want % x repeated", rd, want)
	}
}

// TestMCP4725SetVoltsAllocatesNothing is the per-frame path of the LV drive
// in simulation: driver, bus, chip, callback.
func TestMCP4725SetVoltsAllocatesNothing(t *testing.T) {
	r := newDACRig(t)
	r.events = make([]dacEvent, 0, 4096)
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		i++
		_ = r.dev.SetVolts(float64(i%4096) * dacLSB)
	}); n != 0 {
		t.Errorf("SetVolts through the emulator allocates %g times per call", n)
	}
}

func BenchmarkMCP4725SetVolts(b *testing.B) {
	clk := clock.NewVirtual(time.Time{})
	bus := sim.NewI2CBus("I2C1")
	var out float64
	chip := sim.NewMCP4725(clk, 5, func(_ time.Duration, v float64) { out = v })
	if err := bus.Attach(0x60, chip); err != nil {
		b.Fatal(err)
	}
	dev, err := mcp4725.New(bus, "lv_drive", mcp4725.Opts{Addr: 0x60, Vref: 5})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := dev.SetVolts(float64(i%4096) * dacLSB); err != nil {
			b.Fatal(err)
		}
	}
	_ = out
}
