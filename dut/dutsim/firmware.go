package dutsim

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mockloop/mockloop/dut"
)

// Limits and defaults of the simulated firmware.
const (
	MaxRPM          = 60000           // VADLINK's SPEED range is 0..MaxRPM; a device's top (Config.TopRPM) may be lower
	MaxTelemetryHz  = 100             // TELEM accepts 0..MaxTelemetryHz
	DefaultRampRate = 10000           // rpm/s, the most VADLINK allows
	WatchdogTimeout = 2 * time.Second // host silence that trips AlarmHostLinkLost
	BlockingAlarms  = dut.AlarmHostLinkLost | dut.AlarmOvercurrent
	defaultModel    = "dutsim-impella"
	defaultSerial   = "SIM-0001"
	defaultFW       = "1.0.0"
)

// ImpellaLevels is the default level table: target rpm of P0..P9.
var ImpellaLevels = [10]int{0, 25000, 35000, 38000, 40000, 43000, 45000, 47000, 50000, 51000}

// Firmware is the simulated controller: the VADLINK command interpreter, the
// speed ramp, the alarms and the host-link watchdog. It has no clock of its
// own: every call says what time it is, and the firmware first catches up
// to that time (ramp, watchdog, due TLM frames), then acts. Its state is
// therefore a function of the frames it received and the times they came at,
// which is what makes it deterministic in virtual time, where nothing moves
// while the host waits for a reply.
//
// Command rules (VADLINK leaves them to the device):
//
//   - The firmware powers up in STOP mode with the motor off.
//   - MODE STOP is always accepted: it is the safe command. The target
//     becomes the safe speed (Config.SafeRPM, 0 by default).
//   - MODE SPEED and MODE LEVEL keep the current target (bumpless).
//   - SPEED is only accepted in SPEED mode, LEVEL only in LEVEL mode
//     (error 3 otherwise).
//   - During the self-test after power-on (Config.SelfTest) MODE SPEED,
//     MODE LEVEL, SPEED and LEVEL answer error 4, busy.
//   - While a blocking alarm is latched (host link lost, motor overcurrent)
//     the same commands answer error 5 until CLEAR. Suction, purge and speed
//     deviation alarms are reported and latched but block nothing: the host
//     must be able to act on them.
//   - The checks come in the order 1 (verb), 2 (arguments), 4, 5, 3.
//   - HELLO, PING, STATUS, TELEM and CLEAR are accepted in every state.
//   - The watchdog arms at the first valid host frame: a controller powered
//     up without a host stays quiet. After WatchdogTimeout without a valid
//     frame it latches AlarmHostLinkLost and goes to STOP (the safe speed).
//   - A frame identical to the previous one (same seq, same bytes) is a
//     host retry: it is answered from a cache, not executed again.
//
// Firmware is safe for concurrent use.
type Firmware struct {
	mu     sync.Mutex
	cfg    Config
	pump   Pump
	levels [10]int
	rate   int64 // ramp rate, rpm/s

	now      time.Duration
	boot     time.Duration
	mode     dut.Mode
	target   int
	speed    int64 // commanded speed (the ramp), in 1e-9 rpm: exact for any time step
	alarms   dut.Alarms
	armed    bool
	lastHost time.Duration
	telemHz  int
	nextTLM  time.Duration
	ps       PumpState
	// faults are the device faults in force (Faults.Alarm, PulseBits,
	// NoStop); off: the power was cut (PowerOff).
	faults Faults
	off    bool

	lastSeq   uint16
	lastLine  []byte
	lastReply []byte

	n Stats

	// pub is the ramp's state as of the last advance, published for Ramp
	// without the lock: the simulated bench asks for the rotor speed at
	// every physics step, far more often than the firmware runs.
	pub struct {
		seq                atomic.Uint64 // odd while being written
		now, target, speed atomic.Int64
	}
}

// NewFirmware powers a firmware up at time now. Only the firmware's fields of
// cfg are used; it fails on an invalid one.
func NewFirmware(cfg Config, now time.Duration) (*Firmware, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	f := &Firmware{cfg: cfg, pump: cfg.Pump, levels: ImpellaLevels, rate: int64(cfg.RampRate), now: now, boot: now, faults: cfg.Faults}
	if cfg.Levels != nil {
		f.levels = *cfg.Levels
	}
	f.ps = f.pump.Update(now, 0)
	f.publish()
	return f, nil
}

