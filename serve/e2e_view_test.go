package serve

import (
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mockloop/mockloop/runlog"
)

// startRun starts protocol on the server through the API, as another
// page or a CI job would, and waits for its end.
func runThroughAPI(t *testing.T, server, runs, protocol string) string {
	t.Helper()
	ts := &testServer{url: server, runsDir: runs}
	code, q := ts.call(t, "POST", "/api/runs", fmt.Sprintf(`{"protocol":%q}`, protocol))
	if code != http.StatusAccepted || q["run_id"] == nil {
		t.Fatalf("start %s: %d %v", protocol, code, q)
	}
	id := q["run_id"].(string)
	ts.waitIdle(t, id)
	return id
}

// tracePixels waits (generously: the page draws at its next animation
// frame, late on a loaded machine) until a canvas has at least want
// pixels drawn in a colour (within a small tolerance, for anti-aliasing),
// and returns how many it has.
func tracePixels(b *browser, canvas, rgb string, want int) int {
	b.t.Helper()
	n := 0
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if n = countPixels(b, canvas, rgb); n >= want {
			break
		}
	}
	return n
}

func countPixels(b *browser, canvas, rgb string) int {
	b.t.Helper()
	return evalAs[int](b, fmt.Sprintf(`(() => {
		const cv = %s, [r, g, bl] = [%s];
		if (!cv || !cv.width) return 0;
		const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
		let n = 0;
		for (let i = 0; i < d.length; i += 4) {
			if (d[i+3] > 200 && Math.abs(d[i]-r) < 24 && Math.abs(d[i+1]-g) < 24 && Math.abs(d[i+2]-bl) < 24) n++;
		}
		return n;
	})()`, canvas, rgb))
}

