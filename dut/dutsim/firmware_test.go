package dutsim

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/dut"
)

// fwHost drives a Firmware directly, as a host would, without a pty.
type fwHost struct {
	t   *testing.T
	fw  *Firmware
	seq uint16
	uns []dut.Frame // unsolicited frames seen so far
}

func newFW(t *testing.T, cfg Config) *fwHost {
	t.Helper()
	fw, err := NewFirmware(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &fwHost{t: t, fw: fw}
}

func (h *fwHost) collect(frames [][]byte) {
	h.t.Helper()
	for _, b := range frames {
		f, err := dut.ParseFrame(b[:len(b)-1])
		if err != nil || f.Seq != 0 {
			h.t.Fatalf("bad unsolicited frame %q: %v", b, err)
		}
		h.uns = append(h.uns, f)
	}
}

// do sends one request at now and returns the reply.
func (h *fwHost) do(now time.Duration, verb string, args ...string) dut.Frame {
	h.t.Helper()
	h.seq++
	line, err := dut.AppendFrame(nil, dut.Frame{Seq: h.seq, Verb: verb, Args: args})
	if err != nil {
		h.t.Fatal(err)
	}
	uns, reply := h.fw.Handle(now, line[:len(line)-1])
	h.collect(uns)
	if reply == nil {
		h.t.Fatalf("%s: no reply", verb)
	}
	f, err := dut.ParseFrame(reply[:len(reply)-1])
	if err != nil || f.Seq != h.seq {
		h.t.Fatalf("%s: reply %q (%v)", verb, reply, err)
	}
	return f
}

// ok sends a request that must succeed.
func (h *fwHost) ok(now time.Duration, verb string, args ...string) dut.Frame {
	h.t.Helper()
	f := h.do(now, verb, args...)
	if f.Verb != "OK" {
		h.t.Fatalf("%s %v: %s", verb, args, f)
	}
	return f
}

// code sends a request that must be refused with code.
func (h *fwHost) code(now time.Duration, code int, verb string, args ...string) {
	h.t.Helper()
	f := h.do(now, verb, args...)
	if f.Verb != "ERR" || len(f.Args) == 0 || f.Args[0] != strconv.Itoa(code) {
		h.t.Fatalf("%s %v: %s, want ERR %d", verb, args, f, code)
	}
}

func (h *fwHost) field(f dut.Frame, k string) int {
	h.t.Helper()
	v, ok := f.Field(k)
	if !ok {
		h.t.Fatalf("%s has no %s", f, k)
	}
	base := 10
	if k == "alarms" {
		base = 16
	}
	n, err := strconv.ParseInt(v, base, 64)
	if err != nil {
		h.t.Fatalf("%s=%s: %v", k, v, err)
	}
	return int(n)
}

const s = time.Second
const ms = time.Millisecond

func TestFirmwareRampIsExactInAnyStepping(t *testing.T) {
	a, b := newFW(t, Config{RampRate: 7777}), newFW(t, Config{RampRate: 7777})
	for _, h := range []*fwHost{a, b} {
		h.ok(0, "MODE", "SPEED")
		h.ok(0, "SPEED", "54321")
	}
	// a in one step, b in irregular steps of 1..17 ms and some µs, over
	// 1.9 s (short of the watchdog).
	end := 1900 * ms
	a.fw.Advance(end)
	for now, i := time.Duration(0), 0; now < end; i++ {
		now = min(now+time.Duration(1+i%17)*ms+time.Duration(i%3)*time.Microsecond, end)
		b.fw.Advance(now)
	}
	sa, sb := a.fw.State(), b.fw.State()
	if sa.RPM != sb.RPM || sa.RPM != 7777*1.9 {
		t.Fatalf("ramp: one step %v rpm, many steps %v rpm, want %v", sa.RPM, sb.RPM, 7777*1.9)
	}
	// It lands on the target, neither over nor short.
	a.ok(end, "SPEED", "20000")
	a.fw.Advance(end + 1500*ms)
	if st := a.fw.State(); st.RPM != 20000 {
		t.Fatalf("ramp ends at %v rpm, want 20000", st.RPM)
	}
}

// TestFirmwareRampMatchesState: Ramp, read without the lock, is the ramp
// of State after every kind of run, and consistent while the firmware runs
// on another goroutine.
func TestFirmwareRampMatchesState(t *testing.T) {
	h := newFW(t, Config{})
	check := func(what string) {
		t.Helper()
		st := h.fw.State()
		now, tgt, rpm := h.fw.Ramp()
		if now != st.Now || tgt != st.TargetRPM || rpm != st.RPM {
			t.Errorf("%s: Ramp %v %d %v, State %v %d %v", what, now, tgt, rpm, st.Now, st.TargetRPM, st.RPM)
		}
	}
	check("power-up")
	h.ok(10*ms, "MODE", "SPEED")
	h.ok(20*ms, "SPEED", "30000")
	check("after SPEED")
	h.fw.Advance(700 * ms)
	check("mid-ramp")
	h.fw.Advance(5 * s) // the watchdog trips: STOP
	check("after the watchdog")

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			h.fw.Advance(5*s + time.Duration(i)*ms)
		}
	}()
	for {
		select {
		case <-done:
			check("after the runs")
			return
		default:
		}
		now, _, rpm := h.fw.Ramp()
		if now < 5*s || rpm < 0 || rpm > MaxRPM {
			t.Fatalf("torn read: %v, %v rpm", now, rpm)
		}
	}
}

