package serve

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mockloop/mockloop/bench"
	"github.com/mockloop/mockloop/influx"
	"github.com/mockloop/mockloop/live"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/reports"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

//go:embed ui
var uiFS embed.FS

// Config is what a server serves.
type Config struct {
	Rig     *rig.Config
	RunsDir string
	// Protocols holds the protocols one can pick (*.yaml at its top), e.g.
	// os.DirFS("configs/protocols"); ProtocolsDir is its name, recorded as
	// the protocol's file in a run's manifest.
	Protocols    fs.FS
	ProtocolsDir string
	Version      string
	// Build is the running build and AllowDevBuild the reason, given
	// to `mockloop serve --allow-dev-build`, for a development build to
	// drive a hardware rig: each run checks and records it as the CLI's
	// do (rig.Options). A nil Build is not checked.
	Build         *runlog.Build
	AllowDevBuild string
	// Speed is how fast a simulated rig runs: 1 (or 0) is real time on
	// the wall clock, as at the bench; above 1, virtual time paced at
	// Speed × real time (demonstrations, tests). Hardware is always real
	// time.
	Speed float64
	// Token, when set, is required on every request that changes
	// anything, and on reads unless ReadToken is given for them. They are
	// the tokens "token" (role operator) and "read-token" (reviewer) of
	// the audit trail.
	Token, ReadToken string
	// Tokens are named tokens (CI jobs), each with its role.
	Tokens []Token
	// UsersFile, when it exists, holds the people who log in by name and
	// password (users.go); it is read at each login, so that a user
	// disabled or a password changed takes effect at the next.
	UsersFile string
	// Loopback says the server listens on loopback only: requests must
	// then name a loopback host (no DNS rebinding).
	Loopback bool
	// Operator is recorded in runs whose start does not name one.
	Operator string
	// Influx, when set, logs every run to InfluxDB too.
	Influx *influx.Config
	// Log receives one line per run started and ended; nil for none.
	Log io.Writer
	// IdleSignals samples the rig at its safe state while the view runs
	// nothing and a page watches (idle.go).
	IdleSignals bool
	// BenchLog is the bench audit log (runlog.AppendBenchLog), where an
	// alarm's acknowledgement is recorded; "" refuses acknowledgements.
	BenchLog string
}

// State is what the rig is doing.
type State string

// States of the rig, as the API reports them.
const (
	StateIdle     State = "idle"
	StateRunning  State = "running"
	StatePausing  State = "pausing" // a pause is requested; the step under way goes on
	StatePaused   State = "paused"
	StateStopping State = "stopping"
)

// Server is the bench view of one rig.
type Server struct {
	cfg Config
	hub *live.Hub
	mux *http.ServeMux

	mu  sync.Mutex
	run *activeRun // nil when idle
	// last is how the last run of the view ended, for a page opened
	// after it.
	last *lastRun
	// idle is the idle sampling under way (idle.go), nil when none.
	idle *idleSampling
	wg   sync.WaitGroup
	// The queue (queue.go): entries waiting and running, FIFO, the head
	// the one running or next; the last ended ones; the timer of the
	// head's next try for a bench another process holds; and whether the
	// server is shutting down (nothing starts then).
	queue    []*queued
	finished []*queued
	retry    *time.Timer
	closing  bool

	sessions sessions // the page's logins
	throttle throttle // failed authentications, per client address
	tokens   []Token  // every token accepted, Token and ReadToken among them
	authOn   bool     // credentials are configured: requests need them
	// users is the users file as last read (usersNow), with the time and
	// size it had then.
	usersMu sync.Mutex
	users   *Users
	usersAt struct {
		mod  time.Time
		size int64
	}
}

// activeRun is the run in progress.
type activeRun struct {
	protocol string
	operator string
	cancel   context.CancelCauseFunc
	pause    rig.Pause
	prompts  rig.Prompts // the run's prompts waiting, answered by POST /api/run/answer
	state    State
	info     *runInfo // set when the run has started
	// What a page opened mid-run needs to catch up (hello): the step
	// under way, the criteria decided, the latest beat, a trip.
	step     map[string]any
	criteria []runlog.CriterionResult
	beat     *runlog.Beat
	trip     string
	stop     *stopInfo      // how it was stopped, from its events (view.go)
	paused   map[string]any // where the pause took hold: {"step","before_step","t"}
	started  chan struct{}  // closed when info is set or the run ended before
	err      error          // why it ended before it started
	entry    *queued        // the queue entry it runs
}

