package dut_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/dut/dutsim"
)

func TestEveryVerb(t *testing.T) {
	checkLeaks(t)
	clk := virtual()
	rec := newRecorder()
	srv, d := setup(t, dutsim.Config{Clock: clk, Serial: "SN-42", FW: "2.1"}, rec.hook(dut.Config{}))
	ctx := ctxT(t)

	// HELLO, at Dial and again.
	if got := d.Identity(); got != (dut.Identity{Model: "dutsim-impella", Serial: "SN-42", FW: "2.1", Proto: 1}) {
		t.Fatalf("identity at Dial = %+v", got)
	}
	id, err := d.Identify(ctx)
	must(t, err)
	if id.Serial != "SN-42" || id.Model != "dutsim-impella" {
		t.Fatalf("Identify = %+v", id)
	}

	// PING.
	must(t, d.Ping(ctx))

	checkLevels(t, ctx, d)

	// MODE SPEED keeps the target; SPEED sets it; the ramp follows.
	must(t, d.SetMode(ctx, dut.ModeSpeed))
	must(t, d.SetSpeed(ctx, 30000))
	clk.Advance(time.Second)
	st, err := d.Status(ctx)
	must(t, err)
	// Started at 0 rpm (everything above happened at t=0): 1 s at 10,000 rpm/s.
	if st.RPM != 10000 || st.TargetRPM != 30000 || st.Alarms != 0 || st.PurgemmHg != 600 {
		t.Fatalf("STATUS after 1 s = %+v, want rpm 10000 of 30000, no alarm, purge 600", st)
	}
	if wantCur := 23; st.CurrentmA != wantCur { // 600 mA × (10000/51000)² = 23.07 mA
		t.Errorf("current %d mA, want %d (default pump, ∝ rpm²)", st.CurrentmA, wantCur)
	}
	if abs(st.PowermW-12*st.CurrentmA) > 6 {
		t.Errorf("power %d mW for %d mA at 12 V", st.PowermW, st.CurrentmA)
	}

	// MODE STOP (Stop) sends the target to the safe speed.
	must(t, d.Stop(ctx))
	clk.Advance(500 * time.Millisecond)
	st, err = d.Status(ctx)
	must(t, err)
	if st.TargetRPM != 0 || st.RPM != 5000 {
		t.Fatalf("STATUS 0.5 s after STOP = %+v, want target 0, rpm 5000", st)
	}
	if s := srv.Firmware().State(); s.Mode != dut.ModeStop {
		t.Errorf("firmware mode %v after Stop", s.Mode)
	}

	// TELEM: accepted 0..100; in virtual time TLM goes out when the
	// firmware runs, here at the next frame.
	must(t, d.SetTelemetry(ctx, 10))
	clk.Advance(250 * time.Millisecond)
	must(t, d.Ping(ctx))
	must(t, d.SetTelemetry(ctx, 0))
	rec.mu.Lock()
	ntlm := len(rec.tlm)
	var tlm dut.Telemetry
	if ntlm > 0 {
		tlm = rec.tlm[0]
	}
	rec.mu.Unlock()
	// Due at 1.6 s and 1.7 s; catching up at 1.75 s the firmware sends
	// only the last, when the ramp down from 5000 rpm was at 3000.
	if ntlm != 1 || tlm.DeviceT != 1700*time.Millisecond || tlm.RPM != 3000 || tlm.PurgemmHg != 600 {
		t.Errorf("telemetry %d frames, first %+v; want 1 frame at t=1700ms, 3000 rpm", ntlm, tlm)
	}

	// CLEAR.
	must(t, d.ClearAlarms(ctx))

	checkEachSentOnce(t, rec, d, srv)
}

// checkLevels runs MODE LEVEL and LEVEL 0..9, with the Impella table.
func checkLevels(t *testing.T, ctx context.Context, d *dut.VADLINK) {
	t.Helper()
	must(t, d.SetMode(ctx, dut.ModeLevel))
	want := []int{0, 25000, 35000, 38000, 40000, 43000, 45000, 47000, 50000, 51000}
	for lvl, rpm := range want {
		got, err := d.SetLevel(ctx, lvl)
		must(t, err)
		if got != rpm {
			t.Errorf("LEVEL %d: rpm=%d, want %d", lvl, got, rpm)
		}
		st, err := d.Status(ctx)
		must(t, err)
		if st.TargetRPM != rpm {
			t.Errorf("after LEVEL %d: target %d, want %d", lvl, st.TargetRPM, rpm)
		}
	}
}

