package sim

import (
	"math"
	"testing"
	"time"

	"github.com/mockloop/mockloop/pumpctl"
)

// beatStats are the hemodynamic figures of a run of whole beats.
type beatStats struct {
	beats          int
	sys, dia       float64 // mean per-beat max and min of AoP, mmHg
	mapP           float64 // time mean of AoP, mmHg
	co             float64 // time mean of flow_ao, L/min
	sv             float64 // CO/HR, ml
	lvSys, lvEDP   float64 // mean per-beat max LVP and LVP at end diastole, mmHg
	lapMin, lapMax float64 // LAP range, mmHg
	lvMin, lvMax   float64 // LV volume range, ml
	psMean         float64 // mean systemic pressure, mmHg

	perBeat []beatFigures
	trace   [][NumChannels]float64 // every sample, when driven.trace is set
}

// beatFigures are one beat's systolic, diastolic and mean aortic pressure
// (mmHg) and mean aortic flow (L/min).
type beatFigures struct{ sys, dia, mean, flow float64 }

// driven is a loop driven by a cardiac waveform, the elastance updated
// every dt and held in between, as by the rig's 1 kHz loop.
type driven struct {
	l  *Loop
	w  *pumpctl.CardiacWaveform
	dt time.Duration
	t  time.Duration

	// rk4 > 0 replaces the loop's solver by classic RK4 in steps of rk4:
	// the reference the implicit scheme is checked against.
	rk4 time.Duration
	// trace makes measure keep every sample.
	trace bool
	// speed, if set, gives the pump speed for each sample interval from
	// its start, held over it as the rig holds the DUT's command.
	speed func(t time.Duration) float64
}

func newDriven(t testing.TB, p Parameters, hr, emax float64) *driven {
	t.Helper()
	return newDrivenFrom(t, p, SimaanInitial(), hr, emax)
}

// newDrivenFrom is newDriven from the initial state x0.
func newDrivenFrom(t testing.TB, p Parameters, x0 Initial, hr, emax float64) *driven {
	t.Helper()
	l, err := NewLoop(p, x0)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pumpctl.NewCardiacWaveform(hr, emax, p.Emin)
	if err != nil {
		t.Fatal(err)
	}
	return &driven{l: l, w: w, dt: time.Millisecond}
}

// tick holds the current elastance over one sample interval, then moves the
// waveform to the end of it. It reports whether a beat started at the new
// sample.
func (d *driven) tick() bool {
	if err := d.l.SetActiveElastance(d.w.Active()); err != nil {
		panic(err)
	}
	if d.speed != nil {
		if err := d.l.SetPumpSpeed(d.speed(d.t)); err != nil {
			panic(err)
		}
	}
	d.t += d.dt
	if d.rk4 > 0 {
		rk4To(d.l, d.t, d.rk4)
	} else {
		d.l.AdvanceTo(d.t)
	}
	_, started := d.w.Advance(d.dt)
	return started
}

// settle runs until at least dur has passed and a beat starts.
func (d *driven) settle(dur time.Duration) {
	end := d.t + dur
	for {
		if d.tick() && d.t >= end {
			return
		}
	}
}

// measure runs n whole beats (starting at a beat start) and returns their
// figures.
func (d *driven) measure(n int) beatStats { return d.measureWith(n, nil) }

