package runlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/daq"
)

// TestPayloadKeyOrder checks that every payload type writes its fields in
// the order json.Marshal writes a map's keys: events.jsonl was written from
// maps, and its lines must stay byte for byte what they were.
func TestPayloadKeyOrder(t *testing.T) {
	v := 2.5
	res := &CriterionResult{ID: "C-1", Step: "1", Measure: "mean(aop)", Value: &v, Verdict: VerdictPass, Pass: true}
	step := &StepResult{Path: "1", Name: "hold", Outcome: OutcomePass, Channels: map[string]ChannelStats{"aop": {Unit: "mmHg", N: 1, Mean: 2}}}
	for _, p := range []Payload{
		RunStartData{Clock: ClockVirtual, Rig: "sim"},
		RunEndData{Frames: 7},
		RunInterruptedData{CutEventBytes: 1, CutFrameBytes: 2, DamagedFrameBytes: 3, Frames: 4},
		RunResumedData{CompletedSteps: 1, GapFromS: 2, GapToS: 3},
		StepEndData{Frames: 3, Result: step},
		SetpointData{Param: "loop.heart_rate", Value: SetpointValue{Num: 75}},
		SetpointData{Param: "dut.level", Value: SetpointValue{Word: "P2"}},
		UntilMetData{AfterS: 1, Value: 80},
		CriterionData{Result: res, Verdict: VerdictPass},
		InvariantData{ID: "I-1", Value: Reading(math.NaN())},
		FaultData{Stack: "goroutine 1"},
		OperatorData{BeforeStep: 2},
		DUTFrameData{Error: "bad checksum", Retry: 1},
		DUTSummaryData{Exchanges: map[string]int64{"STATUS": 2, "MODE": 1}, Frames: 6, Link: DUTLinkInProcess, Logged: DUTLoggedChanges,
			Scope: "step", Errors: DUTErrors{NoReply: 1, SeqMismatch: 2}},
		AcquisitionData{ADC: daq.ADCHealth{Frames: 9, Gaps: 1}, SlowADC: daq.ADCHealth{Stuck: 2}},
		GapData{Conversions: 3, FromS: 0.001, ToS: 0.003},
	} {
		e := NewEvent("k", "", "", p)
		if e.err != nil || len(e.Data) == 0 {
			t.Fatalf("%T: data %s, error %v", p, e.Data, e.err)
		}
		keys := topKeys(t, e.Data)
		if !slices.IsSorted(keys) {
			t.Errorf("%T writes its keys in the order %q; a map writes them sorted", p, keys)
		}
		for _, k := range keys {
			if k != strings.ToLower(k) {
				t.Errorf("%T: key %q is not lower case", p, k)
			}
		}
	}
}

// topKeys returns the keys of a JSON object, in order.
func topKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestEventData checks how data reads back: none for {} and null, keys
// sorted, and a line whose data is no object is malformed.
func TestEventData(t *testing.T) {
	if e := NewEvent(KindOperator, "", "calibration overdue", OperatorData{}); e.Data != nil {
		t.Errorf("empty payload gives data %s", e.Data)
	}
	evs, bad, _ := parseEvents([]byte(`{"t":1,"kind":"a","data":{}}
{"t":2,"kind":"b","data":null}
{"t":3,"kind":"c","data":{"z":1,"a":{"y":2.50,"b":true}}}
{"t":4,"kind":"d","data":[1]}
`))
	if len(evs) != 3 || len(bad) != 1 || bad[0] != 4 {
		t.Fatalf("events %+v, malformed lines %v", evs, bad)
	}
	if evs[0].Data != nil || evs[1].Data != nil || string(evs[2].Data) != `{"a":{"b":true,"y":2.5},"z":1}` {
		t.Errorf("data read as %s, %s, %s", evs[0].Data, evs[1].Data, evs[2].Data)
	}
	if _, err := ParseData([]byte(`{"frames":`)); err == nil {
		t.Error("ParseData took data cut short")
	}
	var sp SetpointData
	e := NewEvent(KindSetpoint, "1", "", SetpointData{Param: "loop.fill", Value: SetpointValue{Num: math.Inf(1)}})
	if string(e.Data) != `{"param":"loop.fill","value":null}` {
		t.Errorf("non-finite setpoint written %s", e.Data)
	}
	if err := e.Decode(&sp); err != nil || sp.Param != "loop.fill" || !math.IsNaN(sp.Value.Num) || sp.Value.Word != "" {
		t.Errorf("decoded %+v, %v", sp, err)
	}
}

// TestEachBeat checks the one reader of beats.jsonl: missing values NaN,
// lines that are no beat counted, an unfinished last line left out.
func TestEachBeat(t *testing.T) {
	dir := t.TempDir()
	if _, err := EachBeat(dir, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no beats file: %v", err)
	}
	lines := `{"t":0.8,"start":0,"channel":"aop","systolic":120,"diastolic":80,"mean":95,"pulse_pressure":40,"heart_rate":75,"stroke_volume":70}
not json

{"t":1.6,"channel":""}
{"t":1.6,"start":0.8,"channel":"aop","systolic":null,"diastolic":80}
{"t":2.4,"cha`
	if err := os.WriteFile(filepath.Join(dir, BeatsFile), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []Beat
	bad, err := EachBeat(dir, func(b *Beat) error { got = append(got, *b); return nil })
	if err != nil || bad != 2 || len(got) != 2 {
		t.Fatalf("%d beats, %d malformed, error %v", len(got), bad, err)
	}
	if b := got[0]; b.Systolic != 120 || b.StrokeVolume == nil || *b.StrokeVolume != 70 {
		t.Errorf("first beat %+v", b)
	}
	if b := got[1]; !math.IsNaN(b.Systolic) || b.Diastolic != 80 || !math.IsNaN(b.HeartRate) || b.StrokeVolume != nil {
		t.Errorf("beat with missing values read as %+v", b)
	}
}
