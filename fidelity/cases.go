package fidelity

import (
	"fmt"
	"strings"
)

// bsa is the body surface area a cardiac index is taken at, m²: the SHOCK
// trial's CI < 2.2 L/min/m² is CO < 4 L/min at 1.8 m² (REFERENCE.md,
// "Clinical states").
const bsa = 1.8

// Rig configs the cases run on (files of the rig directory).
const (
	rigLoopOnly = "sim-loop-only.yaml"
	rigLeft     = "sim.yaml"
	rigRight    = "sim-rp.yaml"
)

// The groups of the report, in its order.
const (
	groupSimaan  = "Simaan's normal heart"
	groupPresets = "Presets against their clinical criteria"
	groupIFU     = "Impella 2.5 at every level (IFU table)"
	groupP8      = "Each device's flow at P8"
	groupUnload  = "Unloading magnitudes"
)

// Groups lists the report's groups in order.
func Groups() []string {
	return []string{groupSimaan, groupPresets, groupIFU, groupP8, groupUnload}
}

// simaanTol is the tolerance of Simaan's figures.
func simaanTol(v float64) Tolerance {
	return Pct(v, 3, "3 %: the published figures are one simulation's, read to two or three digits; "+
		"the sim and rig tests hold the model to them within 3 % (sim TestReproducesSimaanNormal, rig TestSimaanThroughADCPath)")
}

const simaanSource = `Simaan et al., IEEE TCST 17(1):15–28, 2009, normal heart at 75 bpm (REFERENCE.md, "Lumped-parameter model")`

// Cases returns every reference case, in the report's order.
func Cases() []Case {
	const simaanHow = "over the last 8 s (10 beats: a whole number of cycles, as the paper's means are) of a 40 s hold of the healthy preset, through the emulated ADC and the calibration"
	cs := []Case{
		{ID: "simaan.sbp", Group: groupSimaan, What: "systolic aortic pressure", Unit: "mmHg", Published: Figure(117), Tol: simaanTol(117),
			Method: "systolic(aop) " + simaanHow, Value: m("sbp")},
		{ID: "simaan.dbp", Group: groupSimaan, What: "diastolic aortic pressure", Unit: "mmHg", Published: Figure(77), Tol: simaanTol(77),
			Method: "diastolic(aop) " + simaanHow, Value: m("dbp")},
		{ID: "simaan.map", Group: groupSimaan, What: "mean aortic pressure", Unit: "mmHg", Published: Figure(99), Tol: simaanTol(99),
			Method: "mean(aop) " + simaanHow, Value: m("map")},
		{ID: "simaan.co", Group: groupSimaan, What: "cardiac output", Unit: "L/min", Published: Figure(5.21), Tol: simaanTol(5.21),
			Method: "mean(flow_ao) " + simaanHow, Value: m("co")},
		{ID: "simaan.sv", Group: groupSimaan, What: "stroke volume", Unit: "ml", Published: Figure(69.5), Tol: simaanTol(69.5),
			Method: "stroke_volume(flow_ao) " + simaanHow, Value: m("sv")},
		{ID: "simaan.espvr", Group: groupSimaan, What: "ESPVR slope", Unit: "mmHg/ml", Published: Figure(2.0),
			Tol: Pct(2.0, 10, "10 %: the end-systolic points are taken where a PV-loop study takes them, at aortic valve closure, "+
				"which lies near but not at the elastance's peak, so the ESPVR so measured is steeper than Emax by a few per cent"),
			Source: simaanSource + ": the ESPVR's slope is Emax", Rig: rigLoopOnly, Experiment: "espvr",
			Method: "in package sim directly (the rig has no LV volume channel): Simaan's loop at 75 bpm, Emax 2.0 mmHg/ml, " +
				"systemic resistance 0.7, 1.0 and 1.4 mmHg·s/ml; at each, the LV pressure and volume at aortic valve closure, " +
				"mean of 5 beats after 20 s; the slope of the least-squares line through the three points",
			Value: m("slope")},
	}
	for i := range cs[:5] {
		cs[i].Source, cs[i].Rig, cs[i].Experiment = simaanSource, rigLoopOnly, "simaan"
	}
	cs = append(cs, presetCases(rigLeft)...)
	cs = append(cs, presetCases(rigRight)...)
	cs = append(cs, ifuCases()...)
	cs = append(cs, p8Cases()...)
	return append(cs, unloadingCases()...)
}