// runInfo is RUN of the live stream.
type runInfo struct {
	RunID      string           `json:"run_id"`
	Protocol   string           `json:"protocol"`
	Rig        string           `json:"rig"`
	Operator   string           `json:"operator,omitempty"`
	EpochMS    int64            `json:"epoch_ms"`
	PlannedS   float64          `json:"planned_s"`
	StepsTotal int              `json:"steps_total"`
	RateHz     float64          `json:"rate_hz"`
	Layout     []runlog.Channel `json:"layout"`
	// BeatChannel is the channel whose beats the view shows (the rig's
	// key beat channel).
	BeatChannel string `json:"beat_channel,omitempty"`
}

// New makes a server. It closes any run record a crash left running, so
// that the history is true from the start.
func New(cfg Config) (*Server, error) {
	if cfg.Rig == nil || cfg.RunsDir == "" || cfg.Protocols == nil {
		return nil, errors.New("serve: a rig config, a runs directory and a protocols directory are needed")
	}
	if cfg.Speed < 0 {
		return nil, fmt.Errorf("serve: speed %g is negative", cfg.Speed)
	}
	if err := cmp.Or(CheckToken(cfg.Token), CheckToken(cfg.ReadToken)); err != nil {
		return nil, fmt.Errorf("serve: a token %w", err)
	}
	s := &Server{cfg: cfg, hub: live.New(), mux: http.NewServeMux()}
	if err := s.setupAuth(); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if _, err := runlog.Recover(cfg.RunsDir); err != nil {
		return nil, err
	}
	s.last = lastFromRecords(cfg) // a page opened after a restart shows it
	s.routes()
	if cfg.IdleSignals {
		s.wg.Add(1)
		go s.idleLoop()
	}
	return s, nil
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s }

// Close stops a run in progress — safe state, record closed — waits for
// it, and ends every live stream.
func (s *Server) Close() error {
	s.Shutdown("operator: the bench view was shut down")
	return nil
}

// Shutdown is Close with reason as the abort reason of a run in progress
// (e.g. the signal that ends the server); it reports whether a run was
// stopped.
func (s *Server) Shutdown(reason string) (stopped bool) {
	s.mu.Lock()
	s.closing = true
	s.cancelQueueLocked("cancelled: the server shut down before it started")
	if r := s.run; r != nil {
		r.cancel(&rig.AbortError{Reason: reason})
		stopped = true
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.hub.Close()
	return stopped
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Log != nil {
		fmt.Fprintf(s.cfg.Log, format+"\n", args...)
	}
}

// ServeHTTP checks the request's host, origin and credentials, then
// serves it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if s.cfg.Loopback && !loopbackHost(r.Host) {
		httpError(w, http.StatusForbidden, "this server answers only to a loopback host name")
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	ui, _ := fs.Sub(uiFS, "ui")
	static := http.FileServerFS(ui)
	s.mux.Handle("GET /", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", uiCSP)
		w.Header().Set("Cache-Control", "no-cache")
		static.ServeHTTP(w, r)
	}))
	s.mux.HandleFunc("POST /api/login", s.mutation(false, s.login))
	s.mux.HandleFunc("POST /api/logout", s.mutation(false, s.logout))
	s.mux.HandleFunc("GET /api/status", s.read(s.status))
	s.mux.HandleFunc("GET /api/protocols", s.read(s.protocols))
	s.mux.HandleFunc("GET /api/runs", s.read(s.history))
	s.mux.HandleFunc("GET /api/runs/{id}/view", s.read(s.runView))
	s.mux.HandleFunc("GET /api/live", s.read(s.live))
	s.mux.HandleFunc("GET /runs/{id}/{file}", s.read(s.report))
	s.mux.HandleFunc("POST /api/validate", s.mutation(true, s.validate))
	s.mux.HandleFunc("POST /api/runs", s.mutation(true, s.start))
	s.mux.HandleFunc("POST /api/run/answer", s.mutation(true, s.answer))
	s.mux.HandleFunc("POST /api/run/{action}", s.mutation(true, s.control))
	s.mux.HandleFunc("GET /api/queue", s.read(s.listQueue))
	s.mux.HandleFunc("GET /api/queue/{id}", s.read(s.getEntry))
	s.mux.HandleFunc("GET /api/queue/{id}/result", s.read(s.entryResult))
	s.mux.HandleFunc("POST /api/queue/{id}/cancel", s.mutation(true, s.cancelEntry))
}

