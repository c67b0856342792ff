package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"encoding/json"
	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/dut"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/internal/benchtest"
	"github.com/mockloop/mockloop/runlog"
)

func TestMain(m *testing.M) {
	// No test reads or writes the developer's users file or audit log.
	home, _ := os.MkdirTemp("", "mockloop-home-")
	os.Setenv("MOCKLOOP_HOME", home)
	code := benchtest.Run(m)
	os.RemoveAll(home)
	os.Exit(code)
}

// chdirRoot runs the CLI from the repository root, as `make demo` does.
func chdirRoot(t *testing.T) {
	t.Helper()
	t.Chdir("../..")
}

// dutStopped reports whether the run's record shows the DUT commanded to
// stop (the simulated rig's safe state for it).
func dutStopped(r *runlog.Run) bool {
	ev, _ := r.ReadEvents()
	for _, e := range ev {
		if e.Kind == runlog.KindDUTTx && strings.Contains(e.Msg, " MODE STOP ") {
			return true
		}
	}
	return false
}

// buildCLI builds the command into a temporary directory, for tests that
// signal or kill a process, and runs from the repository root. Under
// emulation (make test-arm) the build is an ARM binary the kernel cannot
// execute without binfmt_misc: test-arm.sh says so in MOCKLOOP_NO_CHILD_EXEC
// and these tests are skipped there (make test runs them natively).
func buildCLI(t *testing.T) (bin, dir string) {
	t.Helper()
	if why := os.Getenv("MOCKLOOP_NO_CHILD_EXEC"); why != "" {
		t.Skip("the CLI cannot run as a child process here: " + why)
	}
	chdirRoot(t)
	dir = t.TempDir()
	bin = filepath.Join(dir, "mockloop")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/mockloop").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin, dir
}

func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestRunDemoPasses(t *testing.T) {
	chdirRoot(t)
	runs := t.TempDir()
	code, out, errOut := cli(t, "run", "--runs", runs, "configs/protocols/demo.yaml")
	if code != exitPass {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"protocol demo  PASS", "DEMO-1", "DEMO-4", "DEMO-6", "DEMO-8", "record: " + runs} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, `step 1/5 "healthy baseline, pump at P2"`) {
		t.Errorf("no progress line: %s", errOut)
	}
	list, err := runlog.List(runs)
	if err != nil || len(list) != 1 || list[0].Outcome != runlog.OutcomePass {
		t.Errorf("runs: %+v %v", list, err)
	}
}

func TestRunJSONAndExitCodes(t *testing.T) {
	chdirRoot(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("protocol: 1\nname: t\nsteps:\n"+body), 0o644)
		return p
	}
	cases := []struct {
		file string
		code int
		out  runlog.Outcome
	}{
		{write("pass.yaml", "  - hold: 2 s\n    criteria: [{measure: mean(aop), min: 10 mmHg}]\n"), exitPass, runlog.OutcomePass},
		{write("fail.yaml", "  - hold: 2 s\n    criteria: [{measure: mean(aop), min: 500 mmHg}]\n"), exitFail, runlog.OutcomeFail},
		{write("abort.yaml", "  - hold: 2 s\n    criteria: [{measure: mean(aop), min: 500 mmHg, on_fail: abort}]\n"), exitAborted, runlog.OutcomeAborted},
	}
	for _, c := range cases {
		code, out, errOut := cli(t, "run", "--json", "--quiet", "--runs", t.TempDir(), c.file)
		var res runlog.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%s: stdout is not result JSON: %v\n%s", c.file, err, out)
		}
		if code != c.code || res.Outcome != c.out || errOut != "" {
			t.Errorf("%s: exit %d outcome %s stderr %q; want %d %s", filepath.Base(c.file), code, res.Outcome, errOut, c.code, c.out)
		}
	}
}

