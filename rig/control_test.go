package rig

import (
	"context"
	"math"
	"strings"
	"testing"
)

// TestMAPTargetSettles: loop.target.map 65 mmHg in the heart-failure preset
// settles within ±3 mmHg in under 60 s of simulated time, and stays there
// without oscillating (every later beat inside the band).
func TestMAPTargetSettles(t *testing.T) {
	o := runSrc(t, context.Background(), header+`
  - set: {loop.preset: heart_failure}
    hold: 30 s
  - name: hold MAP
    set: {loop.target.map: 65 mmHg}
    hold: 90 s
`)
	beats, err := o.run.ReadBeats()
	if err != nil {
		t.Fatal(err)
	}
	start := o.res.Steps[1].StartS
	settled := math.NaN()
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, b := range beats {
		if b.Channel != "aop" || b.Start < start {
			continue
		}
		in := math.Abs(b.Mean-65) <= 3
		if in && math.IsNaN(settled) {
			settled = b.T - start
		}
		if !math.IsNaN(settled) {
			lo, hi = min(lo, b.Mean), max(hi, b.Mean)
		}
	}
	t.Logf("MAP within ±3 mmHg %.1f s after the target; afterwards %.2f–%.2f mmHg", settled, lo, hi)
	if math.IsNaN(settled) || settled >= 60 {
		t.Fatalf("MAP not within 65 ± 3 mmHg within 60 s (settled after %.1f s)", settled)
	}
	if lo < 62 || hi > 68 {
		t.Errorf("after settling the beat MAP ranged %.2f–%.2f mmHg: it left the band (oscillation)", lo, hi)
	}
	if hi-lo > 3 && hi > 66 && lo < 64 {
		t.Errorf("MAP swings %.2f mmHg around the target", hi-lo)
	}
}

func TestCOTargetSettles(t *testing.T) {
	o := runSrc(t, context.Background(), header+`
  - set: {loop.preset: healthy}
    hold: 20 s
  - set: {loop.target.co: 4 L/min}
    hold: 60 s
    criteria:
      - {name: co, measure: mean(flow_ao), over: last 20 s, within: 4 L/min ± 5 %}
`)
	if c := o.criterion(t, "co"); c.Verdict != "pass" {
		t.Errorf("cardiac output %v L/min, target 4 ± 5 %%", *c.Value)
	}
}

func TestSettingAControlledParameterAborts(t *testing.T) {
	o := runSrc(t, context.Background(), header+`
  - set: {loop.target.map: 90 mmHg}
    hold: 5 s
  - set: {loop.resistance: 1.5 mmHg·s/ml}
    hold: 5 s
`)
	if o.res.Outcome != "aborted" || !strings.Contains(o.res.AbortReason, "loop.resistance is under closed-loop control by loop.target.map") {
		t.Errorf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
	}
	// with the target off, the same set is fine
	o = runSrc(t, context.Background(), header+`
  - set: {loop.target.map: 90 mmHg}
    hold: 5 s
  - set: {loop.target.map: off, loop.resistance: 1.5 mmHg·s/ml}
    hold: 5 s
`)
	if o.res.Outcome != "pass" {
		t.Errorf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
	}
}

// TestThermostat: loop.temperature drives the heater relay with hysteresis;
// the simulated fluid warms to the target and is held there.
func TestThermostat(t *testing.T) {
	o := runSrc(t, context.Background(), header+`
  - set: {loop.temperature: 38 °C}
    hold: 3 min
    criteria:
      - {name: held, measure: mean(temp), over: last 30 s, within: 38 °C ± 0.4 °C}
      - {name: band, measure: max(temp), over: last 30 s, max: 38.6 °C}
`)
	for _, name := range []string{"held", "band"} {
		if c := o.criterion(t, name); c.Verdict != "pass" {
			t.Errorf("%s: %v °C (%s)", name, *c.Value, c.Limits)
		}
	}
}

// TestPresetsReproduceReference: on the loop without a device, each preset
// reproduces REFERENCE.md's ranges: the healthy adult, heart failure, and
// cardiogenic shock by the SHOCK-trial criteria.
func TestPresetsReproduceReference(t *testing.T) {
	o := runSrc(t, context.Background(), header+`
  - name: healthy
    set: {loop.preset: healthy}
    hold: 40 s
    criteria:
      - {id: h-sys, measure: systolic(aop), over: last 10 s, between: [100 mmHg, 140 mmHg]}
      - {id: h-dia, measure: diastolic(aop), over: last 10 s, between: [70 mmHg, 90 mmHg]}
      - {id: h-map, measure: map(aop), over: last 10 s, between: [70 mmHg, 100 mmHg]}
      - {id: h-co, measure: mean(flow_ao), over: last 10 s, between: [4 L/min, 8 L/min]}
      - {id: h-sv, measure: stroke_volume(flow_ao), over: last 10 s, between: [50 ml, 100 ml]}
      - {id: h-lap, measure: mean(lap), over: last 10 s, between: [4 mmHg, 12 mmHg]}
  - name: heart failure
    set: {loop.preset: heart_failure}
    hold: 60 s
    criteria:
      - {id: f-co, measure: mean(flow_ao), over: last 10 s, between: [2.5 L/min, 4 L/min]}
      - {id: f-lap, measure: mean(lap), over: last 10 s, min: 15 mmHg}
  - name: cardiogenic shock
    set: {loop.preset: cardiogenic_shock}
    hold: 60 s
    criteria:
      - {id: s-sys, measure: systolic(aop), over: last 10 s, max: 90 mmHg}
      - {id: s-co, measure: mean(flow_ao), over: last 10 s, between: [2 L/min, 3.5 L/min]}
      - {id: s-lap, measure: mean(lap), over: last 10 s, min: 15 mmHg}
      - {id: s-hr, measure: heart_rate(aop), over: last 10 s, min: 60 bpm}
`)
	for _, c := range o.res.Criteria {
		if c.Verdict != "pass" {
			t.Errorf("%s %s: %v %s, limits %s", c.ID, c.Measure, *c.Value, c.Unit, c.Limits)
		}
	}
	if len(o.res.Criteria) != 12 {
		t.Errorf("%d criteria judged", len(o.res.Criteria))
	}
}