// m is the value of one measure.
func m(id string) func(Measures) float64 { return func(ms Measures) float64 { return ms[id] } }

// presetCheck is one clinical criterion of a preset.
type presetCheck struct {
	what, unit string
	pub        Published
	source     string
	value      func(Measures) float64
}

func ci(ms Measures) float64  { return ms["co"] / bsa }
func svr(ms Measures) float64 { return (ms["map"] - ms["rap"]) / ms["co"] * 80 }

// presetChecks are each preset's clinical criteria (REFERENCE.md:
// textbook ranges, the SHOCK trial's criteria, a chronic failing heart's
// CI 2.0–2.5 L/min/m² with LAP above 15 mmHg, hypovolaemia's low filling
// pressures and output). rig TestPresetsInClinicalRanges holds the same.
var presetChecks = []struct {
	preset string
	checks []presetCheck
}{
	{"healthy", []presetCheck{
		{"SVR", "dyn·s/cm⁵", Range(800, 1200), "textbook (REFERENCE.md)", svr},
		{"MAP", "mmHg", Range(70, 100), "textbook (REFERENCE.md)", m("map")},
		{"CO", "L/min", Range(4, 8), "textbook (REFERENCE.md)", m("co")},
	}},
	{"heart_failure", []presetCheck{
		{"CI", "L/min/m²", Range(2.0, 2.5), "issue 15: chronic heart failure", ci},
		{"LAP", "mmHg", Above(15), "issue 15: chronic heart failure", m("lap")},
		{"SBP (not in shock)", "mmHg", Above(90), "SHOCK trial (REFERENCE.md)", m("sbp")},
	}},
	{"cardiogenic_shock", []presetCheck{
		{"SBP", "mmHg", Below(90), "SHOCK trial (REFERENCE.md)", m("sbp")},
		{"CI", "L/min/m²", Below(2.2), "SHOCK trial", ci},
		{"LAP (PCWP)", "mmHg", Above(15), "SHOCK trial", m("lap")},
		{"HR", "bpm", Above(60), "SHOCK trial", m("hr")},
	}},
	{"rv_failure", []presetCheck{
		{"CVP", "mmHg", Above(15), "RECOVER RIGHT entry criteria (REFERENCE.md)", m("rap")},
		{"CVP/PCWP", "", Above(0.63), "RECOVER RIGHT", func(ms Measures) float64 { return ms["rap"] / ms["lap"] }},
		{"CI", "L/min/m²", Below(2.2), "RECOVER RIGHT", ci},
	}},
	{"biventricular_failure", []presetCheck{
		{"CVP", "mmHg", Above(15), "RECOVER RIGHT", m("rap")},
		{"LAP (PCWP)", "mmHg", Above(15), "SHOCK trial", m("lap")},
		{"CI", "L/min/m²", Below(2.2), "SHOCK trial, RECOVER RIGHT", ci},
	}},
	{"hypovolemia", []presetCheck{
		{"LAP", "mmHg", Below(5), "REFERENCE.md: low filling pressures (LA 4–12 mmHg is normal)", m("lap")},
		{"RAP", "mmHg", Below(4), "REFERENCE.md: low filling pressures", m("rap")},
		{"CI", "L/min/m²", Below(2.2), "REFERENCE.md: low output", ci},
	}},
}

// presetMeasures are what a preset's experiment measures over the last
// 10 s of its 60 s hold, the DUT stopped.
var presetMeasures = []measure{
	{"sbp", "systolic(aop)", "mmHg"}, {"map", "map(aop)", "mmHg"}, {"co", "mean(flow_ao)", "L/min"},
	{"lap", "mean(lap)", "mmHg"}, {"rap", "mean(rap)", "mmHg"}, {"pap", "mean(pap)", "mmHg"}, {"hr", "heart_rate(aop)", "bpm"},
}

