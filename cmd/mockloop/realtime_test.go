package main

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// openOnlyRun opens the one run record under runs.
func openOnlyRun(t *testing.T, runs string) *runlog.Run {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(runs, "*", "manifest.json"))
	if len(dirs) != 1 {
		t.Fatalf("%d run records in %s", len(dirs), runs)
	}
	r, err := runlog.Open(filepath.Dir(dirs[0]))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRealtimeRunKeepsTime is the bench's promise on the wall clock: a
// 10 s protocol on the simulated rig keeps its time base — every step
// lasts its hold to within one sample period in the record (well inside
// 1 %), and every conversion is a frame or a declared gap — and ends safe
// and closed. On an idle machine it passes; under `make test-stress`, where
// the suite and two CPU-bound processes keep a 2-core machine at a load of
// 10 and more, the loop can be held long enough for the LV drive's held
// output to trip the safety supervisor, as on a starved bench: then the
// abort must be that trip (or the DUT link lost), with the time base kept
// for the steps that ran. The outcome under two CPU-bound processes alone
// is measured in the notes of issue 12, not asserted here.
// hostLinkLost reports whether the run's record has the DUT raising its
// host-link-lost alarm.
func hostLinkLost(t *testing.T, r *runlog.Run) bool {
	ev, err := r.ReadEvents()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ev {
		if e.Kind == runlog.KindDUTRx && strings.Contains(e.Msg, "ALARM") && strings.Contains(e.Msg, "host link lost") {
			return true
		}
	}
	return false
}

func TestRealtimeRunKeepsTime(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s on the wall clock")
	}
	chdirRoot(t)
	runs := t.TempDir()
	code, out, errOut := cli(t, "run", "--realtime", "--quiet", "--runs", runs, "cmd/mockloop/testdata/ten-seconds.yaml")
	r := openOnlyRun(t, runs)
	res := r.Result
	switch {
	case code == exitPass:
	case code == exitAborted && (strings.HasPrefix(res.AbortReason, "safety trip: ") || strings.HasPrefix(res.AbortReason, "DUT link lost")):
		t.Logf("aborted under load: %s", res.AbortReason)
	case code == exitAborted && strings.Contains(res.AbortReason, "alarm active") && hostLinkLost(t, r):
		// The device's own watchdog saw the host silent for 2 s (the
		// machine held the process): it latches the alarm and refuses
		// commands, the device's side of "DUT link lost".
		t.Logf("aborted under load: %s, after the device's host-link alarm", res.AbortReason)
	default:
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if r.Manifest.State != runlog.StateClosed {
		t.Errorf("record left %s", r.Manifest.State)
	}
	holds := map[string]time.Duration{"baseline": 4 * time.Second, "pump P4": 3 * time.Second, "faster heart": 3 * time.Second}
	for _, st := range res.Steps {
		if st.Outcome != runlog.OutcomePass {
			continue
		}
		d := time.Duration((st.EndS - st.StartS) * 1e9)
		if want := holds[st.Name]; d < want-time.Millisecond || d > want+time.Millisecond {
			t.Errorf("step %q lasted %v, want %v ± 1 ms", st.Name, d, want)
		}
	}
	ev, _ := r.ReadEvents()
	var lost int64
	for _, e := range ev {
		if e.Kind == runlog.KindGap {
			var g runlog.GapData
			if err := e.Decode(&g); err != nil {
				t.Fatal(err)
			}
			lost += g.Conversions
		}
	}
	first := time.Duration(-1)
	st, err := r.Frames(func(ft time.Duration, _ []float64) error {
		if first < 0 {
			first = ft
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// From the first frame to the run's end (the last step's, or the
	// frame that tripped): conversions lost after the last frame are
	// declared at the end.
	end := st.Last
	for _, s := range res.Steps {
		end = max(end, time.Duration(math.Round(s.EndS*1e9)))
	}
	if conv := int64((end-first)/time.Millisecond) + 1; st.Frames+lost != conv {
		t.Errorf("%d frames and %d conversions declared lost, but the run spans %d conversions", st.Frames, lost, conv)
	}
	if r.Manifest.RealTime == nil {
		t.Error("the manifest does not say what real time the loop had")
	}
	t.Logf("%s: %d frames, %d conversions lost; %+v", res.Outcome, res.Frames, lost, *r.Manifest.RealTime)
}

// TestRealtimeRefusedRunGoesOn: where the system refuses real-time
// priority and locked memory (here: CAP_SYS_NICE and CAP_IPC_LOCK dropped
// with setpriv, RLIMIT_RTPRIO and RLIMIT_MEMLOCK at 0), the run goes on,
// says so on stderr, and the manifest records what was obtained.
func TestRealtimeRefusedRunGoesOn(t *testing.T) {
	bin, dir := buildCLI(t)
	args := []string{"/bin/sh", "-c", `ulimit -r 0; ulimit -l 0; exec "$@"`, "sh"}
	if os.Geteuid() == 0 {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("setpriv (util-linux) is needed under CI")
			}
			t.Skip("setpriv not found")
		}
		args = append(args, setpriv, "--inh-caps=-sys_nice,-ipc_lock", "--bounding-set=-sys_nice,-ipc_lock")
	}
	proto := filepath.Join(dir, "short.yaml")
	if err := os.WriteFile(proto, []byte("protocol: 1\nname: short\nsteps:\n  - hold: 1 s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := filepath.Join(dir, "runs")
	cmd := exec.Command(args[0], append(args[1:], bin, "run", "--realtime", "--quiet", "--rig", "configs/rigs/sim-loop-only.yaml", "--runs", runs, proto)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "real time: SCHED_OTHER, memory not locked (SCHED_FIFO priority 80 refused") {
		t.Errorf("stderr does not say real time was refused:\n%s", out)
	}
	rt := openOnlyRun(t, runs).Manifest.RealTime
	if rt == nil || rt.Policy != "SCHED_OTHER" || rt.MemoryLocked || len(rt.Refused) != 2 {
		t.Errorf("manifest real_time %+v, want SCHED_OTHER, memory not locked, two refusals", rt)
	}
}
