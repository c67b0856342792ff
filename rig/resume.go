package rig

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
)

// ErrCannotResume is wrapped by the errors of a --resume that is refused
// (not an interrupted run, another protocol or rig config).
var ErrCannotResume = errors.New("cannot resume")

// resumeState is what an interrupted run's record says about how far it
// got: the top-level steps it completed, and their results in its events.
type resumeState struct {
	dir       string
	run       *runlog.Run
	events    []runlog.Event
	completed int           // top-level steps completed
	lastT     time.Duration // run clock of the last frame or event
}

// planResume reads the interrupted run in dir and checks that it was made
// by this very protocol on this very rig configuration, with the same DUT
// profile (a record made before profiles has none to compare).
func planResume(dir string, cfg *Config, src []byte, sha string) (*resumeState, error) {
	run, err := runlog.Open(dir)
	if err != nil {
		return nil, err
	}
	m := run.Manifest
	switch {
	case m.State != runlog.StateInterrupted:
		return nil, fmt.Errorf("rig: %w: run %s is %s; only an interrupted run can be resumed", ErrCannotResume, m.RunID, m.State)
	case m.Protocol.SHA256 != sha:
		return nil, fmt.Errorf("rig: %w: run %s ran another protocol (sha256 %.12s…, this one %.12s…); resume it with the same file", ErrCannotResume, m.RunID, m.Protocol.SHA256, sha)
	case m.RigConfigSHA256 != cfg.SHA256:
		return nil, fmt.Errorf("rig: %w: run %s ran on another rig configuration (sha256 %.12s…); resume it with the same rig config", ErrCannotResume, m.RunID, m.RigConfigSHA256)
	case m.KeptEvery() > 1:
		return nil, fmt.Errorf("rig: %w: run %s kept 1 frame in %d (--frames every:%d): the invariants over the whole run cannot be restored from the frames it kept; run the protocol again", ErrCannotResume, m.RunID, m.KeptEvery(), m.KeptEvery())
	case m.DUTProfile != nil && !m.DUTProfile.Equal(dutProfileRef(cfg)):
		return nil, fmt.Errorf("rig: %w: run %s ran with DUT profile %s (sha256 %.12s…); resume it with the same (--dut)", ErrCannotResume, m.RunID, m.DUTProfile.Name, m.DUTProfile.SHA256)
	}
	if err := runlog.CheckResumable(dir); err != nil {
		return nil, fmt.Errorf("rig: %w: run %s: %w", ErrCannotResume, m.RunID, err)
	}
	evs, err := run.ReadEvents()
	if err != nil {
		return nil, err
	}
	st, err := run.Frames(func(time.Duration, []float64) error { return nil })
	if err != nil {
		return nil, err
	}
	rs := &resumeState{dir: dir, run: run, events: evs, lastT: st.Last}
	if len(evs) > 0 {
		rs.lastT = max(rs.lastT, time.Duration(evs[len(evs)-1].T*float64(time.Second)))
	}
	// Top-level steps run in order: the completed ones are those with a
	// step.end that was not an abort, up to the first without.
	done := map[int]bool{}
	for _, e := range evs {
		if e.Kind == runlog.KindStepEnd && !strings.ContainsAny(e.Step, ".[") && e.Msg != string(runlog.OutcomeAborted) {
			done[runlog.TopStep(e.Step)] = true
		}
	}
	for done[rs.completed+1] {
		rs.completed++
	}
	return rs, nil
}