func presetCases(rigFile string) []Case {
	var cs []Case
	for _, p := range presetChecks {
		for _, k := range p.checks {
			cs = append(cs, Case{
				ID:    fmt.Sprintf("preset.%s.%s.%s", strings.TrimSuffix(rigFile, ".yaml"), p.preset, slug(k.what)),
				Group: groupPresets, What: p.preset + " on " + rigFile + ": " + k.what, Unit: k.unit, Published: k.pub,
				Source: k.source, Rig: rigFile, Experiment: presetExperiment(rigFile, p.preset),
				Method: "over the last 10 s of a 60 s hold of the preset, the DUT stopped (CI at 1.8 m², SVR = (MAP − RAP)/CO·80)",
				Value:  k.value,
			})
		}
	}
	return cs
}

// slug makes a case id part of a criterion's name.
func slug(s string) string {
	s, _, _ = strings.Cut(s, " (")
	return strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(s))
}

// ifuLevels are the Impella 2.5 IFU's flows per level, L/min.
var ifuLevels = []struct {
	level  string
	lo, hi float64
}{{"P1", 0, 1.1}, {"P2", 0.8, 1.5}, {"P3", 1.1, 1.7}, {"P4", 1.3, 1.8}, {"P5", 1.5, 1.9}, {"P6", 1.7, 2.1}, {"P7", 1.8, 2.2}, {"P8", 2.1, 2.4}, {"P9", 2.1, 2.5}}

// ifuPresets are the patients the 2.5's levels are held to its IFU in.
var ifuPresets = []string{"healthy", "heart_failure", "cardiogenic_shock"}

func ifuCases() []Case {
	var cs []Case
	for _, preset := range ifuPresets {
		for _, lv := range ifuLevels {
			cs = append(cs, Case{
				ID: "ifu.impella-2.5." + preset + "." + lv.level, Group: groupIFU,
				What: "Impella 2.5 flow at " + lv.level + ", " + preset, Unit: "L/min", Published: Range(lv.lo, lv.hi),
				Source: `Impella 2.5 instructions for use, flow per level (REFERENCE.md, "Impella-class pump")`,
				Rig:    rigLeft + " --dut impella-2.5", Experiment: "ifu." + preset,
				Method: "mean(flow_dut) through the ADC over 10 s after 10 s at the level, commanded over VADLINK; levels P1 → P9 after 20 s of the preset",
				Value:  m(lv.level),
			})
		}
	}
	return cs
}

// p8Devices are the devices whose flow at P8 is published in a patient
// of this rig, and where (rig, preset). rig TestLeftSidedProfilesAtP8InHeartFailure
// holds the left-sided ones; TestProfileFlowAtP8 the steady fit.
var p8Devices = []struct {
	profile, rig, preset string
	pub                  Published
	source               string
}{
	{"impella-cp", rigLeft, "heart_failure", Range(3.0, 4.3), "Abiomed CP FAQ, Hayes HTA: 3.0–4.0, up to 4.3 L/min (REFERENCE.md, \"The device family\")"},
	{"impella-5.0", rigLeft, "heart_failure", Range(3.4, 5.0), "RECOVER I: 4.0 ± 0.6 (lower bound); Abiomed: up to 5.0 L/min"},
	{"impella-5.5", rigLeft, "heart_failure", Range(3.4, 6.2), "Ramzy et al.: up to 6.2 L/min; at least the 5.0's lower bound (a bigger pump)"},
	{"hemopump", rigLeft, "heart_failure", Range(2.1, 3.5), "Butler, Moise & Wampler 1990: up to 3.5 L/min; at least the 2.5's P8"},
	{"impella-rp", rigRight, "rv_failure", Range(4.0, 5.0), "FDA SSED, RECOVER RIGHT: above 4 L/min (5.0 this project's bound)"},
}

func p8Cases() []Case {
	var cs []Case
	for _, d := range p8Devices {
		cs = append(cs, Case{
			ID: "p8." + d.profile, Group: groupP8, What: d.profile + " flow at P8, " + d.preset, Unit: "L/min", Published: d.pub,
			Source: d.source, Rig: d.rig + " --dut " + d.profile, Experiment: "p8." + d.profile,
			Method: "mean(flow_dut) through the ADC over the last 10 s of 20 s at P8, after 20 s of the preset",
			Value:  m("flow"),
		})
	}
	return cs
}

