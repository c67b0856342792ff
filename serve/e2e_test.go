package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/net/html"

	"github.com/mockloop/mockloop/internal/testtool"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

// e2eSpeed runs the simulated rig this many times faster than real time:
// the 160 s demo protocol takes about 10 s.
const e2eSpeed = 16

// newE2EServer serves the simulated rig with the protocols of configs/,
// recording into a fresh runs directory, which it returns.
func newE2EServer(t *testing.T, tweak ...func(*Config)) (*httptest.Server, string) {
	t.Helper()
	rc, err := rig.LoadConfig("../configs/rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	runs := t.TempDir()
	cfg := Config{Rig: rc, RunsDir: runs, Protocols: os.DirFS("../configs/protocols"),
		ProtocolsDir: "configs/protocols", Version: "e2e-test", Speed: e2eSpeed, Loopback: true}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	// Cleanups run last first: end the run and the live streams, then the
	// HTTP server, which waits for its requests.
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Close() })
	return ts, runs
}

// TestE2EStaticUI checks that the page's files are served under the
// Content-Security-Policy and that index.html asks for nothing but its own
// server's files: the UI must work offline on the bench, and the policy is
// what enforces it in the browser.
func TestE2EStaticUI(t *testing.T) {
	ts, _ := newE2EServer(t)
	get := func(p string) (*http.Response, string) {
		t.Helper()
		res, err := ts.Client().Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", p, res.Status)
		}
		return res, string(b)
	}
	checkCSP := func(p string, res *http.Response) {
		t.Helper()
		csp := res.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:"} {
			if !strings.Contains(csp, d) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", p, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-") {
			t.Errorf("GET %s: Content-Security-Policy %q allows something unsafe", p, csp)
		}
	}

	res, page := get("/")
	checkCSP("/", res)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET /: Content-Type %q", ct)
	}
	refs := sameOriginRefs(t, page)
	for _, want := range []string{"app.js", "style.css"} {
		if !refs[want] {
			t.Errorf("index.html does not load %s (it loads %v)", want, refs)
		}
	}
	absURL := regexp.MustCompile(`(?i)\b(https?|wss?):/{2}|@import`)
	for ref := range refs {
		p := "/" + strings.TrimPrefix(ref, "/")
		res, body := get(p)
		checkCSP(p, res)
		if m := absURL.FindString(body); m != "" {
			t.Errorf("%s refers to another resource (%q): the page must work offline", p, m)
		}
	}
}

// sameOriginRefs returns every resource index.html refers to, after
// checking that each is a relative URL of the page's own server (or a data:
// URL) and that the page has no inline script, style or event handler (which
// the policy would refuse anyway).
func sameOriginRefs(t *testing.T, page string) map[string]bool {
	t.Helper()
	refs := map[string]bool{}
	z := html.NewTokenizer(strings.NewReader(page))
	inScript := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatal(z.Err())
			}
			return refs
		case html.TextToken:
			if inScript && strings.TrimSpace(string(z.Text())) != "" {
				t.Error("index.html has an inline script")
			}
		case html.EndTagToken:
			inScript = false
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if tok.Data == "style" {
				t.Error("index.html has an inline <style>")
			}
			hasSrc := false
			for _, a := range tok.Attr {
				key := strings.ToLower(a.Key)
				switch {
				case key == "style" || strings.HasPrefix(key, "on"):
					t.Errorf("<%s %s=%q>: inline style or script", tok.Data, a.Key, a.Val)
				case key == "src" || key == "href" || key == "action" || key == "formaction" || key == "poster" || key == "data" || key == "srcset":
					hasSrc = hasSrc || key == "src"
					u, err := url.Parse(strings.TrimSpace(a.Val))
					switch {
					case err != nil:
						t.Errorf("<%s %s=%q>: %v", tok.Data, a.Key, a.Val, err)
					case u.Scheme == "data":
					case u.Scheme != "" || u.Host != "" || strings.HasPrefix(a.Val, "//"):
						t.Errorf("<%s %s=%q> refers to another server", tok.Data, a.Key, a.Val)
					case u.Path != "" && !strings.HasPrefix(a.Val, "#"):
						refs[u.Path] = true
					}
				}
			}
			inScript = tok.Data == "script" && !hasSrc && tt == html.StartTagToken
		}
	}
}

