package fidelity

import (
	"fmt"
	"strings"
)

// measure is one value an experiment measures: a criterion's id, its
// measure expression and the unit of its (always met) bound.
type measure struct{ id, expr, unit string }

// experiment is one run that cases are measured in: a protocol of steps
// on a rig config with a DUT profile (empty: the rig's own), whose
// criteria carry the measures — or, direct, a computation on package sim.
type experiment struct {
	id, rig, dut string
	steps        string
	direct       func() (Measures, error)
}

// criteria renders measures as criteria lines at indent, over the last
// part of their step (over, e.g. "10 s"), with bounds every value meets:
// the value is what counts, the cases judge it.
func criteria(indent string, ms []measure, suffix, over string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%scriteria:\n", indent)
	for _, m := range ms {
		fmt.Fprintf(&b, "%s  - {id: %s%s, measure: %s, over: last %s, min: -100000 %s}\n", indent, m.id, suffix, m.expr, over, m.unit)
	}
	return b.String()
}

func presetExperiment(rigFile, preset string) string {
	return "preset." + strings.TrimSuffix(rigFile, ".yaml") + "." + preset
}

// experiments returns every experiment the cases name, by id.
func experiments() map[string]experiment {
	es := map[string]experiment{}
	add := func(e experiment) { es[e.id] = e }
	add(experiment{id: "simaan", rig: rigLoopOnly, steps: "  - set: {loop.preset: healthy}\n    hold: 40 s\n" +
		criteria("    ", []measure{
			{"sbp", "systolic(aop)", "mmHg"}, {"dbp", "diastolic(aop)", "mmHg"}, {"map", "mean(aop)", "mmHg"},
			{"co", "mean(flow_ao)", "L/min"}, {"sv", "stroke_volume(flow_ao)", "ml"},
		}, "", "8 s")})
	add(experiment{id: "espvr", rig: rigLoopOnly, direct: espvr})
	for _, rigFile := range []string{rigLeft, rigRight} {
		for _, p := range presetChecks {
			add(experiment{id: presetExperiment(rigFile, p.preset), rig: rigFile,
				steps: "  - set: {loop.preset: " + p.preset + "}\n    hold: 60 s\n" + criteria("    ", presetMeasures, "", "10 s")})
		}
	}
	for _, preset := range ifuPresets {
		var b strings.Builder
		fmt.Fprintf(&b, "  - set: {loop.preset: %s}\n    hold: 20 s\n  - name: levels\n    sweep: {dut.level: [", preset)
		for i, lv := range ifuLevels {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(lv.level)
		}
		b.WriteString("]}\n    steps:\n      - name: settle\n        hold: 10 s\n      - name: measure\n        hold: 10 s\n        criteria:\n")
		for _, lv := range ifuLevels {
			fmt.Fprintf(&b, "          - {id: %s, when: dut.level == %s, measure: mean(flow_dut), min: -100 L/min}\n", lv.level, lv.level)
		}
		add(experiment{id: "ifu." + preset, rig: rigLeft, dut: "impella-2.5", steps: b.String()})
	}
	for _, d := range p8Devices {
		add(experiment{id: "p8." + d.profile, rig: d.rig, dut: d.profile,
			steps: "  - set: {loop.preset: " + d.preset + "}\n    hold: 20 s\n  - set: {dut.level: P8}\n    hold: 20 s\n" +
				criteria("    ", []measure{{"flow", "mean(flow_dut)", "L/min"}}, "", "10 s")})
	}
	left := []measure{{"lvedp", "end_diastolic(lvp)", "mmHg"}, {"lap", "mean(lap)", "mmHg"}, {"pp", "pulse_pressure(aop)", "mmHg"}, {"flow", "mean(flow_ao)", "L/min"}}
	add(experiment{id: "unload.left", rig: rigLeft, dut: "impella-cp", steps: unloading("heart_failure", left)})
	right := []measure{{"rap", "mean(rap)", "mmHg"}, {"flow", "mean(flow_ao)", "L/min"}}
	add(experiment{id: "unload.right", rig: rigRight, dut: "impella-rp", steps: unloading("rv_failure", right)})
	return es
}

// unloading holds preset 60 s at P0 and then 30 s at P8, measuring ms
// over the last 10 s of each (ids suffixed 0 and 8).
func unloading(preset string, ms []measure) string {
	return "  - set: {loop.preset: " + preset + ", dut.level: P0}\n    hold: 60 s\n" + criteria("    ", ms, "0", "10 s") +
		"  - set: {dut.level: P8}\n    hold: 30 s\n" + criteria("    ", ms, "8", "10 s")
}
