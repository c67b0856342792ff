package dutsim

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/dut"
)

func TestMain(m *testing.M) {
	// Let the runtime create its poller descriptors before leak checks count.
	if s, err := Serve(context.Background(), Config{}); err == nil {
		s.Close()
	}
	os.Exit(m.Run())
}

func countFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// checkLeaks fails t if goroutines or file descriptors outlive its cleanups.
func checkLeaks(t testing.TB) {
	g0, fd0 := runtime.NumGoroutine(), countFDs(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			g, fd := runtime.NumGoroutine(), countFDs(t)
			if g <= g0 && fd <= fd0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("leak: goroutines %d -> %d, file descriptors %d -> %d\n%s", g0, g, fd0, fd, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func serve(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := Serve(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawClient opens the pty as a plain file, without go.bug.st/serial, so
// that only the server's own tty settings are in force.
func rawClient(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestServerPTYIsRaw(t *testing.T) {
	checkLeaks(t)
	s := serve(t, Config{Clock: clock.NewVirtual(time.Time{})})
	c := rawClient(t, s.Path())
	sc, _ := c.SyscallConn()
	var tio *unix.Termios
	var terr error
	sc.Control(func(fd uintptr) { tio, terr = unix.IoctlGetTermios(int(fd), unix.TCGETS) })
	if terr != nil {
		t.Fatal(terr)
	}
	if tio.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG|unix.IEXTEN) != 0 || tio.Oflag&unix.OPOST != 0 ||
		tio.Iflag&(unix.ICRNL|unix.INLCR|unix.IGNCR|unix.IXON) != 0 || tio.Cflag&unix.CSIZE != unix.CS8 {
		t.Fatalf("pty not raw: iflag %#o oflag %#o lflag %#o cflag %#o", tio.Iflag, tio.Oflag, tio.Lflag, tio.Cflag)
	}
	// A request goes in as written and the reply comes back as sent: the
	// first bytes the client reads are the reply, not an echo, and it ends
	// in "\n", not "\r\n".
	req, _ := dut.AppendFrame(nil, dut.Frame{Seq: 9, Verb: "PING"})
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	want, _ := dut.AppendFrame(nil, dut.Frame{Seq: 9, Verb: "OK"})
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	got := make([]byte, 0, 64)
	buf := make([]byte, 64)
	for !bytes.HasSuffix(got, []byte("\n")) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read reply: %v (got %q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("reply %q, want %q", got, want)
	}
}

func TestServerUnplugReplug(t *testing.T) {
	checkLeaks(t)
	symlink := filepath.Join(t.TempDir(), "by-id")
	s := serve(t, Config{Symlink: symlink})
	p1 := s.Path()
	if target, err := os.Readlink(symlink); err != nil || target != p1 || s.Name() != symlink {
		t.Fatalf("symlink %q -> %q (%v), path %q", symlink, target, err, p1)
	}
	c := rawClient(t, p1)
	if err := s.Unplug(); err != nil {
		t.Fatal(err)
	}
	if s.Path() != "" {
		t.Fatalf("Path %q while unplugged", s.Path())
	}
	if _, err := os.Lstat(symlink); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("symlink while unplugged: %v", err)
	}
	// The host's open descriptor sees the hang-up.
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 8)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after unplug: %v, want a hang-up", err)
	}
	if err := s.Unplug(); err == nil {
		t.Fatal("second Unplug succeeded")
	}
	if err := s.Replug(); err != nil {
		t.Fatal(err)
	}
	if err := s.Replug(); err == nil {
		t.Fatal("second Replug succeeded")
	}
	p2 := s.Path()
	if target, err := os.Readlink(symlink); err != nil || target != p2 {
		t.Fatalf("symlink after replug -> %q (%v), want %q", target, err, p2)
	}
	if st := s.Stats(); st.Plugs != 2 {
		t.Fatalf("plugs %d", st.Plugs)
	}
}

func TestServeEndsWithContext(t *testing.T) {
	checkLeaks(t)
	symlink := filepath.Join(t.TempDir(), "dut")
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Serve(ctx, Config{Symlink: symlink, AdvanceEvery: time.Millisecond, Faults: Faults{UnplugAfter: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	path := s.Path()
	cancel()
	// Path is "" as soon as Close has begun; the pty goes when it has
	// closed the master, a little later.
	deadline := time.Now().Add(time.Second)
	for _, err := os.Stat(path); err == nil && time.Now().Before(deadline); _, err = os.Stat(path) {
		time.Sleep(time.Millisecond)
	}
	if s.Path() != "" {
		t.Fatalf("Path %q after the context ended", s.Path())
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pty %s still there after the context ended: %v", path, err)
	}
	if _, err := os.Lstat(symlink); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("symlink still there: %v", err)
	}
	if err := s.Replug(); err == nil {
		t.Fatal("Replug after close succeeded")
	}
	s.Close() // idempotent
}

func TestServerSilentStillExecutes(t *testing.T) {
	checkLeaks(t)
	s := serve(t, Config{Clock: clock.NewVirtual(time.Time{}), Faults: Faults{Silent: true}})
	c := rawClient(t, s.Path())
	for i, v := range []string{"MODE SPEED", "SPEED 1000"} {
		verb, arg, _ := strings.Cut(v, " ")
		b, _ := dut.AppendFrame(nil, dut.Frame{Seq: uint16(i + 1), Verb: verb, Args: []string{arg}})
		c.Write(b)
	}
	deadline := time.Now().Add(time.Second)
	for s.Stats().Received < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := s.Firmware().State(); st.TargetRPM != 1000 {
		t.Fatalf("silent device did not execute: %+v", st)
	}
	if st := s.Stats(); st.Muted != 2 || st.Replies != 0 {
		t.Fatalf("stats %+v, want 2 muted replies", st)
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("silent device sent %d bytes (%v)", n, err)
	}
}

func TestServerAdvanceSendsDueFrames(t *testing.T) {
	checkLeaks(t)
	clk := clock.NewVirtual(time.Time{})
	s := serve(t, Config{Clock: clk})
	c := rawClient(t, s.Path())
	b, _ := dut.AppendFrame(nil, dut.Frame{Seq: 1, Verb: "PING"})
	c.Write(b)
	lr := dut.NewLineReader(c)
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := lr.ReadLine(); err != nil {
		t.Fatal(err)
	}
	// In virtual time the watchdog's ALARM goes out when the engine lets
	// the device run.
	clk.Advance(3 * time.Second)
	s.Advance()
	line, err := lr.ReadLine()
	if err != nil || !strings.HasPrefix(string(line), "0 ALARM 20 host link lost *") {
		t.Fatalf("after Advance: %q, %v", line, err)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	checkLeaks(t)
	if _, err := Serve(context.Background(), Config{Model: "a b"}); err == nil {
		t.Fatal("Serve accepted a model name with a space")
	}
	if _, err := Serve(context.Background(), Config{Symlink: "/nonexistent-dir/x"}); err == nil {
		t.Fatal("Serve accepted a symlink it cannot create")
	}
}

func TestLinkRefusesAnExistingFileAndLeavesItUntouched(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "passwd")
	if err := os.WriteFile(file, []byte("root:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	if err := os.Symlink(file, other); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{file, other, dir} {
		if s, err := Serve(context.Background(), Config{Symlink: path}); err == nil {
			s.Close()
			t.Fatalf("Serve made %s its symlink over an existing file", path)
		} else if !strings.Contains(err.Error(), "not a symlink this server made") {
			t.Fatalf("Serve over %s: %v", path, err)
		}
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "root:x:0:0\n" {
		t.Fatalf("the file at the path: %q, %v", b, err)
	}
	if to, err := os.Readlink(other); err != nil || to != file {
		t.Fatalf("the other symlink: %q, %v", to, err)
	}
	if names, _ := os.ReadDir(dir); len(names) != 2 {
		t.Fatalf("files left beside the path: %v", names)
	}
}

func TestLinkReplacesADanglingPtySymlinkOfAKilledServer(t *testing.T) {
	checkLeaks(t)
	symlink := filepath.Join(t.TempDir(), "dut")
	if err := os.Symlink("/dev/pts/999999", symlink); err != nil {
		t.Fatal(err)
	}
	s := serve(t, Config{Symlink: symlink})
	if to, err := os.Readlink(symlink); err != nil || to != s.Path() {
		t.Fatalf("symlink -> %q (%v), want %q", to, err, s.Path())
	}
}

func TestCloseRemovesOnlyTheSymlinkItMade(t *testing.T) {
	checkLeaks(t)
	symlink := filepath.Join(t.TempDir(), "dut")
	s, err := Serve(context.Background(), Config{Symlink: symlink})
	if err != nil {
		t.Fatal(err)
	}
	// Someone puts a file of their own at the path while the server runs.
	if err := os.Remove(symlink); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(symlink, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(symlink); err != nil || string(b) != "mine" {
		t.Fatalf("the file at the path after Close: %q, %v", b, err)
	}
}
