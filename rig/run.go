package rig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/influx"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
	"github.com/mockloop/mockloop/verdict"
)

// stallSpan is how long acquisition may fail without a single good frame
// before the run trips: long enough to ride out a CRC error or a missed
// data-ready, short enough that the loop is never unwatched for long.
const stallSpan = 50 * time.Millisecond

// Options are the settings of one run.
type Options struct {
	RunsDir string
	// Realtime runs on the wall clock; otherwise a simulated rig runs on
	// virtual time, as fast as the CPU allows.
	Realtime bool
	Version  string
	// Operator is who starts the run (the manifest's operator, By of the
	// audit trail's start); OperatorRole and Via say in what capacity and
	// how (a bench-view user's role; "cli", "bench-view", "api").
	Operator     string
	OperatorRole string
	Via          string
	// Reason justifies the deviations the run is started with: calibrations
	// past their due date (AllowOverdue), a resume after an interruption
	// (Resume). Both need one.
	Reason string
	// ProtocolFile and ProtocolSource are the protocol as read, recorded
	// byte for byte in the run.
	ProtocolFile   string
	ProtocolSource []byte
	// Log receives progress: one line per top-level step and per minute of
	// run time, or, with Live, a status line redrawn in place (a
	// terminal); nil for none.
	Log  io.Writer
	Live bool
	// Epoch is the wall time of t = 0 of a virtual clock (zero: now).
	Epoch time.Time
	// AllowOverdue runs despite calibrations past their due date; the run
	// records that it did, as a deviation with Reason.
	AllowOverdue bool
	// Build is the build of the software running the rig, checked against
	// the rig (devBuildDeviation) and recorded; nil: not checked, and the
	// manifest records the running build named by Version. AllowDevBuild
	// is the operator's reason to drive a hardware rig with a development
	// build.
	Build         *runlog.Build
	AllowDevBuild string
	// AllowOtherDevice is the operator's reason to run a protocol written
	// for another DUT (protocols.Protocol.OtherDevice), a deviation.
	AllowOtherDevice string
	// Resume, when set, is the directory of an interrupted run of the same
	// protocol on the same rig config: the run continues there, after its
	// last completed top-level step, in the same record.
	Resume string
	// Influx, when set, logs the run to InfluxDB as well (the run record on
	// disk stays the truth; what the server cannot take is spooled).
	Influx *influx.Config
	// Speed, when above zero, paces a simulated run on virtual time at
	// Speed × real time, for people watching it; zero runs as fast as the
	// CPU allows. Realtime and hardware runs ignore it.
	Speed float64
	// Observer, when set, watches the run as it goes.
	Observer Observer
	// Pause, when set, holds the run between top-level steps while set.
	Pause *Pause
	// Prompts, when set, answers the protocol's prompts from outside the
	// run (terminal, bench view); Answers are --answer's, by prompt id,
	// each checked (Prompt.Answer) and as it returned them.
	Prompts *Prompts
	Answers map[string]string
	// Warn receives what the operator must know but that is not progress
	// (real-time priority refused, a rig that forces the wall clock);
	// nil: none.
	Warn io.Writer
	// Job is the CI job that asked for the run (runlog.JobFromEnv for
	// `mockloop run`, a remote client's request for serve), recorded in
	// the manifest and the result; nil: none.
	Job *runlog.Job
	// FramesEvery, above 1, keeps one frame in FramesEvery in the record
	// and InfluxDB (a dry run's --frames every:N, ParseFrames; frames.go);
	// refused unless the run is on virtual time. 0 or 1: every frame.
	FramesEvery int
}

// influxCloseWithin bounds how long the end of a run waits for InfluxDB;
// what is not delivered by then stays spooled for `mockloop sync`.
const influxCloseWithin = 30 * time.Second

