package rig

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/dut/dutsim"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/sim"
	"github.com/mockloop/mockloop/units"
)

// speedEvery bounds how often a ramp of dut.speed is sent to the DUT: the
// DUT ramps at most 10,000 rpm/s itself, so 20 commands a second follow any
// ramp it can, without flooding a 115200-baud line.
const speedEvery = 50 * time.Millisecond

// dutLink is the device under test as the plant drives it: setpoints become
// VADLINK commands, STATUS polls become the dut.* channels, every frame
// sent and received becomes an event of the run, and a lost link ends the
// run (or, if the rig says so, is reconnected).
type dutLink struct {
	cfg *DUTConfig
	dev *dut.VADLINK
	srv *dutsim.Server // the simulated DUT; nil on hardware
	// linkDir holds the simulated DUT's symlink.
	linkDir string
	clk     clock.Clock
	id      dut.Identity

	cols     []dutColumn
	values   []float64 // of the last STATUS, by index of dutSignals
	nextPoll time.Duration

	mode      dut.Mode
	level     int
	wantRPM   int
	sentRPM   int
	lastSpeed time.Duration
	pending   bool

	mu     sync.Mutex
	events []runlog.Event
	queued atomic.Bool // events waiting, read without the lock every frame
	// log decides which frames become events, and counts them; guarded
	// by mu. link is how the DUT is reached (runlog.DUTLink*).
	log  *dutLog
	link string

	// The DUT's alarms. seen is the OR of the bits ALARM and TLM frames
	// showed since the last frame was read: read ORs it into the alarms
	// column, so that bits which rise and fall between two STATUS polls
	// are in the record. active (the bits known to be up) and recent (those
	// ALARM and TLM frames showed since the last STATUS) tell a rising bit,
	// a warning event, from one already reported; both are guarded by mu.
	seen           atomic.Uint32
	active, recent dut.Alarms

	// power is the DUT's power switch (nil: the rig has none); off: the
	// rig switched it off, the DUT is dead.
	power pumpctl.Switch
	off   bool

	nextMaintain time.Duration

	// poller runs the link on the wall clock (nil on virtual time); shown
	// is then the engine's copy of its last STATUS. ctx is the context of
	// the link's exchanges, the poller's while one runs: stopping it
	// cancels the exchange it is in.
	poller *dutPoller
	shown  []float64
	ctx    context.Context
}

// maintainEvery is how often the keep-alive is checked: the DUT's own limit is
// 500 ms without a frame; checking every frame would cost a lock per frame.
const maintainEvery = 50 * time.Millisecond

// dutColumn is a frame column fed from the DUT's STATUS: its signal, by
// index of dutSignals.
type dutColumn struct {
	col, signal int
}

// alarmSignal is the index of the DUT's alarms in dutSignals.
var alarmSignal = slices.Index(dutSignals, "alarms")

// safeTolerance is how close to its safe speed the DUT's measured speed
// must come to confirm its safe state: the speed-deviation threshold of
// VADLINK devices (dutsim's 1,000 rpm); a rotor that slow moves no blood.
const safeTolerance = 1000 // rpm

// simDUTOverPTY makes a run on virtual time reach the simulated DUT over a
// pty, as on the wall clock, rather than in process: for the tests that
// hold the two paths to the same behaviour.
var simDUTOverPTY = false

