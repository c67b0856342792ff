package reports

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/runlog"
)

var regenFixtures = flag.Bool("fixtures", false, "rewrite the run records in testdata/runs (then run with -update)")

// fixtureDir holds the recorded runs the golden tests report on. They are
// made by TestMakeFixtures -fixtures, deterministically, through runlog's
// writer, and kept: they also pin the record format the reports read.
const fixtureDir = "testdata/runs"

// The recorded runs, by name.
var fixtureIDs = map[string]string{
	"pass":        "20261120T080000Z-0000a1",
	"fail":        "20261120T090000Z-0000b2",
	"aborted":     "20261120T100000Z-0000c3",
	"interrupted": "20261120T110000Z-0000d4",
}

// fixtureRun returns the directory of a recorded run.
func fixtureRun(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(fixtureDir, fixtureIDs[name])
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		t.Fatalf("fixture %s: %v (make it with go test -run TestMakeFixtures -fixtures)", name, err)
	}
	return dir
}

// fxStep is a step of a fixture run, in the order the engine records steps:
// when they end (nested steps before their parent).
type fxStep struct {
	Path, Name string
	From, To   float64 // s
	State      loopState
	Outcome    runlog.Outcome
	Parent     bool // has nested steps: no frames of its own
	Setpoints  []string
}

// fixture describes a recorded run.
type fixture struct {
	Name       string
	Protocol   runlog.ProtocolRef
	Operator   string
	DUT        *runlog.DUTIdentity
	Cal        []runlog.Calibration
	Steps      []fxStep
	Criteria   []runlog.CriterionResult
	Events     []runlog.Event // beyond step transitions, setpoints and DUT traffic
	Outcome    runlog.Outcome
	Reason     string
	DurationS  float64
	NoBeats    bool // remove beats.jsonl, as records made before beats existed
	Interrupt  bool // leave the run to runlog.Recover, with a torn frame record
	unfinished string
}

func f64(v float64) *float64 { return &v }

var rate = 200.0 // Hz: small fixtures

var healthy = loopState{HR: 75, SV: 70, R: 1.0, RPM: 35000, DUTFlow: 1.2}
var failing = loopState{HR: 90, SV: 45, R: 1.2, RPM: 50000, DUTFlow: 2.2}

