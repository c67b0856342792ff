package rig

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
)

// simConfig is the simulated loop without a device: the loop's own
// behaviour, as a lab characterises it before inserting a device.
func simConfig(t testing.TB) *Config {
	t.Helper()
	cfg, err := LoadConfig("../configs/rigs/sim-loop-only.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// dutConfig is the default rig: the loop with the simulated DUT.
func dutConfig(t testing.TB) *Config {
	t.Helper()
	cfg, err := LoadConfig("../configs/rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type runOut struct {
	res    *runlog.Result
	run    *runlog.Run
	events []runlog.Event
}

// runSrc parses src against the sim rig, runs it on virtual time and opens
// the record it wrote.
func runSrc(t testing.TB, ctx context.Context, src string) runOut {
	t.Helper()
	cfg := simConfig(t)
	p, err := protocols.Parse("test.yaml", []byte(src), cfg.Info())
	if err != nil {
		t.Fatalf("protocol: %v", err)
	}
	res, dir, err := Run(ctx, cfg, p, Options{RunsDir: t.TempDir(), ProtocolFile: "test.yaml", ProtocolSource: []byte(src), Version: "test"})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	run, err := runlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if run.Manifest.State != runlog.StateClosed {
		t.Errorf("record state %q after run, want closed", run.Manifest.State)
	}
	if run.Result == nil || run.Result.Outcome != res.Outcome || run.Result.Frames != res.Frames {
		t.Errorf("result.json %+v does not match returned result %+v", run.Result, res)
	}
	ev, err := run.ReadEvents()
	if err != nil {
		t.Fatal(err)
	}
	return runOut{res, run, ev}
}

func (o runOut) criterion(t testing.TB, label string) runlog.CriterionResult {
	t.Helper()
	for _, c := range o.res.Criteria {
		if c.ID == label || c.Name == label || c.Measure == label {
			return c
		}
	}
	t.Fatalf("no criterion %q in %+v", label, o.res.Criteria)
	return runlog.CriterionResult{}
}

func (o runOut) eventsOf(kind string) []runlog.Event {
	var out []runlog.Event
	for _, e := range o.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

const header = "protocol: 1\nname: t\nsteps:\n"

func TestLoopCharacterisationPasses(t *testing.T) {
	src, err := os.ReadFile("../configs/protocols/loop-characterisation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o := runSrc(t, context.Background(), string(src))
	if o.res.Outcome != runlog.OutcomePass {
		t.Fatalf("demo outcome %s (%s): %+v", o.res.Outcome, o.res.AbortReason, o.res.Criteria)
	}
	if o.res.Frames != 90_000 || len(o.res.Steps) != 3 || len(o.res.Criteria) != 6 {
		t.Errorf("frames %d, steps %d, criteria %d; want 90000, 3, 6", o.res.Frames, len(o.res.Steps), len(o.res.Criteria))
	}
	// The record holds every frame the result counts, intact.
	st, err := o.run.Frames(func(time.Duration, []float64) error { return nil })
	if err != nil || !st.Intact() || st.Frames != o.res.Frames {
		t.Errorf("record frames %d (intact %v, err %v), result says %d", st.Frames, st.Intact(), err, o.res.Frames)
	}
}

// TestDoublingResistanceRaisesMAPLowersCO is the afterload response of the
// loop: with the systemic resistance doubled, mean aortic pressure rises and
// cardiac output falls.
func TestDoublingResistanceRaisesMAPLowersCO(t *testing.T) {
	o := runSrc(t, context.Background(), header+`
  - set: {loop.preset: healthy}
    hold: 30 s
    criteria:
      - {name: map1, measure: mean(aop), over: last 10 s, min: 0 mmHg}
      - {name: co1, measure: mean(flow_ao), over: last 10 s, min: 0 L/min}
  - set: {loop.resistance: 2 mmHg·s/ml}
    hold: 30 s
    criteria:
      - {name: map2, measure: mean(aop), over: last 10 s, min: 0 mmHg}
      - {name: co2, measure: mean(flow_ao), over: last 10 s, min: 0 L/min}
`)
	map1, map2 := *o.criterion(t, "map1").Value, *o.criterion(t, "map2").Value
	co1, co2 := *o.criterion(t, "co1").Value, *o.criterion(t, "co2").Value
	t.Logf("Rs 1 → 2 mmHg·s/ml: MAP %.1f → %.1f mmHg, CO %.2f → %.2f L/min", map1, map2, co1, co2)
	if map2 < map1*1.05 {
		t.Errorf("MAP did not rise: %.1f → %.1f", map1, map2)
	}
	if co2 > co1*0.9 {
		t.Errorf("CO did not fall: %.2f → %.2f", co1, co2)
	}
}

// TestOverLastWindowMatchesRecord recomputes a windowed criterion from the
// frames on disk, independently of the engine's accumulators.
func TestOverLastWindowMatchesRecord(t *testing.T) {
	o := runSrc(t, context.Background(), header+`
  - set: {loop.preset: healthy}
    hold: 5 s
  - set: {loop.resistance: 1.6 mmHg·s/ml}
    hold: 12 s
    criteria:
      - {name: last, measure: mean(aop), over: last 4 s, min: 0 mmHg}
      - {name: whole, measure: mean(aop), min: 0 mmHg}
      - {name: spread, measure: std(aop), min: 0 mmHg}
      - {name: peak, measure: max(lvp), min: 0 mmHg}
`)
	step := o.res.Steps[1]
	col := -1
	for i, c := range o.run.Manifest.Layout {
		if c.Name == "aop" {
			col = i
		}
	}
	var lastSum, wholeSum float64
	var lastN, wholeN int
	end := time.Duration(step.EndS * float64(time.Second))
	start := time.Duration(step.StartS * float64(time.Second))
	_, err := o.run.Frames(func(ts time.Duration, v []float64) error {
		if ts > start && ts <= end {
			wholeSum += v[col]
			wholeN++
			if ts > end-4*time.Second {
				lastSum += v[col]
				lastN++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if wholeN != 12000 || lastN != 4000 {
		t.Fatalf("frames in step %d, in window %d; want 12000, 4000", wholeN, lastN)
	}
	for name, want := range map[string]float64{"last": lastSum / float64(lastN), "whole": wholeSum / float64(wholeN)} {
		got := *o.criterion(t, name).Value
		if math.Abs(got-want) > 1e-4*math.Abs(want) {
			t.Errorf("%s: engine %.6f, record %.6f", name, got, want)
		}
	}
	if l, w := *o.criterion(t, "last").Value, *o.criterion(t, "whole").Value; l <= w {
		t.Errorf("after a resistance step the last 4 s (%.2f) should be above the whole-step mean (%.2f)", l, w)
	}
	if s := *o.criterion(t, "spread").Value; s < 5 || s > 40 {
		t.Errorf("std(aop) %.2f mmHg is not a pulsatile pressure's", s)
	}
}

func TestSweepRunsEachValueAndWhenSelects(t *testing.T) {
	o := runSrc(t, context.Background(), header+`
  - name: rates
    sweep:
      loop.heart_rate: [60 bpm, 75 bpm, 90 bpm, 120 bpm]
    steps:
      - name: measure
        hold: 5 s
        criteria:
          - {id: at90, when: loop.heart_rate == 90 bpm, measure: mean(aop), min: 0 mmHg}
          - {id: not60, when: loop.heart_rate != 60 bpm, measure: mean(aop), min: 0 mmHg}
`)
	var iters []string
	for _, s := range o.res.Steps {
		if strings.HasPrefix(s.Name, "measure") {
			iters = append(iters, s.Path)
			if s.Frames != 5000 {
				t.Errorf("iteration %s has %d frames", s.Path, s.Frames)
			}
		}
	}
	if strings.Join(iters, " ") != "1[1].1 1[2].1 1[3].1 1[4].1" {
		t.Errorf("iterations %v", iters)
	}
	var rates []string
	for _, e := range o.eventsOf(runlog.KindSetpoint) {
		if strings.HasPrefix(e.Msg, "loop.heart_rate") && e.Step == "1" {
			rates = append(rates, e.Msg)
		}
	}
	if strings.Join(rates, ",") != "loop.heart_rate = 60 bpm,loop.heart_rate = 75 bpm,loop.heart_rate = 90 bpm,loop.heart_rate = 120 bpm" {
		t.Errorf("sweep setpoints %v", rates)
	}
	var at90, not60 []string
	for _, c := range o.res.Criteria {
		switch c.ID {
		case "at90":
			at90 = append(at90, c.Step)
		case "not60":
			not60 = append(not60, c.Step)
		}
	}
	if strings.Join(at90, " ") != "1[3].1" || strings.Join(not60, " ") != "1[2].1 1[3].1 1[4].1" {
		t.Errorf("when selected at90 %v, not60 %v", at90, not60)
	}
}

func TestRepeat(t *testing.T) {
	for _, c := range []struct {
		repeat string
		iters  int
	}{{"{count: 3}", 3}, {"{for: 25 s}", 3}, {"{for: 20 s}", 2}} {
		o := runSrc(t, context.Background(), header+"  - repeat: "+c.repeat+"\n    steps:\n      - hold: 10 s\n")
		n := 0
		for _, s := range o.res.Steps {
			if strings.HasPrefix(s.Path, "1[") {
				n++
			}
		}
		if n != c.iters || o.res.Frames != int64(c.iters)*10_000 {
			t.Errorf("repeat %s: %d iterations, %d frames; want %d", c.repeat, n, o.res.Frames, c.iters)
		}
	}
}

func TestRampLandsOnTarget(t *testing.T) {
	o := runSrc(t, context.Background(), header+`
  - set: {loop.resistance: 1 mmHg·s/ml}
    ramp: {loop.resistance: {to: 2 mmHg·s/ml, over: 10 s}}
    hold: 20 s
    criteria:
      - {name: end, measure: mean(aop), over: last 5 s, min: 0 mmHg}
  - set: {loop.resistance: 2 mmHg·s/ml}
    hold: 20 s
    criteria:
      - {name: ref, measure: mean(aop), over: last 5 s, min: 0 mmHg}
`)
	if f := o.res.Steps[0].Frames; f != 30_000 {
		t.Errorf("ramp + hold step has %d frames, want 30000 (10 s ramp then 20 s hold)", f)
	}
	ramps := o.eventsOf(runlog.KindRamp)
	if len(ramps) != 1 || !strings.Contains(ramps[0].Msg, "from 1 mmHg·s/ml to 2 mmHg·s/ml over 10 s") {
		t.Errorf("ramp events %+v", ramps)
	}
	// After the ramp the loop is where a plain set to the target puts it.
	if e, r := *o.criterion(t, "end").Value, *o.criterion(t, "ref").Value; math.Abs(e-r) > 1 {
		t.Errorf("after ramp MAP %.2f, at the same setting %.2f", e, r)
	}
}

func TestUntil(t *testing.T) {
	met := runSrc(t, context.Background(), header+`
  - set: {loop.resistance: 2 mmHg·s/ml}
    until:
      condition: mean(aop, 2 s) > 115 mmHg
      timeout: 1 min
`)
	if met.res.Outcome != runlog.OutcomePass || len(met.eventsOf(runlog.KindUntilMet)) != 1 {
		t.Fatalf("until: %s, events %+v", met.res.Outcome, met.eventsOf(runlog.KindUntilMet))
	}
	if f := met.res.Frames; f < 2000 || f >= 60_000 {
		t.Errorf("until held %d frames: not ended by its condition", f)
	}
	for _, c := range []struct {
		on      string
		outcome runlog.Outcome
	}{{"fail", runlog.OutcomeFail}, {"abort", runlog.OutcomeAborted}, {"continue", runlog.OutcomePass}} {
		o := runSrc(t, context.Background(), header+`
  - until:
      condition: mean(aop, 2 s) > 190 mmHg
      timeout: 5 s
      on_timeout: `+c.on+`
  - hold: 1 s
`)
		if o.res.Outcome != c.outcome {
			t.Errorf("on_timeout %s: outcome %s", c.on, o.res.Outcome)
		}
		wantFrames := int64(6000)
		if c.on == "abort" {
			wantFrames = 5000
		}
		if o.res.Frames != wantFrames {
			t.Errorf("on_timeout %s: %d frames, want %d", c.on, o.res.Frames, wantFrames)
		}
	}
}

func TestCriterionVerdicts(t *testing.T) {
	o := runSrc(t, context.Background(), header+`
  - hold: 10 s
    criteria:
      - {name: ok, measure: mean(aop), between: [50 mmHg, 150 mmHg]}
      - {name: warned, measure: mean(aop), max: 10 mmHg, on_fail: warn}
      - {name: failed, measure: mean(aop), min: 150 mmHg}
  - hold: 1 s
`)
	if o.res.Outcome != runlog.OutcomeFail {
		t.Errorf("outcome %s, want fail", o.res.Outcome)
	}
	for name, v := range map[string]runlog.Verdict{"ok": runlog.VerdictPass, "warned": runlog.VerdictWarn, "failed": runlog.VerdictFail} {
		if c := o.criterion(t, name); c.Verdict != v || c.Pass != (v == runlog.VerdictPass) || c.Value == nil || c.Unit != "mmHg" {
			t.Errorf("%s: %+v", name, c)
		}
	}
	// A failed criterion does not stop the run: the next step still ran.
	if o.res.Frames != 11_000 {
		t.Errorf("%d frames, want 11000", o.res.Frames)
	}
	warnOnly := runSrc(t, context.Background(), header+"  - hold: 1 s\n    criteria:\n      - {measure: mean(aop), max: 1 mmHg, on_fail: warn}\n")
	if warnOnly.res.Outcome != runlog.OutcomePass {
		t.Errorf("a warning failed the run: %s", warnOnly.res.Outcome)
	}
}

// safeProbe wraps the sim plant to record the safe state and inject faults.
type safeProbe struct {
	Plant
	safe      int
	panicAt   time.Duration
	failApply string
	lastRead  time.Duration
	applied   []string
	clk       clock.Clock
}

func (p *safeProbe) Read(dst []float64) (int64, error) {
	now := p.clk.Now()
	if p.panicAt > 0 && now >= p.panicAt {
		panic("injected fault")
	}
	p.lastRead = now
	return p.Plant.Read(dst)
}

func (p *safeProbe) Apply(param string, v protocols.Value) error {
	if param == p.failApply && p.lastRead > 0 { // after the initial preset
		return errors.New("I2C write NACK")
	}
	p.applied = append(p.applied, param)
	return p.Plant.Apply(param, v)
}

func (p *safeProbe) Safe() error { p.safe++; return p.Plant.Safe() }

func withProbe(t *testing.T, probe *safeProbe) {
	t.Helper()
	orig := plantFor
	plantFor = func(cfg *Config, clk clock.Clock, cals map[string]daq.Calibration) (Plant, error) {
		pl, err := newPlant(cfg, clk, cals)
		probe.Plant, probe.clk = pl, clk
		return probe, err
	}
	t.Cleanup(func() { plantFor = orig })
}

func TestAbortPathsEndSafeAndClosed(t *testing.T) {
	cases := []struct {
		name, src, reason string
		probe             safeProbe
		cancelAt          bool
	}{
		{name: "hard limit tightened by protocol", src: "protocol: 1\nname: t\nlimits:\n  aop: {max: 90 mmHg}\nsteps:\n  - hold: 30 s\n",
			reason: "safety trip: aop"},
		{name: "always abort", src: "protocol: 1\nname: t\nalways:\n  - {id: X, channel: lvp, max: 60 mmHg, on_fail: abort}\nsteps:\n  - hold: 30 s\n",
			reason: "invariant X violated: lvp"},
		{name: "criterion abort", src: header + "  - hold: 2 s\n    criteria:\n      - {measure: mean(aop), min: 500 mmHg, on_fail: abort}\n  - hold: 10 s\n",
			reason: "criterion mean(aop) failed in step 1"},
		{name: "panic in a step", src: header + "  - hold: 30 s\n", probe: safeProbe{panicAt: 5 * time.Second},
			reason: "panic: injected fault"},
		{name: "actuator write fails", src: header + "  - hold: 1 s\n  - set: {loop.heart_rate: 90 bpm}\n    hold: 1 s\n", probe: safeProbe{failApply: "loop.heart_rate"},
			reason: "setting loop.heart_rate to 90 bpm failed: I2C write NACK"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			probe := c.probe
			withProbe(t, &probe)
			o := runSrc(t, context.Background(), c.src)
			if o.res.Outcome != runlog.OutcomeAborted || !strings.Contains(o.res.AbortReason, c.reason) {
				t.Errorf("outcome %s reason %q, want aborted with %q", o.res.Outcome, o.res.AbortReason, c.reason)
			}
			if probe.safe == 0 {
				t.Error("the plant was never driven to its safe state")
			}
			if trips := o.eventsOf(runlog.KindSafetyTrip); len(trips) != 1 {
				t.Errorf("safety.trip events: %+v", trips)
			}
			if o.run.Manifest.Outcome != runlog.OutcomeAborted {
				t.Errorf("manifest outcome %q", o.run.Manifest.Outcome)
			}
		})
	}
}

func TestOperatorCancelAborts(t *testing.T) {
	probe := safeProbe{}
	withProbe(t, &probe)
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&AbortError{Reason: "operator: received terminated"})
	o := runSrc(t, ctx, header+"  - hold: 10 s\n")
	if o.res.Outcome != runlog.OutcomeAborted || o.res.AbortReason != "operator: received terminated" || probe.safe == 0 {
		t.Errorf("outcome %s %q, safe %d", o.res.Outcome, o.res.AbortReason, probe.safe)
	}
}

// TestSafeStateStopsTheHeart checks the sim plant's safe state itself: the
// ventricle stops contracting, the resistance valve goes to its fail-safe
// setting, and aortic pressure decays instead of pulsing.
func TestSafeStateStopsTheHeart(t *testing.T) {
	cfg := simConfig(t)
	p, clk := newSimPlant(t, cfg)
	p.Apply("loop.resistance", protocols.Value{Num: 1.5})
	frame := make([]float64, len(p.Layout()))
	aop := p.Layout().Index("aop")
	step := func(d time.Duration) (lo, hi float64) {
		lo, hi = math.Inf(1), math.Inf(-1)
		for end := clk.Now() + d; clk.Now() < end; {
			clk.SleepUntil(context.Background(), clk.Now()+time.Millisecond)
			if _, err := p.Read(frame); err != nil {
				t.Fatal(err)
			}
			p.Actuate(clk.Now())
			lo, hi = min(lo, frame[aop]), max(hi, frame[aop])
		}
		return
	}
	step(10 * time.Second)
	lo, hi := step(2 * time.Second)
	if hi-lo < 20 {
		t.Fatalf("before the safe state the pulse pressure is only %.1f mmHg", hi-lo)
	}
	if err := p.Safe(); err != nil {
		t.Fatal(err)
	}
	loop := p.bench.Loop()
	if loop.ActiveElastance() != 0 || math.Abs(loop.Parameters().Rs-cfg.Hardware.Valve.ROpen) > 1e-9 {
		t.Errorf("safe state reached the physics as active elastance %g, Rs %g; want 0 and the valve fully open", loop.ActiveElastance(), loop.Parameters().Rs)
	}
	step(10 * time.Second)
	lo, hi = step(2 * time.Second)
	if hi-lo > 2 || hi > 40 {
		t.Errorf("10 s after the safe state aortic pressure still %0.1f–%0.1f mmHg", lo, hi)
	}
}

// BenchmarkRealTimeFactor runs the simulated rig at 1 kHz with all channels,
// including the run record on disk, and reports simulated seconds per wall
// second.
func BenchmarkRealTimeFactor(b *testing.B) {
	cfg := simConfig(b)
	src := header + "  - hold: 10 min\n"
	p, err := protocols.Parse("bench.yaml", []byte(src), cfg.Info())
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		res, _, err := Run(context.Background(), cfg, p, Options{RunsDir: dir, ProtocolSource: []byte(src)})
		if err != nil || res.Outcome != runlog.OutcomePass {
			b.Fatal(err, res)
		}
	}
	wall := time.Since(start).Seconds()
	b.ReportMetric(600*float64(b.N)/wall, "sim-s/s")
	b.ReportMetric(wall*1e9/(600_000*float64(b.N)), "ns/frame")
}

// enduranceTarget is the wall time a dry run of 24 h of the default rig
// must not exceed on the project's 2-core CI machine (issue 20).
const enduranceTarget = 90 * time.Second

// BenchmarkEndurance dry-runs an endurance protocol — the DUT at P8 in heart
// failure, repeated 10-minute holds with a criterion on the pump's speed —
// on the default simulated rig (DUT on its pty) for the given run time, and
// reports wall time, peak heap and the wall time 24 h would take, and
// fails when that is over enduranceTarget. MOCKLOOP_ENDURANCE sets the run
// time (default 24 h).
func BenchmarkEndurance(b *testing.B) {
	span := 24 * time.Hour
	if s := os.Getenv("MOCKLOOP_ENDURANCE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		span = d
	}
	cfg := dutConfig(b)
	src := fmt.Sprintf(header+`  - set: {loop.preset: heart_failure, dut.level: P8}
    repeat: {for: %d s}
    steps:
      - hold: 10 min
        criteria:
          - {measure: std(dut.rpm), over: last 5 min, max: 500 rpm}
          - {measure: map(aop), between: [50 mmHg, 110 mmHg]}
`, int(span.Seconds()))
	p, err := protocols.Parse("endurance.yaml", []byte(src), cfg.Info())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		dir := b.TempDir()
		var peak atomic.Uint64
		done := make(chan struct{})
		go func() {
			var m runtime.MemStats
			for {
				select {
				case <-done:
					return
				case <-time.After(100 * time.Millisecond):
				}
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}()
		start := time.Now()
		res, _, err := Run(context.Background(), cfg, p, Options{RunsDir: dir, ProtocolSource: []byte(src)})
		wall := time.Since(start)
		close(done)
		if err != nil || res.Outcome != runlog.OutcomePass {
			b.Fatal(err, res.Outcome, res.AbortReason)
		}
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(span.Seconds()/wall.Seconds(), "sim-s/s")
		day := wall.Seconds() * (24 * time.Hour).Seconds() / span.Seconds()
		b.ReportMetric(day, "s/24h")
		if day > enduranceTarget.Seconds() {
			b.Errorf("SLOWER THAN THE TARGET: 24 h of the default rig would take %.0f s at this rate (%.0f ns/frame, %v in %.1f s, peak heap %.1f MiB); the target is %.0f s (issue 20)",
				day, float64(wall.Nanoseconds())/float64(res.Frames), span, wall.Seconds(), float64(peak.Load())/(1<<20), enduranceTarget.Seconds())
		}
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(wall.Nanoseconds())/float64(res.Frames), "ns/frame")
	}
}

// TestUntilOnBeats: an until condition on a beat aggregate (the mean of the
// beats in its window) is met when the loop gets there.
func TestUntilOnBeats(t *testing.T) {
	o := runSrc(t, context.Background(), header+`
  - set: {loop.preset: heart_failure}
    until:
      condition: map(aop, 5 s) < 82 mmHg
      timeout: 1 min
  - hold: 1 s
`)
	met := o.eventsOf(runlog.KindUntilMet)
	if o.res.Outcome != runlog.OutcomePass || len(met) != 1 {
		t.Fatalf("outcome %s, until.met %+v", o.res.Outcome, met)
	}
	var d runlog.UntilMetData
	if err := met[0].Decode(&d); err != nil {
		t.Fatal(err)
	}
	if v := float64(d.Value); v >= 82 || v < 50 {
		t.Errorf("met at beat MAP %.1f", v)
	}
	// judged only once a full 5 s window of beats was in
	if after := d.AfterS; after < 5 || after > 55 {
		t.Errorf("met after %.1f s", after)
	}
}

// stallObserver holds the run's loop once, at a given time, for a while of
// wall time, and counts the frames readable from the run's directory then.
type stallObserver struct {
	at, wall time.Duration
	dir      string
	visible  int
}

func (s *stallObserver) RunStarted(i RunInfo) { s.dir = i.Dir }
func (s *stallObserver) Beat(runlog.Beat)     {}
func (s *stallObserver) Event(runlog.Event)   {}
func (s *stallObserver) Frame(t time.Duration, _ []float64) {
	if t != s.at {
		return
	}
	time.Sleep(s.wall)
	run, err := runlog.Open(s.dir)
	if err != nil {
		return
	}
	st, _ := run.Frames(func(time.Duration, []float64) error { return nil })
	s.visible = int(st.Frames)
}

// TestRecordSyncedBesideTheLoop: the run record is flushed and fsynced on
// a goroutine of its own, not only when the loop appends (an fsync inside
// the loop costs it conversions on the Pi's SD card). While the loop is held
// for 1.2 s of wall time at 1.5 s of a fast simulated run — which has
// appended on no wall-clock second yet — the frames before it are on disk.
func TestRecordSyncedBesideTheLoop(t *testing.T) {
	cfg := simConfig(t)
	src := header + "  - hold: 2 s\n"
	p, err := protocols.Parse("test.yaml", []byte(src), cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	obs := &stallObserver{at: 1500 * time.Millisecond, wall: 1200 * time.Millisecond}
	res, _, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir(), ProtocolSource: []byte(src), Observer: obs})
	if err != nil || res.Outcome != runlog.OutcomePass {
		t.Fatalf("run: %v %+v", err, res)
	}
	if obs.visible < 1000 {
		t.Errorf("%d frames on disk after the loop was held 1.2 s at 1.5 s of run time, want the second before", obs.visible)
	}
}

// TestCriterionRelativeToEarlierStep: a criterion with relative_to bounds
// the change from the same measure in an earlier step (PROTOCOL.md 1.1):
// weaning the CP from P8 to P2 in heart failure lowers the MAP by some
// 8 %, which passes "within −20 % … +5 %" and fails "−5 % … +5 %"; in
// mmHg the change is the difference of the two steps' values, and the
// reference value and its step are in the result. Inside a repeat the
// reference is its latest iteration.
func TestCriterionRelativeToEarlierStep(t *testing.T) {
	o := runDUT(t, nil, header+`  - name: supported
    set: {loop.preset: heart_failure, dut.level: P8}
    hold: 40 s
    criteria:
      - {id: REF, measure: map(aop), over: last 10 s, min: 0 mmHg}
  - name: weaned
    set: {dut.level: P2}
    hold: 40 s
    criteria:
      - {id: WIDE, measure: map(aop), over: last 10 s, relative_to: supported, between: [-20 %, +5 %]}
      - {id: NARROW, measure: map(aop), over: last 10 s, relative_to: supported, between: [-5 %, +5 %]}
      - {id: MMHG, measure: map(aop), over: last 10 s, relative_to: "1", min: -1000 mmHg}
      - {id: OWN, measure: map(aop), over: last 10 s, min: 0 mmHg}
  - name: cycles
    repeat: {count: 2}
    steps:
      - name: high
        set: {dut.level: P8}
        hold: 20 s
      - name: low
        set: {dut.level: P2}
        hold: 20 s
        criteria:
          - {id: CYCLE, measure: mean(flow_dut), over: last 10 s, relative_to: high, max: -0.5 L/min}
`)
	ref, own := *o.criterion(t, "REF").Value, *o.criterion(t, "OWN").Value
	wide, narrow, mmhg := o.criterion(t, "WIDE"), o.criterion(t, "NARROW"), o.criterion(t, "MMHG")
	wantPct := (own - ref) / ref * 100
	t.Logf("MAP %.2f → %.2f mmHg: %.2f %%", ref, own, wantPct)
	if wantPct > -5 || wantPct < -20 {
		t.Fatalf("weaning changed the MAP by %.1f %%: the test needs a fall between 5 and 20 %%", wantPct)
	}
	for _, c := range []runlog.CriterionResult{wide, narrow} {
		if c.Value == nil || math.Abs(*c.Value-wantPct) > 1e-9 || c.Unit != "%" || c.Reference == nil || *c.Reference != ref || c.ReferenceStep != "1" {
			t.Errorf("%s: value %v %s, reference %v in step %q; want %.4f %% from %.4f in step 1", c.ID, c.Value, c.Unit, c.Reference, c.ReferenceStep, wantPct, ref)
		}
	}
	if wide.Verdict != runlog.VerdictPass || narrow.Verdict != runlog.VerdictFail {
		t.Errorf("verdicts %s (within −20 %%…+5 %%), %s (within ±5 %%)", wide.Verdict, narrow.Verdict)
	}
	if !strings.Contains(wide.Limits, "relative to step 1: ") {
		t.Errorf("limits %q do not say the reference", wide.Limits)
	}
	if mmhg.Value == nil || math.Abs(*mmhg.Value-(own-ref)) > 1e-9 || mmhg.Unit != "mmHg" {
		t.Errorf("MMHG: %v %s, want %.4f mmHg", mmhg.Value, mmhg.Unit, own-ref)
	}
	var cycles []runlog.CriterionResult
	for _, c := range o.res.Criteria {
		if c.ID == "CYCLE" {
			cycles = append(cycles, c)
		}
	}
	if len(cycles) != 2 || cycles[0].ReferenceStep != "3[1].1" || cycles[1].ReferenceStep != "3[2].1" || !cycles[1].Pass {
		t.Errorf("cycle criteria %+v: want each against its own iteration's high step", cycles)
	}
}
