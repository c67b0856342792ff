package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mockloop/mockloop/bench"
	"github.com/mockloop/mockloop/runlog"
)

// longProtocol is a day of holds: a run that ends only when stopped.
const longProtocol = "protocol: 1\nname: long\nsteps:\n  - set: {dut.level: P6}\n    repeat: {for: 24 h}\n    steps:\n      - hold: 10 min\n"

// startRun starts `mockloop run` of a protocol that runs for a day (args
// before it, e.g. --runs) and returns once the run is under way on the
// bench, as its control socket says.
func startRun(t *testing.T, bin, dir string, args ...string) (*exec.Cmd, *syncBuffer, bench.Status) {
	t.Helper()
	proto := filepath.Join(dir, "long.yaml")
	os.WriteFile(proto, []byte(longProtocol), 0o644)
	cmd := exec.Command(bin, append(append([]string{"run"}, args...), proto)...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, stderr, waitHolder(t, stderr, func(st bench.Status) bool { return st.RunID != "" && st.ElapsedS > 1 })
}

// waitHolder asks the sim bench's holder until ok says it is where the
// test wants it; a minute is only a hang guard.
func waitHolder(t *testing.T, stderr *syncBuffer, ok func(bench.Status) bool) bench.Status {
	t.Helper()
	dir, err := bench.Dir()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st, err := bench.Ask(dir, "sim:sim", bench.Request{Action: bench.ActionStatus}); err == nil && ok(st) {
			return st
		}
	}
	t.Fatalf("the holder of the bench never got there\n%s", stderr.String())
	return bench.Status{}
}

// exitCode waits for cmd and returns its exit code.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// closedRecord opens the record of run id in runs and checks it is closed
// with the outcome and reason, the DUT commanded to its safe state.
func closedRecord(t *testing.T, runs, id string, outcome runlog.Outcome, reason string) {
	t.Helper()
	r, err := runlog.Open(filepath.Join(runs, id))
	if err != nil || r.Manifest.State != runlog.StateClosed || r.Result == nil || r.Result.Outcome != outcome || r.Result.AbortReason != reason {
		t.Fatalf("record of %s: %+v %+v %v; want closed, %s %q", id, r.Manifest, r.Result, err, outcome, reason)
	}
	if outcome == runlog.OutcomeAborted && !dutStopped(r) {
		t.Error("the DUT was not commanded to stop")
	}
}

