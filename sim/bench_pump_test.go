package sim

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/pumpctl"
)

// pumpBench returns a bench with the heart-failure loop, an Impella 2.5 if
// pump is set, the DUT flow on ADC input 0 (1 V per L/min) and the aortic
// pressure on input 1 (10 mV/mmHg), and the DAC's volts equal to the
// active elastance in mmHg/ml.
func pumpBench(t testing.TB, pump bool, speed func(time.Duration) float64) *Bench {
	t.Helper()
	cfg := BenchConfig{
		Clock: clock.NewVirtual(time.Unix(0, 0)), Loop: HeartFailure(), Initial: HeartFailureInitial(),
		Thermal: DefaultThermal(), Temperature: 37, Volume: 2000,
		SPIPort: "SPI0.0", DRDYPin: "GPIO25", I2CBus: "I2C1",
		DACAddr: 0x60, DACVref: 5, DriveFullScale: 5,
		PWMAddr: 0x40, ValveChannel: 0, ValveROpen: 1,
		SlowADCAddr: 0x48,
		PumpSpeed:   speed,
	}
	cfg.ADC[0] = &AnalogInput{Signal: "flow_dut", Transducer: Transducer{Sensitivity: 1}}
	cfg.ADC[1] = &AnalogInput{Signal: "aop", Transducer: Transducer{Sensitivity: 0.01}}
	if pump {
		pp := Impella25()
		cfg.Pump = &pp
	}
	b, err := NewBench(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// The bench must put the DUT pump in the loop: the speed function is asked
// at the physics' time before every advance and held over it, flow_dut
// reaches the ADC, and Pump reads the same physics.
func TestBenchPump(t *testing.T) {
	var asked []time.Duration
	ramp := func(now time.Duration) float64 {
		asked = append(asked, now)
		return min(10000*now.Seconds(), 50000) // 10,000 rpm/s to P8
	}
	b := pumpBench(t, true, ramp)
	w, err := pumpctl.NewCardiacWaveform(HFHeartRate, HFContractility, HeartFailure().Emin)
	if err != nil {
		t.Fatal(err)
	}
	var dst [8]float64
	var flow, flowADC float64
	var n int
	for now := time.Duration(0); now < 40*time.Second; now += time.Millisecond {
		b.drive(now, w.Active())
		w.Advance(time.Millisecond)
		b.frontEnd(now+time.Millisecond, &dst)
		if now >= 30*time.Second {
			st := b.State()
			flow += st.PumpFlow
			flowADC += dst[0]
			n++
			if math.Abs(dst[0]-st.PumpFlow) > 1e-12 || math.Abs(dst[1]-0.01*st.AoP) > 1e-12 {
				t.Fatalf("ADC inputs %g V, %g V; physics %g L/min, %g mmHg", dst[0], dst[1], st.PumpFlow, st.AoP)
			}
		}
	}
	flow /= float64(n)
	r := b.Pump(40 * time.Second)
	t.Logf("bench, P8 reached by ramp: mean pump flow %.2f L/min; readout at 40 s %+v", flow, r)
	if flow < 2.1 || flow > 2.4 {
		t.Errorf("P8 on the bench: mean pump flow %.2f L/min, table 2.1–2.4", flow)
	}
	if r.RPM != 50000 || r.Time != 40*time.Second || r.PurgemmHg != 600 || r.CurrentmA < 300 {
		t.Errorf("readout %+v", r)
	}
	// Every advance asked for the speed at the time the physics stood at:
	// the drive at now and the conversion at now + 1 ms both at now.
	for i, a := range asked {
		if want := time.Duration(i/2) * time.Millisecond; a != want {
			t.Fatalf("speed asked at %v on advance %d, want %v", a, i, want)
		}
	}
	if len(asked) == 0 {
		t.Fatal("speed never asked")
	}
}

// Without a pump in the loop, flow_dut reads 0 and Pump reads the motor
// turning unloaded at the speed the function gives, so a simulated DUT on
// a loop-only bench raises no purge or flow alarm from the bench.
func TestBenchWithoutPump(t *testing.T) {
	b := pumpBench(t, false, func(time.Duration) float64 { return 40000 })
	var dst [8]float64
	b.frontEnd(time.Millisecond, &dst)
	r := b.Pump(2 * time.Millisecond)
	pp := Impella25()
	want, _ := pp.motor(40000, 0)
	if dst[0] != 0 || r.FlowLmin != 0 || r.RPM != 40000 || r.CurrentmA != want || r.PurgemmHg != 600 || r.Suction {
		t.Errorf("flow_dut %g V, readout %+v; want no flow, %g mA at 40,000 rpm", dst[0], r, want)
	}
	if err := b.Present("flow_dut", 1.5); err != nil {
		t.Fatal(err)
	}
	b.frontEnd(3*time.Millisecond, &dst)
	if dst[0] != 1.5 {
		t.Errorf("flow_dut presented 1.5 L/min reads %g V", dst[0])
	}
	b.Reconnect("flow_dut")
	b.SetPumpSpeed(nil) // holds the speed
	b.frontEnd(4*time.Millisecond, &dst)
	if r := b.Pump(4 * time.Millisecond); r.RPM != 40000 {
		t.Errorf("speed function removed: %g rpm, want the held 40,000", r.RPM)
	}
}

// The simulated DUT firmware calls Pump on its own goroutine, under its own
// lock, which the speed function takes too (it reads the firmware's
// state): the two goroutines must neither race (go test -race) nor
// deadlock. The firmware here takes its lock and waits until the engine
// is in the speed function before it calls Pump, the interleaving that
// deadlocks a bench asking for the speed under its own lock.
func TestBenchPumpConcurrent(t *testing.T) {
	var firmware sync.Mutex // the firmware's lock
	inSpeed := make(chan struct{}, 1)
	b := pumpBench(t, true, func(time.Duration) float64 {
		select {
		case inSpeed <- struct{}{}:
		default:
		}
		firmware.Lock()
		defer firmware.Unlock()
		return 45000
	})
	var engineNow atomic.Int64
	var engineDone, serverDone atomic.Bool
	caught := 0 // rounds in which the firmware called Pump with the engine in the speed function
	done := make(chan struct{}, 2)
	go func() { // the DUT server: STATUS replies
		defer func() { done <- struct{}{} }()
		defer serverDone.Store(true)
		for round := 0; round < 50 && caught < 5 && !engineDone.Load(); round++ {
			select { // a signal from a call that is over
			case <-inSpeed:
			default:
			}
			firmware.Lock()
			select {
			case <-inSpeed: // the engine is now waiting for this lock
				caught++
			case <-time.After(100 * time.Millisecond):
			}
			r := b.Pump(time.Duration(engineNow.Load()))
			if (r.RPM != 45000 && r.RPM != 0) || r.CurrentmA <= 0 { // 0: before the first speed
				t.Errorf("readout %+v", r)
			}
			firmware.Unlock()
			time.Sleep(time.Millisecond) // let the engine run
		}
	}()
	go func() { // the engine: conversions and drive, for as long as the server replies
		defer func() { done <- struct{}{} }()
		defer engineDone.Store(true)
		var dst [8]float64
		for i := 0; i < 10_000_000 && !serverDone.Load(); i++ {
			now := time.Duration(i) * time.Millisecond
			b.frontEnd(now, &dst)
			b.drive(now, 0.2)
			_ = b.State()
			engineNow.Store(int64(now))
		}
	}()
	for range 2 {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("deadlock between the engine's conversions and the firmware's Pump")
		}
	}
	t.Logf("the firmware called Pump with the engine waiting in the speed function %d times", caught)
	if caught == 0 {
		t.Error("the interleaving under test never happened")
	}
}

// BenchmarkBenchAdvance1msPump is the bench's cost of one rig sample with
// the pump: drive the elastance, take the speed, advance, read the inputs.
func BenchmarkBenchAdvance1msPump(b *testing.B) {
	bench := pumpBench(b, true, func(now time.Duration) float64 { return 50000 })
	w, _ := pumpctl.NewCardiacWaveform(HFHeartRate, HFContractility, HeartFailure().Emin)
	var dst [8]float64
	now := time.Duration(0)
	for range 10000 {
		bench.drive(now, w.Active())
		w.Advance(time.Millisecond)
		now += time.Millisecond
		bench.frontEnd(now, &dst)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bench.drive(now, w.Active())
		w.Advance(time.Millisecond)
		now += time.Millisecond
		bench.frontEnd(now, &dst)
	}
}

// TestFillMovesVolumeGently: the fill pump brings the circulating volume to
// its target at FillRate, conserving what it moved.
func TestFillMovesVolumeGently(t *testing.T) {
	b := pumpBench(t, false, nil)
	clk := b.clk.(*clock.Virtual)
	v0 := b.Fill()
	if err := b.SetFill(v0 + 100); err != nil {
		t.Fatal(err)
	}
	var dst [8]float64
	step := func(d time.Duration) {
		for end := clk.Now() + d; clk.Now() < end; {
			clk.Advance(time.Millisecond)
			b.frontEnd(clk.Now(), &dst)
		}
	}
	step(time.Second)
	if got := b.Fill() - v0; math.Abs(got-FillRate) > 0.1 {
		t.Errorf("after 1 s the fill pump moved %.2f ml, want %.0f", got, FillRate)
	}
	step(2 * time.Second)
	if got := b.Fill() - v0; math.Abs(got-100) > 1e-6 {
		t.Errorf("after 3 s the loop holds %.4f ml more, want 100", got)
	}
	if err := b.SetFill(-1); err == nil {
		t.Error("negative fill accepted")
	}
}

// TestBenchSignalsAreState: what the bench's converters see is the loop's
// State at the conversion instant, and LVVolume, read without the lock, is
// State's LV volume.
func TestBenchSignalsAreState(t *testing.T) {
	b := pumpBench(t, true, func(time.Duration) float64 { return 45000 })
	w, _ := pumpctl.NewCardiacWaveform(HFHeartRate, HFContractility, HeartFailure().Emin)
	var dst [8]float64
	for i := range 3000 {
		now := time.Duration(i+1) * time.Millisecond
		b.drive(now-time.Millisecond, w.Active())
		w.Advance(time.Millisecond)
		b.frontEnd(now, &dst)
		st := b.State()
		if dst[0] != st.PumpFlow || dst[1] != 0.01*st.AoP {
			t.Fatalf("at %v: flow_dut %g, aop %g V; State %g L/min, %g mmHg", now, dst[0], dst[1], st.PumpFlow, st.AoP)
		}
		for sig, want := range map[int]float64{sigLVP: st.LVP, sigAoP: st.AoP, sigLAP: st.LAP, sigFlowAo: st.AorticFlow, sigFlowDUT: st.PumpFlow} {
			if got := b.signal(sig); got != want {
				t.Fatalf("at %v: signal %s %g, State %g", now, Signals[sig], got, want)
			}
		}
		if b.LVVolume() != st.LVVolume {
			t.Fatalf("at %v: LVVolume %g, State %g", now, b.LVVolume(), st.LVVolume)
		}
	}
}
