package rig

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
)

// rangeCase is one setpoint at an end of its declared range, from a preset.
type rangeCase struct {
	preset, param, value string
	top                  bool // value is the range's top
}

// rangeEnds lists, for every preset of cfg, every parameter of its
// `parameters:` section at both ends of its range (word parameters at each
// word but the middle P-levels), each formatted as a protocol writes it.
func rangeEnds(cfg *Config) []rangeCase {
	var params []string
	for p := range cfg.Params {
		if p != "loop.preset" {
			params = append(params, p)
		}
	}
	slices.Sort(params)
	var cases []rangeCase
	for _, preset := range cfg.PresetNames {
		for _, p := range params {
			var values []string
			switch def := protocols.Params[p]; {
			case p == "dut.level":
				values = []string{"P0", "P9"}
			case def.Words != nil:
				values = def.Words
			default:
				r := cfg.Params[p]
				if r.Min != nil {
					cases = append(cases, rangeCase{preset: preset, param: p, value: units.Format(*r.Min, def.Dim)})
				}
				if r.Max != nil {
					cases = append(cases, rangeCase{preset: preset, param: p, value: units.Format(*r.Max, def.Dim), top: true})
				}
			}
			for _, v := range values {
				cases = append(cases, rangeCase{preset: preset, param: p, value: v})
			}
		}
	}
	return cases
}

// rangeSettle is how long each case holds its preset before the setpoint:
// long enough for the fill pump to move the preset's volume and the loop to
// come near its periodic state.
const rangeSettle = "20 s"

// testRangesSafe runs every case of rangeEnds on the rig config at path: a
// setpoint anywhere in the range the rig declares must hold for 60 s
// without a safety trip, from any preset.
func testRangesSafe(t *testing.T, path string) {
	base, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range rangeEnds(base) {
		t.Run(fmt.Sprintf("%s/%s=%s", c.preset, c.param, strings.ReplaceAll(c.value, " ", "")), func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			renameSimRig(t, cfg, cfg.Name+"-"+strconv.Itoa(i)) // a bench of its own: the cases run in parallel
			src := fmt.Sprintf("%s  - set: {loop.preset: %s}\n    hold: %s\n  - set: {%s: %s}\n    hold: 60 s\n",
				header, c.preset, rangeSettle, c.param, c.value)
			o := runDUTWith(t, cfg, src, Options{})
			if suctionExpected(c) {
				// A pump at full speed sucks a hypovolemic heart empty
				// (TestSuctionHypovolemiaP9): the DUT raises its suction
				// alarm, a warning the rig records without a trip.
				var suction bool
				for _, e := range o.eventsOf(runlog.KindDUTAlarm) {
					suction = suction || strings.Contains(e.Msg, "suction")
				}
				if o.res.Outcome != runlog.OutcomePass || !suction {
					t.Errorf("outcome %s (%s), suction alarm %v: want a pass with the suction alarm recorded", o.res.Outcome, o.res.AbortReason, suction)
				}
				return
			}
			if o.res.Outcome != runlog.OutcomePass {
				t.Errorf("outcome %s: %s", o.res.Outcome, o.res.AbortReason)
				return
			}
			st := o.res.Steps[len(o.res.Steps)-1].Channels
			t.Logf("aop %.0f–%.0f mmHg (mean %.1f), lvp max %.0f, lap %.1f–%.1f, flow_ao %.1f–%.1f L/min (mean %.2f)",
				st["aop"].Min, st["aop"].Max, st["aop"].Mean, st["lvp"].Max, st["lap"].Min, st["lap"].Max,
				st["flow_ao"].Min, st["flow_ao"].Max, st["flow_ao"].Mean)
		})
	}
}

// suctionExpected says case c is the pump at its top speed in the
// hypovolemia preset, where suction is the right outcome.
func suctionExpected(c rangeCase) bool {
	return c.preset == "hypovolemia" && (c.param == "dut.level" && c.value == "P9" || c.param == "dut.speed" && c.top)
}

// TestRangesSafeDefaultRig: on the default rig (with the DUT), every
// parameter at either end of its declared range, from every preset, runs
// 60 s without a safety trip.
func TestRangesSafeDefaultRig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ~60 protocols")
	}
	testRangesSafe(t, "../configs/rigs/sim.yaml")
}

// TestRangesSafeLoopOnly is TestRangesSafeDefaultRig on the loop without a
// device.
func TestRangesSafeLoopOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ~50 protocols")
	}
	testRangesSafe(t, "../configs/rigs/sim-loop-only.yaml")
}

