package serve

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// TestQueueFIFOAndCancel: runs queued behind a long one start in the order
// they were asked for; a waiting one cancelled leaves the queue (its
// followers move up) and never starts; a running one cannot be cancelled,
// only stopped. The end event and the entry name the run; its result and
// manifest are served.
func TestQueueFIFOAndCancel(t *testing.T) {
	ts := newTestServer(t, 10, nil)
	code, long := ts.call(t, "POST", "/api/runs", `{"protocol":"long.yaml"}`)
	if code != http.StatusAccepted || long["state"] != "running" {
		t.Fatalf("long: %d %v", code, long)
	}
	var ids []string
	for i := range 3 {
		code, e := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`)
		if code != http.StatusAccepted || e["position"] != float64(i+1) || e["state"] != "queued" {
			t.Fatalf("entry %d: %d %v", i, code, e)
		}
		ids = append(ids, e["id"].(string))
	}
	if code, m := ts.call(t, "POST", "/api/queue/"+long["id"].(string)+"/cancel", `{"reason":"x"}`); code != http.StatusConflict || !strings.Contains(m["error"].(string), "POST /api/run/stop") {
		t.Errorf("cancel of the running entry: %d %v", code, m)
	}
	if code, m := ts.call(t, "POST", "/api/queue/"+ids[1]+"/cancel", `{"reason":"not needed tonight"}`); code != 200 || m["state"] != "cancelled" || m["error"] != "cancelled by tester: not needed tonight" || m["position"] != nil {
		t.Fatalf("cancel: %d %v", code, m)
	}
	if code, m := ts.call(t, "POST", "/api/queue/"+ids[1]+"/cancel", `{}`); code != http.StatusConflict {
		t.Errorf("second cancel: %d %v", code, m)
	}
	if code, _ := ts.call(t, "POST", "/api/queue/nope/cancel", `{}`); code != http.StatusNotFound {
		t.Errorf("cancel of no entry: %d", code)
	}
	list := queueList(t, ts)
	if len(list) != 3 || list[0].ID != long["id"] || list[1].ID != ids[0] || list[2].ID != ids[2] || *list[2].Position != 2 {
		t.Fatalf("queue after the cancel: %+v", list)
	}
	ts.call(t, "POST", "/api/run/stop", `{"reason":"test over"}`)
	first := waitEntry(t, ts, ids[0], func(e map[string]any) bool { return e["state"] == "done" })
	last := waitEntry(t, ts, ids[2], func(e map[string]any) bool { return e["state"] == "done" })
	started := map[string]time.Time{}
	sums, _ := runlog.List(ts.runsDir)
	for _, sum := range sums {
		started[sum.RunID] = sum.Started
	}
	if !started[first["run_id"].(string)].Before(started[last["run_id"].(string)]) || first["exit_code"] != 0.0 || last["outcome"] != "pass" {
		t.Errorf("not in order, or not passed: %v then %v (%v)", first, last, started)
	}
	if e := waitEntry(t, ts, long["id"].(string), func(e map[string]any) bool { return e["state"] == "done" }); e["outcome"] != "aborted" || e["exit_code"] != 2.0 {
		t.Errorf("stopped entry: %v", e)
	}
	if e := waitEntry(t, ts, ids[1], func(map[string]any) bool { return true }); e["run_id"] != nil {
		t.Errorf("the cancelled entry ran: %v", e)
	}
	if sums, _ := runlog.List(ts.runsDir); len(sums) != 3 {
		t.Errorf("%d runs, want 3", len(sums))
	}
	// The entry is found by its run id too, and serves its result.
	runID := last["run_id"].(string)
	if _, e := ts.call(t, "GET", "/api/queue/"+runID, ""); e["id"] != ids[2] {
		t.Errorf("entry by run id: %v", e)
	}
	for _, path := range []string{"/api/queue/" + ids[2] + "/result", "/runs/" + runID + "/result.json", "/runs/" + runID + "/manifest.json"} {
		resp, err := http.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil || m["run_id"] != runID {
			t.Errorf("%s: %d %v %v", path, resp.StatusCode, err, m["run_id"])
		}
	}
	if code, _ := ts.call(t, "GET", "/api/queue/"+ids[1]+"/result", ""); code != http.StatusConflict {
		t.Errorf("result of a cancelled entry: %d", code)
	}
}

func queueList(t *testing.T, ts *testServer) []QueueEntry {
	t.Helper()
	resp, err := http.Get(ts.url + "/api/queue")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []QueueEntry
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	return list
}

// TestQueueBoundAndValidation: a protocol that does not validate is
// refused (422) before it is queued; past maxQueue entries a start is
// refused with a clear message; the deviations are checked before
// queueing too.
func TestQueueBoundAndValidation(t *testing.T) {
	ts := newTestServer(t, 5, nil)
	if code, _ := ts.call(t, "POST", "/api/runs", `{"protocol":"long.yaml"}`); code != http.StatusAccepted {
		t.Fatal(code)
	}
	if code, m := ts.call(t, "POST", "/api/runs", `{"protocol":"broken.yaml"}`); code != http.StatusUnprocessableEntity || m["errors"] == nil {
		t.Errorf("broken: %d %v", code, m)
	}
	if code, m := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml","allow_overdue":true}`); code != http.StatusBadRequest || !strings.Contains(m["error"].(string), "allow_overdue needs a reason") {
		t.Errorf("overdue without reason: %d %v", code, m)
	}
	if n := len(queueList(t, ts)); n != 1 {
		t.Fatalf("%d entries after refused starts", n)
	}
	for i := 1; i < maxQueue; i++ {
		if code, m := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`); code != http.StatusAccepted {
			t.Fatalf("entry %d: %d %v", i, code, m)
		}
	}
	code, m := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`)
	if want := fmt.Sprintf("the queue of rig sim is full (%d runs waiting or running)", maxQueue); code != http.StatusServiceUnavailable || !strings.Contains(m["error"].(string), want) {
		t.Errorf("past the bound: %d %v", code, m)
	}
}

// TestQueueReviewerCannotQueue: a reviewer's token reads the queue but
// neither queues nor cancels (403); an operator's token queues, named.
func TestQueueReviewerCannotQueue(t *testing.T) {
	opTok, revTok := NewToken(), NewToken()
	ts := newTestServer(t, 5, func(c *Config) {
		c.Tokens = []Token{{Name: "nightly-ci", Secret: opTok, Role: RoleOperator}, {Name: "qa", Secret: revTok, Role: RoleReviewer}}
	})
	ts.token = revTok
	if code, m := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`); code != http.StatusForbidden {
		t.Errorf("reviewer queues: %d %v", code, m)
	}
	ts.token = opTok
	code, e := ts.call(t, "POST", "/api/runs", `{"protocol":"long.yaml"}`)
	if code != http.StatusAccepted || e["by"] != "nightly-ci" || e["role"] != RoleOperator || e["via"] != "api" {
		t.Fatalf("operator queues: %d %v", code, e)
	}
	_, waiting := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`)
	ts.token = revTok
	if code, _ := ts.call(t, "GET", "/api/queue/"+waiting["id"].(string), ""); code != 200 {
		t.Errorf("reviewer reads an entry: %d", code)
	}
	if code, m := ts.call(t, "POST", "/api/queue/"+waiting["id"].(string)+"/cancel", `{"reason":"x"}`); code != http.StatusForbidden {
		t.Errorf("reviewer cancels: %d %v", code, m)
	}
}
