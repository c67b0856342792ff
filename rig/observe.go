package rig

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
)

// Observer watches a run as it goes: the live bench view. Its methods are
// called on the run's own goroutine after the frame, beat or event has been
// recorded, so they must return at once and never block — a slow watcher
// must not slow the sampler (DESIGN.md: live subscribers are last, and
// lossy).
type Observer interface {
	// RunStarted is called once, before the first frame.
	RunStarted(RunInfo)
	// Frame is called for every frame; frame is reused after it returns.
	Frame(t time.Duration, frame []float64)
	// Beat is called for every recorded beat.
	Beat(runlog.Beat)
	// Event is called for every event of the run record.
	Event(runlog.Event)
}

// RunInfo describes a run to its observers.
type RunInfo struct {
	Manifest runlog.Manifest
	Dir      string
	// Planned is the protocol's duration as written (until steps count
	// with their timeout).
	Planned time.Duration
	// Steps is the number of top-level steps.
	Steps int
}

// Pause holds a run between its top-level steps while it is set: the step
// under way runs to its end, then the rig keeps sampling, supervising and
// controlling at the setpoints in force, recording every frame, until the
// pause is cleared. Pausing inside a step would change what the step's
// criteria measure; between steps nothing is judged. Safe for concurrent
// use.
type Pause struct {
	on atomic.Bool
	mu sync.Mutex
	// by are who asked for the pause ([1]) and for its end ([0]), for
	// the audit trail: the run records them when the pause takes hold
	// and when it ends.
	by [2]runlog.OperatorData
}

// Set requests (true) or clears (false) the pause, nobody named.
func (p *Pause) Set(on bool) { p.SetBy(on, runlog.OperatorData{}) }

// SetBy requests (true) or clears (false) the pause on behalf of who (By,
// Role, Via, Reason; At is set here when zero).
func (p *Pause) SetBy(on bool, who runlog.OperatorData) {
	if who.At.IsZero() {
		who.At = time.Now().UTC()
	}
	p.mu.Lock()
	p.by[b2i(on)] = who
	p.mu.Unlock()
	p.on.Store(on)
}

// who is who last asked for the pause (on) or for its end.
func (p *Pause) who(on bool) runlog.OperatorData {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.by[b2i(on)]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Requested reports whether a pause is requested.
func (p *Pause) Requested() bool { return p != nil && p.on.Load() }

// holdWhilePaused holds the run before top-level step i while a pause is
// requested, recording when the pause began and ended.
func (e *engine) holdWhilePaused(i int) error {
	if !e.pause.Requested() {
		return nil
	}
	// A pause is a departure from the protocol as written: a deviation,
	// with the reason its requester gave.
	d := e.pause.who(true)
	d.Action, d.BeforeStep, d.Deviation = runlog.ActionPause, i+1, true
	e.event(runlog.NewEvent(runlog.KindOperator, "", "paused", d))
	e.progress("paused before step %d", i+1)
	for e.pause.Requested() {
		if _, err := e.advance(forever); err != nil {
			return err
		}
	}
	d = e.pause.who(false)
	d.Action, d.BeforeStep = runlog.ActionResume, i+1
	e.event(runlog.NewEvent(runlog.KindOperator, "", "resumed", d))
	e.progress("resumed")
	return nil
}

// Planned is the protocol's duration as written: until steps count with
// their timeout, so it is an upper bound for them.
func Planned(p *protocols.Protocol) time.Duration { return planned(p.Steps) }
