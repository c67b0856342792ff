package dut

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mockloop/mockloop/clock"
)

// Timing of VADLINK v1, from the host's side.
const (
	// ReplyTimeout is how long the host waits for a reply before it sends
	// the request again. It is real time: it bounds bytes on a wire, which
	// take as long as they take whatever the run's clock says.
	ReplyTimeout = 100 * time.Millisecond
	// MaxRetries is how often a request is sent again, with the same
	// sequence number, before the link is declared lost.
	MaxRetries = 2
	// KeepAlive is the longest the host stays silent; Maintain sends a PING
	// when nothing was sent for this long on the run's clock.
	KeepAlive = 500 * time.Millisecond
)

// Link errors. ErrLinkLost wraps its cause (ErrNoReply, or the transport's
// error), so errors.Is finds both.
var (
	ErrClosed          = errors.New("dut: closed")
	ErrLinkLost        = errors.New("dut: link lost")
	ErrNoReply         = errors.New("dut: no reply")
	ErrIdentityChanged = errors.New("dut: a different device answered")
)

// Direction tells a sent frame from a received one.
type Direction int

// Directions.
const (
	Sent Direction = iota
	Received
)

func (d Direction) String() string {
	if d == Sent {
		return "tx"
	}
	return "rx"
}

// FrameEvent is one frame on the link, as the rig logs it in the run record.
type FrameEvent struct {
	At      time.Duration // Config.Clock's time
	Dir     Direction
	Line    string // as on the wire, without the terminator
	Frame   Frame  // decoded; zero when Err is set
	Err     error  // why a received line was dropped: ErrCRC, ErrSyntax or ErrTooLong
	Attempt int    // sent requests: 0 the first time, then 1..MaxRetries
}

// Stats counts what happened on a link since Dial; counts survive reconnects.
type Stats struct {
	Sent        uint64 // frames written, retries included
	Received    uint64 // valid frames read
	Retries     uint64 // requests sent again
	NoReply     uint64 // requests unanswered after every attempt
	SeqMismatch uint64 // replies dropped: their seq was not the outstanding request's
	BadCRC      uint64
	BadSyntax   uint64 // unparsable frames, and valid frames with a malformed payload
	TooLong     uint64 // lines over MaxFrame, dropped
	Unexpected  uint64 // valid frames the host has no use for ("0 FOO", "3 TLM")
	TLMFrames   uint64 // TLM frames delivered
	AlarmFrames uint64 // ALARM frames delivered
	LinkLost    uint64
	Reconnects  uint64
}

// Config configures a VADLINK driver.
type Config struct {
	// Path names the serial device: /dev/ttyUSB0, a /dev/serial/by-id/
	// name, a pty. It is resolved again at every (re)connection, so a
	// by-id name follows the device when it re-enumerates.
	Path string
	// Clock stamps events and paces the keep-alive (see Maintain); nil means
	// a real clock.
	Clock clock.Clock
	// Open opens the transport; nil means OpenPort. A custom transport's
	// Close must make a pending Read return, and a Read may time out with
	// an error matching os.ErrDeadlineExceeded. A transport that is a
	// SyncPort is driven without a reader goroutine (see SyncPort).
	Open func(path string) (io.ReadWriteCloser, error)
	// ReplyTimeout is how long a request waits on the wall clock for its
	// reply before it is sent again; 0 means ReplyTimeout, as VADLINK.md
	// says. A simulated DUT answering a run on virtual time from the same
	// process is given longer: there a late reply says only that the
	// machine is busy, not that the link is lost.
	ReplyTimeout time.Duration

	// Callbacks. Received frames are reported from the driver's reader
	// goroutine, sent ones from the caller's: a callback must return
	// quickly and must not call the driver.

	// OnFrame sees every frame sent and every line received, dropped
	// ones included.
	OnFrame func(FrameEvent)
	// OnTelemetry receives TLM frames (see SetTelemetry).
	OnTelemetry func(Telemetry)
	// OnAlarm receives ALARM frames.
	OnAlarm func(AlarmEvent)
	// OnLinkLost is called once each time the link is declared lost.
	OnLinkLost func(error)
}