// State is a snapshot of the firmware.
type State struct {
	Now       time.Duration
	Mode      dut.Mode
	TargetRPM int
	RPM       float64 // commanded (ramp) speed
	Alarms    dut.Alarms
	TelemHz   int
	Pump      PumpState // last readout
}

// State returns the firmware's state as of its last advance; it does not advance it.
func (f *Firmware) State() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return State{Now: f.now, Mode: f.mode, TargetRPM: f.target, RPM: float64(f.speed) / 1e9,
		Alarms: f.alarms, TelemHz: f.telemHz, Pump: f.ps}
}

// Ramp returns the part of State that the speed ramp is made of (Now,
// TargetRPM, RPM), consistent with one another and as of the firmware's
// last advance, like State, but without taking the firmware's lock: it is a
// few atomic loads, cheap enough for every step of the physics.
func (f *Firmware) Ramp() (now time.Duration, targetRPM int, rpm float64) {
	for {
		if now, targetRPM, rpm, ok := f.TryRamp(); ok {
			return now, targetRPM, rpm
		}
		runtime.Gosched() // an advance is publishing
	}
}

// TryRamp is Ramp for a caller that must not wait (the real-time sampling
// loop, whose physics asks for the speed): ok is false when the firmware
// is publishing at that instant, and the caller keeps what it read last.
func (f *Firmware) TryRamp() (now time.Duration, targetRPM int, rpm float64, ok bool) {
	s := f.pub.seq.Load()
	if s&1 != 0 {
		return 0, 0, 0, false
	}
	n, t, v := f.pub.now.Load(), f.pub.target.Load(), f.pub.speed.Load()
	if f.pub.seq.Load() != s {
		return 0, 0, 0, false
	}
	return time.Duration(n), int(t), float64(v) / 1e9, true
}

// publish makes the ramp's state visible to Ramp; f.mu is held.
func (f *Firmware) publish() {
	f.pub.seq.Add(1)
	f.pub.now.Store(int64(f.now))
	f.pub.target.Store(int64(f.target))
	f.pub.speed.Store(f.speed)
	f.pub.seq.Add(1)
}

// Stats returns the firmware's counters (the frame and protocol ones of Stats).
func (f *Firmware) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// Advance runs the firmware up to now and returns the unsolicited frames
// (ALARM, TLM) that fell due, each with its "\n". A time before the
// firmware's own is ignored: firmware time never goes back.
func (f *Firmware) Advance(now time.Duration) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.publish()
	return f.advance(now, nil)
}

// SetFaults puts the device faults of ft in force (Alarm, PulseBits,
// PulseAt, PulseFor, NoStop, NoAlarmFrames); its link faults are the
// Server's.
func (f *Firmware) SetFaults(ft Faults) {
	f.mu.Lock()
	f.faults = ft
	f.mu.Unlock()
}

// PowerOff cuts the device's power at now: the motor is no longer driven
// (the rotor runs down at the ramp rate, whatever NoStop says), and the
// firmware answers and sends nothing from then on.
func (f *Firmware) PowerOff(now time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.publish()
	f.advance(now, nil)
	f.off, f.mode, f.target = true, dut.ModeStop, 0
}

// Handle runs the firmware up to now, then executes one received line (its
// "\n" removed). It returns the unsolicited frames that fell due before the
// line was handled, and the reply, nil when the line is dropped (bad CRC, bad
// syntax, seq 0, too long).
func (f *Firmware) Handle(now time.Duration, line []byte) (unsolicited [][]byte, reply []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.publish()
	unsolicited = f.advance(now, nil)
	if f.off {
		return nil, nil
	}
	req, err := dut.ParseFrame(line)
	switch {
	case errors.Is(err, dut.ErrCRC):
		f.n.BadCRC++
		return unsolicited, nil
	case errors.Is(err, dut.ErrTooLong):
		f.n.TooLong++
		return unsolicited, nil
	case err != nil, req.Seq == 0: // seq 0 is the device's own
		f.n.BadSyntax++
		return unsolicited, nil
	}
	f.n.Received++
	f.lastHost, f.armed = f.now, true
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if f.lastReply != nil && req.Seq == f.lastSeq && bytes.Equal(line, f.lastLine) {
		f.n.Duplicates++
		return unsolicited, f.lastReply
	}
	rep := f.execute(req)
	if rep.Verb == "ERR" {
		f.n.Errors++
	}
	reply, err = dut.AppendFrame(nil, rep)
	if err != nil {
		panic("dutsim: firmware built an unencodable reply: " + err.Error())
	}
	f.lastSeq, f.lastLine, f.lastReply = req.Seq, append(f.lastLine[:0], line...), reply
	return unsolicited, reply
}

