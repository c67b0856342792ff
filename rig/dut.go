package rig

import (
	"context"
	"errors"
	"fmt"
	"math"
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
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/sim"
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
	clk clock.Clock
	id  dut.Identity

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

	nextTick time.Duration
}

// tickEvery is how often the keep-alive is checked: the DUT's own limit is
// 500 ms without a frame; checking every frame would cost a lock per frame.
const tickEvery = 50 * time.Millisecond

// dutColumn is a frame column fed from the DUT's STATUS: its signal, by
// index of dutSignals.
type dutColumn struct {
	col, signal int
}

// openDUT dials the DUT named in the config (starting the simulated one on
// a pseudo-terminal for port "sim") and identifies it.
func openDUT(cfg *Config, clk clock.Clock, pump dutsim.Pump) (*dutLink, error) {
	d := &dutLink{cfg: cfg.DUT, clk: clk, mode: dut.ModeStop, values: make([]float64, len(dutSignals))}
	for j, ch := range cfg.Channels {
		if in := cfg.Inputs[ch.Name]; in.Kind == "dut" {
			d.cols = append(d.cols, dutColumn{col: j, signal: slices.Index(dutSignals, in.Signal)})
		}
	}
	d.setStatus(dut.Status{})
	path := cfg.DUT.Port
	ctx := context.Background()
	if path == "sim" {
		srv, err := dutsim.Serve(ctx, dutsim.Config{Clock: clk, Pump: pump, Faults: cfg.DUT.Faults})
		if err != nil {
			return nil, fmt.Errorf("rig: simulated DUT: %w", err)
		}
		d.srv, path = srv, srv.Name()
	}
	dev, err := dut.Dial(ctx, dut.Config{Path: path, Clock: clk, OnFrame: d.onFrame})
	if err != nil {
		d.close()
		return nil, fmt.Errorf("rig: DUT on %s: %w", path, err)
	}
	d.dev, d.id = dev, dev.Identity()
	return d, nil
}

// onFrame records a frame on the link as an event (called from the
// driver's goroutines).
func (d *dutLink) onFrame(f dut.FrameEvent) {
	kind := runlog.KindDUTTx
	if f.Dir == dut.Received {
		kind = runlog.KindDUTRx
	}
	ev := runlog.Event{T: f.At.Seconds(), Kind: kind, Msg: f.Line}
	if f.Err != nil || f.Attempt > 0 {
		ev.Data = map[string]any{}
		if f.Err != nil {
			ev.Data["error"] = f.Err.Error()
		}
		if f.Attempt > 0 {
			ev.Data["retry"] = f.Attempt
		}
	}
	d.mu.Lock()
	d.events = append(d.events, ev)
	d.queued.Store(true)
	d.mu.Unlock()
}

// takeEvents returns the frames recorded since the last call.
func (d *dutLink) takeEvents() []runlog.Event {
	if !d.queued.Load() {
		return nil
	}
	d.mu.Lock()
	d.queued.Store(false)
	defer d.mu.Unlock()
	ev := d.events
	d.events = nil
	return ev
}

func (d *dutLink) identity() *runlog.DUTIdentity {
	return &runlog.DUTIdentity{Model: d.id.Model, Serial: d.id.Serial, FW: d.id.FW}
}

// read polls STATUS when due and writes the dut.* columns of the frame;
// between polls the last readings stand. It also keeps the link alive.
func (d *dutLink) read(now time.Duration, dst []float64) error {
	ctx := context.Background()
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
		d.nextPoll = now + d.cfg.Poll
	} else if now >= d.nextTick {
		d.nextTick = now + tickEvery
		if err := d.dev.Tick(ctx); err != nil {
			if err := d.fault(err); err != nil {
				return err
			}
		}
	}
	for _, c := range d.cols {
		dst[c.col] = d.values[c.signal]
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
		return &Abort{Reason: "DUT fault: " + err.Error()}
	}
	if d.cfg.OnLinkLoss != "reconnect" {
		return d.lostAbort(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.ReconnectWithin)
	defer cancel()
	if rerr := d.dev.Reconnect(ctx); rerr != nil {
		return d.lostAbort(fmt.Errorf("%v; not back within %s: %v", err, d.cfg.ReconnectWithin, rerr))
	}
	d.onFrame(dut.FrameEvent{At: d.clk.Now(), Dir: dut.Received, Line: "(link restored: " + err.Error() + ")"})
	ctx = context.Background()
	if err := d.dev.ClearAlarms(ctx); err != nil && !errors.Is(err, dut.ErrAlarmActive) {
		return d.lostAbort(err)
	}
	return d.resend(ctx)
}