// TestTwoControllersOnOneBench: while `mockloop run` holds the sim bench,
// a second run from another runs folder, `zero` and `calibrate` are refused
// (exit 4, saying who holds the bench) and the calibration file is not
// touched; `mockloop stop --estop` from another terminal ends the run in
// its safe state with its record closed as e-stopped.
func TestTwoControllersOnOneBench(t *testing.T) {
	bin, dir := buildCLI(t)
	src, _ := os.ReadFile("configs/rigs/sim.yaml")
	rigFile := filepath.Join(dir, "sim.yaml")
	os.WriteFile(rigFile, src, 0o644)
	if code, _, errOut := cli(t, "zero", "--rig", rigFile, "--channel", "aop", "--yes"); code != exitPass {
		t.Fatalf("zero before the run: %d %s", code, errOut)
	}
	calFile := filepath.Join(dir, "sim.calibration.json")
	cal, err := os.ReadFile(calFile)
	if err != nil {
		t.Fatal(err)
	}
	runsA, runsB := filepath.Join(dir, "A"), filepath.Join(dir, "B")
	cmd, stderr, st := startRun(t, bin, dir, "--rig", rigFile, "--runs", runsA)

	for _, args := range [][]string{
		{"run", "--quiet", "--runs", runsB, "configs/protocols/demo.yaml"},
		{"zero", "--rig", rigFile, "--channel", "aop", "--yes"},
		{"calibrate", "--rig", rigFile, "--at", "0 mmHg", "--at", "200 mmHg", "--reference", "x", "--yes", "aop"},
	} {
		code, _, errOut := cli(t, args...)
		if code != exitInfra || !strings.Contains(errOut, "bench busy") || !strings.Contains(errOut, "run "+st.RunID+" of protocol long") ||
			!strings.Contains(errOut, "pid "+strconv.Itoa(cmd.Process.Pid)) {
			t.Errorf("%s during a run: exit %d: %s", args[0], code, errOut)
		}
	}
	if list, _ := runlog.List(runsB); len(list) != 0 {
		t.Errorf("the refused run left %d records", len(list))
	}
	if now, _ := os.ReadFile(calFile); string(now) != string(cal) {
		t.Error("the calibration file was rewritten during the run")
	}

	if code, _, errOut := cli(t, "stop"); code != exitInvalid || !strings.Contains(errOut, "--reason") {
		t.Errorf("stop without a reason: %d %q, want 3 asking for one", code, errOut)
	}
	code, out, errOut := cli(t, "stop", "--estop", "--operator", "E. Stopper")
	if code != exitPass || !strings.Contains(out, "estop requested of run "+st.RunID) || !strings.Contains(out, "is free") {
		t.Fatalf("stop --estop: %d\n%s\n%s", code, out, errOut)
	}
	if code := exitCode(t, cmd); code != exitAborted {
		t.Fatalf("run after stop --estop: exit %d, want 2\n%s", code, stderr.String())
	}
	closedRecord(t, runsA, st.RunID, runlog.OutcomeAborted, "emergency stop by E. Stopper")
	if trail := auditTrail(t, filepath.Join(runsA, st.RunID)); len(trail) == 0 || trail[len(trail)-1].Action != runlog.ActionEStop ||
		trail[len(trail)-1].By != "E. Stopper" || trail[len(trail)-1].Via != "cli" {
		t.Errorf("audit trail after stop --estop: %+v", trail)
	}
	if code, out, _ := cli(t, "stop", "--reason", "none"); code != exitPass || !strings.Contains(out, "nothing runs on bench sim") {
		t.Errorf("stop on a free bench: %d %q", code, out)
	}
}

// TestBenchViewShowsAndEStopsACLIRun: the bench view, idle itself, shows
// the run a `mockloop run` in a terminal makes on its bench instead of
// "idle", and its emergency stop ends that run instead of answering 409.
func TestBenchViewShowsAndEStopsACLIRun(t *testing.T) {
	bin, dir := buildCLI(t)
	srv := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--runs", filepath.Join(dir, "served"), "--operator", "V. Viewer")
	stdout, _ := srv.StdoutPipe()
	srv.Stderr = &syncBuffer{}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	url := regexp.MustCompile(`http://[0-9.:]+`).FindString(line)
	if url == "" {
		t.Fatalf("no address in %q", line)
	}
	runs := filepath.Join(dir, "runs")
	cmd, stderr, st := startRun(t, bin, dir, "--runs", runs)

	var status struct {
		State string       `json:"state"`
		Other bench.Status `json:"other"`
	}
	resp, err := http.Get(url + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&status)
	resp.Body.Close()
	if status.State != "running" || status.Other.RunID != st.RunID || status.Other.Protocol != "long" || status.Other.PID != cmd.Process.Pid || !strings.HasPrefix(status.Other.Step, "1 ") {
		t.Fatalf("bench view status during a CLI run: %+v", status)
	}
	resp, err = http.Post(url+"/api/run/estop", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("e-stop from the bench view: %d", resp.StatusCode)
	}
	if code := exitCode(t, cmd); code != exitAborted {
		t.Fatalf("run after the view's e-stop: exit %d\n%s", code, stderr.String())
	}
	closedRecord(t, runs, st.RunID, runlog.OutcomeAborted, "emergency stop by V. Viewer")
}

