package rig

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/sim"
)

// truthProbe records the model's own LV pressure and volume, without
// sensor noise or offset, at every frame's conversion.
type truthProbe struct {
	Plant
	bench *sim.Bench
	t     []time.Duration
	p, v  []float64
}

func (p *truthProbe) Read(dst []float64) (int64, error) {
	conv, err := p.Plant.Read(dst)
	if err == nil {
		s := p.bench.State()
		p.t, p.p, p.v = append(p.t, s.Time), append(p.p, s.LVP), append(p.v, s.LVVolume)
	}
	return conv, err
}

// truthBeats are the model's beats between from and to: per cycle of
// period per, its largest LV volume (the end of filling: EDV, and the
// pressure then, LVEDP), its smallest (the end of ejection: ESV, and the
// pressure then) and its steepest rise and fall of pressure. Volume is
// constant while both valves are shut, so the end of filling is the first
// frame at the largest volume and the end of ejection the first at the
// smallest. dP/dt is the central difference over ±5 frames of the
// noiseless pressure: the drive's DAC steps the elastance every frame by
// up to 0.3 mmHg of pressure in the failing heart, which a ±1 frame
// difference would read as ±150 mmHg/s.
func (p *truthProbe) truthBeats(from, to, per time.Duration) (edv, esv, lvedp, esp, dpMax, dpMin float64) {
	// cycles start at the peak pressure, in mid-ejection: the volume
	// falls there, so the plateaus of both isovolumic phases lie inside a
	// cycle
	i0 := 1
	for p.t[i0] < from {
		i0++
	}
	best := i0
	for i := i0; p.t[i] < from+per; i++ {
		if p.p[i] > p.p[best] {
			best = i
		}
	}
	n := 0
	for i := best; i+5 < len(p.t) && p.t[i]+per <= to; {
		iMax, iMin, dMax, dMin := i, i, math.Inf(-1), math.Inf(1)
		end := p.t[i] + per
		for ; i+5 < len(p.t) && p.t[i] < end; i++ {
			if p.v[i] > p.v[iMax]+1e-3 {
				iMax = i
			}
			if p.v[i] < p.v[iMin]-1e-3 {
				iMin = i
			}
			d := (p.p[i+5] - p.p[i-5]) / (p.t[i+5] - p.t[i-5]).Seconds()
			dMax, dMin = max(dMax, d), min(dMin, d)
		}
		edv, esv, lvedp, esp, dpMax, dpMin = edv+p.v[iMax], esv+p.v[iMin], lvedp+p.p[iMax], esp+p.p[iMin], dpMax+dMax, dpMin+dMin
		n++
	}
	k := float64(n)
	return edv / k, esv / k, lvedp / k, esp / k, dpMax / k, dpMin / k
}

// TestBeatPhasesMatchTheModel: on the simulated loop (Simaan's normal heart,
// then the heart-failure preset), end_diastolic and end_systolic of
// lv_volume are the model's EDV and ESV, end_diastolic(lvp) its LVEDP,
// end_systolic(lvp) its pressure at the end of ejection, and dp_dt_max and
// dp_dt_min of lvp its steepest rise and fall, all measured through the
// noisy, offset transducers and the ADC.
func TestBeatPhasesMatchTheModel(t *testing.T) {
	var probe *truthProbe
	orig := plantFor
	plantFor = func(cfg *Config, clk clock.Clock, cals map[string]daq.Calibration) (Plant, error) {
		pl, err := newPlant(cfg, clk, cals)
		if err != nil {
			return nil, err
		}
		probe = &truthProbe{Plant: pl, bench: pl.(*busPlant).bench}
		return probe, nil
	}
	t.Cleanup(func() { plantFor = orig })
	crit := `      - {id: EDV%[1]s, measure: end_diastolic(lv_volume), over: last 20 s, min: 0 ml}
      - {id: ESV%[1]s, measure: end_systolic(lv_volume), over: last 20 s, min: 0 ml}
      - {id: LVEDP%[1]s, measure: end_diastolic(lvp), over: last 20 s, min: -20 mmHg}
      - {id: ESP%[1]s, measure: end_systolic(lvp), over: last 20 s, min: 0 mmHg}
      - {id: MAX%[1]s, measure: dp_dt_max(lvp), over: last 20 s, min: 0 mmHg/s}
      - {id: MIN%[1]s, measure: dp_dt_min(lvp), over: last 20 s, max: 0 mmHg/s}
`
	src := header + "  - set: {loop.preset: healthy}\n    hold: 40 s\n    criteria:\n" + fmt.Sprintf(crit, "-n") +
		"  - set: {loop.preset: heart_failure}\n    hold: 60 s\n    criteria:\n" + fmt.Sprintf(crit, "-hf")
	o := runSrc(t, context.Background(), src)
	if o.res.Outcome != runlog.OutcomePass {
		t.Fatalf("outcome %s %s: %+v", o.res.Outcome, o.res.AbortReason, o.res.Criteria)
	}
	for _, c := range []struct {
		suffix string
		end    time.Duration
		hr     float64
	}{{"-n", 40 * time.Second, 75}, {"-hf", 100 * time.Second, 85}} {
		per := time.Duration(float64(time.Minute) / c.hr)
		edv, esv, lvedp, esp, dpMax, dpMin := probe.truthBeats(c.end-20*time.Second, c.end, per)
		got := func(id string) float64 { return *o.criterion(t, id+c.suffix).Value }
		t.Logf("%s: EDV %.2f/%.2f ml, ESV %.2f/%.2f ml (SV %.1f), LVEDP %.2f/%.2f mmHg, ESP %.2f/%.2f mmHg, dP/dt max %.0f/%.0f, min %.0f/%.0f mmHg/s (measured/model)",
			c.suffix, got("EDV"), edv, got("ESV"), esv, edv-esv, got("LVEDP"), lvedp, got("ESP"), esp, got("MAX"), dpMax, got("MIN"), dpMin)
		for _, k := range []struct {
			id        string
			want, tol float64
			why       string
		}{
			{"EDV", edv, 0.01 * edv, "1 %: the volume is read at the foot of the upstroke, within a few ms of the end of filling"},
			{"ESV", esv, 0.01 * esv, "1 %: read at the knee, within the isovolumic relaxation where the volume is constant"},
			{"LVEDP", lvedp, 0.5, "0.5 mmHg: the foot lies within 1–2 ms of mitral closure; sensor noise 0.2 mmHg"},
			{"ESP", esp, 3, "3 mmHg: the knee lies within 3 ms of aortic closure, where LVP falls at 400–700 mmHg/s"},
			{"MAX", dpMax, 0.03 * dpMax, "3 %: the 20 ms least-squares slope against the ±5-frame central difference of the noiseless model"},
			{"MIN", dpMin, 0.03 * -dpMin, "3 %: likewise"},
		} {
			if v := got(k.id); !(math.Abs(v-k.want) <= k.tol) {
				t.Errorf("%s%s = %.2f, model %.2f: outside ± %.2f (%s)", k.id, c.suffix, v, k.want, k.tol, k.why)
			}
		}
	}
}