func (d *dutLink) lostAbort(err error) error {
	return &Abort{Reason: "DUT link lost: " + err.Error()}
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

// apply takes a dut.* setpoint. Mode and level go out at once; speed is
// sent by actuate, at most every speedEvery, so a ramp does not flood the
// line.
func (d *dutLink) apply(param string, v protocols.Value) error {
	ctx := context.Background()
	switch param {
	case "dut.mode":
		m, err := dut.ParseMode(strings.ToUpper(v.Word))
		if err != nil {
			return err
		}
		return d.setMode(ctx, m)
	case "dut.level":
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
	case "dut.speed":
		if err := d.setMode(ctx, dut.ModeSpeed); err != nil {
			return err
		}
		d.wantRPM, d.pending = int(math.Round(v.Num)), true
		return nil
	}
	return fmt.Errorf("the DUT has no parameter %s", param)
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

// actuate sends a pending speed.
func (d *dutLink) actuate(now time.Duration) error {
	if !d.pending || (now-d.lastSpeed < speedEvery && d.sentRPM != 0) {
		return nil
	}
	if d.wantRPM != d.sentRPM {
		if err := d.dev.SetSpeed(context.Background(), d.wantRPM); err != nil {
			if ferr := d.fault(err); ferr != nil {
				return ferr
			}
		}
		d.sentRPM, d.lastSpeed = d.wantRPM, now
	}
	d.pending = false
	return nil
}

// safe commands the DUT's configured safe state. Over a lost link the
// command still goes out, blind, on a fresh open of the port: a DUT whose
// replies are lost may still hear it. If the port is gone, the DUT's own
// watchdog takes it to its safe speed within 2 s of silence.
func (d *dutLink) safe() error {
	ctx := context.Background()
	s := d.cfg.Safe
	var cmds [][]string
	switch s.Mode {
	case dut.ModeLevel:
		cmds = [][]string{{"MODE", "LEVEL"}, {"LEVEL", strconv.Itoa(s.Level)}}
	case dut.ModeSpeed:
		cmds = [][]string{{"MODE", "SPEED"}, {"SPEED", strconv.Itoa(s.RPM)}}
	default:
		cmds = [][]string{{"MODE", "STOP"}}
	}
	var err error
	for _, c := range cmds {
		if _, err = d.dev.Command(ctx, c[0], c[1:]...); err != nil {
			break
		}
	}
	if err == nil {
		d.mode = s.Mode
		return nil
	}
	if d.dev.Err() == nil {
		return fmt.Errorf("DUT refused its safe command %s: %w", s, err)
	}
	for _, c := range cmds {
		if berr := d.dev.SendBlind(c[0], c[1:]...); berr != nil {
			return fmt.Errorf("DUT safe command %s could not be sent (its watchdog stops it within 2 s of silence): %w", s, berr)
		}
	}
	return fmt.Errorf("DUT safe command %s sent blind over the lost link; unconfirmed (its watchdog stops it within 2 s of silence)", s)
}

func (d *dutLink) close() error {
	var errs []error
	if d.dev != nil {
		errs = append(errs, d.dev.Close())
	}
	if d.srv != nil {
		errs = append(errs, d.srv.Close())
	}
	return errors.Join(errs...)
}

// firmwareSpeed is the simulated DUT's rotor speed at now: the firmware's
// last state, ramped toward its target at its ramp rate. The physics asks
// for it at every step, between the firmware's own runs, so it reads the
// firmware's ramp without its lock.
func firmwareSpeed(srv *dutsim.Server) func(now time.Duration) float64 {
	fw := srv.Firmware()
	return func(now time.Duration) float64 {
		at, tgt, rpm := fw.Ramp()
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
