package dutsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/dut"
)

// Config configures a simulated DUT. Zero fields take the defaults given.
type Config struct {
	// Clock is the firmware's time; nil means a real clock. Use the run's
	// virtual clock in simulation.
	Clock clock.Clock
	// AdvanceEvery, if positive, calls Advance every AdvanceEvery of real
	// time between host frames, so that TLM streams and the watchdog's
	// ALARM go out while the host is quiet. Zero runs the firmware only
	// when a host frame arrives or Advance is called: use that with a
	// virtual clock, so that the firmware's state depends on virtual time
	// alone.
	AdvanceEvery time.Duration
	// Symlink, if set, is a path kept pointing at the current pty, removed
	// while unplugged: a stand-in for a /dev/serial/by-id/ name, which is
	// how the host finds the device again after it re-enumerates.
	Symlink string
	// InProcess serves the firmware in this process instead of on a pty:
	// the host opens it with Server.Open (as dut.Config.Open), and gets a
	// dut.SyncPort whose Write runs the firmware at once (see
	// inprocess.go). It is for a run on virtual time; a host on the wall
	// clock, or one that must go through the tty layer as with a real
	// adapter, uses the pty. It excludes Symlink.
	InProcess bool
	// Faults are injected from the start; the firmware alone (NewFirmware)
	// takes their device faults.
	Faults Faults

	Model  string // "dutsim-impella"
	Serial string // "SIM-0001"
	FW     string // "1.0.0"
	// Pump is the physics behind the firmware; nil means DefaultPump.
	Pump Pump
	// Levels overrides the level table (ImpellaLevels).
	Levels *[10]int
	// TopRPM is the highest speed SPEED accepts (MaxRPM): a device's
	// maximum speed, from its profile.
	TopRPM int
	// Quiet are the alarms of the pump's sensors this device does not
	// raise (none): a device without a purge system raises no purge
	// alarm. The host-link watchdog's alarm is always raised.
	Quiet dut.Alarms
	// SafeRPM is the speed of MODE STOP and of a watchdog trip (0).
	SafeRPM int
	// RampRate is the speed ramp in rpm/s (DefaultRampRate).
	RampRate int
	// SelfTest is how long after power-on speed commands answer busy (0).
	SelfTest time.Duration
	// Alarm thresholds.
	OvercurrentmA     float64 // 1000 mA
	PurgeLowmmHg      float64 // 300 mmHg
	PurgeHighmmHg     float64 // 1100 mmHg (Impella's purge alarm)
	SpeedDeviationRPM float64 // 1000 rpm between command and rotor
}

// withDefaults fills in zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Model, defaultModel)
	def(&c.Serial, defaultSerial)
	def(&c.FW, defaultFW)
	if c.Pump == nil {
		c.Pump = DefaultPump{}
	}
	if c.RampRate == 0 {
		c.RampRate = DefaultRampRate
	}
	if c.TopRPM == 0 {
		c.TopRPM = MaxRPM
	}
	deff := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	deff(&c.OvercurrentmA, 1000)
	deff(&c.PurgeLowmmHg, 300)
	deff(&c.PurgeHighmmHg, 1100)
	deff(&c.SpeedDeviationRPM, 1000)
	switch {
	case c.RampRate < 0:
		return c, fmt.Errorf("dutsim: ramp rate %d rpm/s is negative", c.RampRate)
	case c.TopRPM < 0 || c.TopRPM > MaxRPM:
		return c, fmt.Errorf("dutsim: top speed %d rpm outside 0..%d", c.TopRPM, MaxRPM)
	case c.SafeRPM < 0 || c.SafeRPM > c.TopRPM:
		return c, fmt.Errorf("dutsim: safe speed %d rpm outside 0..%d", c.SafeRPM, c.TopRPM)
	case c.Quiet&dut.AlarmHostLinkLost != 0:
		return c, fmt.Errorf("dutsim: the host-link alarm cannot be quiet: VADLINK's watchdog raises it")
	case c.InProcess && c.Symlink != "":
		return c, fmt.Errorf("dutsim: an in-process DUT has no pty to link %s to", c.Symlink)
	case c.AdvanceEvery < 0:
		return c, fmt.Errorf("dutsim: advance interval %v is negative", c.AdvanceEvery)
	}
	if c.Levels != nil {
		for i, v := range c.Levels {
			if v < 0 || v > c.TopRPM {
				return c, fmt.Errorf("dutsim: level P%d = %d rpm outside 0..%d", i, v, c.TopRPM)
			}
		}
	}
	// The HELLO reply must be encodable.
	hello := dut.Frame{Seq: 65535, Verb: "OK", Args: []string{"model=" + c.Model, "serial=" + c.Serial, "fw=" + c.FW, "proto=1"}}
	if _, err := dut.AppendFrame(nil, hello); err != nil {
		return c, fmt.Errorf("dutsim: identity model=%q serial=%q fw=%q does not fit a frame: %w", c.Model, c.Serial, c.FW, err)
	}
	return c, nil
}