// TestEndSignalsLeaveTheBenchSafe: SIGHUP (an SSH session dropping),
// SIGQUIT, SIGINT and SIGTERM each end `mockloop run` with the DUT
// commanded to its safe state, the record closed with the signal as the
// reason, and exit 2.
func TestEndSignalsLeaveTheBenchSafe(t *testing.T) {
	bin, dir := buildCLI(t)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			runs := filepath.Join(dir, "runs-"+strconv.Itoa(int(sig)))
			cmd, stderr, st := startRun(t, bin, dir, "--runs", runs)
			cmd.Process.Signal(sig)
			if code := exitCode(t, cmd); code != exitAborted {
				t.Fatalf("exit %d, want 2\n%s", code, stderr.String())
			}
			closedRecord(t, runs, st.RunID, runlog.OutcomeAborted, "operator: received "+sig.String())
			if trail := auditTrail(t, filepath.Join(runs, st.RunID)); len(trail) != 2 || trail[1].Action != runlog.ActionStop ||
				trail[1].Via != "signal" || trail[1].By != osUser() || !trail[1].Deviation {
				t.Errorf("audit trail after %s: %+v, want a stop by %s via signal", sig, trail, osUser())
			}
		})
	}
}

// TestBrokenOutputNeverEndsARun: `mockloop run … 2>&1 | head -1` — a
// reader of its output that has gone — and a SIGPIPE sent mid-run: the run
// goes on to its normal end and its record says pass.
func TestBrokenOutputNeverEndsARun(t *testing.T) {
	bin, dir := buildCLI(t)
	proto := filepath.Join(dir, "short.yaml")
	os.WriteFile(proto, []byte("protocol: 1\nname: short\nsteps:\n  - set: {dut.level: P2}\n    hold: 10 min\n  - hold: 10 min\n"), 0o644)
	runs := filepath.Join(dir, "runs")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // head -1 has read its line and gone
	cmd := exec.Command(bin, "run", "--runs", runs, proto)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill() })
	waitHolder(t, &syncBuffer{}, func(st bench.Status) bool { return st.ElapsedS > 1 })
	cmd.Process.Signal(syscall.SIGPIPE)
	if code := exitCode(t, cmd); code != exitPass {
		t.Fatalf("exit %d with its output gone, want 0 (pass)", code)
	}
	list, _ := runlog.List(runs)
	if len(list) != 1 || list[0].State != runlog.StateClosed || list[0].Outcome != runlog.OutcomePass {
		t.Fatalf("records %+v", list)
	}
}

// TestKilledRunLeavesTheWatchdogArmed: a run fed the rig's watchdog from
// its sampling loop; killed (SIGKILL, as a crash or the OOM killer would),
// it never writes the magic 'V', so on a Pi the watchdog resets the
// computer and the wiring takes the bench to its safe state.
func TestKilledRunLeavesTheWatchdogArmed(t *testing.T) {
	bin, dir := buildCLI(t)
	src, _ := os.ReadFile("configs/rigs/sim.yaml")
	dev := filepath.Join(dir, "watchdog")
	os.WriteFile(dev, nil, 0o600)
	rigFile := filepath.Join(dir, "sim.yaml")
	os.WriteFile(rigFile, []byte(strings.Replace(string(src), "\nhardware:\n", "\nhardware:\n  watchdog: {device: "+dev+", timeout: 8 s}\n", 1)), 0o644)
	cmd, _, _ := startRun(t, bin, dir, "--rig", rigFile, "--runs", filepath.Join(dir, "runs"))
	waitHolder(t, &syncBuffer{}, func(st bench.Status) bool { return st.ElapsedS > 10 })
	cmd.Process.Kill()
	cmd.Wait()
	got, _ := os.ReadFile(dev)
	if !strings.HasPrefix(string(got), "kk") || strings.Contains(string(got), "V") {
		t.Errorf("watchdog after a kill: %q; want keep-alives and no magic 'V'", got)
	}
}