// VADLINK is the driver for a DUT that speaks VADLINK v1 (see VADLINK.md).
//
// Requests are strictly one at a time: a request owns the line until its
// reply arrives or its last attempt times out. A reader goroutine reads every
// line the device sends, hands replies to the waiting request and delivers
// TLM and ALARM frames to the callbacks. Over a SyncPort there is none: the
// request reads what the device sent right after writing, on its own
// goroutine, and times out on the port's line time.
//
// The link is declared lost, and every later request fails with ErrLinkLost
// until Reconnect, when the transport fails (device closed or unplugged: at
// once, even while idle) or when a request went unanswered MaxRetries+1
// times (a silent device or a garbage stream: 300 ms after the request).
// Since Maintain keeps at most KeepAlive between requests, loss is detected
// within KeepAlive + 3 × ReplyTimeout = 800 ms.
type VADLINK struct {
	cfg  Config
	clk  clock.Clock
	open func(string) (io.ReadWriteCloser, error)

	req      sync.Mutex // held for a whole exchange, and by Reconnect
	seq      uint16     // last seq used; guarded by req
	buf      []byte     // encoded request; guarded by req
	lastTx   atomic.Int64
	awaiting atomic.Uint32 // seq of the outstanding request, 0 when none
	// emitMu orders the frame events: a request is written and reported
	// under it, so its reply, which the reader reports, never comes first.
	emitMu sync.Mutex

	mu      sync.Mutex
	c       *conn
	lost    error
	closed  bool
	closing chan struct{}
	ident   Identity

	n struct {
		sent, received, retries, noReply, seqMismatch, badCRC, badSyntax,
		tooLong, unexpected, tlmFrames, alarmFrames, linkLost, reconnects atomic.Uint64
	}
}

var (
	_ DUT         = (*VADLINK)(nil)
	_ Reconnector = (*VADLINK)(nil)
)

// conn is one opened transport and its reader goroutine, or, on a
// SyncPort, the line reader its requests read with.
type conn struct {
	rw         io.ReadWriteCloser
	sync       SyncPort    // rw, when it is one; nil otherwise
	lr         *LineReader // of sync
	replies    chan Frame
	done       chan struct{} // closed when the reader has returned
	err        error         // why the reader returned; read after done
	once       sync.Once
	closeErr   error
	deliberate atomic.Bool // closed by the driver, not lost
}

func (c *conn) shut() error {
	c.once.Do(func() {
		c.closeErr = c.rw.Close()
		if c.sync != nil {
			close(c.done) // no reader to close it
		}
	})
	return c.closeErr
}

// release closes c on purpose and waits for its reader.
func (c *conn) release() error {
	c.deliberate.Store(true)
	err := c.shut()
	<-c.done
	return err
}

// Dial opens cfg.Path, checks with HELLO that a VADLINK v1 device answers,
// and returns its driver.
func Dial(ctx context.Context, cfg Config) (*VADLINK, error) {
	if cfg.Path == "" {
		return nil, errors.New("dut: no device path")
	}
	d := &VADLINK{cfg: cfg, clk: cfg.Clock, open: cfg.Open, closing: make(chan struct{})}
	if d.clk == nil {
		d.clk = clock.NewReal()
	}
	if d.open == nil {
		d.open = func(path string) (io.ReadWriteCloser, error) { return OpenPort(path) }
	}
	d.req.Lock()
	c, id, err := d.dial(ctx)
	d.req.Unlock()
	if err != nil {
		return nil, err
	}
	if err := d.install(c, id); err != nil {
		return nil, err
	}
	return d, nil
}

