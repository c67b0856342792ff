package dut_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/dut/dutsim"
)

// scripted is a DUT played by the test on the master side of a pty: the
// driver goes through go.bug.st/serial as usual, the test sees and writes
// raw bytes.
type scripted struct {
	t      testing.TB
	master *os.File
	lr     *dut.LineReader
}

func newScripted(t testing.TB) (*scripted, string) {
	t.Helper()
	m, s, err := dutsim.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return &scripted{t: t, master: m, lr: dut.NewLineReader(m)}, s.Name()
}

// expect reads the next request the host sent.
func (s *scripted) expect(verb string) dut.Frame {
	s.t.Helper()
	s.master.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := s.lr.ReadLine()
	if err != nil {
		s.t.Fatalf("scripted DUT: waiting for %s: %v", verb, err)
	}
	f, err := dut.ParseFrame(line)
	if err != nil || f.Verb != verb {
		s.t.Fatalf("scripted DUT: got %q (%v), want %s", line, err, verb)
	}
	return f
}

// send writes raw bytes to the host.
func (s *scripted) send(b string) {
	s.t.Helper()
	if _, err := s.master.Write([]byte(b)); err != nil {
		s.t.Fatal(err)
	}
}

// reply writes a well-formed frame.
func (s *scripted) reply(seq uint16, verb string, args ...string) {
	s.t.Helper()
	b, err := dut.AppendFrame(nil, dut.Frame{Seq: seq, Verb: verb, Args: args})
	if err != nil {
		s.t.Fatal(err)
	}
	s.send(string(b))
}

func (s *scripted) hello() {
	f := s.expect("HELLO")
	s.reply(f.Seq, "OK", "model=scripted", "serial=1", "fw=0", "proto=1")
}

// dialScripted dials a scripted DUT, playing its HELLO.
func dialScripted(t testing.TB, cfg dut.Config) (*scripted, *dut.VADLINK) {
	t.Helper()
	s, path := newScripted(t)
	cfg.Path = path
	if cfg.ReplyTimeout == 0 {
		// A script on a loaded machine may answer later than VADLINK's
		// 100 ms; a test of that timing sets it (TestRetrySameSeq).
		cfg.ReplyTimeout = time.Second
	}
	done := make(chan struct{})
	go func() { defer close(done); s.hello() }()
	d, err := dut.Dial(context.Background(), cfg)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return s, d
}

// async runs a request in the background.
func async[T any](fn func() (T, error)) func() (T, error) {
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() { v, err := fn(); ch <- res{v, err} }()
	return func() (T, error) { r := <-ch; return r.v, r.err }
}

const statusFields = "rpm=1 target=2 cur=3 pwr=4 purge=5 alarms=0"

func statusReply(s *scripted, seq uint16) {
	s.reply(seq, "OK", "rpm=1", "target=2", "cur=3", "pwr=4", "purge=5", "alarms=0")
}

func TestSeqMismatchDropped(t *testing.T) {
	checkLeaks(t)
	s, d := dialScripted(t, dut.Config{})
	wait := async(func() (dut.Status, error) { return d.Status(ctxT(t)) })
	f := s.expect("STATUS")
	s.reply(f.Seq+1, "OK", "rpm=999", "target=0", "cur=0", "pwr=0", "purge=0", "alarms=0") // not ours
	s.reply(f.Seq-1, "ERR", "4", "busy")                                                   // an old one
	statusReply(s, f.Seq)
	st, err := wait()
	must(t, err)
	if st.RPM != 1 {
		t.Fatalf("took a mismatched reply: %+v", st)
	}
	if n := d.Stats(); n.SeqMismatch != 2 || n.Retries != 0 {
		t.Fatalf("stats %+v, want 2 mismatches, no retry", n)
	}
	// A reply with no request outstanding is dropped too.
	s.reply(f.Seq, "OK")
	wait = async(func() (dut.Status, error) { return d.Status(ctxT(t)) })
	f2 := s.expect("STATUS")
	statusReply(s, f2.Seq)
	_, err = wait()
	must(t, err)
	if n := d.Stats(); n.SeqMismatch != 3 {
		t.Fatalf("stale reply: %d mismatches, want 3", n.SeqMismatch)
	}
}

