package bench

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSecondHolderOfASharedResourceIsRefusedAndToldWho(t *testing.T) {
	dir := t.TempDir()
	a, err := Acquire(dir, []string{"spi0.0", "i2c1", "gpio25"}, Status{State: "running"})
	if err != nil {
		t.Fatal(err)
	}
	a.SetRun("20261206T000000Z-abcd", "demo")
	// Another config naming one of the same lines, in its own order.
	_, err = Acquire(dir, []string{"spi1.0", "gpio25"}, Status{})
	var busy *BusyError
	if !errors.Is(err, ErrBusy) || !errors.As(err, &busy) {
		t.Fatalf("second Acquire: %v, want busy", err)
	}
	if busy.Resource != "gpio25" || busy.Holder.PID != os.Getpid() {
		t.Errorf("busy: %+v", busy)
	}
	// Every resource's holder file has the run.
	for _, r := range []string{"spi0.0", "i2c1", "gpio25"} {
		_, err = Acquire(dir, []string{r}, Status{})
		if err == nil || !strings.Contains(err.Error(), "run 20261206T000000Z-abcd of protocol demo") || !strings.Contains(err.Error(), "pid ") {
			t.Errorf("refusal on %s: %v does not say which run holds the bench", r, err)
		}
	}
	a.Release()
	// Nothing of the refused attempt stayed held: all of it is free now.
	b, err := Acquire(dir, []string{"spi1.0", "gpio25", "spi0.0"}, Status{})
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	b.Release()
}

func TestControlSocketAnswersTheHolderAndOnlyItsOwner(t *testing.T) {
	dir := t.TempDir()
	if _, err := Ask(dir, "sim:sim", Request{Action: ActionStatus}); !errors.Is(err, ErrNoHolder) {
		t.Fatalf("Ask with no holder: %v, want ErrNoHolder", err)
	}
	l, err := Acquire(dir, []string{"sim:sim"}, Status{State: "running"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := l.Serve(func(req Request) (Status, error) {
		got = append(got, req.Action+" by "+req.By)
		if req.Action == ActionPause {
			return Status{}, errors.New("cannot pause now")
		}
		st := l.Holder()
		st.State = req.Action
		return st, nil
	}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(SocketPath(dir, "sim:sim"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v, mode %v; want owner-only", err, fi.Mode())
	}
	st, err := Ask(dir, "sim:sim", Request{Action: ActionStop, By: "a test"})
	if err != nil || st.State != ActionStop || st.PID != os.Getpid() {
		t.Fatalf("stop: %+v, %v", st, err)
	}
	if _, err := Ask(dir, "sim:sim", Request{Action: ActionPause}); err == nil || err.Error() != "cannot pause now" {
		t.Fatalf("pause: %v, want the handler's refusal", err)
	}
	if _, err := Ask(dir, "sim:sim", Request{Action: ActionStop, By: "x\x1b[2J"}); err == nil || !strings.Contains(err.Error(), "printable") {
		t.Errorf("a stop by a terminal escape: %v", err)
	}
	// A request that is not one is answered with an error, not passed on.
	conn, err := net.Dial("unix", SocketPath(dir, "sim:sim"))
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte(`{"action":"selfdestruct"}` + "\n"))
	line, err := readLine(conn)
	conn.Close()
	if err != nil || !strings.Contains(string(line), "no action") {
		t.Fatalf("bad request: %q, %v", line, err)
	}
	// A client that says nothing and a client that floods are both let go.
	silent, _ := net.Dial("unix", SocketPath(dir, "sim:sim"))
	defer silent.Close()
	flood, _ := net.Dial("unix", SocketPath(dir, "sim:sim"))
	big := make([]byte, 2*maxMessage)
	flood.SetDeadline(time.Now().Add(time.Minute))
	flood.Write(big)
	line, _ = readLine(flood)
	flood.Close()
	if !strings.Contains(string(line), "64 KiB") {
		t.Errorf("flood answered %q", line)
	}
	l.Release()
	if len(got) != 2 || got[0] != "stop by a test" {
		t.Errorf("handler saw %q, want stop and pause only", got)
	}
	if _, err := Ask(dir, "sim:sim", Request{Action: ActionStatus}); !errors.Is(err, ErrNoHolder) {
		t.Errorf("Ask after Release: %v, want ErrNoHolder", err)
	}
}

func TestSocketLeftByADeadHolderIsReplaced(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(SocketPath(dir, "sim:x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(dir, []string{"sim:x"}, Status{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := l.Serve(func(Request) (Status, error) { return l.Holder(), nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := Ask(dir, "sim:x", Request{Action: ActionStatus}); err != nil {
		t.Fatal(err)
	}
}

func TestLockDirFromEnvironmentAndForeignDirsRefused(t *testing.T) {
	d := filepath.Join(t.TempDir(), "locks")
	t.Setenv("MOCKLOOP_LOCK_DIR", d)
	got, err := Dir()
	if err != nil || got != d {
		t.Fatalf("Dir() = %q, %v; want %q", got, err, d)
	}
	if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("lock dir: %v %v, want mode 0700", fi.Mode(), err)
	}
	open := filepath.Join(t.TempDir(), "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	t.Setenv("MOCKLOOP_LOCK_DIR", open)
	if _, err := Dir(); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("world-writable lock dir: %v", err)
	}
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(d, link)
	t.Setenv("MOCKLOOP_LOCK_DIR", link)
	if _, err := Dir(); err == nil {
		t.Error("a symbolic link as lock dir was trusted")
	}
}

func TestFileNamesOfDistinctResourcesDiffer(t *testing.T) {
	seen := map[string]string{}
	for _, r := range []string{"sim:a/b", "sim:a_b", "sim:a b", strings.Repeat("x", 200), strings.Repeat("x", 201), "../../etc/passwd"} {
		n := fileName(r)
		if o, ok := seen[n]; ok {
			t.Errorf("%q and %q share %s", o, r, n)
		}
		if strings.ContainsAny(n, "/ ") || len(n) > 48 {
			t.Errorf("file name %q of %q", n, r)
		}
		seen[n] = r
	}
}

func TestTooLongALockDirIsSaidNotFailedObscurely(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	os.Mkdir(dir, 0o700)
	l, err := Acquire(dir, []string{"sim:sim"}, Status{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := l.Serve(func(Request) (Status, error) { return Status{}, nil }); err == nil || !strings.Contains(err.Error(), "MOCKLOOP_LOCK_DIR") {
		t.Errorf("socket in a %d-byte directory: %v", len(dir), err)
	}
}

func TestReleasedHolderIsNotNamedByTheNextRefusal(t *testing.T) {
	dir := t.TempDir()
	a, _ := Acquire(dir, []string{"sim:sim"}, Status{})
	a.SetRun("old-run", "p")
	a.Release()
	if h := readHolder(filepath.Join(dir, fileName("sim:sim")+".holder")); h.PID != 0 {
		t.Errorf("holder %+v left after Release", h)
	}
}