// NoteTooLong counts an over-long line the transport dropped before the
// firmware saw it.
func (f *Firmware) NoteTooLong() {
	f.mu.Lock()
	f.n.TooLong++
	f.mu.Unlock()
}

// advance moves the firmware from f.now to now, stopping at every instant
// where something happens (watchdog deadline, TLM due) so that each is
// handled at its own time.
func (f *Firmware) advance(now time.Duration, out [][]byte) [][]byte {
	if now <= f.now {
		return out
	}
	if f.off {
		f.ramp(now - f.now)
		f.now = now
		f.ps = f.pump.Update(f.now, float64(f.speed)/1e9)
		return out
	}
	if f.telemHz > 0 {
		// Telemetry is lossy: when the firmware catches up over many
		// periods at once (virtual time), only the last is sent.
		p := f.telemPeriod()
		if k := (now - f.nextTLM) / p; k > 0 {
			f.nextTLM += k * p
		}
	}
	for f.now < now {
		next := now
		wd := f.lastHost + WatchdogTimeout
		watching := f.armed && f.alarms&dut.AlarmHostLinkLost == 0
		if watching && wd < next {
			next = max(wd, f.now)
		}
		if f.telemHz > 0 && f.nextTLM < next {
			next = max(f.nextTLM, f.now)
		}
		start, end := f.pulse()
		for _, edge := range [...]time.Duration{start, end} {
			if f.faults.PulseBits != 0 && edge > f.now && edge < next {
				next = edge
			}
		}
		f.ramp(next - f.now)
		f.now = next
		out = f.sense(out)
		if watching && f.now >= wd {
			f.stop()
			out = f.raise(dut.AlarmHostLinkLost, out)
		}
		if f.faults.PulseBits != 0 && f.now == start {
			out = f.raiseUnlatched(f.faults.PulseBits, out)
		}
		out = f.raiseUnlatched(f.faults.Alarm, out)
		if f.telemHz > 0 && f.now >= f.nextTLM {
			out = append(out, f.tlm())
			f.nextTLM += f.telemPeriod()
		}
	}
	return out
}

func (f *Firmware) telemPeriod() time.Duration { return time.Second / time.Duration(f.telemHz) }

// pulse is when the pulse of Faults.PulseBits rises and falls.
func (f *Firmware) pulse() (start, end time.Duration) {
	start = f.boot + f.faults.PulseAt
	return start, start + f.faults.PulseFor
}

// shownAlarms are the alarms STATUS and TLM report: the latched ones, and
// a pulse while it lasts.
func (f *Firmware) shownAlarms() dut.Alarms {
	a := f.alarms
	if start, end := f.pulse(); f.now >= start && f.now < end {
		a |= f.faults.PulseBits
	}
	return a
}

// stop is MODE STOP's and the watchdog's: the target becomes the safe
// speed, unless the NoStop fault keeps it.
func (f *Firmware) stop() {
	f.mode = dut.ModeStop
	if !f.faults.NoStop {
		f.target = f.cfg.SafeRPM
	}
}

// ramp moves the commanded speed toward the target at the ramp rate for dt.
// Integer arithmetic in 1e-9 rpm makes a ramp over dt identical to the same
// ramp done in any number of smaller steps.
func (f *Firmware) ramp(dt time.Duration) {
	tgt := int64(f.target) * 1e9
	diff := tgt - f.speed
	if diff == 0 || dt <= 0 {
		return
	}
	dist := diff
	if dist < 0 {
		dist = -dist
	}
	if need := (dist + f.rate - 1) / f.rate; int64(dt) >= need {
		f.speed = tgt
		return
	}
	if diff > 0 {
		f.speed += f.rate * int64(dt)
	} else {
		f.speed -= f.rate * int64(dt)
	}
}