// openDUT dials the DUT named in the config and identifies it. The
// simulated one (port "sim") is started in process on virtual time, where
// an exchange is then a function call, deterministic and without a thread
// hand-off (some 33 µs a STATUS over the pty, ten times a second of a run
// that goes 500 times faster than real time); on the wall clock it is
// started on a pseudo-terminal, so that the link goes through the serial
// library and the tty layer as with a real adapter, at the line's pace.
func openDUT(cfg *Config, clk clock.Clock, pump dutsim.Pump) (*dutLink, error) {
	d := &dutLink{cfg: cfg.DUT, clk: clk, mode: dut.ModeStop, values: make([]float64, len(dutSignals)), ctx: context.Background(),
		link: runlog.DUTLinkSerial}
	for j, ch := range cfg.Channels {
		if in := cfg.Inputs[ch.Name]; in.Kind == "dut" {
			d.cols = append(d.cols, dutColumn{col: j, signal: slices.Index(dutSignals, in.Signal)})
		}
	}
	d.setStatus(dut.Status{})
	path := cfg.DUT.Port
	ctx := context.Background()
	wall := clock.IsWall(clk)
	if path == "sim" {
		scfg := firmwareConfig(cfg.DUT.Profile)
		scfg.Clock, scfg.Pump, scfg.Faults = clk, pump, cfg.DUT.Faults
		d.link, scfg.InProcess = runlog.DUTLinkInProcess, !wall && !simDUTOverPTY
		if !scfg.InProcess {
			// The simulated DUT is opened through a symlink of its own,
			// as a real one through /dev/serial/by-id: replugged, it
			// comes back on whatever pty is free then, and the link
			// follows it.
			dir, err := os.MkdirTemp("", "mockloop-dut-")
			if err != nil {
				return nil, fmt.Errorf("rig: simulated DUT: %w", err)
			}
			d.linkDir, d.link, scfg.Symlink = dir, runlog.DUTLinkPTY, filepath.Join(dir, "dut")
		}
		srv, err := dutsim.Serve(ctx, scfg)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("rig: simulated DUT: %w", err)
		}
		d.srv, path = srv, srv.Name()
	}
	d.log = newDUTLog(wall, d.link, clk.Now())
	dcfg := dut.Config{Path: path, Clock: clk, OnFrame: d.onFrame,
		OnAlarm:     func(a dut.AlarmEvent) { d.noteAlarms(a.Bits, a.At, "ALARM") },
		OnTelemetry: func(t dut.Telemetry) { d.noteAlarms(t.Alarms, t.At, "TLM") }}
	switch d.link {
	case runlog.DUTLinkInProcess:
		// VADLINK's own reply timeout: it is the line's time there,
		// which no load of the machine stretches.
		dcfg.Open = d.srv.Open
	case runlog.DUTLinkPTY:
		dcfg.ReplyTimeout = simReplyTimeout
	}
	dev, err := dut.Dial(ctx, dcfg)
	if err != nil {
		d.close()
		return nil, fmt.Errorf("rig: DUT on %s: %w", path, err)
	}
	d.dev, d.id = dev, dev.Identity()
	if hz := cfg.DUT.Telemetry; hz > 0 {
		if err := dev.SetTelemetry(ctx, hz); err != nil {
			d.close()
			return nil, fmt.Errorf("rig: DUT telemetry at %d Hz: %w", hz, err)
		}
	}
	if clock.IsWall(clk) {
		d.poller = startPoller(d)
	}
	return d, nil
}

// simReplyTimeout is the reply timeout of the simulated DUT (a DUT on a
// real port has VADLINK's 100 ms): it answers from goroutines of this
// process, and a reply late on the wall clock says only that the machine
// is busy — the suite under `make test-stress` lost the link to it after
// 3 × 100 ms, on virtual time and on the wall clock.
const simReplyTimeout = time.Second

// onFrame records a frame on the link as an event, if the log keeps it
// (called from the driver's goroutines).
func (d *dutLink) onFrame(f dut.FrameEvent) {
	d.mu.Lock()
	d.events = d.log.frame(f, d.events)
	// An exchange that waits for its reply is ended by takeEvents, if
	// the reply never comes.
	d.queued.Store(len(d.events) > 0 || len(d.log.pending) > 0)
	d.mu.Unlock()
}

// frameEvent is the dut.tx or dut.rx event of a frame on the link.
func frameEvent(f dut.FrameEvent) runlog.Event {
	kind := runlog.KindDUTTx
	if f.Dir == dut.Received {
		kind = runlog.KindDUTRx
	}
	data := runlog.DUTFrameData{Retry: f.Attempt}
	if f.Err != nil {
		data.Error = f.Err.Error()
	}
	ev := runlog.NewEvent(kind, "", f.Line, data)
	ev.T = f.At.Seconds()
	return ev
}

// queue adds an event of the DUT at its own time, after the frames of an
// exchange in progress.
func (d *dutLink) queue(ev runlog.Event, at time.Duration) {
	ev.T = at.Seconds()
	d.mu.Lock()
	d.events = d.log.addEvent(d.events, ev)
	d.queued.Store(true)
	d.mu.Unlock()
}