func unloadingCases() []Case {
	const halfTwice = "at least half and at most twice the published change: a model of another heart, not of those patients or animals (issue 15)"
	const left, right = "unload.left", "unload.right"
	const howL = "Impella CP, heart_failure on sim.yaml: the last 10 s of 60 s at P0, then of 30 s at P8; "
	const howR = "Impella RP, rv_failure on sim-rp.yaml: the last 10 s of 60 s at P0, then of 30 s at P8; "
	fall := func(id string) func(Measures) float64 {
		return func(ms Measures) float64 { return ms[id+"0"] - ms[id+"8"] }
	}
	rise := func(id string) func(Measures) float64 {
		return func(ms Measures) float64 { return ms[id+"8"] - ms[id+"0"] }
	}
	const cpRig, rpRig = rigLeft + " --dut impella-cp", rigRight + " --dut impella-rp"
	cs := []Case{
		{ID: "unload.cp.lvedp", What: "Impella CP P0 → P8: LVEDP fall", Unit: "mmHg", Published: Figure(9.6), Tol: Factor(9.6, 0.5, 2, halfTwice),
			Source: `Watanabe et al., Impella CP at P8 in failing hearts: LVEDP −9.6 mmHg (REFERENCE.md, "What support does to the patient")`,
			Rig:    cpRig, Experiment: left, Method: howL + "end_diastolic(lvp)", Value: fall("lvedp")},
		{ID: "unload.cp.lap", What: "Impella CP P0 → P8: LAP fall", Unit: "mmHg", Published: Figure(6.5), Tol: Factor(6.5, 0.5, 2, halfTwice),
			Source: "Watanabe et al.: LAP −6.5 mmHg", Rig: cpRig, Experiment: left, Method: howL + "mean(lap)", Value: fall("lap")},
		{ID: "unload.cp.pulse", What: "Impella CP P0 → P8: aortic pulse pressure ratio", Unit: "", Published: Below(0.5),
			Source: "Burkhoff et al. 2015: full support flattens the aortic pulse (pulse pressure at least halves)",
			Rig:    cpRig, Experiment: left, Method: howL + "pulse_pressure(aop) at P8 over P0",
			Value: func(ms Measures) float64 { return ms["pp8"] / ms["pp0"] }},
		{ID: "unload.cp.flow", What: "Impella CP P0 → P8: total systemic flow rise", Unit: "L/min", Published: Above(0),
			Source: `REFERENCE.md, "What support does to the patient": support raises the total output`,
			Rig:    cpRig, Experiment: left, Method: howL + "mean(flow_ao)", Value: rise("flow")},
		{ID: "unload.rp.rap", What: "Impella RP P0 → P8: RAP fall", Unit: "mmHg", Published: Figure(6),
			Tol: Factor(6, 1.0/3, 2, "at least a third, at most twice: with Harvi's venous compliance (70 ml/mmHg) the volume the pump "+
				"moves out of the veins lowers their pressure by 2–3 mmHg, not the patients' 6 (a limit of the model, issue 15)"),
			Source: "JHLT 2018 / RECOVER RIGHT: CVP 19 → 13 mmHg", Rig: rpRig, Experiment: right, Method: howR + "mean(rap)", Value: fall("rap")},
		{ID: "unload.rp.output", What: "Impella RP P0 → P8: total output rise", Unit: "L/min", Published: Figure((3.1 - 1.9) * bsa),
			Tol:    Factor((3.1-1.9)*bsa, 0.5, 2, halfTwice),
			Source: "JHLT 2018 / RECOVER RIGHT: CI 1.9 → 3.1 L/min/m², +2.2 L/min at 1.8 m²", Rig: rpRig, Experiment: right,
			Method: howR + "mean(flow_ao)", Value: rise("flow")},
	}
	for i := range cs {
		cs[i].Group = groupUnload
	}
	return cs
}
