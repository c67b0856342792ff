package sim

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/pumpctl/mcp4725"
)

// chamberSignal is the bench signal that measures a hybrid bench's
// chamber of each name.
var chamberSignal = map[string]string{"lv": "lvp", "la": "lap", "aorta": "aop", "ra": "rap", "pa": "pap"}

// hybridConfig is a hybrid bench's chambers inlet and outlet (0.05
// ml/mmHg each) at pin and pout mmHg, with drives of ±100 ml/s lagging by
// tau.
func hybridConfig(inlet, outlet string, pin, pout float64, tau time.Duration) HydraulicsConfig {
	return HydraulicsConfig{
		Inlet: inlet, Outlet: outlet, InletCompliance: 0.05, OutletCompliance: 0.05,
		InletPressure: pin, OutletPressure: pout, DriveFullScale: 100, DriveResponse: tau,
	}
}

// clampedDUT is an Impella 2.5 whose cannula is clamped: 10⁷ mmHg·s/ml,
// a leak of 10⁻⁵ ml/s at 100 mmHg, so that a test sees the drives alone.
func clampedDUT() PumpParams {
	pp := Impella25()
	pp.R = 1e7
	return pp
}

// hybridRig is a hybrid bench driven and read as a controller would: the
// drives through their MCP4725s on the emulated I²C bus (the real
// driver), the chambers and the DUT's flow through the ADS131M08's front
// end and the transducers (inlet on input 0 and outlet on 1 at 10 mV/mmHg,
// flow_dut on 2 at 1 V per L/min).
type hybridRig struct {
	t       testing.TB
	b       *Bench
	clk     *clock.Virtual
	in, out *mcp4725.Dev
	fs      float64
}