// install makes c the driver's link, unless the driver was closed. A reader
// that failed before c was installed was ignored by lose; its failure counts
// now.
func (d *VADLINK) install(c *conn, id Identity) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		c.release()
		return ErrClosed
	}
	d.c, d.ident, d.lost = c, id, nil
	d.mu.Unlock()
	select {
	case <-c.done:
		return d.lose(c, c.err)
	default:
		return nil
	}
}

// dial opens the transport, starts its reader and says HELLO; d.req must be
// held.
func (d *VADLINK) dial(ctx context.Context) (*conn, Identity, error) {
	rw, err := d.open(d.cfg.Path)
	if err != nil {
		return nil, Identity{}, err
	}
	c := &conn{rw: rw, replies: make(chan Frame, 1), done: make(chan struct{})}
	if sp, ok := rw.(SyncPort); ok {
		c.sync, c.lr = sp, NewLineReader(sp)
	} else {
		go d.read(c)
	}
	f, _, err := d.exchange(ctx, c, "HELLO")
	var id Identity
	if err == nil {
		id, err = parseIdentity(f)
	}
	if err != nil {
		c.release()
		return nil, Identity{}, fmt.Errorf("dut: %s: %w", d.cfg.Path, err)
	}
	return c, id, nil
}

// read is the reader goroutine of c.
func (d *VADLINK) read(c *conn) {
	defer close(c.done)
	lr := NewLineReader(c.rw)
	for {
		err := d.take(c, lr)
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) { // a line, or an idle line
			continue
		}
		c.err = err
		d.lose(c, err)
		return
	}
}

// take reads the next line from lr and handles it, a frame or an
// over-long line dropped; it returns the reader's error when there was no
// line (a timeout, a failed transport).
func (d *VADLINK) take(c *conn, lr *LineReader) error {
	line, err := lr.ReadLine()
	switch {
	case err == nil:
		d.receive(c, line)
	case errors.Is(err, ErrTooLong):
		d.n.tooLong.Add(1)
		d.emit(FrameEvent{Dir: Received, Err: err})
	default:
		return err
	}
	return nil
}

// receive handles one line from the device.
func (d *VADLINK) receive(c *conn, line []byte) {
	f, err := ParseFrame(line)
	if err != nil {
		if errors.Is(err, ErrCRC) {
			d.n.badCRC.Add(1)
		} else {
			d.n.badSyntax.Add(1)
		}
		if d.cfg.OnFrame != nil {
			d.emit(FrameEvent{Dir: Received, Line: string(line), Err: err})
		}
		return
	}
	d.n.received.Add(1)
	if d.cfg.OnFrame != nil {
		d.emit(FrameEvent{Dir: Received, Line: string(line), Frame: f})
	}
	switch {
	case f.Seq != 0 && (f.Verb == "OK" || f.Verb == "ERR"):
		if uint32(f.Seq) != d.awaiting.Load() {
			d.n.seqMismatch.Add(1)
			return
		}
		select {
		case c.replies <- f:
			if c.sync != nil {
				break // the requester reads it on this goroutine
			}
			// The requester waits for this reply, and this goroutine has
			// nothing to do but wait for the next line: yield the
			// processor to it at once. Otherwise the requester waits for
			// an idle thread to be woken to run it, about as long as the
			// reply took on the wire from a simulated DUT (virtual time
			// polls the DUT thousands of times a minute).
			runtime.Gosched()
		default: // a second copy while the first is still unread
			d.n.seqMismatch.Add(1)
		}
	case f.Seq == 0 && f.Verb == "TLM":
		t, err := parseTelemetry(f)
		if err != nil {
			d.n.badSyntax.Add(1)
			return
		}
		d.n.tlmFrames.Add(1)
		if d.cfg.OnTelemetry != nil {
			t.At = d.clk.Now()
			d.cfg.OnTelemetry(t)
		}
	case f.Seq == 0 && f.Verb == "ALARM":
		a, err := parseAlarm(f)
		if err != nil {
			d.n.badSyntax.Add(1)
			return
		}
		d.n.alarmFrames.Add(1)
		if d.cfg.OnAlarm != nil {
			a.At = d.clk.Now()
			d.cfg.OnAlarm(a)
		}
	default:
		d.n.unexpected.Add(1)
	}
}