// summarise queues the dut.summary event of the link's exchanges since
// the last one, for step, at at; run: of the whole run, at its end (the
// safe state's exchanges included).
func (d *dutLink) summarise(step string, at time.Duration, run bool) {
	if run {
		at = max(at, d.clk.Now())
	}
	st := d.dev.Stats()
	d.mu.Lock()
	d.events = d.log.abandon(d.events)
	ev := d.log.summary(run, at, st)
	ev.Step, ev.T = step, at.Seconds()
	d.events = append(d.events, ev)
	d.queued.Store(true)
	d.mu.Unlock()
}

// noteAlarms takes the alarm bits an ALARM or TLM frame showed (from the
// driver's reader): they reach the next frame's alarms column, and those
// not up already are a warning event.
func (d *dutLink) noteAlarms(bits dut.Alarms, at time.Duration, source string) {
	if bits == 0 {
		return
	}
	d.seen.Or(uint32(bits))
	d.mu.Lock()
	rose := bits &^ d.active
	d.active |= bits
	d.recent |= bits
	d.mu.Unlock()
	d.warn(rose, at, source)
}

// noteStatus takes the alarms of a STATUS reply: the bits up now are
// those it shows and those ALARM and TLM frames showed since the last one.
func (d *dutLink) noteStatus(bits dut.Alarms, at time.Duration) {
	d.mu.Lock()
	rose := bits &^ d.active
	d.active, d.recent = bits|d.recent, 0
	d.mu.Unlock()
	d.warn(rose, at, "STATUS")
}

// warn records alarm bits that rose as a warning event; the supervisor
// trips on those of dut.trip_on.
func (d *dutLink) warn(rose dut.Alarms, at time.Duration, source string) {
	if rose == 0 {
		return
	}
	msg := fmt.Sprintf("DUT alarm 0x%s rose: %s", rose.Hex(), rose)
	if t := rose & d.cfg.TripOn; t != 0 {
		msg += fmt.Sprintf("; %s trips the run (dut.trip_on)", t)
	}
	d.queue(runlog.NewEvent(runlog.KindDUTAlarm, "", msg, runlog.DUTAlarmData{Bits: int(rose), Names: rose.Keys(), Source: source}), at)
}

// takeEvents returns the frames recorded since the last call.
func (d *dutLink) takeEvents() []runlog.Event {
	if !d.queued.Load() {
		return nil
	}
	d.mu.Lock()
	d.queued.Store(false)
	defer d.mu.Unlock()
	// On virtual time an exchange is over when the engine takes the
	// events; on the wall clock nothing is pending (every frame is kept).
	ev := d.log.abandon(d.events)
	d.events = nil
	return ev
}

func (d *dutLink) identity() *runlog.DUTIdentity {
	return &runlog.DUTIdentity{Model: d.id.Model, Serial: d.id.Serial, FW: d.id.FW}
}

// read writes the dut.* columns of the frame: the last STATUS, and in the
// alarms column the bits ALARM and TLM frames showed since the last frame
// too. On virtual time it polls STATUS when due and keeps the link alive
// itself; on the wall clock the poller does, and a fault it met is
// returned.
func (d *dutLink) read(dst []float64) error {
	values := d.values
	if p := d.poller; p != nil {
		if err := p.take(d.shown); err != nil {
			return err
		}
		values = d.shown
	} else if err := d.exchange(d.clk.Now()); err != nil {
		return err
	}
	seen := dut.Alarms(d.seen.Swap(0))
	for _, c := range d.cols {
		v := values[c.signal]
		if c.signal == alarmSignal {
			v = float64(dut.Alarms(v) | seen)
		}
		dst[c.col] = v
	}
	return nil
}

// exchange polls STATUS when due, else keeps the link alive.
func (d *dutLink) exchange(now time.Duration) error {
	ctx := d.ctx
	if now >= d.nextPoll {
		st, err := d.dev.Status(ctx)
		if err != nil {
			if err := d.fault(err); err != nil {
				return err
			}
			st, err = d.dev.Status(ctx)
			if err != nil {
				return d.lostAbort(err)
			}
		}
		d.setStatus(st)
		d.noteStatus(st.Alarms, d.clk.Now())
		d.nextPoll = now + d.cfg.Poll
	} else if now >= d.nextMaintain {
		d.nextMaintain = now + maintainEvery
		if err := d.dev.Maintain(ctx); err != nil {
			if err := d.fault(err); err != nil {
				return err
			}
		}
	}
	return nil
}

