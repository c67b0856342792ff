package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// A FIFO, or a symlink to /dev/zero, named manifest.json, events.jsonl or
// protocol.yaml in a run directory does not hang `runs`, `report`, `verify` or `run
// --resume`: the file is refused at once (a FIFO blocked open; /dev/zero
// never ended).
func TestFIFOInRecordDoesNotHangCommands(t *testing.T) {
	for _, tc := range []struct{ file, kind string }{
		{"manifest.json", "fifo"}, {"manifest.json", "zero"}, {"events.jsonl", "fifo"}, {"events.jsonl", "zero"},
		{"protocol.yaml", "fifo"}, {"protocol.yaml", "zero"},
	} {
		t.Run(tc.file+"/"+tc.kind, func(t *testing.T) {
			runs := t.TempDir()
			rec, m := newRecord(t, runs, time.Date(2026, 11, 20, 23, 15, 2, 0, time.UTC))
			if err := rec.Close(runlog.Result{Outcome: runlog.OutcomePass}); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(rec.Dir(), tc.file)
			os.Remove(p)
			if tc.kind == "fifo" {
				if err := syscall.Mkfifo(p, 0o644); err != nil {
					t.Skip("no FIFOs here:", err)
				}
			} else if err := os.Symlink("/dev/zero", p); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"runs", "--runs", runs}, {"report", "--runs", runs, "--format", "junit", m.RunID}, {"verify", "--runs", runs, m.RunID},
				{"run", "--quiet", "--runs", runs, "--resume", m.RunID}} {
				done := make(chan int, 1)
				var errOut string
				go func() {
					code, _, e := cli(t, args...)
					errOut = e
					done <- code
				}()
				select {
				case code := <-done:
					t.Logf("%v: exit %d: %s", args, code, errOut)
				case <-time.After(30 * time.Second):
					t.Fatalf("%v hangs on a %s named %s", args, tc.kind, tc.file)
				}
			}
		})
	}
}