// TestCycleChannel: `cycle:` names the beat channel that times the phases
// of other channels (the simulated rigs' is the ventricle, lvp); without
// it the first beat channel does; a channel beats are not detected on is
// refused at its position.
func TestCycleChannel(t *testing.T) {
	base, err := os.ReadFile("../configs/rigs/sim-loop-only.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(base)
	cfg, err := ParseConfig("sim-loop-only.yaml", base)
	if err != nil || cfg.cycleChannel() != "lvp" {
		t.Fatalf("cycle %q, %v", cfg.cycleChannel(), err)
	}
	line := strings.Count(src[:strings.Index(src, "cycle: lvp")], "\n") + 1
	cfg, err = ParseConfig("sim-loop-only.yaml", []byte(strings.Replace(src, "cycle: lvp", "", 1)))
	if err != nil || cfg.cycleChannel() != "aop" {
		t.Errorf("without cycle: %q, %v; want the first beat channel, aop", cfg.cycleChannel(), err)
	}
	_, err = ParseConfig("sim-loop-only.yaml", []byte(strings.Replace(src, "cycle: lvp", "cycle: lap", 1)))
	if want := fmt.Sprintf(`sim-loop-only.yaml:%d:8: cycle must be one of the beat channels (aop, lvp), not "lap"`, line); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %s", err, want)
	}
}

// TestStatisticsOverBeats: a beat aggregate wrapped in min, max, std or
// p50 is that statistic of the window's beats, as recorded in beats.jsonl;
// unwrapped it is their mean; and an until condition on one is met.
func TestStatisticsOverBeats(t *testing.T) {
	src := header + `  - set: {loop.preset: healthy}
    hold: 20 s
  - until:
      condition: max(end_diastolic(lvp), 5 s) < 30 mmHg
      timeout: 10 s
  - hold: 10 s
    criteria:
      - {id: mean, measure: map(aop), min: 0 mmHg}
      - {id: min, measure: min(map(aop)), min: 0 mmHg}
      - {id: max, measure: max(map(aop)), min: 0 mmHg}
      - {id: std, measure: std(map(aop)), min: 0 mmHg}
      - {id: p50, measure: p50(map(aop)), min: 0 mmHg}
`
	o := runSrc(t, context.Background(), src)
	if o.res.Outcome != runlog.OutcomePass {
		t.Fatalf("outcome %s %s: %+v", o.res.Outcome, o.res.AbortReason, o.res.Criteria)
	}
	beats, err := o.run.ReadBeats()
	if err != nil {
		t.Fatal(err)
	}
	step := o.res.Steps[len(o.res.Steps)-1]
	var s daq.Stats
	s.KeepValues = true
	for _, b := range beats {
		if b.Channel == "aop" && b.T > step.StartS && b.T <= step.EndS {
			s.Add(time.Duration(b.T*float64(time.Second)), b.Mean)
		}
	}
	if s.N < 10 || s.Max-s.Min <= 0 {
		t.Fatalf("%d beats in the step, MAP %g to %g", s.N, s.Min, s.Max)
	}
	for _, agg := range []string{"mean", "min", "max", "std", "p50"} {
		want, _ := s.Aggregate(agg)
		if got := *o.criterion(t, agg).Value; math.Abs(got-want) > 1e-9*math.Abs(want)+1e-12 {
			t.Errorf("%s over beats %.6f, from beats.jsonl %.6f", agg, got, want)
		}
	}
}
