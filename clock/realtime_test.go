package clock

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestLockRealtime: the loop's thread gets SCHED_FIFO or says why not, and
// release gives the thread back as it was. Which of the two happens is the
// machine's (root, CAP_SYS_NICE, RLIMIT_RTPRIO), so both are accepted, but
// a claim must be true of the thread.
func TestLockRealtime(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		procs := runtime.GOMAXPROCS(0)
		got, release := LockRealtime(DefaultPriority, false)
		policy, prio := threadPolicy()
		during := runtime.GOMAXPROCS(0)
		release()
		after, _ := threadPolicy()
		if runtime.GOOS == "linux" && (during != procs+1 || runtime.GOMAXPROCS(0) != procs) {
			t.Errorf("GOMAXPROCS %d, %d with the loop, %d after; want one more only while it runs", procs, during, runtime.GOMAXPROCS(0))
		}
		switch got.Policy {
		case "SCHED_FIFO":
			if runtime.GOOS == "linux" && (policy != "SCHED_FIFO" || prio != got.Priority) {
				t.Errorf("LockRealtime says %s, the thread is %s %d", got, policy, prio)
			}
			if !strings.HasPrefix(got.String(), "SCHED_FIFO priority ") {
				t.Errorf("String %q", got)
			}
		case "SCHED_OTHER":
			if len(got.Refused) == 0 || !strings.Contains(got.String(), "refused") {
				t.Errorf("no real time and no reason: %+v", got)
			}
		default:
			t.Errorf("policy %q", got.Policy)
		}
		if runtime.GOOS == "linux" && after != "SCHED_OTHER" {
			t.Errorf("after release the thread is %s", after)
		}
	}()
	<-done
}

// TestRealSleepUntilNeverEarly: on the wall clock a wait returns at or
// after its deadline, whatever the deadline's distance (the hrtimer part,
// the Go timer part, one already passed), and a cancelled context ends it.
func TestRealSleepUntilNeverEarly(t *testing.T) {
	c := NewReal()
	for _, d := range []time.Duration{-time.Millisecond, 0, 50 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond} {
		deadline := c.Now() + d
		if err := c.SleepUntil(context.Background(), deadline); err != nil {
			t.Fatal(err)
		}
		if now := c.Now(); now < deadline {
			t.Errorf("SleepUntil(+%v) returned %v early", d, deadline-now)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.SleepUntil(ctx, c.Now()+time.Hour); err == nil {
		t.Error("a cancelled wait returned no error")
	}
}
