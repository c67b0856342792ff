package dutsim

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/mockloop/mockloop/dut"
)

// InProcessName is the name (and Path) of an in-process DUT: not a file;
// the host opens it with Server.Open.
const InProcessName = "dutsim:in-process"

// memQueue is how many frames an in-process line holds for a host that does
// not read them, as many as the pty's writer queues; more are dropped and
// counted (Stats.Overflow), as a UART's transmit FIFO drops them.
const memQueue = 256

// errUnplugged is what the host's port says once the in-process device was
// unplugged (Unplug, PowerOff), as a pty's hang-up fails reads and writes.
var errUnplugged = errors.New("dutsim: in-process DUT unplugged")

// An in-process DUT (Config.InProcess) is the same Server — firmware, link
// faults, unplugging — with a memLine where the pty would be. The host's
// port (memPort, a dut.SyncPort) feeds what the host writes through the
// same framing as the pty's reader (dut.LineReader) into the firmware at
// once, on the host's goroutine; the firmware's frames, encoded with their
// CRC as for the pty, wait on the memLine for the host to read them. No
// goroutine and no timer is involved: on virtual time an exchange is a
// function call, and what the host reads depends on what it sent and on
// the run's clock alone.
//
// Link faults keep their meaning. Drop, silence, corruption, garbage and
// babble change what is on the line, as on the pty. Delay, which on the pty
// is wall time, is line time here: the memLine has a clock of its own that
// only the host's waiting advances (SyncPort.Await), so a reply delayed
// past the host's reply timeout is retried exactly as on a wire, without
// anyone waiting for it.

// memLine is the device-to-host side of an in-process link: the frames the
// device sent, each readable from its due instant of line time on, in the
// order they were sent.
type memLine struct {
	mu   sync.Mutex
	now  time.Duration // line time, advanced by await only
	q    []memFrame
	off  int  // bytes of q[0] already read
	gone bool // unplugged
}

type memFrame struct {
	b   []byte
	due time.Duration
}

func newMemLine() *memLine { return &memLine{} }

// push queues b to leave delay of line time from now, after every frame
// queued before it; false if the queue is full.
func (m *memLine) push(b []byte, delay time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.q) >= memQueue {
		return false
	}
	due := m.now + max(delay, 0)
	if n := len(m.q); n > 0 {
		due = max(due, m.q[n-1].due)
	}
	m.q = append(m.q, memFrame{b: b, due: due})
	return true
}

// read copies what is readable now into b.
func (m *memLine) read(b []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone {
		return 0, errUnplugged
	}
	n := 0
	for n < len(b) && len(m.q) > 0 && m.q[0].due <= m.now {
		k := copy(b[n:], m.q[0].b[m.off:])
		n, m.off = n+k, m.off+k
		if m.off == len(m.q[0].b) {
			m.q[0] = memFrame{}
			m.q, m.off = m.q[1:], 0
		}
	}
	if len(m.q) == 0 {
		m.q = m.q[:0:0] // let go of the array a long queue grew
	}
	if n == 0 && len(b) > 0 {
		return 0, dut.ErrTimeout
	}
	return n, nil
}

// await implements dut.SyncPort's Await on the line's clock. An unplugged
// line is ready: the read that follows fails.
func (m *memLine) await(d time.Duration) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.gone:
		return 0, true
	case len(m.q) > 0 && m.q[0].due <= m.now:
		return 0, true
	case len(m.q) > 0 && m.q[0].due <= m.now+d:
		w := m.q[0].due - m.now
		m.now = m.q[0].due
		return w, true
	}
	m.now += max(d, 0)
	return max(d, 0), false
}

// reset discards what the host could have read by now, as opening a serial
// port flushes its input buffer; frames still on their way stay.
func (m *memLine) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := 0
	for i < len(m.q) && m.q[i].due <= m.now {
		i++
	}
	m.q, m.off = append([]memFrame(nil), m.q[i:]...), 0
}

func (m *memLine) unplug() {
	m.mu.Lock()
	m.gone, m.q, m.off = true, nil, 0
	m.mu.Unlock()
}

// Open opens an in-process DUT for the host, as dut.Config.Open: name is
// its Name. The port is a dut.SyncPort. It fails, as opening a vanished pty
// does (fs.ErrNotExist), while the device is unplugged, so a host's
// Reconnect tries again until Replug.
func (s *Server) Open(name string) (io.ReadWriteCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.cfg.InProcess:
		return nil, fmt.Errorf("dutsim: open %s: not an in-process DUT; open its pty with dut.OpenPort", name)
	case name != InProcessName:
		return nil, fmt.Errorf("dutsim: open %s: the in-process DUT is %s: %w", name, InProcessName, fs.ErrNotExist)
	case s.closed:
		return nil, fmt.Errorf("dutsim: open %s: server closed: %w", name, fs.ErrNotExist)
	case s.plug == nil:
		return nil, fmt.Errorf("dutsim: open %s: unplugged: %w", name, fs.ErrNotExist)
	}
	s.plug.mem.reset()
	mp := &memPort{s: s, p: s.plug}
	mp.in = dut.NewLineReader(&mp.src)
	return mp, nil
}

// memPort is the host's end of an in-process link.
type memPort struct {
	s *Server
	p *plug

	mu     sync.Mutex
	closed bool
	src    hostBytes
	in     *dut.LineReader // the device's receiver, over src
}

var _ dut.SyncPort = (*memPort)(nil)

// Write hands b to the device, which handles every line it completes
// before Write returns: its reply is readable then (unless a fault holds it
// back).
func (mp *memPort) Write(b []byte) (int, error) {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if err := mp.usable(); err != nil {
		return 0, err
	}
	mp.src.b = append(mp.src.b, b...)
	for {
		line, err := mp.in.ReadLine()
		switch {
		case err == nil:
			mp.s.handle(mp.p, line)
		case errors.Is(err, dut.ErrTooLong):
			mp.s.fw.NoteTooLong()
		default: // all of b was taken
			return len(b), nil
		}
	}
}

// Read implements dut.SyncPort: it never waits.
func (mp *memPort) Read(b []byte) (int, error) {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if err := mp.usable(); err != nil {
		return 0, err
	}
	return mp.p.mem.read(b)
}

// Await implements dut.SyncPort.
func (mp *memPort) Await(d time.Duration) (time.Duration, bool) {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if mp.closed {
		return 0, true // the read that follows fails
	}
	return mp.p.mem.await(d)
}

// Close closes this port; the device stays plugged in.
func (mp *memPort) Close() error {
	mp.mu.Lock()
	mp.closed = true
	mp.mu.Unlock()
	return nil
}

// usable says why the port cannot be used, if it cannot; mp.mu is held.
func (mp *memPort) usable() error {
	if mp.closed {
		return fmt.Errorf("dutsim: %s: %w", InProcessName, os.ErrClosed)
	}
	mp.p.mem.mu.Lock()
	gone := mp.p.mem.gone
	mp.p.mem.mu.Unlock()
	if gone {
		return errUnplugged
	}
	return nil
}

// hostBytes is what the host wrote and the device's receiver has not taken
// yet; empty, it reads as a serial line with nothing more on it.
type hostBytes struct{ b []byte }

func (h *hostBytes) Read(p []byte) (int, error) {
	if len(h.b) == 0 {
		return 0, dut.ErrTimeout
	}
	n := copy(p, h.b)
	if n == len(h.b) {
		h.b = h.b[:0]
	} else {
		h.b = h.b[n:]
	}
	return n, nil
}