// Run executes a validated protocol on the rig and returns its result and
// run directory. Whatever happens — pass, fail, abort, a panic in a step,
// cancellation of ctx — the plant ends in its safe state and the run record
// is closed before Run returns. An error is returned only when the run could
// not be recorded (no result then) or not be closed.
func Run(ctx context.Context, cfg *Config, proto *protocols.Protocol, opts Options) (res *runlog.Result, dir string, err error) {
	// One controller per bench, before anything is read or moved; its
	// control socket can pause, stop and e-stop the run from anywhere on
	// the machine.
	devBuild, err := checkRun(cfg, proto, opts)
	if err != nil {
		return nil, "", err
	}
	ctx, release, err := holdBench(ctx, cfg, &opts)
	if err != nil {
		return nil, "", err
	}
	defer release()
	protoSum := sha256.Sum256(opts.ProtocolSource)
	var resume *resumeState
	if opts.Resume != "" {
		if resume, err = planResume(opts.Resume, cfg, opts.ProtocolSource, hex.EncodeToString(protoSum[:])); err != nil {
			return nil, "", err
		}
	}
	clk := runClock(cfg, opts, resume)
	kind := runlog.ClockVirtual
	if clock.IsWall(clk) {
		kind = runlog.ClockReal
	}
	cals, calRecs, err := runCalibrations(cfg, clk.Epoch(), opts)
	if err != nil {
		return nil, "", err
	}
	plant, err := plantFor(cfg, clk, cals)
	if err != nil {
		return nil, "", err
	}
	defer plant.Close()
	// The safe state comes first on every path. The run's own path reaches
	// it below and records how that went; this covers the paths that end
	// before it (the run record could not be created).
	safeDone := false
	defer func() {
		if safeDone {
			return
		}
		if serr := plant.Safe(); serr != nil && err == nil {
			err = fmt.Errorf("rig: safe state: %w", serr)
		}
	}()

	var realTime *runlog.RealTime
	if kind == runlog.ClockReal {
		var release func()
		realTime, release = lockRealtime(cfg, opts.Warn)
		defer release()
	}
	// Armed for the run: from here a controller that stops feeding it
	// (hung, killed) resets the computer, and the wiring keeps the bench
	// safe.
	dog, err := armWatchdog(cfg.Hardware.Watchdog)
	if err != nil {
		return nil, "", err
	}
	defer func() { dog.abandon() }() // the paths that end before the safe state below
	m := newManifest(cfg, proto, opts, clk, plant, calRecs, realTime)
	rec, sink, err := openRecord(cfg, &m, opts, resume)
	if rec != nil {
		dir = rec.Dir()
	}
	if err != nil {
		return nil, dir, err
	}
	e := newEngine(ctx, cfg, proto, clk, plant, outlets{rec: rec, sink: sink, obs: opts.Observer}, opts)
	e.dog = dog
	if resume != nil {
		e.resume, e.started = resume, 0 // the run's clock goes on from its origin
	}
	e.begin(m, dir, kind, calRecs, opts)
	if devBuild != nil {
		e.event(runlog.NewEvent(runlog.KindOperator, "", "development build allowed with --allow-dev-build", *devBuild))
	}

	stopSync := syncBeside(rec)
	runErr := e.run()
	stopSync()
	e.closeGaps()

	// Safe state first, then close the record with what happened.
	safeErr := plant.Safe()
	safeDone = true
	if safeErr == nil {
		// Disarmed once the bench is safe, before the record's close may
		// wait on InfluxDB for longer than the watchdog's timeout.
		dog.disarm(opts.Warn)
		dog = nil
	}
	r := e.result(m.RunID, runErr, safeErr)
	r.Rig, r.Host, r.Job = m.Rig, m.Host, m.Job // as Close writes them
	return &r, dir, closeRecord(rec, sink, &r)
}

// checkRun refuses what Run must refuse before anything is held or moved:
// a development build on hardware without its reason, a protocol for
// another device, thinned frames on the wall clock. It returns the
// development build's deviation when one is allowed.
func checkRun(cfg *Config, proto *protocols.Protocol, opts Options) (*runlog.OperatorData, error) {
	devBuild, err := devBuildDeviation(cfg, opts)
	if err == nil {
		err = checkDevice(proto, opts)
	}
	if err == nil {
		err = CheckFrames(cfg, opts)
	}
	return devBuild, err
}

// runCalibrations are the calibrations a run at epoch uses and records,
// refused when one is overdue and opts neither allow it nor say why.
func runCalibrations(cfg *Config, epoch time.Time, opts Options) (map[string]daq.Calibration, []runlog.Calibration, error) {
	calFile, err := cfg.LoadCalibrations()
	if err != nil {
		return nil, nil, err
	}
	cals, calRecs, err := cfg.channelCalibrations(calFile, epoch, opts.AllowOverdue)
	if err == nil {
		err = needReason(opts, calRecs)
	}
	return cals, calRecs, err
}

