package serve

import (
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// How a run ended, for the page to show it as what it was: an operator's
// stop is neutral, an e-stop, a safety trip or a fault is red and wants
// acknowledging.
const (
	stopOperator = "stop"  // an operator stopped the run: a choice, not an alarm
	stopEStop    = "estop" // the emergency stop: the trip path
	stopTrip     = "trip"  // the safety supervisor tripped
	stopFault    = "fault" // the run failed (a driver, the record)
)

// stopInfo is how a run was stopped ("stop" of the end event and of
// "last"): its kind, who (a person's stop), and the abort reason.
type stopInfo struct {
	Kind   string `json:"kind"`
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"` // the person's reason
	Msg    string `json:"msg"`              // the run's abort reason
	// Alarm says the page shows it red, with an acknowledge.
	Alarm bool `json:"alarm"`
}

// noteStop classifies the run's stop from its events as they are
// recorded (observer.Event): a person's stop or e-stop, else the safety
// trip. An e-stop is recorded before its safety.trip and stays an e-stop.
func noteStop(run *activeRun, ev runlog.Event) {
	switch ev.Kind {
	case runlog.KindOperator:
		var d runlog.OperatorData
		if ev.Decode(&d) != nil {
			return
		}
		switch d.Action {
		case runlog.ActionStop:
			run.stop = &stopInfo{Kind: stopOperator, By: d.By, Reason: d.Reason, Msg: ev.Msg}
		case runlog.ActionEStop:
			run.stop = &stopInfo{Kind: stopEStop, By: d.By, Reason: d.Reason, Msg: ev.Msg, Alarm: true}
		}
	case runlog.KindSafetyTrip:
		// Records made before an operator's stop stopped being a trip have
		// its safety.trip too, with the stop's own reason: still a stop.
		if run.stop == nil || run.stop.Kind != stopEStop && (run.stop.Kind != stopOperator || ev.Msg != run.stop.Msg) {
			run.stop = &stopInfo{Kind: stopTrip, Msg: ev.Msg, Alarm: true}
		}
	}
}

// endStop is the stop of a run that ended with outcome and reason: the
// one its events said, or a fault; nil for a run that was not aborted.
func endStop(run *activeRun, outcome runlog.Outcome, reason string) *stopInfo {
	if outcome != runlog.OutcomeAborted {
		return nil
	}
	if run.stop != nil {
		st := *run.stop
		st.Msg = reason
		return &st
	}
	return &stopInfo{Kind: stopFault, Msg: reason, Alarm: true}
}

// acknowledge answers POST /api/run/acknowledge {"reason"?}: a person
// acknowledges the e-stop, safety trip or fault that ended the last run.
// The acknowledgement is an audit entry of the bench log (the run's record
// is closed by then): who, when, which run, and why. 409 when there is
// nothing to acknowledge.
func (s *Server) acknowledge(w http.ResponseWriter, r *http.Request, reason string) {
	who := s.actor(r, reason)
	who.Action, who.At = runlog.ActionAcknowledge, time.Now().UTC()
	s.mu.Lock()
	last := s.last
	s.mu.Unlock()
	if last == nil || last.Stop == nil || !last.Stop.Alarm || last.Acknowledged != nil {
		httpError(w, http.StatusConflict, "nothing to acknowledge: the last run ended without an alarm, or it was acknowledged")
		return
	}
	if s.cfg.BenchLog == "" {
		httpError(w, http.StatusServiceUnavailable, "serve: no bench audit log is configured to record the acknowledgement")
		return
	}
	e := runlog.BenchLogEntry{OperatorData: who, Subject: last.RunID}
	who.Old = last.Stop.Msg
	e.OperatorData = who
	if err := runlog.AppendBenchLog(s.cfg.BenchLog, e); err != nil {
		httpError(w, http.StatusInternalServerError, "serve: bench audit log: "+err.Error())
		return
	}
	ack := &ackInfo{By: who.By, Role: who.Role, At: who.At, Reason: who.Reason}
	s.mu.Lock()
	if s.last == last {
		last.Acknowledged = ack
	}
	s.hub.Publish("acknowledged", map[string]any{"run_id": last.RunID, "acknowledged": ack})
	s.mu.Unlock()
	s.logf("serve: %s of run %s acknowledged by %s", last.Stop.Kind, last.RunID, who.By)
	writeJSON(w, http.StatusOK, map[string]any{"run_id": last.RunID, "acknowledged": ack})
}

// ackInfo is who acknowledged an alarm, when and why.
type ackInfo struct {
	By     string    `json:"by"`
	Role   string    `json:"role,omitempty"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// lastRun is the last run the view ran, as it ended ("last" of
// /api/status and hello; the end event's content): what a page opened
// after the run shows instead of a stale step.
type lastRun struct {
	RunID        string            `json:"run_id"`
	QueueID      string            `json:"queue_id"`
	Protocol     string            `json:"protocol"`
	Outcome      runlog.Outcome    `json:"outcome"`
	AbortReason  string            `json:"abort_reason"`
	Reports      map[string]string `json:"reports"`
	Stop         *stopInfo         `json:"stop"`
	EndedAt      time.Time         `json:"ended_at"`
	Acknowledged *ackInfo          `json:"acknowledged"`
}

// maxViewPoints bounds the points of a channel in a past run's view: the
// frames are cut into maxViewPoints/2 spans, each drawn as its minimum and
// maximum, so that a spike survives the decimation.
const maxViewPoints = 5000

// maxViewBeats and maxViewEvents bound the rest of the view.
const (
	maxViewBeats  = 5000
	maxViewEvents = 2000
)

// runView answers GET /api/runs/{id}/view: a closed run from its record,
// for the page to show in the live view's place — min/max-decimated
// frames (at most maxViewPoints per channel), beats, criteria and events.
// The record is verified first against its seal; a record that fails says
// so ("verified": false and the failures), and is shown all the same.
func (s *Server) runView(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !runlog.ValidRunID(id) {
		httpError(w, http.StatusNotFound, fmt.Sprintf("no run %s", id))
		return
	}
	rec, err := runlog.Open(filepath.Join(s.cfg.RunsDir, id))
	switch {
	case err != nil:
		httpError(w, http.StatusNotFound, fmt.Sprintf("no run %s", id))
		return
	case rec.Manifest.State != runlog.StateClosed || rec.Result == nil:
		httpError(w, http.StatusConflict, fmt.Sprintf("run %s is not closed: watch it live, or wait for its end", id))
		return
	}
	out := map[string]any{"run_id": id, "protocol": rec.Manifest.Protocol.Name, "layout": rec.Manifest.Layout,
		"epoch_ms": rec.Manifest.Epoch.UnixMilli(), "outcome": rec.Result.Outcome, "abort_reason": rec.Result.AbortReason,
		"duration_s": rec.Result.DurationS, "criteria": rec.Result.Criteria, "steps": rec.Result.Steps,
		"reports": reportLinks(s.cfg.RunsDir, id)}
	v, verr := runlog.Verify(rec.Dir)
	switch {
	case verr != nil:
		out["verified"], out["integrity"] = false, []string{verr.Error()}
	case !v.Intact():
		out["verified"], out["integrity"] = false, v.Failures()
	default:
		out["verified"], out["integrity"] = true, []string{}
	}
	ts, vals, err := decimate(rec, rec.Result.DurationS)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "serve: frames of "+id+": "+err.Error())
		return
	}
	out["t"], out["v"] = ts, vals
	beats, _ := rec.ReadBeats() // a malformed line is left out; the report says so
	out["beats"] = stride(beats, maxViewBeats)
	evs, _ := rec.ReadEvents()
	out["events"] = viewEvents(evs)
	writeJSON(w, http.StatusOK, out)
}

// decimate reads a run's frames into at most maxViewPoints/2 spans of
// equal run time over durS, each the span's minimum then maximum per
// channel (null for a span without a finite value).
func decimate(rec *runlog.Run, durS float64) ([]float64, [][]*float64, error) {
	nch := len(rec.Manifest.Layout)
	spans := maxViewPoints / 2
	if !(durS > 0) {
		durS = 1
	}
	width := durS / float64(spans)
	lo := make([][]float64, nch)
	hi := make([][]float64, nch)
	for c := range nch {
		lo[c], hi[c] = make([]float64, spans), make([]float64, spans)
		for i := range spans {
			lo[c][i], hi[c][i] = math.Inf(1), math.Inf(-1)
		}
	}
	used := make([]bool, spans)
	_, err := rec.Frames(func(t time.Duration, values []float64) error {
		i := int(t.Seconds() / width)
		i = min(max(i, 0), spans-1)
		used[i] = true
		for c, x := range values[:min(nch, len(values))] {
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				lo[c][i], hi[c][i] = min(lo[c][i], x), max(hi[c][i], x)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	ts := []float64{}
	vals := make([][]*float64, nch)
	for i := range spans {
		if !used[i] {
			continue
		}
		t0 := float64(i) * width
		ts = append(ts, t0, t0+width/2)
		for c := range nch {
			if lo[c][i] > hi[c][i] {
				vals[c] = append(vals[c], nil, nil)
				continue
			}
			a, b := lo[c][i], hi[c][i]
			vals[c] = append(vals[c], &a, &b)
		}
	}
	return ts, vals, nil
}

// stride keeps at most n of list, evenly spaced; never nil.
func stride[T any](list []T, n int) []T {
	if len(list) <= n {
		if list == nil {
			return []T{}
		}
		return list
	}
	out := make([]T, 0, n)
	for i := range n {
		out = append(out, list[i*len(list)/n])
	}
	return out
}

// viewEvents are the notable events of a run as the live stream has them
// ({"t","kind","step","msg"}): DUT traffic and its counts (dut.summary, one
// a step) left out, at most maxViewEvents, the last ones kept (the end says
// most).
func viewEvents(evs []runlog.Event) []map[string]any {
	out := []map[string]any{}
	for _, ev := range evs {
		if ev.Kind == runlog.KindDUTTx || ev.Kind == runlog.KindDUTRx || ev.Kind == runlog.KindDUTSummary {
			continue
		}
		out = append(out, map[string]any{"t": ev.T, "kind": ev.Kind, "step": ev.Step, "msg": ev.Msg})
	}
	if len(out) > maxViewEvents {
		out = out[len(out)-maxViewEvents:]
	}
	return out
}

// lastFromRecords is the last run of the rig in the runs directory, as
// the view shows it after a restart: the newest closed record of the
// rig, its stop classified from its events as they were recorded, and an
// acknowledgement of the bench log. nil when there is none.
func lastFromRecords(cfg Config) *lastRun {
	sums, _ := runlog.List(cfg.RunsDir) // a record unreadable is left out
	for i := len(sums) - 1; i >= 0; i-- {
		sum := sums[i]
		if sum.Rig != cfg.Rig.Name || sum.State != runlog.StateClosed {
			continue
		}
		rec, err := runlog.Open(filepath.Join(cfg.RunsDir, sum.RunID))
		if err != nil || rec.Result == nil {
			return nil
		}
		last := &lastRun{RunID: sum.RunID, Protocol: sum.Protocol, Outcome: rec.Result.Outcome, AbortReason: rec.Result.AbortReason,
			Reports: reportLinks(cfg.RunsDir, sum.RunID)}
		if sum.Ended != nil {
			last.EndedAt = *sum.Ended
		}
		evs, _ := rec.ReadEvents()
		run := &activeRun{}
		for _, ev := range evs {
			noteStop(run, ev)
		}
		last.Stop = endStop(run, last.Outcome, last.AbortReason)
		if cfg.BenchLog != "" && last.Stop != nil && last.Stop.Alarm {
			log, _ := runlog.ReadBenchLog(cfg.BenchLog) // a log unreadable: not acknowledged
			for _, e := range log {
				if e.Action == runlog.ActionAcknowledge && e.Subject == last.RunID {
					last.Acknowledged = &ackInfo{By: e.By, Role: e.Role, At: e.At, Reason: e.Reason}
				}
			}
		}
		return last
	}
	return nil
}
