package rig

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/bench"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
)

// TestConfigsNamingTheSameHardwareShareABench: the bench is its hardware,
// whatever the config calls it; two configs that share one GPIO line share
// the bench.
func TestConfigsNamingTheSameHardwareShareABench(t *testing.T) {
	src, err := os.ReadFile("../configs/rigs/pi-mcl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseConfig("pi-mcl.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	spelled := strings.NewReplacer("spi: SPI0.0", "spi: /dev/spidev0.0", `i2c: "1"`, "i2c: /dev/i2c-1", "GPIO25", "25", "rig: pi-mcl", "rig: other-name").Replace(string(src))
	b, err := ParseConfig("other.yaml", []byte(spelled))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"spi0.0", "i2c1", "gpio25", "gpio23", "gpio17", "gpio27", "gpio22"}
	if got := a.BenchResources(); !slices.Equal(got, want) {
		t.Errorf("pi-mcl bench %v, want %v", got, want)
	}
	if got := b.BenchResources(); !slices.Equal(got, a.BenchResources()) {
		t.Errorf("the same hardware spelled otherwise is bench %v, not %v", got, a.BenchResources())
	}
	sim := simConfig(t)
	if got := sim.BenchResources(); !slices.Equal(got, []string{"sim:" + sim.Name}) {
		t.Errorf("simulated bench %v", got)
	}
	// A run holding pi-mcl's bench refuses any config sharing a line.
	dir := t.TempDir()
	l, err := bench.Acquire(dir, a.BenchResources(), bench.Status{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, err := bench.Acquire(dir, []string{"spi1.0", busName("gpio", "BCM22")}, bench.Status{}); !errors.Is(err, bench.ErrBusy) {
		t.Errorf("a bench sharing the heater's line: %v, want busy", err)
	}
}

// TestControlSocketPausesResumesAndStopsARun: the run answers its bench's
// socket with where it is, holds inside a hold on pause, goes on on
// resume, and ends aborted, safe and closed on stop; each request is in
// the audit trail with the person and reason.
func TestControlSocketPausesResumesAndStopsARunEachInTheAuditTrailWithThePerson(t *testing.T) {
	cfg := simConfig(t)
	src := header + "  - hold: 60 s\n  - hold: 24 h\n"
	p, err := protocols.Parse("t.yaml", []byte(src), cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := bench.Dir()
	first := cfg.BenchResources()[0]
	ask := func(action string, ok func(bench.Status) bool) bench.Status {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			st, err := bench.Ask(dir, first, bench.Request{Action: action, By: "a test", Role: "operator", Via: "cli", Reason: "why " + action})
			if err == nil && ok(st) {
				return st
			}
			if err == nil {
				action = bench.ActionStatus // sent
			}
		}
		st, err := bench.Ask(dir, first, bench.Request{Action: bench.ActionStatus})
		t.Fatalf("the run never got there after %s: %+v %v", action, st, err)
		return bench.Status{}
	}
	type out struct {
		res *runlog.Result
		dir string
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, rdir, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir(), ProtocolSource: []byte(src), Speed: 20,
			Operator: "B. Starter", Via: "cli"})
		done <- out{res, rdir, err}
	}()
	ask(bench.ActionStatus, func(st bench.Status) bool { return strings.HasPrefix(st.Step, "1 ") })
	st := ask(bench.ActionPause, func(st bench.Status) bool { return st.State == "pausing" || st.State == "paused" })
	if st.Protocol != "t" || st.PID != os.Getpid() {
		t.Errorf("status %+v", st)
	}
	st = ask(bench.ActionStatus, func(st bench.Status) bool { return st.State == "paused" })
	if st.Step != "1 hold 1 min" || st.ElapsedS >= 60 {
		t.Errorf("paused at %+v, want inside step 1's hold (language 1.1: at once)", st)
	}
	ask(bench.ActionResume, func(st bench.Status) bool { return strings.HasPrefix(st.Step, "2 ") && st.State == "running" })
	// A pause in step 2's hold takes effect at once too.
	ask(bench.ActionPause, func(st bench.Status) bool { return st.State == "paused" && strings.HasPrefix(st.Step, "2 ") })
	ask(bench.ActionResume, func(st bench.Status) bool { return st.State == "running" })
	ask(bench.ActionStop, func(st bench.Status) bool { return st.State == "stopping" })
	o := <-done
	if o.err != nil || o.res.Outcome != runlog.OutcomeAborted || o.res.AbortReason != "operator: stopped by a test: why stop" {
		t.Fatalf("run after stop: %+v %v", o.res, o.err)
	}
	checkAuditTrail(t, o.dir, []runlog.OperatorData{
		{Action: runlog.ActionStart, By: "B. Starter", Via: "cli"},
		{Action: runlog.ActionPause, By: "a test", Role: "operator", Via: "cli", Reason: "why pause", Deviation: true},
		{Action: runlog.ActionResume, By: "a test", Role: "operator", Via: "cli", Reason: "why resume"},
		{Action: runlog.ActionPause, By: "a test", Role: "operator", Via: "cli", Reason: "why pause", Deviation: true},
		{Action: runlog.ActionResume, By: "a test", Role: "operator", Via: "cli", Reason: "why resume"},
		{Action: runlog.ActionStop, By: "a test", Role: "operator", Via: "cli", Reason: "why stop", Deviation: true},
	})
	if _, err := bench.Ask(dir, first, bench.Request{Action: bench.ActionStatus}); !errors.Is(err, bench.ErrNoHolder) {
		t.Errorf("after the run: %v, want the bench free", err)
	}
}

// TestCalibrationAndTimingHoldTheBench: a zero or calibration session
// holds the bench against runs (and answers status only); a run holds it
// against a calibration and against `mockloop timing`, which would drive
// its actuators to their safe state mid-run.
func TestCalibrationAndTimingHoldTheBench(t *testing.T) {
	cfg := simConfig(t)
	cfg.CalibrationFile = filepath.Join(t.TempDir(), "cal.json")
	s, err := OpenCalibration(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := protocols.Parse("t.yaml", []byte(header+"  - hold: 1 s\n"), cfg.Info())
	if _, _, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir()}); !errors.Is(err, bench.ErrBusy) {
		t.Errorf("run during a calibration: %v, want busy", err)
	}
	dir, _ := bench.Dir()
	if _, err := bench.Ask(dir, cfg.BenchResources()[0], bench.Request{Action: bench.ActionStop}); err == nil || !strings.Contains(err.Error(), "calibration is in progress") {
		t.Errorf("stop of a calibration: %v", err)
	}
	s.Close()
	l, err := lockBench(cfg, "running")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, err := OpenCalibration(cfg, false); !errors.Is(err, bench.ErrBusy) {
		t.Errorf("calibration during a run: %v, want busy", err)
	}
	if _, err := Timing(context.Background(), cfg, time.Second, 0); !errors.Is(err, bench.ErrBusy) {
		t.Errorf("timing during a run: %v, want busy", err)
	}
}

// checkAuditTrail checks the audit trail of the run in dir against want,
// At aside (the wall clock's), which must be set.
func checkAuditTrail(t *testing.T, dir string, want []runlog.OperatorData) {
	t.Helper()
	r, err := runlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := r.ReadEvents()
	if err != nil {
		t.Fatal(err)
	}
	trail := runlog.AuditTrail(ev)
	var got []runlog.OperatorData
	for _, a := range trail {
		if a.At.IsZero() {
			t.Errorf("audit entry %+v has no wall-clock time", a)
		}
		a.At = time.Time{}
		got = append(got, a.OperatorData)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("audit trail:\n got %+v\nwant %+v", got, want)
	}
}
