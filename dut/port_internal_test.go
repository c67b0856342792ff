package dut

import (
	"os"
	"testing"

	"github.com/creack/pty"
	"go.bug.st/serial"
)

func TestSerialMode(t *testing.T) {
	m := serialMode(false)
	if m.BaudRate != 115200 || m.DataBits != 8 || m.Parity != serial.NoParity || m.StopBits != serial.OneStopBit {
		t.Fatalf("mode %+v, want 115200 8N1", m)
	}
	if m.InitialStatusBits == nil || m.InitialStatusBits.DTR || m.InitialStatusBits.RTS {
		t.Fatalf("DTR/RTS %+v, want both explicitly low", m.InitialStatusBits)
	}
	if serialMode(true).InitialStatusBits != nil {
		t.Fatal("a pty has no modem lines; asking for them fails with ENOTTY")
	}
}

func TestIsPTY(t *testing.T) {
	m, s, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer s.Close()
	if !isPTY(s.Name()) {
		t.Errorf("%s not recognised as a pty", s.Name())
	}
	if isPTY(os.DevNull) || isPTY("/nonexistent") {
		t.Error("isPTY true for a non-pty")
	}
}