// browser is a headless Chromium tab that records what the page says on
// its console (calls, uncaught exceptions, browser log entries) and every
// URL it asks for that is not on the test server.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	foreign []string
}

func newBrowser(t *testing.T, server string) *browser {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: drives headless Chromium through a run paced on the wall clock")
	}
	bin := testtool.Need(t, "chromium", "chromium")
	origin, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelTab)
	b := &browser{t: t, ctx: ctx}

	messages := chromedp.Console(ctx) // subscribed from here on
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	if err := chromedp.Listen(ctx, func(ev any) {
		var raw string
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			raw = ev.Request.URL
		case *network.EventWebSocketCreated:
			raw = ev.URL
		default:
			return
		}
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "data" && u.Host != origin.Host) {
			b.mu.Lock()
			b.foreign = append(b.foreign, raw)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// checkClean fails the test for every console error and every request to
// another host since the last check. httpErrors allows the browser's own
// "Failed to load resource" entries, for a stage where the page is meant
// to meet error statuses (an invalid protocol, a missing token).
func (b *browser) checkClean(stage string, httpErrors bool) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if httpErrors && m.Source == "network" {
			continue
		}
		if m.Type == chromedp.ConsoleError || m.IsException() {
			b.t.Errorf("%s: console %s (%s:%d)", stage, m, m.URL, m.Line+1)
		}
	}
	b.console = nil
	for _, u := range b.foreign {
		b.t.Errorf("%s: request to another host: %s", stage, u)
	}
	b.foreign = nil
}

// do runs actions, failing the test after timeout.
func (b *browser) do(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// waitJS waits until the JavaScript expression is true.
func (b *browser) waitJS(what, expr string, timeout time.Duration) {
	b.t.Helper()
	b.do(what, timeout+5*time.Second, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
}

func evalAs[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func (b *browser) text(id string) string {
	b.t.Helper()
	return evalAs[string](b, fmt.Sprintf(`document.getElementById(%q).textContent`, id))
}

func (b *browser) attr(id, name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.ID(id), name))
	if err != nil || !v.Exists {
		b.t.Fatalf("#%s[%s]: %v (exists %v)", id, name, err, v.Exists)
	}
	return v.Value
}

// screenshot saves the whole page as a PNG in the test's artifact
// directory (kept with go test -artifacts).
func (b *browser) screenshot(name string) {
	b.t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	png := filepath.Join(b.t.ArtifactDir(), name)
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", png)
}

// open loads the page and waits for the protocol list and the live stream,
// so that the page sees a run it starts from its beginning.
// login signs in on the page's form by name and password.
func (b *browser) login(server, name, password string) {
	b.t.Helper()
	b.do("sign in as "+name, 30*time.Second,
		chromedp.Navigate(server+"/"),
		chromedp.WaitVisible(chromedp.ID("token-form")),
		chromedp.SendKeys(chromedp.ID("login-name"), name),
		chromedp.SetValue(chromedp.ID("token"), password),
		chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)),
		chromedp.WaitNotVisible(chromedp.ID("token-form")))
}