// measureWith is measure calling each after every sample.
func (d *driven) measureWith(n int, each func()) beatStats {
	var s beatStats
	var sum, sumQ, sumPs float64
	var samples int
	var bSum, bQ float64
	var bN int
	bMax, bMin, bLV := math.Inf(-1), math.Inf(1), math.Inf(-1)
	s.lapMin, s.lvMin = math.Inf(1), math.Inf(1)
	s.lapMax, s.lvMax = math.Inf(-1), math.Inf(-1)
	var r [NumChannels]float64
	d.l.Read(r[:])
	s.lvEDP += r[ChLVP] // end diastole of the first beat: LVP at its start
	for s.beats < n {
		started := d.tick()
		if each != nil {
			each()
		}
		d.l.Read(r[:])
		if d.trace {
			s.trace = append(s.trace, r)
		}
		sum += r[ChAoP]
		sumQ += r[ChFlowAo]
		sumPs += d.l.x[xPs]
		samples++
		bSum += r[ChAoP]
		bQ += r[ChFlowAo]
		bN++
		bMax, bMin, bLV = max(bMax, r[ChAoP]), min(bMin, r[ChAoP]), max(bLV, r[ChLVP])
		s.lapMin, s.lapMax = min(s.lapMin, r[ChLAP]), max(s.lapMax, r[ChLAP])
		s.lvMin, s.lvMax = min(s.lvMin, r[ChLVVolume]), max(s.lvMax, r[ChLVVolume])
		if started {
			s.beats++
			s.sys += bMax
			s.dia += bMin
			s.lvSys += bLV
			if s.beats < n {
				s.lvEDP += r[ChLVP]
			}
			s.perBeat = append(s.perBeat, beatFigures{bMax, bMin, bSum / float64(bN), bQ / float64(bN)})
			bMax, bMin, bLV = math.Inf(-1), math.Inf(1), math.Inf(-1)
			bSum, bQ, bN = 0, 0, 0
		}
	}
	nb := float64(n)
	s.sys /= nb
	s.dia /= nb
	s.lvSys /= nb
	s.lvEDP /= nb
	s.mapP = sum / float64(samples)
	s.co = sumQ / float64(samples)
	s.psMean = sumPs / float64(samples)
	s.sv = s.co / d.w.HeartRate() * 1000
	return s
}

func (s beatStats) log(t *testing.T, name string) {
	t.Helper()
	t.Logf("%s: %d beats: AoP %.1f/%.1f mmHg, MAP %.1f mmHg, CO %.3f L/min, SV %.1f ml; LVP %.1f/%.1f (EDP) mmHg; LAP %.1f–%.1f mmHg; LV volume %.1f–%.1f ml; mean Ps %.1f mmHg",
		name, s.beats, s.sys, s.dia, s.mapP, s.co, s.sv, s.lvSys, s.lvEDP, s.lapMin, s.lapMax, s.lvMin, s.lvMax, s.psMean)
}

func TestReproducesSimaanNormal(t *testing.T) {
	d := newDriven(t, SimaanNormal(), 75, 2.0)
	d.settle(30 * time.Second)
	splits := d.l.solver.splits
	s := d.measure(20)
	s.log(t, "normal heart")
	t.Logf("solver: %.1f cut steps per beat, %d unresolved stages", float64(d.l.solver.splits-splits)/20, d.l.solver.unresolved)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"systolic AoP", s.sys, 117},
		{"diastolic AoP", s.dia, 77},
		{"MAP", s.mapP, 99},
		{"cardiac output", s.co, 5.21},
		{"stroke volume", s.sv, 69.5},
	} {
		if dev := c.got/c.want - 1; math.Abs(dev) > 0.03 {
			t.Errorf("%s = %.3g, published %.3g: off by %+.1f %%", c.name, c.got, c.want, 100*dev)
		}
	}
}

// rk4To integrates l to t with classic RK4 in fixed steps of h (the last one
// shortened), holding the elastance: the reference solution.
func rk4To(l *Loop, t, h time.Duration) {
	c := &l.c
	n := c.dim()
	for l.t < t {
		step := min(h, t-l.t)
		hs := step.Seconds()
		var k1, k2, k3, k4, y vec
		x := &l.x
		c.deriv(x, &k1)
		for i := range n {
			y[i] = x[i] + hs/2*k1[i]
		}
		c.deriv(&y, &k2)
		for i := range n {
			y[i] = x[i] + hs/2*k2[i]
		}
		c.deriv(&y, &k3)
		for i := range n {
			y[i] = x[i] + hs*k3[i]
		}
		c.deriv(&y, &k4)
		for i := range n {
			x[i] += hs / 6 * (k1[i] + 2*k2[i] + 2*k3[i] + k4[i])
		}
		l.t += step
	}
}

