package rig

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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