// TestE2EAlarmAndPastRuns: an e-stop from the page is shown red with an
// Acknowledge, whose click is an entry of the bench audit log; the page
// reopened after the run shows that run's verdict, not a stale step; a
// past run opens in the view from its record (verified), another is
// overlaid on it, dashed; the cursor reads values; the pressures go on
// one axis.
func TestE2EAlarmAndPastRuns(t *testing.T) {
	benchLog := filepath.Join(t.TempDir(), "audit.jsonl")
	ts, runs := newE2EServer(t, func(c *Config) {
		c.Protocols, c.ProtocolsDir, c.BenchLog, c.Operator = testProtocols, "testdata", benchLog, "bob"
	})
	b := newBrowser(t, ts.URL)
	first := runThroughAPI(t, ts.URL, runs, "short.yaml")
	second := runThroughAPI(t, ts.URL, runs, "short.yaml")

	// The page opened after a run shows it: its verdict, no step under way.
	b.open(ts.URL, "long.yaml")
	b.waitJS("the last run's verdict", fmt.Sprintf(`!document.getElementById('verdict').hidden && document.getElementById('verdict').dataset.runId === %q`, second), 10*time.Second)
	if s := b.text("step"); !strings.HasPrefix(s, "idle · last run "+second) || b.text("remaining") != "—" {
		t.Errorf("idle page: step %q, remaining %q", s, b.text("remaining"))
	}
	if v := b.text("verdict"); !strings.HasPrefix(v, "PASS") {
		t.Errorf("idle page verdict %q", v)
	}

	// An e-stop: red, with an acknowledge that goes into the bench log.
	b.do("start the long run", 10*time.Second,
		chromedp.SetValue(chromedp.ID("protocol-select"), "long.yaml"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('protocol-select').dispatchEvent(new Event('change'))`),
		chromedp.WaitEnabled(chromedp.ID("start")), chromedp.Click(chromedp.ID("start")))
	b.waitJS("running", `document.getElementById('state').textContent === 'running' && window.mockloop.framesReceived > 0`, 30*time.Second)
	b.do("e-stop", 10*time.Second, chromedp.Click(chromedp.ID("estop")))
	runID, res := b.verdict(runs)
	if res.Outcome != runlog.OutcomeAborted || b.attr("verdict", "data-stop") != "estop" || b.attr("verdict", "class") != "verdict outcome-aborted" {
		t.Errorf("e-stop shown as %s (%s)", b.attr("verdict", "data-stop"), b.attr("verdict", "class"))
	}
	// No stale step or time left once the run is over.
	if s, rem := b.text("step"), b.text("remaining"); !strings.HasPrefix(s, "idle · last run "+runID) || rem != "—" {
		t.Errorf("after the run: step %q, remaining %q", s, rem)
	}
	if s := b.text("safety"); b.attr("safety", "class") != "safety-tripped" || !strings.Contains(s, res.AbortReason) {
		t.Errorf("safety shows %q after an e-stop", s)
	}
	b.do("acknowledge", 10*time.Second, chromedp.WaitVisible(chromedp.ID("ack")),
		chromedp.SetValue(chromedp.ID("reason"), "pump re-primed"), chromedp.Click(chromedp.ID("ack")))
	b.waitJS("acknowledged", `document.getElementById('ack-note').textContent.startsWith('acknowledged by bob')`, 10*time.Second)
	b.screenshot("serve-e2e-estop-acknowledged.png")
	log, err := runlog.ReadBenchLog(benchLog)
	if err != nil || len(log) != 1 || log[0].Action != runlog.ActionAcknowledge || log[0].Subject != runID || log[0].By != "bob" || log[0].Reason != "pump re-primed" {
		t.Errorf("bench log %+v, %v", log, err)
	}

	// A past run from its record, and another overlaid on it.
	b.waitJS("history", fmt.Sprintf(`!!document.querySelector('button.open-run[data-run=%q]')`, first), 10*time.Second)
	b.do("open a past run", 10*time.Second, chromedp.Click(chromedp.CSS(fmt.Sprintf(`button.open-run[data-run=%q]`, first))))
	b.waitJS("past run shown", `document.getElementById('view-mode').textContent.includes('record verified')`, 10*time.Second)
	aop := `document.querySelector('canvas.wave[data-channel="aop"]')`
	idx := evalAs[int](b, `[...document.querySelectorAll('canvas.wave')].findIndex(c => c.dataset.channel === 'aop')`)
	palette := []string{"11,92,173", "179,22,27", "20,108,46", "123,63,160", "163,82,0", "0,112,122", "93,64,55", "176,24,107", "61,85,102", "95,122,0"}
	if n := tracePixels(b, aop, palette[idx%len(palette)], 50); n < 50 {
		t.Errorf("the past run's aop trace has %d pixels", n)
	}
	if rows := evalAs[int](b, `document.querySelectorAll('#criteria tbody tr').length`); rows != 1 {
		t.Errorf("past run: %d criteria rows, want 1", rows)
	}
	b.do("overlay another", 10*time.Second, chromedp.Click(chromedp.CSS(fmt.Sprintf(`button.overlay-run[data-run=%q]`, second))))
	b.waitJS("overlaid", fmt.Sprintf(`document.getElementById('wave-note').textContent.includes(%q)`, second+" (dashed"), 10*time.Second)
	if n := tracePixels(b, aop, "107,114,128", 20); n < 20 {
		t.Errorf("the overlaid run's aop trace has %d pixels", n)
	}
	// The cursor reads every trace's value at the time under the pointer.
	b.do("hover", 10*time.Second, chromedp.Evaluate[chromedp.Void](aop+`.dispatchEvent(new PointerEvent('pointermove', {clientX: `+aop+`.getBoundingClientRect().left + `+aop+`.getBoundingClientRect().width / 2, clientY: `+aop+`.getBoundingClientRect().top + 10}))`))
	if s := b.text("cursor-read"); !strings.HasPrefix(s, "t ") || !strings.Contains(s, "aop ") || strings.Contains(s, "aop —") {
		t.Errorf("cursor read-out %q", s)
	}
	// The pressures on one axis, each in its colour.
	b.do("overlay pressures", 10*time.Second, chromedp.Click(chromedp.ID("overlay")))
	b.waitJS("pressures overlaid", `!!document.querySelector('canvas.wave.overlay') && document.querySelectorAll('.overlay-box .legend').length >= 2`, 10*time.Second)
	if n := tracePixels(b, `document.querySelector('canvas.wave.overlay')`, palette[idx%len(palette)], 50); n < 50 {
		t.Errorf("the overlay's aop trace has %d pixels", n)
	}
	b.screenshot("serve-e2e-past-overlaid.png")
	b.checkClean("alarm and past runs", false)
}

// TestE2EIdleSignals: the page of a rig that runs nothing draws its
// signals, sampled at the safe state, before any run; nothing is
// recorded.
func TestE2EIdleSignals(t *testing.T) {
	ts, runs := newE2EServer(t, func(c *Config) { c.IdleSignals = true })
	b := newBrowser(t, ts.URL)
	b.open(ts.URL, "demo.yaml")
	b.waitJS("idle signals", `document.getElementById('view-mode').textContent.includes('safe state') && window.mockloop.framesReceived > 3 && !!document.querySelector('canvas.wave[data-channel="aop"]')`, 30*time.Second)
	aop := `document.querySelector('canvas.wave[data-channel="aop"]')`
	idx := evalAs[int](b, `[...document.querySelectorAll('canvas.wave')].findIndex(c => c.dataset.channel === 'aop')`)
	palette := []string{"11,92,173", "179,22,27", "20,108,46", "123,63,160", "163,82,0", "0,112,122", "93,64,55", "176,24,107", "61,85,102", "95,122,0"}
	b.waitJS("drawn", `window.mockloop.drawn > 0 && window.mockloop.lastT > 1`, 30*time.Second)
	if n := tracePixels(b, aop, palette[idx%len(palette)], 50); n < 50 {
		t.Errorf("the idle aop trace has %d pixels", n)
	}
	if s := b.text("state"); s != "idle" {
		t.Errorf("state %q while sampling idle", s)
	}
	if list, _ := runlog.List(runs); len(list) != 0 {
		t.Errorf("idle sampling recorded %d runs", len(list))
	}
	b.screenshot("serve-e2e-idle-signals.png")

	// A longer window, then frozen: frames keep coming, the display stays.
	b.do("1 min window", 10*time.Second, chromedp.SetValue(chromedp.ID("window"), "60"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('window').dispatchEvent(new Event('change'))`))
	b.waitJS("window note", `document.getElementById('wave-note').textContent === 'Last 1:00 of run time'`, 10*time.Second)
	b.do("freeze", 10*time.Second, chromedp.Click(chromedp.ID("freeze")))
	b.waitJS("frozen", `document.getElementById('freeze').getAttribute('aria-pressed') === 'true' && document.getElementById('wave-note').textContent.startsWith('Frozen at')`, 10*time.Second)
	// The freeze's own redraw comes at the next animation frame, late on
	// a loaded machine: wait until nothing is drawn for a second.
	for drawn, deadline := -1, time.Now().Add(20*time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		now := evalAs[int](b, `window.mockloop.drawn`)
		if now == drawn {
			break
		}
		drawn = now
	}
	img1, frames1, drawn1 := evalAs[string](b, aop+`.toDataURL()`), evalAs[int](b, `window.mockloop.framesReceived`), evalAs[int](b, `window.mockloop.drawn`)
	b.waitJS("more frames", fmt.Sprintf(`window.mockloop.framesReceived > %d + 20`, frames1), 30*time.Second)
	if img2, drawn2 := evalAs[string](b, aop+`.toDataURL()`), evalAs[int](b, `window.mockloop.drawn`); img2 != img1 || drawn2 != drawn1 {
		t.Errorf("the frozen display changed (%d draws, then %d)", drawn1, drawn2)
	}
	b.do("unfreeze", 10*time.Second, chromedp.Click(chromedp.ID("freeze")))
	b.checkClean("idle signals", false)
}