// TestSolverMatchesReference justifies the scheme and its step: from the
// same settled state and with the same 1 kHz elastance input, TR-BDF2 at
// substep must give every beat's systolic, diastolic and mean aortic
// pressure and mean flow within 1 % of RK4 at 5 µs (converged: RK4 at
// 10 µs agrees with it to far better than that). Coarser and finer steps are
// logged to show the margin.
func TestSolverMatchesReference(t *testing.T) {
	base := newDriven(t, SimaanNormal(), 75, 2.0)
	base.settle(20 * time.Second)
	const beats = 10

	run := func(mod func(d *driven)) beatStats {
		d := *base
		l := *base.l
		l.setSubstep(substep) // a solver of its own, not base's
		w := *base.w
		d.l, d.w = &l, &w
		d.trace = true
		mod(&d)
		d.measure(5) // let the scheme find its own periodic state
		return d.measure(beats)
	}
	ref := run(func(d *driven) { d.rk4 = 5 * time.Microsecond })
	ref.log(t, "RK4 5 µs")

	worst := func(s beatStats) float64 {
		w := 0.0
		for i, b := range s.perBeat {
			r := ref.perBeat[i]
			for _, p := range [][2]float64{{b.sys, r.sys}, {b.dia, r.dia}, {b.mean, r.mean}, {b.flow, r.flow}} {
				w = max(w, math.Abs(p[0]/p[1]-1))
			}
		}
		return w
	}
	for _, c := range []struct {
		name  string
		mod   func(d *driven)
		limit float64
	}{
		{"RK4 10 µs", func(d *driven) { d.rk4 = 10 * time.Microsecond }, 1e-4},
		{"TR-BDF2 0.25 ms", func(d *driven) { d.l.setSubstep(250 * time.Microsecond) }, 0.01},
		{"TR-BDF2 0.5 ms", func(d *driven) { d.l.setSubstep(500 * time.Microsecond) }, 0.01},
		{"TR-BDF2 1 ms (default)", func(d *driven) {}, 0.01},
	} {
		s := run(c.mod)
		if len(s.perBeat) != len(ref.perBeat) {
			t.Fatalf("%s: %d beats, reference %d", c.name, len(s.perBeat), len(ref.perBeat))
		}
		w := worst(s)
		s.log(t, c.name)
		var dev [NumChannels]float64
		for i, r := range s.trace {
			for j := range r {
				dev[j] = max(dev[j], math.Abs(r[j]-ref.trace[i][j]))
			}
		}
		t.Logf("%s: worst per-beat deviation from RK4 5 µs: %.3f %%; worst sample: LVP %.3f mmHg, AoP %.3f mmHg, LAP %.3f mmHg, flow %.4f L/min, LV volume %.3f ml",
			c.name, 100*w, dev[ChLVP], dev[ChAoP], dev[ChLAP], dev[ChFlowAo], dev[ChLVVolume])
		if w > c.limit {
			t.Errorf("%s: per-beat deviation %.3f %% > %.3f %%", c.name, 100*w, 100*c.limit)
		}
	}
}

// Doubling the systemic resistance (closing the resistance valve) must raise
// the arterial pressure and lower the output, as afterload does.
func TestSystemicResistanceAfterload(t *testing.T) {
	normal := newDriven(t, SimaanNormal(), 75, 2.0)
	normal.settle(30 * time.Second)
	n := normal.measure(10)
	n.log(t, "Rs 1.0")

	high := newDriven(t, SimaanNormal(), 75, 2.0)
	if err := high.l.SetSystemicResistance(2.0); err != nil {
		t.Fatal(err)
	}
	high.settle(30 * time.Second)
	h := high.measure(10)
	h.log(t, "Rs 2.0")

	if h.mapP <= n.mapP*1.05 {
		t.Errorf("doubling Rs: MAP %.1f → %.1f mmHg, want a clear rise", n.mapP, h.mapP)
	}
	if h.co >= n.co*0.95 {
		t.Errorf("doubling Rs: CO %.2f → %.2f L/min, want a clear fall", n.co, h.co)
	}
	if got := high.l.Parameters().Rs; got != 2 {
		t.Errorf("Parameters().Rs = %g, want 2", got)
	}
}

