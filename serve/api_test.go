package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/mockloop/mockloop/bench"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

// Short protocols for the API tests.
var testProtocols = fstest.MapFS{
	"short.yaml": {Data: []byte(`protocol: 1
name: short
steps:
  - name: one
    set: {loop.preset: healthy}
    hold: 4 s
    criteria:
      - {id: R-1, measure: mean(aop), between: [40 mmHg, 160 mmHg]}
  - name: two
    hold: 4 s
`)},
	"long.yaml": {Data: []byte(`protocol: 1
name: long
steps:
  - name: first
    set: {loop.preset: healthy}
    hold: 2 s
  - name: second
    hold: 10 min
`)},
	"broken.yaml": {Data: []byte("protocol: 1\nname: broken\nsteps:\n  - hold: 80\n")},
	"notes.txt":   {Data: []byte("not a protocol")},
}

type testServer struct {
	*Server
	url     string
	runsDir string
	token   string // sent with every call unless the call sets Authorization
}

// newTestServer serves the simulated rig at speed (virtual time paced at
// speed × real time).
func newTestServer(t testing.TB, speed float64, tweak func(*Config)) *testServer {
	t.Helper()
	s := newServer(t, speed, tweak)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		hs.Close()
	})
	return &testServer{Server: s, url: hs.URL, runsDir: s.cfg.RunsDir}
}

