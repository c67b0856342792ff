package serve

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

// waitStatus polls /api/status until ok, failing after a generous
// deadline.
func waitStatus(t *testing.T, ts *testServer, what string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, st := ts.call(t, "GET", "/api/status", ""); ok(st) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within 30 s", what)
	return nil
}

// TestIdleSignals: with a page watching and nothing running, the server
// samples the rig at its safe state and streams frames (recording
// nothing); a run in another process (`mockloop run` in a terminal) asks
// it to release the bench and gets it at once instead of "bench busy";
// without watchers the sampling ends.
func TestIdleSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: samples the simulated rig on the wall clock")
	}
	old := idleLinger
	idleLinger = 2 * time.Second
	t.Cleanup(func() { idleLinger = old })
	ts := newTestServer(t, 5, func(c *Config) { c.IdleSignals = true })

	ctx, cancel := context.WithCancel(context.Background())
	resp := ts.watch(t, ctx)
	give := time.AfterFunc(60*time.Second, cancel) // the read below waits no longer
	frames, idle := 0, false
	readSSE(resp.Body, func(event, data string) bool {
		switch event {
		case "idle":
			var d map[string]any
			_ = json.Unmarshal([]byte(data), &d)
			layout, _ := d["layout"].([]any)
			idle = d["sampling"] == true && len(layout) > 0
		case "frames":
			var f struct {
				T []float64
				V [][]*float64
			}
			if json.Unmarshal([]byte(data), &f) == nil && len(f.T) > 0 && len(f.V) > 0 {
				frames++
			}
		}
		return !(idle && frames >= 3)
	})
	if !give.Stop() || !idle || frames < 3 {
		t.Fatalf("idle %v, %d frame messages (within 60 s)", idle, frames)
	}
	st := waitStatus(t, ts, "idle sampling in the status", func(st map[string]any) bool { return st["idle"] != nil })
	if st["state"] != "idle" || st["other"] != nil || st["run"] != nil {
		t.Errorf("status while sampling idle: %v", st)
	}
	if list, _ := runlog.List(ts.runsDir); len(list) != 0 {
		t.Errorf("idle sampling recorded %d runs", len(list))
	}

	// A run of another process takes the bench from the idle sampler.
	p, err := protocols.Parse("short.yaml", testProtocols["short.yaml"].Data, ts.cfg.Rig.Info())
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	res, _, err := rig.Run(context.Background(), ts.cfg.Rig, p, rig.Options{RunsDir: t.TempDir(), Version: "test", Operator: "terminal", Speed: 20})
	if err != nil || res.Outcome != runlog.OutcomePass {
		t.Fatalf("a terminal run while the view samples idle: %v %+v", err, res)
	}
	t.Logf("the terminal run took the bench and ran in %v", time.Since(began).Round(time.Millisecond))

	// The sampling comes back once the bench is free, and a run of the
	// view takes over from it.
	waitStatus(t, ts, "idle sampling again", func(st map[string]any) bool { return st["idle"] != nil })
	code, q := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`)
	if code != 202 || q["run_id"] == nil {
		t.Fatalf("a run of the view while it samples idle: %d %v", code, q)
	}
	if r := ts.waitIdle(t, q["run_id"].(string)); r.Outcome != runlog.OutcomePass {
		t.Errorf("the view's run: %s %s", r.Outcome, r.AbortReason)
	}
	waitStatus(t, ts, "idle sampling after the run", func(st map[string]any) bool { return st["idle"] != nil })

	// A zero or a calibration in a terminal gets the bench too.
	cfg := *ts.cfg.Rig
	cfg.CalibrationFile = filepath.Join(t.TempDir(), "cal.json")
	cal, err := rig.OpenCalibration(&cfg, false)
	if err != nil {
		t.Fatalf("a calibration while the view samples idle: %v", err)
	}
	cal.Close()

	// Without watchers the sampling stops within idleLinger (and ticks).
	cancel()
	resp.Body.Close()
	waitStatus(t, ts, "sampling stopped without watchers", func(st map[string]any) bool { return st["idle"] == nil && st["other"] == nil })
}
