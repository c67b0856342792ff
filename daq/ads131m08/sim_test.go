package ads131m08_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq/ads131m08"
	"github.com/mockloop/mockloop/sim"
)

// loop is the driver on the emulator, fed by transducers whose engineering
// values are ramps: what the rig does in simulation, minus the physics.
type loop struct {
	clk   clock.Clock
	adc   *sim.ADS131M08
	dev   *ads131m08.Dev
	gain  [8]int
	tr    [8]sim.Transducer
	last  time.Duration // the instant the front end was last sampled at
	calls int
}

// fullScale is ±1.2 V / gain, the input range of a channel.
func (l *loop) fullScale(ch int) float64 { return 1.2 / float64(l.gain[ch]) }

// value is channel ch's engineering value at t: a sawtooth from -20 to 100
// (mmHg, say) over 0.8 s, shifted per channel.
func value(t time.Duration, ch int) float64 {
	x := t.Seconds()/0.8 + float64(ch)/8
	return -20 + 120*(x-math.Floor(x))
}

// ideal is the noise-free transducer output for channel ch at t.
func (l *loop) ideal(t time.Duration, ch int) float64 {
	return l.tr[ch].Offset + l.tr[ch].Sensitivity*value(t, ch)
}

// newLoop wires emulator and driver. Each transducer spans 10 % to 70 % of
// its channel's full scale over -20..100, with noise of 1e-5 of full scale
// (about 84 codes): what a good pressure transducer gives at 24 bits.
func newLoop(t testing.TB, clk clock.Clock, clkin physic.Frequency, rate float64, gain [8]int, noise bool, opts ads131m08.Opts) *loop {
	t.Helper()
	l := &loop{clk: clk, gain: gain}
	for ch := range l.tr {
		fs := l.fullScale(ch)
		l.tr[ch] = sim.Transducer{Sensitivity: 0.005 * fs, Offset: 0.2 * fs, Min: -fs, Max: fs, Seed: uint64(ch) + 1}
		if noise {
			l.tr[ch].NoiseRMS = 1e-5 * fs
		}
	}
	adc, err := sim.NewADS131M08(sim.ADS131M08Config{
		Clock:   clk,
		ClockIn: clkin,
		Port:    "SPI0.0",
		FrontEnd: sim.FrontEndFunc(func(now time.Duration, dst *[8]float64) {
			l.last = now
			l.calls++
			for ch := range dst {
				dst[ch] = l.tr[ch].Volts(value(now, ch))
			}
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	l.adc = adc
	opts.Clock, opts.ClockIn, opts.DataRate, opts.Gain = clk, clkin, rate, gain
	if l.dev, err = ads131m08.New(adc, adc.DRDY(), &opts); err != nil {
		t.Fatal(err)
	}
	return l
}

var mixedGains = [8]int{1, 2, 4, 8, 16, 32, 64, 128}

func TestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name  string
		clkin physic.Frequency
		rate  float64
	}{
		{"1kHz", 8192 * physic.KiloHertz, 1000},
		{"10kHz", 5120 * physic.KiloHertz, 10000},
		{"16kHz", 8192 * physic.KiloHertz, 16000},
	} {
		for _, noise := range []bool{false, true} {
			name := c.name + "/exact"
			if noise {
				name = c.name + "/noise"
			}
			t.Run(name, func(t *testing.T) {
				clk := clock.NewVirtual(time.Unix(0, 0))
				l := newLoop(t, clk, c.clkin, c.rate, mixedGains, noise, ads131m08.Opts{})
				period := time.Duration(float64(time.Second) / c.rate)
				if l.dev.Period() != period || l.adc.Period() != period {
					t.Fatalf("period: driver %v, chip %v, want %v", l.dev.Period(), l.adc.Period(), period)
				}
				const frames = 2000
				var v [8]float64
				var sum, sumSq [8]float64
				prev := clk.Now()
				for i := range frames {
					if err := l.dev.Read(v[:]); err != nil {
						t.Fatalf("frame %d: %v", i, err)
					}
					now := clk.Now()
					if i > 0 && now-prev != period {
						t.Fatalf("frame %d: the data-ready wait advanced the clock by %v, want %v", i, now-prev, period)
					}
					if now%period != 0 || l.last != now {
						t.Fatalf("frame %d read at %v holds the conversion of %v", i, now, l.last)
					}
					prev = now
					for ch := range v {
						// Quantisation: half a code of 1.2 V / gain / 2^23;
						// the noise: 6 σ (exceeded with probability 2e-9 per sample).
						lsb := l.fullScale(ch) / (1 << 23)
						bound := lsb/2*(1+1e-9) + 6*l.tr[ch].NoiseRMS
						e := v[ch] - l.ideal(now, ch)
						if math.Abs(e) > bound {
							t.Fatalf("frame %d channel %d (gain %d): %.9g V, want %.9g V ± %.3g V",
								i, ch, l.gain[ch], v[ch], l.ideal(now, ch), bound)
						}
						sum[ch] += e
						sumSq[ch] += e * e
					}
				}
				if noise {
					// The transducers' noise comes through unchanged: the
					// error has their σ (quantisation adds lsb²/12, negligible).
					for ch := range v {
						s := l.tr[ch].NoiseRMS
						mean, rms := sum[ch]/frames, math.Sqrt(sumSq[ch]/frames)
						if math.Abs(mean) > 5*s/math.Sqrt(frames) || math.Abs(rms/s-1) > 0.1 {
							t.Errorf("channel %d: error mean %.3g, RMS %.3g; want 0 and %.3g", ch, mean, rms, s)
						}
					}
				}
				if h := l.dev.Health(); h.Frames != frames || h.Bad() != 0 {
					t.Errorf("health %+v", h)
				}
				if l.adc.Lost() != 0 || l.calls != frames {
					t.Errorf("chip: %d conversions lost, front end sampled %d times for %d frames", l.adc.Lost(), l.calls, frames)
				}
			})
		}
	}
}

func TestRoundTripFullScaleClipping(t *testing.T) {
	clk := clock.NewVirtual(time.Unix(0, 0))
	l := newLoop(t, clk, 0, 1000, [8]int{}, false, ads131m08.Opts{})
	// 3 V transducer rails, more than the ADC takes: the codes clip at
	// 7FFFFFh and 800000h, the driver reports just under +1.2 V and -1.2 V.
	for ch := range l.tr {
		l.tr[ch] = sim.Transducer{Offset: 3 - 6*float64(ch%2), Min: -3, Max: 3}
	}
	var v [8]float64
	if err := l.dev.Read(v[:]); err != nil {
		t.Fatal(err)
	}
	for ch := range v {
		want := 1.2 * (1<<23 - 1) / (1 << 23)
		if ch%2 == 1 {
			want = -1.2
		}
		if math.Abs(v[ch]-want) > 1e-12 {
			t.Errorf("channel %d: %.10g V, want %.10g V", ch, v[ch], want)
		}
	}
}

// TestFaultsThroughEmulator injects each fault the chip can show and checks
// it is counted, returned as an error, and that good frames follow.
func TestFaultsThroughEmulator(t *testing.T) {
	clk := clock.NewVirtual(time.Unix(0, 0))
	l := newLoop(t, clk, 0, 1000, mixedGains, true, ads131m08.Opts{StuckFrames: 50})
	const T = time.Millisecond
	var v [8]float64
	read := func() error { return l.dev.Read(v[:]) }
	good := func(what string) {
		t.Helper()
		for range 3 {
			if err := read(); err != nil {
				t.Fatalf("after %s: %v", what, err)
			}
		}
	}
	expect := func(what string, want error) {
		t.Helper()
		if err := read(); !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", what, err, want)
		}
	}
	good("start")

	l.adc.CorruptCRC(2)
	v[0] = 42
	expect("corrupted CRC", ads131m08.ErrCRC)
	expect("corrupted CRC", ads131m08.ErrCRC)
	if v[0] != 42 {
		t.Error("a frame with a bad CRC reached dst")
	}
	if h := l.dev.Health(); h.CRCErrors != 2 || h.Gaps != 0 {
		t.Errorf("after 2 bad CRCs: %+v", h)
	}
	good("CRC errors")

	// One data-ready lost: the driver waits for the next and sees the gap.
	l.adc.SuppressDRDY(1)
	start := clk.Now()
	expect("one suppressed data-ready", ads131m08.ErrGap)
	if d := clk.Now() - start; d != 2*T {
		t.Errorf("waited %v, want 2 periods", d)
	}
	if g, lost := l.dev.Health().Gaps, l.adc.Lost(); g != 1 || lost != 1 {
		t.Errorf("gaps %d, chip lost %d, want 1 and 1", g, lost)
	}
	good("one lost conversion")

	// Five lost: the wait times out after 3 periods, the next finds the gap.
	l.adc.SuppressDRDY(5)
	start = clk.Now()
	expect("five suppressed data-ready", ads131m08.ErrNotReady)
	if d := clk.Now() - start; d != 3*T {
		t.Errorf("timed out after %v, want 3 periods", d)
	}
	expect("data-ready back", ads131m08.ErrGap)
	if h := l.dev.Health(); h.MissedReady != 1 || h.Gaps != 6 || l.adc.Lost() != 6 {
		t.Errorf("health %+v, chip lost %d; want 1 missed, 6 gaps = 6 lost", h, l.adc.Lost())
	}
	good("a missed data-ready")

	// The host is late by 2.5 periods: the chip overwrote one conversion.
	clk.Advance(T * 5 / 2)
	expect("late host", ads131m08.ErrGap)
	if g, lost := l.dev.Health().Gaps, l.adc.Lost(); g != 7 || lost != 7 {
		t.Errorf("gaps %d, chip lost %d, want 7 and 7", g, lost)
	}
	good("a late read")

	// Late, but not by a whole period: nothing lost, nothing counted.
	for range 20 {
		clk.Advance(T * 7 / 10)
		if err := read(); err != nil {
			t.Fatalf("read 0.7 T late: %v", err)
		}
	}
	if g := l.dev.Health().Gaps; g != 7 || l.adc.Lost() != 7 {
		t.Errorf("late but complete reads counted as gaps: %d", g)
	}

	// Two channels freeze: each counted once, when it has been identical for 50 frames.
	for _, ch := range []int{3, 6} {
		if err := l.adc.Freeze(ch); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 60; i++ {
		err := read()
		want := error(nil)
		if i == 50 {
			want = ads131m08.ErrStuck
		}
		if !errors.Is(err, want) {
			t.Fatalf("frozen frame %d: %v, want %v", i, err, want)
		}
	}
	if h := l.dev.Health(); h.Stuck != 2 || l.dev.Stuck() != 1<<3|1<<6 {
		t.Errorf("stuck count %d, set %08b; want 2 and channels 3 and 6", h.Stuck, l.dev.Stuck())
	}
	_ = l.adc.Thaw(3)
	_ = l.adc.Thaw(6)
	good("a thawed channel")
	if l.dev.Stuck() != 0 {
		t.Error("episode did not end when the code moved")
	}

	// The conversion phase restarts: F_RESYNC counts one gap.
	clk.Advance(T / 3)
	l.adc.Resync()
	gaps := l.dev.Health().Gaps
	expect("resync", ads131m08.ErrGap)
	if g := l.dev.Health().Gaps; g != gaps+1 {
		t.Errorf("resync counted %d gaps, want 1", g-gaps)
	}
	good("a resync")

	// A supply dip resets the chip: every read says so, counted once.
	l.adc.PowerCycle()
	gaps = l.dev.Health().Gaps
	for range 3 {
		expect("chip reset", ads131m08.ErrChipReset)
	}
	if g := l.dev.Health().Gaps; g != gaps+1 {
		t.Errorf("chip reset counted %d times, want once", g-gaps)
	}
	t.Logf("health at the end: %+v", l.dev.Health())
}

func TestCloseStandsTheChipBy(t *testing.T) {
	l := newLoop(t, clock.NewVirtual(time.Unix(0, 0)), 0, 1000, [8]int{}, false, ads131m08.Opts{})
	if err := l.dev.Close(); err != nil {
		t.Fatal(err)
	}
	if !l.adc.Standby() {
		t.Error("chip not in standby after Close")
	}
	// The configuration the driver wrote is what the chip holds.
	if m, c := l.adc.Register(2), l.adc.Register(3); m != 0x0110 || c != 0xFF16 {
		t.Errorf("MODE %04X, CLOCK %04X; want 0110 and FF16", m, c)
	}
}

func TestRoundTripRealClock(t *testing.T) {
	if testing.Short() {
		t.Skip("waits in real time")
	}
	clk := clock.NewReal()
	l := newLoop(t, clk, 0, 1000, mixedGains, true, ads131m08.Opts{})
	var v [8]float64
	start := time.Now()
	const frames = 30
	var lost0 uint64 // lost while New ran, before the driver's first frame
	for i := range frames {
		// On a busy machine a read can come late: a gap is allowed, nothing else.
		if err := l.dev.Read(v[:]); err != nil && !errors.Is(err, ads131m08.ErrGap) {
			t.Fatalf("frame %d: %v", i, err)
		}
		for ch := range v {
			bound := l.fullScale(ch)/(1<<24)*(1+1e-9) + 6*l.tr[ch].NoiseRMS
			if e := v[ch] - l.ideal(l.last, ch); math.Abs(e) > bound {
				t.Fatalf("frame %d channel %d off by %.3g V", i, ch, e)
			}
		}
		if i == 0 {
			lost0 = l.adc.Lost()
		}
	}
	if d := time.Since(start); d < (frames-1)*time.Millisecond {
		t.Errorf("%d frames at 1 kHz in %v of real time", frames, d)
	}
	// A real loss is never missed (a loss can be counted one frame late,
	// hence the 1). Reads later than 0.9 T, which a loaded machine's timer
	// gives (Go timers on some VMs have 1 ms granularity), count gaps that
	// were none: more gaps than losses is allowed.
	g, lost := l.dev.Health().Gaps, l.adc.Lost()-lost0
	if g+1 < lost {
		t.Errorf("driver counted %d gaps, the chip lost %d conversions", g, lost)
	}
	t.Logf("real clock: %d gaps counted, %d conversions lost", g, lost)
}

func TestAcquireAllocatesNothing(t *testing.T) {
	l := newLoop(t, clock.NewVirtual(time.Unix(0, 0)), 0, 1000, mixedGains, true, ads131m08.Opts{})
	var v [8]float64
	if a := testing.AllocsPerRun(1000, func() {
		if err := l.dev.Read(v[:]); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("Read through the emulator allocates %g times per frame", a)
	}
}

// BenchmarkAcquire is the simulated acquisition path of one frame of eight
// channels: the driver's data-ready wait (advancing the virtual clock), one
// 30-byte SPI transfer answered by the emulator (front end sampled through
// eight noisy transducers, quantised, CRC), the driver's CRC check, gap and
// stuck checks and conversion to volts.
func BenchmarkAcquire(b *testing.B) {
	for _, c := range []struct {
		name  string
		clkin physic.Frequency
		rate  float64
	}{
		{"1kHz", 8192 * physic.KiloHertz, 1000},
		{"10kHz", 5120 * physic.KiloHertz, 10000},
	} {
		b.Run(c.name, func(b *testing.B) {
			l := newLoop(b, clock.NewVirtual(time.Unix(0, 0)), c.clkin, c.rate, mixedGains, true, ads131m08.Opts{})
			var v [8]float64
			b.ReportAllocs()
			for b.Loop() {
				if err := l.dev.Read(v[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadDriverOnly is the driver's own share: the bus returns a
// prepared frame and DRDY is always low, as close to the Pi's cost per frame
// as a test gets without the ioctl.
func BenchmarkReadDriverOnly(b *testing.B) {
	clk := clock.NewVirtual(time.Unix(0, 0))
	bus := &replayPort{ops: initOps(0xFF16, 0, 0), data: rx(statusNew, codes(1000))}
	pin := sim.NewPin("GPIO25", 25, clk)
	dev, err := ads131m08.New(bus, pin, &ads131m08.Opts{Clock: clk, StuckFrames: -1})
	if err != nil {
		b.Fatal(err)
	}
	_ = pin.Drive(gpio.Low)
	var v [8]float64
	b.ReportAllocs()
	for b.Loop() {
		clk.Advance(time.Millisecond)
		if err := dev.Read(v[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// replayPort answers New's frames from ops, then every frame with data.
type replayPort struct {
	ops  []conntest.IO
	data []byte
	n    int
}

func (p *replayPort) String() string { return "replay" }
func (p *replayPort) Connect(physic.Frequency, spi.Mode, int) (spi.Conn, error) {
	return p, nil
}
func (p *replayPort) Tx(w, r []byte) error {
	if p.n < len(p.ops) {
		copy(r, p.ops[p.n].R)
		p.n++
		return nil
	}
	copy(r, p.data)
	return nil
}
func (p *replayPort) Duplex() conn.Duplex            { return conn.Full }
func (p *replayPort) TxPackets(_ []spi.Packet) error { return errors.New("not supported") }
