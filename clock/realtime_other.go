//go:build !linux

package clock

import (
	"runtime"
	"time"
)

// LockRealtime locks the calling goroutine to its OS thread; real-time
// scheduling and memory locking are Linux's, so elsewhere they are
// reported refused.
func LockRealtime(priority int, lockMemory bool) (got Realtime, release func()) {
	runtime.LockOSThread()
	got.Policy = "SCHED_OTHER"
	if priority > 0 {
		got.Refused = append(got.Refused, "SCHED_FIFO: not on Linux")
	}
	if lockMemory {
		got.Refused = append(got.Refused, "mlockall: not on Linux")
	}
	return got, runtime.UnlockOSThread
}

var processStart = time.Now()

func monotonicNow() int64 { return int64(time.Since(processStart)) }

func sleepUntilMonotonic(int64) {}

const preciseSleep = false