func TestRetrySameSeq(t *testing.T) {
	checkLeaks(t)
	s, d := dialScripted(t, dut.Config{ReplyTimeout: dut.ReplyTimeout})
	wait := async(func() (dut.Status, error) { return d.Status(ctxT(t)) })
	t0 := time.Now()
	f1 := s.expect("STATUS")
	f2 := s.expect("STATUS") // no reply: sent again
	gap := time.Since(t0)
	f3 := s.expect("STATUS")
	if f1.Seq != f2.Seq || f2.Seq != f3.Seq {
		t.Fatalf("retries changed seq: %d %d %d", f1.Seq, f2.Seq, f3.Seq)
	}
	if gap < 90*time.Millisecond {
		t.Fatalf("retry after %v, want 100 ms", gap)
	}
	statusReply(s, f3.Seq)
	_, err := wait()
	must(t, err)
	if n := d.Stats(); n.Retries != 2 || n.Sent != 4 {
		t.Fatalf("stats %+v, want 2 retries, 4 frames sent (HELLO + 3)", n)
	}
}

func TestBadCRCCounted(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	s, d := dialScripted(t, rec.hook(dut.Config{}))
	wait := async(func() (dut.Status, error) { return d.Status(ctxT(t)) })
	f := s.expect("STATUS")
	body := strconv.Itoa(int(f.Seq)) + " OK " + statusFields
	s.send(body + " *0000\n") // a CRC that is wrong...
	s.send(body + " *00\n")   // ...and one that is not a CRC at all
	s.expect("STATUS")        // so the host asks again
	statusReply(s, f.Seq)
	_, err := wait()
	must(t, err)
	n := d.Stats()
	if n.BadCRC != 1 || n.BadSyntax != 1 || n.Retries != 1 {
		t.Fatalf("stats %+v, want 1 bad CRC, 1 bad syntax, 1 retry", n)
	}
	var errs []error
	rec.mu.Lock()
	for _, e := range rec.frames {
		if e.Err != nil {
			errs = append(errs, e.Err)
		}
	}
	rec.mu.Unlock()
	if len(errs) != 2 || !errors.Is(errs[0], dut.ErrCRC) || !errors.Is(errs[1], dut.ErrSyntax) {
		t.Fatalf("dropped-frame events %v", errs)
	}
}

func TestTooLongDroppedAndResync(t *testing.T) {
	checkLeaks(t)
	s, d := dialScripted(t, dut.Config{})
	wait := async(func() (dut.Status, error) { return d.Status(ctxT(t)) })
	f := s.expect("STATUS")
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'A' + byte(i%26)
	}
	// A frame-looking tail on an over-long line must not be taken.
	b, _ := dut.AppendFrame(nil, dut.Frame{Seq: f.Seq, Verb: "OK", Args: []string{"rpm=666", "target=0", "cur=0", "pwr=0", "purge=0", "alarms=0"}})
	s.send(string(long) + " " + string(b))
	s.send(string(long[:200]))
	s.send(string(long[:200]) + "\r\n")
	statusReply(s, f.Seq)
	st, err := wait()
	must(t, err)
	if st.RPM != 1 {
		t.Fatalf("took the tail of an over-long line: %+v", st)
	}
	if n := d.Stats(); n.TooLong != 2 || n.Retries != 0 || n.BadSyntax != 0 {
		t.Fatalf("stats %+v, want 2 over-long lines, nothing else", n)
	}
}

func TestUnexpectedFrames(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	s, d := dialScripted(t, rec.hook(dut.Config{}))
	wait := async(func() (dut.Status, error) { return d.Status(ctxT(t)) })
	f := s.expect("STATUS")
	s.reply(0, "HUH")                                                          // unknown unsolicited
	s.reply(f.Seq, "TLM", "t=1")                                               // TLM with a seq
	s.reply(0, "TLM", "t=1")                                                   // TLM without its fields
	s.reply(0, "ALARM", "01", "suction")                                       // good
	s.reply(0, "TLM", "t=5", "rpm=1", "cur=2", "pwr=3", "purge=4", "alarms=0") // good
	statusReply(s, f.Seq)
	_, err := wait()
	must(t, err)
	n := d.Stats()
	if n.Unexpected != 2 || n.BadSyntax != 1 || n.AlarmFrames != 1 || n.TLMFrames != 1 {
		t.Fatalf("stats %+v", n)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.alarms) != 1 || rec.alarms[0].Bits != dut.AlarmSuction || len(rec.tlm) != 1 || rec.tlm[0].DeviceT != 5*time.Millisecond {
		t.Fatalf("alarms %+v, telemetry %+v", rec.alarms, rec.tlm)
	}
}

// Fault tests against the simulated DUT.