// Stats counts what a simulated DUT saw and did.
type Stats struct {
	// Firmware.
	Received     uint64 // valid host frames
	BadCRC       uint64
	BadSyntax    uint64 // syntax errors, and host frames with seq 0
	TooLong      uint64
	Duplicates   uint64 // host retries answered from the reply cache
	Errors       uint64 // ERR replies
	AlarmsRaised uint64
	// Link (Server only).
	Replies     uint64 // replies handed to the wire
	Unsolicited uint64 // TLM and ALARM frames handed to the wire
	Dropped     uint64 // replies dropped by a fault
	Corrupted   uint64 // replies sent with a wrong CRC
	Garbage     uint64 // bursts of garbage sent
	Muted       uint64 // frames not sent because Silent, Babble or unplugged
	Overflow    uint64 // frames dropped because the host did not read
	Plugs       uint64 // times plugged in, the first included
}

// Server is a simulated DUT on a pseudo-terminal: the host opens Name (or
// Path) with go.bug.st/serial exactly as it opens a USB-serial adapter, and
// every byte goes through the kernel's tty layer.
//
// The pty is in raw mode: no echo, no "\n" to "\r\n" translation, no line
// editing. Unplug closes the pty's master side, so the host sees its device
// vanish (reads fail, the /dev/pts node disappears); Replug opens a new pty.
// The kernel picks the new pty's number, so it cannot be relied on to come
// back at the same path: a host that must find the device again opens Symlink,
// a symlink the server moves to the new pty, as udev moves a by-id name.
type Server struct {
	cfg Config
	clk clock.Clock
	fw  *Firmware

	mu      sync.Mutex
	faults  Faults
	rng     *rand.Rand
	plug    *plug
	closed  bool
	timers  []*time.Timer
	n       Stats  // link counters
	linked  string // where the server last pointed Symlink; "" if it made none
	stopCtx func() bool
	quit    chan struct{}
	wg      sync.WaitGroup // advanceEvery and fault timers
}

// plug is one pty and its goroutines, or, in process, one memLine.
type plug struct {
	mem           *memLine // in process; then none of the pty's fields is set
	master, slave *os.File
	path          string
	out           chan outFrame
	// busy counts the frames queued or being written by the writer; a
	// frame may bypass the queue only when it is 0.
	busy atomic.Int64
	raw  syscall.RawConn // the master's descriptor, for tryWrite; nil: none
	twFn func(uintptr) bool
	tw   []byte // tryWrite's frame and how much of it went out
	twN  int
	quit chan struct{}
	wg   sync.WaitGroup
}

type outFrame struct {
	b   []byte
	due time.Time
}

// Serve powers up a simulated DUT on a new pty and serves it until Close, or
// until ctx ends.
func Serve(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, clk: cfg.Clock, quit: make(chan struct{})}
	if s.clk == nil {
		s.clk = clock.NewReal()
	}
	if s.fw, err = NewFirmware(cfg, s.clk.Now()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	err = s.plugIn()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.SetFaults(cfg.Faults)
	if cfg.AdvanceEvery > 0 {
		s.wg.Add(1)
		go s.advanceEvery(cfg.AdvanceEvery)
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	s.mu.Lock()
	s.stopCtx = stop
	s.mu.Unlock()
	return s, nil
}

// Name is what a host should open: Symlink if configured, else Path.
func (s *Server) Name() string {
	if s.cfg.Symlink != "" {
		return s.cfg.Symlink
	}
	return s.Path()
}

// Path is the current pty (/dev/pts/N), InProcessName in process, "" while
// unplugged.
func (s *Server) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.plug == nil {
		return ""
	}
	return s.plug.path
}

// Firmware is the simulated firmware, for inspecting its state.
func (s *Server) Firmware() *Firmware { return s.fw }

// Faults returns the faults in force (counters such as DropNext count down).
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetFaults replaces the faults in force, reseeds their random choices, and
// schedules the unplug if f asks for one.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.fw.SetFaults(f)
	s.reseed()
	s.scheduleUnplug()
}