// newServer makes a server of the simulated rig at speed, with runs in a
// temporary directory.
func newServer(t testing.TB, speed float64, tweak func(*Config)) *Server {
	t.Helper()
	cfg, err := rig.LoadConfig("../configs/rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := Config{Rig: cfg, RunsDir: t.TempDir(), Protocols: testProtocols, ProtocolsDir: "testdata", Version: "test", Speed: speed, Loopback: true, Operator: "tester"}
	if tweak != nil {
		tweak(&c)
	}
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// call makes a request and decodes the JSON answer into a map.
func (ts *testServer) call(t testing.TB, method, path, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, ts.url+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if ts.token != "" {
		req.Header.Set("Authorization", "Bearer "+ts.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(data) > 0 && data[0] == '{' {
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode, m
}

// waitIdle waits for the run to end and returns its result.
func (ts *testServer) waitIdle(t testing.TB, runID string) runlog.Result {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, st := ts.call(t, "GET", "/api/status", ""); st["state"] == "idle" {
			var res runlog.Result
			data, err := os.ReadFile(filepath.Join(ts.runsDir, runID, "result.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &res); err != nil {
				t.Fatal(err)
			}
			return res
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the run did not end")
	return runlog.Result{}
}

func events(t *testing.T, dir string) []runlog.Event {
	t.Helper()
	r, err := runlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := r.ReadEvents()
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestStartQueueSecondStop: a run starts; a second start is queued
// behind it (position 1, who and when); stop ends the first aborted in
// the safe state with its record closed and its reports made, and the
// queued one starts then.
func TestStartQueueSecondStop(t *testing.T) {
	ts := newTestServer(t, 5, nil)
	code, run := ts.call(t, "POST", "/api/runs", `{"protocol":"long.yaml"}`)
	if code != http.StatusAccepted || run["run_id"] == nil || run["state"] != "running" || run["position"] != 0.0 || run["by"] != "tester" {
		t.Fatalf("start: %d %v", code, run)
	}
	id := run["run_id"].(string)
	code, second := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`)
	if code != http.StatusAccepted || second["state"] != "queued" || second["position"] != 1.0 || second["run_id"] != nil || second["queued_at"] == nil {
		t.Fatalf("second start: %d %v", code, second)
	}
	if code, st := ts.call(t, "GET", "/api/status", ""); code != 200 || st["state"] != "running" || st["run"].(map[string]any)["run_id"] != id {
		t.Fatalf("status %d %v", code, st)
	}
	time.Sleep(500 * time.Millisecond)
	if code, st := ts.call(t, "POST", "/api/run/stop", `{"reason":"test over"}`); code != 200 || st["state"] != "stopping" {
		t.Fatalf("stop: %d %v", code, st)
	}
	res := ts.waitIdle(t, id)
	if res.Outcome != runlog.OutcomeAborted || res.AbortReason != "operator: stopped from the bench view by tester: test over" {
		t.Fatalf("outcome %s %q", res.Outcome, res.AbortReason)
	}
	r, err := runlog.Open(filepath.Join(ts.runsDir, id))
	if err != nil || r.Manifest.State != runlog.StateClosed {
		t.Fatalf("record %v, state %v", err, r.Manifest.State)
	}
	// An operator stop is no safety trip: the record has the operator's
	// stop, after which the DUT was commanded to its safe state (the sim
	// rig's: MODE STOP).
	trip, stopped := -1.0, -1.0
	for _, ev := range events(t, r.Dir) {
		switch {
		case ev.Kind == runlog.KindSafetyTrip:
			t.Errorf("an operator stop recorded as a safety trip: %+v", ev)
		case ev.Kind == runlog.KindOperator && ev.Msg == res.AbortReason:
			trip = ev.T
		case ev.Kind == runlog.KindDUTTx && strings.Contains(ev.Msg, "MODE STOP"):
			stopped = ev.T
		}
	}
	// (The trip event carries the next frame's deadline; the DUT's
	// command its own time, a period earlier.)
	safe := trip >= 0 && stopped >= trip-0.002
	if trip < 0 || !safe {
		t.Errorf("trip at %g, DUT commanded to stop after it: %v", trip, safe)
	}
	for _, f := range []string{"report.html", "junit.xml"} {
		if !fileExists(ts.runsDir, id, f) {
			t.Errorf("no %s after the run", f)
		}
	}
	if code, _ := ts.call(t, "POST", "/api/run/stop", `{"reason":"test over"}`); code != http.StatusConflict {
		t.Errorf("stop without a run: %d, want 409", code)
	}
	// The queued run starts once the first has ended.
	entry := waitEntry(t, ts, second["id"].(string), func(e map[string]any) bool { return e["run_id"] != nil })
	if res := ts.waitIdle(t, entry["run_id"].(string)); res.Outcome != runlog.OutcomePass {
		t.Errorf("short run %s %s", res.Outcome, res.AbortReason)
	}
	if e := waitEntry(t, ts, second["id"].(string), func(e map[string]any) bool { return e["state"] == "done" }); e["exit_code"] != 0.0 || e["outcome"] != "pass" || e["position"] != nil {
		t.Errorf("entry after the run: %v", e)
	}
}

// TestRigHeldByAnotherProcess: while another process holds the bench
// (here: the bench lock taken outside the server) a start is queued and
// waits, saying who holds the bench, with nothing moving; once the bench
// is released it starts.
func TestRigHeldByAnotherProcess(t *testing.T) {
	ts := newTestServer(t, 5, nil)
	dir, _ := bench.Dir()
	lock, err := bench.Acquire(dir, ts.cfg.Rig.BenchResources(), bench.Status{State: "running"})
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	lock.SetRun("20261206T000000Z-x", "x")
	code, m := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`)
	msg, _ := m["error"].(string)
	if code != http.StatusAccepted || m["state"] != "queued" || !strings.Contains(msg, "waiting for the bench: bench busy: sim:sim is held by pid ") || !strings.Contains(msg, "run 20261206T000000Z-x of protocol x") {
		t.Fatalf("%d %v", code, m)
	}
	time.Sleep(1500 * time.Millisecond) // a retry or two
	if sums, _ := runlog.List(ts.runsDir); len(sums) != 0 {
		t.Errorf("%d run records made while the bench is held", len(sums))
	}
	if _, e := ts.call(t, "GET", "/api/queue/"+m["id"].(string), ""); e["state"] != "queued" || e["position"] != 0.0 {
		t.Errorf("entry while the bench is held: %v", e)
	}
	lock.Release()
	e := waitEntry(t, ts, m["id"].(string), func(e map[string]any) bool { return e["run_id"] != nil })
	if res := ts.waitIdle(t, e["run_id"].(string)); res.Outcome != runlog.OutcomePass {
		t.Errorf("run after the release: %s %s", res.Outcome, res.AbortReason)
	}
}

// waitEntry polls a queue entry until ok says it is what the test waits
// for (a generous deadline: the machine may be loaded).
func waitEntry(t *testing.T, ts *testServer, id string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		code, e := ts.call(t, "GET", "/api/queue/"+id, "")
		if code == 200 && ok(e) {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue entry %s: %d %v", id, code, e)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPauseBetweenSteps: a pause requested during step 1, a hold, takes
// effect in it at once (language 1.1); the rig keeps recording; after the
// resume the hold's remaining time runs, then step 2.
func TestPauseBetweenSteps(t *testing.T) {
	ts := newTestServer(t, 10, nil)
	_, run := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`)
	id := run["run_id"].(string)
	// The run has started; on a loaded machine its first step may not
	// have yet, and a pause asked before it would hold the run there.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, st := ts.call(t, "GET", "/api/status", ""); st["step"] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("step 1 never began")
		}
		time.Sleep(time.Millisecond)
	}
	if code, st := ts.call(t, "POST", "/api/run/pause", `{"reason":"check the loop"}`); code != 200 || st["state"] != "pausing" {
		t.Fatalf("pause: %d %v", code, st)
	}
	// The last beat's end is the run's clock: it keeps beating while paused.
	beatEnd := func(st map[string]any) float64 {
		b, _ := st["beat"].(map[string]any)
		end, _ := b["t"].(float64)
		return end
	}
	var pausedAt float64
	for {
		if _, st := ts.call(t, "GET", "/api/status", ""); st["state"] == "paused" {
			pausedAt = beatEnd(st)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never paused")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// ≥ 2 s of run time paused, however slowly the machine runs it (a
	// wall-clock sleep was 1 s of run time under qemu, not the 3 s of a
	// 10× run).
	for {
		if _, st := ts.call(t, "GET", "/api/status", ""); beatEnd(st) >= pausedAt+2 {
			break
		}
		if time.Now().After(deadline) {
			_, st := ts.call(t, "GET", "/api/status", "")
			t.Fatalf("the paused run stopped beating: %v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, st := ts.call(t, "POST", "/api/run/resume", `{}`); code != 200 || st["state"] != "running" {
		t.Fatalf("resume: %d %v", code, st)
	}
	res := ts.waitIdle(t, id)
	if res.Outcome != runlog.OutcomePass || len(res.Steps) != 2 {
		t.Fatalf("%s %q, %d steps", res.Outcome, res.AbortReason, len(res.Steps))
	}
	var paused, resumed float64
	var in string
	for _, ev := range events(t, filepath.Join(ts.runsDir, id)) {
		switch {
		case ev.Kind == runlog.KindOperator && ev.Msg == "paused":
			paused, in = ev.T, ev.Step
		case ev.Kind == runlog.KindOperator && ev.Msg == "resumed":
			resumed = ev.T
		}
	}
	// Step 1 is a hold: the pause took effect in it at once (language
	// 1.1), its remaining time waited, its statistics leave the pause out.
	s1, s2 := res.Steps[0], res.Steps[1]
	if in != "1" || paused <= s1.StartS || resumed <= paused+1 || resumed >= s1.EndS || math.Abs(s1.EndS-s1.StartS-4-(resumed-paused)) > 0.01 {
		t.Errorf("step 1 %g…%g, paused in step %q at %g, resumed %g: want the pause inside step 1's 4 s hold, which it lengthens", s1.StartS, s1.EndS, in, paused, resumed)
	}
	if d := s1.Frames - 4000; d < -2 || d > 2 {
		t.Errorf("step 1's statistics over %d frames, want the hold's 4000 without the pause's", s1.Frames)
	}
	// Every frame of the pause is recorded: no hole in the record.
	if want := int64((s2.EndS - s1.StartS) * 1000); res.Frames < want-1 {
		t.Errorf("%d frames, want ≥ %d (the pause recorded too)", res.Frames, want)
	}
}

// TestEmergencyStop: the e-stop takes the safety trip path, and is a
// deviation of the audit trail with the person.
func TestEmergencyStop(t *testing.T) {
	ts := newTestServer(t, 5, nil)
	_, run := ts.call(t, "POST", "/api/runs", `{"protocol":"long.yaml"}`)
	id := run["run_id"].(string)
	time.Sleep(200 * time.Millisecond)
	if code, _ := ts.call(t, "POST", "/api/run/estop", `{}`); code != 200 {
		t.Fatalf("estop: %d", code)
	}
	res := ts.waitIdle(t, id)
	if res.Outcome != runlog.OutcomeAborted || res.AbortReason != "emergency stop from the bench view by tester" {
		t.Fatalf("%s %q", res.Outcome, res.AbortReason)
	}
	trip := false
	for _, ev := range events(t, filepath.Join(ts.runsDir, id)) {
		trip = trip || ev.Kind == runlog.KindSafetyTrip && ev.Msg == res.AbortReason
	}
	if !trip {
		t.Error("no safety.trip event")
	}
	// Without logins the person is the server's --operator.
	tester := runlog.OperatorData{By: "tester", Via: "bench-view"}
	checkTrail(t, filepath.Join(ts.runsDir, id), []runlog.OperatorData{
		with(tester, runlog.ActionStart, "", false), with(tester, runlog.ActionEStop, "", true)})
}

// TestBadUploads: every way a protocol can be refused, with the errors of
// `mockloop validate`, and nothing started.
func TestBadUploads(t *testing.T) {
	ts := newTestServer(t, 5, nil)
	bad := "protocol: 1\nname: x\nsteps:\n  - set: {loop.resistance: 3}\n    hold: 1 fortnight\n"
	for _, tc := range []struct {
		name, path, body string
		code             int
		want             []string // in the errors, in order
	}{
		{"invalid upload", "/api/validate", `{"name":"x.yaml","source":` + jsonString(bad) + `}`, 422,
			[]string{`x.yaml:4:28: loop.resistance: \"3\" needs a resistance unit`, "x.yaml:5:11:"}},
		{"invalid upload started", "/api/runs", `{"name":"x.yaml","source":` + jsonString(bad) + `}`, 422, []string{"x.yaml:4:28:"}},
		{"broken file", "/api/runs", `{"protocol":"broken.yaml"}`, 422, []string{"broken.yaml:4:11:"}},
		{"not yaml", "/api/validate", `{"name":"y.yaml","source":"steps: [\n"}`, 422, []string{"y.yaml:"}},
		{"unknown file", "/api/runs", `{"protocol":"nope.yaml"}`, 404, []string{"no protocol nope.yaml"}},
		{"path outside", "/api/runs", `{"protocol":"../rigs/sim.yaml"}`, 400, []string{"is not a protocol file name"}},
		{"not a protocol file", "/api/runs", `{"protocol":"notes.txt"}`, 400, nil},
		{"both", "/api/validate", `{"protocol":"short.yaml","source":"x"}`, 400, []string{"not both"}},
		{"nothing", "/api/validate", `{}`, 400, []string{"no protocol"}},
		{"unknown field", "/api/runs", `{"protocl":"short.yaml"}`, 400, nil},
		{"too large", "/api/validate", `{"source":"` + strings.Repeat("a", maxProtocol+1) + `"}`, 413, nil},
		{"garbage", "/api/runs", `{"protocol":`, 400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, m := ts.call(t, "POST", tc.path, tc.body)
			if code != tc.code {
				t.Fatalf("%d %v, want %d", code, m, tc.code)
			}
			errs, _ := json.Marshal(m["errors"])
			if m["error"] == nil || m["error"] == "" {
				t.Errorf("no error message: %v", m)
			}
			at := 0
			for _, w := range tc.want {
				i := strings.Index(string(errs[at:]), w)
				if i < 0 {
					t.Fatalf("errors %s lack %q", errs, w)
				}
				at += i
			}
		})
	}
	if sums, _ := runlog.List(ts.runsDir); len(sums) != 0 {
		t.Errorf("%d runs started by refused protocols", len(sums))
	}
	code, m := ts.call(t, "POST", "/api/validate", `{"protocol":"short.yaml"}`)
	if code != 200 || m["valid"] != true || m["steps"] != 2.0 || m["planned_s"] != 8.0 {
		t.Errorf("valid protocol: %d %v", code, m)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestProtocolList: the directory's protocols, checked against the rig.
func TestProtocolList(t *testing.T) {
	ts := newTestServer(t, 5, nil)
	resp, err := http.Get(ts.url + "/api/protocols")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []protocolEntry
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	got := map[string]protocolEntry{}
	for _, p := range list {
		got[p.File] = p
	}
	if len(list) != 3 || got["short.yaml"].Name != "short" || got["short.yaml"].PlannedS != 8 || len(got["broken.yaml"].Errors) == 0 {
		t.Errorf("protocols %+v", list)
	}
	if e := got["broken.yaml"].Errors; len(e) > 0 && e[0].Line != 4 {
		t.Errorf("broken.yaml error at line %d, want 4", e[0].Line)
	}
}

// TestTokens: on a non-loopback address a token guards every change and,
// with a read token, every read.
func TestTokens(t *testing.T) {
	ts := newTestServer(t, 5, func(c *Config) { c.Loopback, c.Token, c.ReadToken = false, writeToken, readToken })
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
		code                     int
	}{
		{"read without token", "GET", "/api/status", "", nil, 401},
		{"read with read token", "GET", "/api/status", "", bearer(readToken), 200},
		{"read with write token", "GET", "/api/runs", "", bearer(writeToken), 200},
		{"read with wrong token", "GET", "/api/status", "", bearer("nope"), 401},
		{"live without token", "GET", "/api/live", "", nil, 401},
		{"report without token", "GET", "/runs/20261121T000000Z-abcdef/report.html", "", nil, 401},
		{"change without token", "POST", "/api/runs", `{"protocol":"short.yaml"}`, nil, 401},
		{"change with read token", "POST", "/api/runs", `{"protocol":"short.yaml"}`, bearer(readToken), 403},
		{"change with wrong token", "POST", "/api/run/stop", `{"reason":"test over"}`, bearer("write"), 401},
		{"validate with read token", "POST", "/api/validate", `{"protocol":"short.yaml"}`, bearer(readToken), 403},
		{"not JSON", "POST", "/api/run/stop", "", bearer(writeToken), 415},
		{"foreign origin", "POST", "/api/run/stop", `{"reason":"test over"}`, append(bearer(writeToken), "Origin", "http://evil.example"), 403},
		{"login wrong", "POST", "/api/login", `{"token":"guess"}`, nil, 401},
		{"page without token", "GET", "/", "", nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, m := ts.call(t, tc.method, tc.path, tc.body, tc.hdr...); code != tc.code {
				t.Errorf("%d %v, want %d", code, m, tc.code)
			}
		})
	}
	// The status says whether the caller may change things.
	if _, st := ts.call(t, "GET", "/api/status", "", bearer(readToken)...); st["write"] != false {
		t.Errorf("read token: write %v", st["write"])
	}
	// A login sets a cookie that then stands for the token.
	req, _ := http.NewRequest("POST", ts.url+"/api/login", strings.NewReader(`{"token":"`+writeToken+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			cookie = c
		}
	}
	if resp.StatusCode != 200 || cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login: %d, cookie %+v", resp.StatusCode, cookie)
	}
	code, m := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`, "Cookie", cookie.String())
	if code != http.StatusAccepted {
		t.Fatalf("start with the login cookie: %d %v", code, m)
	}
	ts.token = writeToken
	ts.call(t, "POST", "/api/run/stop", `{"reason":"test over"}`)
	ts.waitIdle(t, m["run_id"].(string))
}

// TestLoopbackGuards: on loopback, no token is needed, but a request
// naming another host (DNS rebinding) or coming from another site is
// refused.
func TestLoopbackGuards(t *testing.T) {
	ts := newTestServer(t, 5, nil)
	if code, st := ts.call(t, "GET", "/api/status", ""); code != 200 || st["write"] != true {
		t.Fatalf("loopback status: %d %v", code, st)
	}
	if code, _ := ts.call(t, "GET", "/api/status", "", "Host", "rebind.example:8080"); code != 403 {
		t.Errorf("foreign Host: %d, want 403", code)
	}
	if code, _ := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`, "Origin", "https://evil.example"); code != 403 {
		t.Errorf("foreign Origin: %d, want 403", code)
	}
	if code, _ := ts.call(t, "POST", "/api/runs", "protocol=short.yaml", "Content-Type", "application/x-www-form-urlencoded"); code != 415 {
		t.Errorf("form post: %d, want 415", code)
	}
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "[::1]:80": true, "localhost:8080": true,
		":8080": false, "0.0.0.0:8080": false, "192.168.1.5:8080": false, "bench.lab:8080": false} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestHistoryAndReports: a finished run is in the history with its
// outcome and report links, which serve the files; others are 404.
func TestHistoryAndReports(t *testing.T) {
	ts := newTestServer(t, 20, nil)
	_, run := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`)
	id := run["run_id"].(string)
	ts.waitIdle(t, id)
	resp, err := http.Get(ts.url + "/api/runs")
	if err != nil {
		t.Fatal(err)
	}
	var hist []historyEntry
	err = json.NewDecoder(resp.Body).Decode(&hist)
	resp.Body.Close()
	if err != nil || len(hist) != 1 || hist[0].RunID != id || hist[0].Outcome != runlog.OutcomePass || hist[0].Dir != "" {
		t.Fatalf("history %+v, %v", hist, err)
	}
	link := hist[0].Reports["html"]
	if link != "/runs/"+id+"/report.html" || hist[0].Reports["junit"] == "" || hist[0].Reports["pdf"] == "" || hist[0].Reports["criteria"] != "/runs/"+id+"/criteria.csv" {
		t.Fatalf("report links %v", hist[0].Reports)
	}
	resp, err = http.Get(ts.url + link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte(id)) {
		t.Errorf("report: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	// The record's result and manifest are served, for remote clients.
	if code, m := ts.call(t, "GET", "/runs/"+id+"/manifest.json", ""); code != 200 || m["run_id"] != id {
		t.Errorf("manifest: %d %v", code, m["run_id"])
	}
	for _, p := range []string{"/runs/" + id + "/events.jsonl", "/runs/" + id + "/..%2fmanifest.json", "/runs/not-a-run/report.html", "/runs/20991231T000000Z-abcdef/report.html"} {
		if code, _ := ts.call(t, "GET", p, ""); code != 404 {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
}

// TestLiveStream: a subscriber gets hello, the run, its steps, beats,
// frames, criteria and the end with the report links, in order.
func TestLiveStream(t *testing.T) {
	ts := newTestServer(t, 10, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp := ts.watch(t, ctx)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	_, run := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`)
	seen := map[string]int{}
	var order []string
	var end map[string]any
	readSSE(resp.Body, func(event, data string) bool {
		if seen[event] == 0 {
			order = append(order, event)
		}
		seen[event]++
		if event == "queue" { // the list of entries (TestQueueFIFOAndCancel)
			return true
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			t.Fatalf("%s: %v: %s", event, err, data)
		}
		switch event {
		case "hello":
			if v["state"] != "idle" || v["rig"] != "sim" {
				t.Errorf("hello %v", v)
			}
		case "step":
			if v["total"] != 2.0 {
				t.Errorf("step %v", v)
			}
		case "criterion":
			if v["id"] != "R-1" || v["verdict"] != "pass" {
				t.Errorf("criterion %v", v)
			}
		case "end":
			end = v
		}
		return end == nil
	})
	if end == nil || end["run_id"] != run["run_id"] || end["queue_id"] != run["id"] || end["outcome"] != "pass" || end["reports"].(map[string]any)["html"] == nil {
		t.Fatalf("end %v", end)
	}
	order = slices.DeleteFunc(order, func(e string) bool { return e == "queue" })
	if order[0] != "hello" || order[1] != "run" || seen["queue"] < 2 || seen["step"] != 2 || seen["beat"] < 5 || seen["frames"] < 35 || seen["criterion"] != 1 {
		t.Errorf("events in order %v, counts %v", order, seen)
	}
}

// TestTooManyWatchers: live streams are bounded; one over the bound is
// refused, and closing one makes room.
func TestTooManyWatchers(t *testing.T) {
	ts := newTestServer(t, 5, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var first context.CancelFunc
	for i := range maxWatchers {
		cctx, ccancel := context.WithCancel(ctx)
		defer ccancel()
		if i == 0 {
			first = ccancel
		}
		req, _ := http.NewRequestWithContext(cctx, "GET", ts.url+"/api/live", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("watcher %d: %v %v", i, resp, err)
		}
		defer resp.Body.Close()
	}
	if code, m := ts.call(t, "GET", "/api/live", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("watcher %d: %d %v, want 503", maxWatchers+1, code, m)
	}
	first()
	for deadline := time.Now().Add(10 * time.Second); ts.hub.Subscribers() >= maxWatchers; {
		if time.Now().After(deadline) {
			t.Fatal("a closed watcher was not removed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLateWatcherCatchesUp: a page opened mid-run gets, in its hello, the
// step under way, the criteria decided so far and the latest beat.
func TestLateWatcherCatchesUp(t *testing.T) {
	ts := newTestServer(t, 4, nil)
	_, run := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`)
	for deadline := time.Now().Add(30 * time.Second); ; {
		// Step 1 judged and step 2 under way: the criterion's event and
		// the next step's start reach the server one after the other
		// (under qemu a poll fell between them).
		_, st := ts.call(t, "GET", "/api/status", "")
		step, _ := st["step"].(map[string]any)
		if c, _ := st["criteria"].([]any); len(c) == 1 && step["index"] == 2.0 {
			break
		}
		if time.Now().After(deadline) || st["state"] == "idle" {
			t.Fatalf("step 1 never judged while running: %v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := ts.watch(t, ctx)
	defer resp.Body.Close()
	var hello struct {
		Run      map[string]any
		Step     map[string]any
		Criteria []map[string]any
		Beat     *runlog.Beat
	}
	readSSE(resp.Body, func(event, data string) bool {
		if err := json.Unmarshal([]byte(data), &hello); err != nil || event != "hello" {
			t.Errorf("first event %s %v", event, err)
		}
		return false
	})
	if hello.Run["run_id"] != run["run_id"] || hello.Step["index"] != 2.0 || len(hello.Criteria) != 1 || hello.Criteria[0]["id"] != "R-1" || hello.Beat == nil || hello.Beat.Channel != "aop" {
		t.Errorf("hello mid-run: %+v", hello)
	}
	ts.call(t, "POST", "/api/run/stop", `{"reason":"test over"}`)
	ts.waitIdle(t, run["run_id"].(string))
}

// watch opens the live stream until ctx ends.
func (ts *testServer) watch(t testing.TB, ctx context.Context) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+"/api/live", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// readSSE calls fn with each server-sent event of r until fn returns false
// or the stream ends.
func readSSE(r io.Reader, fn func(event, data string) bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if e, ok := strings.CutPrefix(line, "event: "); ok {
			event = e
		} else if data, ok := strings.CutPrefix(line, "data: "); ok && !fn(event, data) {
			return
		}
	}
}

// TestIdleViewShowsWhatElseHoldsTheBench: while another holder has the
// bench (here a calibration session), the idle view's status is that
// holder's, not "idle", and a stop reaches it through the bench's control
// socket — which a calibration refuses, said with a 409; once the bench is
// free the view is idle again.
func TestIdleViewShowsWhatElseHoldsTheBench(t *testing.T) {
	ts := newTestServer(t, 5, nil)
	cfg := *ts.cfg.Rig
	cfg.CalibrationFile = filepath.Join(t.TempDir(), "cal.json")
	cal, err := rig.OpenCalibration(&cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	code, st := ts.call(t, "GET", "/api/status", "")
	other, _ := st["other"].(map[string]any)
	if code != http.StatusOK || st["state"] != "calibration" || other == nil || other["pid"] != float64(os.Getpid()) {
		t.Fatalf("status during a calibration: %d %v", code, st)
	}
	code, m := ts.call(t, "POST", "/api/run/estop", `{}`)
	if code != http.StatusConflict || !strings.Contains(m["error"].(string), "calibration is in progress") {
		t.Errorf("e-stop during a calibration: %d %v", code, m)
	}
	cal.Close()
	if _, st := ts.call(t, "GET", "/api/status", ""); st["state"] != "idle" || st["other"] != nil {
		t.Errorf("status after the calibration: %v", st)
	}
	if code, _ := ts.call(t, "POST", "/api/run/stop", `{"reason":"test over"}`); code != http.StatusConflict {
		t.Errorf("stop with nothing on the bench: %d, want 409", code)
	}
}
