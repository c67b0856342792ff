package serve

import (
	"context"
	"maps"
	"testing"
	"testing/fstest"
	"time"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

// askProtocol asks the operator whether the loop is dry, and expects yes.
const askProtocol = `protocol: 1
name: ask
steps:
  - name: leak check
    set: {loop.preset: healthy}
    prompt: {id: leak-check, message: "Is the loop dry?", choices: [yes, no], expect: yes}
    hold: 1 s
`

// A run's prompt waits in /api/status and in its queue entry; POST
// /api/run/answer refuses a prompt not waiting (404) and an answer it
// does not take (422), and answers it (200): the run goes on, the answer
// in its record with the person and the way.
func TestPromptAnsweredFromTheBenchView(t *testing.T) {
	ts := newTestServer(t, 10, func(c *Config) {
		fs := maps.Clone(testProtocols)
		fs["ask.yaml"] = &fstest.MapFile{Data: []byte(askProtocol)}
		c.Protocols = fs
	})
	if code, _ := ts.call(t, "POST", "/api/run/answer", `{"id":"leak-check","answer":"yes"}`); code != 404 {
		t.Errorf("answer with no run: %d, want 404", code)
	}
	_, run := ts.call(t, "POST", "/api/runs", `{"protocol":"ask.yaml"}`)
	id := run["run_id"].(string)
	deadline := time.Now().Add(60 * time.Second)
	var prompt map[string]any
	for prompt == nil {
		_, st := ts.call(t, "GET", "/api/status", "")
		prompt, _ = st["prompt"].(map[string]any)
		if time.Now().After(deadline) {
			t.Fatalf("no prompt waits: %v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if prompt["id"] != "leak-check" || prompt["step"] != "1" || prompt["message"] != "Is the loop dry?" || prompt["timeout_s"] != nil {
		t.Errorf("prompt %v", prompt)
	}
	e := waitEntry(t, ts, run["id"].(string), func(e map[string]any) bool { return e["prompt"] != nil })
	if p, _ := e["prompt"].(map[string]any); p["id"] != "leak-check" {
		t.Errorf("queue entry's prompt %v", e["prompt"])
	}
	if code, _ := ts.call(t, "POST", "/api/run/answer", `{"id":"other","answer":"yes"}`); code != 404 {
		t.Errorf("answer to another prompt: %d, want 404", code)
	}
	if code, _ := ts.call(t, "POST", "/api/run/answer", `{"id":"leak-check","answer":"maybe"}`); code != 422 {
		t.Errorf("answer maybe: %d, want 422", code)
	}
	if code, _ := ts.call(t, "POST", "/api/run/answer", `{"id":"leak-check","answer":"yes"}`); code != 200 {
		t.Errorf("answer yes: %d, want 200", code)
	}
	res := ts.waitIdle(t, id)
	if res.Outcome != runlog.OutcomePass {
		t.Fatalf("outcome %s %q", res.Outcome, res.AbortReason)
	}
	var by []string
	for _, ev := range events(t, ts.runsDir+"/"+id) {
		var d runlog.OperatorData
		if ev.Kind == runlog.KindOperator && ev.Decode(&d) == nil && d.Action == runlog.ActionPromptAnswer {
			by = append(by, d.New+" "+d.By+" "+d.Via)
		}
	}
	if len(by) != 1 || by[0] != "yes tester bench-view" {
		t.Errorf("answers recorded: %q", by)
	}
}

// A run of another process (a terminal's, which answers its prompts) asks
// on the bench view too: /api/status shows its prompt under "other", and
// POST /api/run/answer passes the answer through the bench's control
// socket (422 for one the prompt refuses); the run's record has it with
// the page's person.
func TestPromptOfATerminalRunAnsweredFromTheView(t *testing.T) {
	ts := newTestServer(t, 10, nil)
	p, err := protocols.Parse("ask.yaml", []byte(askProtocol), ts.cfg.Rig.Info())
	if err != nil {
		t.Fatal(err)
	}
	type ended struct {
		res *runlog.Result
		dir string
		err error
	}
	done := make(chan ended, 1)
	go func() {
		res, dir, err := rig.Run(context.Background(), ts.cfg.Rig, p, rig.Options{RunsDir: t.TempDir(), Version: "test", Operator: "terminal",
			Speed: 10, Prompts: &rig.Prompts{}})
		done <- ended{res, dir, err}
	}()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, st := ts.call(t, "GET", "/api/status", "")
		if o, _ := st["other"].(map[string]any); o != nil {
			if pr, _ := o["prompt"].(map[string]any); pr != nil {
				if pr["id"] != "leak-check" || pr["message"] != "Is the loop dry?" {
					t.Errorf("the terminal run's prompt: %v", pr)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no prompt of the terminal run in /api/status: %v", st)
		}
	}
	if code, m := ts.call(t, "POST", "/api/run/answer", `{"id":"leak-check","answer":"maybe"}`); code != 422 {
		t.Errorf("answer maybe: %d %v, want 422", code, m)
	}
	if code, m := ts.call(t, "POST", "/api/run/answer", `{"id":"other","answer":"yes"}`); code != 404 {
		t.Errorf("answer to another prompt: %d %v, want 404", code, m)
	}
	if code, m := ts.call(t, "POST", "/api/run/answer", `{"id":"leak-check","answer":"yes"}`); code != 200 {
		t.Fatalf("answer yes: %d %v", code, m)
	}
	e := <-done
	if e.err != nil || e.res.Outcome != runlog.OutcomePass {
		t.Fatalf("terminal run: %v %+v", e.err, e.res)
	}
	var by []string
	for _, ev := range events(t, e.dir) {
		var d runlog.OperatorData
		if ev.Kind == runlog.KindOperator && ev.Decode(&d) == nil && d.Action == runlog.ActionPromptAnswer {
			by = append(by, d.New+" "+d.By+" "+d.Via)
		}
	}
	if len(by) != 1 || by[0] != "yes tester bench-view" {
		t.Errorf("answers recorded: %q", by)
	}
}