// TestInvalidProtocolRefusedBeforeAnything: validate lists every error with
// file:line:column and exits 3; run exits 3 and creates no run.
func TestInvalidProtocolRefusedBeforeAnything(t *testing.T) {
	chdirRoot(t)
	bad := "protocols/testdata/invalid/many.yaml"
	code, _, errOut := cli(t, "validate", bad)
	if code != exitInvalid {
		t.Errorf("validate exit %d, want 3", code)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) < 15 || !strings.HasSuffix(errOut, "15 error(s)\n") {
		t.Errorf("validate printed %d lines:\n%s", len(lines), errOut)
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, bad+":") {
			t.Errorf("error line without position: %q", l)
		}
	}
	runs := filepath.Join(t.TempDir(), "runs")
	code, out, _ := cli(t, "run", "--runs", runs, bad)
	if code != exitInvalid || out != "" {
		t.Errorf("run of invalid protocol: exit %d, stdout %q", code, out)
	}
	if _, err := os.Stat(runs); !os.IsNotExist(err) {
		t.Errorf("run of invalid protocol created %s (%v)", runs, err)
	}
}

func TestValidateAndUsage(t *testing.T) {
	chdirRoot(t)
	if code, out, _ := cli(t, "validate", "configs/protocols/demo.yaml"); code != exitPass || !strings.Contains(out, "protocol demo is valid for rig sim (5 steps)") {
		t.Errorf("validate demo: %d %q", code, out)
	}
	for _, args := range [][]string{{}, {"frobnicate"}, {"run"}, {"run", "--no-such-flag", "x.yaml"}, {"validate", "a.yaml", "b.yaml"}} {
		if code, _, _ := cli(t, args...); code != exitInvalid {
			t.Errorf("%v: exit %d, want 3", args, code)
		}
	}
	if code, _, errOut := cli(t, "run", "--rig", "no/such/rig.yaml", "configs/protocols/demo.yaml"); code != exitInvalid || !strings.Contains(errOut, "no/such/rig.yaml") {
		t.Errorf("missing rig: %d %q", code, errOut)
	}
	// InfluxDB unreachable: the run goes on and passes, its points spooled
	// and the result saying so.
	runs := t.TempDir()
	code, _, errOut := cli(t, "run", "--quiet", "--runs", runs, "--influx", "http://127.0.0.1:1", "configs/protocols/loop-characterisation.yaml", "--rig", "configs/rigs/sim-loop-only.yaml")
	if code != exitPass || !strings.Contains(errOut, "spooled, not yet delivered") {
		t.Errorf("influx down: exit %d %q", code, errOut)
	}
	if list, _ := runlog.List(runs); len(list) == 1 {
		r, _ := runlog.Open(list[0].Dir)
		if r.Result.Influx == nil || r.Result.Influx.Delivered || r.Result.Influx.SpooledPoints < 90_000 {
			t.Errorf("result influx %+v", r.Result.Influx)
		}
	} else {
		t.Errorf("runs %+v", list)
	}
	if code, out, _ := cli(t, "version"); code != exitPass || !strings.HasPrefix(out, "mockloop ") {
		t.Errorf("version: %d %q", code, out)
	}
}

// TestEmbeddedDefaultRig runs from a directory without configs/.
func TestEmbeddedDefaultRig(t *testing.T) {
	root, _ := filepath.Abs("../..")
	t.Chdir(t.TempDir())
	code, out, errOut := cli(t, "validate", filepath.Join(root, "configs/protocols/demo.yaml"))
	if code != exitPass || !strings.Contains(out, "rig sim") {
		t.Errorf("embedded rig: %d %q %q", code, out, errOut)
	}
}