func TestFirmwareWatchdog(t *testing.T) {
	h := newFW(t, Config{SafeRPM: 20000})
	// Unarmed until the first host frame.
	h.collect(h.fw.Advance(10 * s))
	if len(h.uns) != 0 || h.fw.State().Alarms != 0 {
		t.Fatalf("watchdog tripped before any host frame: %v", h.uns)
	}
	h.ok(10*s, "MODE", "SPEED")
	h.ok(10*s, "SPEED", "40000")
	h.collect(h.fw.Advance(12*s - 1))
	if len(h.uns) != 0 {
		t.Fatalf("tripped 1 ns early: %v", h.uns)
	}
	h.collect(h.fw.Advance(12 * s))
	if len(h.uns) != 1 || h.uns[0].String() != "0 ALARM 20 host link lost" {
		t.Fatalf("at 2 s of silence: %v, want one ALARM 20", h.uns)
	}
	st := h.fw.State()
	if st.Mode != dut.ModeStop || st.TargetRPM != 20000 || st.RPM != 20000 || st.Alarms != dut.AlarmHostLinkLost {
		t.Fatalf("after the trip: %+v (ramped 0 -> 20000 in 2 s, then holds the safe speed)", st)
	}
	// Latched: no second ALARM, refused speed commands, until CLEAR.
	h.code(13*s, dut.CodeAlarmActive, "MODE", "SPEED")
	h.code(13*s, dut.CodeAlarmActive, "MODE", "LEVEL")
	h.ok(13*s, "MODE", "STOP")
	h.collect(h.fw.Advance(20 * s))
	if len(h.uns) != 1 {
		t.Fatalf("ALARM repeated: %v", h.uns)
	}
	h.ok(20*s, "CLEAR")
	h.ok(20*s, "MODE", "SPEED")
	// Re-armed by the CLEAR: trips again after another 2 s of silence.
	h.collect(h.fw.Advance(22*s + 1))
	if len(h.uns) != 2 {
		t.Fatalf("watchdog not re-armed after CLEAR: %v", h.uns)
	}
}

