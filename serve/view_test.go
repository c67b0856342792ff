package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/verdict"
)

// TestStopKinds: an operator stop ends the run as a neutral stop (no
// safety trip in the record, nothing to acknowledge); an e-stop is an
// alarm that a person acknowledges once, into the bench audit log.
func TestStopKinds(t *testing.T) {
	benchLog := filepath.Join(t.TempDir(), "audit.jsonl")
	ts := newTestServer(t, 5, func(c *Config) { c.BenchLog = benchLog })

	stopped := func(action, body string) map[string]any {
		t.Helper()
		_, run := ts.call(t, "POST", "/api/runs", `{"protocol":"long.yaml"}`)
		id := run["run_id"].(string)
		time.Sleep(200 * time.Millisecond)
		if code, m := ts.call(t, "POST", "/api/run/"+action, body); code != 200 {
			t.Fatalf("%s: %d %v", action, code, m)
		}
		res := ts.waitIdle(t, id)
		// The verdicts recomputed from the record are the result's: the
		// reports show no integrity failure for the stop.
		rc, err := verdict.Recompute(filepath.Join(ts.runsDir, id))
		if err != nil {
			t.Fatal(err)
		}
		if diff := rc.Compare(&res); len(diff) != 0 {
			t.Errorf("%s: recomputed verdicts differ: %v", action, diff)
		}
		_, st := ts.call(t, "GET", "/api/status", "")
		last, _ := st["last"].(map[string]any)
		if last == nil || last["run_id"] != id || last["outcome"] != "aborted" {
			t.Fatalf("last after %s: %v", action, st["last"])
		}
		return last
	}

	last := stopped("stop", `{"reason":"enough data"}`)
	stop := last["stop"].(map[string]any)
	if stop["kind"] != stopOperator || stop["by"] != "tester" || stop["reason"] != "enough data" || stop["alarm"] != false {
		t.Errorf("operator stop: %v", stop)
	}
	for _, ev := range events(t, filepath.Join(ts.runsDir, last["run_id"].(string))) {
		if ev.Kind == runlog.KindSafetyTrip {
			t.Errorf("operator stop recorded as a safety trip: %+v", ev)
		}
	}
	if code, _ := ts.call(t, "POST", "/api/run/acknowledge", `{}`); code != 409 {
		t.Errorf("acknowledge of an operator stop: %d, want 409", code)
	}

	last = stopped("estop", `{}`)
	stop = last["stop"].(map[string]any)
	if stop["kind"] != stopEStop || stop["alarm"] != true || last["acknowledged"] != nil {
		t.Errorf("e-stop: %v", last)
	}
	if code, m := ts.call(t, "POST", "/api/run/acknowledge", `{"reason":"cannula re-seated"}`); code != 200 || m["run_id"] != last["run_id"] {
		t.Fatalf("acknowledge: %d %v", code, m)
	}
	if code, _ := ts.call(t, "POST", "/api/run/acknowledge", `{}`); code != 409 {
		t.Errorf("second acknowledge: %d, want 409", code)
	}
	log, err := runlog.ReadBenchLog(benchLog)
	if err != nil || len(log) != 1 {
		t.Fatalf("bench log %v, %v", log, err)
	}
	if e := log[0]; e.Action != runlog.ActionAcknowledge || e.By != "tester" || e.Subject != last["run_id"] || e.Reason != "cannula re-seated" || e.At.IsZero() {
		t.Errorf("bench log entry %+v", e)
	}
	if _, st := ts.call(t, "GET", "/api/status", ""); st["last"].(map[string]any)["acknowledged"] == nil {
		t.Error("status does not show the acknowledgement")
	}
}

