package serve

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
)

// observer turns one run's frames, beats and events into the live stream.
// It runs on the run's goroutine: everything it does is a copy or a
// non-blocking hand-over to the hub.
type observer struct {
	s   *Server
	run *activeRun
}

// RunStarted implements rig.Observer: the run has its record; the start
// request can be answered and the watchers told.
func (o *observer) RunStarted(ri rig.RunInfo) {
	m := ri.Manifest
	info := &runInfo{RunID: m.RunID, Protocol: m.Protocol.Name, Rig: m.Rig, Operator: m.Operator,
		EpochMS: m.Epoch.UnixMilli(), PlannedS: ri.Planned.Seconds(), StepsTotal: ri.Steps,
		RateHz: m.SampleRateHz, Layout: m.Layout, BeatChannel: o.s.cfg.Rig.Keys.Beat}
	o.s.hub.Begin(len(m.Layout), m.SampleRateHz, o.s.cfg.Speed)
	o.s.mu.Lock()
	o.run.info = info
	if q := o.run.entry; q != nil {
		id := m.RunID
		q.State, q.RunID, q.Error = EntryRunning, &id, ""
		q.settle()
		o.s.publishQueueLocked()
	}
	o.s.hub.Publish("run", info)
	o.s.hub.Publish("state", map[string]any{"state": o.run.state})
	o.s.mu.Unlock()
	close(o.run.started)
	o.s.logf("serve: run %s of %s started", m.RunID, m.Protocol.Name)
}

// Frame implements rig.Observer.
func (o *observer) Frame(t time.Duration, frame []float64) { o.s.hub.Frame(t, frame) }

// Beat implements rig.Observer.
func (o *observer) Beat(b runlog.Beat) {
	o.remember(func(r *activeRun) {
		if r.beat == nil || b.Channel == o.s.cfg.Rig.Keys.Beat || r.beat.Channel == b.Channel {
			r.beat = &b
		}
	})
	o.s.hub.Publish("beat", b)
}

// remember updates the run's catch-up state.
func (o *observer) remember(f func(*activeRun)) {
	o.s.mu.Lock()
	f(o.run)
	o.s.mu.Unlock()
}

// Event implements rig.Observer: steps, criteria, safety trips and the
// pause's taking effect each have their message; DUT traffic (every
// command and reply) is left to the record.
func (o *observer) Event(ev runlog.Event) {
	hub := o.s.hub
	switch ev.Kind {
	case runlog.KindDUTTx, runlog.KindDUTRx:
		return
	case runlog.KindStepStart:
		if !strings.Contains(ev.Step, ".") { // a top-level step
			index, _ := strconv.Atoi(ev.Step)
			total := 0
			o.remember(func(r *activeRun) {
				if r.info != nil {
					total = r.info.StepsTotal
				}
			})
			step := map[string]any{"path": ev.Step, "title": ev.Msg, "index": index, "total": total, "t": ev.T}
			o.remember(func(r *activeRun) { r.step = step })
			hub.Publish("step", step)
		}
	case runlog.KindCriterion:
		var d runlog.CriterionData
		if ev.Decode(&d) == nil && d.Result != nil {
			res := *d.Result
			o.remember(func(r *activeRun) { r.criteria = append(r.criteria, res) })
			hub.Publish("criterion", res)
		}
	case runlog.KindSafetyTrip:
		o.remember(func(r *activeRun) { r.trip = ev.Msg; noteStop(r, ev) })
		hub.Publish("safety", map[string]any{"tripped": true, "reason": ev.Msg, "t": ev.T})
	case runlog.KindPrompt:
		var d runlog.PromptData
		if ev.Decode(&d) == nil {
			hub.Publish("prompt", d)
		}
	case runlog.KindOperator:
		o.remember(func(r *activeRun) { noteStop(r, ev) })
		var d runlog.OperatorData
		if ev.Decode(&d) == nil && d.Action == runlog.ActionPromptAnswer {
			hub.Publish("prompt.answered", map[string]any{"id": strings.TrimPrefix(ev.Msg, "prompt: "), "step": ev.Step, "answer": d.New, "by": d.By, "via": d.Via, "t": ev.T})
		}
		switch ev.Msg {
		case "paused":
			o.paused(ev)
		case "resumed":
			o.remember(func(r *activeRun) { r.paused = nil })
		}
	}
	hub.Publish("event", map[string]any{"t": ev.T, "kind": ev.Kind, "step": ev.Step, "msg": ev.Msg})
}

// paused tells the watchers where the pause took hold: the step path
// (inside a step) or the top-level step it holds before, and the run time.
func (o *observer) paused(ev runlog.Event) {
	var d runlog.OperatorData
	_ = ev.Decode(&d)
	at := map[string]any{"step": ev.Step, "before_step": d.BeforeStep, "t": ev.T}
	where := fmt.Sprintf("paused before step %d at %s run time", d.BeforeStep, units.FormatDuration(secs(ev.T)))
	if ev.Step != "" {
		where = fmt.Sprintf("paused in step %s at %s run time", ev.Step, units.FormatDuration(secs(ev.T)))
	}
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	o.run.paused = at
	if o.run.state == StatePausing {
		o.run.state = StatePaused
		o.s.hub.Publish("state", map[string]any{"state": StatePaused, "reason": where, "paused": at})
	}
}

// secs is a run time in seconds as a duration.
func secs(t float64) time.Duration { return time.Duration(t * float64(time.Second)) }