func TestFirmwareLevelsAndModes(t *testing.T) {
	h := newFW(t, Config{})
	h.code(0, dut.CodeWrongMode, "SPEED", "100")
	h.code(0, dut.CodeWrongMode, "LEVEL", "1")
	h.ok(0, "MODE", "LEVEL")
	for i, rpm := range ImpellaLevels {
		if got := h.field(h.ok(0, "LEVEL", strconv.Itoa(i)), "rpm"); got != rpm {
			t.Errorf("P%d = %d rpm, want %d", i, got, rpm)
		}
	}
	h.code(0, dut.CodeBadArgument, "LEVEL", "10")
	h.code(0, dut.CodeBadArgument, "LEVEL", "-1")
	h.code(0, dut.CodeWrongMode, "SPEED", "100")
	// MODE SPEED keeps the target (P9) bumplessly; MODE STOP drops it.
	h.ok(0, "MODE", "SPEED")
	if got := h.field(h.ok(0, "STATUS"), "target"); got != 51000 {
		t.Fatalf("target after MODE SPEED %d, want P9's 51000", got)
	}
	h.code(0, dut.CodeWrongMode, "LEVEL", "1")
	h.ok(0, "SPEED", "0")
	h.ok(0, "SPEED", "60000")
	h.code(0, dut.CodeBadArgument, "SPEED", "60001")
	h.ok(0, "MODE", "STOP")
	if got := h.field(h.ok(0, "STATUS"), "target"); got != 0 {
		t.Fatalf("target after STOP %d", got)
	}
	h.code(0, dut.CodeUnknownVerb, "JUMP")
	custom := newFW(t, Config{Levels: &[10]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}})
	custom.ok(0, "MODE", "LEVEL")
	if got := custom.field(custom.ok(0, "LEVEL", "7"), "rpm"); got != 7 {
		t.Fatalf("custom level table: %d", got)
	}
}

func TestFirmwareSelfTestBusy(t *testing.T) {
	h := newFW(t, Config{SelfTest: 3 * s})
	h.ok(0, "HELLO")
	h.ok(0, "STATUS")
	h.ok(0, "TELEM", "1")
	h.ok(0, "CLEAR")
	h.ok(0, "MODE", "STOP")
	h.code(1500*ms, dut.CodeBusy, "MODE", "SPEED")
	h.code(1500*ms, dut.CodeBadArgument, "MODE", "SPEEDY") // arguments are checked first
	h.ok(3*s, "MODE", "SPEED")
}

// testPump reports what the test tells it to.
type testPump struct{ st PumpState }

func (p *testPump) Update(_ time.Duration, rpm float64) PumpState {
	st := p.st
	st.RPM += rpm
	return st
}

func TestFirmwareAlarmsFromPump(t *testing.T) {
	p := &testPump{st: PumpState{PurgemmHg: 600}}
	h := newFW(t, Config{Pump: p})
	h.ok(0, "MODE", "SPEED")
	h.ok(0, "SPEED", "10000")

	p.st.Suction = true
	st := h.ok(100*ms, "STATUS")
	if h.field(st, "alarms") != int(dut.AlarmSuction) || len(h.uns) != 1 || h.uns[0].String() != "0 ALARM 01 suction" {
		t.Fatalf("suction: %s, unsolicited %v", st, h.uns)
	}
	h.ok(100*ms, "SPEED", "5000") // suction blocks nothing: the host must be able to slow down

	p.st.Suction, p.st.PurgemmHg, p.st.CurrentmA = false, 1200, 1500
	h.ok(200*ms, "PING")
	want := []string{"0 ALARM 01 suction", "0 ALARM 02 motor overcurrent", "0 ALARM 08 purge pressure high"}
	if strings.Join(frames(h.uns), "|") != strings.Join(want, "|") {
		t.Fatalf("unsolicited %v, want %v", h.uns, want)
	}
	h.code(200*ms, dut.CodeAlarmActive, "SPEED", "1000") // overcurrent blocks

	// CLEAR clears; what persists rises again at the next run.
	p.st.PurgemmHg, p.st.CurrentmA = 100, 0
	h.ok(300*ms, "CLEAR")
	st = h.ok(300*ms, "STATUS")
	if a := h.field(st, "alarms"); a != 0 {
		t.Fatalf("alarms after CLEAR at the same instant: %x", a)
	}
	p.st.RPM = -2000 // rotor lags the command
	st = h.ok(400*ms, "STATUS")
	if a := dut.Alarms(h.field(st, "alarms")); a != dut.AlarmPurgeLow|dut.AlarmSpeedDeviation {
		t.Fatalf("alarms %v, want purge low and speed deviation", a)
	}
	if n := h.fw.Stats().AlarmsRaised; n != 6 {
		t.Fatalf("%d alarms raised, want 6", n)
	}
}