// UpdateFaults changes the faults in force atomically, e.g.
// s.UpdateFaults(func(f *Faults) { f.DropNext = 2 }). The random choices go
// on unless fn changes Seed, and an unplug is scheduled only if fn sets one.
func (s *Server) UpdateFaults(fn func(*Faults)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	f.UnplugAfter, f.UnplugFor = 0, 0
	fn(&f)
	reseed := f.Seed != s.faults.Seed
	s.faults = f
	s.fw.SetFaults(f)
	if reseed {
		s.reseed()
	}
	s.scheduleUnplug()
}

// reseed restarts the fault RNG from Faults.Seed; s.mu is held.
func (s *Server) reseed() {
	seed := uint64(s.faults.Seed)
	if seed == 0 {
		seed = 1
	}
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
}

// scheduleUnplug arms the unplug of Faults.UnplugAfter; s.mu is held.
func (s *Server) scheduleUnplug() {
	after, hold := s.faults.UnplugAfter, s.faults.UnplugFor
	if after <= 0 || s.closed {
		return
	}
	s.timers = append(s.timers, time.AfterFunc(after, func() {
		if !s.enter() {
			return
		}
		defer s.wg.Done()
		s.Unplug()
		if hold <= 0 {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.closed {
			s.timers = append(s.timers, time.AfterFunc(hold, func() {
				if !s.enter() {
					return
				}
				defer s.wg.Done()
				s.Replug()
			}))
		}
	}))
}

// enter registers a timer callback with s.wg unless s is closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// Stats returns the counters of the firmware and of the link.
func (s *Server) Stats() Stats {
	st := s.fw.Stats()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.n
	n.Received, n.BadCRC, n.BadSyntax, n.TooLong = st.Received, st.BadCRC, st.BadSyntax, st.TooLong
	n.Duplicates, n.Errors, n.AlarmsRaised = st.Duplicates, st.Errors, st.AlarmsRaised
	return n
}

// Advance runs the firmware up to the clock's now and sends the TLM and ALARM
// frames that fell due. In virtual time the engine calls it to let the
// device's own behaviour (the watchdog, telemetry) happen without a host
// frame; with Config.AdvanceEvery it is called that often.
func (s *Server) Advance() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.fw.Advance(s.clk.Now()) {
		s.sendUnsolicited(b)
	}
}

// advanceEvery calls Advance every interval of real time until Close: the
// firmware's own behaviour on a real clock while the host is quiet.
func (s *Server) advanceEvery(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			s.Advance()
		}
	}
}

// handle runs one line from the host through the firmware and the faults.
func (s *Server) handle(p *plug, line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.plug != p {
		return // unplugged meanwhile
	}
	uns, reply := s.fw.Handle(s.clk.Now(), line)
	for _, b := range uns {
		s.sendUnsolicited(b)
	}
	if reply != nil {
		s.sendReply(reply)
	}
}

// sendUnsolicited queues a TLM or ALARM frame; s.mu is held.
func (s *Server) sendUnsolicited(b []byte) {
	if s.plug == nil || s.faults.Silent || s.faults.Babble {
		s.n.Muted++
		return
	}
	if s.enqueue(b, 0) {
		s.n.Unsolicited++
	}
}

// sendReply queues a reply through the faults; s.mu is held.
func (s *Server) sendReply(b []byte) {
	f := &s.faults
	switch {
	case s.plug == nil || f.Silent:
		s.n.Muted++
		return
	case f.Babble:
		s.n.Muted++
		s.sendGarbage(0)
		return
	case f.DropNext > 0:
		f.DropNext--
		s.n.Dropped++
		return
	case f.Drop > 0 && s.rng.Float64() < f.Drop:
		s.n.Dropped++
		return
	}
	if f.CorruptNext > 0 {
		f.CorruptNext--
		b = corruptCRC(b)
		s.n.Corrupted++
	} else if f.Corrupt > 0 && s.rng.Float64() < f.Corrupt {
		b = corruptCRC(b)
		s.n.Corrupted++
	}
	if f.Garbage > 0 && s.rng.Float64() < f.Garbage {
		s.sendGarbage(f.Delay)
	}
	if s.enqueue(b, f.Delay) {
		s.n.Replies++
	}
}

// sendGarbage queues a burst of 1..200 random bytes and a "\n": mostly
// frames that fail to parse, sometimes one too long to be a frame.
func (s *Server) sendGarbage(delay time.Duration) {
	n := 1 + s.rng.IntN(200)
	b := make([]byte, n+1)
	for i := range n {
		c := byte(s.rng.Uint32())
		if c == '\n' {
			c = '?'
		}
		b[i] = c
	}
	b[n] = '\n'
	if s.enqueue(b, delay) {
		s.n.Garbage++
	}
}