// TestMAPTarget65FromHealthy: loop.target.map 65 mmHg from the healthy
// preset (a 35 mmHg step down) settles within ±5 mmHg of 65 without a
// trip: the MAP of every beat of the last 10 s of a 60 s hold. The valve
// ends fully open (0.3 mmHg·s/ml): Simaan's loop keeps its volume, so as
// the resistance falls the volume moves to the atrium and the output
// rises (peaks of 59 L/min, 9.6 L/min mean), holding the MAP near 69 mmHg
// on this rig, whose stopped DUT leaks back in diastole; 71 mmHg without
// it (sim-loop-only.yaml).
func TestMAPTarget65FromHealthy(t *testing.T) {
	o := runDUT(t, nil, header+`
  - set: {loop.preset: healthy}
    hold: 20 s
  - set: {loop.target.map: 65 mmHg}
    hold: 60 s
`)
	if o.res.Outcome != runlog.OutcomePass {
		t.Fatalf("outcome %s: %s", o.res.Outcome, o.res.AbortReason)
	}
	beats, err := o.run.ReadBeats()
	if err != nil {
		t.Fatal(err)
	}
	from := o.res.Steps[1].EndS - 10
	lo, hi, sum, n := math.Inf(1), math.Inf(-1), 0.0, 0
	for _, b := range beats {
		if b.Channel != "aop" || b.Start < from {
			continue
		}
		lo, hi, sum = min(lo, b.Mean), max(hi, b.Mean), sum+b.Mean
		n++
	}
	st := o.res.Steps[1].Channels
	t.Logf("last 10 s: %d beats, MAP %.2f–%.2f mmHg (mean %.2f); step: flow_ao max %.1f L/min, aop min %.1f mmHg",
		n, lo, hi, sum/float64(n), st["flow_ao"].Max, st["aop"].Min)
	if n < 8 {
		t.Fatalf("%d beats in the last 10 s", n)
	}
	if lo < 60 || hi > 70 {
		t.Errorf("beat MAP %.2f–%.2f mmHg in the last 10 s, want 65 ± 5 mmHg", lo, hi)
	}
}

// applyRecorder is a plant that takes setpoints and does nothing else.
type applyRecorder struct {
	Plant
	applied map[string]float64
}

func (p *applyRecorder) Apply(param string, v protocols.Value) error {
	p.applied[param] = v.Num
	return nil
}

// TestLongBeatMovesTargetsNoFaster: a beat the detector reports late (here
// 12 s after the last, as after a large transient) moves a closed-loop
// target's actuator no further than its rate limit allows over
// maxControlInterval: the interval of one update is bounded, not the
// time since the last detected beat.
func TestLongBeatMovesTargetsNoFaster(t *testing.T) {
	cfg := dutConfig(t)
	e := &engine{ctl: newControllers(cfg), plant: &applyRecorder{applied: map[string]float64{}}, params: map[string]protocols.Value{}}
	for _, c := range []struct {
		param    string
		from, to float64
		beat     daq.Beat
	}{
		{"loop.target.co", 0.3, 8, daq.Beat{Start: 0, End: 12 * time.Second, StrokeVolume: 40, HeartRate: 5}},
		{"loop.target.map", 1, 40, daq.Beat{Start: 0, End: 12 * time.Second, Mean: 100}},
	} {
		tg := e.ctl.Find(c.param)
		tg.On, tg.Setpoint = true, c.to
		tg.PID.Start(c.from)
		if err := e.controlBeat(c.beat); err != nil {
			t.Fatal(err)
		}
		step := tg.PID.Rate * maxControlInterval.Seconds()
		if moved := math.Abs(tg.PID.Output() - c.from); moved > step+1e-9 {
			t.Errorf("%s: one 12 s beat moved %s by %g, more than %g (its rate over %v)", c.param, tg.Drives, moved, step, maxControlInterval)
		}
		tg.On = false
	}
}

// renameSimRig gives the simulated rig cfg another name, and so a bench of
// its own, with a copy of its calibration file bound to that name.
func renameSimRig(t *testing.T, cfg *Config, name string) {
	t.Helper()
	data, err := os.ReadFile(cfg.CalibrationPath())
	if err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprintf("%q: %q", "rig", cfg.Name)
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s has no %s", cfg.CalibrationPath(), old)
	}
	data = bytes.Replace(data, []byte(old), []byte(fmt.Sprintf("%q: %q", "rig", name)), 1)
	cfg.CalibrationFile = filepath.Join(t.TempDir(), "calibration.json")
	if err := os.WriteFile(cfg.CalibrationFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Name = name
}