// setStatus takes a STATUS reply: the values of the dut.* columns until
// the next.
func (d *dutLink) setStatus(st dut.Status) {
	for i, s := range dutSignals {
		v := math.NaN()
		switch s {
		case "rpm":
			v = float64(st.RPM)
		case "current":
			v = float64(st.CurrentmA)
		case "power":
			v = float64(st.PowermW)
		case "purge":
			v = float64(st.PurgemmHg)
		case "alarms":
			v = float64(st.Alarms)
		}
		d.values[i] = v
	}
}

// fault handles a failed exchange: a lost link aborts the run, or is
// reconnected within the configured time, the DUT's latched link alarm
// cleared and its setpoints sent again.
func (d *dutLink) fault(err error) error {
	if !errors.Is(err, dut.ErrLinkLost) && !errors.Is(err, dut.ErrNoReply) && d.dev.Err() == nil {
		return &AbortError{Reason: "DUT fault: " + err.Error()}
	}
	if d.cfg.OnLinkLoss != "reconnect" {
		return d.lostAbort(err)
	}
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.ReconnectWithin)
	defer cancel()
	if rerr := d.dev.Reconnect(ctx); rerr != nil {
		return d.lostAbort(fmt.Errorf("%v; not back within %s: %v", err, d.cfg.ReconnectWithin, rerr))
	}
	d.queue(frameEvent(dut.FrameEvent{Dir: dut.Received, Line: "(link restored: " + err.Error() + ")"}), d.clk.Now())
	ctx = d.ctx
	if err := d.dev.ClearAlarms(ctx); err != nil && !errors.Is(err, dut.ErrAlarmActive) {
		return d.lostAbort(err)
	}
	return d.resend(ctx)
}

func (d *dutLink) lostAbort(err error) error {
	return &AbortError{Reason: "DUT link lost: " + err.Error()}
}

// resend commands the mode and setpoint the DUT should have.
func (d *dutLink) resend(ctx context.Context) error {
	if err := d.dev.SetMode(ctx, d.mode); err != nil {
		return d.lostAbort(err)
	}
	switch d.mode {
	case dut.ModeLevel:
		_, err := d.dev.SetLevel(ctx, d.level)
		return err
	case dut.ModeSpeed:
		return d.dev.SetSpeed(ctx, d.wantRPM)
	}
	return nil
}

// apply runs set, which takes a dut.* setpoint. Mode and level go out at
// once (on the wall clock, through the poller, in order); speed is sent by
// actuate, at most every speedEvery, so a ramp does not flood the line.
func (d *dutLink) apply(set func() error) error {
	if p := d.poller; p != nil {
		return p.send(set)
	}
	return set()
}

// dutApply is the plant's apply of a dut.* kind: set, on the DUT link.
func dutApply(set func(d *dutLink, v protocols.Value) error) func(p *busPlant, v protocols.Value) error {
	return func(p *busPlant, v protocols.Value) error {
		if p.dut == nil {
			return errNoActuator
		}
		return p.dut.apply(func() error { return set(p.dut, v) })
	}
}

// setModeWord takes dut.mode.
func (d *dutLink) setModeWord(v protocols.Value) error {
	m, err := dut.ParseMode(strings.ToUpper(v.Word))
	if err != nil {
		return err
	}
	return d.setMode(d.ctx, m)
}

// clearAlarms takes dut.clear: the DUT's latched alarms are cleared. One
// whose cause persists (a blocking one refuses: error 5) rises again, as
// on the console.
func (d *dutLink) clearAlarms(protocols.Value) error {
	if err := d.dev.ClearAlarms(d.ctx); err != nil && !errors.Is(err, dut.ErrAlarmActive) {
		return err
	}
	return nil
}

// setLevelWord takes dut.level, in level mode.
func (d *dutLink) setLevelWord(v protocols.Value) error {
	ctx := d.ctx
	n, err := strconv.Atoi(v.Word[1:])
	if err != nil {
		return fmt.Errorf("DUT level %q", v.Word)
	}
	if err := d.setMode(ctx, dut.ModeLevel); err != nil {
		return err
	}
	if _, err := d.dev.SetLevel(ctx, n); err != nil {
		return err
	}
	d.level = n
	return nil
}

// setSpeed takes dut.speed, in speed mode; actuate sends it.
func (d *dutLink) setSpeed(v protocols.Value) error {
	if err := d.setMode(d.ctx, dut.ModeSpeed); err != nil {
		return err
	}
	d.wantRPM, d.pending = int(math.Round(v.Num)), true
	return nil
}