// newManifest is the manifest of a new run of proto on the plant.
func newManifest(cfg *Config, proto *protocols.Protocol, opts Options, clk clock.Clock, plant Plant, calRecs []runlog.Calibration, realTime *runlog.RealTime) runlog.Manifest {
	protoSum := sha256.Sum256(opts.ProtocolSource)
	kind := runlog.ClockVirtual
	if clock.IsWall(clk) {
		kind = runlog.ClockReal
	}
	var coding []runlog.ColumnCoding // nil: float32
	if c, ok := plant.(interface{ Coding() []runlog.ColumnCoding }); ok {
		coding = c.Coding()
	}
	return runlog.Manifest{
		Coding:          coding,
		RunID:           runlog.NewRunID(clk.Epoch()),
		Rig:             cfg.Name,
		Host:            hostname(),
		Job:             opts.Job,
		RigConfigSHA256: cfg.SHA256,
		Protocol:        runlog.ProtocolRef{Name: proto.Name, File: opts.ProtocolFile, SHA256: hex.EncodeToString(protoSum[:]), Description: proto.Description, Requirements: requirements(proto)},
		SoftwareVersion: opts.Version,
		Build:           buildOf(opts),
		Calibration:     calRecs,
		DUT:             plant.DUT(),
		DUTProfile:      dutProfileRef(cfg),
		DUTLink:         plant.DUTLink(),
		RigMode:         cfg.Mode,
		Operator:        opts.Operator,
		Started:         clk.Epoch().UTC(),
		State:           runlog.StateRunning,
		Layout:          runlog.Channels(plant.Layout(), units.Dimension.Unit),
		SampleRateHz:    cfg.SampleRate,
		Clock:           kind,
		RealTime:        realTime,
		Epoch:           clk.Epoch().UTC(),
		FramesKeptEvery: max(1, opts.FramesEvery),
	}
}

// hostname is the machine's name for the manifest, "" (null) when the
// system does not give it.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

// closeRecord closes the run's InfluxDB sink, within influxCloseWithin,
// with what it delivered in r, then the record with r.
func closeRecord(rec *runlog.Record, sink *influx.Sink, r *runlog.Result) error {
	if sink != nil {
		_ = rec.Sync() // the sink re-reads what its queue could not hold from the record
		ctx, cancel := context.WithTimeout(context.Background(), influxCloseWithin)
		d, err := sink.Close(ctx, r)
		cancel()
		if err != nil && d.Error == "" {
			d.Error = err.Error()
		}
		r.Influx = &d
	}
	if err := rec.Close(*r); err != nil {
		return fmt.Errorf("rig: closing run record: %w", err)
	}
	return nil
}

// lockRealtime makes the calling goroutine the sampling loop on the wall
// clock: its thread gets real-time priority and the process's memory is
// locked, as far as the system allows (what it refused is said on warn and
// recorded). release undoes it.
func lockRealtime(cfg *Config, warn io.Writer) (*runlog.RealTime, func()) {
	rt, release := clock.LockRealtime(cfg.Realtime.Priority, cfg.Realtime.LockMemory)
	if len(rt.Refused) > 0 && warn != nil {
		fmt.Fprintf(warn, "mockloop: real time: %s; the run goes on (see README, \"Qualifying a bench computer\")\n", rt)
	}
	// The loop allocates nothing, so the collector never drafts it into
	// marking; a collection now starts it on a clean heap, far from the
	// next one.
	runtime.GC()
	return &runlog.RealTime{Policy: rt.Policy, Priority: rt.Priority, MemoryLocked: rt.MemoryLocked, Refused: rt.Refused}, release
}