// checkEachSentOnce checks that every request went out once, with
// increasing sequence numbers, and that every reply came back.
func checkEachSentOnce(t *testing.T, rec *recorder, d *dut.VADLINK, srv *dutsim.Server) {
	t.Helper()
	sent := rec.sent()
	for i, e := range sent {
		if int(e.Frame.Seq) != i+1 || e.Attempt != 0 {
			t.Errorf("request %d: seq %d attempt %d", i, e.Frame.Seq, e.Attempt)
		}
	}
	s := d.Stats()
	if s.Sent != uint64(len(sent)) || s.Retries != 0 || s.BadCRC+s.BadSyntax+s.TooLong+s.SeqMismatch != 0 {
		t.Errorf("stats %+v", s)
	}
	if ss := srv.Stats(); ss.Received != s.Sent || ss.Errors != 0 {
		t.Errorf("device saw %d frames, %d errors; host sent %d", ss.Received, ss.Errors, s.Sent)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestFrameHook(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	_, d := setup(t, dutsim.Config{Clock: virtual()}, rec.hook(dut.Config{}))
	rec.reset()
	_, err := d.Status(ctxT(t))
	must(t, err)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.frames) != 2 {
		t.Fatalf("%d frame events for one STATUS, want 2: %+v", len(rec.frames), rec.frames)
	}
	tx, rx := rec.frames[0], rec.frames[1]
	if tx.Dir != dut.Sent || !regexp.MustCompile(`^2 STATUS \*[0-9A-F]{4}$`).MatchString(tx.Line) || tx.Frame.Verb != "STATUS" {
		t.Errorf("sent event %+v", tx)
	}
	if rx.Dir != dut.Received || rx.Frame.Seq != 2 || rx.Frame.Verb != "OK" || rx.Err != nil ||
		!regexp.MustCompile(`^2 OK rpm=0 target=0 cur=0 pwr=0 purge=600 alarms=00 \*[0-9A-F]{4}$`).MatchString(rx.Line) {
		t.Errorf("received event %+v", rx)
	}
	if tx.Dir.String() != "tx" || rx.Dir.String() != "rx" {
		t.Error("Direction.String")
	}
}

func TestErrorCodes(t *testing.T) {
	checkLeaks(t)
	clk := virtual()
	_, d := setup(t, dutsim.Config{Clock: clk, SelfTest: time.Second}, dut.Config{})
	ctx := ctxT(t)

	// 1: unknown verb.
	_, err := d.Command(ctx, "FLY")
	wantCode(t, err, dut.CodeUnknownVerb)
	if !errors.Is(err, dut.ErrUnknownVerb) {
		t.Errorf("errors.Is(%v, ErrUnknownVerb) is false", err)
	}

	// 4: busy during the self-test, for speed commands only.
	wantCode(t, d.SetMode(ctx, dut.ModeSpeed), dut.CodeBusy)
	_, err = d.Status(ctx)
	must(t, err)
	must(t, d.Stop(ctx)) // the safe command always works
	clk.Advance(time.Second)
	must(t, d.SetMode(ctx, dut.ModeSpeed))

	// 2: bad argument.
	for _, c := range [][]string{{"SPEED", "60001"}, {"SPEED", "-1"}, {"SPEED", "fast"}, {"SPEED"},
		{"LEVEL", "10"}, {"TELEM", "101"}, {"MODE", "FAST"}, {"MODE"}, {"HELLO", "x"}, {"STATUS", "1"}} {
		_, err := d.Command(ctx, c[0], c[1:]...)
		wantCode(t, err, dut.CodeBadArgument)
	}
	wantCode(t, d.SetSpeed(ctx, 60001), dut.CodeBadArgument)
	must(t, d.SetSpeed(ctx, 60000))

	// 3: not allowed in this mode.
	_, err = d.SetLevel(ctx, 3)
	wantCode(t, err, dut.CodeWrongMode)
	must(t, d.SetMode(ctx, dut.ModeLevel))
	wantCode(t, d.SetSpeed(ctx, 1000), dut.CodeWrongMode)
	must(t, d.Stop(ctx))
	wantCode(t, d.SetSpeed(ctx, 1000), dut.CodeWrongMode)

	// 5: alarm active, after the watchdog tripped.
	must(t, d.SetMode(ctx, dut.ModeSpeed))
	clk.Advance(2100 * time.Millisecond)
	st, err := d.Status(ctx)
	must(t, err)
	if st.Alarms&dut.AlarmHostLinkLost == 0 {
		t.Fatalf("no host-link alarm after 2.1 s of silence: %+v", st)
	}
	err = d.SetSpeed(ctx, 1000)
	wantCode(t, err, dut.CodeAlarmActive)
	if !errors.Is(err, dut.ErrAlarmActive) || errors.Is(err, dut.ErrBusy) {
		t.Errorf("errors.Is mismatch for %v", err)
	}
	var de *dut.Error
	errors.As(err, &de)
	if de.Text != "alarm active" {
		t.Errorf("ERR text %q", de.Text)
	}
	wantCode(t, d.SetMode(ctx, dut.ModeLevel), dut.CodeAlarmActive)
	// An ERR is the device's answer, not a link failure.
	if d.Err() != nil || d.Stats().LinkLost != 0 {
		t.Fatalf("link state %v after ERR replies", d.Err())
	}
}

func TestRampAndLevels(t *testing.T) {
	checkLeaks(t)
	clk := virtual()
	_, d := setup(t, dutsim.Config{Clock: clk}, dut.Config{})
	ctx := ctxT(t)
	must(t, d.SetMode(ctx, dut.ModeLevel))
	rpm, err := d.SetLevel(ctx, 8)
	must(t, err)
	if rpm != 50000 {
		t.Fatalf("P8 = %d rpm", rpm)
	}
	// 10,000 rpm/s: 0 -> 50,000 takes 5 s. Sample it every 0.5 s (each
	// STATUS also feeds the watchdog).
	for i := 1; i <= 12; i++ {
		clk.Advance(500 * time.Millisecond)
		st, err := d.Status(ctx)
		must(t, err)
		want := min(i*5000, 50000)
		if st.RPM != want {
			t.Fatalf("t=%.1fs: rpm %d, want %d", float64(i)/2, st.RPM, want)
		}
	}
	// Down to P2 at the same rate.
	_, err = d.SetLevel(ctx, 2)
	must(t, err)
	clk.Advance(time.Second)
	st, err := d.Status(ctx)
	must(t, err)
	if st.RPM != 40000 || st.TargetRPM != 35000 {
		t.Fatalf("1 s into P8 -> P2: %+v, want rpm 40000 target 35000", st)
	}
}

func TestWatchdog(t *testing.T) {
	checkLeaks(t)
	clk := virtual()
	rec := newRecorder()
	_, d := setup(t, dutsim.Config{Clock: clk}, rec.hook(dut.Config{}))
	ctx := ctxT(t)

	// Kept alive by Maintain on the virtual clock, the watchdog never trips:
	// 10 virtual seconds in 10 ms steps with nothing but Maintain.
	must(t, d.SetMode(ctx, dut.ModeSpeed))
	must(t, d.SetSpeed(ctx, 30000))
	rec.reset()
	for range 1000 {
		clk.Advance(10 * time.Millisecond)
		must(t, d.Maintain(ctx))
	}
	pings := rec.sent()
	if len(pings) != 20 {
		t.Fatalf("%d keep-alive frames in 10 s, want 20 (one per 500 ms)", len(pings))
	}
	for i, e := range pings {
		if e.Frame.Verb != "PING" || e.At != time.Duration(i+1)*500*time.Millisecond {
			t.Fatalf("keep-alive %d: %s at %v, want PING at %v", i, e.Frame.Verb, e.At, time.Duration(i+1)*500*time.Millisecond)
		}
	}
	st, err := d.Status(ctx)
	must(t, err)
	if st.Alarms != 0 || st.RPM != 30000 {
		t.Fatalf("after 10 s of keep-alive: %+v", st)
	}

	// Host silent for 2.5 s: the alarm rose at 2.0 s, when the pump was
	// still at 30,000 rpm; 0.5 s of ramp down later it is at 25,000.
	clk.Advance(2500 * time.Millisecond)
	st, err = d.Status(ctx)
	must(t, err)
	if st.Alarms != dut.AlarmHostLinkLost || st.TargetRPM != 0 || st.RPM != 25000 {
		t.Fatalf("2.5 s after the last frame: %+v, want alarm 0x20, target 0, rpm 25000", st)
	}
	rec.mu.Lock()
	alarms := append([]dut.AlarmEvent(nil), rec.alarms...)
	rec.mu.Unlock()
	if len(alarms) != 1 || alarms[0].Bits != dut.AlarmHostLinkLost || alarms[0].Text != "host link lost" {
		t.Fatalf("ALARM frames %+v, want one 0x20", alarms)
	}
	// The ALARM came before the reply that revealed it.
	rec.mu.Lock()
	var order []string
	for _, e := range rec.frames[len(rec.frames)-3:] {
		order = append(order, e.Dir.String()+" "+e.Frame.Verb)
	}
	rec.mu.Unlock()
	if want := "[tx STATUS rx ALARM rx OK]"; fmtList(order) != want {
		t.Errorf("frame order %v, want %s", order, want)
	}

	// Latched until CLEAR, and it stays at the safe speed.
	wantCode(t, d.SetMode(ctx, dut.ModeSpeed), dut.CodeAlarmActive)
	clk.Advance(3 * time.Second)
	st, err = d.Status(ctx)
	must(t, err)
	if st.RPM != 0 || st.Alarms != dut.AlarmHostLinkLost {
		t.Fatalf("3 s later: %+v, want stopped, alarm latched", st)
	}
	must(t, d.ClearAlarms(ctx))
	must(t, d.SetMode(ctx, dut.ModeSpeed))
	must(t, d.SetSpeed(ctx, 1000))
	st, err = d.Status(ctx)
	must(t, err)
	if st.Alarms != 0 || st.TargetRPM != 1000 {
		t.Fatalf("after CLEAR: %+v", st)
	}
}

func fmtList(s []string) string {
	out := "["
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out + "]"
}

func TestTelemetryStream(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	// Real time: the firmware runs on its own every 2 ms.
	_, d := setup(t, dutsim.Config{AdvanceEvery: 2 * time.Millisecond}, rec.hook(dut.Config{}))
	ctx := ctxT(t)
	must(t, d.SetMode(ctx, dut.ModeSpeed))
	must(t, d.SetSpeed(ctx, 20000))
	must(t, d.SetTelemetry(ctx, 50))
	// Ten frames come in 0.2 s on an idle machine; a loaded one may take
	// longer and skip some, which the stream allows.
	count := func() int {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.tlm)
	}
	for end := time.Now().Add(10 * time.Second); count() < 10 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	must(t, d.SetTelemetry(ctx, 0))
	time.Sleep(50 * time.Millisecond)
	rec.mu.Lock()
	tlm := append([]dut.Telemetry(nil), rec.tlm...)
	rec.mu.Unlock()
	if len(tlm) < 10 {
		t.Fatalf("%d TLM frames at 50 Hz in 10 s", len(tlm))
	}
	// Device time steps by the period; a late tick may skip a frame
	// (telemetry is lossy), never shift the grid nor repeat a frame.
	for i := 1; i < len(tlm); i++ {
		dt := tlm[i].DeviceT - tlm[i-1].DeviceT
		if dt <= 0 || dt%(20*time.Millisecond) != 0 {
			t.Fatalf("TLM %d: device time step %v, want a multiple of 20ms", i, dt)
		}
		if tlm[i].RPM < tlm[i-1].RPM {
			t.Fatalf("rpm fell while ramping up: %d -> %d", tlm[i-1].RPM, tlm[i].RPM)
		}
	}
	if got := d.Stats().TLMFrames; got != uint64(len(tlm)) {
		t.Errorf("Stats.TLMFrames %d, delivered %d", got, len(tlm))
	}
	time.Sleep(60 * time.Millisecond)
	rec.mu.Lock()
	after := len(rec.tlm)
	rec.mu.Unlock()
	if after != len(tlm) {
		t.Errorf("TLM kept coming after TELEM 0: %d -> %d", len(tlm), after)
	}
}
