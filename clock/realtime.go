package clock

import (
	"fmt"
	"strings"
)

// DefaultPriority is the SCHED_FIFO priority of a run's sampling loop when
// the rig config does not give one: above every normal task, and the
// priority cyclictest is conventionally run at, so `mockloop timing`
// measures what a run gets. On a PREEMPT_RT kernel the threaded interrupt
// handlers run at 50; the loop sleeps while it waits for the ADC's
// data-ready, so it never keeps them from delivering it.
const DefaultPriority = 80

// Realtime is what the thread of a sampling loop obtained from the system
// (LockRealtime); a run's manifest records it.
type Realtime struct {
	// Policy is "SCHED_FIFO" when real-time priority was obtained, else
	// "SCHED_OTHER".
	Policy   string
	Priority int
	// MemoryLocked: mlockall(MCL_CURRENT|MCL_FUTURE) succeeded, so no page
	// of the process is paged out under the loop.
	MemoryLocked bool
	// Refused says what was asked for and refused, and why.
	Refused []string
}

// String is a one-line account, e.g. "SCHED_FIFO priority 80, memory locked".
func (r Realtime) String() string {
	s := r.Policy
	if r.Policy == "SCHED_FIFO" {
		s += fmt.Sprintf(" priority %d", r.Priority)
	}
	if r.MemoryLocked {
		s += ", memory locked"
	} else {
		s += ", memory not locked"
	}
	if len(r.Refused) > 0 {
		s += " (" + strings.Join(r.Refused, "; ") + ")"
	}
	return s
}
