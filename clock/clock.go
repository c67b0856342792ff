package clock

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"
)

// Clock tells the run's time and waits for absolute deadlines.
type Clock interface {
	// Epoch is the wall-clock time of t = 0.
	Epoch() time.Time
	// Now is the time elapsed since the epoch.
	Now() time.Duration
	// SleepUntil returns once Now() >= deadline, or with ctx's error if ctx
	// ends first. Deadlines are absolute so a late wake-up does not shift
	// every later sample.
	SleepUntil(ctx context.Context, deadline time.Duration) error
}

// Real is the monotonic wall clock.
type Real struct {
	start time.Time // carries Go's monotonic reading
	mono0 int64     // CLOCK_MONOTONIC at start, ns: for clock_nanosleep
}

// NewReal returns a real clock whose epoch is now.
func NewReal() *Real {
	a := monotonicNow()
	start := time.Now()
	b := monotonicNow()
	return &Real{start: start, mono0: a + (b-a)/2}
}

// NewRealAt returns a real clock whose epoch is an earlier wall time, for a
// run resumed after an interruption: its clock goes on from where it was,
// gap included. Such an epoch has no monotonic reading, so this clock
// follows the wall clock.
func NewRealAt(epoch time.Time) *Real {
	return &Real{start: epoch, mono0: monotonicNow() - int64(time.Since(epoch))}
}

// Epoch implements Clock.
func (r *Real) Epoch() time.Time { return r.start }

// Now implements Clock; it uses the monotonic reading, immune to wall-clock steps.
func (r *Real) Now() time.Duration { return time.Since(r.start) }

// timerWindow is the last part of a wait on the real clock that is not
// left to a Go timer. Go's timers wake up to a millisecond late on many
// Linux kernels and VMs (measured on the CI machine: a 50 µs sleep takes
// 1.07 ms), too coarse for a 1 kHz sampler. On Linux the window is slept
// on an hrtimer (clock_nanosleep with an absolute deadline), precise to
// microseconds on a real-time thread and to the timer slack (50 µs) on
// another, and costing no CPU; elsewhere it is spent yielding in a loop.
const timerWindow = 2 * time.Millisecond

// SleepUntil implements Clock: a Go timer (which ctx can cut short) for
// most of the wait, then the last timerWindow on the thread's own hrtimer,
// so that it returns within microseconds of deadline without spinning.
// The hrtimer's part cannot be cancelled; it is at most timerWindow.
func (r *Real) SleepUntil(ctx context.Context, deadline time.Duration) error {
	for {
		d := deadline - r.Now()
		if err := ctx.Err(); err != nil || d <= 0 {
			return err
		}
		if d <= timerWindow {
			if preciseSleep {
				sleepUntilMonotonic(r.mono0 + int64(deadline))
			} else {
				runtime.Gosched()
			}
			continue
		}
		t := time.NewTimer(d - timerWindow)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// IsWall reports whether c is the wall clock, where time passes whether or
// not anyone waits: work beside the sampling loop (the DUT's poller) must
// then run beside it, and the run is recorded as on real time. A run's
// clock is chosen once (rig.Run); everything else asks the clock.
func IsWall(c Clock) bool {
	_, ok := c.(*Real)
	return ok
}

// Virtual is simulated time that advances only when the run waits: a
// SleepUntil moves Now to the deadline at once. A run on a virtual clock is
// as fast as the CPU allows and deterministic, since nothing depends on how
// long the work between waits took.
//
// Virtual is safe for concurrent use, but it is designed for one driver: the
// engine's loop. Other goroutines may read Now. Now is a single atomic load:
// chip emulators ask for it many times per simulated frame.
type Virtual struct {
	epoch time.Time
	now   atomic.Int64 // nanoseconds
}

// NewVirtual returns a virtual clock at t = 0 whose epoch is the given wall time.
func NewVirtual(epoch time.Time) *Virtual { return &Virtual{epoch: epoch} }

// Epoch implements Clock.
func (v *Virtual) Epoch() time.Time { return v.epoch }

// Now implements Clock.
func (v *Virtual) Now() time.Duration { return time.Duration(v.now.Load()) }

// SleepUntil implements Clock: it advances the clock to deadline (never back).
func (v *Virtual) SleepUntil(ctx context.Context, deadline time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for {
		now := v.now.Load()
		if int64(deadline) <= now || v.now.CompareAndSwap(now, int64(deadline)) {
			return nil
		}
	}
}

// Advance moves the clock forward by d; for tests and for work that takes
// simulated time without waiting (e.g. a DUT reply in virtual time).
func (v *Virtual) Advance(d time.Duration) {
	if d > 0 {
		v.now.Add(int64(d))
	}
}

// Paced is virtual time that runs no faster than a fixed multiple of the
// wall clock: a simulated run that people watch (the live bench view, a
// demonstration, an end-to-end test) at, say, 20× real time. It keeps the
// virtual clock's determinism — time moves only in SleepUntil — and only
// adds a wall-clock wait when the run is ahead of its pace.
type Paced struct {
	Virtual
	speed float64
	start time.Time
}

// NewPaced returns a paced clock at t = 0 whose epoch is the given wall
// time; speed is how many seconds of run time pass per wall second (> 0).
func NewPaced(epoch time.Time, speed float64) *Paced {
	return &Paced{Virtual: Virtual{epoch: epoch}, speed: speed, start: time.Now()}
}

// paceSlack is how far a paced clock may run ahead of its pace before it
// waits: waiting for every 1 ms frame would cost more than the frame.
const paceSlack = 2 * time.Millisecond

// SleepUntil implements Clock: it waits on the wall clock until deadline/speed
// has passed since the start, then advances to deadline.
func (p *Paced) SleepUntil(ctx context.Context, deadline time.Duration) error {
	wall := time.Duration(float64(deadline) / p.speed)
	if ahead := wall - time.Since(p.start); ahead > paceSlack {
		t := time.NewTimer(ahead)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return p.Virtual.SleepUntil(ctx, deadline)
}

var (
	_ Clock = (*Real)(nil)
	_ Clock = (*Virtual)(nil)
	_ Clock = (*Paced)(nil)
)
