package rig

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mockloop/mockloop/bench"
	"github.com/mockloop/mockloop/runlog"
)

// BenchResources name the bench a config drives, for its lock (DESIGN.md,
// decision 8): on hardware the ADC's SPI device first (the socket's
// place), then its I²C bus, the GPIO lines and the DUT's serial port, each
// in one spelling whatever the config wrote ("SPI0.0" and
// "/dev/spidev0.0", "1" and "/dev/i2c-1", "GPIO25" and "25"); two configs
// sharing any of them share the bench. A simulated rig is its name.
func (c *Config) BenchResources() []string {
	if c.Backend == "sim" {
		return []string{"sim:" + c.Name}
	}
	h := c.Hardware
	out := []string{busName("spi", h.SPI), busName("i2c", h.I2C)}
	for _, pin := range append([]string{h.DRDY, h.EStop}, switchPins(h.Switches)...) {
		out = append(out, busName("gpio", pin))
	}
	if c.DUT != nil && c.DUT.Port != "sim" {
		port := filepath.Clean(c.DUT.Port)
		if real, err := filepath.EvalSymlinks(port); err == nil {
			port = real
		}
		out = append(out, "serial:"+port)
	}
	return out
}

func switchPins(sw []Switch) []string {
	var pins []string
	for _, s := range sw {
		pins = append(pins, s.Pin)
	}
	return pins
}

// busNumber is the bus or line number in any of its spellings: "SPI0.0",
// "/dev/spidev0.0", "spidev0.0", "1", "I2C1", "/dev/i2c-1", "GPIO25", "25".
var busNumber = regexp.MustCompile(`^(?:/dev/)?(?:spidev|spi|i2c-?|gpio|bcm)?([0-9]+(?:\.[0-9]+)?)$`)

// busName is a bus or line of kind in one spelling, e.g. "spi0.0"; a name
// in no known spelling is kept as written.
func busName(kind, name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	if m := busNumber.FindStringSubmatch(n); m != nil {
		return kind + m[1]
	}
	return kind + ":" + n
}

// lockBench takes the bench of cfg for what (a run, "zero", "calibrate"):
// refused with bench.ErrBusy, saying who holds it, while another process
// does.
//
// A bench held only for idle sampling (the bench view's live signals,
// SampleIdle) is asked to release it, and taken within releaseWait.
func lockBench(cfg *Config, what string) (*bench.Lock, error) {
	dir, err := bench.Dir()
	if err != nil {
		return nil, err
	}
	lock, err := bench.Acquire(dir, cfg.BenchResources(), bench.Status{State: what})
	var busy *bench.BusyError
	if !errors.As(err, &busy) || busy.Holder.State != idleState {
		return lock, err
	}
	if _, aerr := bench.Ask(dir, cfg.BenchResources()[0], bench.Request{Action: bench.ActionRelease, By: what}); aerr != nil {
		return nil, err
	}
	for deadline := time.Now().Add(releaseWait); ; {
		time.Sleep(50 * time.Millisecond)
		lock, err = bench.Acquire(dir, cfg.BenchResources(), bench.Status{State: what})
		if !errors.Is(err, bench.ErrBusy) || time.Now().After(deadline) {
			return lock, err
		}
	}
}

// releaseWait bounds the wait for an idle sampler to let the bench go: it
// stops at its next frame and puts the rig in its safe state, well
// within a second even on a loaded machine.
const releaseWait = 5 * time.Second

// holdBench takes the bench for a run and answers its control socket
// until release: the returned context is cancelled by a stop or e-stop
// through the socket, and opts gets the Pause the socket sets and the
// Observer that keeps the socket's status (before the caller's).
func holdBench(ctx context.Context, cfg *Config, opts *Options) (context.Context, func(), error) {
	lock, err := lockBench(cfg, "starting")
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	if opts.Pause == nil {
		opts.Pause = &Pause{}
	}
	ctl := &runControl{lock: lock, cancel: cancel, pause: opts.Pause, prompts: opts.Prompts, next: opts.Observer}
	opts.Observer = ctl
	release := func() {
		cancel(nil)
		lock.Release()
	}
	if err := ctl.serve(); err != nil {
		release()
		return nil, nil, err
	}
	return ctx, release, nil
}

// runControl is a run as its control socket sees it: the status the
// engine's events and frames keep, and the run's pause and cancel.
type runControl struct {
	lock   *bench.Lock
	cancel context.CancelCauseFunc
	pause  *Pause
	// prompts answers the run's prompts (nil: the run takes --answer and
	// defaults only, and the socket has nothing to answer)
	prompts *Prompts
	next    Observer // the caller's, or nil
	t       atomic.Int64

	mu       sync.Mutex
	runID    string
	protocol string
	step     string
	held     bool // the pause holds the run
	stopping bool
}