// uiCSP lets the page load only its own files and talk only to its server.
const uiCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// status answers GET /api/status. When the view is idle but another
// process holds the bench (`mockloop run` in a terminal), the state is
// that process's and "other" says what it runs.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st := s.statusLocked()
	idle := s.run == nil && s.idle == nil // the bench, if held, is another process's
	s.mu.Unlock()
	if idle {
		if o, err := s.askBench(bench.Request{Action: bench.ActionStatus}); err == nil {
			st["state"], st["other"] = o.State, o
		}
	}
	st["write"] = s.canWrite(r)
	if p := s.who(r); s.authOn && p.Name != "" {
		st["user"], st["role"] = p.Name, p.Role
	}
	st["users"] = s.cfg.UsersFile != "" // the page offers a login by name
	writeJSON(w, http.StatusOK, st)
}

// askBench sends action to the process holding the bench through its
// control socket (DESIGN.md, decision 8); bench.ErrNoHolder when none.
func (s *Server) askBench(req bench.Request) (bench.Status, error) {
	dir, err := bench.Dir()
	if err != nil {
		return bench.Status{}, err
	}
	return bench.Ask(dir, s.cfg.Rig.BenchResources()[0], req)
}

func (s *Server) statusLocked() map[string]any {
	st := map[string]any{"rig": s.cfg.Rig.Name, "backend": s.cfg.Rig.Backend, "state": StateIdle, "run": nil, "last": s.last, "idle": s.idleInfoLocked()}
	if r := s.run; r != nil {
		st["state"], st["paused"] = r.state, r.paused
		if r.info != nil {
			st["run"] = r.info
			st["step"], st["criteria"], st["beat"] = r.step, r.criteria, r.beat
			st["prompt"] = r.prompts.Waiting()
			if r.trip != "" {
				st["safety"] = map[string]any{"tripped": true, "reason": r.trip}
			}
		}
	}
	return st
}

// setState changes the run's state and tells the watchers; s.mu is held.
func (s *Server) setState(r *activeRun, st State, reason string) {
	if r.state == st {
		return
	}
	r.state = st
	s.hub.Publish("state", map[string]any{"state": st, "reason": reason})
}

