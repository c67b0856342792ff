package clock

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// LockRealtime locks the calling goroutine to its OS thread and asks for
// what a sampling loop needs (REFERENCE.md, "Real time on Linux"): the
// thread at SCHED_FIFO priority (0: stay at normal priority), and, with
// lockMemory, every page of the process locked in RAM. What the system
// refuses (no root, no CAP_SYS_NICE, RLIMIT_RTPRIO or RLIMIT_MEMLOCK too
// low) is reported in the result, not as an error: a run goes on without.
// Where RLIMIT_RTPRIO allows less than priority, that much is taken.
//
// Threads the Go runtime starts later do not inherit the priority: while a
// goroutine is locked to its thread, new threads are cloned from the
// runtime's template thread. release restores normal scheduling, unlocks
// memory and the thread; call it on the same goroutine.
func LockRealtime(priority int, lockMemory bool) (got Realtime, release func()) {
	runtime.LockOSThread()
	// The loop's thread sleeps in clock_nanosleep, a system call, so it
	// keeps its P (the Go scheduler's right to run Go code) most of the
	// time; the process's other goroutines (the DUT link, the record's
	// sync, the collector) get one P more, so that they keep as many as
	// the machine has cores.
	addLoop(+1)
	got.Policy = "SCHED_OTHER"
	if priority > 0 {
		prio, err := setFIFO(priority)
		var lim unix.Rlimit
		if errors.Is(err, unix.EPERM) && unix.Getrlimit(unix.RLIMIT_RTPRIO, &lim) == nil && lim.Cur > 0 && int(lim.Cur) < priority {
			prio, err = setFIFO(int(lim.Cur))
		}
		if err != nil {
			got.Refused = append(got.Refused, fmt.Sprintf("SCHED_FIFO priority %d refused: %v", priority, err))
		} else {
			got.Policy, got.Priority = "SCHED_FIFO", prio
		}
	}
	if lockMemory {
		if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE); err != nil {
			got.Refused = append(got.Refused, fmt.Sprintf("mlockall refused: %v", err))
		} else {
			got.MemoryLocked = true
		}
	}
	return got, func() {
		if got.Policy == "SCHED_FIFO" {
			_ = unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}, 0)
		}
		if got.MemoryLocked {
			_ = unix.Munlockall()
		}
		addLoop(-1)
		runtime.UnlockOSThread()
	}
}

// setFIFO puts the calling thread at SCHED_FIFO priority prio.
func setFIFO(prio int) (int, error) {
	prio = min(max(prio, 1), 99)
	return prio, unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: uint32(prio)}, 0)
}

// monotonicNow is CLOCK_MONOTONIC, the clock Go's monotonic readings and
// clock_nanosleep share.
func monotonicNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// sleepUntilMonotonic blocks the calling thread until CLOCK_MONOTONIC
// reaches abs (ns): an hrtimer, precise to microseconds at real-time
// priority, where a Go timer may wake a millisecond late.
func sleepUntilMonotonic(abs int64) {
	ts := unix.NsecToTimespec(abs)
	for unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil) == unix.EINTR {
	}
}

const preciseSleep = true

// loops counts the real-time loops of the process; base is GOMAXPROCS
// before the first.
var loops struct {
	sync.Mutex
	n, base int
}

// addLoop adds d to the loops running and sets GOMAXPROCS to one P per
// loop more than without any.
func addLoop(d int) {
	loops.Lock()
	defer loops.Unlock()
	if loops.n == 0 {
		loops.base = runtime.GOMAXPROCS(0)
	}
	loops.n += d
	runtime.GOMAXPROCS(loops.base + loops.n)
}
