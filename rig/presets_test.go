package rig

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/sim"
)

// bsa is the body surface area a cardiac index is taken at, m²: the SHOCK
// trial's CI < 2.2 L/min/m² is CO < 4 L/min at 1.8 m² (REFERENCE.md,
// "Clinical states").
const bsa = 1.8

// presetFigures are a preset's hemodynamics over the last 10 s of a 60 s
// hold, the DUT stopped.
type presetFigures struct {
	sbp, mapP, co, lap, rap, pap, hr float64
}

func (f presetFigures) ci() float64 { return f.co / bsa }

// svr is the systemic vascular resistance (MAP − RAP)/CO in dyn·s/cm⁵.
func (f presetFigures) svr() float64 { return (f.mapP - f.rap) / f.co * 80 }

// presetMeasures are what measurePreset measures, with a bound every value
// meets (the criteria only carry the values).
var presetMeasures = []struct{ measure, bound string }{
	{"systolic(aop)", "-1000 mmHg"}, {"map(aop)", "-1000 mmHg"}, {"mean(flow_ao)", "-100 L/min"},
	{"mean(lap)", "-1000 mmHg"}, {"mean(rap)", "-1000 mmHg"}, {"mean(pap)", "-1000 mmHg"}, {"heart_rate(aop)", "0 bpm"},
}

// measurePreset runs preset on rig cfg and returns its figures.
func measurePreset(t *testing.T, cfg *Config, preset string) presetFigures {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s  - set: {loop.preset: %s}\n    hold: 60 s\n    criteria:\n", header, preset)
	for i, m := range presetMeasures {
		fmt.Fprintf(&b, "      - {id: M%d, measure: %s, over: last 10 s, min: %s}\n", i, m.measure, m.bound)
	}
	o := runDUT(t, cfg, b.String())
	if o.res.Outcome != runlog.OutcomePass || len(o.res.Criteria) != len(presetMeasures) {
		t.Fatalf("outcome %s (%s), %d criteria", o.res.Outcome, o.res.AbortReason, len(o.res.Criteria))
	}
	v := make([]float64, len(presetMeasures))
	for i, c := range o.res.Criteria {
		if c.Value == nil {
			t.Fatalf("%s: no value", c.Measure)
		}
		v[i] = *c.Value
	}
	f := presetFigures{sbp: v[0], mapP: v[1], co: v[2], lap: v[3], rap: v[4], pap: v[5], hr: v[6]}
	t.Logf("%s: SBP %.1f, MAP %.1f mmHg, CO %.2f L/min (CI %.2f), LAP %.1f, RAP %.1f, mean PAP %.1f mmHg, HR %.0f bpm, SVR %.0f dyn·s/cm⁵",
		preset, f.sbp, f.mapP, f.co, f.ci(), f.lap, f.rap, f.pap, f.hr, f.svr())
	return f
}