// sense reads the pump at f.now and raises the alarms its readout calls for.
func (f *Firmware) sense(out [][]byte) [][]byte {
	cmd := float64(f.speed) / 1e9
	f.ps = f.pump.Update(f.now, cmd)
	var a dut.Alarms
	if f.ps.Suction {
		a |= dut.AlarmSuction
	}
	if f.ps.CurrentmA > f.cfg.OvercurrentmA {
		a |= dut.AlarmOvercurrent
	}
	if f.ps.PurgemmHg < f.cfg.PurgeLowmmHg {
		a |= dut.AlarmPurgeLow
	}
	if f.ps.PurgemmHg > f.cfg.PurgeHighmmHg {
		a |= dut.AlarmPurgeHigh
	}
	if math.Abs(f.ps.RPM-cmd) > f.cfg.SpeedDeviationRPM {
		a |= dut.AlarmSpeedDeviation
	}
	return f.raise(a&^f.cfg.Quiet, out)
}

// raiseUnlatched sends an ALARM frame for each of bits not latched, and
// leaves them unlatched: a fault's alarm, which falls at once.
func (f *Firmware) raiseUnlatched(bits dut.Alarms, out [][]byte) [][]byte {
	if bits == 0 {
		return out
	}
	keep := f.alarms
	out = f.raise(bits, out)
	f.alarms = keep
	return out
}

// raise latches bits and sends an ALARM frame for each one that rose.
func (f *Firmware) raise(bits dut.Alarms, out [][]byte) [][]byte {
	rose := bits &^ f.alarms
	f.alarms |= bits
	for b := dut.Alarms(1); b != 0 && b <= rose; b <<= 1 {
		if rose&b == 0 {
			continue
		}
		f.n.AlarmsRaised++
		if f.faults.NoAlarmFrames {
			continue
		}
		args := append([]string{b.Hex()}, strings.Fields(b.String())...)
		out = append(out, mustFrame(dut.Frame{Seq: 0, Verb: "ALARM", Args: args}))
	}
	return out
}

func (f *Firmware) tlm() []byte {
	return mustFrame(dut.Frame{Seq: 0, Verb: "TLM", Args: []string{
		"t=" + strconv.FormatInt(int64(f.now/time.Millisecond), 10),
		"rpm=" + itoa(f.ps.RPM),
		"cur=" + itoa(f.ps.CurrentmA),
		"pwr=" + itoa(f.ps.PowermW),
		"purge=" + itoa(f.ps.PurgemmHg),
		"alarms=" + f.shownAlarms().Hex(),
	}})
}

// itoa formats a pump reading for the wire. Readings are clamped to seven
// digits (NaN reads 0) so that a runaway physics model cannot make a frame
// longer than VADLINK allows.
func itoa(v float64) string {
	switch {
	case math.IsNaN(v):
		v = 0
	case v > 9999999:
		v = 9999999
	case v < -9999999:
		v = -9999999
	}
	return strconv.FormatInt(int64(math.Round(v)), 10)
}

func mustFrame(fr dut.Frame) []byte {
	b, err := dut.AppendFrame(nil, fr)
	if err != nil {
		panic("dutsim: firmware built an unencodable frame: " + err.Error())
	}
	return b
}

// execute runs one valid host request and returns its reply.
func (f *Firmware) execute(r dut.Frame) dut.Frame {
	cmd, ok := commands[r.Verb]
	if !ok {
		return errReply(r, dut.ErrUnknownVerb)
	}
	return cmd(f, r)
}

// commands is the firmware's command interpreter: the method that checks
// and executes each verb of VADLINK. Each checks in the order of the rules
// on Firmware: arguments (2), then busy (4), alarm (5), mode (3).
var commands = map[string]func(*Firmware, dut.Frame) dut.Frame{
	"HELLO":  (*Firmware).cmdHello,
	"PING":   (*Firmware).cmdPing,
	"MODE":   (*Firmware).cmdMode,
	"SPEED":  (*Firmware).cmdSpeed,
	"LEVEL":  (*Firmware).cmdLevel,
	"STATUS": (*Firmware).cmdStatus,
	"TELEM":  (*Firmware).cmdTelem,
	"CLEAR":  (*Firmware).cmdClear,
}

// okReply is the OK reply to r.
func okReply(r dut.Frame, args ...string) dut.Frame {
	return dut.Frame{Seq: r.Seq, Verb: "OK", Args: args}
}

// errReply is the ERR reply to r: e's code and text.
func errReply(r dut.Frame, e *dut.Error) dut.Frame {
	return dut.Frame{Seq: r.Seq, Verb: "ERR", Args: append([]string{strconv.Itoa(e.Code)}, strings.Fields(e.Text)...)}
}