var fixtures = []fixture{
	{
		Name: "pass",
		Protocol: runlog.ProtocolRef{Name: "fixture-pass", File: "testdata/fixture-pass.yaml", Description: "Baseline, a repeated hold, stop",
			Requirements: []runlog.Requirement{
				{ID: "PASS-1", Text: "At rest the loop holds a normal mean aortic pressure (90–110 mmHg)"},
				{ID: "PASS-2", Text: "The pump holds its speed within 500 rpm (standard deviation) in every hold"},
				{ID: "PASS-3", Text: "The stopped pump's beat-averaged MAP stays ≥ 95 mmHg (warning only)"},
				{ID: "PASS-4", Text: "Aortic pressure never exceeds 200 mmHg"},
			}},
		Operator: "qa.bench",
		DUT:      &runlog.DUTIdentity{Model: "dutsim-impella", Serial: "SIM-0001", FW: "1.0.0"},
		Cal: []runlog.Calibration{
			{Channel: "aop", Method: "two-point", Date: "2026-10-01", Due: "2027-04-01", Reference: "Fluke 700G, cert. 4711",
				Fields: map[string]any{"coeffs": []any{-1.5, 250.0}, "points": []any{map[string]any{"volts": 0.006, "value": 0.0}, map[string]any{"volts": 0.806, "value": 200.0}}}},
			{Channel: "lvp", Method: "zero", Date: "2026-05-01", Due: "2026-11-01", Reference: "atmosphere (zero)"},
		},
		Steps: []fxStep{
			{Path: "1", Name: "baseline", From: 0, To: 4, State: healthy, Outcome: runlog.OutcomePass, Setpoints: []string{"loop.preset = healthy", "loop.resistance = 1 mmHg·s/ml", "dut.level = P2"}},
			{Path: "2.1", Name: "hold", From: 4, To: 6, State: healthy, Outcome: runlog.OutcomePass},
			{Path: "2.1", Name: "hold", From: 6, To: 8, State: healthy, Outcome: runlog.OutcomePass},
			{Path: "2.1", Name: "hold", From: 8, To: 10, State: healthy, Outcome: runlog.OutcomePass},
			{Path: "2", Name: "endurance", From: 4, To: 10, Outcome: runlog.OutcomePass, Parent: true},
			{Path: "3", Name: "stop", From: 10, To: 12, State: loopState{HR: 75, SV: 60, R: 1.0, RPM: 0, DUTFlow: -0.5}, Outcome: runlog.OutcomePass, Setpoints: []string{"dut.mode = stop"}},
		},
		Criteria: []runlog.CriterionResult{
			{ID: "PASS-1", Step: "1", StepName: "baseline", Measure: "mean(aop)", Over: "last 2 s", Value: f64(101.236), Unit: "mmHg", Limits: "between 90 mmHg and 110 mmHg", Lo: f64(90), Hi: f64(110), Verdict: runlog.VerdictPass, Pass: true, OnFail: "fail"},
			{ID: "PASS-2", Step: "2.1", StepName: "hold", Measure: "std(dut.rpm)", Value: f64(11.52), Unit: "rpm", Limits: "≤ 500 rpm", Hi: f64(500), Verdict: runlog.VerdictPass, Pass: true, OnFail: "fail"},
			{ID: "PASS-2", Step: "2.1", StepName: "hold", Measure: "std(dut.rpm)", Value: f64(11.61), Unit: "rpm", Limits: "≤ 500 rpm", Hi: f64(500), Verdict: runlog.VerdictPass, Pass: true, OnFail: "fail"},
			{ID: "PASS-2", Step: "2.1", StepName: "hold", Measure: "std(dut.rpm)", Value: f64(11.49), Unit: "rpm", Limits: "≤ 500 rpm", Hi: f64(500), Verdict: runlog.VerdictPass, Pass: true, OnFail: "fail"},
			{ID: "PASS-3", Step: "3", StepName: "stop", Measure: "map(aop)", Value: f64(88.4), Unit: "mmHg", Limits: "≥ 95 mmHg", Lo: f64(95), Verdict: runlog.VerdictWarn, OnFail: "warn"},
			{ID: "PASS-4", Step: "always", Measure: "aop", Value: f64(131.7), Unit: "mmHg", Limits: "≤ 200 mmHg", Hi: f64(200), Verdict: runlog.VerdictPass, Pass: true, OnFail: "fail"},
		},
		Events: []runlog.Event{
			withT(0, runlog.NewEvent(runlog.KindOperator, "", "run started", runlog.OperatorData{Action: runlog.ActionStart,
				At: fxAt, By: "qa.bench", Role: "operator", Via: "bench-view"})),
			withT(0, runlog.NewEvent(runlog.KindOperator, "", "calibration of lvp overdue since 2026-11-01; run allowed with --allow-overdue",
				runlog.OperatorData{Action: runlog.ActionAllowOverdue, At: fxAt, By: "qa.bench", Via: "cli", Reason: "gauge away for recertification", Deviation: true})),
			withT(4, runlog.NewEvent(runlog.KindOperator, "", "paused", runlog.OperatorData{Action: runlog.ActionPause, BeforeStep: 2,
				At: fxAt.Add(4 * time.Second), By: "qa.bench", Role: "operator", Via: "bench-view", Reason: "bubble in the line", Deviation: true})),
			withT(4, runlog.NewEvent(runlog.KindOperator, "", "resumed", runlog.OperatorData{Action: runlog.ActionResume, BeforeStep: 2,
				At: fxAt.Add(9 * time.Second), By: "r.viewer", Role: "admin", Via: "bench-view"})),
			withT(5, runlog.NewEvent(runlog.KindOperator, "", "development build allowed", runlog.OperatorData{Action: runlog.ActionAllowDevBuild,
				At: fxAt, By: "qa.bench", Via: "cli", Deviation: true})),
		},
		Outcome: runlog.OutcomePass, DurationS: 12,
	},
	{
		Name: "fail",
		Protocol: runlog.ProtocolRef{Name: "fixture-fail", File: "testdata/fixture-fail.yaml", Description: "Heart failure at P8: flow just short, no beats",
			Requirements: []runlog.Requirement{
				{ID: "FAIL-1", Text: "At P8 the pump delivers at least 2.1 L/min against heart failure"},
				{ID: "FAIL-2", Text: "Beat-averaged MAP is at least 60 mmHg"},
				{ID: "FAIL-3", Text: "Aortic pressure never exceeds 110 mmHg"},
				{ID: "FAIL-4", Text: "The pump's current stays below 1 A (not yet covered by a criterion)"},
			}},
		Operator: "ci",
		DUT:      &runlog.DUTIdentity{Model: "dutsim-impella", Serial: "SIM-0002", FW: "1.0.1"},
		Steps: []fxStep{
			{Path: "1", Name: "heart failure at P8", From: 0, To: 4, State: failing, Outcome: runlog.OutcomeFail, Setpoints: []string{"loop.preset = heart_failure", "dut.level = P8"}},
			{Path: "2", Name: "beats", From: 4, To: 8, State: failing, Outcome: runlog.OutcomeFail},
		},
		Criteria: []runlog.CriterionResult{
			{ID: "FAIL-1", Step: "1", StepName: "heart failure at P8", Measure: "mean(flow_dut)", Over: "last 2 s", Value: f64(2.0999996), Unit: "L/min", Limits: "≥ 2.1 L/min", Lo: f64(2.1), Verdict: runlog.VerdictFail, OnFail: "fail"},
			{ID: "SRS-999", Step: "1", StepName: "heart failure at P8", Measure: "mean(lap)", Value: f64(10.02), Unit: "mmHg", Limits: "≥ 8 mmHg", Lo: f64(8), Verdict: runlog.VerdictPass, Pass: true, OnFail: "fail"},
			{Name: "LV pressure stays below 200 mmHg", Step: "1", StepName: "heart failure at P8", Measure: "max(lvp)", Value: f64(104.9), Unit: "mmHg", Limits: "≤ 200 mmHg", Hi: f64(200), Verdict: runlog.VerdictPass, Pass: true, OnFail: "fail"},
			{ID: "FAIL-2", Step: "2", StepName: "beats", Measure: "map(aop)", Unit: "mmHg", Limits: "≥ 60 mmHg", Lo: f64(60), Verdict: runlog.VerdictNoData, OnFail: "fail", Reason: "no beats detected"},
			{ID: "FAIL-3", Step: "always", Measure: "aop", Value: f64(112.4), Unit: "mmHg", Limits: "≤ 110 mmHg", Hi: f64(110), Verdict: runlog.VerdictFail, OnFail: "fail", Reason: "first violated at 0.3 s"},
		},
		Events: []runlog.Event{
			withT(0.3, runlog.NewEvent(runlog.KindInvariant, "", "FAIL-3 violated: aop 110.2 mmHg, limit ≤ 110 mmHg", runlog.InvariantData{ID: "FAIL-3", Value: 110.2})),
		},
		Outcome: runlog.OutcomeFail, DurationS: 8, NoBeats: true,
	},
	{
		Name: "aborted",
		Protocol: runlog.ProtocolRef{Name: "fixture-aborted", File: "testdata/fixture-aborted.yaml", Description: "Afterload step that trips the supervisor",
			Requirements: []runlog.Requirement{
				{ID: "ABT-1", Text: "Baseline mean aortic pressure 90–110 mmHg"},
				{ID: "ABT-2", Text: "Peak aortic pressure after the afterload step stays ≤ 150 mmHg (abort otherwise)"},
				{ID: "ABT-3", Text: "Mean LV pressure after the step is reported"},
			}},
		Operator: "lab <bench-2> & \"co\"",
		DUT:      &runlog.DUTIdentity{Model: "dutsim-impella", Serial: "SIM-0003", FW: "2.0.0-rc1"},
		Steps: []fxStep{
			{Path: "1", Name: "baseline", From: 0, To: 3, State: healthy, Outcome: runlog.OutcomePass, Setpoints: []string{"loop.preset = healthy"}},
			{Path: "2", Name: "afterload tripled", From: 3, To: 4.5, State: loopState{HR: 75, SV: 80, R: 2.4, RPM: 35000, DUTFlow: 0.8}, Outcome: runlog.OutcomeAborted, Setpoints: []string{"loop.resistance = 3 mmHg·s/ml"}},
		},
		Criteria: []runlog.CriterionResult{
			{ID: "ABT-1", Step: "1", StepName: "baseline", Measure: "mean(aop)", Value: f64(100.8), Unit: "mmHg", Limits: "between 90 mmHg and 110 mmHg", Lo: f64(90), Hi: f64(110), Verdict: runlog.VerdictPass, Pass: true, OnFail: "fail"},
			{ID: "ABT-2", Step: "2", StepName: "afterload tripled", Measure: "max(aop)", Value: f64(221.3), Unit: "mmHg", Limits: "≤ 150 mmHg", Hi: f64(150), Verdict: runlog.VerdictFail, OnFail: "abort"},
		},
		Events: []runlog.Event{
			{T: 3.2, Kind: runlog.KindAcquisition, Msg: "ADC bad frames: 3 (CRC 1, missed data-ready 2, gaps 0, stuck 0); slow ADC bad: 0"},
			{T: 4.1, Kind: runlog.KindFault, Msg: `DUT reply "<img src=http://evil.example/x.png onerror=alert(1)>" not understood`, Data: []byte(`{"raw":"<script>alert('x')</script>"}`)}, // data of no kind of this version
			{T: 4.5, Kind: runlog.KindSafetyTrip, Msg: "safety trip: aop 221 mmHg above hard limit 220 mmHg", Data: []byte(`{"channel":"aop","limit":220,"value":221.3}`)},
			{T: 4.5, Kind: runlog.KindOperator, Msg: "operator acknowledged the trip"},
		},
		Outcome: runlog.OutcomeAborted, Reason: "safety trip: aop 221 mmHg above hard limit 220 mmHg", DurationS: 4.5,
	},
	{
		Name: "interrupted",
		Protocol: runlog.ProtocolRef{Name: "fixture-interrupted", File: "testdata/fixture-interrupted.yaml", Description: "Power lost in the second step",
			Requirements: []runlog.Requirement{{ID: "INT-1", Text: "Baseline mean aortic pressure 90–110 mmHg"}}},
		Operator: "ci",
		Steps: []fxStep{
			{Path: "1", Name: "baseline", From: 0, To: 3, State: healthy, Outcome: runlog.OutcomePass, Setpoints: []string{"loop.preset = healthy"}},
			{Path: "2", Name: "heart failure", From: 3, To: 6, State: failing, Setpoints: []string{"loop.preset = heart_failure"}},
		},
		Criteria: []runlog.CriterionResult{
			{ID: "INT-1", Step: "1", StepName: "baseline", Measure: "mean(aop)", Value: f64(100.8), Unit: "mmHg", Limits: "between 90 mmHg and 110 mmHg", Lo: f64(90), Hi: f64(110), Verdict: runlog.VerdictPass, Pass: true, OnFail: "fail"},
		},
		Interrupt: true, unfinished: "2",
	},
}

