package clock

import "golang.org/x/sys/unix"

// threadPolicy is the calling thread's scheduling policy and priority.
func threadPolicy() (string, int) {
	a, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return "unknown", 0
	}
	if a.Policy == unix.SCHED_FIFO {
		return "SCHED_FIFO", int(a.Priority)
	}
	return "SCHED_OTHER", 0
}
