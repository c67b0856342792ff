package runlog

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/internal/golden"
)

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr(v float64) *float64 { return &v }

// testResult exercises every field of a result, including the values JSON
// cannot hold.
func testResult() Result {
	return Result{
		Outcome:   OutcomeFail,
		DurationS: 42.5,
		Steps: []StepResult{
			{Index: 0, Path: "1", Name: "fill", StartS: 0, EndS: 10, Frames: 10000, Outcome: OutcomePass,
				Channels: map[string]ChannelStats{
					"aop":  {Unit: "mmHg", N: 10000, Mean: 80.25, Min: 61.5, Max: 118.75, Std: 17.125},
					"lvp":  {Unit: "mmHg", N: 0, Mean: math.NaN(), Min: math.Inf(1), Max: math.Inf(-1), Std: math.NaN()},
					"q_ao": {Unit: "L/min", N: 1, Mean: 4.5, Min: 4.5, Max: 4.5, Std: math.NaN()},
				}},
			{Index: 1, Path: "2.1", Name: "hold at 80 mmHg", StartS: 10, EndS: 42.5, Frames: 32500, Outcome: OutcomeFail},
		},
		Criteria: []CriterionResult{
			{ID: "REQ-HEMO-012", Name: "mean aortic pressure", Step: "2.1", StepName: "hold at 80 mmHg",
				Measure: "mean(aop)", Over: "last 10 s", Value: ptr(92.5), Unit: "mmHg",
				Limits: "between 55 mmHg and 90 mmHg", Lo: ptr(55), Hi: ptr(90),
				Verdict: VerdictFail, Pass: false, OnFail: "fail"},
			{Step: "2.1", Measure: "mean(hr)", Value: ptr(math.NaN()), Unit: "bpm", Limits: "< 90 bpm",
				Hi: ptr(90), Verdict: VerdictNoData, OnFail: "warn", Reason: "no beats detected"},
			{ID: "REQ-DUT-3", Measure: "max(dut.current)", Value: ptr(812), Unit: "mA", Limits: "at most 900 mA",
				Hi: ptr(900), Verdict: VerdictPass, Pass: true, OnFail: "abort"},
		},
		Influx: &InfluxDelivery{Delivered: false, SpooledPoints: 1234, Error: "dial tcp 10.0.0.5:8086: connect: connection refused"},
	}
}

// The JSON files of a run are a contract; the goldens pin it down.
func TestGoldenFiles(t *testing.T) {
	r, _ := create(t, testRunID)
	golden.Check(t, "testdata/manifest_running.golden.json", readFile(t, r.Dir(), manifestFile))
	if got := readFile(t, r.Dir(), protocolFile); string(got) != testProtocol {
		t.Errorf("protocol.yaml is %q, want a byte-exact copy", got)
	}
	if got := readFile(t, r.Dir(), rigFile); string(got) != testRig {
		t.Errorf("rig.yaml is %q, want a byte-exact copy", got)
	}

	b := daq.NewBlock(len(testLayout), 10)
	for k := range 3 {
		if err := r.AppendBlock(fillBlock(b, 10*k, 10)); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []Event{
		{T: 0, Kind: KindRunStart},
		{T: 0.001, Kind: KindStepStart, Step: "1", Msg: "fill"},
		{T: 0.0125, Kind: KindSetpoint, Step: "1", Data: []byte(`{"name":"aop","unit":"mmHg","value":80}`)},
		{T: 0.02, Kind: KindCriterion, Step: "2.1", Msg: "mean(hr) < 90 bpm: no data", Data: []byte(`{"value":null}`)},
	} {
		if err := r.Event(e); err != nil {
			t.Fatal(err)
		}
	}
	res := testResult()
	if err := r.Close(res); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/manifest_closed.golden.json", readFile(t, r.Dir(), manifestFile))
	golden.Check(t, "testdata/result.golden.json", readFile(t, r.Dir(), resultFile))
	golden.Check(t, "testdata/events.golden.jsonl", readFile(t, r.Dir(), eventsFile))

	// What is read back is what was written, NaN for statistics left out.
	run, err := Open(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if v := run.Result.Criteria[1].Value; v != nil {
		t.Errorf("NaN criterion value read back as %v, want nil", *v)
	}
	res.RunID, res.Frames, res.Rig = testRunID, 30, "sim"
	if got, want := dump(t, run.Result), dump(t, res); got != want {
		t.Errorf("result read back:\n%s\nwant:\n%s", got, want)
	}
	if s := run.Result.Steps[0].Channels["lvp"]; s.N != 0 || !math.IsNaN(s.Mean) || !math.IsNaN(s.Min) || !math.IsNaN(s.Max) || !math.IsNaN(s.Std) {
		t.Errorf("empty stats read back as %+v, want NaN", s)
	}
	if s := run.Result.Steps[0].Channels["q_ao"]; s.Mean != 4.5 || !math.IsNaN(s.Std) {
		t.Errorf("stats with a NaN std read back as %+v", s)
	}
}

// dump renders v as JSON, for comparisons.
func dump(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestChannelStatsJSON(t *testing.T) {
	for _, tc := range []struct {
		in   ChannelStats
		want string
	}{
		{ChannelStats{Unit: "mmHg", N: 3, Mean: 1, Min: 0, Max: 2, Std: 0.5}, `{"unit":"mmHg","n":3,"mean":1,"min":0,"max":2,"std":0.5}`},
		{ChannelStats{Unit: "mmHg", N: 0}, `{"unit":"mmHg","n":0,"mean":null,"min":null,"max":null,"std":null}`}, // zeros of an empty set are not data
		{ChannelStats{Unit: "rpm", N: 2, Mean: math.Inf(1), Min: 1, Max: math.Inf(1), Std: math.NaN()}, `{"unit":"rpm","n":2,"mean":null,"min":1,"max":null,"std":null}`},
	} {
		got, err := json.Marshal(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("%+v: %s, want %s", tc.in, got, tc.want)
		}
	}
}
