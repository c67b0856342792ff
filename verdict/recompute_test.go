package verdict_test

import (
	"context"
	"math"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/mockloop/mockloop/internal/benchtest"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/verdict"
)

func TestMain(m *testing.M) { os.Exit(benchtest.Run(m)) }

// runOn runs the protocol src on the simulated rig of config rigFile
// (configs/rigs), DUT profile dut if set, on virtual time, and returns its
// result and record.
func runOn(t testing.TB, rigFile, dut string, src []byte) (*runlog.Result, string) {
	t.Helper()
	cfg, p := load(t, rigFile, dut, src)
	res, dir, err := rig.Run(context.Background(), cfg, p, rig.Options{RunsDir: t.TempDir(), ProtocolFile: "p.yaml", ProtocolSource: src,
		Epoch: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return res, dir
}

// load reads rig config rigFile (configs/rigs) with DUT profile dut if
// set, and parses the protocol src against it.
func load(t testing.TB, rigFile, dut string, src []byte) (*rig.Config, *protocols.Protocol) {
	t.Helper()
	cfg, err := rig.LoadConfig("../configs/rigs/" + rigFile)
	if err != nil {
		t.Fatal(err)
	}
	if dut != "" {
		if err := cfg.SetDUTProfile(dut); err != nil {
			t.Fatal(err)
		}
	}
	p, err := protocols.Parse("p.yaml", src, cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	return cfg, p
}

// agrees checks that the recomputation of the record in dir states what
// the engine's result did, to the stated tolerance, and returns the
// largest difference of a value in units of its tolerance.
func agrees(t *testing.T, dir string, res *runlog.Result) float64 {
	t.Helper()
	rc, err := verdict.Recompute(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Criteria) != len(res.Criteria) {
		t.Errorf("recomputed %d criteria, the engine judged %d", len(rc.Criteria), len(res.Criteria))
	}
	worst := 0.0 // before Compare, which takes the values it verified
	for i, c := range rc.Criteria[:min(len(rc.Criteria), len(res.Criteria))] {
		e := res.Criteria[i]
		if rc.NotRecomputed[i] == "" && (c.Verdict != e.Verdict || c.Limits != e.Limits && e.Reference == nil) {
			t.Errorf("%s %s: recomputed %s %q, engine %s %q", c.Step, c.Measure, c.Verdict, c.Limits, e.Verdict, e.Limits)
		}
		if c.Value != nil && e.Value != nil && *c.Value != *e.Value {
			worst = max(worst, math.Abs(*c.Value-*e.Value)/rc.Tol[i])
		}
	}
	for i, why := range rc.NotRecomputed {
		t.Errorf("%s %s not recomputed: %s", rc.Criteria[i].Step, rc.Criteria[i].Measure, why)
	}
	for _, d := range rc.Compare(res) {
		t.Error(d)
	}
	return worst
}

// The engine's own results, for protocols that exercise every kind of
// measure, are what the record's frames, beats and protocol copy give.
func TestRecomputeAgreesWithEngine(t *testing.T) {
	src := []byte(`protocol: 1
name: every-measure
always:
  - {id: A-1, channel: aop, max: 200 mmHg}
  - {id: A-2, channel: aop, min: 70 mmHg, on_fail: warn}
steps:
  - name: baseline
    set: {loop.preset: healthy}
    hold: 8 s
    criteria:
      - {id: M-1, measure: mean(aop), over: last 4 s, between: [80 mmHg, 120 mmHg]}
      - {id: M-2, measure: p95(lvp), max: 500 mmHg}
      - {id: M-3, measure: std(flow_dut), max: 0.01 L/min}
      - {id: M-4, measure: slope(aop), between: [-100 mmHg/min, 100 mmHg/min]}
      - {id: M-5, measure: min(map(aop)), min: 60 mmHg}
      - {id: M-6, measure: heart_rate(aop), over: last 3 s, between: [50 bpm, 100 bpm]}
      - {id: M-7, measure: stroke_volume(flow_dut), min: 0 ml, on_fail: warn}
      - {id: M-8, measure: stroke_volume(flow_ao), over: last 4 s, min: 1 ml}
      - {id: M-9, measure: end_diastolic(lvp), max: 1 mmHg}
      - {id: M-10, measure: max(dp_dt_max(lvp)), min: 100 mmHg/s}
      - {id: M-11, measure: end_systolic(lv_volume), between: [10 ml, 200 ml]}
  - name: afterload
    set: {loop.resistance: 2 mmHg·s/ml}
    hold: 6 s
    criteria:
      - {id: R-1, measure: mean(aop), over: last 3 s, relative_to: baseline, between: [-5 %, 5 %]}
      - {id: R-2, measure: max(aop), relative_to: baseline, min: 0 mmHg}
  - name: levels
    sweep: {dut.level: [P2, P8]}
    steps:
      - hold: 2 s
        criteria:
          - {id: W-1, when: dut.level == P8, measure: mean(flow_dut), min: 1 L/min}
          - {id: W-2, measure: rms(aop), min: 1 mmHg}
  - name: wait
    until: {condition: "mean(aop, 1 s) >= 500 mmHg", timeout: 2 s}
`)
	res, dir := runOn(t, "sim.yaml", "", src)
	if res.Outcome != runlog.OutcomeFail {
		t.Errorf("outcome %s, want fail (the test wants failing criteria too)", res.Outcome)
	}
	t.Logf("largest difference: %.3g of its tolerance", agrees(t, dir, res))
}

// The shipped protocols whose criteria the table covers, each with the
// kinds of measure it has: the demo (relative_to, always, over), beat
// statistics (lv-function, cardiogenic-shock-support), `when` over a sweep
// of levels (hemopump-historical), the loop-only rig
// (loop-characterisation, relative_to) and the right heart (rv-failure-rp).
var shipped = []struct {
	file, rig, dut string
	short          bool // runs under -short too
}{
	{"demo.yaml", "sim.yaml", "", true},
	{"lv-function.yaml", "sim.yaml", "", false},
	{"cardiogenic-shock-support.yaml", "sim.yaml", "", false},
	{"hemopump-historical.yaml", "sim.yaml", "hemopump", false},
	{"loop-characterisation.yaml", "sim-loop-only.yaml", "", false},
	{"rv-failure-rp.yaml", "sim-rp.yaml", "", false},
}

// longRepeat is a shipped protocol's endurance loop, cut short here.
var longRepeat = regexp.MustCompile(`repeat: \{for: [0-9]+ h\}`)

// Every shipped protocol of the table, run on its rig: the record gives
// back the engine's criteria and outcome, values to the stated tolerance.
func TestRecomputeShippedProtocolsAgreeWithEngine(t *testing.T) {
	for _, p := range shipped {
		t.Run(p.file, func(t *testing.T) {
			if !p.short && testing.Short() {
				t.Skip("-short: the demo stands for the table")
			}
			src, err := os.ReadFile("../configs/protocols/" + p.file)
			if err != nil {
				t.Fatal(err)
			}
			src = longRepeat.ReplaceAll(src, []byte("repeat: {for: 1 h}"))
			res, dir := runOn(t, p.rig, p.dut, src)
			t.Logf("%s: %s, %d criteria; largest difference %.3g of its tolerance", p.file, res.Outcome, len(res.Criteria), agrees(t, dir, res))
		})
	}
}

// Aborted runs: by an invariant (the frame that tripped A-1 reached no
// later invariant, so A-2's closest approach is the frame before) and by a criterion's on_fail: abort (its step judged,
// the rest not run). The record gives back what the engine judged.
func TestRecomputeAbortedRunsAgreeWithEngine(t *testing.T) {
	for name, src := range map[string]string{
		"invariant": `protocol: 1
name: trip
always:
  - {id: A-1, channel: aop, max: 95 mmHg, on_fail: abort}
  - {id: A-2, channel: aop, max: 96 mmHg}
steps:
  - name: one
    set: {loop.preset: healthy}
    hold: 4 s
    criteria:
      - {id: C1, measure: mean(aop), min: 10 mmHg}
`,
		"criterion": `protocol: 1
name: abort
always:
  - {id: A-1, channel: aop, max: 200 mmHg}
steps:
  - name: one
    set: {loop.preset: healthy}
    hold: 3 s
    criteria:
      - {id: C1, measure: mean(aop), min: 10 mmHg}
  - name: two
    hold: 3 s
    criteria:
      - {id: C2, measure: max(aop), min: 500 mmHg, on_fail: abort}
      - {id: C3, measure: min(aop), min: 10 mmHg}
  - name: three
    hold: 3 s
    criteria:
      - {id: C4, measure: mean(aop), min: 10 mmHg}
`,
	} {
		t.Run(name, func(t *testing.T) {
			res, dir := runOn(t, "sim-loop-only.yaml", "", []byte(src))
			if res.Outcome != runlog.OutcomeAborted {
				t.Fatalf("outcome %s (%s), want aborted", res.Outcome, res.AbortReason)
			}
			agrees(t, dir, res)
		})
	}
}

// BenchmarkRecomputeLongRecord judges again an hour's record at 1 kHz
// (3.6 million frames, the criteria of 6 ten-minute holds with
// windows, percentiles, beats and an invariant): what `mockloop report`
// adds to a report of a long run. go test ./verdict -run - -bench
// RecomputeLong -benchmem
func BenchmarkRecomputeLongRecord(b *testing.B) {
	src := []byte(`protocol: 1
name: long
always:
  - {id: A-1, channel: aop, max: 200 mmHg}
steps:
  - set: {loop.preset: healthy}
    hold: 1 s
  - repeat: {count: 6}
    steps:
      - hold: 10 min
        criteria:
          - {id: L-1, measure: mean(aop), over: last 5 min, between: [80 mmHg, 120 mmHg]}
          - {id: L-2, measure: p95(lvp), max: 200 mmHg}
          - {id: L-3, measure: map(aop), min: 60 mmHg}
          - {id: L-4, measure: std(flow_ao), max: 100 L/min}
`)
	res, dir := runOn(b, "sim-loop-only.yaml", "", src)
	b.ResetTimer()
	for range b.N {
		rc, err := verdict.Recompute(dir)
		if err != nil || len(rc.Compare(res)) > 0 {
			b.Fatal(err, rc.Compare(res))
		}
	}
	b.ReportMetric(float64(res.Frames)/1e6, "Mframes")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(res.Frames), "ns/frame")
}
