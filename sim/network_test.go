package sim

import (
	"math"
	"testing"
	"time"

	"github.com/mockloop/mockloop/pumpctl"
)

// netDriven is a network driven by a cardiac waveform as driven drives a
// Loop: the elastance set every 1 ms and held in between.
type netDriven struct {
	nw *Network
	w  *pumpctl.CardiacWaveform
	t  time.Duration
	// rk4 > 0 integrates with classic RK4 in steps of rk4 instead: the
	// reference.
	rk4 time.Duration
}

func newNetDriven(t testing.TB, spec NetworkSpec, hr, emax, emin float64) *netDriven {
	t.Helper()
	nw, err := NewNetwork(spec)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pumpctl.NewCardiacWaveform(hr, emax, emin)
	if err != nil {
		t.Fatal(err)
	}
	return &netDriven{nw: nw, w: w}
}

func (d *netDriven) tick() bool {
	if err := d.nw.SetActiveElastance(d.w.Active()); err != nil {
		panic(err)
	}
	d.t += time.Millisecond
	if d.rk4 > 0 {
		netRK4To(d.nw, d.t, d.rk4)
	} else {
		d.nw.AdvanceTo(d.t)
	}
	_, started := d.w.Advance(time.Millisecond)
	return started
}

func (d *netDriven) settle(dur time.Duration) {
	end := d.t + dur
	for !d.tick() || d.t < end {
	}
}

// netRK4To integrates nw to t with classic RK4 in steps of h.
func netRK4To(nw *Network, t, h time.Duration) {
	n := nw.n
	for nw.t < t {
		step := min(h, t-nw.t)
		hs := step.Seconds()
		var k1, k2, k3, k4, y netVec
		x := &nw.x
		nw.deriv(x, &k1, false)
		for i := range n {
			y[i] = x[i] + hs/2*k1[i]
		}
		nw.deriv(&y, &k2, false)
		for i := range n {
			y[i] = x[i] + hs/2*k2[i]
		}
		nw.deriv(&y, &k3, false)
		for i := range n {
			y[i] = x[i] + hs*k3[i]
		}
		nw.deriv(&y, &k4, false)
		for i := range n {
			x[i] += hs / 6 * (k1[i] + 2*k2[i] + 2*k3[i] + k4[i])
		}
		nw.t += step
	}
}

// netBeats returns per-beat figures (max, min and mean of node ao's
// pressure, mean flow of link fl) over n beats.
func (d *netDriven) beats(n int, ao, fl int) []beatFigures {
	var out []beatFigures
	var sum, q float64
	var k int
	hi, lo := math.Inf(-1), math.Inf(1)
	for len(out) < n {
		started := d.tick()
		p := d.nw.Pressure(ao)
		sum += p
		q += d.nw.Flow(fl)
		k++
		hi, lo = max(hi, p), min(lo, p)
		if started {
			out = append(out, beatFigures{hi, lo, sum / float64(k), q / float64(k)})
			sum, q, k = 0, 0, 0
			hi, lo = math.Inf(-1), math.Inf(1)
		}
	}
	return out
}

// Simaan's left heart declared as a network must be Loop's model: driven
// alike, every beat's aortic pressures and flow agree with Loop's within
// 0.1 % (both schemes are within 0.03 % of their RK4 references).
func TestNetworkIsSimaansLoop(t *testing.T) {
	const beats = 10
	d := newDriven(t, SimaanNormal(), 75, 2.0)
	d.settle(20 * time.Second)
	ls := d.measure(beats)
	nd := newNetDriven(t, SimaanNetwork(), 75, 2.0, SimaanNormal().Emin)
	nd.settle(20 * time.Second)
	got := nd.beats(beats, nd.nw.Node("aorta"), nd.nw.Link("aortic_root"))
	w := worstDeviation(ls, beatStats{perBeat: got})
	t.Logf("Loop %.1f/%.1f mmHg, CO %.3f L/min; network first beat %.1f/%.1f mmHg, %.3f L/min; worst deviation %.4f %%",
		ls.sys, ls.dia, ls.co, got[0].sys, got[0].dia, got[0].flow, 100*w)
	if w > 1e-3 {
		t.Errorf("the network deviates from Loop by %.3f %% per beat, > 0.1 %%", 100*w)
	}
	if nd.nw.unresolved > 0 {
		t.Errorf("%d stages hit the Newton bound", nd.nw.unresolved)
	}
}

// expPumpNetwork is SimaanNetwork with the nonlinear parts of sim.yaml's
// patient: Smith et al. 2004's exponential end-diastolic law and the
// collapse law on the LV, and an Impella25 from the LV to the aorta.
func expPumpNetwork() NetworkSpec {
	spec := SimaanNetwork()
	spec.Nodes[1] = NodeSpec{Name: "lv", V0: 10, Drive: 1, P0: 0.12, Lambda: 0.033, Collapse: 5, Volume: 140}
	pp := Impella25()
	spec.Links = append(spec.Links, LinkSpec{Name: "pump", Kind: Pump, From: "lv", To: "aorta", Pump: &pp})
	return spec
}