func newHybridRig(t testing.TB, hc HydraulicsConfig, pp PumpParams) *hybridRig {
	t.Helper()
	clk := clock.NewVirtual(time.Unix(0, 0))
	cfg := hybridBenchConfig(clk, hc, pp)
	b, err := NewBench(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	r := &hybridRig{t: t, b: b, clk: clk, fs: hc.DriveFullScale}
	for _, d := range []struct {
		dev  **mcp4725.Dev
		name string
		addr uint16
	}{{&r.in, "inlet_drive", 0x60}, {&r.out, "outlet_drive", 0x61}} {
		if *d.dev, err = mcp4725.New(b.I2C(), d.name, mcp4725.Opts{Addr: d.addr, Vref: 5}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func hybridBenchConfig(clk clock.Clock, hc HydraulicsConfig, pp PumpParams) BenchConfig {
	cfg := BenchConfig{
		Clock: clk, Thermal: DefaultThermal(), Temperature: 37, Volume: 2000,
		SPIPort: "SPI0.0", DRDYPin: "GPIO25", I2CBus: "I2C1",
		DACAddr: 0x60, DACVref: 5, PWMAddr: 0x40, SlowADCAddr: 0x48,
		RVDrive: &RVDriveConfig{Addr: 0x61, Vref: 5},
		Pump:    &pp, Hydraulics: &hc,
	}
	cfg.ADC[0] = &AnalogInput{Signal: chamberSignal[hc.Inlet], Transducer: Transducer{Sensitivity: 0.01}}
	cfg.ADC[1] = &AnalogInput{Signal: chamberSignal[hc.Outlet], Transducer: Transducer{Sensitivity: 0.01}}
	cfg.ADC[2] = &AnalogInput{Signal: "flow_dut", Transducer: Transducer{Sensitivity: 1}}
	return cfg
}

// read converts at the clock's now, which advances the physics there, and
// returns what the transducers' volts stand for: the inlet's and the
// outlet's pressures, mmHg, and the DUT's flow, L/min.
func (r *hybridRig) read() (pin, pout, flow float64) {
	var v [8]float64
	r.b.frontEnd(r.clk.Now(), &v)
	a := &r.b.cfg.ADC
	return a[0].Transducer.Value(v[0]), a[1].Transducer.Value(v[1]), a[2].Transducer.Value(v[2])
}

// command writes the volts for flow q (ml/s) to a drive's DAC and returns
// the flow the code written stands for.
func (r *hybridRig) command(dev *mcp4725.Dev, q float64) float64 {
	r.t.Helper()
	if err := dev.SetVolts(min(max((q/r.fs+1)/2*5, 0), 5)); err != nil {
		r.t.Fatal(err)
	}
	code, _ := dev.Code()
	return (float64(code)/4096*2 - 1) * r.fs
}

// With both drives at mid-scale the chambers hold their pressures: over
// 10 s they drift less than 0.01 mmHg, whether the DAC was written
// mid-scale or powered up there, around a stopped DUT between equal
// pressures or a clamped one between a ventricle's and an artery's.
func TestHybridBenchHoldsAtMidScale(t *testing.T) {
	for _, c := range []struct {
		name            string
		inlet, outlet   string
		pin, pout       float64
		pp              PumpParams
		write, powerUp  bool
		wantFlowBelow   float64 // L/min, |flow_dut|
		wantDriftBelow  float64 // mmHg
		wantCommandZero bool
	}{
		{name: "CP stopped, equal pressures, written", inlet: "lv", outlet: "aorta", pin: 10, pout: 10, pp: Impella25(), write: true},
		{name: "CP stopped, equal pressures, as powered up", inlet: "lv", outlet: "aorta", pin: 10, pout: 10, pp: Impella25()},
		{name: "RP stopped, equal pressures", inlet: "ra", outlet: "pa", pin: 12, pout: 12, pp: Impella25(), write: true},
		{name: "CP clamped, 8 and 90 mmHg", inlet: "lv", outlet: "aorta", pin: 8, pout: 90, pp: clampedDUT(), write: true},
		{name: "RP clamped, 10 and 25 mmHg", inlet: "ra", outlet: "pa", pin: 10, pout: 25, pp: clampedDUT()},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newHybridRig(t, hybridConfig(c.inlet, c.outlet, c.pin, c.pout, 5*time.Millisecond), c.pp)
			if c.write {
				for _, d := range []*mcp4725.Dev{r.in, r.out} {
					// Off mid-scale and back at one instant, which moves
					// nothing: the chip reports a change only, and it
					// powered up at mid-scale.
					r.command(d, -50)
					if q := r.command(d, 0); q != 0 {
						t.Fatalf("mid-scale stands for %g ml/s", q)
					}
				}
			}
			var drift, flow float64
			for r.clk.Now() < 10*time.Second {
				r.clk.Advance(time.Millisecond)
				pin, pout, q := r.read()
				drift = max(drift, math.Abs(pin-c.pin), math.Abs(pout-c.pout))
				flow = max(flow, math.Abs(q))
			}
			t.Logf("largest drift over 10 s %.2e mmHg, |flow_dut| up to %.2e L/min", drift, flow)
			if drift >= 0.01 {
				t.Errorf("the chambers drifted %.4f mmHg over 10 s, want < 0.01", drift)
			}
			if c.pin == c.pout && flow > 1e-6 {
				t.Errorf("flow_dut reached %g L/min between equal pressures", flow)
			}
			if h := r.b.hyd; h.cmd != [2]float64{} || h.q != [2]float64{} {
				t.Errorf("drives commanded %v, flowing %v ml/s; want stopped", h.cmd, h.q)
			}
		})
	}
}

// A drive's DAC stepped to a flow X raises (or lowers) its chamber's
// pressure at X/C mmHg/s once the servo's lag has passed, within 1 %, and
// the flow, read from the pressure's slope, passes 63 % of X at the drive's
// response time, within 10 %. The DUT is clamped so that the chamber sees
// the drive alone.
func TestHybridBenchDriveStep(t *testing.T) {
	for _, c := range []struct {
		name   string
		outlet bool    // step the outlet's drive, else the inlet's
		q      float64 // ml/s
		c      float64 // the stepped chamber's compliance, ml/mmHg
		tau    time.Duration
	}{
		{"inlet fills, 5 ms", false, 20, 0.05, 5 * time.Millisecond},
		{"outlet drains, 5 ms", true, -15, 0.05, 5 * time.Millisecond},
		{"inlet drains a softer chamber, 20 ms", false, -8, 0.2, 20 * time.Millisecond},
		{"outlet fills, 20 ms", true, 40, 0.05, 20 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The inlet starts at 30 mmHg: a drained one stays above 0,
			// where its sleeve would collapse (inletSleeve).
			hc := hybridConfig("lv", "aorta", 30, 80, c.tau)
			dev, ch := 0, 0
			if c.outlet {
				hc.OutletCompliance, dev, ch = c.c, 1, 1
			} else {
				hc.InletCompliance = c.c
			}
			r := newHybridRig(t, hc, clampedDUT())
			r.clk.Advance(100 * time.Millisecond)
			p := func() float64 {
				pin, pout, _ := r.read()
				return [2]float64{pin, pout}[ch]
			}
			p0 := p()
			x := r.command([2]*mcp4725.Dev{r.in, r.out}[dev], c.q)
			n := int((10*c.tau + 200*time.Millisecond) / time.Millisecond)
			ps := []float64{p0}
			for range n {
				r.clk.Advance(time.Millisecond)
				ps = append(ps, p())
			}
			// The flow over each 1 ms, C·ΔP/Δt, stands at the interval's
			// middle; the 63 % point lies between two of them.
			t63 := math.NaN()
			for k := 1; k < n; k++ {
				q0, q1 := c.c*(ps[k]-ps[k-1])/1e-3, c.c*(ps[k+1]-ps[k])/1e-3
				if math.Abs(q1) >= 0.632*math.Abs(x) {
					t63 = (float64(k) - 0.5 + (0.632*x-q0)/(q1-q0)) * 1e-3
					break
				}
			}
			// The slope over the last 100 ms, the lag e^−(10τ+100 ms)/τ
			// long gone.
			slope := (ps[n] - ps[n-100]) / 0.1
			want := x / c.c
			t.Logf("command %.4f ml/s: slope %.3f mmHg/s (X/C %.3f), 63 %% at %.3f ms (τ %v)", x, slope, want, t63*1e3, c.tau)
			if math.Abs(slope-want) > 0.01*math.Abs(want) {
				t.Errorf("slope %.4f mmHg/s, want X/C = %.4f within 1 %%", slope, want)
			}
			if tau := c.tau.Seconds(); !(math.Abs(t63-tau) <= 0.1*tau) {
				t.Errorf("63 %% of the step at %.3f ms, want τ = %v within 10 %%", t63*1e3, c.tau)
			}
			pin, pout, _ := r.read()
			if other, want := [2]float64{pout, pin}[ch], [2]float64{80, 30}[ch]; math.Abs(other-want) > 0.01 {
				t.Errorf("the other chamber, its drive stopped, moved from %g to %.4f mmHg", want, other)
			}
		})
	}
}

// With the DUT at a fixed speed and both chambers held at set pressures by
// a proportional loop in the test through the DAC emulators, fed forward
// with the measured flow_dut (what the inlet loses and the outlet gains),
// flow_dut is the pump's HQ at that head and speed: within 1 % of a pure
// network's with two large compliances at those pressures, and of
// SteadyFlow. The pump's readout, which the DUT firmware reads, is the
// same branch's.
func TestHybridBenchPumpFlowMatchesHQ(t *testing.T) {
	const kp = 5.0 // ml/s per mmHg: crossover Kp/C = 100 rad/s, below the 5 ms servo's 200
	for _, c := range []struct {
		name          string
		inlet, outlet string
		pin, pout     float64
		rpm           float64
	}{
		{"CP 40,000 rpm, LV 10, aorta 80", "lv", "aorta", 10, 80, 40000},
		{"CP 50,000 rpm, LV 5, aorta 95", "lv", "aorta", 5, 95, 50000},
		{"RP 33,000 rpm, RA 8, PA 22", "ra", "pa", 8, 22, 33000},
		{"stopped: backflow from the aorta", "lv", "aorta", 10, 80, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			pp := Impella25()
			r := newHybridRig(t, hybridConfig(c.inlet, c.outlet, c.pin, c.pout, 5*time.Millisecond), pp)
			r.b.SetPumpSpeed(func(time.Duration) float64 { return c.rpm })
			var sumQ, sumIn, sumOut, worst float64
			n := 0
			for r.clk.Now() < 5*time.Second {
				pin, pout, q := r.read()
				qd := q / MlPerSToLPerMin
				r.command(r.in, qd+kp*(c.pin-pin))
				r.command(r.out, -qd+kp*(c.pout-pout))
				if r.clk.Now() >= 3*time.Second {
					sumQ, sumIn, sumOut, n = sumQ+q, sumIn+pin, sumOut+pout, n+1
					worst = max(worst, math.Abs(pin-c.pin), math.Abs(pout-c.pout))
				}
				r.clk.Advance(time.Millisecond)
			}
			flow := sumQ / float64(n)
			ref := referencePumpFlow(t, pp, c.pin, c.pout, c.rpm)
			hq := pp.SteadyFlow(c.rpm, c.pout-c.pin)
			t.Logf("flow_dut %.4f L/min; reference network %.4f, HQ %.4f; chambers %.3f/%.3f mmHg, worst %.4f off",
				flow, ref, hq, sumIn/float64(n), sumOut/float64(n), worst)
			if worst > 0.1 {
				t.Errorf("the chambers strayed %.3f mmHg from their set pressures", worst)
			}
			for _, w := range []struct {
				what string
				v    float64
			}{{"the reference network's", ref}, {"the HQ curve's", hq}} {
				if math.Abs(flow-w.v) > 0.01*math.Abs(w.v) {
					t.Errorf("flow_dut %.4f L/min, %s %.4f: off by more than 1 %%", flow, w.what, w.v)
				}
			}
			rd := r.b.Pump(r.clk.Now())
			st := r.b.State()
			nw := r.b.Loop().Network()
			if rd.RPM != c.rpm || rd.FlowLmin != st.PumpFlow || rd.FlowLmin != nw.Flow(nw.Link(LinkDUT)) || math.Abs(rd.FlowLmin-flow) > 0.02*math.Abs(flow) {
				t.Errorf("readout %.0f rpm, %.4f L/min; the dut branch %.4f L/min, mean flow_dut %.4f", rd.RPM, rd.FlowLmin, nw.Flow(nw.Link(LinkDUT)), flow)
			}
		})
	}
}

