package dut

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// Serial line settings of VADLINK.
const (
	BaudRate = 115200
	// ReadPoll is how long a Port read waits for a byte before it returns
	// ErrTimeout. It bounds how long a reader goroutine is deaf to its
	// own shutdown on transports that cannot interrupt a read.
	ReadPoll = 100 * time.Millisecond
)

// ErrTimeout is returned by Port.Read when no byte arrived within ReadPoll.
// It matches os.ErrDeadlineExceeded under errors.Is, like a timed-out read on
// an *os.File, so generic code recognises it.
var ErrTimeout = fmt.Errorf("dut: serial read timeout: %w", os.ErrDeadlineExceeded)

var _ io.ReadWriteCloser = (*Port)(nil)

// SyncPort is a transport without time of its own: the device at its far
// end runs inside Write, so that its answer is readable when Write returns,
// and time passes on the line only when the host waits for it (Await). The
// simulated DUT reached in-process on virtual time is one (dutsim's
// InProcess); a serial port never is.
//
// Over a SyncPort the VADLINK driver reads a reply right after its request,
// on the caller's goroutine: it starts no reader goroutine and arms no
// timer, so an exchange costs no thread hand-off and a missing reply costs
// no wall time. That is what makes a simulated run on virtual time both
// fast and deterministic: what the device says, and when on the run's
// clock, does not depend on the scheduler or on the machine's load.
type SyncPort interface {
	io.ReadWriteCloser
	// Read never waits: with nothing readable it returns an error
	// matching os.ErrDeadlineExceeded (ErrTimeout), as a Port does after
	// ReadPoll.
	//
	// Await lets up to max of line time pass, less if a byte becomes
	// readable first (a reply the device delays), and returns how much
	// passed and whether a byte is readable. The host's reply timeout is
	// measured on this time: a reply delayed past it is a retry, as on a
	// wire, without anyone waiting for it.
	Await(max time.Duration) (waited time.Duration, ready bool)
}

// Port is a serial port set up for VADLINK: 115200 8N1, no flow control, DTR
// and RTS left low (asserting them on open resets Arduino-style boards).
type Port struct {
	name, path string
	sp         serial.Port
}

// OpenPort opens a serial device by path or by a /dev/serial/by-id/ name.
// Symlinks are resolved first, so the port is the device the name points to
// now; a re-open after the device re-enumerated follows the name to its new
// node. Bytes received before the open are discarded.
func OpenPort(name string) (*Port, error) {
	path, err := filepath.EvalSymlinks(name)
	if err != nil {
		return nil, fmt.Errorf("dut: open %s: %w", name, err)
	}
	sp, err := serial.Open(path, serialMode(isPTY(path)))
	if err != nil {
		return nil, fmt.Errorf("dut: open %s: %w", name, err)
	}
	if err := sp.SetReadTimeout(ReadPoll); err != nil {
		sp.Close()
		return nil, fmt.Errorf("dut: open %s: %w", name, err)
	}
	if err := sp.ResetInputBuffer(); err != nil {
		sp.Close()
		return nil, fmt.Errorf("dut: open %s: flush input: %w", name, err)
	}
	return &Port{name: name, path: path, sp: sp}, nil
}

// serialMode is the VADLINK line setting. A pseudo-terminal has no modem
// lines: asking for DTR/RTS fails there with ENOTTY, so they are left alone.
func serialMode(pty bool) *serial.Mode {
	m := &serial.Mode{
		BaudRate: BaudRate,
		DataBits: 8,
		Parity:   serial.NoParity,
		StopBits: serial.OneStopBit,
	}
	if !pty {
		m.InitialStatusBits = &serial.ModemOutputBits{DTR: false, RTS: false}
	}
	return m
}

// isPTY reports whether path is a Unix98 pseudo-terminal slave (character
// device majors 136..143).
func isPTY(path string) bool {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return false
	}
	maj := unix.Major(uint64(st.Rdev))
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && maj >= 136 && maj <= 143
}

// Name is the name the port was opened by.
func (p *Port) Name() string { return p.name }

// Path is the device node the name resolved to.
func (p *Port) Path() string { return p.path }

// Read reads what has arrived, waiting at most ReadPoll for the first byte.
// go.bug.st/serial reports a timeout as (0, nil); Read reports ErrTimeout
// instead, so that loops built on io.Reader do not spin or stop.
func (p *Port) Read(b []byte) (int, error) {
	n, err := p.sp.Read(b)
	if n == 0 && err == nil && len(b) > 0 {
		return 0, ErrTimeout
	}
	if err != nil {
		err = fmt.Errorf("dut: read %s: %w", p.name, err)
	}
	return n, err
}

// Write writes all of b.
func (p *Port) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := p.sp.Write(b[done:])
		done += n
		if err != nil {
			return done, fmt.Errorf("dut: write %s: %w", p.name, err)
		}
		if n == 0 {
			return done, fmt.Errorf("dut: write %s: no progress", p.name)
		}
	}
	return done, nil
}

// Close closes the port; a Read blocked in another goroutine returns.
func (p *Port) Close() error {
	if err := p.sp.Close(); err != nil {
		return fmt.Errorf("dut: close %s: %w", p.name, err)
	}
	return nil
}