// The normal heart's atrial and ventricular pressures must be physiological
// (REFERENCE.md: LV 100–140 / 5–12 mmHg, LA 4–12 mmHg).
func TestPhysiologicalRanges(t *testing.T) {
	d := newDriven(t, SimaanNormal(), 75, 2.0)
	d.settle(30 * time.Second)
	s := d.measure(10)
	s.log(t, "normal heart")
	var lapSum float64
	var r [NumChannels]float64
	const samples = 800
	for range samples {
		d.tick()
		d.l.Read(r[:])
		lapSum += r[ChLAP]
	}
	lapMean := lapSum / samples
	t.Logf("mean LAP %.1f mmHg, LV end-diastolic pressure %.1f mmHg, end-diastolic volume %.1f ml, end-systolic volume %.1f ml, ejection fraction %.0f %%",
		lapMean, s.lvEDP, s.lvMax, s.lvMin, 100*(s.lvMax-s.lvMin)/s.lvMax)
	for _, c := range []struct {
		name      string
		v, lo, hi float64
	}{
		{"LV systolic pressure", s.lvSys, 100, 140},
		{"LV end-diastolic pressure", s.lvEDP, 5, 12},
		{"mean LA pressure", lapMean, 4, 12},
		{"LA pressure minimum", s.lapMin, 4, 12},
		{"LA pressure maximum", s.lapMax, 4, 20}, // the v wave at end systole
		{"end-diastolic volume", s.lvMax, 100, 160},
	} {
		if c.v < c.lo || c.v > c.hi {
			t.Errorf("%s %.1f outside [%g, %g]", c.name, c.v, c.lo, c.hi)
		}
	}
}

// A ventricle that does not contract leaves the loop at rest at one
// pressure everywhere, the mean filling pressure fixed by the volume:
// Vtot = V0 + P/Emin + (Cr + Ca + Cs)·P.
func TestArrestedHeartReachesFillingPressure(t *testing.T) {
	p := SimaanNormal()
	l, err := NewLoop(p, SimaanInitial())
	if err != nil {
		t.Fatal(err)
	}
	vol := l.volume()
	l.AdvanceTo(60 * time.Second)
	want := (vol - p.V0) / (1/p.Emin + p.Cr + p.Ca + p.Cs)
	s := l.State()
	t.Logf("mean filling pressure %.3f mmHg (analytic %.3f)", s.AoP, want)
	for _, c := range []struct {
		name string
		v    float64
	}{{"LVP", s.LVP}, {"LAP", s.LAP}, {"AoP", s.AoP}, {"Ps", s.Ps}} {
		if math.Abs(c.v-want) > 1e-3 {
			t.Errorf("%s = %.4f mmHg, want %.4f", c.name, c.v, want)
		}
	}
	if math.Abs(s.AorticFlow) > 1e-6 {
		t.Errorf("flow %g L/min at rest", s.AorticFlow)
	}
}