// open opens the page and waits until it lists protocol and its live
// stream is up.
func (b *browser) open(server, protocol string) {
	b.t.Helper()
	b.do("open the page", 30*time.Second,
		chromedp.Navigate(server+"/"),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#protocol-select option[value=%q]`, protocol))))
	b.waitJS("live stream", `document.getElementById('conn').textContent === 'live'`, 20*time.Second)
}

// verdict waits for the run's verdict and checks it against result.json.
func (b *browser) verdict(runs string) (runID string, res runlog.Result) {
	b.t.Helper()
	b.do("wait for the verdict", 90*time.Second, chromedp.WaitVisible(chromedp.ID("verdict")))
	outcome, runID := b.attr("verdict", "data-outcome"), b.attr("verdict", "data-run-id")
	shown := b.text("verdict")
	data, err := os.ReadFile(filepath.Join(runs, runID, "result.json"))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		b.t.Fatal(err)
	}
	want := strings.ToUpper(string(res.Outcome))
	if res.AbortReason != "" {
		want += " — " + res.AbortReason
	}
	if b.attr("verdict", "data-stop") == "stop" { // a person's stop: neutral, with who and why
		want = "STOPPED — stopped by "
	}
	if outcome != string(res.Outcome) || !strings.HasPrefix(shown, want) {
		b.t.Errorf("the page says %q (%s), result.json says %s %s", shown, outcome, res.Outcome, res.AbortReason)
	}
	b.t.Logf("run %s: %s", runID, shown)
	return runID, res
}

