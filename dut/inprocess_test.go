package dut_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/dut/dutsim"
)

// setupInProcess serves a simulated DUT in process and dials it through
// its dut.SyncPort, with VADLINK's own reply timeout (line time there, so
// a loaded machine changes nothing); both are closed at cleanup.
func setupInProcess(t testing.TB, scfg dutsim.Config, dcfg dut.Config) (*dutsim.Server, *dut.VADLINK) {
	t.Helper()
	scfg.InProcess = true
	if scfg.Clock == nil {
		scfg.Clock = virtual()
	}
	srv, err := dutsim.Serve(context.Background(), scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dcfg.Path, dcfg.Open, dcfg.Clock = srv.Name(), srv.Open, scfg.Clock
	d, err := dut.Dial(context.Background(), dcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return srv, d
}

// TestInProcessNeedsNoGoroutineNorWallTime: over the in-process port the
// driver starts no goroutine, and a lost link — three attempts of 100 ms
// each — is declared without waiting for them on the wall clock.
func TestInProcessNeedsNoGoroutineNorWallTime(t *testing.T) {
	before := runtime.NumGoroutine()
	srv, d := setupInProcess(t, dutsim.Config{}, dut.Config{})
	if n := runtime.NumGoroutine(); n != before {
		t.Errorf("%d goroutines after Dial, %d before", n, before)
	}
	for range 100 {
		_, err := d.Status(ctxT(t))
		must(t, err)
	}
	srv.SetFaults(dutsim.Faults{Silent: true})
	t0 := time.Now()
	_, err := d.Status(ctxT(t))
	took := time.Since(t0)
	if !errors.Is(err, dut.ErrNoReply) || !errors.Is(err, dut.ErrLinkLost) {
		t.Fatalf("silent DUT: %v, want ErrNoReply and ErrLinkLost", err)
	}
	if took > 50*time.Millisecond {
		t.Errorf("link loss took %v of wall time; the 3 × 100 ms are line time", took)
	}
	if n := d.Stats(); n.Sent != 1+100+3 || n.Retries != 2 || n.NoReply != 1 || n.LinkLost != 1 {
		t.Errorf("stats %+v", n)
	}
}

// TestInProcessLinkFaults: each link fault of dutsim acts over the
// in-process port as VADLINK.md has the host see it on a wire.
func TestInProcessLinkFaults(t *testing.T) {
	for drops := 0; drops <= 3; drops++ {
		t.Run("drop-next="+strconv.Itoa(drops), func(t *testing.T) {
			rec := newRecorder()
			srv, d := setupInProcess(t, dutsim.Config{}, rec.hook(dut.Config{}))
			rec.reset()
			srv.UpdateFaults(func(f *dutsim.Faults) { f.DropNext = drops })
			_, err := d.Status(ctxT(t))
			sent := rec.sent()
			if drops == 3 {
				if !errors.Is(err, dut.ErrNoReply) || len(sent) != 3 {
					t.Fatalf("3 drops: %v after %d attempts", err, len(sent))
				}
				return
			}
			must(t, err)
			if len(sent) != drops+1 || d.Stats().Retries != uint64(drops) || srv.Stats().Duplicates != uint64(drops) {
				t.Fatalf("%d drops: %d attempts, host %+v, device %+v", drops, len(sent), d.Stats(), srv.Stats())
			}
			for i, e := range sent {
				if e.Attempt != i || e.Line != sent[0].Line {
					t.Errorf("attempt %d: %+v", i, e)
				}
			}
		})
	}
	t.Run("corrupt-next=2", func(t *testing.T) {
		srv, d := setupInProcess(t, dutsim.Config{}, dut.Config{})
		srv.UpdateFaults(func(f *dutsim.Faults) { f.CorruptNext = 2 })
		_, err := d.Status(ctxT(t))
		must(t, err)
		if n := d.Stats(); n.BadCRC != 2 || n.Retries != 2 {
			t.Fatalf("stats %+v, want 2 bad CRCs and 2 retries", n)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		srv, d := setupInProcess(t, dutsim.Config{Faults: dutsim.Faults{Garbage: 1, Seed: 11}}, dut.Config{})
		statusThroughGarbage(t, srv, d)
	})
	t.Run("babble", func(t *testing.T) {
		srv, d := setupInProcess(t, dutsim.Config{}, dut.Config{})
		srv.SetFaults(dutsim.Faults{Babble: true, Seed: 5})
		if _, err := d.Status(ctxT(t)); !errors.Is(err, dut.ErrLinkLost) {
			t.Fatalf("babbling DUT: %v, want ErrLinkLost", err)
		}
	})
}

// TestInProcessDelayIsLineTime: a reply delayed 150 ms misses VADLINK's
// 100 ms and is retried; the first reply arrives 50 ms into the retry and
// is taken; the duplicate the retry drew arrives after and is dropped as
// stale at the next request — the wire's sequence, with no wall time spent.
func TestInProcessDelayIsLineTime(t *testing.T) {
	srv, d := setupInProcess(t, dutsim.Config{}, dut.Config{})
	srv.UpdateFaults(func(f *dutsim.Faults) { f.Delay = 150 * time.Millisecond })
	t0 := time.Now()
	_, err := d.Status(ctxT(t))
	must(t, err)
	if took, n := time.Since(t0), d.Stats(); n.Retries != 1 || n.SeqMismatch != 0 || took > 50*time.Millisecond {
		t.Fatalf("delayed reply: %+v after %v; want 1 retry at once", n, took)
	}
	srv.SetFaults(dutsim.Faults{})
	_, err = d.Status(ctxT(t))
	must(t, err)
	if n := d.Stats(); n.Retries != 1 || n.SeqMismatch != 1 {
		t.Fatalf("after the delay: %+v, want the stale duplicate dropped", n)
	}
	// A delay under the timeout costs no retry.
	srv.UpdateFaults(func(f *dutsim.Faults) { f.Delay = 60 * time.Millisecond })
	_, err = d.Status(ctxT(t))
	must(t, err)
	if n := d.Stats(); n.Retries != 1 {
		t.Fatalf("a 60 ms delay was retried: %+v", n)
	}
}

// TestInProcessUnplugReconnectAndBlind: unplugged, the in-process DUT
// fails the next request at once; Reconnect finds it again after Replug;
// after a loss, SendBlind still reaches its firmware.
func TestInProcessUnplugReconnectAndBlind(t *testing.T) {
	srv, d := setupInProcess(t, dutsim.Config{}, dut.Config{})
	must(t, d.SetMode(ctxT(t), dut.ModeLevel))
	_, err := d.SetLevel(ctxT(t), 4)
	must(t, err)
	must(t, srv.Unplug())
	if _, err := d.Status(ctxT(t)); !errors.Is(err, dut.ErrLinkLost) {
		t.Fatalf("unplugged: %v, want ErrLinkLost", err)
	}
	if err := d.SendBlind("MODE", "STOP"); err == nil {
		t.Error("SendBlind reached an unplugged device")
	}
	go func() { time.Sleep(50 * time.Millisecond); srv.Replug() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(t, d.Reconnect(ctx))
	st, err := d.Status(ctxT(t))
	must(t, err)
	if st.TargetRPM != dutsim.ImpellaLevels[4] {
		t.Errorf("after reconnecting: target %d", st.TargetRPM)
	}
	srv.SetFaults(dutsim.Faults{Silent: true})
	if _, err := d.Status(ctxT(t)); !errors.Is(err, dut.ErrLinkLost) {
		t.Fatal(err)
	}
	must(t, d.SendBlind("MODE", "STOP"))
	if m := srv.Firmware().State().Mode; m != dut.ModeStop {
		t.Errorf("blind MODE STOP left the DUT in %v", m)
	}
}

// TestInProcessSameFramesAsPTY: the same requests to the same firmware on
// the same virtual clock give the same frames, in the same order, at the
// same instants, over the pty and in process; telemetry and alarms too.
func TestInProcessSameFramesAsPTY(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the pty half")
	}
	script := func(t *testing.T, d *dut.VADLINK, clk interface{ Advance(time.Duration) }) {
		ctx := ctxT(t)
		must(t, d.SetTelemetry(ctx, 10))
		must(t, d.SetMode(ctx, dut.ModeSpeed))
		for i := range 30 {
			clk.Advance(40 * time.Millisecond)
			must(t, d.SetSpeed(ctx, 1000*i))
			_, err := d.Status(ctx)
			must(t, err)
		}
		clk.Advance(3 * time.Second) // the watchdog trips: ALARM and TLM
		_, err := d.Status(ctx)
		must(t, err)
		must(t, d.ClearAlarms(ctx))
	}
	type seen struct {
		frames []string
		tlm    []dut.Telemetry
		alarms []dut.AlarmEvent
	}
	run := func(t *testing.T, inProcess bool) seen {
		clk := virtual()
		rec := newRecorder()
		var d *dut.VADLINK
		if inProcess {
			_, d = setupInProcess(t, dutsim.Config{Clock: clk}, rec.hook(dut.Config{}))
		} else {
			_, d = setup(t, dutsim.Config{Clock: clk}, rec.hook(dut.Config{}))
		}
		script(t, d, clk)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		var s seen
		for _, f := range rec.frames {
			s.frames = append(s.frames, f.Dir.String()+" "+f.At.String()+" "+f.Line)
		}
		s.tlm, s.alarms = slices.Clone(rec.tlm), slices.Clone(rec.alarms)
		return s
	}
	pty, mem := run(t, false), run(t, true)
	if len(mem.frames) < 60 || len(mem.tlm) == 0 || len(mem.alarms) == 0 {
		t.Fatalf("script too thin: %d frames, %d TLM, %d ALARM", len(mem.frames), len(mem.tlm), len(mem.alarms))
	}
	if !slices.Equal(pty.frames, mem.frames) {
		for i := range min(len(pty.frames), len(mem.frames)) {
			if pty.frames[i] != mem.frames[i] {
				t.Errorf("frame %d: pty %q, in process %q", i, pty.frames[i], mem.frames[i])
				break
			}
		}
		t.Fatalf("%d frames over the pty, %d in process", len(pty.frames), len(mem.frames))
	}
	if !slices.Equal(pty.tlm, mem.tlm) || !slices.Equal(pty.alarms, mem.alarms) {
		t.Errorf("telemetry or alarms differ:\npty %v %v\nmem %v %v", pty.tlm, pty.alarms, mem.tlm, mem.alarms)
	}
}