// TestRunView: a closed run opens from its record, verified, its frames
// min/max-decimated to at most maxViewPoints per channel; a run id that
// is not a run is 404.
func TestRunView(t *testing.T) {
	ts := newTestServer(t, 20, nil)
	_, run := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`)
	id := run["run_id"].(string)
	res := ts.waitIdle(t, id)
	code, v := ts.call(t, "GET", "/api/runs/"+id+"/view", "")
	if code != 200 || v["run_id"] != id || v["verified"] != true || v["outcome"] != string(res.Outcome) {
		t.Fatalf("view: %d %v %v %v", code, v["run_id"], v["verified"], v["integrity"])
	}
	ts1, _ := v["t"].([]any)
	vals, _ := v["v"].([]any)
	layout, _ := v["layout"].([]any)
	if len(ts1) == 0 || len(ts1) > maxViewPoints || len(vals) != len(layout) || len(layout) == 0 {
		t.Fatalf("%d times, %d channels of %d", len(ts1), len(vals), len(layout))
	}
	// The record has 8 s at 1 kHz: 8000 frames, decimated.
	if res.Frames <= int64(maxViewPoints) {
		t.Fatalf("only %d frames: the decimation is not tested", res.Frames)
	}
	for c, col := range vals {
		if n := len(col.([]any)); n != len(ts1) {
			t.Errorf("channel %d: %d values for %d times", c, n, len(ts1))
		}
	}
	if last := ts1[len(ts1)-1].(float64); last > res.DurationS || last < res.DurationS*0.9 {
		t.Errorf("last time %g of a %g s run", last, res.DurationS)
	}
	if c, ok := v["criteria"].([]any); !ok || len(c) != 1 {
		t.Errorf("criteria %v", v["criteria"])
	}
	if b, ok := v["beats"].([]any); !ok || len(b) == 0 {
		t.Errorf("no beats")
	}
	if e, ok := v["events"].([]any); !ok || len(e) == 0 {
		t.Errorf("no events")
	}
	// A record changed after its seal is shown, saying so.
	f, err := os.OpenFile(filepath.Join(ts.runsDir, id, "beats.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n")
	f.Close()
	code, v = ts.call(t, "GET", "/api/runs/"+id+"/view", "")
	if fails, _ := v["integrity"].([]any); code != 200 || v["verified"] != false || len(fails) == 0 {
		t.Errorf("view of a tampered record: %d verified %v integrity %v", code, v["verified"], v["integrity"])
	}
	for _, bad := range []string{"not-a-run", "20991231T000000Z-abcdef"} {
		if code, _ := ts.call(t, "GET", fmt.Sprintf("/api/runs/%s/view", bad), ""); code != 404 {
			t.Errorf("view of %s: %d, want 404", bad, code)
		}
	}
}

// TestLastRunAfterRestart: a server started on a runs directory shows the
// rig's last run, its stop classified from the record and its
// acknowledgement from the bench log.
func TestLastRunAfterRestart(t *testing.T) {
	benchLog := filepath.Join(t.TempDir(), "audit.jsonl")
	ts := newTestServer(t, 5, func(c *Config) { c.BenchLog = benchLog })
	_, run := ts.call(t, "POST", "/api/runs", `{"protocol":"long.yaml"}`)
	id := run["run_id"].(string)
	time.Sleep(200 * time.Millisecond)
	ts.call(t, "POST", "/api/run/estop", `{}`)
	ts.waitIdle(t, id)
	if code, _ := ts.call(t, "POST", "/api/run/acknowledge", `{"reason":"seen"}`); code != 200 {
		t.Fatalf("acknowledge: %d", code)
	}
	ts.Close()
	again := newTestServer(t, 5, func(c *Config) { c.BenchLog, c.RunsDir = benchLog, ts.runsDir })
	_, st := again.call(t, "GET", "/api/status", "")
	last, _ := st["last"].(map[string]any)
	if last == nil || last["run_id"] != id || last["outcome"] != "aborted" {
		t.Fatalf("last after a restart: %v", st["last"])
	}
	if stop, _ := last["stop"].(map[string]any); stop["kind"] != stopEStop || stop["alarm"] != true {
		t.Errorf("stop after a restart: %v", last["stop"])
	}
	if ack, _ := last["acknowledged"].(map[string]any); ack == nil || ack["reason"] != "seen" {
		t.Errorf("acknowledgement after a restart: %v", last["acknowledged"])
	}
}

// TestNoteStopOldRecords: a record of an operator's stop made when the
// stop was also logged as a safety trip is still a stop; a trip after a
// stop for another reason (the safe state failed) is a trip.
func TestNoteStopOldRecords(t *testing.T) {
	stop := runlog.NewEvent(runlog.KindOperator, "", "operator: stopped by a", runlog.OperatorData{By: "a", Action: runlog.ActionStop})
	for _, c := range []struct {
		trip, want string
	}{{"operator: stopped by a", stopOperator}, {"operator: stopped by a; safe state failed: x", stopTrip}} {
		run := &activeRun{}
		noteStop(run, stop)
		noteStop(run, runlog.Event{Kind: runlog.KindSafetyTrip, Msg: c.trip})
		if run.stop == nil || run.stop.Kind != c.want || run.stop.Alarm != (c.want != stopOperator) {
			t.Errorf("trip %q: %+v, want %s", c.trip, run.stop, c.want)
		}
	}
}

// TestViewEventsLeaveOutDUTTraffic: the bench view's events of a run have
// neither the DUT's frames nor their counts (a dut.summary a step), which
// would push the notable events out of its last maxViewEvents.
func TestViewEventsLeaveOutDUTTraffic(t *testing.T) {
	evs := []runlog.Event{
		{T: 1, Kind: runlog.KindDUTTx, Msg: "1 STATUS *0000"},
		{T: 1, Kind: runlog.KindDUTRx, Msg: "1 OK *0000"},
		{T: 2, Kind: runlog.KindDUTAlarm, Msg: "DUT alarm 0x01 rose: suction"},
		{T: 3, Kind: runlog.KindDUTSummary, Step: "1", Msg: "DUT link in-process, changes logged: 30 exchanges"},
		{T: 3, Kind: runlog.KindStepEnd, Step: "1", Msg: "pass"},
	}
	got := viewEvents(evs)
	if len(got) != 2 || got[0]["kind"] != runlog.KindDUTAlarm || got[1]["kind"] != runlog.KindStepEnd {
		t.Errorf("view events %v", got)
	}
}