// TestE2E runs the demo protocol from the web page in headless Chromium,
// as an engineer at the bench would: pick it, start it, watch the
// waveforms move, wait for the verdict, open the report. The page must
// log no error and ask no other host for anything.
func TestE2E(t *testing.T) {
	ts, runs := newE2EServer(t)
	b := newBrowser(t, ts.URL)
	b.open(ts.URL, "demo.yaml")
	b.do("start the demo", 10*time.Second,
		chromedp.SetValue(chromedp.ID("protocol-select"), "demo.yaml"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('protocol-select').dispatchEvent(new Event('change'))`),
		chromedp.WaitEnabled(chromedp.ID("start")),
		chromedp.Click(chromedp.ID("start")))

	// The waveforms move: a canvas changes between two looks 500 ms apart,
	// and frames keep coming.
	const aop = `document.querySelector('canvas.wave[data-channel="aop"]')`
	b.do("waveforms appear", 30*time.Second, chromedp.WaitVisible(chromedp.CSS(`canvas.wave[data-channel="aop"]`)))
	b.waitJS("frames drawn", `window.mockloop.framesReceived > 0 && window.mockloop.drawn > 0`, 20*time.Second)
	channels := evalAs[int](b, `document.querySelectorAll('canvas.wave').length`)
	img1, frames1 := evalAs[string](b, aop+`.toDataURL()`), evalAs[int](b, `window.mockloop.framesReceived`)
	time.Sleep(500 * time.Millisecond)
	img2, frames2 := evalAs[string](b, aop+`.toDataURL()`), evalAs[int](b, `window.mockloop.framesReceived`)
	if img1 == img2 {
		t.Error("the aop waveform did not change in 500 ms")
	}
	if frames2 <= frames1 {
		t.Errorf("frames received: %d, 500 ms later %d", frames1, frames2)
	}
	t.Logf("%d waveforms; %d frame messages, 500 ms later %d", channels, frames1, frames2)

	runID, res := b.verdict(runs)
	if rows := evalAs[int](b, `document.querySelectorAll('#criteria tbody tr').length`); rows != len(res.Criteria) {
		t.Errorf("criteria table has %d rows, result.json %d criteria", rows, len(res.Criteria))
	}
	if s := b.text("safety"); s != "OK" {
		t.Errorf("safety shows %q after a run without a trip", s)
	}
	b.waitJS("the run in the history", fmt.Sprintf(`document.getElementById('history').textContent.includes(%q)`, runID), 10*time.Second)
	b.checkClean("main page", false)

	b.screenshot("serve-e2e.png")

	// The report the page links to.
	href := b.attr("report-link", "href")
	b.do("open the report", 30*time.Second, chromedp.Navigate(ts.URL+href))
	title, err := chromedp.Run(b.ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, runID) && !strings.Contains(title, "demo") {
		t.Errorf("report %s has title %q: neither the run id nor the protocol", href, title)
	}
	b.checkClean("report page", false)
}

// e2eShort is a protocol of three quiet steps, the first two of 240 s
// (15 s of wall time each at e2eSpeed: time enough to click pause, with
// and without a reason, within the first step and stop within the second
// on a loaded machine — 60 s, 4 s of wall time, was over before the pause
// under make test-stress); e2eBroken has a mistake on each of three lines.
const (
	e2eShort = `protocol: 1
name: e2e-short
description: three quiet steps for the controls test
requires: [aop]
steps:
  - name: one
    set:
      loop.preset: healthy
    hold: 240 s
  - name: two
    hold: 240 s
  - name: three
    hold: 60 s
`
	e2eBroken = `protocol: 1
name: e2e-broken
requires: [aop, no_such_channel]
steps:
  - name: one
    set:
      loop.preset: no_such_preset
    hold: 20 parsecs
`
)

// TestE2EControls drives the run controls from the page: an uploaded
// protocol with mistakes lists them by file:line:col, a good one is
// selected and run, paused inside its first hold, resumed, and stopped with the
// two-click stop; the verdict and the safety field say it was aborted.
//
// The person is a user of the users file who signs in by name and
// password; a pause and a stop need a reason, and the run's audit trail
// names her, her role and her reasons.
func TestE2EControls(t *testing.T) {
	const password = "correct horse battery"
	ts, runs := newE2EServer(t, withUser(t, "alice", RoleOperator, password))
	b := newBrowser(t, ts.URL)
	dir := t.TempDir()
	broken, short := filepath.Join(dir, "broken.yaml"), filepath.Join(dir, "short.yaml")
	os.WriteFile(broken, []byte(e2eBroken), 0o644)
	os.WriteFile(short, []byte(e2eShort), 0o644)
	b.login(ts.URL, "alice", password)
	b.open(ts.URL, "demo.yaml")
	if who := b.text("who"); who != "alice (operator)" {
		t.Errorf("the page shows the person as %q, want alice (operator)", who)
	}
	b.waitJS("protocols", `document.getElementById('protocol-select').value !== ''`, 10*time.Second)
	selected := evalAs[string](b, `document.getElementById('protocol-select').value`)

	b.do("upload a broken protocol", 10*time.Second, chromedp.SetUploadFiles(chromedp.ID("upload"), []string{broken}))
	b.waitJS("validation errors", `document.querySelectorAll('#validation li').length > 0`, 10*time.Second)
	checkCarets(t, b, e2eBroken)
	b.screenshot("serve-e2e-upload-caret.png")
	errs := evalAs[[]string](b, `[...document.querySelectorAll('#validation li code')].map(e => e.textContent)`)
	lines := map[string]bool{}
	for _, e := range errs {
		if m := regexp.MustCompile(`^broken\.yaml:(\d+):\d+$`).FindStringSubmatch(e); m != nil {
			lines[m[1]] = true
		} else {
			t.Errorf("error position %q is not broken.yaml:LINE:COL", e)
		}
	}
	if len(lines) < 2 {
		t.Errorf("validation shows positions %q: want the mistakes of several lines\n%s", errs, b.text("validation"))
	}
	if v := evalAs[string](b, `document.getElementById('protocol-select').value`); v != selected {
		t.Errorf("a broken upload changed the selected protocol to %q", v)
	}
	b.checkClean("broken upload", true) // the 422 is logged by the browser

	b.do("upload a good protocol", 10*time.Second, chromedp.SetUploadFiles(chromedp.ID("upload"), []string{short}))
	b.waitJS("upload selected", `document.getElementById('protocol-select').selectedOptions[0].textContent.includes('short.yaml')`, 10*time.Second)
	if v := b.text("validation"); !strings.Contains(v, "valid") {
		t.Errorf("validation says %q for a good protocol", v)
	}

	state := func(want string) {
		t.Helper()
		b.waitJS("state "+want, fmt.Sprintf(`document.getElementById('state').textContent === %q`, want), 20*time.Second)
	}
	b.do("start", 10*time.Second, chromedp.WaitEnabled(chromedp.ID("start")), chromedp.Click(chromedp.ID("start")))
	state("running")
	b.do("pause without a reason", 10*time.Second, chromedp.WaitEnabled(chromedp.ID("pause")), chromedp.Click(chromedp.ID("pause")))
	if m := b.text("message"); !strings.Contains(m, "reason") {
		t.Errorf("a pause without a reason: the page says %q", m)
	}
	b.do("pause", 10*time.Second, chromedp.SendKeys(chromedp.ID("reason"), "check the cannula"), chromedp.Click(chromedp.ID("pause")))
	state("paused")
	if s := b.text("step"); !strings.HasPrefix(s, "step 1/3 one") {
		t.Errorf("paused in the first step's hold, #step shows %q", s)
	}
	// The pause point: a pause inside a hold takes effect at once (language
	// 1.1): where it holds, and when, in run time.
	b.waitJS("pause point", `/^paused in step 1 at \d+:\d\d run time$/.test(document.getElementById('state-reason').textContent)`, 10*time.Second)
	b.screenshot("serve-e2e-paused.png")
	b.do("resume", 10*time.Second, chromedp.WaitEnabled(chromedp.ID("resume")), chromedp.Click(chromedp.ID("resume")))
	state("running")
	// A start while the rig runs queues the run; the page lists the queue
	// with who asked, and an operator cancels the waiting run from it.
	b.do("queue a second run", 10*time.Second, chromedp.WaitEnabled(chromedp.ID("start")), chromedp.Click(chromedp.ID("start")))
	second := `document.querySelector('#queue tbody tr:nth-child(2)')`
	b.waitJS("the queue lists it", `document.querySelectorAll('#queue tbody tr').length === 2 && `+second+`.textContent.includes('queued') && `+second+`.textContent.includes('alice')`, 10*time.Second)
	b.do("cancel it", 10*time.Second, chromedp.Click(chromedp.CSS(`#queue tbody tr:nth-child(2) button.cancel`)))
	b.waitJS("the queue without it", `document.querySelectorAll('#queue tbody tr').length === 1`, 10*time.Second)
	b.waitJS("second step", `document.getElementById('step').textContent.startsWith('step 2/3')`, 45*time.Second)
	b.do("arm stop", 10*time.Second, chromedp.WaitEnabled(chromedp.ID("stop")), chromedp.SetValue(chromedp.ID("reason"), "leak at the aortic port"),
		chromedp.Click(chromedp.ID("stop")))
	if s := b.text("state"); s != "running" {
		t.Errorf("one click on stop changed the state to %q", s)
	}
	b.do("stop", 10*time.Second, chromedp.Click(chromedp.ID("stop")))

	runID, res := b.verdict(runs)
	if res.Outcome != runlog.OutcomeAborted {
		t.Errorf("stopped run: outcome %s", res.Outcome)
	}
	alice := runlog.OperatorData{By: "alice", Role: RoleOperator, Via: "bench-view"}
	checkTrail(t, filepath.Join(runs, runID), []runlog.OperatorData{
		with(alice, runlog.ActionStart, "", false),
		with(alice, runlog.ActionPause, "check the cannula", true),
		with(alice, runlog.ActionResume, "", false),
		with(alice, runlog.ActionStop, "leak at the aortic port", true),
	})
	// A person's stop is shown as what it is: neutral, by whom and why; no
	// safety trip, nothing to acknowledge.
	if s := b.text("verdict"); !strings.Contains(s, "STOPPED") || !strings.Contains(s, "stopped by alice: leak at the aortic port") || b.attr("verdict", "class") != "verdict outcome-stopped" {
		t.Errorf("verdict shows %q (%s) after an operator stop", s, b.attr("verdict", "class"))
	}
	if s := b.text("safety"); s != "OK" || b.attr("safety", "class") != "safety-ok" {
		t.Errorf("safety shows %q after an operator stop", s)
	}
	if evalAs[bool](b, `!document.getElementById('ack-box').hidden`) {
		t.Error("an operator stop offers an acknowledge")
	}
	state("idle")
	b.checkClean("controls", false)
	b.screenshot("serve-e2e-controls.png")
}

// TestE2ELogin opens the page of a server that needs a token: the page
// asks for it, and with the read-only token shows the run but offers no
// control.
func TestE2ELogin(t *testing.T) {
	ts, _ := newE2EServer(t, func(c *Config) { c.Token, c.ReadToken = writeToken, readToken })
	b := newBrowser(t, ts.URL)
	b.do("token form", 30*time.Second,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token-form")),
		chromedp.SendKeys(chromedp.ID("token"), "wrong"),
		chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)))
	b.waitJS("refused", `document.getElementById('message').textContent.includes('not accepted')`, 10*time.Second)
	b.do("log in", 10*time.Second,
		chromedp.SetValue(chromedp.ID("token"), readToken),
		chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)),
		chromedp.WaitNotVisible(chromedp.ID("token-form")),
		chromedp.WaitVisible(chromedp.ID("readonly")))
	b.waitJS("live stream", `document.getElementById('conn').textContent === 'live'`, 20*time.Second)
	// The first valid protocol of configs/protocols is selected.
	b.waitJS("protocols", `document.getElementById('protocol-select').value === document.querySelector('#protocol-select option:not([disabled])').value && document.getElementById('protocol-select').value !== ''`, 10*time.Second)
	if r := b.text("rig"); !strings.HasPrefix(r, "sim") {
		t.Errorf("#rig shows %q", r)
	}
	for _, id := range []string{"start", "pause", "resume", "stop", "estop"} {
		if !evalAs[bool](b, fmt.Sprintf(`document.getElementById(%q).disabled`, id)) {
			t.Errorf("#%s is enabled for the read-only token", id)
		}
	}
	b.checkClean("login", true) // the 401s are logged by the browser
}

