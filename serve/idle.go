package serve

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/mockloop/mockloop/bench"
	"github.com/mockloop/mockloop/rig"
)

// Idle sampling: while the view runs nothing, a page watches, and no other
// process holds the bench, the server samples the rig at its safe state
// (rig.SampleIdle) and streams its frames on /api/live as during a run,
// recording nothing: the signals of a bench being primed or zeroed. A run
// of the view stops it first; another process's run, zero or calibration
// asks it to release the bench (bench.ActionRelease) and gets it.
const (
	idleTick    = 500 * time.Millisecond
	idleBackoff = 10 * time.Second // after a release or a busy bench, before trying again
)

// idleLinger is how long the sampling goes on without a watcher, so that
// an unattended server does not hold the bench forever (a variable for
// the tests).
var idleLinger = 60 * time.Second

// idleSampling is the sampling under way.
type idleSampling struct {
	idle *rig.Idle
	on   *atomic.Bool // frames go to the hub
}

// idleLoop runs idleStep every idleTick until the server shuts down.
func (s *Server) idleLoop() {
	defer s.wg.Done()
	t := time.NewTicker(idleTick)
	defer t.Stop()
	var watched, retry time.Time
	for range t.C {
		if !s.idleStep(&watched, &retry) {
			return
		}
	}
}

// idleStep starts or stops the idle sampling as the view's state asks;
// false once the server shuts down.
func (s *Server) idleStep(watched, retry *time.Time) bool {
	now := time.Now()
	s.mu.Lock()
	closing, busy, cur := s.closing, s.run != nil || len(s.queue) > 0, s.idle
	s.mu.Unlock()
	if s.hub.Subscribers() > 0 {
		*watched = now
	}
	switch {
	case cur != nil && (closing || busy || now.Sub(*watched) > idleLinger):
		s.stopIdle()
	case cur != nil:
		select {
		case <-cur.idle.Done(): // released to another process, or failed
			s.stopIdle()
			*retry = now.Add(idleBackoff)
		default:
		}
	case !closing && !busy && now.Sub(*watched) < idleTick*2 && now.After(*retry):
		if err := s.startIdle(); err != nil {
			*retry = now.Add(idleBackoff)
			if !errors.Is(err, bench.ErrBusy) {
				s.logf("serve: idle sampling: %v", err)
			}
		}
	}
	return !closing
}

// startIdle takes the bench for idle sampling, unless a run of the view
// started meanwhile.
func (s *Server) startIdle() error {
	on := &atomic.Bool{}
	id, err := rig.SampleIdle(s.cfg.Rig, func(t time.Duration, v []float64) {
		if on.Load() {
			s.hub.Frame(t, v)
		}
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.run != nil || len(s.queue) > 0 || s.closing {
		s.mu.Unlock()
		return id.Stop()
	}
	s.idle = &idleSampling{idle: id, on: on}
	s.hub.Begin(len(id.Layout), id.RateHz, 1)
	on.Store(true)
	s.hub.Publish("idle", s.idleInfoLocked())
	s.mu.Unlock()
	return nil
}

// stopIdle ends the idle sampling, if any, and waits until the rig is
// safe and the bench free.
func (s *Server) stopIdle() {
	s.mu.Lock()
	cur := s.idle
	s.idle = nil
	if cur != nil {
		cur.on.Store(false)
		s.hub.Publish("idle", map[string]any{"sampling": false})
	}
	s.mu.Unlock()
	if cur != nil {
		if err := cur.idle.Stop(); err != nil {
			s.logf("serve: idle sampling: %v", err)
		}
	}
}

// idleInfoLocked is the "idle" event and status key: the sampling's
// channels; s.mu is held.
func (s *Server) idleInfoLocked() map[string]any {
	if s.idle == nil {
		return nil
	}
	return map[string]any{"sampling": true, "layout": s.idle.idle.Layout, "rate_hz": s.idle.idle.RateHz, "rig": s.cfg.Rig.Name}
}