func (d *VADLINK) emit(e FrameEvent) {
	d.emitMu.Lock()
	defer d.emitMu.Unlock()
	d.emitLocked(e)
}

func (d *VADLINK) emitLocked(e FrameEvent) {
	if d.cfg.OnFrame != nil {
		e.At = d.clk.Now()
		d.cfg.OnFrame(e)
	}
}

// exchange sends one request on c and waits for its reply, sending it again
// with the same seq after each ReplyTimeout. d.req must be held. fatal says
// the failure is the link's (write error, reader gone, no reply), not the
// context's or the request's.
func (d *VADLINK) exchange(ctx context.Context, c *conn, verb string, args ...string) (f Frame, fatal bool, err error) {
	d.seq++
	if d.seq == 0 {
		d.seq = 1
	}
	seq := d.seq
	d.buf, err = AppendFrame(d.buf[:0], Frame{Seq: seq, Verb: verb, Args: args})
	if err != nil {
		return Frame{}, false, fmt.Errorf("dut: %s: %w", verb, err)
	}
	d.awaiting.Store(uint32(seq))
	defer d.awaiting.Store(0)
	// A late copy of an earlier reply may still sit in the channel.
	select {
	case <-c.replies:
		d.n.seqMismatch.Add(1)
	default:
	}

	wait := cmp.Or(d.cfg.ReplyTimeout, ReplyTimeout)
	if c.sync != nil {
		f, fatal, err = d.exchangeSync(ctx, c, seq, verb, args, wait)
	} else {
		f, fatal, err = d.exchangeAsync(ctx, c, seq, verb, args, wait)
	}
	if errors.Is(err, ErrNoReply) {
		d.n.noReply.Add(1)
		err = fmt.Errorf("%w to %d %s in %d attempts of %v", ErrNoReply, seq, verb, MaxRetries+1, wait)
	}
	return f, fatal, err
}

// exchangeAsync waits for the reader goroutine to hand over the reply,
// ReplyTimeout of wall time an attempt.
func (d *VADLINK) exchangeAsync(ctx context.Context, c *conn, seq uint16, verb string, args []string, wait time.Duration) (Frame, bool, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for attempt := 0; attempt <= MaxRetries; attempt++ {
		if err := d.send(c, seq, verb, args, attempt); err != nil {
			return Frame{}, true, err
		}
		timer.Reset(wait)
	replies:
		for {
			select {
			case r := <-c.replies:
				if f, ok, err := d.reply(r, seq); ok {
					return f, false, err
				}
			case <-c.done:
				if c.err == nil {
					return Frame{}, true, ErrClosed
				}
				return Frame{}, true, c.err
			case <-ctx.Done():
				return Frame{}, false, ctx.Err()
			case <-timer.C:
				break replies
			}
		}
	}
	return Frame{}, true, ErrNoReply
}

// exchangeSync reads the reply from a SyncPort right after each attempt:
// what the device sent is readable then, and an attempt waits for a late
// reply on the port's line time only (SyncPort.Await), never on the wall
// clock.
func (d *VADLINK) exchangeSync(ctx context.Context, c *conn, seq uint16, verb string, args []string, wait time.Duration) (Frame, bool, error) {
	for attempt := 0; attempt <= MaxRetries; attempt++ {
		if err := ctx.Err(); err != nil {
			return Frame{}, false, err
		}
		if err := d.send(c, seq, verb, args, attempt); err != nil {
			return Frame{}, true, err
		}
		left := wait
		for range syncArrivals {
			if err := d.drain(c); err != nil {
				return Frame{}, true, err
			}
			select {
			case r := <-c.replies:
				if f, ok, err := d.reply(r, seq); ok {
					return f, false, err
				}
				continue
			default:
			}
			waited, ready := c.sync.Await(left)
			if left -= waited; !ready || left < 0 {
				break
			}
		}
	}
	return Frame{}, true, ErrNoReply
}