// corruptCRC returns a copy of frame b with a wrong but well-formed CRC.
func corruptCRC(b []byte) []byte {
	c := append([]byte(nil), b...)
	i := len(c) - 2 // last hex digit, before "\n"
	if c[i] == '0' {
		c[i] = '1'
	} else {
		c[i] = '0'
	}
	return c
}

// enqueue hands b to the writer, to leave delay from now; s.mu is held. In
// process it goes to the memLine instead, delay on its line time. A host
// that does not read
// fills the tty's buffer; frames beyond the queue are dropped, as a UART's
// transmit FIFO would drop them, rather than stall the firmware.
//
// A frame due now while the writer has nothing queued or in hand is first
// offered to the pty at once, in one non-blocking write on the caller's
// goroutine: a reply then reaches the host without waking the writer,
// which saves a goroutine hand-off per request. What the tty's buffer does
// not take goes to the writer as before, so order is kept and the caller
// never blocks.
func (s *Server) enqueue(b []byte, delay time.Duration) bool {
	p := s.plug
	if p.mem != nil {
		if !p.mem.push(b, delay) {
			s.n.Overflow++
			return false
		}
		return true
	}
	due := time.Now().Add(delay)
	if p.busy.Load() == 0 && delay <= 0 {
		n := p.tryWrite(b)
		if n == len(b) {
			return true
		}
		b = b[n:]
	}
	p.busy.Add(1)
	select {
	case p.out <- outFrame{b: b, due: due}:
		return true
	default:
		p.busy.Add(-1)
		s.n.Overflow++
		return false
	}
}

// tryWrite writes what of b the pty takes without waiting and returns how
// many bytes that was; s.mu is held.
func (p *plug) tryWrite(b []byte) int {
	if p.raw == nil {
		return 0
	}
	p.tw, p.twN = b, 0
	_ = p.raw.Write(p.twFn)
	p.tw = nil
	return p.twN
}

// tryWriteFd is tryWrite's one attempt on the master's descriptor (made
// once per plug, so that a write allocates nothing).
func (p *plug) tryWriteFd(fd uintptr) bool {
	for p.twN < len(p.tw) {
		k, err := unix.Write(int(fd), p.tw[p.twN:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || k <= 0 {
			break
		}
		p.twN += k
	}
	return true // never wait for room: what is left goes to the writer
}

// plugIn opens a new pty and starts serving it; s.mu is held.
func (s *Server) plugIn() error {
	if s.cfg.InProcess {
		s.plug = &plug{mem: newMemLine(), path: InProcessName}
		s.n.Plugs++
		return nil
	}
	m, slave, err := OpenPTY()
	if err != nil {
		return err
	}
	p := &plug{master: m, slave: slave, path: slave.Name(), out: make(chan outFrame, 256), quit: make(chan struct{})}
	if rc, err := m.SyscallConn(); err == nil {
		p.raw, p.twFn = rc, p.tryWriteFd
	}
	if s.cfg.Symlink != "" {
		if err := relink(s.cfg.Symlink, s.linked, p.path); err != nil {
			m.Close()
			slave.Close()
			return err
		}
		s.linked = p.path
	}
	s.plug = p
	s.n.Plugs++
	p.wg.Add(2)
	go s.read(p)
	go s.write(p)
	return nil
}

// OpenPTY opens a pseudo-terminal pair with github.com/creack/pty, set up as
// a serial line's far end: the slave (whose Name is the /dev/pts/N path a
// host opens) is in raw mode, and the master supports deadlines and is
// unblocked by Close. The caller closes both; the path disappears when the
// master is closed.
func OpenPTY() (master, slave *os.File, err error) {
	pm, ps, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("dutsim: open pty: %w", err)
	}
	// pty.Open leaves the master in blocking mode (it calls Fd), where a
	// Read cannot be interrupted by Close; a non-blocking duplicate goes
	// through Go's poller instead.
	m, err := pollable(pm)
	pm.Close()
	if err == nil {
		err = makeRaw(ps)
	}
	if err != nil {
		if m != nil {
			m.Close()
		}
		ps.Close()
		return nil, nil, fmt.Errorf("dutsim: set up pty: %w", err)
	}
	return m, ps, nil
}

// pollable returns a non-blocking duplicate of f that Go's poller manages.
func pollable(f *os.File) (*os.File, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	var derr error
	if err := sc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return nil, err
	}
	return os.NewFile(uintptr(nfd), f.Name()), nil
}

