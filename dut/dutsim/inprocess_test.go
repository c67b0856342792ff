package dutsim

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/dut"
)

// TestMemLineTime: frames are readable from their due instant of line
// time, in the order sent (a shorter delay does not overtake), and Await
// advances the line's time to the next one or by its whole wait.
func TestMemLineTime(t *testing.T) {
	m := newMemLine()
	m.push([]byte("a\n"), 150*time.Millisecond)
	m.push([]byte("b\n"), 0) // sent after a: not before it
	buf := make([]byte, 8)
	if n, err := m.read(buf); n != 0 || !errors.Is(err, dut.ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read before due: %d, %v", n, err)
	}
	if w, ok := m.await(100 * time.Millisecond); w != 100*time.Millisecond || ok {
		t.Fatalf("await 100 ms: %v, %v; want all of it, nothing", w, ok)
	}
	if w, ok := m.await(100 * time.Millisecond); w != 50*time.Millisecond || !ok {
		t.Fatalf("await 100 ms more: %v, %v; want 50 ms, ready", w, ok)
	}
	if n, err := m.read(buf); err != nil || string(buf[:n]) != "a\nb\n" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	// A host that does not read fills the line, no more.
	for range memQueue {
		if !m.push([]byte("x\n"), 0) {
			t.Fatal("queue full early")
		}
	}
	if m.push([]byte("y\n"), 0) {
		t.Fatal("queue took more than memQueue frames")
	}
	m.push([]byte("z\n"), 0) // dropped too
	m.reset()
	if len(m.q) != 0 {
		t.Errorf("reset left %d frames that were readable", len(m.q))
	}
	m.unplug()
	if _, err := m.read(buf); !errors.Is(err, errUnplugged) {
		t.Errorf("read after unplug: %v", err)
	}
}

// TestInProcessServerRefusals: Open is for an in-process server, by its
// name, while plugged in; an in-process DUT has no symlink; a port that
// was closed, or whose device was unplugged, fails.
func TestInProcessServerRefusals(t *testing.T) {
	if _, err := Serve(context.Background(), Config{InProcess: true, Symlink: "/tmp/x"}); err == nil {
		t.Error("an in-process DUT took a symlink")
	}
	s, err := Serve(context.Background(), Config{InProcess: true, Clock: clock.NewVirtual(time.Unix(0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Name() != InProcessName || s.Path() != InProcessName {
		t.Errorf("name %q, path %q", s.Name(), s.Path())
	}
	if _, err := s.Open("/dev/ttyUSB0"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open by another name: %v", err)
	}
	rw, err := s.Open(InProcessName)
	if err != nil {
		t.Fatal(err)
	}
	rw.Close()
	if _, err := rw.Write([]byte("1 PING *0000\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
	rw, _ = s.Open(InProcessName)
	s.Unplug()
	if _, err := rw.Write([]byte("1 PING *0000\n")); !errors.Is(err, errUnplugged) {
		t.Errorf("write after unplug: %v", err)
	}
	if _, err := s.Open(InProcessName); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open while unplugged: %v", err)
	}
	if err := s.Replug(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(InProcessName); err != nil {
		t.Errorf("open after replug: %v", err)
	}
	pty, err := Serve(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	if _, err := pty.Open(pty.Name()); err == nil {
		t.Error("Open served a pty DUT")
	}
}