// syncArrivals bounds how often one attempt over a SyncPort reads what
// arrived: a device sends a reply, perhaps after garbage or unsolicited
// frames, never dozens of separate arrivals to one request, and a port
// that keeps saying a byte is readable without one must not hold the
// request forever.
const syncArrivals = 64

// drain handles every line the SyncPort of c has readable now; an error
// other than the port's "nothing more" is the link's.
func (d *VADLINK) drain(c *conn) error {
	for {
		err := d.take(c, c.lr)
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil
		default:
			c.err = err
			return err
		}
	}
}

// send writes attempt number attempt of the request d.buf (seq verb args)
// and reports it.
func (d *VADLINK) send(c *conn, seq uint16, verb string, args []string, attempt int) error {
	if attempt > 0 {
		d.n.retries.Add(1)
	}
	d.emitMu.Lock()
	defer d.emitMu.Unlock()
	if _, err := c.rw.Write(d.buf); err != nil {
		return err
	}
	d.lastTx.Store(int64(d.clk.Now()))
	d.n.sent.Add(1)
	if d.cfg.OnFrame != nil {
		line := d.buf[:len(d.buf)-1]
		d.emitLocked(FrameEvent{Dir: Sent, Line: string(line), Frame: Frame{Seq: seq, Verb: verb, Args: args}, Attempt: attempt})
	}
	return nil
}

// reply takes a reply handed over for the request seq: ok is false when it
// answers another (a late copy), and err is the device's ERR.
func (d *VADLINK) reply(r Frame, seq uint16) (f Frame, ok bool, err error) {
	if r.Seq != seq {
		d.n.seqMismatch.Add(1)
		return Frame{}, false, nil
	}
	if r.Verb == "ERR" {
		return r, true, parseErr(r)
	}
	return r, true, nil
}

// lose declares the link of c lost because of cause, unless c is no longer
// the driver's link. It returns the error requests get from now on.
func (d *VADLINK) lose(c *conn, cause error) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	if c != d.c || c.deliberate.Load() {
		d.mu.Unlock()
		return cause
	}
	first := d.lost == nil
	if first {
		d.lost = fmt.Errorf("%w: %w", ErrLinkLost, cause)
		d.n.linkLost.Add(1)
	}
	lost := d.lost
	d.mu.Unlock()
	c.shut()
	if first && d.cfg.OnLinkLost != nil {
		d.cfg.OnLinkLost(lost)
	}
	return lost
}

// link returns the link to use, or why there is none.
func (d *VADLINK) link() (*conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return nil, ErrClosed
	case d.lost != nil:
		return nil, d.lost
	}
	return d.c, nil
}

// Command sends one request and returns its OK reply. An ERR reply is
// returned as an *Error. It is the driver's one way to the device; the typed
// methods are built on it, and protocols may use it for verbs they have no
// method for.
func (d *VADLINK) Command(ctx context.Context, verb string, args ...string) (Frame, error) {
	// Fail fast on a lost link, rather than queue behind a Reconnect.
	if _, err := d.link(); err != nil {
		return Frame{}, err
	}
	d.req.Lock()
	defer d.req.Unlock()
	return d.command(ctx, verb, args...)
}

// command is Command with d.req held.
func (d *VADLINK) command(ctx context.Context, verb string, args ...string) (Frame, error) {
	c, err := d.link()
	if err != nil {
		return Frame{}, err
	}
	f, fatal, err := d.exchange(ctx, c, verb, args...)
	if fatal {
		return Frame{}, d.lose(c, err)
	}
	return f, err
}