// The model conserves the fluid: V + Cr·Pla + Ca·Pao + Cs·Ps is constant,
// and the solver (a linear method with exactly solved stages) must keep it
// to rounding, over valve events and cut steps.
func TestVolumeConserved(t *testing.T) {
	for _, c := range []struct {
		name    string
		hr, emx float64
		rs      float64
	}{
		{"normal", 75, 2, 1},
		{"tachycardic, strong", 150, 4, 1},
		{"weak, high afterload", 60, 0.5, 2.5},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newDriven(t, SimaanNormal(), c.hr, c.emx)
			if err := d.l.SetSystemicResistance(c.rs); err != nil {
				t.Fatal(err)
			}
			v0 := d.l.volume()
			d.settle(20 * time.Second)
			if v := d.l.volume(); math.Abs(v-v0) > 1e-9*v0 {
				t.Errorf("volume %.12g ml after 20 s, started %.12g", v, v0)
			}
			s := d.l.State()
			for _, v := range []float64{s.LVP, s.AoP, s.LAP, s.Ps, s.LVVolume, s.AorticFlow} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("state not finite: %+v", s)
				}
			}
			if u := d.l.solver.unresolved; u != 0 {
				t.Errorf("%d stages without a consistent valve state", u)
			}
		})
	}
}

// AdvanceTo must land exactly on the requested time whatever the pattern of
// calls, and give the same physics: advancing in irregular pieces matches
// advancing in whole milliseconds.
func TestAdvanceToIrregularTimes(t *testing.T) {
	for _, c := range []struct {
		name   string
		pieces []time.Duration // adding up to 1 ms
	}{
		{"off the grid", []time.Duration{300 * time.Microsecond, 1, 700*time.Microsecond - 1}},
		{"on the grid", []time.Duration{250 * time.Microsecond, 625 * time.Microsecond, 125 * time.Microsecond}},
	} {
		t.Run(c.name, func(t *testing.T) {
			regular := newDriven(t, SimaanNormal(), 75, 2.0)
			irregular := newDriven(t, SimaanNormal(), 75, 2.0)
			var maxDev float64
			for range 4000 { // 5 beats
				if err := irregular.l.SetActiveElastance(irregular.w.Active()); err != nil {
					t.Fatal(err)
				}
				for _, p := range c.pieces {
					irregular.l.AdvanceTo(irregular.l.Now() + p)
					irregular.l.AdvanceTo(irregular.l.Now() - time.Millisecond) // never back
				}
				irregular.t += irregular.dt
				irregular.w.Advance(irregular.dt)
				regular.tick()
				if got := irregular.l.Now(); got != regular.l.Now() {
					t.Fatalf("Now() = %v, want %v", got, regular.l.Now())
				}
				a, b := irregular.l.State(), regular.l.State()
				maxDev = max(maxDev, math.Abs(a.AoP-b.AoP), math.Abs(a.LVP-b.LVP))
			}
			t.Logf("largest pressure difference from whole 1 ms steps: %.3f mmHg", maxDev)
			if maxDev > 0.5 {
				t.Errorf("irregular AdvanceTo differs by %.3f mmHg from whole steps", maxDev)
			}
			if d := irregular.l.volume() - regular.l.volume(); math.Abs(d) > 1e-9 {
				t.Errorf("volume differs by %g ml", d)
			}
		})
	}
}

func TestRejectsBadInput(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, mod := range []func(p *Parameters){
		func(p *Parameters) { p.Rs = 0 },
		func(p *Parameters) { p.Rm = -1 },
		func(p *Parameters) { p.Ra = nan },
		func(p *Parameters) { p.Rc = inf },
		func(p *Parameters) { p.Cr = 0 },
		func(p *Parameters) { p.Cs = -1.33 },
		func(p *Parameters) { p.Ca = nan },
		func(p *Parameters) { p.Ls = 0 },
		func(p *Parameters) { p.V0 = -10 },
		func(p *Parameters) { p.Emin = 0 },
	} {
		p := SimaanNormal()
		mod(&p)
		if _, err := NewLoop(p, SimaanInitial()); err == nil {
			t.Errorf("NewLoop accepted %+v", p)
		}
	}
	p := SimaanNormal()
	p.V0 = 0
	if err := p.Validate(); err != nil {
		t.Errorf("V0 = 0 refused: %v", err)
	}
	for _, x0 := range []Initial{
		{LVVolume: -1, LAP: 5, AoP: 90, Ps: 90},
		{LVVolume: 140, LAP: nan, AoP: 90, Ps: 90},
		{LVVolume: 140, LAP: 5, AoP: 90, Ps: 90, AorticFlow: inf},
	} {
		if _, err := NewLoop(SimaanNormal(), x0); err == nil {
			t.Errorf("NewLoop accepted initial state %+v", x0)
		}
	}

	l, err := NewLoop(SimaanNormal(), SimaanInitial())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetActiveElastance(1.5); err != nil {
		t.Fatal(err)
	}
	for _, e := range []float64{-0.1, nan, inf} {
		if err := l.SetActiveElastance(e); err == nil {
			t.Errorf("SetActiveElastance(%g) accepted", e)
		}
	}
	for _, r := range []float64{0, -1, nan, inf} {
		if err := l.SetSystemicResistance(r); err == nil {
			t.Errorf("SetSystemicResistance(%g) accepted", r)
		}
	}
	if l.ActiveElastance() != 1.5 || l.Parameters() != SimaanNormal() {
		t.Errorf("refused inputs changed the loop: active %g, parameters %+v", l.ActiveElastance(), l.Parameters())
	}
	if got := l.State().Elastance; got != 1.56 {
		t.Errorf("State().Elastance = %g, want Emin + active = 1.56", got)
	}
}