// newEngine builds the engine of one run on its plant and outlets, its
// time cursor at the clock's now.
func newEngine(ctx context.Context, cfg *Config, proto *protocols.Protocol, clk clock.Clock, plant Plant, out outlets, opts Options) *engine {
	layout := plant.Layout()
	period := time.Duration(math.Round(float64(time.Second) / cfg.SampleRate))
	e := &engine{ctx: ctx, cfg: cfg, proto: proto, clk: clk, plant: plant, out: out,
		layout: layout, rate: cfg.SampleRate, period: period,
		block:   daq.NewBlock(len(layout), max(1, int(blockSpan/period))),
		scratch: make([]float64, len(layout)), params: map[string]protocols.Value{},
		limits:      limitsFor(cfg, proto, layout),
		stallFrames: max(3, int(stallSpan.Seconds()*cfg.SampleRate)),
		beats:       beatSpecs(cfg, proto, layout, cfg.SampleRate), ctl: newControllers(cfg),
		pause: opts.Pause, prompts: opts.Prompts, answers: opts.Answers, operator: opts.Operator, adcPaced: clock.IsWall(clk)}
	if cfg.DUT != nil && cfg.DUT.TripOn != 0 {
		if col := layout.Index(cfg.dutAlarmColumn()); col >= 0 {
			e.dutTrip = alarmTrip{col: col, mask: cfg.DUT.TripOn}
		}
	}
	for _, c := range proto.Always {
		col := layout.Index(c.Channel)
		e.always = append(e.always, &invariant{Invariant: verdict.Invariant{C: c, Dim: layout[col].Dim}, col: col})
	}
	if opts.FramesEvery > 1 {
		e.out.dec = newDecimator(opts.FramesEvery, len(layout), e.block.Cap())
	}
	e.prog = newProgress(opts.Log, opts.Live, proto, e)
	e.stages = e.frameStages()
	e.next = clk.Now()
	e.started = e.next
	return e
}

// begin tells the observer that the run has its record and starts the
// record's story: run.start, and the calibrations the run was allowed to
// use past their due date.
func (e *engine) begin(m runlog.Manifest, dir string, kind runlog.ClockKind, cals []runlog.Calibration, opts Options) {
	if e.out.obs != nil {
		e.out.obs.RunStarted(RunInfo{Manifest: m, Dir: dir, Planned: Planned(e.proto), Steps: e.proto.StepCount()})
	}
	e.event(runlog.NewEvent(runlog.KindRunStart, "", e.proto.Name, runlog.RunStartData{Clock: kind, Rig: e.cfg.Name}))
	for _, ev := range startActions(opts, cals, e.resume != nil, e.proto.OtherDevice) {
		e.event(ev)
	}
}