func (d *dutLink) setMode(ctx context.Context, m dut.Mode) error {
	if d.mode == m {
		return nil
	}
	if err := d.dev.SetMode(ctx, m); err != nil {
		return err
	}
	d.mode = m
	return nil
}

// actuate sends a pending speed; on the wall clock the poller does.
func (d *dutLink) actuate(now time.Duration) error {
	if d.poller != nil {
		return nil
	}
	return d.sendSpeed(now)
}

func (d *dutLink) sendSpeed(now time.Duration) error {
	if !d.pending || (now-d.lastSpeed < speedEvery && d.sentRPM != 0) {
		return nil
	}
	if d.wantRPM != d.sentRPM {
		if err := d.dev.SetSpeed(d.ctx, d.wantRPM); err != nil {
			if ferr := d.fault(err); ferr != nil {
				return ferr
			}
		}
		d.sentRPM, d.lastSpeed = d.wantRPM, now
	}
	d.pending = false
	return nil
}

// safe commands the DUT's configured safe state and confirms it by the
// DUT's measured speed (confirmStop): an OK to the safe command says only
// that the device heard it. Over a lost link the command still goes out,
// blind, on a fresh open of the port: a DUT whose replies are lost may
// still hear it. If the safe state cannot be confirmed, and the rig
// declares the DUT's power switch, the bench's own means take over: the
// DUT's power is switched off. On the wall clock the poller is stopped
// first, the exchange it is in cancelled: no setpoint it holds may follow
// the safe command. A new one then keeps polling (and the link alive)
// until the link is closed.
func (d *dutLink) safe() error {
	if d.off {
		return nil // the rig switched its power off: nothing turns
	}
	if d.poller != nil {
		d.stopPoller()
		defer func() {
			if !d.off {
				d.poller = startPoller(d)
			}
		}()
	}
	ctx := context.Background()
	safeRPM, err := d.sendSafe(ctx)
	if err == nil {
		err = d.confirmStop(ctx, safeRPM)
	}
	if err != nil && d.power != nil {
		return d.cutPower(err)
	}
	return err
}

// sendSafe sends the safe command and returns the speed it stands for (a
// level's, as the DUT's LEVEL reply says).
func (d *dutLink) sendSafe(ctx context.Context) (safeRPM int, err error) {
	s := d.cfg.Safe
	var cmds [][]string
	switch s.Mode {
	case dut.ModeLevel:
		cmds = [][]string{{"MODE", "LEVEL"}, {"LEVEL", strconv.Itoa(s.Level)}}
	case dut.ModeSpeed:
		cmds, safeRPM = [][]string{{"MODE", "SPEED"}, {"SPEED", strconv.Itoa(s.RPM)}}, s.RPM
	default:
		cmds = [][]string{{"MODE", "STOP"}}
	}
	for _, c := range cmds {
		var f dut.Frame
		if f, err = d.dev.Command(ctx, c[0], c[1:]...); err != nil {
			break
		}
		if c[0] == "LEVEL" {
			v, _ := f.Field("rpm")
			if safeRPM, err = strconv.Atoi(v); err != nil {
				return 0, fmt.Errorf("DUT answered its safe command %s without the level's speed: %s", s, f)
			}
		}
	}
	if err == nil {
		d.mode = s.Mode
		return safeRPM, nil
	}
	if d.dev.Err() == nil {
		return 0, fmt.Errorf("DUT refused its safe command %s: %w", s, err)
	}
	for _, c := range cmds {
		if berr := d.dev.SendBlind(c[0], c[1:]...); berr != nil {
			return 0, fmt.Errorf("DUT safe command %s could not be sent (its watchdog stops it within 2 s of silence): %w", s, berr)
		}
	}
	return 0, fmt.Errorf("DUT safe command %s sent blind over the lost link; unconfirmed (its watchdog stops it within 2 s of silence)", s)
}