func TestReadMatchesState(t *testing.T) {
	names := []string{"lvp", "aop", "lap", "flow_ao", "lv_volume"}
	units := []string{"mmHg", "mmHg", "mmHg", "L/min", "ml"}
	ch := Channels()
	if len(ch) != NumChannels || len(ch) != len(names) {
		t.Fatalf("Channels() = %v", ch)
	}
	for i, c := range ch {
		if c.Name != names[i] || c.Unit != units[i] {
			t.Errorf("channel %d = %+v, want %s in %s", i, c, names[i], units[i])
		}
	}
	ch[0].Name = "changed"
	if Channels()[0].Name != "lvp" {
		t.Error("Channels() returns the package's own table")
	}

	d := newDriven(t, SimaanNormal(), 75, 2.0)
	d.settle(2 * time.Second)
	for range 250 { // into ejection, so every flow is nonzero
		d.tick()
	}
	s := d.l.State()
	dst := make([]float64, NumChannels+1)
	dst[NumChannels] = 42
	d.l.Read(dst)
	want := []float64{s.LVP, s.AoP, s.LAP, s.AorticFlow, s.LVVolume, 42}
	for i := range dst {
		if dst[i] != want[i] {
			t.Errorf("Read column %d = %g, want %g", i, dst[i], want[i])
		}
	}
	if s.Time != d.t {
		t.Errorf("State().Time = %v, want %v", s.Time, d.t)
	}
	// Valve flows follow the valve laws.
	p := d.l.Parameters()
	if want := max(s.LVP-s.AoP, 0) / p.Ra * MlPerSToLPerMin; math.Abs(s.AorticValveFlow-want) > 1e-9 {
		t.Errorf("aortic valve flow %g L/min, want %g", s.AorticValveFlow, want)
	}
	if want := max(s.LAP-s.LVP, 0) / p.Rm * MlPerSToLPerMin; math.Abs(s.MitralFlow-want) > 1e-9 {
		t.Errorf("mitral flow %g L/min, want %g", s.MitralFlow, want)
	}

	defer func() {
		if recover() == nil {
			t.Error("Read into a short slice did not panic")
		}
	}()
	d.l.Read(make([]float64, NumChannels-1))
}

func TestAdvanceAllocatesNothing(t *testing.T) {
	d := newDriven(t, SimaanNormal(), 75, 2.0)
	d.settle(time.Second)
	var r [NumChannels]float64
	allocs := testing.AllocsPerRun(2000, func() {
		d.tick()
		d.l.AdvanceTo(d.l.Now() + 333*time.Microsecond) // an off-grid step too
		d.t = d.l.Now()
		d.l.Read(r[:])
		_ = d.l.State()
	})
	if allocs != 0 {
		t.Errorf("%g allocations per sample", allocs)
	}
}