// checkCarets checks that each error of the upload preview shows the line
// of the YAML it names, numbered, with the caret under its column.
func checkCarets(t *testing.T, b *browser, src string) {
	t.Helper()
	type shown struct {
		Line, Col, Text string
	}
	pres := evalAs[[]shown](b, `[...document.querySelectorAll('#validation pre.src')].map(p => ({Line: p.dataset.line, Col: p.dataset.col, Text: p.textContent}))`)
	if len(pres) == 0 {
		t.Fatalf("no source line shown under the errors:\n%s", b.text("validation"))
	}
	lines := strings.Split(src, "\n")
	for _, p := range pres {
		var line, col int
		fmt.Sscan(p.Line, &line)
		fmt.Sscan(p.Col, &col)
		rows := strings.Split(p.Text, "\n")
		gutter := p.Line + " | "
		if line < 1 || line > len(lines) || col < 1 || len(rows) != 2 || rows[0] != gutter+lines[line-1] {
			t.Errorf("error at %s:%s shows %q, want line %q", p.Line, p.Col, p.Text, lines[max(0, min(line, len(lines))-1)])
			continue
		}
		if caret := strings.Index(rows[1], "^"); caret != len(gutter)+col-1 || strings.TrimSpace(rows[1]) != "^" {
			t.Errorf("error at %s:%s: caret at %d of %q, want under column %d", p.Line, p.Col, caret, rows[1], col)
		}
		// The caret is under a character of the line, not past its end.
		if col > len(lines[line-1]) {
			t.Errorf("error at %s:%s: column past the end of %q", p.Line, p.Col, lines[line-1])
		}
	}
}