// TestFirmwareTopSpeedIsTheDevices: a device whose profile tops out below
// VADLINK's 60,000 rpm refuses SPEED above its own top (error 2, bad
// argument) and takes it at the top.
func TestFirmwareTopSpeedIsTheDevices(t *testing.T) {
	h := newFW(t, Config{TopRPM: 33000})
	h.ok(0, "MODE", "SPEED")
	h.code(0, dut.CodeBadArgument, "SPEED", "33001")
	h.ok(0, "SPEED", "33000")
	if st := h.fw.State(); st.TargetRPM != 33000 {
		t.Errorf("target %d rpm, want 33000", st.TargetRPM)
	}
}

// TestFirmwareQuietAlarmsNeverRise: the alarms a device does not have
// (Config.Quiet) are neither latched nor sent, whatever its sensors read;
// the others still rise.
func TestFirmwareQuietAlarmsNeverRise(t *testing.T) {
	p := &testPump{st: PumpState{PurgemmHg: 1200, Suction: true}}
	h := newFW(t, Config{Pump: p, Quiet: dut.AlarmPurgeLow | dut.AlarmPurgeHigh})
	st := h.ok(100*ms, "STATUS")
	if a := dut.Alarms(h.field(st, "alarms")); a != dut.AlarmSuction {
		t.Errorf("alarms %v, want suction alone", a)
	}
	if got := strings.Join(frames(h.uns), "|"); got != "0 ALARM 01 suction" {
		t.Errorf("unsolicited %s", got)
	}
}

func frames(fs []dut.Frame) []string {
	var s []string
	for _, f := range fs {
		s = append(s, f.String())
	}
	return s
}

func TestFirmwareRetryIsAnsweredFromCache(t *testing.T) {
	h := newFW(t, Config{})
	line, _ := dut.AppendFrame(nil, dut.Frame{Seq: 5, Verb: "SPEED", Args: []string{"100"}})
	_, r1 := h.fw.Handle(0, line[:len(line)-1])
	_, r2 := h.fw.Handle(50*ms, line[:len(line)-1]) // the host's retry, same seq
	if string(r1) != string(r2) || !strings.Contains(string(r1), "ERR 3") {
		t.Fatalf("retry answered %q, first %q", r2, r1)
	}
	if st := h.fw.Stats(); st.Duplicates != 1 || st.Errors != 1 || st.Received != 2 {
		t.Fatalf("stats %+v: the retry must not be executed again", st)
	}
	// The same verb with a new seq is a new request.
	line2, _ := dut.AppendFrame(nil, dut.Frame{Seq: 6, Verb: "SPEED", Args: []string{"100"}})
	if _, r3 := h.fw.Handle(60*ms, line2[:len(line2)-1]); !strings.HasPrefix(string(r3), "6 ERR 3") || h.fw.Stats().Errors != 2 {
		t.Fatalf("new request answered %q", r3)
	}
}