// Identify implements DUT; it also updates Identity.
func (d *VADLINK) Identify(ctx context.Context) (Identity, error) {
	f, err := d.Command(ctx, "HELLO")
	if err != nil {
		return Identity{}, err
	}
	id, err := parseIdentity(f)
	if err != nil {
		return Identity{}, err
	}
	d.mu.Lock()
	d.ident = id
	d.mu.Unlock()
	return id, nil
}

// Identity is the device's identity as of Dial, Identify or Reconnect.
func (d *VADLINK) Identity() Identity {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ident
}

// SetMode implements DUT.
func (d *VADLINK) SetMode(ctx context.Context, m Mode) error {
	if m < ModeStop || m > ModeLevel {
		return fmt.Errorf("dut: no such mode %d", int(m))
	}
	_, err := d.Command(ctx, "MODE", m.String())
	return err
}

// SetSpeed implements DUT. The range (0..60000 rpm on VADLINK) is the
// device's to check: it answers ErrBadArgument.
func (d *VADLINK) SetSpeed(ctx context.Context, rpm int) error {
	_, err := d.Command(ctx, "SPEED", strconv.Itoa(rpm))
	return err
}

// SetLevel implements DUT.
func (d *VADLINK) SetLevel(ctx context.Context, level int) (int, error) {
	f, err := d.Command(ctx, "LEVEL", strconv.Itoa(level))
	if err != nil {
		return 0, err
	}
	return intField(f, "rpm")
}

// Stop implements DUT with MODE STOP.
func (d *VADLINK) Stop(ctx context.Context) error { return d.SetMode(ctx, ModeStop) }

// Status implements DUT.
func (d *VADLINK) Status(ctx context.Context) (Status, error) {
	f, err := d.Command(ctx, "STATUS")
	if err != nil {
		return Status{}, err
	}
	return parseStatus(f)
}

// ClearAlarms implements DUT.
func (d *VADLINK) ClearAlarms(ctx context.Context) error {
	_, err := d.Command(ctx, "CLEAR")
	return err
}

// Ping sends a PING.
func (d *VADLINK) Ping(ctx context.Context) error {
	_, err := d.Command(ctx, "PING")
	return err
}

// SetTelemetry asks the device to stream TLM frames at hz (0 stops them); they
// reach Config.OnTelemetry. Streaming is for real-time runs: in virtual time
// the device only runs when a frame reaches it, so poll Status instead.
func (d *VADLINK) SetTelemetry(ctx context.Context, hz int) error {
	_, err := d.Command(ctx, "TELEM", strconv.Itoa(hz))
	return err
}

// Maintain implements DUT: it sends a PING when nothing was sent for
// KeepAlive on Config.Clock. It returns at once when a request is in flight
// (that request is the keep-alive), and the link's error when it is lost.
//
// The keep-alive is a method the engine calls rather than a goroutine of the
// driver's own because of virtual time: a goroutine sleeping on a virtual
// clock would advance it behind the engine's back, and one on a real timer
// would put PINGs at instants of virtual time that depend on the scheduler.
// Called from the engine's loop, every frame goes out at a reproducible time.
func (d *VADLINK) Maintain(ctx context.Context) error {
	if !d.req.TryLock() {
		return nil
	}
	defer d.req.Unlock()
	if _, err := d.link(); err != nil {
		return err
	}
	if d.clk.Now()-time.Duration(d.lastTx.Load()) < KeepAlive {
		return nil
	}
	_, err := d.command(ctx, "PING")
	return err
}

// Err returns nil while the link is up, an error matching ErrLinkLost when
// it was lost, ErrClosed after Close.
func (d *VADLINK) Err() error {
	_, err := d.link()
	return err
}