// confirmStop polls STATUS every dut.poll on the run's clock until the
// DUT's measured speed is within safeTolerance of safeRPM, for at most
// dut.stop_within; a dut.safe event says how it went and when. A DUT that
// answers OK to MODE STOP and keeps turning fails here: "DUT did not
// stop".
func (d *dutLink) confirmStop(ctx context.Context, safeRPM int) error {
	from := d.clk.Now()
	deadline := from + d.cfg.StopWithin
	for {
		st, err := d.dev.Status(ctx)
		now := d.clk.Now()
		after := units.FormatDuration((now - from).Round(time.Millisecond))
		if err != nil {
			d.safeEvent(now-from, math.NaN(), safeRPM, false, "DUT did not stop: its speed could not be read: "+err.Error())
			return fmt.Errorf("DUT did not stop: its speed could not be read after its safe command %s: %w", d.cfg.Safe, err)
		}
		d.setStatus(st)
		d.noteStatus(st.Alarms, now)
		rpm := units.Format(float64(st.RPM), units.Speed)
		if abs(st.RPM-safeRPM) <= safeTolerance {
			d.safeEvent(now-from, float64(st.RPM), safeRPM, true, fmt.Sprintf("DUT at its safe speed %s after its safe command %s: %s measured", after, d.cfg.Safe, rpm))
			return nil
		}
		if now >= deadline {
			msg := fmt.Sprintf("DUT did not stop: %s measured %s after its safe command %s, want %s within %s",
				rpm, after, d.cfg.Safe, units.Format(float64(safeRPM), units.Speed), units.FormatDuration(d.cfg.StopWithin))
			d.safeEvent(now-from, float64(st.RPM), safeRPM, false, msg)
			return errors.New(msg)
		}
		if err := d.clk.SleepUntil(ctx, min(now+d.cfg.Poll, deadline)); err != nil {
			return err
		}
	}
}

func abs(n int) int { return max(n, -n) }

// safeEvent records how the DUT's safe state went.
func (d *dutLink) safeEvent(after time.Duration, rpm float64, safeRPM int, confirmed bool, msg string) {
	d.queue(runlog.NewEvent(runlog.KindDUTSafe, "", msg, runlog.DUTSafeData{AfterS: after.Seconds(),
		Confirmed: confirmed, RPM: runlog.Reading(rpm), SafeRPM: safeRPM}), d.clk.Now())
}

// cutPower switches the DUT's power off, the bench's own means when its
// safe state could not be confirmed (cause), and records it.
func (d *dutLink) cutPower(cause error) error {
	err := d.power.Set(false)
	d.off = err == nil
	msg := fmt.Sprintf("DUT power switch %s switched off: %v", d.cfg.Power, cause)
	if err != nil {
		msg = fmt.Sprintf("DUT power switch %s could not be switched off (%v): %v", d.cfg.Power, err, cause)
	}
	d.queue(runlog.NewEvent(runlog.KindDUTSafe, "", msg, runlog.DUTSafeData{PowerOff: d.off, RPM: runlog.Reading(math.NaN())}), d.clk.Now())
	if err != nil {
		return fmt.Errorf("%w; its power switch %s failed: %w", cause, d.cfg.Power, err)
	}
	return fmt.Errorf("%w; DUT power switched off (%s)", cause, d.cfg.Power)
}

func (d *dutLink) close() error {
	d.stopPoller()
	var errs []error
	if d.dev != nil {
		errs = append(errs, d.dev.Close())
	}
	if d.srv != nil {
		errs = append(errs, d.srv.Close())
	}
	if d.linkDir != "" {
		errs = append(errs, os.RemoveAll(d.linkDir))
	}
	return errors.Join(errs...)
}

// firmwareSpeed is the simulated DUT's rotor speed at now: the firmware's
// last state, ramped toward its target at its ramp rate. The physics asks
// for it at every step, between the firmware's own runs, so it reads the
// firmware's ramp without its lock.
func firmwareSpeed(srv *dutsim.Server) func(now time.Duration) float64 {
	fw := srv.Firmware()
	var at time.Duration
	var tgt int
	var rpm float64
	return func(now time.Duration) float64 {
		// The sampling loop asks, and must not wait for a firmware
		// goroutine caught in the middle of publishing: it goes on
		// with the ramp it last read.
		if a, t, r, ok := fw.TryRamp(); ok {
			at, tgt, rpm = a, t, r
		}
		step := float64(dutsim.DefaultRampRate) * max(0, (now-at).Seconds())
		target := float64(tgt)
		switch {
		case rpm < target:
			return min(target, rpm+step)
		case rpm > target:
			return max(target, rpm-step)
		}
		return rpm
	}
}

// benchPump is the simulated bench's rotary pump as the simulated DUT
// firmware measures it.
type benchPump struct{ b *sim.Bench }

