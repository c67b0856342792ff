package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/serve"
)

// remoteBench is a `mockloop serve` of the simulated rig on loopback with
// a named CI token, and the protocols the remote tests run on it.
type remoteBench struct {
	bin, dir, url, runs, token string
}

// Protocols of the remote tests. At --speed 5 a second of run time is
// 0.2 s of wall time: pass and fail last a few seconds, long ten minutes.
const (
	remotePass  = "protocol: 1\nname: rpass\nsteps:\n  - hold: 20 s\n    criteria: [{measure: mean(aop), min: 10 mmHg}]\n"
	remoteFail  = "protocol: 1\nname: rfail\nsteps:\n  - hold: 20 s\n    criteria: [{measure: mean(aop), min: 500 mmHg}]\n"
	remoteAbort = "protocol: 1\nname: rabort\nsteps:\n  - hold: 4 s\n    criteria: [{measure: mean(aop), min: 500 mmHg, on_fail: abort}]\n  - hold: 10 s\n"
	remoteLong  = "protocol: 1\nname: rlong\nsteps:\n  - hold: 10 min\n"
)

func newRemoteBench(t *testing.T) *remoteBench {
	t.Helper()
	if testing.Short() {
		t.Skip("remote runs take a minute of wall time")
	}
	bin, dir := buildCLI(t)
	rb := &remoteBench{bin: bin, dir: dir, runs: filepath.Join(dir, "runs"), token: serve.NewToken()}
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("nightly-ci operator "+rb.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"pass": remotePass, "fail": remoteFail, "abort": remoteAbort, "long": remoteLong} {
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`)
	lines, _ := startServe(t, bin, addr, "--addr", "127.0.0.1:0", "--runs", rb.runs, "--speed", "5", "--token-file", tokens)
	rb.url = addr.FindString(lines[len(lines)-1])
	return rb
}

// client is a `mockloop run --remote` (or other remote command) process.
type client struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
}

func (rb *remoteBench) start(t *testing.T, url string, args ...string) *client {
	t.Helper()
	c := &client{cmd: exec.Command(rb.bin, args...)}
	c.cmd.Dir = rb.dir
	c.cmd.Env = append(os.Environ(), "MOCKLOOP_API_TOKEN="+rb.token, "MOCKLOOP_REMOTE="+url)
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.cmd.Process.Kill() })
	return c
}

// wait waits for the client's exit code.
func (c *client) wait(t *testing.T) int {
	t.Helper()
	err := c.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// waitFor waits until the client's stderr matches re, and returns the
// match's first group.
func (c *client) waitFor(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(c.stderr.String()); m != nil {
			return m[len(m)-1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s in the client's stderr:\n%s", re, c.stderr.String())
	return ""
}

var (
	queuedLine  = regexp.MustCompile(`queued (q[0-9a-f]+) on `)
	startedLine = regexp.MustCompile(`run ([0-9TZ]+-[0-9a-f]+) of protocol \S+ started`)
)

// get reads an API path with the CI token.
func (rb *remoteBench) get(t *testing.T, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", rb.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+rb.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
	}
	return resp.StatusCode
}

// checkFiles checks that --out holds the run's files, and that its
// result is the server's record of the run, with the outcome wanted.
func (rb *remoteBench) checkFiles(t *testing.T, out string, outcome runlog.Outcome) string {
	t.Helper()
	var res runlog.Result
	data, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err == nil {
		err = json.Unmarshal(data, &res)
	}
	if err != nil || res.Outcome != outcome {
		t.Fatalf("%s: result %v, outcome %s, want %s", out, err, res.Outcome, outcome)
	}
	server, err := os.ReadFile(filepath.Join(rb.runs, res.RunID, "result.json"))
	if err != nil || !bytes.Equal(server, data) {
		t.Errorf("%s: result.json is not the server's record of run %s (%v)", out, res.RunID, err)
	}
	for _, f := range []string{"manifest.json", "junit.xml", "report.html", "report.pdf", "criteria.csv"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %s missing (%v)", out, f, err)
		}
	}
	return res.RunID
}

// TestRemoteRunsQueueAndExitCodes is the acceptance of issue 18: two
// `mockloop run --remote` at once on one rig: the second waits its turn
// (its position > 0 said), both end with their run's exit code (0 for
// the pass, 1 for the fail) and their files in --out, the server's
// record (the pass's kept 1 frame in 10, --frames passed on); an aborted
// run exits 2; `runs --remote` lists them.
func TestRemoteRunsQueueAndExitCodes(t *testing.T) {
	rb := newRemoteBench(t)
	// A protocol the server refuses: every error as validate prints it,
	// exit 3, nothing queued; a wrong token: exit 3.
	os.WriteFile(filepath.Join(rb.dir, "bad.yaml"), []byte("protocol: 1\nname: bad\nsteps:\n  - hold: 80\n  - set: {loop.resistance: 3}\n    hold: 1 s\n"), 0o644)
	bad := rb.start(t, "", "run", "--remote", rb.url, "bad.yaml")
	if code := bad.wait(t); code != exitInvalid || !strings.Contains(bad.stderr.String(), "bad.yaml:4:11: hold:") || !strings.Contains(bad.stderr.String(), "bad.yaml:5:28: loop.resistance") || !strings.Contains(bad.stderr.String(), "2 error(s)") {
		t.Errorf("invalid protocol: exit %d\n%s", code, bad.stderr.String())
	}
	nobody := exec.Command(rb.bin, "run", "--remote", rb.url, "pass.yaml")
	nobody.Dir, nobody.Env = rb.dir, append(os.Environ(), "MOCKLOOP_API_TOKEN="+serve.NewToken())
	if out, err := nobody.CombinedOutput(); nobody.ProcessState.ExitCode() != exitInvalid || !strings.Contains(string(out), "401") {
		t.Errorf("wrong token: %v\n%s", err, out)
	}
	var queue []serve.QueueEntry
	if rb.get(t, "/api/queue", &queue); len(queue) != 0 {
		t.Fatalf("refused runs queued: %+v", queue)
	}
	// The CI job asking is recorded in the run on the rig.
	t.Setenv("GITHUB_SERVER_URL", "https://github.com")
	t.Setenv("GITHUB_REPOSITORY", "lab/pumps")
	t.Setenv("GITHUB_RUN_ID", "4242")
	a := rb.start(t, "", "run", "--remote", rb.url, "--out", "out-pass", "--frames", "every:10", "pass.yaml")
	b := rb.start(t, "", "run", "--remote", rb.url, "--out", "out-fail", "fail.yaml")
	codeA, codeB := a.wait(t), b.wait(t)
	if codeA != exitPass || codeB != exitFail {
		t.Fatalf("exit %d and %d, want 0 and 1\n%s\n%s", codeA, codeB, a.stderr.String(), b.stderr.String())
	}
	waited := regexp.MustCompile(`position [1-9][0-9]* on the queue`)
	if !waited.MatchString(a.stderr.String()) && !waited.MatchString(b.stderr.String()) {
		t.Errorf("neither client waited in the queue:\n%s\n%s", a.stderr.String(), b.stderr.String())
	}
	idA := rb.checkFiles(t, filepath.Join(rb.dir, "out-pass"), runlog.OutcomePass)
	idB := rb.checkFiles(t, filepath.Join(rb.dir, "out-fail"), runlog.OutcomeFail)
	if !strings.Contains(a.stdout.String(), "run "+idA+"  protocol rpass  PASS") || !strings.Contains(b.stdout.String(), "protocol rfail  FAIL") {
		t.Errorf("summaries:\n%s\n%s", a.stdout.String(), b.stdout.String())
	}
	// --frames reaches the server's run (at --speed 5: virtual time)
	var m runlog.Manifest
	if data, err := os.ReadFile(filepath.Join(rb.dir, "out-pass", "manifest.json")); json.Unmarshal(data, &m) != nil || err != nil || m.FramesKeptEvery != 10 {
		t.Errorf("--frames every:10 remotely: the run's manifest says frames_kept_every %d (%v)", m.FramesKeptEvery, err)
	}
	if !strings.Contains(a.stderr.String(), `step 1/1 "`) {
		t.Errorf("no progress line: %s", a.stderr.String())
	}

	c := rb.start(t, "", "run", "--remote", rb.url, "--out", "out-abort", "--json", "abort.yaml")
	if code := c.wait(t); code != exitAborted {
		t.Fatalf("abort: exit %d, want 2\n%s", code, c.stderr.String())
	}
	rb.checkFiles(t, filepath.Join(rb.dir, "out-abort"), runlog.OutcomeAborted)
	var res runlog.Result
	if err := json.Unmarshal([]byte(c.stdout.String()), &res); err != nil || res.Outcome != runlog.OutcomeAborted {
		t.Errorf("--json: %v %s", err, c.stdout.String())
	}

	// runs --remote (from $MOCKLOOP_REMOTE) prints the server's list as
	// `runs` prints a local one.
	l := rb.start(t, rb.url, "runs", "--json")
	if code := l.wait(t); code != exitPass {
		t.Fatalf("runs --remote: exit %d: %s", code, l.stderr.String())
	}
	var list []runlog.Summary
	if err := json.Unmarshal([]byte(l.stdout.String()), &list); err != nil || len(list) != 3 || list[0].RunID > list[2].RunID || (list[0].RunID != idA && list[0].RunID != idB) {
		t.Errorf("runs --remote --json: %v %s", err, l.stdout.String())
	}
	r := rb.start(t, "", "report", "--remote", rb.url, "--out", "rep", idA[:len(idA)-3])
	if code := r.wait(t); code != exitPass {
		t.Fatalf("report --remote: exit %d: %s", code, r.stderr.String())
	}
	rb.checkFiles(t, filepath.Join(rb.dir, "rep"), runlog.OutcomePass)
	var got runlog.Result
	if data, err := os.ReadFile(filepath.Join(rb.dir, "rep", "result.json")); json.Unmarshal(data, &got) != nil || err != nil ||
		got.Job == nil || got.Job.URL != "https://github.com/lab/pumps/actions/runs/4242" || got.Host == "" {
		t.Errorf("the run does not record the CI job that asked for it: %+v (host %q)", got.Job, got.Host)
	}
	// --require-influx: the server's run had no InfluxDB, so a job that
	// promised a dashboard fails (exit 4), whatever the outcome.
	req := rb.start(t, "", "run", "--remote", rb.url, "--require-influx", "--follow", idA, "--out", "out-req")
	if code := req.wait(t); code != exitInfra || !strings.Contains(req.stderr.String(), "--require-influx") {
		t.Errorf("--require-influx without InfluxDB on the server: exit %d, want 4\n%s", code, req.stderr.String())
	}

	// A server started again has forgotten its queue: --follow RUN_ID
	// still finds an ended run among the records.
	addr := regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`)
	lines, _ := startServe(t, rb.bin, addr, "--addr", "127.0.0.1:0", "--runs", rb.runs, "--token-file", filepath.Join(rb.dir, "tokens"))
	again := rb.start(t, "", "run", "--remote", addr.FindString(lines[len(lines)-1]), "--follow", idB, "--out", "out-again")
	if code := again.wait(t); code != exitFail {
		t.Fatalf("follow of a forgotten run: exit %d, want 1\n%s", code, again.stderr.String())
	}
	rb.checkFiles(t, filepath.Join(rb.dir, "out-again"), runlog.OutcomeFail)
}

// TestRemoteFlagsRefused: the flags that name this machine's bench make
// no sense remotely, and the remote ones none locally: exit 3, said,
// before anything is sent.
func TestRemoteFlagsRefused(t *testing.T) {
	chdirRoot(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--remote", "http://127.0.0.1:1", "--rig", "configs/rigs/sim.yaml", "configs/protocols/demo.yaml"}, "--rig makes no sense remotely"},
		{[]string{"run", "--remote", "http://127.0.0.1:1", "--resume", "x"}, "--resume makes no sense remotely"},
		{[]string{"run", "--remote", "http://127.0.0.1:1", "--follow", "q1", "configs/protocols/demo.yaml"}, "--follow ID takes no protocol"},
		{[]string{"run", "--out", "x", "configs/protocols/demo.yaml"}, "--out needs --remote URL"},
		{[]string{"run", "--remote", "http://rig3.example:8080", "configs/protocols/demo.yaml"}, "would send the token in clear"},
		{[]string{"run", "--remote", "http://127.0.0.1:1", "configs/protocols/nope.yaml"}, "nope.yaml"},
	} {
		t.Setenv("MOCKLOOP_API_TOKEN", "some-token")
		code, _, stderr := cli(t, tc.args...)
		if code != exitInvalid || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want 3 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestRemoteClientKilledAndFollowed: a client killed mid-run (SIGKILL)
// leaves the run going; `run --remote --follow ID` follows it to its end
// and exits with its code. A client that waits longer than --wait gives
// up: its entry is cancelled, it exits 4.
func TestRemoteClientKilledAndFollowed(t *testing.T) {
	rb := newRemoteBench(t)
	a := rb.start(t, "", "run", "--remote", rb.url, "--out", "out-a", "fail.yaml")
	id := a.waitFor(t, queuedLine)
	runID := a.waitFor(t, startedLine)
	a.cmd.Process.Signal(syscall.SIGKILL)
	a.wait(t)
	var e serve.QueueEntry
	// The run goes on (or, on a machine slow enough, has ended as it
	// would have: failed, not stopped).
	code := rb.get(t, "/api/queue/"+id, &e)
	if going := e.State == serve.EntryRunning || e.State == serve.EntryDone && *e.Outcome == runlog.OutcomeFail; code != 200 || !going || *e.RunID != runID {
		t.Fatalf("entry after the kill: %d %+v", code, e)
	}
	f := rb.start(t, "", "run", "--remote", rb.url, "--follow", id, "--out", "out-follow")
	if code := f.wait(t); code != exitFail {
		t.Fatalf("follow: exit %d, want 1\n%s", code, f.stderr.String())
	}
	if got := rb.checkFiles(t, filepath.Join(rb.dir, "out-follow"), runlog.OutcomeFail); got != runID {
		t.Errorf("followed run %s, want %s", got, runID)
	}

	long := rb.start(t, "", "run", "--remote", rb.url, "--quiet", "long.yaml")
	longID := long.waitFor(t, queuedLine)
	w := rb.start(t, "", "run", "--remote", rb.url, "--wait", "1s", "pass.yaml")
	if code := w.wait(t); code != exitInfra || !strings.Contains(w.stderr.String(), "gave up waiting after 1s (--wait)") {
		t.Fatalf("--wait: exit %d, want 4\n%s", code, w.stderr.String())
	}
	waitID := w.waitFor(t, queuedLine)
	var queue []serve.QueueEntry
	rb.get(t, "/api/queue", &queue)
	if len(queue) != 1 || queue[0].ID != longID {
		t.Errorf("queue after --wait gave up: %+v", queue)
	}
	if rb.get(t, "/api/queue/"+waitID, &e); e.State != serve.EntryCancelled {
		t.Errorf("entry of --wait: %+v", e)
	}
}

// TestRemoteNetworkDrop: the network between client and server is cut
// mid-run (a proxy whose connections are closed and which refuses new
// ones for a while); the client reconnects and ends with the run's code
// and files, and the run never noticed.
func TestRemoteNetworkDrop(t *testing.T) {
	rb := newRemoteBench(t)
	px := newCutProxy(t, strings.TrimPrefix(rb.url, "http://"))
	a := rb.start(t, "", "run", "--remote", "http://"+px.addr, "--out", "out", "pass.yaml")
	a.waitFor(t, startedLine)
	px.cut()
	time.Sleep(2500 * time.Millisecond)
	px.restore(t)
	if code := a.wait(t); code != exitPass {
		t.Fatalf("exit %d, want 0\n%s", code, a.stderr.String())
	}
	if !strings.Contains(a.stderr.String(), "reconnecting in") {
		t.Errorf("the client did not say it reconnects:\n%s", a.stderr.String())
	}
	rb.checkFiles(t, filepath.Join(rb.dir, "out"), runlog.OutcomePass)
}

// cutProxy forwards TCP connections to a server until cut: then it closes
// them all and refuses new ones until restored (on the same address).
type cutProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{addr: ln.Addr().String(), target: target}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}

// TestRemoteOverPinnedTLS: off loopback serve speaks TLS with its
// self-signed certificate; a remote command pinning the fingerprint serve
// printed gets in, one pinning another is refused before the token is
// sent (exit 4).
func TestRemoteOverPinnedTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	bin, dir := buildCLI(t)
	tok := serve.NewToken()
	tokens := filepath.Join(dir, "tokens")
	os.WriteFile(tokens, []byte("nightly-ci operator "+tok+"\n"), 0o600)
	fpLine := regexp.MustCompile(`TLS certificate SHA-256 fingerprint ([0-9A-F:]{95})`)
	lines, _ := startServe(t, bin, fpLine, "--addr", "0.0.0.0:0", "--runs", filepath.Join(dir, "runs"), "--token-file", tokens)
	port := regexp.MustCompile(`on https://[^ ]*:([0-9]+)/`).FindStringSubmatch(lines[0])
	fp := fpLine.FindStringSubmatch(lines[len(lines)-1])
	if port == nil || fp == nil {
		t.Fatalf("%q", lines)
	}
	url := "https://127.0.0.1:" + port[1]
	for _, tc := range []struct {
		fp   string
		code int
		want string
	}{
		{fp[1], exitPass, "RUN ID"},
		{strings.Repeat("00:", 31) + "00", exitInfra, "not the pinned one"},
	} {
		cmd := exec.Command(bin, "runs", "--remote", url)
		cmd.Env = append(os.Environ(), "MOCKLOOP_API_TOKEN="+tok, "MOCKLOOP_REMOTE_FINGERPRINT="+tc.fp)
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("fingerprint %s: exit %d, want %d and %q\n%s", tc.fp[:8], cmd.ProcessState.ExitCode(), tc.code, tc.want, out)
		}
	}
}