// Reconnect re-opens Config.Path, resolving it again, until the device
// answers HELLO or ctx ends; it waits 20 ms after the first failed attempt,
// doubling up to 500 ms. Requests meanwhile fail with ErrLinkLost. It refuses, with ErrIdentityChanged, a device whose
// model or serial differ from the one it replaces.
//
// Reconnect is explicit rather than automatic because the run engine decides
// what a lost link means (by design, a lost DUT link aborts a run into the
// safe state), and because the device has latched its host-link-lost alarm
// by then: the caller reads Status and clears alarms deliberately.
func (d *VADLINK) Reconnect(ctx context.Context) error {
	d.req.Lock()
	defer d.req.Unlock()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	old := d.c
	d.c = nil
	if d.lost == nil {
		d.lost = fmt.Errorf("%w: reconnecting", ErrLinkLost)
	}
	prev := d.ident
	d.mu.Unlock()
	if old != nil {
		old.release()
	}

	backoff := 20 * time.Millisecond
	timer := time.NewTimer(backoff)
	defer timer.Stop()
	for {
		c, id, err := d.dial(ctx)
		if err == nil {
			if id.Model != prev.Model || id.Serial != prev.Serial {
				c.release()
				return fmt.Errorf("dut: reconnect %s: %w: was %s %s, now %s %s",
					d.cfg.Path, ErrIdentityChanged, prev.Model, prev.Serial, id.Model, id.Serial)
			}
			if err := d.install(c, id); err != nil {
				return err
			}
			d.n.reconnects.Add(1)
			return nil
		}
		timer.Reset(backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("dut: reconnect %s: %w (last attempt: %w)", d.cfg.Path, ctx.Err(), err)
		case <-d.closing:
			return ErrClosed
		case <-timer.C:
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// Stats returns the link's counters.
func (d *VADLINK) Stats() Stats {
	return Stats{
		Sent:        d.n.sent.Load(),
		Received:    d.n.received.Load(),
		Retries:     d.n.retries.Load(),
		NoReply:     d.n.noReply.Load(),
		SeqMismatch: d.n.seqMismatch.Load(),
		BadCRC:      d.n.badCRC.Load(),
		BadSyntax:   d.n.badSyntax.Load(),
		TooLong:     d.n.tooLong.Load(),
		Unexpected:  d.n.unexpected.Load(),
		TLMFrames:   d.n.tlmFrames.Load(),
		AlarmFrames: d.n.alarmFrames.Load(),
		LinkLost:    d.n.linkLost.Load(),
		Reconnects:  d.n.reconnects.Load(),
	}
}

// Close implements DUT. A request in flight fails with ErrClosed.
func (d *VADLINK) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.closing)
	c := d.c
	d.c = nil
	lost := d.lost != nil
	d.mu.Unlock()
	if c == nil {
		return nil
	}
	err := c.release()
	if lost {
		return nil // the transport was already gone
	}
	return err
}

// SendBlind sends one request without waiting for a reply, on a fresh open
// of the device's path, even after the link was declared lost. It is for the
// safe state: a DUT whose replies no longer arrive may still hear a STOP.
// Whether it arrived is unknown; the DUT's own host-link watchdog is the
// backstop. It fails if the port cannot be opened (unplugged).
func (d *VADLINK) SendBlind(verb string, args ...string) error {
	d.req.Lock()
	defer d.req.Unlock()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	live := d.lost == nil
	d.mu.Unlock()
	if live {
		return errors.New("dut: SendBlind is for a lost link; use Command")
	}
	d.seq++
	if d.seq == 0 {
		d.seq = 1
	}
	line, err := AppendFrame(nil, Frame{Seq: d.seq, Verb: verb, Args: args})
	if err != nil {
		return err
	}
	rw, err := d.open(d.cfg.Path)
	if err != nil {
		return fmt.Errorf("dut: blind %s on %s: %w", verb, d.cfg.Path, err)
	}
	_, werr := rw.Write(line)
	d.emit(FrameEvent{At: d.clk.Now(), Dir: Sent, Line: string(line[:len(line)-1]), Frame: Frame{Seq: d.seq, Verb: verb, Args: args}})
	return errors.Join(werr, rw.Close())
}