// TestPresetsInClinicalRanges: every preset reproduces its clinical state
// (REFERENCE.md: textbook ranges, the SHOCK trial's criteria, a chronic
// failing heart's CI 2.0–2.5 L/min/m² with LAP above 15 mmHg,
// hypovolaemia's low filling pressures and output) on both simulated rigs
// with a patient: sim.yaml, its stopped DUT in the LV, and sim-rp.yaml, its
// stopped Impella RP between RA and PA (a stopped axial pump leaks
// backwards, as the Impella's IFU warns at P0: 0.5–1.4 L/min here).
func TestPresetsInClinicalRanges(t *testing.T) {
	type check struct {
		name   string
		ok     func(f presetFigures) bool
		source string
	}
	for _, c := range []struct {
		preset string
		checks []check
	}{
		{"healthy", []check{
			{"SVR 800–1,200 dyn·s/cm⁵", func(f presetFigures) bool { return f.svr() >= 800 && f.svr() <= 1200 }, "textbook, REFERENCE.md"},
			{"MAP 70–100 mmHg", func(f presetFigures) bool { return f.mapP >= 70 && f.mapP <= 100 }, "textbook, REFERENCE.md"},
			{"CO 4–8 L/min", func(f presetFigures) bool { return f.co >= 4 && f.co <= 8 }, "textbook, REFERENCE.md"},
		}},
		{"heart_failure", []check{
			{"CI 2.0–2.5 L/min/m²", func(f presetFigures) bool { return f.ci() >= 2.0 && f.ci() <= 2.5 }, "issue 15, chronic heart failure"},
			{"LAP > 15 mmHg", func(f presetFigures) bool { return f.lap > 15 }, "issue 15"},
			{"SBP ≥ 90 mmHg (not in shock)", func(f presetFigures) bool { return f.sbp >= 90 }, "SHOCK trial, REFERENCE.md"},
		}},
		{"cardiogenic_shock", []check{
			{"SBP < 90 mmHg", func(f presetFigures) bool { return f.sbp < 90 }, "SHOCK trial"},
			{"CI < 2.2 L/min/m²", func(f presetFigures) bool { return f.ci() < 2.2 }, "SHOCK trial"},
			{"LAP > 15 mmHg", func(f presetFigures) bool { return f.lap > 15 }, "SHOCK trial (PCWP/LAP)"},
			{"HR > 60 bpm", func(f presetFigures) bool { return f.hr > 60 }, "SHOCK trial"},
		}},
		{"rv_failure", []check{
			{"CVP > 15 mmHg", func(f presetFigures) bool { return f.rap > 15 }, "RECOVER RIGHT entry criteria, REFERENCE.md"},
			{"CVP/PCWP > 0.63", func(f presetFigures) bool { return f.rap/f.lap > 0.63 }, "RECOVER RIGHT"},
			{"CI < 2.2 L/min/m²", func(f presetFigures) bool { return f.ci() < 2.2 }, "RECOVER RIGHT"},
		}},
		{"biventricular_failure", []check{
			{"CVP > 15 mmHg", func(f presetFigures) bool { return f.rap > 15 }, "RECOVER RIGHT"},
			{"LAP > 15 mmHg", func(f presetFigures) bool { return f.lap > 15 }, "SHOCK trial (PCWP/LAP)"},
			{"CI < 2.2 L/min/m²", func(f presetFigures) bool { return f.ci() < 2.2 }, "SHOCK trial, RECOVER RIGHT"},
		}},
		{"hypovolemia", []check{
			{"LAP < 5 mmHg", func(f presetFigures) bool { return f.lap < 5 }, "REFERENCE.md: low filling pressures; LA 4–12 mmHg is normal"},
			{"RAP < 4 mmHg", func(f presetFigures) bool { return f.rap < 4 }, "REFERENCE.md: low filling pressures"},
			{"CI < 2.2 L/min/m²", func(f presetFigures) bool { return f.ci() < 2.2 }, "REFERENCE.md: low output"},
		}},
	} {
		for _, rigFile := range []string{"sim.yaml", "sim-rp.yaml"} {
			t.Run(rigFile+"/"+c.preset, func(t *testing.T) {
				if rigFile != "sim.yaml" && testing.Short() {
					t.Skip("-short: the presets on sim.yaml only")
				}
				cfg, err := LoadConfig("../configs/rigs/" + rigFile)
				if err != nil {
					t.Fatal(err)
				}
				f := measurePreset(t, cfg, c.preset)
				for _, k := range c.checks {
					if !k.ok(f) {
						t.Errorf("%s (%s): not met", k.name, k.source)
					}
				}
			})
		}
	}
}

// TestRigsShareOnePatient: sim-rp.yaml and the hybrid rigs (their
// model) are sim.yaml's patient — the same presets and the same
// circulation but for the pump link's place — so a preset tuned on one
// stays true on the others.
func TestRigsShareOnePatient(t *testing.T) {
	a, err := LoadConfig("../configs/rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	presets := func(c *Config) map[string][]string {
		m := map[string][]string{}
		for name, sps := range c.Presets {
			for _, sp := range sps {
				m[name] = append(m[name], fmt.Sprintf("%s=%v", sp.Param, sp.Value.Num))
			}
		}
		return m
	}
	// The links but for the pump's place.
	links := func(c *Config) []sim.LinkSpec {
		ls := slices.Clone(c.Sim.Circulation.Links)
		for i := range ls {
			if ls[i].Kind == sim.Pump {
				ls[i].From, ls[i].To = "", ""
			}
		}
		return ls
	}
	for _, name := range []string{"sim-rp.yaml", "sim-hybrid.yaml", "sim-hybrid-rp.yaml", "pi-mcl-hybrid.yaml"} {
		b, err := LoadConfig("../configs/rigs/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if pa, pb := presets(a), presets(b); !reflect.DeepEqual(pa, pb) {
			t.Errorf("the presets differ:\nsim.yaml %v\n%s %v", pa, name, pb)
		}
		if !reflect.DeepEqual(a.Sim.Circulation.Nodes, b.Sim.Circulation.Nodes) || !reflect.DeepEqual(links(a), links(b)) {
			t.Errorf("the circulations of sim.yaml and %s differ beyond the pump link's place", name)
		}
	}
}