// TestRunsRecoversInterrupted: a record whose process died (manifest still
// "running", no result, no lock holder) is closed as interrupted by the next
// command, with its frames kept.
func TestRunsRecoversInterrupted(t *testing.T) {
	chdirRoot(t)
	runs := t.TempDir()
	if code, _, _ := cli(t, "run", "--quiet", "--runs", runs, "configs/protocols/demo.yaml"); code != exitPass {
		t.Fatal("demo failed")
	}
	list, _ := runlog.List(runs)
	dir := list[0].Dir
	// Make it look like the process was killed mid-run.
	m, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	m = bytes.Replace(m, []byte(`"state": "closed"`), []byte(`"state": "running"`), 1)
	if !bytes.Contains(m, []byte(`"state": "running"`)) {
		t.Fatalf("manifest format changed: %s", m)
	}
	os.WriteFile(filepath.Join(dir, "manifest.json"), m, 0o644)
	os.Remove(filepath.Join(dir, "result.json"))

	code, out, errOut := cli(t, "runs", "--runs", runs)
	if code != exitPass || !strings.Contains(errOut, "closed it as interrupted") || !strings.Contains(out, "interrupted") {
		t.Fatalf("runs: %d\n%s\n%s", code, out, errOut)
	}
	r, err := runlog.Open(dir)
	if err != nil || r.Result == nil || r.Result.Outcome != runlog.OutcomeInterrupted || r.Result.Frames != 160_000 {
		t.Errorf("recovered record: %+v %v", r.Result, err)
	}
}