// protocolEntry is one protocol one can pick.
type protocolEntry struct {
	File        string          `json:"file"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Steps       int             `json:"steps"`
	PlannedS    float64         `json:"planned_s"`
	Errors      []protocolError `json:"errors,omitempty"`
}

// protocols answers GET /api/protocols: every protocol of the directory,
// checked against the rig, so that one that cannot run says why before
// anyone picks it.
func (s *Server) protocols(w http.ResponseWriter, r *http.Request) {
	ents, err := fs.ReadDir(s.cfg.Protocols, ".")
	if err != nil {
		httpError(w, http.StatusInternalServerError, "protocols: "+err.Error())
		return
	}
	list := []protocolEntry{}
	for _, e := range ents {
		if e.IsDir() || path.Ext(e.Name()) != ".yaml" {
			continue
		}
		ent := protocolEntry{File: e.Name()}
		var p *protocols.Protocol
		data, err := protocols.ReadFS(s.cfg.Protocols, e.Name())
		if err == nil {
			p, err = protocols.Parse(e.Name(), data, s.cfg.Rig.Info())
		}
		if err != nil {
			ent.Errors = protocolErrors(e.Name(), err)
		} else {
			ent.Name, ent.Description, ent.Steps, ent.PlannedS = p.Name, p.Description, p.StepCount(), rig.Planned(p).Seconds()
		}
		list = append(list, ent)
	}
	writeJSON(w, http.StatusOK, list)
}

// protocolError is one mistake in a protocol, as `mockloop validate`
// prints it (Text) and in parts.
type protocolError struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
	Msg  string `json:"msg"`
	Text string `json:"text"`
}

// requestError is a mistake in the request rather than in the protocol.
func requestError(format string, args ...any) []protocolError {
	msg := fmt.Sprintf(format, args...)
	return []protocolError{{Msg: msg, Text: msg}}
}

func protocolErrors(file string, err error) []protocolError {
	var list protocols.ErrorList
	if !errors.As(err, &list) {
		return []protocolError{{File: file, Msg: err.Error(), Text: err.Error()}}
	}
	out := make([]protocolError, 0, len(list))
	for _, e := range list {
		out = append(out, protocolError{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col, Msg: e.Msg, Text: e.Error()})
	}
	return out
}

// protocolRequest names a protocol of the directory, or carries an
// uploaded one.
type protocolRequest struct {
	Protocol string `json:"protocol"` // a file of the protocols directory
	Name     string `json:"name"`     // an upload's file name
	Source   string `json:"source"`   // an upload's text
	Operator string `json:"operator"`
	// The deviations `mockloop run` has flags for (--allow-overdue with
	// --reason, --allow-other-device REASON), passed to rig.Options as
	// the CLI passes them.
	AllowOverdue     bool   `json:"allow_overdue"`
	Reason           string `json:"reason"`
	AllowOtherDevice string `json:"allow_other_device"`
	// Job is the CI job that asked for the run (the client's
	// runlog.JobFromEnv), recorded as the run's job.
	Job *runlog.Job `json:"job"`
	// Frames is `mockloop run --frames`: "every:N" keeps one frame in N
	// in the record of a dry run (rig.ParseFrames); "" keeps them all.
	Frames string `json:"frames"`
}

// maxProtocol bounds an upload (the protocol reader refuses more than
// 1 MiB anyway).
const maxProtocol = 1 << 20

// load reads and checks the protocol a request names. The errors are the
// protocol's own (422) or the request's (400).
func (s *Server) load(req protocolRequest) (p *protocols.Protocol, file string, src []byte, status int, errs []protocolError) {
	switch {
	case req.Protocol != "" && req.Source != "":
		return nil, "", nil, http.StatusBadRequest, requestError("give either protocol or source, not both")
	case req.Protocol != "":
		if !fs.ValidPath(req.Protocol) || strings.Contains(req.Protocol, "/") || path.Ext(req.Protocol) != ".yaml" {
			return nil, "", nil, http.StatusBadRequest, requestError("%q is not a protocol file name", req.Protocol)
		}
		data, err := protocols.ReadFS(s.cfg.Protocols, req.Protocol)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil, http.StatusNotFound, requestError("no protocol %s in %s", req.Protocol, s.cfg.ProtocolsDir)
		}
		if err != nil {
			return nil, "", nil, http.StatusBadRequest, requestError("%v", err)
		}
		file, src = path.Join(s.cfg.ProtocolsDir, req.Protocol), data
	case req.Source != "":
		if len(req.Source) > maxProtocol {
			return nil, "", nil, http.StatusRequestEntityTooLarge, requestError("protocol larger than 1 MiB")
		}
		name := path.Base(strings.ReplaceAll(req.Name, `\`, "/"))
		if name == "." || name == "/" || name == "" {
			name = "upload.yaml"
		}
		file, src = name, []byte(req.Source)
	default:
		return nil, "", nil, http.StatusBadRequest, requestError("no protocol: give protocol (a file name) or source")
	}
	for _, text := range []string{req.Reason, req.AllowOtherDevice} {
		if msg := checkReason("", text); msg != "" {
			return nil, "", nil, http.StatusBadRequest, requestError("%s", msg)
		}
	}
	if _, err := rig.ParseFrames(cmp.Or(req.Frames, "every:1")); err != nil {
		return nil, "", nil, http.StatusBadRequest, requestError("%v", err)
	}
	if req.AllowOverdue && strings.TrimSpace(req.Reason) == "" {
		return nil, "", nil, http.StatusBadRequest, requestError("allow_overdue needs a reason: running on an overdue calibration departs from the protocol")
	}
	info := s.cfg.Rig.Info()
	info.OtherDevice = strings.TrimSpace(req.AllowOtherDevice) != ""
	p, err := protocols.Parse(file, src, info)
	if err != nil {
		return nil, file, src, http.StatusUnprocessableEntity, protocolErrors(file, err)
	}
	return p, file, src, 0, nil
}

// validate answers POST /api/validate.
func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	if p, _, _, _, ok := s.loadRequest(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]any{"valid": true, "name": p.Name, "description": p.Description,
			"steps": p.StepCount(), "planned_s": rig.Planned(p).Seconds()})
	}
}

// loadRequest reads a protocol request and loads its protocol; when
// either is wrong it answers the request itself, with every error.
func (s *Server) loadRequest(w http.ResponseWriter, r *http.Request) (p *protocols.Protocol, req protocolRequest, file string, src []byte, ok bool) {
	if !readJSON(w, r, &req) {
		return nil, req, "", nil, false
	}
	p, file, src, status, errs := s.load(req)
	if status != 0 {
		writeJSON(w, status, map[string]any{"valid": false, "error": errs[0].Text, "errors": errs})
		return nil, req, "", nil, false
	}
	return p, req, file, src, true
}

// start answers POST /api/runs: it validates the protocol completely
// (422 before anything is queued), queues the run (FIFO, one rig) and
// answers 202 with the queue entry. When the rig is free the run starts
// at once, and the answer waits until it has (its run_id is set), failed
// to (422 for a deviation refused, 500 otherwise: the entry says why), or
// waits for a bench another process holds.
func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	p, req, file, src, ok := s.loadRequest(w, r)
	if !ok {
		return
	}
	who := s.actor(r, req.Reason)
	operator := who.By
	if !s.authOn { // the unnamed person at a loopback screen may say who they are
		operator = cmp.Or(req.Operator, s.cfg.Operator)
	}
	if req.Job != nil {
		req.Job.Clean() // the client's text, into a record
	}
	opts := rig.Options{RunsDir: s.cfg.RunsDir, Version: s.cfg.Version, Build: s.cfg.Build, AllowDevBuild: s.cfg.AllowDevBuild, Operator: operator, OperatorRole: who.Role, Via: who.Via,
		ProtocolFile: file, ProtocolSource: src, Influx: s.cfg.Influx, AllowOverdue: req.AllowOverdue, Reason: strings.TrimSpace(req.Reason),
		AllowOtherDevice: strings.TrimSpace(req.AllowOtherDevice), Job: req.Job, Realtime: s.cfg.Speed <= 1, Warn: s.cfg.Log}
	if s.cfg.Speed > 1 {
		opts.Speed = s.cfg.Speed
	}
	opts.FramesEvery, _ = rig.ParseFrames(cmp.Or(req.Frames, "every:1")) // checked by load
	if err := rig.CheckFrames(s.cfg.Rig, opts); err != nil {
		errs := requestError("%v", err)
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"valid": false, "error": errs[0].Text, "errors": errs})
		return
	}
	q := &queued{QueueEntry: QueueEntry{ID: newEntryID(), State: EntryQueued, Protocol: p.Name, By: operator, Role: who.Role, Via: who.Via,
		QueuedAt: time.Now().UTC().Truncate(time.Second)}, p: p, opts: opts, settled: make(chan struct{})}
	s.mu.Lock()
	if msg := s.enqueueLocked(q); msg != "" {
		s.mu.Unlock()
		w.Header().Set("Retry-After", "60")
		httpError(w, http.StatusServiceUnavailable, msg)
		return
	}
	immediate := q.State == EntryStarting
	s.mu.Unlock()
	if immediate {
		select {
		case <-q.settled:
		case <-r.Context().Done():
			return // the run goes on; the client went away
		}
	}
	s.mu.Lock()
	e := s.entryLocked(q)
	s.mu.Unlock()
	status := http.StatusAccepted
	if e.State == EntryFailed {
		status = http.StatusInternalServerError
		if *e.ExitCode == 3 {
			status = http.StatusUnprocessableEntity
		}
	}
	writeJSON(w, status, e)
}

// execute runs the protocol to its end and makes its reports, then frees
// the rig for the next entry of the queue.
func (s *Server) execute(ctx context.Context, run *activeRun, p *protocols.Protocol, opts rig.Options) {
	defer s.wg.Done()
	s.stopIdle() // the run takes the bench, and the stream's frames
	res, dir, err := rig.Run(ctx, s.cfg.Rig, p, opts)
	if res != nil {
		if rerr := reports.WriteAll(dir); rerr != nil {
			s.logf("serve: reports of %s: %v (`mockloop report %s` retries)", res.RunID, rerr, res.RunID)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	run.cancel(nil)
	s.run = nil
	if run.info == nil { // it never started
		run.err = err
		if run.err == nil {
			run.err = errors.New("the run ended before it started")
		}
		close(run.started)
		if !errors.Is(err, bench.ErrBusy) {
			s.logf("serve: %s did not start: %v", p.Name, run.err)
		}
		s.notStartedLocked(run.entry, run.err)
		return
	}
	end := &lastRun{RunID: run.info.RunID, QueueID: run.entry.ID, Protocol: p.Name, EndedAt: time.Now().UTC(),
		Reports: reportLinks(s.cfg.RunsDir, run.info.RunID)}
	if res != nil {
		end.Outcome, end.AbortReason = res.Outcome, res.AbortReason
		s.logf("serve: run %s of %s ended: %s %s", res.RunID, p.Name, res.Outcome, res.AbortReason)
	} else {
		end.Outcome, end.AbortReason = runlog.OutcomeAborted, err.Error()
		s.logf("serve: run %s of %s failed: %v", run.info.RunID, p.Name, err)
	}
	end.Stop = endStop(run, end.Outcome, end.AbortReason)
	s.last = end
	s.hub.Publish("end", end)
	s.setState(run, StateIdle, "")
	s.endedLocked(run.entry, run.info.RunID, res, err)
}

// control answers POST /api/run/{pause,resume,stop,estop,acknowledge} {"reason"}: a
// pause and a stop depart from the protocol and need a reason; each
// action goes into the run's audit trail with the person.
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	var req struct {
		Reason string `json:"reason"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if msg := checkReason(action, req.Reason); msg != "" {
		httpError(w, http.StatusBadRequest, msg)
		return
	}
	who := s.actor(r, req.Reason)
	if action == "acknowledge" { // the last run's alarm, whatever runs now
		s.acknowledge(w, r, req.Reason)
		return
	}
	s.mu.Lock()
	run := s.run
	if run == nil {
		s.mu.Unlock()
		s.controlOther(w, action, who)
		return
	}
	defer s.mu.Unlock()
	switch action {
	case "pause":
		if run.state == StateRunning {
			run.pause.SetBy(true, who)
			s.setState(run, StatePausing, "pause requested: the step under way goes on")
		}
	case "resume":
		if run.state == StatePausing || run.state == StatePaused {
			run.pause.SetBy(false, who)
			s.setState(run, StateRunning, "")
		}
	case "stop":
		who.Action = runlog.ActionStop
		run.cancel(rig.OperatorAbort("operator: stopped from the bench view by "+who.By+": "+req.Reason, who))
		s.setState(run, StateStopping, "stop requested")
	case "estop":
		who.Action = runlog.ActionEStop
		run.cancel(rig.OperatorAbort("emergency stop from the bench view by "+who.By, who))
		s.setState(run, StateStopping, "emergency stop")
	default:
		httpError(w, http.StatusNotFound, fmt.Sprintf("no action %q: pause, resume, stop or estop", action))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"state": run.state})
}