// makeRaw puts the pty in raw mode, like cfmakeraw(3): no echo, no signals,
// no canonical line editing, no CR/NL translation in either direction, 8 bits.
func makeRaw(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var terr error
	if err := sc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			terr = err
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB
		t.Cflag |= unix.CS8
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		terr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	}); err != nil {
		return err
	}
	return terr
}

// relink points symlink at target, atomically. It replaces only what the
// server made: nothing, its own symlink (last pointed at prev), or a dangling
// symlink to a pty of an earlier server that died without removing it. Any
// other file at the path is refused, never renamed over: the path comes from
// the command line, and a mistyped one must not destroy a file. The
// temporary name is unique and made with O_EXCL semantics (os.Symlink fails
// on an existing name), so no file beside the path is removed either.
func relink(symlink, prev, target string) error {
	if !replaceable(symlink, prev) {
		return fmt.Errorf("dutsim: symlink %s: the path exists and is not a symlink this server made to a pty; remove it or choose another path", symlink)
	}
	tmp := fmt.Sprintf("%s.new-%d-%d", symlink, os.Getpid(), rand.Uint64())
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("dutsim: symlink %s: %w", symlink, err)
	}
	if err := os.Rename(tmp, symlink); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("dutsim: symlink %s: %w", symlink, err)
	}
	return nil
}

// replaceable reports whether the server may point symlink elsewhere: the
// path is free, is the server's own symlink (to prev), or is a symlink to a
// /dev/pts node that no longer exists (left by a killed server).
func replaceable(symlink, prev string) bool {
	fi, err := os.Lstat(symlink)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return false
	}
	to, err := os.Readlink(symlink)
	if err != nil {
		return false
	}
	if prev != "" && to == prev {
		return true
	}
	if !strings.HasPrefix(to, "/dev/pts/") {
		return false
	}
	_, err = os.Stat(to)
	return errors.Is(err, os.ErrNotExist)
}

// unlink removes Symlink if it is still the symlink the server made (to
// s.linked): a file someone put there since is not the server's to remove.
// s.mu is held.
func (s *Server) unlink() {
	if s.linked == "" {
		return
	}
	if to, err := os.Readlink(s.cfg.Symlink); err == nil && to == s.linked {
		os.Remove(s.cfg.Symlink)
	}
	s.linked = ""
}

// read feeds the firmware with the lines the host writes.
func (s *Server) read(p *plug) {
	defer p.wg.Done()
	lr := dut.NewLineReader(p.master)
	for {
		line, err := lr.ReadLine()
		switch {
		case err == nil:
			s.handle(p, line)
		case errors.Is(err, dut.ErrTooLong):
			s.fw.NoteTooLong()
		default:
			return // the master was closed
		}
	}
}

// write sends queued frames when they are due.
func (s *Server) write(p *plug) {
	defer p.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case f := <-p.out:
			if d := time.Until(f.due); d > 0 {
				t.Reset(d)
				select {
				case <-p.quit:
					return
				case <-t.C:
				}
			}
			_, err := p.master.Write(f.b)
			p.busy.Add(-1)
			if err != nil {
				return
			}
		}
	}
}

// close ends p: the host sees a hang-up.
func (p *plug) close() {
	if p.mem != nil {
		p.mem.unplug()
		return
	}
	close(p.quit)
	p.master.Close()
	p.slave.Close()
	p.wg.Wait()
}

// Unplug pulls the device out: the pty is closed, its path disappears, and
// Symlink is removed. The firmware keeps running; its watchdog trips if the
// host stays away for WatchdogTimeout.
func (s *Server) Unplug() error {
	s.mu.Lock()
	p := s.plug
	s.plug = nil
	if p != nil {
		s.unlink()
	}
	s.mu.Unlock()
	if p == nil {
		return errors.New("dutsim: unplug: not plugged in")
	}
	p.close()
	return nil
}

// PowerOff cuts the device's power, as the bench's DUT power relay does:
// the firmware stops driving the motor and goes quiet (Firmware.PowerOff),
// and the device is unplugged.
func (s *Server) PowerOff() error {
	s.fw.PowerOff(s.clk.Now())
	return s.Unplug()
}

// Replug plugs the device in again, on a new pty; Symlink follows.
func (s *Server) Replug() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errors.New("dutsim: replug: server closed")
	case s.plug != nil:
		return errors.New("dutsim: replug: already plugged in")
	}
	return s.plugIn()
}

// Close unplugs the device and stops the server; it waits for every
// goroutine the server started.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.quit)
	for _, t := range s.timers {
		t.Stop()
	}
	p := s.plug
	s.plug = nil
	s.unlink()
	stop := s.stopCtx
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	if p != nil {
		p.close()
	}
	s.wg.Wait()
	return nil
}