// TestZeroAndCalibrateCommands runs the calibration commands on a copy of
// the sim rig: records land in its calibration file and the next run's
// manifest carries them.
func TestZeroAndCalibrateCommands(t *testing.T) {
	chdirRoot(t)
	dir, rigFile := tempSimRig(t)

	code, out, errOut := cli(t, "zero", "--rig", rigFile, "--channel", "aop", "--channel", "lvp", "--yes", "--operator", "qa")
	if code != exitPass || !strings.Contains(out, "aop") || !strings.Contains(out, "-1.99") || !strings.Contains(out, "saved to "+filepath.Join(dir, "sim.calibration.json")) {
		t.Fatalf("zero: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = cli(t, "calibrate", "--rig", rigFile, "--at", "0 mmHg", "--at", "200 mmHg", "--reference", "Fluke 700G #4711", "--due", "2099-01-31", "--yes", "aop")
	if code != exitPass || !strings.Contains(out, "aop calibrated (two-point, due 2099-01-31)") || !strings.Contains(out, "200 mmHg") {
		t.Fatalf("calibrate: %d\n%s\n%s", code, out, errOut)
	}
	for _, bad := range [][]string{
		{"calibrate", "--rig", rigFile, "--at", "0 mmHg", "--reference", "x", "aop"},                    // one point
		{"calibrate", "--rig", rigFile, "--at", "0 mmHg", "--at", "2 L/min", "--reference", "x", "aop"}, // wrong unit
		{"calibrate", "--rig", rigFile, "--at", "0 mmHg", "--at", "200 mmHg", "aop"},                    // no reference
		{"calibrate", "--rig", rigFile, "--at", "0 mmHg", "--at", "200 mmHg", "--reference", "x", "lv_volume"},
	} {
		if code, _, _ := cli(t, bad...); code != exitInvalid {
			t.Errorf("%v: exit %d, want 3", bad[3:], code)
		}
	}
	runs := t.TempDir()
	if code, _, errOut := cli(t, "run", "--quiet", "--rig", rigFile, "--runs", runs, "configs/protocols/demo.yaml"); code != exitPass {
		t.Fatalf("run after calibration: %d %s", code, errOut)
	}
	list, _ := runlog.List(runs)
	r, _ := runlog.Open(list[0].Dir)
	methods := map[string]string{}
	for _, c := range r.Manifest.Calibration {
		methods[c.Channel] = c.Method + "/" + c.Reference
	}
	if methods["aop"] != "two-point/Fluke 700G #4711" || methods["lvp"] != "zero/atmosphere (zero)" || methods["lap"] != "nominal/rig config "+rigFile {
		t.Errorf("manifest calibrations %v", methods)
	}
}

// TestValidateAgainstBenchConfig: protocols are checked against the Pi
// bench's config on any machine; nothing is opened.
func TestValidateAgainstBenchConfig(t *testing.T) {
	chdirRoot(t)
	code, out, errOut := cli(t, "validate", "--rig", "configs/rigs/pi-mcl.yaml", "configs/protocols/loop-characterisation.yaml")
	if code != exitPass || !strings.Contains(out, "valid for rig pi-mcl") {
		t.Errorf("validate on pi-mcl: %d %q %q", code, out, errOut)
	}
}

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDUTSimCommand: `mockloop dut-sim` prints a pty path on which a real
// VADLINK host finds the simulated DUT, and ends cleanly when interrupted.
func TestDUTSimCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	go func() { done <- cmdDUTSim(ctx, []string{"--fault", "delay=5ms"}, &out, &errOut) }()
	var path string
	for range 200 {
		if path = strings.TrimSpace(out.String()); path != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.HasPrefix(path, "/dev/pts/") {
		cancel()
		t.Fatalf("dut-sim printed %q", path)
	}
	d, err := dut.Dial(ctx, dut.Config{Path: path, Clock: clock.NewReal()})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	id := d.Identity()
	st, err := d.Status(ctx)
	d.Close()
	cancel()
	if code := <-done; code != exitPass || err != nil || id.Model != "dutsim-impella" || st.RPM != 0 {
		t.Errorf("exit %d, identity %+v, status %+v %v", code, id, st, err)
	}
	if !strings.Contains(errOut.String(), "delay") {
		t.Errorf("faults not reported: %q", errOut.String())
	}
	if code := cmdDUTSim(context.Background(), []string{"--fault", "drop=2"}, &out, &errOut); code != exitInvalid {
		t.Errorf("bad fault spec: exit %d", code)
	}
}

// TestSIGTERMMidStep runs the real binary on a 24 h protocol and sends it
// SIGTERM: it exits 2, the record is closed as aborted with the operator's
// reason, and the DUT has been commanded to its safe state.
func TestSIGTERMMidStep(t *testing.T) {
	bin, dir := buildCLI(t)
	proto := filepath.Join(dir, "long.yaml")
	os.WriteFile(proto, []byte("protocol: 1\nname: long\nsteps:\n  - set: {dut.level: P6}\n    repeat: {for: 24 h}\n    steps:\n      - hold: 10 min\n"), 0o644)
	runs := filepath.Join(dir, "runs")
	cmd := exec.Command(bin, "run", "--runs", runs, proto)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 300 { // the run is going once its first step is announced
		if strings.Contains(stderr.String(), "step 1/1") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitAborted {
		t.Fatalf("exit %v, want %d\n%s", err, exitAborted, stderr.String())
	}
	list, _ := runlog.List(runs)
	if len(list) != 1 {
		t.Fatalf("runs %+v", list)
	}
	r, err := runlog.Open(list[0].Dir)
	if err != nil || r.Result == nil || r.Result.Outcome != runlog.OutcomeAborted || r.Result.AbortReason != "operator: received terminated" || r.Manifest.State != runlog.StateClosed {
		t.Fatalf("record: %+v %+v %v", r.Manifest, r.Result, err)
	}
	if !dutStopped(r) {
		t.Error("the DUT was not commanded to stop")
	}
}

// TestCrashAndResume kills a run with SIGKILL mid-step: the next command
// closes its record as interrupted with every synced frame readable, a
// report can be made from it, and --resume completes the protocol in the
// same record.
func TestCrashAndResume(t *testing.T) {
	bin, dir := buildCLI(t)
	proto := filepath.Join(dir, "p.yaml")
	os.WriteFile(proto, []byte(`protocol: 1
name: crash
steps:
  - name: one
    set: {loop.preset: heart_failure, dut.level: P4}
    hold: 30 s
    criteria: [{id: C1, measure: mean(flow_dut), over: last 10 s, between: [2.2 L/min, 2.9 L/min]}]
  - name: two
    set: {dut.level: P8}
    hold: 30 s
    criteria: [{id: C2, measure: mean(flow_dut), over: last 10 s, between: [3.0 L/min, 4.0 L/min]}]
  - name: three
    repeat: {for: 40 min}
    steps:
      - hold: 10 min
        criteria:
          - {id: C3, measure: map(aop), between: [60 mmHg, 110 mmHg]}
          - {id: C4, measure: mean(flow_dut), relative_to: one, min: +0.5 L/min}
`), 0o644)
	runs := filepath.Join(dir, "runs")
	cmd := exec.Command(bin, "run", "--runs", runs, proto)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if strings.Contains(stderr.String(), "step 3/3") {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a second of syncs into step 3
	cmd.Process.Kill()
	cmd.Wait()

	// The next command closes it as interrupted; what was synced is there.
	code, out, _ := cli(t, "runs", "--runs", runs)
	list, _ := runlog.List(runs)
	if code != exitPass || len(list) != 1 || list[0].State != runlog.StateInterrupted || !strings.Contains(out, "interrupted") {
		t.Fatalf("after the kill: %d %q %+v", code, out, list)
	}
	r, _ := runlog.Open(list[0].Dir)
	st, err := r.Frames(func(time.Duration, []float64) error { return nil })
	if err != nil || st.Frames < 61_000 || st.Frames != r.Result.Frames {
		t.Fatalf("interrupted record: %d frames readable, result says %d (%v)", st.Frames, r.Result.Frames, err)
	}
	validRecord(t, list[0].Dir) // a real SIGKILL's record follows the published schemas
	if code, _, errOut := cli(t, "report", "--runs", runs, "--format", "html,junit", list[0].RunID); code != exitPass {
		t.Fatalf("report of the interrupted run: %d %s", code, errOut)
	}
	// Sealed by the recovery, over what it kept after the SIGKILL.
	if code, out, errOut := cli(t, "verify", "--runs", runs, list[0].RunID); code != exitPass || !strings.Contains(out, "intact, sealed by recovery") {
		t.Fatalf("verify of the recovered run: %d %s%s", code, out, errOut)
	}
	before := st.Frames

	// A different protocol is refused; the same one resumes.
	other := filepath.Join(dir, "other.yaml")
	os.WriteFile(other, []byte("protocol: 1\nname: other\nsteps:\n  - hold: 1 s\n"), 0o644)
	if code, _, errOut := cli(t, "run", "--quiet", "--runs", runs, "--resume", list[0].RunID, other); code != exitInvalid || !strings.Contains(errOut, "another protocol") {
		t.Errorf("resume with another protocol: %d %q", code, errOut)
	}
	if code, _, errOut := cli(t, "run", "--quiet", "--runs", runs, "--resume", list[0].RunID); code != exitInvalid || !strings.Contains(errOut, "--reason") {
		t.Errorf("resume without a reason: %d %q, want 3 asking for --reason", code, errOut)
	}
	code, out, errOut := cli(t, "run", "--quiet", "--json", "--runs", runs, "--resume", list[0].RunID, "--operator", "R. Sumer", "--reason", "mains power restored")
	res := resumedResult(t, code, out, errOut)
	r, _ = runlog.Open(list[0].Dir)
	st, _ = r.Frames(func(time.Duration, []float64) error { return nil })
	if r.Manifest.State != runlog.StateClosed || r.Manifest.Resumed != 1 || st.Frames != res.Frames || res.Frames < before+40*60_000 {
		t.Errorf("resumed record: state %s, resumed %d, %d frames on disk, %d in the result (%d before)", r.Manifest.State, r.Manifest.Resumed, st.Frames, res.Frames, before)
	}
	validRecord(t, list[0].Dir) // with relative criteria and a resume
	ev, _ := r.ReadEvents()
	gap := false
	for _, e := range ev {
		gap = gap || e.Kind == runlog.KindRunResumed
	}
	if !gap {
		t.Error("no run.resumed event records the gap")
	}
	if d := runlog.Deviations(runlog.AuditTrail(ev)); len(d) != 1 || d[0].Action != runlog.ActionResumeInterrupted || d[0].By != "R. Sumer" || d[0].Reason != "mains power restored" {
		t.Errorf("deviations after the resume: %+v, want the resume by R. Sumer with its reason", d)
	}
	// The resumed run's seal covers both parts.
	if code, out, errOut := cli(t, "verify", "--runs", runs, list[0].RunID); code != exitPass || !strings.Contains(out, "frames/00000002.seg: intact") || !strings.Contains(out, "intact, sealed by close") {
		t.Errorf("verify of the resumed run: %d %s%s", code, out, errOut)
	}
}

// resumedResult is the result run --resume printed (code, out, errOut),
// whose criteria must be the first two steps' kept and step 3's run anew,
// those relative to step 1 with step 1's reference, kept in the record
// across the kill.
func resumedResult(t *testing.T, code int, out, errOut string) runlog.Result {
	t.Helper()
	var res runlog.Result
	json.Unmarshal([]byte(out), &res)
	if code != exitPass || res.Outcome != runlog.OutcomePass {
		for _, c := range res.Criteria {
			if c.Value != nil {
				t.Logf("%s %s %s %g %s", c.ID, c.Step, c.Measure, *c.Value, c.Verdict)
			} else {
				t.Logf("%s %s %s %s %s", c.ID, c.Step, c.Measure, c.Verdict, c.Reason)
			}
		}
		t.Fatalf("resume: exit %d %s %q\n%s", code, res.Outcome, res.AbortReason, errOut)
	}
	ids := map[string]int{}
	for _, c := range res.Criteria {
		ids[c.ID]++
	}
	if ids["C1"] != 1 || ids["C2"] != 1 || ids["C3"] != 4 || ids["C4"] != 4 {
		t.Errorf("criteria after resume %v: the first two steps' must be kept, step 3 run anew (4 iterations)", ids)
	}
	// Step 3 ran anew after the resume; its criteria relative to step 1
	// have step 1's reference, kept in the record across the kill.
	one := res.Steps[0].Channels["flow_dut"].Mean // C4's measure over step 1
	for _, c := range res.Criteria {
		if c.ID == "C4" && (c.Reference == nil || math.Abs(*c.Reference-one) > 1e-9 || c.ReferenceStep != "1" || !c.Pass) {
			t.Errorf("C4 after resume: reference %v in step %q, %s; want step 1's mean flow_dut %g", c.Reference, c.ReferenceStep, c.Verdict, one)
		}
	}
	return res
}

// TestValidateCountsStepsAsTheRun: validate's step count is the run's "step
// N/M" (Protocol.StepCount): nested steps run inside their top-level step,
// they are not counted again (issue 19: validate said 4 where the run said
// step 1/3).
func TestValidateCountsStepsAsTheRun(t *testing.T) {
	chdirRoot(t)
	proto := filepath.Join(t.TempDir(), "nested.yaml")
	src := "protocol: 1\nname: nested\nsteps:\n  - {name: a, set: {loop.preset: healthy}, hold: 1 s}\n" +
		"  - name: b\n    repeat: {count: 2}\n    steps:\n      - hold: 1 s\n      - hold: 1 s\n  - {name: c, hold: 1 s}\n"
	if err := os.WriteFile(proto, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := cli(t, "validate", proto); code != exitPass || !strings.Contains(out, "is valid for rig sim (3 steps)") {
		t.Errorf("validate: %d %q", code, out)
	}
	code, _, errOut := cli(t, "run", "--runs", t.TempDir(), proto)
	if code != exitPass || !strings.Contains(errOut, `step 1/3 "a"`) || !strings.Contains(errOut, `step 3/3 "c"`) {
		t.Errorf("run: %d %q", code, errOut)
	}
}