var _ Observer = (*runControl)(nil)

// serveControl answers the bench's control socket for the run until the
// lock is released.
func (rc *runControl) serve() error { return rc.lock.Serve(rc.handle) }

func (rc *runControl) handle(req bench.Request) (bench.Status, error) {
	by := req.By
	if by == "" {
		by = "another process"
	}
	who := runlog.OperatorData{By: by, Role: req.Role, Via: cmp.Or(req.Via, "control"), Reason: req.Reason}
	switch req.Action {
	case bench.ActionPause:
		rc.pause.SetBy(true, who)
	case bench.ActionResume:
		rc.pause.SetBy(false, who)
	case bench.ActionStop:
		who.Action = runlog.ActionStop
		rc.stop(OperatorAbort("operator: stopped by "+by+because(req.Reason), who))
	case bench.ActionEStop:
		who.Action = runlog.ActionEStop
		rc.stop(OperatorAbort("emergency stop by "+by+because(req.Reason), who))
	case bench.ActionAnswer:
		if rc.prompts == nil {
			return bench.Status{}, ErrNoPrompt
		}
		if err := rc.prompts.Answer(req.Prompt, req.Answer, who); err != nil {
			return bench.Status{}, err
		}
	}
	return rc.status(), nil
}

// because is a reason as the end of an abort reason.
func because(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}

func (rc *runControl) stop(cause error) {
	rc.mu.Lock()
	rc.stopping = true
	rc.mu.Unlock()
	rc.cancel(cause)
}

// status is the run's status now.
func (rc *runControl) status() bench.Status {
	st := rc.lock.Holder()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	st.RunID, st.Protocol, st.Step = rc.runID, rc.protocol, rc.step
	st.ElapsedS = time.Duration(rc.t.Load()).Seconds()
	if w := rc.prompts.Waiting(); w != nil {
		st.Prompt, _ = json.Marshal(w) // strings and numbers: no error
	}
	switch {
	case rc.stopping:
		st.State = "stopping"
	case rc.runID == "":
		st.State = "starting"
	case rc.held && rc.pause.Requested():
		st.State = "paused"
	case rc.pause.Requested():
		st.State = "pausing"
	default:
		st.State = "running"
	}
	return st
}

func (rc *runControl) RunStarted(ri RunInfo) {
	rc.mu.Lock()
	rc.runID, rc.protocol = ri.Manifest.RunID, ri.Manifest.Protocol.Name
	rc.mu.Unlock()
	rc.lock.SetRun(ri.Manifest.RunID, ri.Manifest.Protocol.Name)
	if rc.next != nil {
		rc.next.RunStarted(ri)
	}
}

func (rc *runControl) Frame(t time.Duration, frame []float64) {
	rc.t.Store(int64(t))
	if rc.next != nil {
		rc.next.Frame(t, frame)
	}
}

func (rc *runControl) Beat(b runlog.Beat) {
	if rc.next != nil {
		rc.next.Beat(b)
	}
}

func (rc *runControl) Event(ev runlog.Event) {
	rc.mu.Lock()
	switch {
	case ev.Kind == runlog.KindStepStart && !strings.Contains(ev.Step, "."):
		rc.step = ev.Step + " " + ev.Msg
	case ev.Kind == runlog.KindOperator && ev.Msg == "paused":
		rc.held = true
	case ev.Kind == runlog.KindOperator && ev.Msg == "resumed":
		rc.held = false
	}
	rc.mu.Unlock()
	if rc.next != nil {
		rc.next.Event(ev)
	}
}

// holdBenchFor takes the bench for what (a calibration, timing) and
// answers its control socket with the holder's status; stop and e-stop are
// refused: what holds it ends by itself within seconds, the bench safe.
func holdBenchFor(cfg *Config, what string) (*bench.Lock, error) {
	lock, err := lockBench(cfg, what)
	if err != nil {
		return nil, err
	}
	err = lock.Serve(func(req bench.Request) (bench.Status, error) {
		if req.Action != bench.ActionStatus {
			return bench.Status{}, fmt.Errorf("rig: a %s is in progress on the bench: it ends by itself within seconds, with the bench safe", what)
		}
		return lock.Holder(), nil
	})
	if err != nil {
		lock.Release()
		return nil, err
	}
	return lock, nil
}