func TestFaultDropNext(t *testing.T) {
	for drops := 0; drops <= 3; drops++ {
		t.Run(strconv.Itoa(drops), func(t *testing.T) {
			checkLeaks(t)
			rec := newRecorder()
			// Three drops time VADLINK's 100 ms; fewer must be retried
			// and answered whatever the machine's load.
			dcfg := dut.Config{}
			if drops == 3 {
				dcfg.ReplyTimeout = dut.ReplyTimeout
			}
			srv, d := setup(t, dutsim.Config{Clock: virtual()}, rec.hook(dcfg))
			rec.reset()
			srv.UpdateFaults(func(f *dutsim.Faults) { f.DropNext = drops })
			t0 := time.Now()
			_, err := d.Status(ctxT(t))
			took := time.Since(t0)
			sent := rec.sent()
			for _, e := range sent {
				if e.Line != sent[0].Line {
					t.Fatalf("retry %q differs from request %q", e.Line, sent[0].Line)
				}
			}
			if drops < 3 {
				must(t, err)
				if len(sent) != drops+1 || d.Stats().Retries != uint64(drops) {
					t.Fatalf("%d drops: %d attempts, stats %+v", drops, len(sent), d.Stats())
				}
				ss := srv.Stats()
				if ss.Duplicates != uint64(drops) || ss.Dropped != uint64(drops) {
					t.Fatalf("device stats %+v, want %d duplicates answered from cache", ss, drops)
				}
				return
			}
			if !errors.Is(err, dut.ErrNoReply) || !errors.Is(err, dut.ErrLinkLost) {
				t.Fatalf("3 drops: err %v, want ErrNoReply and ErrLinkLost", err)
			}
			// 3 × 100 ms at least; the upper bound only catches a hang.
			if len(sent) != 3 || took < 300*time.Millisecond || took > 5*time.Second {
				t.Fatalf("3 drops: %d attempts in %v, want 3 in 300 ms", len(sent), took)
			}
			if _, err := d.Status(ctxT(t)); !errors.Is(err, dut.ErrLinkLost) {
				t.Fatalf("request after loss: %v", err)
			}
			if d.Stats().NoReply != 1 || d.Stats().LinkLost != 1 {
				t.Fatalf("stats %+v", d.Stats())
			}
		})
	}
}

func TestFaultDropProbability(t *testing.T) {
	checkLeaks(t)
	srv, d := setup(t, dutsim.Config{Clock: virtual(), Faults: dutsim.Faults{Drop: 0.2, Seed: 3}}, dut.Config{})
	for range 25 {
		_, err := d.Status(ctxT(t))
		must(t, err)
	}
	ss, n := srv.Stats(), d.Stats()
	if ss.Dropped == 0 || n.Retries != ss.Dropped {
		t.Fatalf("device dropped %d replies, host retried %d times", ss.Dropped, n.Retries)
	}
}

func TestFaultDelay(t *testing.T) {
	checkLeaks(t)
	srv, d := setup(t, dutsim.Config{Clock: virtual()}, dut.Config{ReplyTimeout: dut.ReplyTimeout})
	srv.UpdateFaults(func(f *dutsim.Faults) { f.Delay = 150 * time.Millisecond })
	t0 := time.Now()
	_, err := d.Status(ctxT(t))
	took := time.Since(t0)
	must(t, err)
	retries := d.Stats().Retries
	if took < 150*time.Millisecond || retries < 1 {
		t.Fatalf("delayed reply: took %v, %d retries; want >= 150ms and a retry", took, retries)
	}
	// Each retry's answer (from the device's cache) arrives after the one
	// the host took, and answers nothing outstanding: every one is dropped
	// as stale. (A loaded machine may delay the reply past a second
	// timeout: more retries, as many duplicates.)
	srv.SetFaults(dutsim.Faults{})
	deadline := time.Now().Add(5 * time.Second)
	for d.Stats().SeqMismatch < retries && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := d.Stats(); n.SeqMismatch != retries {
		t.Fatalf("late duplicates not dropped as stale: %+v, want %d", n, retries)
	}
	_, err = d.Status(ctxT(t))
	must(t, err)
}

func TestFaultCorrupt(t *testing.T) {
	checkLeaks(t)
	srv, d := setup(t, dutsim.Config{Clock: virtual()}, dut.Config{})
	srv.UpdateFaults(func(f *dutsim.Faults) { f.CorruptNext = 2 })
	_, err := d.Status(ctxT(t))
	must(t, err)
	if n := d.Stats(); n.BadCRC != 2 || n.Retries != 2 {
		t.Fatalf("stats %+v, want 2 bad CRCs and 2 retries", n)
	}
	// At random, with a seed under which no request meets three bad
	// replies in a row (which would be a lost link).
	srv.SetFaults(dutsim.Faults{Corrupt: 0.3, Seed: 3})
	for range 25 {
		_, err := d.Status(ctxT(t))
		must(t, err)
	}
	if n, ss := d.Stats(), srv.Stats(); n.BadCRC != ss.Corrupted || ss.Corrupted < 5 || n.Retries != n.BadCRC {
		t.Fatalf("device corrupted %d, host counted %d bad CRCs and %d retries", ss.Corrupted, n.BadCRC, n.Retries)
	}
}

