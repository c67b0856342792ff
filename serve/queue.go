package serve

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/mockloop/mockloop/bench"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

// EntryState is where a queue entry is in its life.
type EntryState string

// States of a queue entry.
const (
	EntryQueued    EntryState = "queued"    // waiting its turn (or for the bench another process holds: see error)
	EntryStarting  EntryState = "starting"  // handed to the rig, no record yet
	EntryRunning   EntryState = "running"   // its run has a record: run_id
	EntryDone      EntryState = "done"      // its run ended: outcome, abort_reason, exit_code
	EntryCancelled EntryState = "cancelled" // removed before it started: error says by whom and why
	EntryFailed    EntryState = "failed"    // it could not start: error says why
)

// QueueEntry is a run asked for, as GET /api/queue/{id} shows it: one home
// for the queue's contract, which the remote client decodes too. Every key
// is always present; null when it does not apply yet.
type QueueEntry struct {
	ID          string          `json:"id"`
	Position    *int            `json:"position"` // 0: running or next; null once ended
	State       EntryState      `json:"state"`
	Protocol    string          `json:"protocol"`
	By          string          `json:"by"`
	Role        string          `json:"role"`
	Via         string          `json:"via"`
	QueuedAt    time.Time       `json:"queued_at"`
	RunID       *string         `json:"run_id"`
	Outcome     *runlog.Outcome `json:"outcome"`
	AbortReason *string         `json:"abort_reason"`
	ExitCode    *int            `json:"exit_code"`
	Error       string          `json:"error"`
	// Step is the top-level step under way while the run goes on
	// ({"path","title","index","total","t"}), for a client that polls.
	Step map[string]any `json:"step"`
	// Prompt is the run's prompt waiting for its answer (language 1.1;
	// answered with POST /api/run/answer), null when none: what `run
	// --remote` shows.
	Prompt *runlog.PromptData `json:"prompt"`
}

// queued is an entry with what its run needs.
type queued struct {
	QueueEntry
	p       *protocols.Protocol
	opts    rig.Options
	settled chan struct{} // closed once running, ended, or waiting for the bench
	once    sync.Once
}

func (q *queued) settle() { q.once.Do(func() { close(q.settled) }) }

// Queue bounds: a rig runs one protocol at a time, and a queue longer than
// a night's work is a mistake; the ended entries are kept for clients that
// come back to them (run --remote --follow), the newest first out.
const (
	maxQueue    = 64
	maxFinished = 100
)

// benchRetry is how often the head entry tries again for a bench held by
// another process.
const benchRetry = time.Second

// newEntryID is a random, path-safe queue id, distinct from run ids.
func newEntryID() string { return "q" + hex.EncodeToString(randomBytes(8)) }

// enqueue adds a run to the queue and starts it if the rig is free; s.mu
// is held. It returns an error message when the queue is full or the
// server is shutting down.
func (s *Server) enqueueLocked(q *queued) string {
	if s.closing {
		return "the server is shutting down"
	}
	if len(s.queue) >= maxQueue {
		return fmt.Sprintf("the queue of rig %s is full (%d runs waiting or running); try again later", s.cfg.Rig.Name, maxQueue)
	}
	s.queue = append(s.queue, q)
	s.logf("serve: queued %s: protocol %s by %q (%s) at position %d", q.ID, q.Protocol, q.By, q.Via, len(s.queue)-1)
	s.dispatchLocked()
	s.publishQueueLocked()
	return ""
}

// dispatchLocked starts the head of the queue when the rig is free and
// nothing waits for a retry; s.mu is held.
func (s *Server) dispatchLocked() {
	if s.closing || s.run != nil || s.retry != nil || len(s.queue) == 0 {
		return
	}
	q := s.queue[0]
	if q.State != EntryQueued {
		return
	}
	q.State = EntryStarting
	ctx, cancel := context.WithCancelCause(context.Background())
	run := &activeRun{protocol: q.p.Name, operator: q.opts.Operator, cancel: cancel, state: StateRunning,
		started: make(chan struct{}), entry: q}
	opts := q.opts
	opts.Observer, opts.Pause, opts.Prompts = &observer{s: s, run: run}, &run.pause, &run.prompts
	s.run = run
	s.wg.Add(1)
	go s.execute(ctx, run, q.p, opts)
}

// notStartedLocked settles an entry whose run ended before it started:
// the bench held by another process keeps it at the head, to try again;
// any other reason fails it, and the next one goes. s.mu is held.
func (s *Server) notStartedLocked(q *queued, err error) {
	if errors.Is(err, bench.ErrBusy) && !s.closing {
		msg := "waiting for the bench: " + err.Error()
		changed := q.Error != msg
		q.State, q.Error = EntryQueued, msg
		if changed { // said once, not at every retry
			s.logf("serve: %s %s", q.ID, msg)
			s.publishQueueLocked()
		}
		q.settle()
		s.retry = time.AfterFunc(benchRetry, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.retry = nil
			s.dispatchLocked()
		})
		return
	}
	code := 4
	if errors.Is(err, rig.ErrOverdue) || errors.Is(err, rig.ErrNoReason) || errors.Is(err, rig.ErrDevBuild) || errors.Is(err, rig.ErrOtherDevice) {
		code = 3
	}
	q.State, q.Error, q.ExitCode = EntryFailed, err.Error(), &code
	s.finishLocked(q)
}