// intArg reads r's one argument as an integer in lo..hi; ok is false when
// there is not exactly one, or it is not such an integer.
func intArg(r dut.Frame, lo, hi int) (v int, ok bool) {
	if len(r.Args) != 1 {
		return 0, false
	}
	v, err := strconv.Atoi(r.Args[0])
	return v, err == nil && v >= lo && v <= hi
}

// motionRefused checks the rules of a command that sets a speed: busy
// during the self-test, refused while a blocking alarm is latched.
func (f *Firmware) motionRefused() *dut.Error {
	switch {
	case f.now < f.boot+f.cfg.SelfTest:
		return dut.ErrBusy
	case f.alarms&BlockingAlarms != 0:
		return dut.ErrAlarmActive
	}
	return nil
}

// targetRefused checks the rules of a command that sets the target in mode
// m: those of motionRefused, then the mode.
func (f *Firmware) targetRefused(m dut.Mode) *dut.Error {
	if e := f.motionRefused(); e != nil {
		return e
	}
	if f.mode != m {
		return dut.ErrWrongMode
	}
	return nil
}

func (f *Firmware) cmdHello(r dut.Frame) dut.Frame {
	if len(r.Args) != 0 {
		return errReply(r, dut.ErrBadArgument)
	}
	return okReply(r, "model="+f.cfg.Model, "serial="+f.cfg.Serial, "fw="+f.cfg.FW, "proto=1")
}

func (f *Firmware) cmdPing(r dut.Frame) dut.Frame {
	if len(r.Args) != 0 {
		return errReply(r, dut.ErrBadArgument)
	}
	return okReply(r)
}

// cmdMode is MODE: STOP always (the safe command), SPEED and LEVEL keep the
// target (bumpless).
func (f *Firmware) cmdMode(r dut.Frame) dut.Frame {
	if len(r.Args) != 1 {
		return errReply(r, dut.ErrBadArgument)
	}
	m, err := dut.ParseMode(r.Args[0])
	if err != nil {
		return errReply(r, dut.ErrBadArgument)
	}
	if m == dut.ModeStop {
		f.stop()
		return okReply(r)
	}
	if e := f.motionRefused(); e != nil {
		return errReply(r, e)
	}
	f.mode = m
	return okReply(r)
}

func (f *Firmware) cmdSpeed(r dut.Frame) dut.Frame {
	v, good := intArg(r, 0, f.cfg.TopRPM)
	if !good {
		return errReply(r, dut.ErrBadArgument)
	}
	if e := f.targetRefused(dut.ModeSpeed); e != nil {
		return errReply(r, e)
	}
	f.target = v
	return okReply(r)
}

func (f *Firmware) cmdLevel(r dut.Frame) dut.Frame {
	v, good := intArg(r, 0, len(f.levels)-1)
	if !good {
		return errReply(r, dut.ErrBadArgument)
	}
	if e := f.targetRefused(dut.ModeLevel); e != nil {
		return errReply(r, e)
	}
	f.target = f.levels[v]
	return okReply(r, "rpm="+strconv.Itoa(f.target))
}

func (f *Firmware) cmdStatus(r dut.Frame) dut.Frame {
	if len(r.Args) != 0 {
		return errReply(r, dut.ErrBadArgument)
	}
	return okReply(r, "rpm="+itoa(f.ps.RPM), "target="+strconv.Itoa(f.target), "cur="+itoa(f.ps.CurrentmA),
		"pwr="+itoa(f.ps.PowermW), "purge="+itoa(f.ps.PurgemmHg), "alarms="+f.shownAlarms().Hex())
}

// cmdTelem is TELEM: the first TLM frame goes out one period from now.
func (f *Firmware) cmdTelem(r dut.Frame) dut.Frame {
	v, good := intArg(r, 0, MaxTelemetryHz)
	if !good {
		return errReply(r, dut.ErrBadArgument)
	}
	f.telemHz = v
	if v > 0 {
		f.nextTLM = f.now + f.telemPeriod()
	}
	return okReply(r)
}

// cmdClear is CLEAR: alarms whose cause persists rise again at the next advance.
func (f *Firmware) cmdClear(r dut.Frame) dut.Frame {
	if len(r.Args) != 0 {
		return errReply(r, dut.ErrBadArgument)
	}
	f.alarms = 0
	return okReply(r)
}