func TestFaultGarbage(t *testing.T) {
	checkLeaks(t)
	srv, d := setup(t, dutsim.Config{Clock: virtual(), Faults: dutsim.Faults{Garbage: 1, Seed: 11}}, dut.Config{})
	statusThroughGarbage(t, srv, d)
}

// statusThroughGarbage polls STATUS 20 times from a DUT that sends garbage
// before every reply (seed 11): every burst is dropped and counted, one too
// long among them, and no reply is missed.
func statusThroughGarbage(t *testing.T, srv *dutsim.Server, d *dut.VADLINK) {
	t.Helper()
	for range 20 {
		_, err := d.Status(ctxT(t))
		must(t, err)
	}
	n, ss := d.Stats(), srv.Stats()
	if ss.Garbage != 21 || n.BadSyntax+n.BadCRC+n.TooLong != 21 || n.TooLong == 0 || n.Retries != 0 {
		t.Fatalf("device sent %d bursts; host: %+v", ss.Garbage, n)
	}
}

// keepAlive runs d.Maintain every 5 ms until the returned stop is called.
func keepAlive(d *dut.VADLINK) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-quit:
				return
			case <-time.After(5 * time.Millisecond):
				d.Maintain(context.Background())
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}

// TestLinkLossDetectedWithin1s injects each kind of link failure into a
// healthy, idle link kept alive by Maintain on a real clock, and measures how
// long the driver takes to declare it lost. The 1 s bound is a requirement.
func TestLinkLossDetectedWithin1s(t *testing.T) {
	for _, c := range []struct {
		name   string
		inject func(*dutsim.Server)
	}{
		{"silent", func(s *dutsim.Server) { s.SetFaults(dutsim.Faults{Silent: true}) }},
		{"garbage stream", func(s *dutsim.Server) { s.SetFaults(dutsim.Faults{Babble: true}) }},
		{"unplugged", func(s *dutsim.Server) { s.Unplug() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkLeaks(t)
			rec := newRecorder()
			srv, d := setup(t, dutsim.Config{AdvanceEvery: 5 * time.Millisecond}, rec.hook(dut.Config{ReplyTimeout: dut.ReplyTimeout}))
			stop := keepAlive(d)
			defer stop()
			// Inject right after a keep-alive: the worst case.
			time.Sleep(600 * time.Millisecond)
			for time.Since(lastSent(rec)) > 20*time.Millisecond {
				time.Sleep(time.Millisecond)
			}
			t0 := time.Now()
			c.inject(srv)
			var err error
			select {
			case err = <-rec.lost:
			case <-time.After(3 * time.Second):
				t.Fatal("link loss not detected in 3 s")
			}
			rec.mu.Lock()
			latency := rec.lostAt.Sub(t0)
			rec.mu.Unlock()
			t.Logf("%s: detected after %v: %v", c.name, latency, err)
			if latency >= time.Second {
				t.Fatalf("detected after %v, want < 1 s", latency)
			}
			if !errors.Is(err, dut.ErrLinkLost) || !errors.Is(d.Err(), dut.ErrLinkLost) {
				t.Fatalf("err %v, state %v", err, d.Err())
			}
			if _, err := d.Status(ctxT(t)); !errors.Is(err, dut.ErrLinkLost) {
				t.Fatalf("request after loss: %v", err)
			}
		})
	}
}

func lastSent(r *recorder) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.frames) - 1; i >= 0; i-- {
		if r.frames[i].Dir == dut.Sent {
			return r.wall[i]
		}
	}
	return time.Time{}
}