// restore brings the engine to where the interrupted run stood after its
// last completed step: its step results and criteria (from their events),
// its setpoints (replayed to the rig), and the state of its invariants
// (its frames replayed through them).
func (e *engine) restore() error {
	rs := e.resume
	k := rs.completed
	for _, ev := range rs.events {
		idx := runlog.TopStep(ev.Step)
		switch {
		case ev.Kind == runlog.KindStepEnd && idx >= 1 && idx <= k:
			var d runlog.StepEndData
			if err := ev.Decode(&d); err != nil {
				return fmt.Errorf("rig: resume: step %s: %w", ev.Step, err)
			}
			var r runlog.StepResult
			if d.Result != nil {
				r = *d.Result
			}
			r.Index = len(e.steps)
			e.steps = append(e.steps, r)
			e.restoreRefs(ev.Step, d.References)
		case ev.Kind == runlog.KindCriterion && idx >= 1 && idx <= k:
			var d runlog.CriterionData
			if err := ev.Decode(&d); err != nil {
				return fmt.Errorf("rig: resume: criterion of step %s: %w", ev.Step, err)
			}
			var c runlog.CriterionResult
			if d.Result != nil {
				c = *d.Result
			}
			if c.Verdict == runlog.VerdictFail || c.Verdict == runlog.VerdictNoData && c.OnFail != "warn" {
				e.failed = true
			}
			e.criteria = append(e.criteria, c)
		case ev.Kind == runlog.KindSetpoint && (ev.Step == "" || idx >= 1 && idx <= k):
			d := runlog.SetpointData{Value: runlog.SetpointValue{Num: math.NaN()}} // NaN: none recorded
			_ = ev.Decode(&d)                                                      // a value of another type is refused by valueOf
			if d.Param == "" {
				continue // a preset's name; its setpoints follow as events
			}
			v, err := valueOf(d.Param, d.Value)
			if err != nil {
				return fmt.Errorf("rig: resume: %w", err)
			}
			if err := e.set(protocols.Setpoint{Param: d.Param, Value: v}, "resume"); err != nil {
				return err
			}
		}
	}
	// Invariants hold over the whole run: the frames before the gap count.
	_, err := rs.run.Frames(func(t time.Duration, frame []float64) error {
		_ = e.checkAlways(t, frame) // an earlier violation is recorded, not re-enacted
		return nil
	})
	if err != nil {
		return fmt.Errorf("rig: resume: %w", err)
	}
	// The rig restarted cold: let it settle under the restored setpoints
	// before the interrupted step runs again, as it had under the steps
	// before it. These frames belong to no step.
	e.event(runlog.NewEvent(runlog.KindRunResumed, "", fmt.Sprintf("resumed after step %d of %d; gap from %s to %s of run time", k, e.proto.StepCount(),
		units.FormatDuration(rs.lastT), units.FormatDuration(e.next)), runlog.RunResumedData{CompletedSteps: k, GapFromS: rs.lastT.Seconds(), GapToS: e.next.Seconds()}))
	e.firstStep = k
	e.progress("resumed after step %d of %d; settling %s", k, e.proto.StepCount(), units.FormatDuration(resumeSettle))
	return e.hold(resumeSettle, "")
}

// resumeSettle is how long a resumed run holds the restored setpoints
// before it runs the interrupted step again.
const resumeSettle = 30 * time.Second

// valueOf rebuilds a recorded setpoint value.
func valueOf(param string, v runlog.SetpointValue) (protocols.Value, error) {
	p, ok := protocols.Params[param]
	if param == fillParam { // a preset's fill: recorded, not a parameter of the language
		p, ok = plantParams[fillParam], true
	}
	if !ok {
		return protocols.Value{}, fmt.Errorf("unknown parameter %q in the record", param)
	}
	switch {
	case v.Word == "off":
		return protocols.Value{Off: true, Dim: p.Dim}, nil
	case v.Word != "":
		return protocols.Value{Word: v.Word}, nil
	case !math.IsNaN(v.Num):
		return protocols.Value{Num: v.Num, Dim: p.Dim}, nil
	}
	return protocols.Value{}, fmt.Errorf("recorded value of %s is neither a number nor a word", param)
}

// restoreRefs takes back the reference values a completed step measured
// for later steps' relative criteria (StepEndData.References).
func (e *engine) restoreRefs(path string, refs map[string]float64) {
	if len(refs) == 0 {
		return
	}
	var walk func(steps []*protocols.Step)
	walk = func(steps []*protocols.Step) {
		for _, s := range steps {
			for _, c := range s.Refs {
				if v, ok := refs[refKey(c)]; ok {
					if e.refs == nil {
						e.refs = map[*protocols.Criterion]refValue{}
					}
					e.refs[c] = refValue{v, path}
				}
			}
			walk(s.Steps)
		}
	}
	walk(e.proto.Steps)
}
