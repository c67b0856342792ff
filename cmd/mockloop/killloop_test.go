package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mockloop/mockloop/internal/influxtest"
	"github.com/mockloop/mockloop/runlog"
)

// killLoopProtocol is short on virtual time (a run takes about a second of
// wall time), with a setpoint per step.
const killLoopProtocol = `protocol: 1
name: kill-loop
steps:
  - name: one
    set: {loop.preset: healthy, dut.level: P2}
    hold: 20 s
  - name: two
    set: {dut.level: P8}
    hold: 20 s
  - name: three
    set: {loop.resistance: 2 mmHg·s/ml}
    hold: 20 s
`

// killLoopKills is the number of SIGKILLs: 8 in the normal suite, more
// with MOCKLOOP_KILLS (make test-crash sets 50).
func killLoopKills(t *testing.T) int {
	n := 8
	if s := os.Getenv("MOCKLOOP_KILLS"); s != "" {
		k, err := strconv.Atoi(s)
		if err != nil || k < 1 {
			t.Fatalf("MOCKLOOP_KILLS=%q", s)
		}
		n = k
	}
	return n
}

// killLoop is the state of TestKillLoop.
type killLoop struct {
	t     *testing.T
	bin   string
	runs  string
	proto string
	srv   *influxtest.Server
	rng   *rand.Rand
	ref   []runlog.Event // step.start events of an uninterrupted run
	kills map[string]int // per command
}

// TestKillLoop is the acceptance test of crash-consistent records (issue
// 14): SIGKILL at random moments of `run`, `run --resume` and `sync` (real
// processes, the simulated rig on virtual time, a real InfluxDB). After each
// kill and a complete `mockloop sync`, the record, result.json and InfluxDB
// agree to the frame, per run and per part; every frame on disk has its
// run's start and its step's start on disk before it; and at the end every
// run resumes to completion. MOCKLOOP_KILLS sets the number of kills,
// MOCKLOOP_KILL_SEED the random moments (the seed is logged).
func TestKillLoop(t *testing.T) {
	srv := influxtest.Start(t)
	bin, dir := buildCLI(t)
	k := &killLoop{t: t, bin: bin, runs: filepath.Join(dir, "runs"), proto: filepath.Join(dir, "kill.yaml"), srv: srv,
		kills: map[string]int{}}
	if err := os.WriteFile(k.proto, []byte(killLoopProtocol), 0o644); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MOCKLOOP_KILL_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("MOCKLOOP_KILL_SEED=%d", seed)
	k.rng = rand.New(rand.NewPCG(seed, 0))
	k.reference()
	t.Setenv("MOCKLOOP_INFLUX_URL", srv.URL)
	t.Setenv("MOCKLOOP_INFLUX_TOKEN", "")

	n := killLoopKills(t)
	for done := 0; done < n; {
		args := []string{"run", "--quiet", "--runs", k.runs}
		what := "run"
		if id := k.interrupted(); id != "" && k.rng.IntN(3) > 0 {
			args, what = append(args, "--resume", id, "--reason", "kill loop"), "run --resume"
		}
		k.kill(what, append(args, k.proto), 1500*time.Millisecond)
		done++
		if done < n && k.rng.IntN(2) == 0 {
			k.kill("sync", []string{"sync", "--runs", k.runs}, 800*time.Millisecond)
			done++
		}
		k.check()
	}
	// Every run resumes to completion.
	for id := k.interrupted(); id != ""; id = k.interrupted() {
		if out, err := exec.Command(k.bin, "run", "--quiet", "--runs", k.runs, "--resume", id, "--reason", "kill loop", k.proto).CombinedOutput(); err != nil {
			if code := codeOf(err); code != exitPass && code != exitFail {
				t.Fatalf("resume %s to completion: %v\n%s", id, err, out)
			}
		}
	}
	lost, total := k.check()
	for _, s := range k.list() {
		if s.State != runlog.StateClosed {
			t.Errorf("run %s is %s after resuming to completion", s.RunID, s.State)
		}
	}
	t.Logf("kills: %v; frames lost in the kill loop: %d of %d", k.kills, lost, total)
}