func TestReconnectAfterUnplug(t *testing.T) {
	checkLeaks(t)
	symlink := filepath.Join(t.TempDir(), "usb-dutsim-if00")
	rec := newRecorder()
	srv, d := setup(t, dutsim.Config{Symlink: symlink, Serial: "SN-7"}, rec.hook(dut.Config{}))
	ctx := ctxT(t)
	must(t, d.SetMode(ctx, dut.ModeSpeed))
	must(t, d.SetSpeed(ctx, 20000))
	before := srv.Path()

	must(t, srv.Unplug())
	select {
	case <-rec.lost:
	case <-time.After(time.Second):
		t.Fatal("unplug not detected within 1 s")
	}
	if _, err := os.Lstat(symlink); !os.IsNotExist(err) {
		t.Fatalf("symlink still there while unplugged: %v", err)
	}
	if _, err := os.Stat(before); !os.IsNotExist(err) {
		t.Fatalf("pty %s still there after unplug: %v", before, err)
	}
	// Plug back in 300 ms from now; Reconnect waits for it.
	replugged := make(chan error, 1)
	time.AfterFunc(300*time.Millisecond, func() { replugged <- srv.Replug() })
	t0 := time.Now()
	must(t, d.Reconnect(ctx))
	must(t, <-replugged)
	if took := time.Since(t0); took < 300*time.Millisecond {
		t.Fatalf("reconnected after %v, before the device was back", took)
	}
	if d.Err() != nil || d.Stats().Reconnects != 1 {
		t.Fatalf("after Reconnect: %v, %+v", d.Err(), d.Stats())
	}
	// The firmware kept running all along: same target.
	st, err := d.Status(ctx)
	must(t, err)
	if st.TargetRPM != 20000 {
		t.Fatalf("after reconnect: %+v", st)
	}
}

func TestReconnectByFaultString(t *testing.T) {
	checkLeaks(t)
	symlink := filepath.Join(t.TempDir(), "dut")
	rec := newRecorder()
	srv, d := setup(t, dutsim.Config{Symlink: symlink}, rec.hook(dut.Config{}))
	f, err := dutsim.ParseFaults("unplug=50ms/200ms")
	must(t, err)
	srv.SetFaults(f)
	select {
	case <-rec.lost:
	case <-time.After(time.Second):
		t.Fatal("scheduled unplug not detected")
	}
	must(t, d.Reconnect(ctxT(t)))
	must(t, d.Ping(ctxT(t)))
	if srv.Stats().Plugs != 2 {
		t.Fatalf("plugs %d, want 2", srv.Stats().Plugs)
	}
}

func TestReconnectRefusesAnotherDevice(t *testing.T) {
	checkLeaks(t)
	symlink := filepath.Join(t.TempDir(), "dut")
	rec := newRecorder()
	srv, d := setup(t, dutsim.Config{Symlink: symlink, Serial: "A"}, rec.hook(dut.Config{}))
	must(t, srv.Close())
	<-rec.lost
	other, err := dutsim.Serve(context.Background(), dutsim.Config{Symlink: symlink, Serial: "B"})
	must(t, err)
	defer other.Close()
	if err := d.Reconnect(ctxT(t)); !errors.Is(err, dut.ErrIdentityChanged) {
		t.Fatalf("Reconnect to another device: %v", err)
	}
	if !errors.Is(d.Err(), dut.ErrLinkLost) {
		t.Fatalf("state after refused reconnect: %v", d.Err())
	}
}

func TestReconnectGivesUpWithContext(t *testing.T) {
	checkLeaks(t)
	symlink := filepath.Join(t.TempDir(), "dut")
	rec := newRecorder()
	srv, d := setup(t, dutsim.Config{Symlink: symlink}, rec.hook(dut.Config{}))
	must(t, srv.Unplug())
	<-rec.lost
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := d.Reconnect(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Reconnect with the device gone: %v", err)
	}
}

func TestCloseDuringRequest(t *testing.T) {
	checkLeaks(t)
	srv, d := setup(t, dutsim.Config{Clock: virtual()}, dut.Config{})
	srv.SetFaults(dutsim.Faults{Silent: true})
	wait := async(func() (dut.Status, error) { return d.Status(context.Background()) })
	time.Sleep(30 * time.Millisecond)
	t0 := time.Now()
	must(t, d.Close())
	_, err := wait()
	if !errors.Is(err, dut.ErrClosed) || time.Since(t0) > 200*time.Millisecond {
		t.Fatalf("request during Close: %v after %v", err, time.Since(t0))
	}
	if _, err := d.Status(context.Background()); !errors.Is(err, dut.ErrClosed) {
		t.Fatalf("request after Close: %v", err)
	}
	must(t, d.Close()) // idempotent
}

func TestContextEndsRequest(t *testing.T) {
	checkLeaks(t)
	srv, d := setup(t, dutsim.Config{Clock: virtual()}, dut.Config{})
	srv.SetFaults(dutsim.Faults{Silent: true})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := d.Status(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Status: %v", err)
	}
	// Giving up is the caller's choice, not a lost link.
	srv.SetFaults(dutsim.Faults{})
	if err := d.Err(); err != nil {
		t.Fatalf("link state %v", err)
	}
	_, err := d.Status(ctxT(t))
	must(t, err)
}