// TestE2EPrompt is the acceptance test of a prompt answered from the page.
func TestE2EPrompt(t *testing.T) {
	protos := maps.Clone(testProtocols)
	protos["ask.yaml"] = &fstest.MapFile{Data: []byte(askProtocol)}
	ts, runs := newE2EServer(t, func(c *Config) { c.Protocols, c.ProtocolsDir, c.Operator = protos, "testdata", "carol" })
	b := newBrowser(t, ts.URL)
	b.open(ts.URL, "ask.yaml")
	b.do("start the prompting run", 10*time.Second,
		chromedp.SetValue(chromedp.ID("protocol-select"), "ask.yaml"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('protocol-select').dispatchEvent(new Event('change'))`),
		chromedp.WaitEnabled(chromedp.ID("start")), chromedp.Click(chromedp.ID("start")))
	b.waitJS("the prompt shown", `!document.getElementById('prompt-box').hidden && document.querySelectorAll('#prompt-choices button').length === 2`, 30*time.Second)
	if m := b.text("prompt-msg"); m != "Is the loop dry?" {
		t.Errorf("prompt message %q", m)
	}
	b.screenshot("serve-e2e-prompt.png")
	b.do("answer yes", 10*time.Second, chromedp.Click(chromedp.CSS(`#prompt-choices button[data-choice="yes"]`)))
	b.waitJS("the prompt gone", `document.getElementById('prompt-box').hidden`, 20*time.Second)
	runID, res := b.verdict(runs)
	if res.Outcome != runlog.OutcomePass {
		t.Errorf("outcome %s %q", res.Outcome, res.AbortReason)
	}
	var answers []string
	for _, ev := range events(t, filepath.Join(runs, runID)) {
		var d runlog.OperatorData
		if ev.Kind == runlog.KindOperator && ev.Decode(&d) == nil && d.Action == runlog.ActionPromptAnswer {
			answers = append(answers, d.New+" "+d.Via)
		}
	}
	if len(answers) != 1 || answers[0] != "yes bench-view" {
		t.Errorf("answers recorded: %q", answers)
	}
}