// simYAMLNetwork is configs/rigs/sim.yaml's patient (the default rig's
// biventricular network, its constants cited there) with an Impella-class
// pump from the LV to the aorta.
func simYAMLNetwork() NetworkSpec {
	pp := Impella25()
	return NetworkSpec{
		Nodes: []NodeSpec{
			{Name: "la", C: 4.4, V0: 20, Collapse: 5, Volume: 20 + 4.4*8},
			{Name: "lv", V0: 10, P0: 0.12, Lambda: 0.033, Collapse: 5, Drive: 1, Volume: 120},
			{Name: "aorta", C: 0.08, Volume: 0.08 * 90},
			{Name: "sa", C: 1.33, V0: 600, Volume: 600 + 1.33*90},
			{Name: "sv", C: 70, V0: 2500, Volume: 2500 + 70*10},
			{Name: "ra", C: 4, V0: 20, Collapse: 5, Volume: 20 + 4*4},
			{Name: "rv", V0: 10, P0: 0.216, Lambda: 0.023, Collapse: 5, Drive: 0.4, Volume: 120},
			{Name: "pa", C: 2.7, V0: 100, Volume: 100 + 2.7*15},
			{Name: "pv", C: 7, V0: 200, Volume: 200 + 7*9},
		},
		Links: []LinkSpec{
			{Name: "mitral", Kind: Valve, From: "la", To: "lv", R: 0.005},
			{Name: "aortic", Kind: Valve, From: "lv", To: "aorta", R: 0.001},
			{Name: "pump", Kind: Pump, From: "lv", To: "aorta", Pump: &pp},
			{Name: "aortic_root", Kind: Inertance, From: "aorta", To: "sa", R: 0.0398, L: 0.0005},
			{Name: "systemic", Kind: Resistor, From: "sa", To: "sv", R: 0.75},
			{Name: "venous_return", Kind: Resistor, From: "sv", To: "ra", R: 0.02},
			{Name: "tricuspid", Kind: Valve, From: "ra", To: "rv", R: 0.0237},
			{Name: "pulmonary_valve", Kind: Valve, From: "rv", To: "pa", R: 0.0055},
			{Name: "pulmonary", Kind: Resistor, From: "pa", To: "pv", R: 0.08},
			{Name: "pulmonary_veins", Kind: Resistor, From: "pv", To: "la", R: 0.01},
		},
	}
}

// TestNetworkSolverMatchesReference: the network's TR-BDF2 at 1 ms, its
// valve events cut inside the step, against RK4 at 5 µs from the same
// settled state and input: every beat within 0.1 %, on the Simaan network
// and on one with exponential and collapse laws and a pump.
func TestNetworkSolverMatchesReference(t *testing.T) {
	for _, c := range []struct {
		name string
		spec NetworkSpec
	}{
		{"simaan", SimaanNetwork()},
		{"exponential LV, collapse law and a pump", expPumpNetwork()},
		{"sim.yaml's biventricular patient with a pump", simYAMLNetwork()},
	} {
		base := newNetDriven(t, c.spec, 75, 2.0, SimaanNormal().Emin)
		if p := base.nw.Link("pump"); p >= 0 {
			if err := base.nw.SetPumpSpeed(p, 50000); err != nil {
				t.Fatal(err)
			}
		}
		base.settle(20 * time.Second)
		ao, fl := base.nw.Node("aorta"), base.nw.Link("aortic_root")
		ref, got := *base, *base
		refNw, gotNw := *base.nw, *base.nw
		refW, gotW := *base.w, *base.w
		ref.nw, got.nw, ref.w, got.w = &refNw, &gotNw, &refW, &gotW
		ref.rk4 = 5 * time.Microsecond
		rb, gb := ref.beats(8, ao, fl), got.beats(8, ao, fl)
		w := worstDeviation(beatStats{perBeat: rb}, beatStats{perBeat: gb})
		t.Logf("%s: worst per-beat deviation from RK4 5 µs: %.4f %% (%d cut steps)", c.name, 100*w, gotNw.splits)
		if w > 1e-3 {
			t.Errorf("%s: per-beat deviation %.3f %% > 0.1 %%", c.name, 100*w)
		}
	}
}

func TestNetworkAdvanceAllocatesNothing(t *testing.T) {
	for _, c := range []struct {
		name string
		spec NetworkSpec
	}{{"simaan", SimaanNetwork()}, {"source", sourceYAMLNetwork()}} {
		d := newNetDriven(t, c.spec, 75, 2.0, SimaanNormal().Emin)
		d.settle(time.Second)
		src := d.nw.Link("pump")
		k := 0
		allocs := testing.AllocsPerRun(2000, func() {
			if src >= 0 {
				k++
				_ = d.nw.SetSourceFlow(src, float64(k%50))
			}
			d.tick()
			d.nw.AdvanceTo(d.nw.Now() + 333*time.Microsecond)
			d.t = d.nw.Now()
			_ = d.nw.Pressure(1) + d.nw.Flow(2)
		})
		if allocs != 0 {
			t.Errorf("%s: %g allocations per sample", c.name, allocs)
		}
	}
}

// BenchmarkFrame is the physics' cost per 1 ms frame: Simaan's Loop (the
// old model) against networks.
func BenchmarkFrame(b *testing.B) {
	b.Run("loop-simaan", func(b *testing.B) {
		d := newDriven(b, SimaanNormal(), 75, 2.0)
		d.settle(2 * time.Second)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			d.tick()
		}
	})
	for _, c := range []struct {
		name string
		spec NetworkSpec
	}{
		{"network-simaan", SimaanNetwork()},
		{"network-exp-pump", expPumpNetwork()},
		{"network-biventricular-pump", simYAMLNetwork()},
		{"network-biventricular-source", sourceYAMLNetwork()},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := newNetDriven(b, c.spec, 75, 2.0, 0.06)
			d.settle(2 * time.Second)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				d.tick()
			}
		})
	}
}