// codeOf is the exit code of a finished command's error.
func codeOf(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// reference runs the protocol once without a kill, without InfluxDB, and
// keeps its step starts: on virtual time every run makes them at the same
// moments.
func (k *killLoop) reference() {
	runs := filepath.Join(filepath.Dir(k.runs), "reference")
	if out, err := exec.Command(k.bin, "run", "--quiet", "--runs", runs, k.proto).CombinedOutput(); err != nil {
		k.t.Fatalf("reference run: %v\n%s", err, out)
	}
	list, err := runlog.List(runs)
	if err != nil || len(list) != 1 {
		k.t.Fatalf("reference run: %v %v", list, err)
	}
	run, err := runlog.Open(list[0].Dir)
	if err != nil {
		k.t.Fatal(err)
	}
	evs, err := run.ReadEvents()
	if err != nil {
		k.t.Fatal(err)
	}
	for _, e := range evs {
		if e.Kind == runlog.KindStepStart {
			k.ref = append(k.ref, e)
		}
	}
	if len(k.ref) != 3 {
		k.t.Fatalf("reference run: %d step starts, want 3", len(k.ref))
	}
}

// kill runs the CLI with args and SIGKILLs it at a random moment within
// upTo (unless it ended before).
func (k *killLoop) kill(what string, args []string, upTo time.Duration) {
	k.t.Helper()
	cmd := exec.Command(k.bin, args...)
	cmd.Env = append(os.Environ(), "MOCKLOOP_INFLUX_URL="+k.srv.URL)
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	time.Sleep(time.Duration(k.rng.Int64N(int64(upTo))))
	cmd.Process.Kill()
	cmd.Wait()
	k.kills[what]++
}

// list recovers the runs a kill left running (as the next command does)
// and lists them.
func (k *killLoop) list() []runlog.Summary {
	k.t.Helper()
	if _, err := runlog.Recover(k.runs); err != nil {
		k.t.Fatal(err)
	}
	list, err := runlog.List(k.runs)
	if err != nil {
		k.t.Fatal(err)
	}
	return list
}

// interrupted returns the id of an interrupted run, or "".
func (k *killLoop) interrupted() string {
	for _, s := range k.list() {
		if s.State == runlog.StateInterrupted {
			return s.RunID
		}
	}
	return ""
}

// check syncs every run completely and checks each against its record
// and InfluxDB; it returns the frames InfluxDB lacks and the frames of all
// records.
func (k *killLoop) check() (lost, total int64) {
	t := k.t
	t.Helper()
	list := k.list()
	if code, out, errOut := cli(t, "sync", "--runs", k.runs); code != exitPass {
		t.Fatalf("sync after a kill: exit %d\n%s%s", code, out, errOut)
	}
	for _, s := range list {
		l, n := k.checkRun(s)
		lost += l
		total += n
	}
	return lost, total
}

// checkRun checks one run after a kill, its recovery and a sync.
func (k *killLoop) checkRun(s runlog.Summary) (lost, frames int64) {
	t := k.t
	t.Helper()
	run, err := runlog.Open(s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Duration
	st, err := run.Frames(func(ts time.Duration, _ []float64) error {
		times = append(times, ts)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	id := s.RunID
	if !st.Intact() {
		t.Errorf("%s: damage %v", id, st.Damaged)
	}
	if run.Result == nil || run.Result.Frames != st.Frames {
		t.Fatalf("%s (%s): result.json %+v, %d frames on disk", id, s.State, run.Result, st.Frames)
	}
	if d := run.Influx(); d != nil && !d.Delivered {
		t.Errorf("%s: after sync, influx %+v", id, d)
	}
	evs, err := run.ReadEvents()
	if err != nil {
		t.Fatal(err)
	}
	ends := k.checkEvents(id, evs, times)
	// InfluxDB agrees with the record, part by part.
	epoch := run.Manifest.Epoch
	prev := time.Duration(-1)
	for _, end := range ends {
		onDisk := int64(0)
		for _, ts := range times {
			if ts > prev && ts <= end {
				onDisk++
			}
		}
		inDB := k.countBetween(id, epoch.Add(prev), epoch.Add(end))
		if inDB != onDisk {
			t.Errorf("%s: part to %v: %d frames in InfluxDB, %d in the record", id, end, inDB, onDisk)
		}
		lost += max(0, onDisk-inDB)
		prev = end
	}
	return lost, st.Frames
}

// checkEvents checks that every frame has its run start and step start on
// disk, and returns the ends of the run's parts (the run time of each gap a
// resume bridged, and the last frame).
func (k *killLoop) checkEvents(id string, evs []runlog.Event, times []time.Duration) (ends []time.Duration) {
	t := k.t
	t.Helper()
	last := time.Duration(-1)
	if len(times) > 0 {
		last = times[len(times)-1]
	}
	has := func(kind, step string, from, to time.Duration) bool {
		for _, e := range evs {
			et := time.Duration(e.T * 1e9)
			if e.Kind == kind && (step == "" || e.Step == step) && et >= from-time.Microsecond && et <= to+time.Microsecond {
				return true
			}
		}
		return false
	}
	if len(times) > 0 && !has(runlog.KindRunStart, "", 0, times[0]) {
		t.Errorf("%s: %d frames, the first at %v, but no run.start before it", id, len(times), times[0])
	}
	var resumes []runlog.RunResumedData
	for _, e := range evs {
		if e.Kind == runlog.KindRunResumed {
			var d runlog.RunResumedData
			if err := e.Decode(&d); err != nil {
				t.Fatal(err)
			}
			resumes = append(resumes, d)
			ends = append(ends, time.Duration(d.GapFromS*1e9))
		}
	}
	ends = append(ends, max(last, 0))
	// The first part: every step start of the reference run up to its last
	// frame is on disk.
	for _, r := range k.ref {
		rt := time.Duration(r.T * 1e9)
		if rt <= ends[0] && rt <= last && !has(runlog.KindStepStart, r.Step, rt, rt) {
			t.Errorf("%s: frames to %v on disk, but not the start of step %s at %v", id, min(ends[0], last), r.Step, rt)
		}
	}
	// A resumed part with steps left: frames past its settling have a
	// step start.
	for i, d := range resumes {
		settled := time.Duration(d.GapToS*1e9) + 30*time.Second
		if end := ends[i+1]; d.CompletedSteps < len(k.ref) && end > settled+time.Millisecond && !has(runlog.KindStepStart, "", time.Duration(d.GapToS*1e9), end) {
			t.Errorf("%s: resumed part %d has frames to %v, past its settling to %v, but no step start", id, i+1, end, settled)
		}
	}
	return ends
}

// countBetween counts the frame points of a run in (from, to].
func (k *killLoop) countBetween(id string, from, to time.Time) int64 {
	q := fmt.Sprintf(`SELECT COUNT(aop) FROM frames WHERE run_id = %s AND time > %d AND time <= %d`,
		influxtest.Literal(id), from.UnixNano(), to.UnixNano())
	v := influxtest.Float(k.srv.InfluxQL(k.t, q), "count")
	if v != v { // NaN: no points
		return 0
	}
	return int64(v)
}