// TestMakeFixtures rewrites the recorded runs in testdata/runs; it only runs
// with -fixtures.
func TestMakeFixtures(t *testing.T) {
	if !*regenFixtures {
		t.Skip("run with -fixtures to rewrite testdata/runs")
	}
	if err := os.RemoveAll(fixtureDir); err != nil {
		t.Fatal(err)
	}
	for _, fx := range fixtures {
		if err := makeFixture(fixtureDir, fx); err != nil {
			t.Fatalf("%s: %v", fx.Name, err)
		}
	}
}

// makeFixture writes the run record of fx into runsDir.
func makeFixture(runsDir string, fx fixture) error {
	id := fixtureIDs[fx.Name]
	epoch, _ := time.Parse("20060102T150405Z", id[:16])
	m := runlog.Manifest{
		RunID: id, Rig: "sim-fixture", Protocol: fx.Protocol, SoftwareVersion: "v0.9.0-fixture",
		DUT: fx.DUT, Calibration: fx.Cal, Operator: fx.Operator, Layout: synthLayout,
		SampleRateHz: rate, Clock: runlog.ClockVirtual, Epoch: epoch,
	}
	proto := fmt.Appendf(nil, "protocol: 1\nname: %s\ndescription: %s\n", fx.Protocol.Name, fx.Protocol.Description)
	rec, err := runlog.Create(runsDir, m, proto, []byte("rig: sim-fixture\nbackend: sim\n"), clock.NewReal())
	if err != nil {
		return err
	}
	nz := noise(0x9e3779b97f4a7c15)
	var frames int64
	var evs []runlog.Event
	evs = append(evs, withT(0, runlog.NewEvent(runlog.KindRunStart, "", fx.Protocol.Name, runlog.RunStartData{Clock: runlog.ClockVirtual, Rig: "sim-fixture"})))
	// Frames of leaf steps, in time order.
	leaves := slices.Clone(fx.Steps)
	slices.SortStableFunc(leaves, func(a, b fxStep) int { return cmp.Compare(a.From, b.From) })
	for _, s := range leaves {
		evs = append(evs, runlog.Event{T: s.From, Kind: runlog.KindStepStart, Step: s.Path, Msg: s.Name})
		for _, sp := range s.Setpoints {
			evs = append(evs, runlog.Event{T: s.From, Kind: runlog.KindSetpoint, Step: s.Path, Msg: sp})
		}
		if s.Parent {
			continue
		}
		n, err := synthStep(rec, s.State, rate, secs2d(s.From), secs2d(s.To), 2, &nz, nil)
		frames += n
		if err != nil {
			return err
		}
		if s.Path != fx.unfinished {
			evs = append(evs, withT(s.To, runlog.NewEvent(runlog.KindStepEnd, s.Path, string(s.Outcome), runlog.StepEndData{Frames: n})))
		}
	}
	for _, s := range fx.Steps {
		if s.Parent {
			evs = append(evs, runlog.Event{T: s.To, Kind: runlog.KindStepEnd, Step: s.Path, Msg: string(s.Outcome)})
		}
	}
	end := fx.DurationS
	if fx.Interrupt {
		end = fx.Steps[len(fx.Steps)-1].To
	}
	for i, c := range fx.Criteria {
		if c.Step == "always" {
			continue
		}
		k := 0 // evaluations of this criterion before: it belongs to execution k
		for _, p := range fx.Criteria[:i] {
			if p.Step == c.Step && p.Measure == c.Measure {
				k++
			}
		}
		at := execEnd(fx.Steps, c.Step, k)
		evs = append(evs, withT(at, runlog.NewEvent(runlog.KindCriterion, c.Step, c.ID+": "+string(c.Verdict), runlog.CriterionData{Verdict: c.Verdict})))
	}
	for ms := 0; float64(ms) < end*1000; ms += 200 { // DUT polled at 5 Hz
		n := ms/200 + 1
		evs = append(evs, runlog.Event{T: float64(ms) / 1000, Kind: runlog.KindDUTTx, Msg: fmt.Sprintf("%d STATUS *%04X", n, n*7919%65536)},
			runlog.Event{T: float64(ms)/1000 + 0.000005, Kind: runlog.KindDUTRx, Msg: fmt.Sprintf("%d OK rpm=35000 *%04X", n, n*104729%65536)})
	}
	evs = append(evs, fx.Events...)
	if !fx.Interrupt {
		evs = append(evs, withT(end, runlog.NewEvent(runlog.KindRunEnd, "", string(fx.Outcome), runlog.RunEndData{Frames: frames})))
	}
	slices.SortStableFunc(evs, func(a, b runlog.Event) int { return cmp.Compare(a.T, b.T) })
	for _, e := range evs {
		if err := rec.Event(e); err != nil {
			return err
		}
	}

	res := runlog.Result{Outcome: fx.Outcome, AbortReason: fx.Reason, DurationS: fx.DurationS, Criteria: fx.Criteria}
	if fx.Interrupt {
		res.Outcome, res.DurationS = runlog.OutcomeAborted, end
	}
	if err := rec.Sync(); err != nil {
		return err
	}
	run, err := runlog.Open(rec.Dir())
	if err != nil {
		return err
	}
	for i, s := range fx.Steps {
		acc := make([]moments, len(synthLayout))
		var n int64
		lo, hi := secs2d(s.From), secs2d(s.To)
		if _, err := run.Frames(func(t time.Duration, v []float64) error {
			if t >= lo && t < hi {
				n++
				for j, x := range v {
					acc[j].add(x)
				}
			}
			return nil
		}); err != nil {
			return err
		}
		sr := runlog.StepResult{Index: i, Path: s.Path, Name: s.Name, StartS: s.From, EndS: s.To, Frames: n, Outcome: s.Outcome, Channels: map[string]runlog.ChannelStats{}}
		for j, c := range synthLayout {
			sr.Channels[c.Name] = acc[j].channelStats(c.Unit)
		}
		res.Steps = append(res.Steps, sr)
	}
	dir := rec.Dir()
	if fx.NoBeats { // before Close, so that the seal does not cover it
		if err := os.Remove(filepath.Join(dir, "beats.jsonl")); err != nil {
			return err
		}
	}
	if err := rec.Close(res); err != nil {
		return err
	}
	if fx.Interrupt {
		return interrupt(runsDir, dir)
	}
	return nil
}

