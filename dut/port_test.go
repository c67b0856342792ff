package dut_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mockloop/mockloop/dut"
)

func openScriptedPort(t *testing.T) (*scripted, *dut.Port) {
	t.Helper()
	s, path := newScripted(t)
	p, err := dut.OpenPort(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return s, p
}

func TestPortReadTimeoutIsAnError(t *testing.T) {
	checkLeaks(t)
	_, p := openScriptedPort(t)
	buf := make([]byte, 16)
	t0 := time.Now()
	n, err := p.Read(buf)
	took := time.Since(t0)
	if n != 0 || !errors.Is(err, dut.ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read on a quiet line = %d, %v; want 0, ErrTimeout", n, err)
	}
	if took < dut.ReadPoll*8/10 || took > dut.ReadPoll*5 {
		t.Fatalf("timeout after %v, want about %v", took, dut.ReadPoll)
	}
}

// readFull reads n bytes from r, failing on a timeout.
func readFull(t *testing.T, r io.Reader, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

func TestPortIsTransparent(t *testing.T) {
	checkLeaks(t)
	s, p := openScriptedPort(t)
	// Host to device: no "\n" -> "\r\n", no CR/NL mapping, 8 bits.
	out := []byte("1 PING *0000\n\r\n\x00\x7f\xff\x03\x1a")
	if _, err := p.Write(out); err != nil {
		t.Fatal(err)
	}
	s.master.SetReadDeadline(time.Now().Add(time.Second))
	if got := readFull(t, s.master, len(out)); !bytes.Equal(got, out) {
		t.Fatalf("device got %q, host sent %q", got, out)
	}
	// Nothing more: no translation added bytes.
	s.master.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := s.master.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("device got %d extra bytes (%v)", n, err)
	}
	// And the host's own bytes were not echoed back to it.
	if n, err := p.Read(make([]byte, 8)); !errors.Is(err, dut.ErrTimeout) {
		t.Fatalf("host read %d bytes of echo (%v)", n, err)
	}

	// Device to host, the same.
	in := []byte("0 TLM t=1 *0000\n\r\r\n\x00\xff\x11\x13")
	s.send(string(in))
	if got := readFull(t, p, len(in)); !bytes.Equal(got, in) {
		t.Fatalf("host got %q, device sent %q", got, in)
	}
	if n, err := p.Read(make([]byte, 8)); !errors.Is(err, dut.ErrTimeout) {
		t.Fatalf("host got %d extra bytes (%v)", n, err)
	}
	s.master.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := s.master.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("device read %d bytes of echo (%v)", n, err)
	}
}

func TestOpenPortBySymlink(t *testing.T) {
	checkLeaks(t)
	_, path := newScripted(t)
	byID := filepath.Join(t.TempDir(), "usb-FTDI_FT232R_A12345-if00-port0")
	if err := os.Symlink(path, byID); err != nil {
		t.Fatal(err)
	}
	p, err := dut.OpenPort(byID)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Path() != path || p.Name() != byID {
		t.Fatalf("Name %q Path %q, want %q resolved to %q", p.Name(), p.Path(), byID, path)
	}
}

func TestOpenPortMissing(t *testing.T) {
	checkLeaks(t)
	_, err := dut.OpenPort(filepath.Join(t.TempDir(), "gone"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenPort of a missing device: %v", err)
	}
	if _, err := dut.OpenPort(os.DevNull); err == nil {
		t.Fatal("OpenPort accepted /dev/null, which is not a tty")
	}
}
