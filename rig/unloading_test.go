package rig

import (
	"math"
	"testing"
	"time"

	"github.com/mockloop/mockloop/dut/profile"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/sim"
)

// shippedPump is the pump of a shipped DUT profile (configs/duts) and
// its level table, rpm.
func shippedPump(t *testing.T, name string) (sim.PumpParams, [10]float64) {
	t.Helper()
	p, err := profile.Load(name, "")
	if err != nil {
		t.Fatal(err)
	}
	var levels [10]float64
	for i, rpm := range p.Levels {
		levels[i] = float64(rpm)
	}
	return pumpParams(p), levels
}

// patient is sim.yaml's circulation with pump pp in its pump link, driven
// by a cardiac waveform at a preset's heart rate and contractility, its
// systemic resistance and fill set from the preset: the physics of the
// default rig without its buses.
type patient struct {
	l    *sim.Loop
	w    *pumpctl.CardiacWaveform
	t    time.Duration
	fill float64 // the blood volume the fill pump works toward, ml
}

func newPatient(t *testing.T, rigFile, preset string, pp sim.PumpParams) *patient {
	t.Helper()
	cfg, err := LoadConfig(rigFile)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := cfg.Sim.Circulation.WithPump(pp)
	l, err := sim.NewNetworkLoop(spec)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]float64{}
	for _, s := range cfg.Presets[preset] {
		vals[s.Param] = s.Value.Num
	}
	w, err := pumpctl.NewCardiacWaveform(vals["loop.heart_rate"], vals["loop.contractility"], cfg.Sim.Emin)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetSystemicResistance(vals["loop.resistance"]); err != nil {
		t.Fatal(err)
	}
	if v, ok := vals["loop.rv_contractility"]; ok {
		if err := l.SetDrive(sim.NodeRV, v/100); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok := vals["loop.pulmonary_resistance"]; ok {
		if err := l.SetResistance(sim.LinkPulmonary, v); err != nil {
			t.Fatal(err)
		}
	}
	return &patient{l: l, w: w, fill: vals["loop.fill"]}
}

// beatFigures are means over whole beats: end-diastolic LV pressure (at
// each beat's start), LAP, RAP, aortic pulse pressure, total systemic flow
// (flow_ao), pump flow, and the lowest LV pressure.
type beatFigures struct {
	lvedp, lap, rap, pap, mapP, sbp, pp, flow, pump, lvpMin float64
	pumpMin, pumpMax                                        float64 // the pump's lowest and highest flow, L/min
	suction                                                 bool
}

// run holds the pump at rpm for settle, then measures n beats.
func (p *patient) run(t *testing.T, rpm float64, settle time.Duration, n int) beatFigures {
	t.Helper()
	if err := p.l.SetPumpSpeed(rpm); err != nil {
		t.Fatal(err)
	}
	tick := func() bool {
		if err := p.l.SetActiveElastance(p.w.Active()); err != nil {
			t.Fatal(err)
		}
		// The fill pump, as the bench moves a preset's fill.
		if _, err := p.l.FillToward(p.fill, 1e-3); err != nil {
			t.Fatal(err)
		}
		p.t += time.Millisecond
		p.l.AdvanceTo(p.t)
		_, started := p.w.Advance(time.Millisecond)
		return started
	}
	for end := p.t + settle; !tick() || p.t < end; {
	}
	var f beatFigures
	var k, beats int
	hi, lo := math.Inf(-1), math.Inf(1)
	f.lvpMin, f.pumpMin, f.pumpMax = math.Inf(1), math.Inf(1), math.Inf(-1)
	f.lvedp = p.l.State().LVP
	for beats < n {
		started := tick()
		s := p.l.State()
		f.lap += s.LAP
		f.rap += s.RAP
		f.pap += s.PAP
		f.mapP += s.AoP
		f.pumpMin, f.pumpMax = min(f.pumpMin, s.PumpFlow), max(f.pumpMax, s.PumpFlow)
		f.flow += s.AorticFlow
		f.pump += s.PumpFlow
		f.lvpMin = min(f.lvpMin, s.LVP)
		if r, ok := p.l.Pump(); ok && r.Suction {
			f.suction = true
		}
		hi, lo = max(hi, s.AoP), min(lo, s.AoP)
		k++
		if started {
			beats++
			f.pp += hi - lo
			f.sbp += hi
			hi, lo = math.Inf(-1), math.Inf(1)
			if beats < n {
				f.lvedp += s.LVP
			}
		}
	}
	nk := float64(k)
	f.lap, f.rap, f.pap, f.mapP, f.flow, f.pump = f.lap/nk, f.rap/nk, f.pap/nk, f.mapP/nk, f.flow/nk, f.pump/nk
	f.pp /= float64(n)
	f.sbp /= float64(n)
	f.lvedp /= float64(n)
	return f
}