func TestFirmwareDropsBadFrames(t *testing.T) {
	h := newFW(t, Config{})
	good, _ := dut.AppendFrame(nil, dut.Frame{Seq: 1, Verb: "PING"})
	seq0, _ := dut.AppendFrame(nil, dut.Frame{Seq: 0, Verb: "PING"})
	for _, l := range []string{
		"1 PING *0000",
		"1 PING",
		string(seq0[:len(seq0)-1]),
		strings.Repeat("x", 200),
	} {
		if _, r := h.fw.Handle(0, []byte(l)); r != nil {
			t.Fatalf("%q answered %q", l, r)
		}
	}
	if st := h.fw.Stats(); st.BadCRC != 1 || st.BadSyntax != 2 || st.TooLong != 1 || st.Received != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Bad frames do not feed the watchdog; a good one arms it.
	h.collect(h.fw.Advance(5 * s))
	if len(h.uns) != 0 {
		t.Fatal("watchdog armed by bad frames")
	}
	if _, r := h.fw.Handle(5*s, good[:len(good)-1]); r == nil {
		t.Fatal("no reply to a good frame")
	}
}

func TestFirmwareTelemetry(t *testing.T) {
	h := newFW(t, Config{})
	h.ok(0, "TELEM", "100")
	for now := ms; now <= 55*ms; now += ms {
		h.collect(h.fw.Advance(now))
	}
	if len(h.uns) != 5 {
		t.Fatalf("%d TLM frames in 55 ms at 100 Hz, want 5", len(h.uns))
	}
	for i, f := range h.uns {
		if v, _ := f.Field("t"); v != strconv.Itoa(10*(i+1)) || f.Verb != "TLM" {
			t.Fatalf("TLM %d: %s", i, f)
		}
	}
	// Catching up over several periods at once (as in virtual time, where
	// the firmware runs when a frame comes) sends the last one only.
	h.uns = nil
	h.collect(h.fw.Advance(95 * ms))
	if len(h.uns) != 1 {
		t.Fatalf("%d TLM frames catching up 40 ms", len(h.uns))
	}
	if v, _ := h.uns[0].Field("t"); v != "90" {
		t.Fatalf("TLM after catching up: %s", h.uns[0])
	}
	// An hour is no different, and costs one frame, not 360,000 (the
	// other frame is the watchdog's ALARM).
	h.uns = nil
	h.collect(h.fw.Advance(time.Hour + 5*ms))
	if len(h.uns) != 2 || h.uns[0].Verb != "ALARM" || h.uns[1].Verb != "TLM" {
		t.Fatalf("after an hour's jump: %v, want the ALARM and one TLM", h.uns)
	}
	if v, _ := h.uns[1].Field("t"); v != "3600000" {
		t.Fatalf("TLM after the jump: %s", h.uns[1])
	}
	h.ok(time.Hour+5*ms, "TELEM", "0")
	h.uns = nil
	h.collect(h.fw.Advance(2 * time.Hour))
	if len(h.uns) != 0 {
		t.Fatalf("TLM after TELEM 0: %v", h.uns)
	}
	h.code(0, dut.CodeBadArgument, "TELEM", "101")
}

func TestFirmwareTimeNeverGoesBack(t *testing.T) {
	h := newFW(t, Config{})
	h.ok(s, "MODE", "SPEED")
	h.ok(s, "SPEED", "10000")
	h.fw.Advance(2 * s)
	st := h.ok(s, "STATUS") // a stale time stamp is taken as "now"
	if h.field(st, "rpm") != 10000 || h.fw.State().Now != 2*s {
		t.Fatalf("after a late frame: %s, firmware at %v", st, h.fw.State().Now)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{Model: "two words"},
		{Serial: strings.Repeat("s", 100)},
		{SafeRPM: -1},
		{SafeRPM: 70000},
		{RampRate: -5},
		{AdvanceEvery: -1},
		{Levels: &[10]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 90000}},
		{TopRPM: 70000},
		{TopRPM: 30000, Levels: &ImpellaLevels},
		{TopRPM: 30000, SafeRPM: 31000},
		{Quiet: dut.AlarmHostLinkLost},
	} {
		if _, err := NewFirmware(c, 0); err == nil || !strings.HasPrefix(err.Error(), "dutsim: ") {
			t.Errorf("config %+v: err %v", c, err)
		}
	}
}