// endedLocked records the end of an entry's run; s.mu is held.
func (s *Server) endedLocked(q *queued, runID string, res *runlog.Result, err error) {
	outcome, reason := runlog.OutcomeAborted, ""
	if res != nil {
		outcome, reason = res.Outcome, res.AbortReason
	} else if err != nil {
		reason = err.Error()
	}
	code := outcome.ExitCode()
	q.State, q.RunID, q.Outcome, q.AbortReason, q.ExitCode = EntryDone, &runID, &outcome, &reason, &code
	s.finishLocked(q)
}

// finishLocked moves an entry from the queue to the ended ones and starts
// the next; s.mu is held.
func (s *Server) finishLocked(q *queued) {
	s.queue = slices.DeleteFunc(s.queue, func(e *queued) bool { return e == q })
	q.Step = nil
	s.finished = append(s.finished, q)
	if len(s.finished) > maxFinished {
		s.finished = slices.Delete(s.finished, 0, len(s.finished)-maxFinished)
	}
	q.settle()
	s.dispatchLocked()
	s.publishQueueLocked()
}

// entryLocked is an entry as the API shows it; s.mu is held.
func (s *Server) entryLocked(q *queued) QueueEntry {
	e := q.QueueEntry
	e.Position = nil
	if i := slices.Index(s.queue, q); i >= 0 {
		e.Position = &i
	}
	if r := s.run; r != nil && r.entry == q {
		if r.step != nil {
			e.Step = r.step
		}
		e.Prompt = r.prompts.Waiting()
	}
	return e
}

// queueLocked is the list of entries waiting and running; s.mu is held.
func (s *Server) queueLocked() []QueueEntry {
	out := make([]QueueEntry, 0, len(s.queue))
	for _, q := range s.queue {
		out = append(out, s.entryLocked(q))
	}
	return out
}

func (s *Server) publishQueueLocked() { s.hub.Publish("queue", s.queueLocked()) }

// findLocked is the entry with a queue id, or whose run has that run id;
// s.mu is held.
func (s *Server) findLocked(id string) *queued {
	for _, list := range [][]*queued{s.queue, s.finished} {
		for _, q := range slices.Backward(list) {
			if q.ID == id || q.RunID != nil && *q.RunID == id {
				return q
			}
		}
	}
	return nil
}

// listQueue answers GET /api/queue.
func (s *Server) listQueue(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	list := s.queueLocked()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

// getEntry answers GET /api/queue/{id}: an entry waiting, running or
// ended (the last maxFinished), by its queue id or its run's id.
func (s *Server) getEntry(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if e, ok := s.entry(id); ok {
		writeJSON(w, http.StatusOK, e)
	} else {
		httpError(w, http.StatusNotFound, fmt.Sprintf("no queue entry %q on this server (ended entries are kept for the last %d)", id, maxFinished))
	}
}

// entry is the entry id names (its queue id or its run's id), as the API
// shows it.
func (s *Server) entry(id string) (QueueEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.findLocked(id); q != nil {
		return s.entryLocked(q), true
	}
	return QueueEntry{}, false
}

// entryResult answers GET /api/queue/{id}/result: the result.json of the
// entry's run, once it has ended.
func (s *Server) entryResult(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	e, ok := s.entry(id)
	switch {
	case !ok:
		httpError(w, http.StatusNotFound, fmt.Sprintf("no queue entry %q on this server", id))
	case e.State != EntryDone || e.RunID == nil || !fileExists(s.cfg.RunsDir, *e.RunID, "result.json"):
		httpError(w, http.StatusConflict, fmt.Sprintf("entry %s has no result: it is %s", id, e.State))
	default:
		http.ServeFile(w, r, runFile(s.cfg.RunsDir, *e.RunID, "result.json"))
	}
}

// cancelEntry answers POST /api/queue/{id}/cancel {"reason"}: a waiting
// entry leaves the queue, said in the server's log with the person; a run
// under way is stopped with /api/run/stop instead, which its record keeps.
func (s *Server) cancelEntry(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Reason string `json:"reason"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if msg := checkReason("cancel", req.Reason); msg != "" {
		httpError(w, http.StatusBadRequest, msg)
		return
	}
	who := s.actor(r, req.Reason)
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.findLocked(id)
	switch {
	case q == nil:
		httpError(w, http.StatusNotFound, fmt.Sprintf("no queue entry %q on this server", id))
		return
	case q.State == EntryStarting || q.State == EntryRunning:
		httpError(w, http.StatusConflict, fmt.Sprintf("entry %s is %s: stop its run with POST /api/run/stop (a reason is needed)", id, q.State))
		return
	case q.State != EntryQueued:
		httpError(w, http.StatusConflict, fmt.Sprintf("entry %s has already ended: %s", id, q.State))
		return
	}
	q.State, q.Error = EntryCancelled, "cancelled by "+who.By
	if who.Reason != "" {
		q.Error += ": " + who.Reason
	}
	s.logf("serve: %s (protocol %s, queued by %s) %s", q.ID, q.Protocol, q.By, q.Error)
	s.finishLocked(q)
	writeJSON(w, http.StatusOK, s.entryLocked(q))
}

// cancelQueueLocked cancels every entry still waiting, for a shutdown;
// s.mu is held.
func (s *Server) cancelQueueLocked(reason string) {
	if s.retry != nil {
		s.retry.Stop()
		s.retry = nil
	}
	for _, q := range slices.Clone(s.queue) {
		if q.State == EntryQueued {
			q.State, q.Error = EntryCancelled, reason
			s.finishLocked(q)
		}
	}
}
