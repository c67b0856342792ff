//go:build linux

package runlog

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
)

// A run that fills its disk closes with the cause: result.json says "disk
// full: …". Before, Close could not write result.json on the full disk, the
// run stayed "running", and Recover recorded it as "interrupted", its cause
// lost. The disk is a 16 MiB tmpfs (root only; skipped otherwise).
func TestDiskFullClosesWithTheCause(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	r, err := Create(dir, testManifest(testRunID), []byte(testProtocol), []byte(testRig), clock.NewVirtual(testEpoch))
	if err != nil {
		t.Fatal(err)
	}
	b := daq.NewBlock(len(testLayout), 10)
	var appendErr error
	for k := 0; appendErr == nil; k++ {
		appendErr = r.AppendBlock(fillBlock(b, 10*k, 10))
		if appendErr == nil {
			appendErr = r.Sync()
		}
		if k > 1_000_000 {
			t.Fatal("16 MiB never filled")
		}
	}
	if !errors.Is(appendErr, syscall.ENOSPC) {
		t.Fatalf("append failed with %v, want ENOSPC", appendErr)
	}
	// The engine closes the run as a fault, as it does for any record error.
	if err := r.Close(Result{Outcome: OutcomeAborted, AbortReason: "fault: run record: " + appendErr.Error()}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Close: %v, want the write error", err)
	}
	run, err := Open(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if run.Manifest.State != StateClosed || run.Result == nil || run.Result.Outcome != OutcomeAborted ||
		!strings.HasPrefix(run.Result.AbortReason, "disk full: ") {
		t.Fatalf("state %s, result %+v; want closed, aborted, \"disk full: …\"", run.Manifest.State, run.Result)
	}
	if _, err := os.Stat(r.Dir() + "/" + reserveFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reserve file after Close: %v", err)
	}
	if ids, err := Recover(dir); err != nil || len(ids) != 0 {
		t.Errorf("Recover after Close: %v, %v; want nothing to do", ids, err)
	}
}