func (f beatFigures) log(t *testing.T, name string) {
	t.Helper()
	t.Logf("%s: LVEDP %.1f, LAP %.1f, RAP %.1f, mean PAP %.1f, MAP %.1f, SBP %.1f mmHg, aortic pulse pressure %.1f mmHg, total systemic flow %.2f L/min, pump %.2f L/min (%.2f–%.2f), LVP min %.1f mmHg, suction %v",
		name, f.lvedp, f.lap, f.rap, f.pap, f.mapP, f.sbp, f.pp, f.flow, f.pump, f.pumpMin, f.pumpMax, f.lvpMin, f.suction)
}

// TestUnloadingImpellaCP: an Impella CP-class pump at P8 unloads the
// failing heart of sim.yaml's heart_failure preset by magnitudes like the
// published ones (REFERENCE.md, "What support does to the patient";
// Watanabe et al., Impella CP at P8 in failing hearts: LVEDP −9.6 mmHg,
// LAP −6.5 mmHg). The tolerance: each fall at least half and at most
// twice the published one (a model of another heart, not of those
// animals; issue 15 found the old model at a tenth of it). Full support
// flattens the aortic pulse (Burkhoff et al. 2015): its pulse pressure at
// least halves. The total systemic flow rises, and the pump (the
// impella-cp profile at its P8) delivers the CP's 3.0–4.0 L/min.
func TestUnloadingImpellaCP(t *testing.T) {
	pp, levels := shippedPump(t, "impella-cp")
	p := newPatient(t, "../configs/rigs/sim.yaml", "heart_failure", pp)
	off := p.run(t, 0, 60*time.Second, 10)
	off.log(t, "heart failure, P0")
	on := p.run(t, levels[8], 30*time.Second, 10)
	on.log(t, "heart failure, P8")
	for _, c := range []struct {
		name      string
		fall, pub float64
	}{
		{"LVEDP", off.lvedp - on.lvedp, 9.6},
		{"LAP", off.lap - on.lap, 6.5},
	} {
		if c.fall < c.pub/2 || c.fall > 2*c.pub {
			t.Errorf("%s falls by %.1f mmHg; published %.1f, want %.1f to %.1f", c.name, c.fall, c.pub, c.pub/2, 2*c.pub)
		}
	}
	if on.pp > off.pp/2 {
		t.Errorf("aortic pulse pressure %.1f → %.1f mmHg: not halved", off.pp, on.pp)
	}
	if on.flow <= off.flow {
		t.Errorf("total systemic flow %.2f → %.2f L/min: did not rise", off.flow, on.flow)
	}
	if on.pump < 3 || on.pump > 4 {
		t.Errorf("pump flow %.2f L/min at P8, the CP's is 3.0–4.0", on.pump)
	}
}

// TestSuctionHypovolemiaP9: an Impella CP (its profile) at P9 in
// sim.yaml's hypovolemia preset sucks the heart empty (REFERENCE.md, "What
// support does to the patient": the inlet chamber's pressure goes
// negative, the pump flow drops and oscillates, the console raises a
// suction alarm): the LV pressure goes below 0 mmHg, the suction flag
// rises, from P6 to P9 the pump gains less than half the flow it gains in
// health (the venous return, not the speed, sets it), and within a beat
// its flow swings at least three times as widely as at P6, where the
// ventricle still fills it. (The 2.5's 2.4 L/min at P9 stays below this
// patient's venous return, 2.6 L/min: it cannot empty the ventricle.)
func TestSuctionHypovolemiaP9(t *testing.T) {
	pp, levels := shippedPump(t, "impella-cp")
	h := newPatient(t, "../configs/rigs/sim.yaml", "healthy", pp)
	h6 := h.run(t, levels[6], 40*time.Second, 10)
	h9 := h.run(t, levels[9], 20*time.Second, 10)
	h6.log(t, "healthy, P6")
	h9.log(t, "healthy, P9")
	p := newPatient(t, "../configs/rigs/sim.yaml", "hypovolemia", pp)
	low := p.run(t, levels[6], 40*time.Second, 10)
	low.log(t, "hypovolemia, P6")
	sucked := p.run(t, levels[9], 20*time.Second, 10)
	sucked.log(t, "hypovolemia, P9")
	if low.suction {
		t.Error("suction flagged at P6, before the heart is emptied")
	}
	if sucked.lvpMin >= 0 {
		t.Errorf("lowest LV pressure %.2f mmHg: the ventricle was not sucked empty", sucked.lvpMin)
	}
	if !sucked.suction {
		t.Error("no suction flag at P9")
	}
	if gain, healthy := sucked.pump-low.pump, h9.pump-h6.pump; gain > healthy/2 {
		t.Errorf("P6 → P9 raises the pump flow by %.2f L/min in hypovolemia, %.2f in health: the suction did not hold it back", gain, healthy)
	}
	if swing, filled := sucked.pumpMax-sucked.pumpMin, low.pumpMax-low.pumpMin; swing < 3*filled {
		t.Errorf("pump flow swings %.2f L/min within a beat at P9, %.2f at P6: no oscillation", swing, filled)
	}
}