// answer answers POST /api/run/answer {"id","answer"}: the answer to the
// prompt of the run in progress waiting for it, with the person, into
// the run's audit trail (rig.PromptAnswer). 404: no such prompt waits;
// 422: the prompt does not take that answer.
func (s *Server) answer(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     string `json:"id"`
		Answer string `json:"answer"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	who := s.actor(r, "")
	s.mu.Lock()
	run := s.run
	s.mu.Unlock()
	var err error
	if run != nil {
		err = run.prompts.Answer(req.ID, req.Answer, who)
	} else { // a run of another process on the bench (a terminal's)
		_, err = s.askBench(bench.Request{Action: bench.ActionAnswer, Prompt: req.ID, Answer: req.Answer, By: who.By, Role: who.Role, Via: who.Via})
		err = promptError(err)
	}
	switch {
	case errors.Is(err, rig.ErrNoPrompt):
		httpError(w, http.StatusNotFound, fmt.Sprintf("no prompt %q waits for an answer", req.ID))
	case err != nil:
		httpError(w, http.StatusUnprocessableEntity, strings.TrimPrefix(err.Error(), "rig: "))
	default:
		writeJSON(w, http.StatusOK, map[string]any{"id": req.ID, "answer": req.Answer})
	}
}

// promptError is the error of an answer passed through the bench's
// control socket as the run's own Prompts.Answer gives it: the socket
// carries the text only.
func promptError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bench.ErrNoHolder), strings.HasPrefix(err.Error(), rig.ErrNoPrompt.Error()):
		return rig.ErrNoPrompt
	case strings.HasPrefix(err.Error(), rig.ErrAnswer.Error()):
		return fmt.Errorf("%w%s", rig.ErrAnswer, strings.TrimPrefix(err.Error(), rig.ErrAnswer.Error()))
	}
	return err
}

// controlOther passes a control action to the process that holds the
// bench when the view runs nothing itself: a run started in a terminal is
// stopped, or e-stopped, from the page as well.
func (s *Server) controlOther(w http.ResponseWriter, action string, who runlog.OperatorData) {
	switch action {
	case bench.ActionPause, bench.ActionResume, bench.ActionStop, bench.ActionEStop:
	default:
		httpError(w, http.StatusNotFound, fmt.Sprintf("no action %q: pause, resume, stop or estop", action))
		return
	}
	o, err := s.askBench(bench.Request{Action: action, By: who.By, Role: who.Role, Via: who.Via, Reason: who.Reason})
	switch {
	case errors.Is(err, bench.ErrNoHolder):
		httpError(w, http.StatusConflict, fmt.Sprintf("no run is in progress on rig %s", s.cfg.Rig.Name))
	case err != nil:
		httpError(w, http.StatusConflict, fmt.Sprintf("the process holding bench %s: %v", s.cfg.Rig.Name, err))
	default:
		s.logf("serve: %s of run %s (pid %d) from the bench view by %s", action, o.RunID, o.PID, who.By)
		writeJSON(w, http.StatusOK, map[string]any{"state": o.State, "other": o})
	}
}

// historyEntry is a run of the history.
type historyEntry struct {
	runlog.Summary
	Reports map[string]string `json:"reports"`
}

// history answers GET /api/runs, newest first.
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	sums, err := runlog.List(s.cfg.RunsDir)
	out := make([]historyEntry, 0, len(sums))
	for _, sum := range slices.Backward(sums) {
		sum.Dir = "" // the server's file system is not the client's business
		out = append(out, historyEntry{Summary: sum, Reports: reportLinks(s.cfg.RunsDir, sum.RunID)})
	}
	if err != nil && len(out) == 0 {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// reportFiles are the files of a run the server hands out, by format.
var reportFiles = map[string]string{"html": "report.html", "pdf": "report.pdf", "junit": "junit.xml", "criteria": "criteria.csv"}

// reportLinks are the links to the reports a run has.
func reportLinks(runsDir, id string) map[string]string {
	links := map[string]string{}
	for format, file := range reportFiles {
		if fileExists(runsDir, id, file) {
			links[format] = "/runs/" + id + "/" + file
		}
	}
	return links
}

// report answers GET /runs/{id}/{file}: a report, or the record's
// result.json and manifest.json.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	id, file := r.PathValue("id"), r.PathValue("file")
	known := file == "result.json" || file == "manifest.json" // the record's, for remote clients
	for _, f := range reportFiles {
		known = known || f == file
	}
	if !runlog.ValidRunID(id) || !known || !fileExists(s.cfg.RunsDir, id, file) {
		httpError(w, http.StatusNotFound, fmt.Sprintf("no %s for run %s", file, id))
		return
	}
	http.ServeFile(w, r, runFile(s.cfg.RunsDir, id, file))
}

// live answers GET /api/live with the stream of server-sent events.
func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	if s.hub.Subscribers() >= maxWatchers {
		httpError(w, http.StatusServiceUnavailable, fmt.Sprintf("already %d live views open; close one", maxWatchers))
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	s.mu.Lock()
	sub := s.hub.Subscribe(live.NewMessage("hello", s.statusLocked()))
	s.mu.Unlock()
	defer s.hub.Unsubscribe(sub)
	w.WriteHeader(http.StatusOK)
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			err = writeEvent(w, rc, nil)
		case m, ok := <-sub.C:
			if !ok {
				return
			}
			if n := sub.Dropped(); n > 0 {
				err = writeEvent(w, rc, live.NewMessage("dropped", map[string]int64{"n": n}))
			}
			if err == nil {
				err = writeEvent(w, rc, m)
			}
		}
		if err != nil {
			return
		}
	}
}

// maxWatchers bounds the live streams open at once: each holds a buffer,
// and a bench has a handful of screens, not hundreds.
const maxWatchers = 64

// sseWriteTimeout ends the stream of a client that does not read.
const sseWriteTimeout = 10 * time.Second

// writeEvent writes one server-sent event (nil: a comment, to keep the
// connection alive) and flushes it.
func writeEvent(w io.Writer, rc *http.ResponseController, m *live.Message) error {
	_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	var err error
	if m == nil {
		_, err = io.WriteString(w, ": keep-alive\n\n")
	} else {
		_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", m.Event, m.Data)
	}
	if err != nil {
		return err
	}
	return rc.Flush()
}
