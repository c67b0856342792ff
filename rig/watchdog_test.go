package rig

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
)

// watchdogConfig is the simulated rig with a watchdog at dev.
func watchdogConfig(t *testing.T, dev, timeout string) (*Config, error) {
	t.Helper()
	src, err := os.ReadFile("../configs/rigs/sim-loop-only.yaml")
	if err != nil {
		t.Fatal(err)
	}
	withDog := strings.Replace(string(src), "\nhardware:\n", "\nhardware:\n  watchdog: {device: "+dev+", timeout: "+timeout+"}\n", 1)
	if withDog == string(src) {
		t.Fatal("no hardware section to add the watchdog to")
	}
	return ParseConfig(filepath.Join(t.TempDir(), "dog.yaml"), []byte(withDog))
}

// TestWatchdogFedByTheLoopAndDisarmedAtTheEnd: a run arms the watchdog,
// the sampling loop feeds it every quarter timeout, and the magic 'V'
// disarms it once the bench is safe — on an aborted run too, which still
// ended under control.
func TestWatchdogFedByTheLoopAndDisarmedAtTheEnd(t *testing.T) {
	for _, c := range []struct {
		name, steps string
		outcome     runlog.Outcome
		feeds       int
	}{
		{"pass", "  - hold: 60 s\n", runlog.OutcomePass, 15}, // 60 s at every 3.75 s
		{"trip", "  - hold: 20 s\n  - set: {loop.heart_rate: 90 bpm}\n    hold: 1 s\n    criteria: [{measure: mean(aop), max: 1 mmHg, on_fail: abort}]\n", runlog.OutcomeAborted, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			dev := filepath.Join(t.TempDir(), "watchdog")
			os.WriteFile(dev, nil, 0o600)
			if _, err := watchdogConfig(t, dev, "16 s"); err == nil || !strings.Contains(err.Error(), "dog.yaml:") || !strings.Contains(err.Error(), "1 s to 15 s") {
				t.Errorf("a 16 s timeout: %v", err)
			}
			cfg, err := watchdogConfig(t, dev, "15 s")
			if err != nil {
				t.Fatal(err)
			}
			p, err := protocols.Parse("t.yaml", []byte(header+c.steps), cfg.Info())
			if err != nil {
				t.Fatal(err)
			}
			res, _, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir()})
			if err != nil || res.Outcome != c.outcome {
				t.Fatalf("run: %+v %v", res, err)
			}
			got, _ := os.ReadFile(dev)
			if !strings.HasSuffix(string(got), "V") || strings.Count(string(got), "k") < c.feeds || strings.Count(string(got), "V") != 1 {
				t.Errorf("watchdog got %q: want at least %d keep-alives, then one magic 'V'", got, c.feeds)
			}
		})
	}
}

// TestWatchdogNotDisarmedWhenTheRunDoesNotEndUnderControl: a run that
// could not start after arming (its record cannot be made) leaves the
// watchdog armed — no 'V' — and so does a missing device refuse the run.
func TestWatchdogNotDisarmedWhenTheRunDoesNotEndUnderControl(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "watchdog")
	os.WriteFile(dev, nil, 0o600)
	cfg, err := watchdogConfig(t, dev, "4 s")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := protocols.Parse("t.yaml", []byte(header+"  - hold: 1 s\n"), cfg.Info())
	runs := filepath.Join(t.TempDir(), "file")
	os.WriteFile(runs, nil, 0o600) // not a directory: the record cannot be created
	if _, _, err := Run(context.Background(), cfg, p, Options{RunsDir: runs}); err == nil {
		t.Fatal("a run without a record started")
	}
	if got, _ := os.ReadFile(dev); strings.Contains(string(got), "V") {
		t.Errorf("watchdog got %q: disarmed by a run that never ran", got)
	}
	cfg, _ = watchdogConfig(t, filepath.Join(t.TempDir(), "absent"), "4 s")
	if _, _, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "watchdog") {
		t.Errorf("run with a missing watchdog: %v", err)
	}
}

// TestWatchdogOnAFIFO: a FIFO stands in for the device, read as the
// kernel would be written to — keep-alives, then the magic 'V' — and a
// FIFO nobody reads refuses the run instead of hanging it at the open.
func TestWatchdogOnAFIFO(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "watchdog")
	if err := syscall.Mkfifo(dev, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	cfg, err := watchdogConfig(t, dev, "4 s")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := protocols.Parse("t.yaml", []byte(header+"  - hold: 30 s\n"), cfg.Info())
	if _, _, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "watchdog") {
		t.Fatalf("run with nobody at the FIFO: %v", err)
	}
	got := make(chan string, 1)
	r, err := os.OpenFile(dev, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir()})
	go func() {
		data, _ := io.ReadAll(r) // the writer has closed: up to EOF
		got <- string(data)
	}()
	if err != nil || res.Outcome != runlog.OutcomePass {
		t.Fatalf("run: %+v %v", res, err)
	}
	if s := <-got; !strings.HasSuffix(s, "V") || strings.Count(s, "k") < 30 {
		t.Errorf("FIFO got %q: want a keep-alive a second for 30 s, then 'V'", s)
	}
	r.Close()
}
