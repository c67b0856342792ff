package rig

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/verdict"
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

// Pause holds a run while it is set (language 1.1): at the next step or
// iteration boundary at any depth, and inside a hold at once (the hold's
// remaining time waits); the rig keeps sampling, supervising and
// controlling at the setpoints in force, recording every frame, until the
// pause is cleared. The frames of a pause inside a step belong to no
// step's statistics or criteria (engine.pauseAt). Safe for concurrent use.
type Pause struct {
	on atomic.Bool
	mu sync.Mutex
	// pending are the requests that changed the pause and that the run
	// has not recorded yet, in order (pause, resume, pause, ...): each is
	// an entry of the audit trail, the one that takes effect and those
	// withdrawn before they did.
	pending []runlog.OperatorData
}

// Set requests (true) or clears (false) the pause, nobody named.
func (p *Pause) Set(on bool) { p.SetBy(on, runlog.OperatorData{}) }

// SetBy requests (true) or clears (false) the pause on behalf of who (By,
// Role, Via, Reason; At is set here when zero). A request that changes
// nothing (a pause of a paused run) is not kept.
func (p *Pause) SetBy(on bool, who runlog.OperatorData) {
	if who.At.IsZero() {
		who.At = time.Now().UTC()
	}
	who.Action = runlog.ActionResume
	if on {
		who.Action = runlog.ActionPause
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on.Load() == on {
		return
	}
	p.pending = append(p.pending, who)
	p.on.Store(on)
}

// take returns the requests not yet recorded, and whether the pause is
// set now, at once: the last request, if any, is the one that set the
// state (the requests alternate).
func (p *Pause) take() ([]runlog.OperatorData, bool) {
	if p == nil {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	reqs := p.pending
	p.pending = nil
	return reqs, p.on.Load()
}

// Requested reports whether a pause is requested.
func (p *Pause) Requested() bool { return p != nil && p.on.Load() }

// holdWhilePaused holds the run before top-level step i while a pause is
// requested, recording when the pause began and ended, who asked for
// each and why, and the requests withdrawn before they took effect.
func (e *engine) holdWhilePaused(i int) error {
	_, err := e.pauseAt(i+1, "")
	return err
}

// pauseAt holds the run while a pause is requested: before top-level
// step before (from 1), or, in a step (at the path in, language 1.1), at
// a boundary of its nested steps or iterations or inside its hold. A
// pause in a step is a span of its time whose frames and beats belong to
// no step's statistics or criteria: the paused and resumed events bound
// it, and verdict.Recompute leaves it out the same way. It returns how
// long the run was held.
func (e *engine) pauseAt(before int, in string) (time.Duration, error) {
	held, from := false, e.next
	defer func() { e.held = false }()
	if in != "" {
		before = 0
	}
	for {
		reqs, on := e.pause.take()
		switch {
		case on && !held: // the pause takes hold: a deviation, with its reason
			d := last(reqs)
			e.pauseRequests(reqs[:max(0, len(reqs)-1)], before)
			d.Action, d.BeforeStep, d.Deviation = runlog.ActionPause, before, true
			e.event(runlog.NewEvent(runlog.KindOperator, in, "paused", d))
			if in != "" {
				e.progress("paused in step %s", in)
				e.pauses = append(e.pauses, verdict.Span{From: e.next, To: -1})
			} else {
				e.progress("paused before step %d", before)
			}
			held, from, e.held = true, e.next, in != ""
		case on: // resumed and paused again before the run went on
			e.pauseRequests(reqs, before)
		case held:
			d := last(reqs)
			e.pauseRequests(reqs[:max(0, len(reqs)-1)], before)
			d.Action, d.BeforeStep = runlog.ActionResume, before
			e.event(runlog.NewEvent(runlog.KindOperator, in, "resumed", d))
			if in != "" {
				e.pauses[len(e.pauses)-1].To = e.next
			}
			e.progress("resumed")
			return e.next - from, nil
		default:
			e.pauseRequests(reqs, before)
			return 0, nil
		}
		for e.pause.Requested() {
			if _, err := e.advance(forever); err != nil {
				return e.next - from, err
			}
		}
	}
}

// last is the last of reqs, or an entry without a person when there is
// none (a pause set before the run began).
func last(reqs []runlog.OperatorData) runlog.OperatorData {
	if len(reqs) == 0 {
		return runlog.OperatorData{}
	}
	return reqs[len(reqs)-1]
}

// pauseRequests records requests that took no effect of their own — a
// pause withdrawn before the step under way ended, a resume followed at
// once by a pause, one left when the run ended — in the audit trail:
// every request is an operator action, though none departed from the
// protocol. beforeStep is the top-level step they came before (from 1;
// 0 at the end of the run).
func (e *engine) pauseRequests(reqs []runlog.OperatorData, beforeStep int) {
	for _, d := range reqs {
		d.BeforeStep = beforeStep
		e.event(runlog.NewEvent(runlog.KindOperator, "", d.Action+" requested; it took no effect", d))
	}
}

// Planned is the protocol's duration as written: until steps count with
// their timeout, so it is an upper bound for them.
func Planned(p *protocols.Protocol) time.Duration { return planned(p.Steps) }
