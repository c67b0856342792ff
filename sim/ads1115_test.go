package sim_test

import (
	"math"
	"testing"
	"time"

	"periph.io/x/devices/v3/ads1x15"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq/ads1115"
	"github.com/mockloop/mockloop/sim"
)

// conv860 is one conversion at 860 SPS: 1/860 s rounded up to the ns.
const conv860 = 1162791 * time.Nanosecond

// adcRig is the bench's slow ADC in simulation: the non-blocking ads1115
// driver on the emulated bus, reading A0 (temperature, ±4.096 V) and A1
// (level, ±2.048 V) from pins whose voltages the test sets.
type adcRig struct {
	clk     *clock.Virtual
	bus     *sim.I2CBus
	chip    *sim.ADS1115
	dev     *ads1115.Dev
	pins    [4]float64
	sampled []time.Duration // times the chip sampled its inputs
}

func newADCRig(t testing.TB) *adcRig {
	t.Helper()
	r := &adcRig{clk: clock.NewVirtual(time.Time{}), bus: sim.NewI2CBus("I2C1")}
	r.chip = sim.NewADS1115(r.clk, func(now time.Duration, pin int) float64 {
		if len(r.sampled) < cap(r.sampled) {
			r.sampled = append(r.sampled, now)
		}
		return r.pins[pin]
	})
	if err := r.bus.Attach(0x48, r.chip); err != nil {
		t.Fatal(err)
	}
	var err error
	r.dev, err = ads1115.New(r.bus, ads1115.Opts{Addr: 0x48, DataRate: 860, Inputs: []ads1115.Input{
		{Channel: ads1x15.Channel0, FullScale: 4.096},
		{Channel: ads1x15.Channel1, FullScale: 2.048},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.sampled = make([]time.Duration, 0, 16)
	return r
}

func (r *adcRig) poll(t *testing.T, dst []float64) {
	t.Helper()
	if err := r.dev.Poll(dst); err != nil {
		t.Fatal(err)
	}
}

func TestADS1115ConversionTakesItsTime(t *testing.T) {
	r := newADCRig(t)
	r.pins[0], r.pins[1] = 1.2345, 0.678
	dst := make([]float64, 2)
	r.clk.Advance(time.Millisecond)
	r.poll(t, dst) // starts A0 at 1 ms
	r.clk.Advance(conv860 - time.Nanosecond)
	r.poll(t, dst)
	if !math.IsNaN(dst[0]) || r.chip.Conversions() != 0 {
		t.Fatalf("1 ns before 1/860 s: A0 = %g, %d conversions; want none (OS = 0)", dst[0], r.chip.Conversions())
	}
	r.clk.Advance(time.Nanosecond)
	r.poll(t, dst) // collects A0, starts A1
	if math.Abs(dst[0]-1.2345) > 4.096/32768 {
		t.Errorf("A0 = %g V, want 1.2345 within one LSB", dst[0])
	}
	if len(r.sampled) != 1 || r.sampled[0] != time.Millisecond+conv860 {
		t.Errorf("input sampled at %v, want the end of the conversion %v", r.sampled, time.Millisecond+conv860)
	}
	// Collected late: still sampled at the end of the conversion.
	r.clk.Advance(10 * time.Millisecond)
	r.poll(t, dst)
	if math.Abs(dst[1]-0.678) > 2.048/32768 {
		t.Errorf("A1 = %g V, want 0.678 within one LSB", dst[1])
	}
	if want := time.Millisecond + 2*conv860; r.sampled[1] != want {
		t.Errorf("A1 sampled at %v, want %v", r.sampled[1], want)
	}
}

func TestADS1115RateLimit(t *testing.T) {
	for _, tc := range []struct {
		poll     time.Duration
		min, max uint64
	}{
		// Polled fast, the chip is the limit: 860 SPS at most; each result
		// waits for the next poll (≤ 10 µs).
		{10 * time.Microsecond, 850, 860},
		// At the 1 kHz frame rate a conversion (1.16 ms) spans two polls:
		// collected at 2, 4, ..., 998 ms, 250 per second per input.
		{time.Millisecond, 499, 499},
	} {
		r := newADCRig(t)
		dst := make([]float64, 2)
		for r.clk.Now() < time.Second {
			r.poll(t, dst)
			r.clk.Advance(tc.poll)
		}
		if n := r.dev.Health().Frames; n < tc.min || n > tc.max {
			t.Errorf("polled every %v: %d conversions in 1 s, want %d..%d", tc.poll, n, tc.min, tc.max)
		}
		if n := r.chip.Conversions(); n > 860 {
			t.Errorf("chip converted %d times in 1 s, more than 860", n)
		}
	}
}

// adsTx runs one transaction on the rig's bus.
func (r *adcRig) tx(t *testing.T, w []byte, n int) uint16 {
	t.Helper()
	rd := make([]byte, n)
	if err := r.bus.Tx(0x48, w, rd); err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		return 0
	}
	return uint16(rd[0])<<8 | uint16(rd[1])
}

func TestADS1115RegistersAtTheChip(t *testing.T) {
	r := newADCRig(t)
	if cfg := r.tx(t, []byte{0x01}, 2); cfg != 0x8583 {
		t.Errorf("power-up config %#04x, want 0x8583", cfg)
	}
	if lo, hi := r.tx(t, []byte{0x02}, 2), r.tx(t, []byte{0x03}, 2); lo != 0x8000 || hi != 0x7FFF {
		t.Errorf("thresholds %#04x %#04x, want 0x8000 0x7fff", lo, hi)
	}
	start := []byte{0x01, 0xC3, 0xE3} // AIN0/GND, ±4.096 V, single-shot, 860 SPS
	r.pins[0] = 1.0
	r.tx(t, start, 0)
	if cfg := r.tx(t, []byte{0x01}, 2); cfg != 0x43E3 {
		t.Errorf("config while converting %#04x, want OS = 0 (0x43e3)", cfg)
	}
	if c := r.tx(t, []byte{0x00}, 2); c != 0 {
		t.Errorf("conversion register before the first result %#04x, want 0", c)
	}
	// OS = 1 while converting does not restart the conversion.
	r.clk.Advance(conv860 / 2)
	r.tx(t, start, 0)
	r.clk.Advance(conv860 - conv860/2)
	if cfg := r.tx(t, []byte{0x01}, 2); cfg != 0xC3E3 {
		t.Errorf("config at the original end %#04x, want OS = 1", cfg)
	}
	// The pointer persists: a plain read returns the config again.
	if cfg := r.tx(t, nil, 2); cfg != 0xC3E3 {
		t.Errorf("read without pointer %#04x", cfg)
	}
	first := r.tx(t, []byte{0x00}, 2)
	if first != 8000 { // 1 V / 4.096 V · 32768
		t.Errorf("1 V on ±4.096 V = %d, want 8000", first)
	}
	// Early reads of the next conversion return the previous result.
	r.pins[0] = 2.0
	r.tx(t, start, 0)
	r.clk.Advance(conv860 - time.Nanosecond)
	if c := r.tx(t, []byte{0x00}, 2); c != first {
		t.Errorf("early read %d, want the previous %d", c, first)
	}
	r.clk.Advance(time.Nanosecond)
	if c := r.tx(t, []byte{0x00}, 2); c != 16000 {
		t.Errorf("2 V = %d, want 16000", c)
	}
	// The conversion register is read-only.
	r.tx(t, []byte{0x00, 0x12, 0x34}, 0)
	if c := r.tx(t, []byte{0x00}, 2); c != 16000 {
		t.Errorf("conversion register written: %#04x", c)
	}
}

func TestADS1115TransferFunction(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config uint16
		p0, p1 float64
		want   uint16
	}{
		{"positive saturation", 0xC5E3, 3, 0, 0x7FFF},               // AIN0/GND ±2.048 V
		{"full scale", 0xC5E3, 2.048, 0, 0x7FFF},                    // +FS itself clips
		{"differential", 0x85E3, 0.5, 1.5, uint16(0x10000 - 16000)}, // AIN0−AIN1 = −1 V
		{"negative saturation", 0x85E3, 0, 3, 0x8000},               // −3 V
		{"smallest range", 0xCBE3, 0.128, 0, 16384},                 // ±0.256 V
		{"largest range", 0xC1E3, 3.072, 0, 16384},                  // ±6.144 V
		{"NaN input", 0xC5E3, math.NaN(), 0, 0},
	} {
		r := newADCRig(t)
		r.pins[0], r.pins[1] = tc.p0, tc.p1
		r.tx(t, []byte{0x01, byte(tc.config >> 8), byte(tc.config)}, 0)
		r.clk.Advance(conv860)
		if got := r.tx(t, []byte{0x00}, 2); got != tc.want {
			t.Errorf("%s: %#04x, want %#04x", tc.name, got, tc.want)
		}
	}
}

func TestADS1115DataRates(t *testing.T) {
	for dr, sps := range []float64{8, 16, 32, 64, 128, 250, 475, 860} {
		r := newADCRig(t)
		cfg := uint16(0xC103) | uint16(dr)<<5
		r.tx(t, []byte{0x01, byte(cfg >> 8), byte(cfg)}, 0)
		period := time.Duration(math.Ceil(1e9 / sps))
		r.clk.Advance(period - 1)
		if c := r.tx(t, []byte{0x01}, 2); c&0x8000 != 0 {
			t.Errorf("%g SPS: done before %v", sps, period)
		}
		r.clk.Advance(1)
		if c := r.tx(t, []byte{0x01}, 2); c&0x8000 == 0 {
			t.Errorf("%g SPS: not done at %v", sps, period)
		}
	}
}

func TestADS1115Continuous(t *testing.T) {
	r := newADCRig(t)
	r.pins[0] = 1.0
	r.tx(t, []byte{0x01, 0x42, 0xE3}, 0) // AIN0/GND ±4.096 V, MODE = 0 (continuous), 860 SPS
	r.clk.Advance(10*conv860 + conv860/2)
	if n := r.chip.Conversions(); n != 10 {
		t.Errorf("%d conversions in 10.5 periods, want 10", n)
	}
	if cfg := r.tx(t, []byte{0x01}, 2); cfg&0x8000 != 0 {
		t.Errorf("OS = 1 in continuous mode")
	}
	if c := r.tx(t, []byte{0x00}, 2); c != 8000 {
		t.Errorf("conversion %d, want 8000", c)
	}
	if got, want := r.sampled[len(r.sampled)-1], 10*conv860; got != want {
		t.Errorf("latest result sampled at %v, want the 10th conversion's end %v", got, want)
	}
	// Back to single-shot: the conversion in flight is the last one.
	r.tx(t, []byte{0x01, 0x43, 0xE3}, 0)
	r.clk.Advance(5 * conv860)
	if n := r.chip.Conversions(); n != 11 {
		t.Errorf("%d conversions after leaving continuous mode, want 11", n)
	}
	if cfg := r.tx(t, []byte{0x01}, 2); cfg&0x8000 == 0 {
		t.Errorf("still converting after leaving continuous mode")
	}
}

// TestADS1115PollAllocatesNothing is the per-frame path of the slow
// channels in simulation: driver, bus, chip, input callback.
func TestADS1115PollAllocatesNothing(t *testing.T) {
	r := newADCRig(t)
	dst := make([]float64, 2)
	if n := testing.AllocsPerRun(1000, func() {
		_ = r.dev.Poll(dst)
		r.clk.Advance(time.Millisecond)
	}); n != 0 {
		t.Errorf("Poll through the emulator allocates %g times per call", n)
	}
	if r.dev.Health().Frames < 400 {
		t.Errorf("only %d conversions: the result path was not exercised", r.dev.Health().Frames)
	}
}

func BenchmarkADS1115Poll(b *testing.B) {
	r := newADCRig(b)
	r.pins[0], r.pins[1] = 1, 0.5
	dst := make([]float64, 2)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.dev.Poll(dst); err != nil {
			b.Fatal(err)
		}
		r.clk.Advance(time.Millisecond) // the 1 kHz frame
	}
}
