package dut_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/dut/dutsim"
)

// The tests in this package run a real go.bug.st/serial port against a
// simulated DUT on a pseudo-terminal. They are not parallel: each checks
// that it leaves no goroutine and no file descriptor behind.

func TestMain(m *testing.M) {
	// Let the runtime create what it creates once (the poller's epoll and
	// eventfd descriptors, ...) before any leak check counts.
	if srv, err := dutsim.Serve(context.Background(), dutsim.Config{}); err == nil {
		if d, err := dut.Dial(context.Background(), dut.Config{Path: srv.Name()}); err == nil {
			d.Close()
		}
		srv.Close()
	}
	os.Exit(m.Run())
}

func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count fds: %v", err)
	}
	return len(ents)
}

// checkLeaks fails t if, once t's other cleanups have run, there are more
// goroutines or open file descriptors than now. Call it first in a test so
// its cleanup runs last.
func checkLeaks(t testing.TB) {
	t.Helper()
	g0, fd0 := runtime.NumGoroutine(), countFDs(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			g, fd := runtime.NumGoroutine(), countFDs(t)
			if g <= g0 && fd <= fd0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("leak: goroutines %d -> %d, file descriptors %d -> %d\n%s", g0, g, fd0, fd, buf)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// recorder collects what a driver reports through its callbacks.
type recorder struct {
	mu     sync.Mutex
	frames []dut.FrameEvent
	wall   []time.Time // when each of frames was reported
	alarms []dut.AlarmEvent
	tlm    []dut.Telemetry
	lost   chan error
	lostAt time.Time
}

func newRecorder() *recorder { return &recorder{lost: make(chan error, 4)} }

func (r *recorder) hook(c dut.Config) dut.Config {
	c.OnFrame = func(e dut.FrameEvent) {
		r.mu.Lock()
		r.frames = append(r.frames, e)
		r.wall = append(r.wall, time.Now())
		r.mu.Unlock()
	}
	c.OnAlarm = func(a dut.AlarmEvent) {
		r.mu.Lock()
		r.alarms = append(r.alarms, a)
		r.mu.Unlock()
	}
	c.OnTelemetry = func(tl dut.Telemetry) {
		r.mu.Lock()
		r.tlm = append(r.tlm, tl)
		r.mu.Unlock()
	}
	c.OnLinkLost = func(err error) {
		r.mu.Lock()
		r.lostAt = time.Now()
		r.mu.Unlock()
		r.lost <- err
	}
	return c
}

func (r *recorder) sent() []dut.FrameEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []dut.FrameEvent
	for _, e := range r.frames {
		if e.Dir == dut.Sent {
			s = append(s, e)
		}
	}
	return s
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.frames, r.wall, r.alarms, r.tlm = nil, nil, nil, nil
	r.mu.Unlock()
}

// setup serves a simulated DUT and dials it; both are closed at cleanup.
func setup(t testing.TB, scfg dutsim.Config, dcfg dut.Config) (*dutsim.Server, *dut.VADLINK) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: counts retries and times replies against VADLINK's 100 ms on the wall clock")
	}
	srv, err := dutsim.Serve(context.Background(), scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if dcfg.Path == "" {
		dcfg.Path = srv.Name()
	}
	if dcfg.Clock == nil {
		dcfg.Clock = scfg.Clock
	}
	if dcfg.ReplyTimeout == 0 {
		// The simulated DUT answers from goroutines of the test process:
		// under `make test-stress` a reply can come later than VADLINK's
		// 100 ms for no fault of the link's. Tests of the retries and
		// their timing ask for dut.ReplyTimeout themselves.
		dcfg.ReplyTimeout = time.Second
	}
	d, err := dut.Dial(context.Background(), dcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return srv, d
}

func virtual() *clock.Virtual { return clock.NewVirtual(time.Unix(1_700_000_000, 0)) }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a deadline for a test, not the link's timing
	t.Cleanup(cancel)
	return ctx
}

// must fails the test on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantCode checks that err is the device's refusal with code.
func wantCode(t testing.TB, err error, code int) {
	t.Helper()
	var de *dut.Error
	if !errors.As(err, &de) || de.Code != code {
		t.Fatalf("err = %v, want device error %d", err, code)
	}
}