// execEnd returns the end of the k-th (from 0) execution of the step at path.
func execEnd(steps []fxStep, path string, k int) float64 {
	for _, s := range steps {
		if s.Path == path {
			if k == 0 {
				return s.To
			}
			k--
		}
	}
	return 0
}

func secs2d(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// interrupt turns the closed run in dir into one whose process died: state
// running, no result, a torn record at the end of its frames; then
// runlog.Recover closes it as interrupted, as at the next start-up.
func interrupt(runsDir, dir string) error {
	var m runlog.Manifest
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	m.State, m.Outcome, m.Ended = runlog.StateRunning, "", time.Time{}
	if b, err = json.MarshalIndent(m, "", "  "); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, "result.json")); err != nil {
		return err
	}
	seg, err := os.OpenFile(filepath.Join(dir, "frames", "00000001.seg"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	seg.Write([]byte{0x40, 0, 0, 0, 1, 2, 3, 4, 5, 6}) // a record cut short by the power loss
	if err := seg.Close(); err != nil {
		return err
	}
	_, err = runlog.Recover(runsDir)
	return err
}

// fxAt is the wall-clock time of the fixtures' audit-trail entries.
var fxAt = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

// withT sets the time of an event made by runlog.NewEvent.
func withT(t float64, e runlog.Event) runlog.Event {
	e.T = t
	return e
}
