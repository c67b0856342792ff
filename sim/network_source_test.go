package sim

import (
	"math"
	"strings"
	"testing"
	"time"
)

// sourceInto is a network of a reservoir and a compliance c (ml/mmHg) at
// p0 mmHg, a source from the reservoir into the compliance its only link.
func sourceInto(t testing.TB, c, p0 float64) *Network {
	t.Helper()
	nw, err := NewNetwork(NetworkSpec{
		Nodes: []NodeSpec{{Name: "reservoir", C: 1000, Volume: 500}, {Name: "chamber", C: c, V0: 20, Volume: 20 + c*p0}},
		Links: []LinkSpec{{Name: "drive", Kind: Source, From: "reservoir", To: "chamber"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return nw
}

// A source into a compliance raises its pressure by q·t/C exactly, held
// over steps and the odd remainder alike, and takes the same volume out of
// the node it draws from; its flow reads back as set.
func TestNetworkSource(t *testing.T) {
	for _, c := range []struct {
		name       string
		c, p0, q   float64 // ml/mmHg, mmHg, ml/s
		dur        time.Duration
		wantChange float64 // mmHg
	}{
		{"fill a stiff chamber", 0.05, 10, 12.5, 1234567 * time.Microsecond, 12.5 * 1.234567 / 0.05},
		{"drain it below zero", 0.05, 80, -40, 2500 * time.Millisecond, -40 * 2.5 / 0.05},
		{"a soft compliance", 4, 5, 3, 10 * time.Second, 3 * 10 / 4.0},
		{"held at zero", 0.05, 37, 0, 3 * time.Second, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			nw := sourceInto(t, c.c, c.p0)
			res, ch, src := nw.Node("reservoir"), nw.Node("chamber"), nw.Link("drive")
			v0, pr0 := nw.TotalVolume(), nw.Pressure(res)
			if err := nw.SetSourceFlow(src, c.q); err != nil {
				t.Fatal(err)
			}
			nw.AdvanceTo(c.dur)
			got := nw.Pressure(ch) - c.p0
			if math.Abs(got-c.wantChange) > 1e-9*(1+math.Abs(c.wantChange)) {
				t.Errorf("pressure changed by %.12g mmHg, want q·t/C = %.12g", got, c.wantChange)
			}
			if want := -c.q * c.dur.Seconds() / 1000; math.Abs(nw.Pressure(res)-pr0-want) > 1e-12 {
				t.Errorf("the reservoir's pressure changed by %g mmHg, want %g", nw.Pressure(res)-pr0, want)
			}
			if math.Abs(nw.TotalVolume()-v0) > 1e-11*v0 {
				t.Errorf("total volume %g ml, was %g", nw.TotalVolume(), v0)
			}
			if nw.SourceFlow(src) != c.q || math.Abs(nw.Flow(src)-c.q*MlPerSToLPerMin) > 1e-12 {
				t.Errorf("source flow %g ml/s, %g L/min; set %g ml/s", nw.SourceFlow(src), nw.Flow(src), c.q)
			}
		})
	}
}

// A source's flow is declared by its initial Flow, and it changes when set
// and not before: the step before the change carries the old flow.
func TestNetworkSourceInitialFlowAndChange(t *testing.T) {
	spec := NetworkSpec{
		Nodes: []NodeSpec{{Name: "reservoir", C: 1000, Volume: 500}, {Name: "chamber", C: 0.1, Volume: 1}},
		Links: []LinkSpec{{Name: "drive", Kind: Source, From: "reservoir", To: "chamber", Flow: 5}},
	}
	nw, err := NewNetwork(spec)
	if err != nil {
		t.Fatal(err)
	}
	ch, src := nw.Node("chamber"), nw.Link("drive")
	nw.AdvanceTo(400 * time.Millisecond) // +2 ml: +20 mmHg
	if err := nw.SetSourceFlow(src, -2); err != nil {
		t.Fatal(err)
	}
	nw.AdvanceTo(900 * time.Millisecond) // −1 ml: −10 mmHg
	if got, want := nw.Pressure(ch), 10+20-10.0; math.Abs(got-want) > 1e-9 {
		t.Errorf("chamber at %.12g mmHg, want %g", got, want)
	}
}

// The steady state of a source driving a loop of resistances is Ohm's law
// on each with the volume conserved: from a reservoir r through a, b and
// back, Pa − Pb = q·R1, Pb − Pr = q·R2, and Cr·Pr + Ca·Pa + Cb·Pb the
// volume the network started with.
func TestNetworkSourceSteadyState(t *testing.T) {
	const (
		cr, ca, cb = 50.0, 1.0, 2.0 // ml/mmHg
		r1, r2     = 0.5, 1.0       // mmHg·s/ml
		q          = 20.0           // ml/s
		vol        = 300.0          // stressed volume, ml
	)
	nw, err := NewNetwork(NetworkSpec{
		Nodes: []NodeSpec{{Name: "r", C: cr, Volume: vol}, {Name: "a", C: ca}, {Name: "b", C: cb, V0: 40, Volume: 40}},
		Links: []LinkSpec{
			{Name: "pump", Kind: Source, From: "r", To: "a"},
			{Name: "r1", Kind: Resistor, From: "a", To: "b", R: r1},
			{Name: "r2", Kind: Resistor, From: "b", To: "r", R: r2},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nw.SetSourceFlow(nw.Link("pump"), q); err != nil {
		t.Fatal(err)
	}
	nw.AdvanceTo(60 * time.Second) // the slowest time constant, b's through r2 and r1, is under 3 s
	// The solver approaches a steady state until a stage's residual is
	// within its Newton tolerance (1e-8 of the volumes), then wanders
	// inside it: here within 1e-3 mmHg and 1e-3 ml/s.
	pr := (vol - ca*q*(r1+r2) - cb*q*r2) / (cr + ca + cb)
	want := map[string]float64{"r": pr, "b": pr + q*r2, "a": pr + q*(r1+r2)}
	for name, p := range want {
		if got := nw.Pressure(nw.Node(name)); math.Abs(got-p) > 2e-3 {
			t.Errorf("node %s at %.9f mmHg, want %.9f", name, got, p)
		}
	}
	for _, name := range []string{"r1", "r2"} {
		if got := nw.Flow(nw.Link(name)) / MlPerSToLPerMin; math.Abs(got-q) > 2e-3 {
			t.Errorf("flow through %s %.9f ml/s, want the source's %g", name, got, q)
		}
	}
}

// Bad input to a source is refused with an error that says what is wrong.
func TestNetworkSourceRefuses(t *testing.T) {
	nw := sourceInto(t, 0.05, 10)
	for _, c := range []struct {
		name string
		link int
		q    float64
		want string
	}{
		{"not a source", -1, 1, "link -1 is not a source"},
		{"past the links", 1, 1, "link 1 is not a source"},
		{"NaN", 0, math.NaN(), "source flow NaN ml/s is not finite"},
		{"infinite", 0, math.Inf(-1), "source flow -Inf ml/s is not finite"},
	} {
		if err := nw.SetSourceFlow(c.link, c.q); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if nw.SourceFlow(0) != 0 {
		t.Errorf("a refused flow was kept: %g ml/s", nw.SourceFlow(0))
	}
	pp := Impella25()
	for _, l := range []LinkSpec{
		{Name: "s", Kind: Source, From: "a", To: "b", R: 1},
		{Name: "s", Kind: Source, From: "a", To: "b", L: 0.01},
		{Name: "s", Kind: Source, From: "a", To: "b", Pump: &pp},
		{Name: "s", Kind: Source, From: "a", To: "b", Flow: math.NaN()},
	} {
		spec := NetworkSpec{Nodes: []NodeSpec{{Name: "a", C: 1}, {Name: "b", C: 1}}, Links: []LinkSpec{l}}
		if _, err := NewNetwork(spec); err == nil || !strings.Contains(err.Error(), "link s:") {
			t.Errorf("source %+v: %v, want it refused", l, err)
		}
	}
}

// sourceYAMLNetwork is sim.yaml's patient with its device branch a source,
// as a hybrid rig's model has it: the flow measured through the real
// device, set every frame.
func sourceYAMLNetwork() NetworkSpec {
	spec := simYAMLNetwork()
	for i := range spec.Links {
		if spec.Links[i].Kind == Pump {
			spec.Links[i] = LinkSpec{Name: "pump", Kind: Source, From: "lv", To: "aorta", Flow: 30}
		}
	}
	return spec
}