// referencePumpFlow is pp's steady flow at rpm, L/min, between two
// compliances of 10⁶ ml/mmHg at pin and pout: a pure network, no bench.
func referencePumpFlow(t *testing.T, pp PumpParams, pin, pout, rpm float64) float64 {
	t.Helper()
	const c = 1e6
	nw, err := NewNetwork(NetworkSpec{
		Nodes: []NodeSpec{{Name: "in", C: c, Volume: c * pin}, {Name: "out", C: c, Volume: c * pout}},
		Links: []LinkSpec{{Name: "pump", Kind: Pump, From: "in", To: "out", Pump: &pp}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nw.SetPumpSpeed(0, rpm); err != nil {
		t.Fatal(err)
	}
	nw.AdvanceTo(5 * time.Second)
	return nw.Flow(0)
}

// A hybrid bench is refused without its parts or with a patient's, with
// an error that names what is wrong.
func TestHybridBenchRefuses(t *testing.T) {
	clk := clock.NewVirtual(time.Unix(0, 0))
	for _, c := range []struct {
		name string
		edit func(*BenchConfig)
		want string
	}{
		{"no DUT", func(bc *BenchConfig) { bc.Pump = nil }, "needs its device under test"},
		{"no outlet DAC", func(bc *BenchConfig) { bc.RVDrive = nil }, "needs its second DAC (RVDrive)"},
		{"no DAC reference", func(bc *BenchConfig) { bc.RVDrive.Vref = 0 }, "reference voltage"},
		{"a patient network", func(bc *BenchConfig) { n := SimaanNetwork(); bc.Network = &n }, "the controller's model"},
		{"a preload", func(bc *BenchConfig) { bc.Preload = &PreloadConfig{Channel: 1, Head: 30, Line: 0.2} }, "no preload"},
		{"a pulmonary valve", func(bc *BenchConfig) { bc.PulmonaryValve = &ValveConfig{Channel: 2, ROpen: 0.02} }, "no preload or pulmonary valve"},
		{"a chamber no signal reads", func(bc *BenchConfig) { bc.Hydraulics.Inlet = "rv" }, `inlet chamber "rv": no bench signal reads it`},
		{"one chamber twice", func(bc *BenchConfig) { bc.Hydraulics.Outlet = "lv" }, "inlet and outlet are both lv"},
		{"no compliance", func(bc *BenchConfig) { bc.Hydraulics.OutletCompliance = 0 }, "outlet compliance 0 must be finite and > 0"},
		{"no full scale", func(bc *BenchConfig) { bc.Hydraulics.DriveFullScale = math.Inf(1) }, "drive full scale +Inf"},
		{"pressure NaN", func(bc *BenchConfig) { bc.Hydraulics.InletPressure = math.NaN() }, "not finite"},
		{"negative lag", func(bc *BenchConfig) { bc.Hydraulics.DriveResponse = -time.Millisecond }, "drive response -1ms is negative"},
		{"DUT out of range", func(bc *BenchConfig) { bc.Pump.Beta = -1 }, "pump parameter Beta"},
	} {
		t.Run(c.name, func(t *testing.T) {
			hc := hybridConfig("lv", "aorta", 10, 80, 5*time.Millisecond)
			bc := hybridBenchConfig(clk, hc, Impella25())
			c.edit(&bc)
			b, err := NewBench(bc)
			if err == nil {
				b.Close()
				t.Fatalf("bench built, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v, want %q", err, c.want)
			}
		})
	}
}

// The parts of a patient's bench do nothing on a hybrid one: the fill
// pump refuses, the valves' PWM moves nothing, the ventricles' volumes
// read 0, and the state reads the chambers as the nodes they stand for.
// A DAC powered down outputs 0 V: full scale out of its chamber.
func TestHybridBenchHasNoPatient(t *testing.T) {
	r := newHybridRig(t, hybridConfig("lv", "aorta", 10, 80, 0), clampedDUT())
	b := r.b
	if err := b.SetFill(500); err == nil || !strings.Contains(err.Error(), "the hybrid bench's fill is the model's") {
		t.Errorf("SetFill: %v", err)
	}
	for ch := range 16 {
		b.duty(time.Millisecond, ch, 0.5)
	}
	r.clk.Advance(time.Second)
	pin, pout, _ := r.read()
	if math.Abs(pin-10) > 1e-3 || math.Abs(pout-80) > 1e-3 {
		t.Errorf("after the valves' PWM: chambers at %.4f/%.4f mmHg, want 10/80", pin, pout)
	}
	st := b.State()
	if st.LVP != pin || st.AoP != pout || st.LAP != 0 || st.RAP != 0 || st.LVVolume != 0 || b.LVVolume() != 0 || b.RVVolume() != 0 {
		t.Errorf("state %+v; LVVolume %g, RVVolume %g", st, b.LVVolume(), b.RVVolume())
	}
	if p := b.Loop().Parameters(); p.Pump == nil || p.Pump.R != 1e7 || p.Rs != 0 {
		t.Errorf("parameters %+v: want the DUT's constants and no systemic resistance", p)
	}
	if err := b.Loop().SetSystemicResistance(1); err == nil {
		t.Error("a systemic resistance was set on a bench without one")
	}
	if err := r.in.SetPowerDown(mcp4725.PowerDown1k); err != nil {
		t.Fatal(err)
	}
	if got := b.hyd.cmd[0]; got != -100 {
		t.Errorf("the inlet's DAC powered down commands %g ml/s, want −full scale", got)
	}
	r.clk.Advance(100 * time.Millisecond)
	// 10 ml out: 200 mmHg at 0.05 ml/mmHg, and below 0 mmHg the sleeve's
	// collapse law (9.5 ml under its unstressed volume).
	want := pin - 100*0.1/0.05 - CollapsePressure*math.Expm1((100*0.1-pin*0.05)/inletCollapse)
	if pin2, _, _ := r.read(); math.Abs(pin2-want) > 1e-3 { // the clamped DUT leaks 3e-5 mmHg
		t.Errorf("powered down 100 ms (no lag): inlet %.6f mmHg, want %.6f", pin2, want)
	}
}

// The hybrid bench advances and reads without allocating, as the rig's
// 1 kHz loop needs.
func TestHybridBenchAllocatesNothing(t *testing.T) {
	r := newHybridRig(t, hybridConfig("ra", "pa", 8, 22, 5*time.Millisecond), Impella25())
	r.b.SetPumpSpeed(func(time.Duration) float64 { return 30000 })
	var v [8]float64
	k := 0
	allocs := testing.AllocsPerRun(1000, func() {
		k++
		r.b.drive(r.clk.Now(), 2.5+float64(k%5)*0.01)
		r.b.rvDrive(r.clk.Now(), 2.5-float64(k%3)*0.01)
		r.clk.Advance(time.Millisecond)
		r.b.frontEnd(r.clk.Now(), &v)
	})
	if allocs != 0 {
		t.Errorf("%g allocations per frame", allocs)
	}
}

// BenchmarkHybridBenchFrame is a hybrid bench's cost per 1 ms frame: both
// drives commanded, the physics advanced and read through the ADC's front
// end, the DUT running.
func BenchmarkHybridBenchFrame(b *testing.B) {
	r := newHybridRig(b, hybridConfig("lv", "aorta", 10, 80, 5*time.Millisecond), Impella25())
	r.b.SetPumpSpeed(func(time.Duration) float64 { return 40000 })
	var v [8]float64
	b.ReportAllocs()
	b.ResetTimer()
	for k := range b.N {
		r.b.drive(r.clk.Now(), 2.5+float64(k%5)*0.01)
		r.b.rvDrive(r.clk.Now(), 2.5-float64(k%3)*0.01)
		r.clk.Advance(time.Millisecond)
		r.b.frontEnd(r.clk.Now(), &v)
	}
}