// result ends the run's story once the plant is safe: the outcome from the
// run's error, the safe state's and the record's, the last frames and the
// invariants' results, and the run.end event. The record is closed by the
// caller.
func (e *engine) result(id string, runErr, safeErr error) runlog.Result {
	e.lateT = e.plantEvents()
	r := runlog.Result{RunID: id, Outcome: runlog.OutcomePass}
	var a *AbortError
	switch {
	case errors.As(runErr, &a):
		r.Outcome, r.AbortReason = runlog.OutcomeAborted, a.Reason
		reqs, _ := e.pause.take()
		e.pauseRequests(reqs, 0)
		if a.By != nil {
			e.event(runlog.NewEvent(runlog.KindOperator, "", a.Reason, *a.By))
		}
	case runErr != nil:
		r.Outcome, r.AbortReason = runlog.OutcomeAborted, "fault: "+runErr.Error()
	}
	if safeErr != nil {
		r.Outcome = runlog.OutcomeAborted
		r.AbortReason = joinReason(r.AbortReason, "safe state failed: "+safeErr.Error())
	}
	// An operator's stop is a stop, not a trip: the record (and every view
	// of it) tells the operator's choice from the supervisor's. An e-stop
	// is the trip path, and a stop whose safe state failed a trip too.
	operatorStop := a != nil && a.By != nil && a.By.Action == runlog.ActionStop && safeErr == nil
	if r.Outcome == runlog.OutcomeAborted {
		if !operatorStop {
			e.event(runlog.Event{Kind: runlog.KindSafetyTrip, Msg: r.AbortReason})
		}
		e.progress("ABORTED: %s", r.AbortReason)
	}
	flushErr := e.flush()
	if err := e.out.drain(); flushErr == nil {
		flushErr = err
	}
	e.invariantResults()
	if r.Outcome == runlog.OutcomePass && e.failed {
		r.Outcome = runlog.OutcomeFail
	}
	if flushErr != nil && r.Outcome != runlog.OutcomeAborted {
		r.Outcome, r.AbortReason = runlog.OutcomeAborted, "fault: "+flushErr.Error()
	}
	// The record counts every frame of the run, those before a resume too.
	r.Frames, r.DurationS = e.out.rec.Frames(), (e.next - e.started).Seconds()
	r.Steps, r.Criteria = e.steps, e.criteria
	if r.Steps == nil {
		r.Steps = []runlog.StepResult{}
	}
	if r.Criteria == nil {
		r.Criteria = []runlog.CriterionResult{}
	}
	e.plant.SummariseDUT("", e.next, true)
	e.plantEvents()
	e.event(runlog.NewEvent(runlog.KindRunEnd, "", string(r.Outcome), runlog.RunEndData{Frames: r.Frames}))
	return r
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func requirements(p *protocols.Protocol) []runlog.Requirement {
	var out []runlog.Requirement
	for _, r := range p.Requirements {
		out = append(out, runlog.Requirement{ID: r.ID, Text: r.Text})
	}
	return out
}

// syncBeside syncs rec every half SyncInterval of wall time, on a goroutine
// of its own, until the returned function is called: the loop's appends
// then never find a sync due. An fsync takes tens of milliseconds on the
// Pi's SD card; inside the 1 kHz loop it would lose conversions and hold
// the actuators once a second. A failure is kept by the record, and its
// next append reports it to the loop.
func syncBeside(rec *runlog.Record) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(runlog.SyncInterval / 2)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = rec.Sync()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// runClock chooses the run's clock, once: the wall clock for --realtime and
// for a rig that cannot run on virtual time (Config.WallClockOnly, said on
// Warn for a simulated rig), else virtual time (paced at opts.Speed, if
// set); a resumed run continues on its record's epoch and time.
func runClock(cfg *Config, opts Options, resume *resumeState) clock.Clock {
	why := cfg.WallClockOnly()
	if why != "" && !opts.Realtime && cfg.Backend == "sim" && opts.Warn != nil {
		fmt.Fprintf(opts.Warn, "mockloop: %s: the run is on the wall clock\n", why)
	}
	switch wall := opts.Realtime || why != ""; {
	case wall && resume != nil:
		return clock.NewRealAt(resume.run.Manifest.Epoch)
	case wall:
		return clock.NewReal()
	case resume != nil:
		v := clock.NewVirtual(resume.run.Manifest.Epoch)
		v.Advance(resume.lastT)
		return v
	}
	epoch := opts.Epoch
	if epoch.IsZero() {
		epoch = time.Now()
	}
	if opts.Speed > 0 {
		return clock.NewPaced(epoch, opts.Speed)
	}
	return clock.NewVirtual(epoch)
}

// openRecord creates the run's record from m (or reopens the interrupted
// one, whose manifest then becomes m) and its InfluxDB sink, if asked for.
// A sink that cannot start closes the record as aborted; the record is
// returned with the error then, for its directory.
func openRecord(cfg *Config, m *runlog.Manifest, opts Options, resume *resumeState) (*runlog.Record, *influx.Sink, error) {
	var rec *runlog.Record
	var err error
	if resume != nil {
		if rec, _, err = runlog.Reopen(resume.dir, clock.NewReal()); err == nil {
			*m = rec.Manifest()
		}
	} else {
		rec, err = runlog.Create(opts.RunsDir, *m, opts.ProtocolSource, cfg.Source, clock.NewReal())
	}
	if err != nil {
		return nil, nil, err
	}
	if opts.Influx == nil {
		return rec, nil, nil
	}
	recorded := rec.Manifest() // with the hashes Create filled in
	sink, err := influx.NewSink(influx.SinkConfig{Config: *opts.Influx, RunDir: rec.Dir(), RunID: m.RunID, Rig: cfg.Name,
		Layout: m.Layout, Coding: m.Coding, Epoch: m.Epoch, Manifest: &recorded, Written: rec.Flush})
	if err != nil {
		rec.Close(runlog.Result{RunID: m.RunID, Outcome: runlog.OutcomeAborted, AbortReason: "fault: " + err.Error()})
		return rec, nil, err
	}
	return rec, sink, nil
}