func (p benchPump) Update(now time.Duration, rpm float64) dutsim.PumpState {
	r := p.b.Pump(now)
	return dutsim.PumpState{RPM: rpm, FlowLmin: r.FlowLmin, CurrentmA: r.CurrentmA, PowermW: r.PowermW, PurgemmHg: r.PurgemmHg, Suction: r.Suction}
}

// On the wall clock an exchange takes the serial line's time — at 115200
// baud a STATUS and its reply take about 8 ms, a retry after a lost reply
// 100 ms more, a reconnection as long as the device takes — which the 1 kHz
// loop cannot spare: waiting in the loop, it would lose those conversions
// and hold the LV drive's DAC meanwhile, distorting the beat. There the
// link runs on a goroutine of its own: it polls
// STATUS, keeps the link alive, sends the engine's setpoints in order and
// reconnects, while the loop goes on with the last STATUS. On virtual time
// the exchanges stay in the loop, request and response, so that a
// simulated run stays deterministic (DESIGN.md: time is injected).

// dutPoller runs a dutLink's exchanges on its own goroutine; while it runs,
// the link's state is its own, the engine sees the published values.
type dutPoller struct {
	d      *dutLink
	cmds   chan func() error
	quit   chan struct{}
	done   chan struct{}
	cancel context.CancelFunc

	// op is held over every operation; stopped, under it, ends them.
	op      sync.Mutex
	stopped bool

	mu     sync.Mutex
	values []float64 // the last STATUS, by index of dutSignals
	err    error     // the fault that stopped the poller
	news   atomic.Bool
}

// dutQueue is how many setpoints may wait for the line; a protocol that
// sets the DUT faster than the line takes them waits for it.
const dutQueue = 16

func startPoller(d *dutLink) *dutPoller {
	p := &dutPoller{d: d, cmds: make(chan func() error, dutQueue), quit: make(chan struct{}), done: make(chan struct{}),
		values: slices.Clone(d.values)}
	d.shown = slices.Clone(d.values)
	d.ctx, p.cancel = context.WithCancel(context.Background())
	go p.run()
	return p
}

func (p *dutPoller) run() {
	defer close(p.done)
	d := p.d
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		var cmd func() error
		select {
		case <-p.quit:
			return
		case cmd = <-p.cmds:
		case <-timer.C:
		}
		next, ok := p.do(cmd)
		if !ok {
			return
		}
		timer.Reset(next - d.clk.Now())
	}
}

// do runs a command, if any, and the exchanges that are due, and returns
// when the next falls due; false if the poller is to stop.
func (p *dutPoller) do(cmd func() error) (next time.Duration, ok bool) {
	p.op.Lock()
	defer p.op.Unlock()
	if p.stopped {
		return 0, false
	}
	d := p.d
	var err error
	if cmd != nil {
		err = cmd()
	}
	now := d.clk.Now()
	if err == nil {
		err = d.exchange(now)
	}
	if err == nil {
		err = d.sendSpeed(now)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		var a *AbortError
		if !errors.As(err, &a) {
			a = &AbortError{Reason: "DUT: " + err.Error()}
		}
		p.err = a
		p.news.Store(true)
		return 0, false
	}
	copy(p.values, d.values)
	p.news.Store(true)
	next = min(d.nextPoll, d.nextMaintain)
	if d.pending {
		next = min(next, d.lastSpeed+speedEvery)
	}
	return next, true
}

// send queues a setpoint for the line; a fault the poller stopped on is
// returned instead.
func (p *dutPoller) send(cmd func() error) error {
	select {
	case p.cmds <- cmd:
		return nil
	case <-p.done:
		return p.fault()
	}
}

// take copies the last STATUS into dst if a newer one came, or returns the
// fault the poller stopped on.
func (p *dutPoller) take(dst []float64) error {
	if !p.news.Load() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	p.news.Store(false)
	copy(dst, p.values)
	return nil
}

func (p *dutPoller) fault() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		return errors.New("DUT link closed")
	}
	return p.err
}

// stopPoller stops the poller, cancelling the exchange it is in; the
// link's state is then the caller's again.
func (d *dutLink) stopPoller() {
	p := d.poller
	if p == nil {
		return
	}
	p.cancel()
	p.op.Lock()
	if !p.stopped {
		p.stopped = true
		close(p.quit)
	}
	p.op.Unlock()
	<-p.done
	d.ctx = context.Background()
}