// TestUnloadingImpellaRP: the Impella RP (its profile) from RA to PA
// (sim-rp.yaml) at P8 in the rv_failure preset lowers the RAP and raises
// the total output by magnitudes like those of its patients (REFERENCE.md;
// JHLT 2018 / RECOVER RIGHT: CVP 19 → 13 mmHg, CI 1.9 → 3.1 L/min/m², that
// is +2.2 L/min at 1.8 m²). The output's tolerance is the CP's: at least
// half and at most twice the published change. The RAP's is wider, at
// least a third: with Harvi's venous compliance (70 ml/mmHg) the volume
// the pump moves out of the veins lowers their pressure by 2–3 mmHg, not
// the patients' 6 (a limit of the model, said in issue 15's note; it
// falls 2.4 mmHg here). The mean PAP rises, as De Lazzari's RA → PA pump
// raised it (REFERENCE.md).
func TestUnloadingImpellaRP(t *testing.T) {
	pp, levels := shippedPump(t, "impella-rp")
	p := newPatient(t, "../configs/rigs/sim-rp.yaml", "rv_failure", pp)
	off := p.run(t, 0, 60*time.Second, 10)
	off.log(t, "RV failure, P0")
	on := p.run(t, levels[8], 30*time.Second, 10)
	on.log(t, "RV failure, P8")
	for _, c := range []struct {
		name, unit       string
		change, pub, low float64
	}{
		{"RAP fall", "mmHg", off.rap - on.rap, 19 - 13, (19 - 13) / 3.0},
		{"total output rise", "L/min", on.flow - off.flow, (3.1 - 1.9) * bsa, (3.1 - 1.9) * bsa / 2},
	} {
		if c.change < c.low || c.change > 2*c.pub {
			t.Errorf("%s %.2f %s; published %.2f, want %.2f to %.2f", c.name, c.change, c.unit, c.pub, c.low, 2*c.pub)
		}
	}
	if on.pump <= 4 {
		t.Errorf("pump flow %.2f L/min at P8; the RP's is above 4", on.pump)
	}
	if on.pap <= off.pap {
		t.Errorf("mean PAP %.1f → %.1f mmHg: did not rise", off.pap, on.pap)
	}
}

// BenchmarkPatientFrame is the physics' cost per 1 ms frame of sim.yaml's
// biventricular patient with its pump running (sim.BenchmarkFrame has
// Simaan's Loop and network).
func BenchmarkPatientFrame(b *testing.B) {
	cfg, err := LoadConfig("../configs/rigs/sim.yaml")
	if err != nil {
		b.Fatal(err)
	}
	spec, _ := cfg.Sim.Circulation.WithPump(sim.Impella25())
	l, err := sim.NewNetworkLoop(spec)
	if err != nil {
		b.Fatal(err)
	}
	w, err := pumpctl.NewCardiacWaveform(75, 2, cfg.Sim.Emin)
	if err != nil {
		b.Fatal(err)
	}
	if err := l.SetPumpSpeed(35000); err != nil {
		b.Fatal(err)
	}
	var now time.Duration
	frame := func() {
		_ = l.SetActiveElastance(w.Active())
		now += time.Millisecond
		l.AdvanceTo(now)
		w.Advance(time.Millisecond)
	}
	for range 2000 {
		frame()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		frame()
	}
}
