package influx

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/runlog"
)

// Defaults of SinkConfig.
const (
	defaultQueueBlocks   = 4096
	defaultFlushInterval = time.Second
)

// Tuning of the sink's bookkeeping.
const (
	// batchQueue is the number of compressed batches waiting for the
	// sender; the frame queue in front of the encoder is the elastic part.
	batchQueue = 4
	// stateInterval is how often, at most, spool/state.json is rewritten
	// while the run goes on: how stale a crash leaves it (a stale state
	// only makes `mockloop sync` re-read more of the record).
	stateInterval = 5 * time.Second
	// maxGaps bounds the gaps kept; beyond it the newest is widened to
	// cover the next (re-writing frames in between is harmless).
	maxGaps = 64
	// gapSettle is how far, in run time, the frames must have gone past a
	// gap before it is re-read from the record during the run, so that the
	// record has written them to its files.
	gapSettle = 2 * time.Second
)

// SinkConfig configures a Sink: where to write (Config), and the run
// whose points it writes.
type SinkConfig struct {
	Config
	// RunDir is the run's directory (Record.Dir). The spool is
	// RunDir/spool, where `mockloop sync` finds it, and frames the queue had
	// no room for are re-read from RunDir/frames.
	RunDir string
	// RunID and Rig are the tags run_id and rig of every point; RunID must
	// be valid (ValidRunID).
	RunID, Rig string
	// Layout is the frames' columns, as in the manifest: a frame's values
	// are fields named as its channels.
	Layout []runlog.Channel
	// Coding is how the record codes each column (runlog.Manifest.Coding;
	// nil: float32): the sink writes a value as the record keeps it, so a
	// frame re-read from the record is the same point.
	Coding []runlog.ColumnCoding
	// Epoch is the wall time of t = 0 of the run's clock: a point's
	// timestamp is Epoch + t, to the nanosecond.
	Epoch time.Time
	// Manifest, if set, is the run's manifest as the record has it (with
	// its hashes): the sink's first point is then the run's start point,
	// its identity in MeasurementRuns, for dashboards and for a report
	// made from InfluxDB.
	Manifest *runlog.Manifest
	// QueueBlocks bounds the frame queue, in blocks, default 4096 (about
	// 40 s of 10 ms blocks). Each slot keeps a copy of the largest block
	// it has held.
	QueueBlocks int
	// FlushInterval is the longest a point waits in a batch that is not
	// full, default 1 s.
	FlushInterval time.Duration
	// Written, if set, is called before a batch is sent or spooled: it
	// makes the frames and beats passed so far reach the record's files
	// (Record.Flush), so that a process killed at any moment never leaves
	// InfluxDB, or the spool, ahead of the record.
	Written func() error
}

// Sink writes the points of one run to InfluxDB: a point per frame, beat,
// step and event, and the run's summary (see the Measurement constants for
// the schema). The run record on disk is the truth and InfluxDB a sink
// (DESIGN.md, decision 3), so the sink is built never to stall the sampling
// path and never to lose what the record holds.
//
// # Path of a point
//
// Frames copies the block into one of QueueBlocks reusable buffers and
// queues it. An encoder goroutine turns blocks, events, beats and steps
// into line protocol, BatchSize points (or FlushInterval) to a batch, and
// gzips the batch. A sender goroutine writes it with one HTTP request. If
// the request fails — server down, 5xx, timeout, auth or missing database —
// the batch is written to the spool (spool/<seq>.lp.gz, fsynced) and every
// later batch follows it there, in order, until the spool is empty again;
// the sender retries the oldest spooled batch with exponential backoff
// (RetryMin to RetryMax) and deletes it only once the server has
// acknowledged it. The client library's retry buffer, which drops points
// after 50,000 of them or 3 minutes, is not used.
//
// # Guarantees
//
//   - Frames never blocks and, once each queue slot has held a block of the
//     largest size, does not allocate. When no slot is free (the server or
//     the disk is slower than the sampler, as a virtual clock always is),
//     it drops the block from the queue but keeps its time range as a gap:
//     the frames are in the run record, and the encoder re-reads them from
//     the frame segments — during the run once it is idle and the record is
//     past the gap, at the latest in Close, or in `mockloop sync`.
//   - Nothing the record holds is lost to InfluxDB. A point in the sink's
//     memory leaves it only once the server acknowledged it or it is
//     fsynced in the spool; frames dropped from the queue are kept as gaps.
//     spool/state.json records what else is owed: gaps and, until Close,
//     the frames after the last one known delivered or spooled. After a
//     crash, Replay re-reads all of that from the record, with the run's
//     events and beats, and writes it again.
//   - Exactly once in the database. A point is identified by measurement,
//     tags and timestamp, and writing it again replaces it with the same
//     values: the sink writes the float32 values the record keeps, and
//     derives timestamps only from the record's data and order. So a batch
//     written twice — acknowledged but the acknowledgement lost, replayed
//     after a crash, re-read from the record — is still one point per frame.
//   - Close reports what was not delivered: Delivered is true only if every
//     point was acknowledged and the run's summary point written last;
//     SpooledPoints counts the points in the spool and the frames owed from
//     the record; the run's result.json says so until `mockloop sync`
//     completes it.
//
// What InfluxDB may be missing, and until when: while the run goes on, the
// queue, the batch being filled (up to FlushInterval) and anything spooled
// or in a gap; after Close, what it reported, until `mockloop sync`; after
// a crash, whatever was not acknowledged, until `mockloop sync`. Never
// delivered: values InfluxDB cannot store (NaN and ±Inf are left out of
// their point, and a frame with no finite value has no point), batches the
// server refuses as invalid (kept in spool/rejected and counted as not
// delivered), what the record itself lost in a crash (at most
// SyncInterval), and the step statistics of a run that crashed (its
// result.json has none either).
//
// # Use
//
// Frames, Event, Beat, Step and Close are called from one goroutine, the
// engine's loop, as the Record is. Every event and beat appended to the
// record is passed too, in the same order (an event's seq field, and the
// 1 ns by which a point is moved past an earlier one of its series at the
// same time, come from that order, and a replay from the record must find
// the same). A frame block is passed after it was appended to the record,
// which gaps are re-read from. Before Close the caller syncs the record, so
// that the last gaps are in its files; Close sets the Result's Influx,
// and that Result is then given to Record.Close.
type Sink struct {
	cfg   SinkConfig
	width int
	spool string

	// The producer: the goroutine that calls Frames.
	free     chan *sinkBlock // empty buffers
	queue    chan *sinkBlock // buffers to encode; cap == buffers, never full
	gap      frameGap        // frames dropped since the last queued block
	offered  atomic.Int64    // frames passed to Frames
	overflow atomic.Int64    // frames that found the queue full
	closed   atomic.Bool

	mu    sync.Mutex
	items []sinkItem    // events, beats and steps for the encoder
	wake  chan struct{} // an item is waiting (cap 1)

	closing   chan frameGap // Close → encoder: the producer's last gap
	batches   chan *sinkBatch
	spare     chan *sinkBatch // used batches, for reuse
	encDone   chan struct{}
	sendDone  chan struct{}
	runCtx    context.Context // cancelled when Close's context ends
	cancelRun context.CancelFunc

	// The encoder goroutine's.
	enc       *lpEncoder
	zw        *gzip.Writer
	liveTo    time.Duration // time of the last frame from the queue
	haveLive  bool
	frames    *runlog.FrameRanges // the record's frames, which gaps are re-read from
	resolving []*gapEntry         // gaps re-read, for the next batch
	spareIt   []sinkItem
	skipped   int64 // frames without a finite value: no point

	gmu  sync.Mutex // guards gaps, shared by encoder and sender
	gaps []*gapEntry

	eventsOwed bool // by an earlier part of the run (carryOver); set before the goroutines start

	// The sender goroutine's.
	w          *influxWriter
	framesTo   time.Duration // frames through here are delivered or spooled
	haveTo     bool
	frozen     bool // a spool write failed: framesTo no longer advances
	down       bool // the last write failed
	retryAt    time.Time
	stateDirty bool
	stateAt    time.Time
	acked      int64 // points acknowledged
	err        error // first local failure (spool, state)
}

// sinkBlock is a queued copy of a frame block.
type sinkBlock struct {
	times  []time.Duration
	values []float64
	gap    frameGap // frames dropped just before these
}

// frameGap is a time range of frames that the queue had no room for, both
// ends included, and how many they were; n == 0 is no gap.
type frameGap struct {
	from, to time.Duration
	n        int64
}

// gapEntry is a gap being tracked until its frames are delivered or spooled.
type gapEntry struct {
	frameGap
	filled   bool // re-read into a batch not yet delivered or spooled
	resolved bool // that batch was delivered or spooled
}

// sinkItem is an event, a beat or a step waiting to be encoded.
type sinkItem struct {
	event *runlog.Event
	beat  *runlog.Beat
	step  *runlog.StepResult
}

// sinkBatch is a compressed batch on its way to the sender.
type sinkBatch struct {
	gz       bytes.Buffer
	points   int64
	framesTo time.Duration // frames from the queue through here are in it or before it
	haveTo   bool
	resolves []*gapEntry // gaps whose last re-read frames are in it
}

// errSinkClosed is returned by a second Close.
var errSinkClosed = errors.New("influx: sink closed")

// NewSink starts a sink for a run. It creates the spool directory with a
// state that says the run is owed in full (so that a crash before Close
// leaves `mockloop sync` enough to complete it), and does not contact the
// server: a run starts and is recorded whether InfluxDB is up or not.
func NewSink(cfg SinkConfig) (*Sink, error) {
	ic, err := cfg.Config.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.Config = ic
	switch {
	case cfg.RunDir == "":
		return nil, errors.New("influx: sink: no run directory")
	case !runlog.ValidRunID(cfg.RunID):
		return nil, fmt.Errorf("influx: sink: invalid run id %q", cfg.RunID)
	case len(cfg.Layout) == 0:
		return nil, errors.New("influx: sink: no channels")
	case cfg.Epoch.IsZero():
		return nil, errors.New("influx: sink: no epoch")
	}
	seen := make(map[string]bool, len(cfg.Layout))
	for _, c := range cfg.Layout {
		if err := checkFieldName(c.Name); err != nil {
			return nil, fmt.Errorf("influx: sink: %w", err)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("influx: sink: channel %q twice", c.Name)
		}
		seen[c.Name] = true
	}
	if cfg.QueueBlocks <= 0 {
		cfg.QueueBlocks = defaultQueueBlocks
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = defaultFlushInterval
	}
	spool := filepath.Join(cfg.RunDir, spoolDirName)
	if err := os.MkdirAll(spool, 0o755); err != nil {
		return nil, fmt.Errorf("influx: sink: %w", err)
	}
	frames := runlog.NewFrameRanges(cfg.RunDir, cfg.Layout)
	carried, eventsOwed, err := carryOver(spool, frames)
	if err != nil {
		return nil, fmt.Errorf("influx: sink: what the run's earlier part owes: %w", err)
	}
	if err := writeState(spool, stateOf(nil, carried, eventsOwed)); err != nil {
		return nil, err
	}
	w, err := newInfluxWriter(ic, spool)
	if err != nil {
		return nil, err
	}
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
	s := &Sink{
		cfg:      cfg,
		width:    len(cfg.Layout),
		spool:    spool,
		free:     make(chan *sinkBlock, cfg.QueueBlocks),
		queue:    make(chan *sinkBlock, cfg.QueueBlocks),
		wake:     make(chan struct{}, 1),
		closing:  make(chan frameGap),
		batches:  make(chan *sinkBatch, batchQueue),
		spare:    make(chan *sinkBatch, batchQueue+2),
		encDone:  make(chan struct{}),
		sendDone: make(chan struct{}),
		enc:      newLPEncoder(cfg.RunID, cfg.Rig, cfg.Layout, cfg.Coding, cfg.Epoch),
		zw:       zw,
		frames:   frames,
		w:        w,

		gaps:       carried,
		eventsOwed: eventsOwed,
	}
	for range cfg.QueueBlocks {
		s.free <- new(sinkBlock)
	}
	if cfg.Manifest != nil {
		s.enc.runStart(cfg.Manifest) // the first batch's first point
	}
	s.runCtx, s.cancelRun = context.WithCancel(context.Background())
	go s.encodeLoop()
	go s.sendLoop()
	return s, nil
}

// Frames queues the frames of b, which must have the layout's width. It
// never blocks; see the type's documentation for what happens when the
// queue is full. b may be reused as soon as it returns.
func (s *Sink) Frames(b *daq.Block) {
	n := b.Len()
	if n == 0 || s.closed.Load() {
		return
	}
	if b.Width != s.width || len(b.Values) != n*b.Width {
		panic(fmt.Sprintf("influx: sink: block of %d frames × %d channels with %d values, want %d channels",
			n, b.Width, len(b.Values), s.width))
	}
	s.offered.Add(int64(n))
	select {
	case sb := <-s.free:
		sb.times = append(sb.times[:0], b.Times...)
		sb.values = append(sb.values[:0], b.Values...)
		sb.gap, s.gap = s.gap, frameGap{}
		s.queue <- sb // as many slots as buffers: never blocks
	default:
		s.overflow.Add(int64(n))
		if s.gap.n == 0 {
			s.gap.from = b.Times[0]
		}
		s.gap.to = b.Times[n-1]
		s.gap.n += int64(n)
	}
}

// Event queues an event. Its Data must not be changed afterwards.
func (s *Sink) Event(e runlog.Event) { s.push(sinkItem{event: &e}) }

// Beat queues a beat.
func (s *Sink) Beat(b runlog.Beat) { s.push(sinkItem{beat: &b}) }

// Step queues the result of a step. Its Channels must not be changed
// afterwards.
func (s *Sink) Step(r runlog.StepResult) { s.push(sinkItem{step: &r}) }

// push hands an item to the encoder. Items are few (events, beats, steps:
// tens per second at most), so they wait in a slice, not in the bounded
// frame queue, and are never dropped.
func (s *Sink) push(it sinkItem) {
	if s.closed.Load() {
		return
	}
	s.mu.Lock()
	s.items = append(s.items, it)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// SinkStats are counters of a sink, for progress displays and tests.
type SinkStats struct {
	Frames   int64 // frames passed to Frames
	Overflow int64 // of them, frames the queue had no room for (re-read from the record)
}

// Stats returns the sink's counters so far.
func (s *Sink) Stats() SinkStats {
	return SinkStats{Frames: s.offered.Load(), Overflow: s.overflow.Load()}
}

// Close ends the sink: it encodes everything queued, re-reads the gaps from
// the record, and delivers or spools every batch; then, until ctx ends, it
// keeps replaying the spool to the server. Last, if nothing is left to
// replay, it writes the run's summary point from res (its Frames, if zero,
// is the number of frames the sink was given).
//
// It returns the delivery for result.json, and sets res.Influx to it when
// res is not nil. When everything was delivered the spool directory is
// removed; otherwise spool/state.json says what `mockloop sync` must still
// do. The error reports a failure to write the spool or its state (the
// data is in the record; sync re-reads it), not a server that was down.
func (s *Sink) Close(ctx context.Context, res *runlog.Result) (runlog.InfluxDelivery, error) {
	if s.closed.Swap(true) {
		return runlog.InfluxDelivery{}, errSinkClosed
	}
	stop := context.AfterFunc(ctx, s.cancelRun)
	defer stop()
	s.closing <- s.gap
	s.gap = frameGap{}
	<-s.encDone
	<-s.sendDone
	defer s.w.close()
	defer s.cancelRun()

	// Nothing runs concurrently any more.
	var owed int64
	var gaps []stateGap
	for _, g := range s.gaps {
		if !g.resolved {
			owed += g.n
			gaps = append(gaps, stateGap{From: int64(g.from), To: int64(g.to), Frames: g.n})
		}
	}
	complete := !s.frozen
	nothingOwed := complete && !s.eventsOwed && owed == 0 && len(s.w.files) == 0
	// The run's summary comes last, once nothing is left to replay, so a
	// summary point in InfluxDB means the run's data is complete there
	// (but for refused batches, which its delivered field then says).
	finished := nothingOwed && res == nil
	if nothingOwed && res != nil && s.runCtx.Err() == nil {
		frames := res.Frames
		if frames == 0 {
			frames = s.offered.Load()
		}
		if err := s.writeRun(res, frames); err != nil {
			s.w.lastErr = err.Error()
		} else {
			finished = true
		}
	}
	delivered := finished && s.w.rejected == 0
	d := runlog.InfluxDelivery{Delivered: delivered, SpooledPoints: s.w.spooledPoints() + owed + s.w.rejected}
	if !delivered {
		d.Error = s.w.lastErr
		if d.Error == "" && s.runCtx.Err() != nil {
			d.Error = "closing: " + context.Cause(ctx).Error()
		}
	}
	if s.skipped > 0 {
		s.w.logf("influx: %d frames had no finite value and so no point", s.skipped)
	}
	var err error
	if finished {
		err = removeSpool(s.spool)
	} else {
		err = writeState(s.spool, sinkState{Complete: complete, Gaps: gaps, EventsOwed: s.eventsOwed})
	}
	if res != nil {
		res.Influx = &d
	}
	return d, errors.Join(s.err, err)
}

// writeRun writes the run's summary point directly (never spooled: Replay
// writes it again at the end of its own replay).
func (s *Sink) writeRun(res *runlog.Result, frames int64) error {
	s.enc.reset()
	s.enc.run(res, frames, s.w.rejected == 0, nil)
	var b bytes.Buffer
	if err := gzipBatch(s.zw, &b, s.enc.buf, 1); err != nil {
		return err
	}
	if werr := s.w.post(s.runCtx, b.Bytes()); werr != nil {
		return werr
	}
	return nil
}

// encodeLoop is the encoder goroutine: it encodes queued blocks and items
// into batches for the sender, flushes a batch that is not full after
// FlushInterval, and re-reads gaps from the record when idle.
func (s *Sink) encodeLoop() {
	defer close(s.encDone)
	tick := time.NewTicker(s.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case b := <-s.queue:
			s.encodeBlock(b)
		case <-s.wake:
			s.encodeItems()
		case <-tick.C:
			s.encodeItems()
			s.flush()
			if len(s.queue) == 0 {
				s.fillGaps(false)
			}
		case g := <-s.closing:
			// The producer has stopped: whatever is queued is all.
			for drained := false; !drained; {
				select {
				case b := <-s.queue:
					s.encodeBlock(b)
				default:
					drained = true
				}
			}
			s.encodeItems()
			s.addGap(g)
			s.fillGaps(true)
			s.flush()
			close(s.batches)
			return
		}
	}
}

// encodeBlock encodes a queued block and returns its buffer.
func (s *Sink) encodeBlock(b *sinkBlock) {
	s.addGap(b.gap)
	w := s.width
	for i, t := range b.times {
		if !s.enc.frame(t, b.values[i*w:(i+1)*w]) {
			s.skipped++
		}
		s.liveTo, s.haveLive = t, true
		if s.enc.points >= s.batchSize() {
			s.flush()
		}
	}
	s.free <- b
}

// encodeItems encodes the waiting events, beats and steps.
func (s *Sink) encodeItems() {
	s.mu.Lock()
	items := s.items
	s.items = s.spareIt[:0]
	s.mu.Unlock()
	for i, it := range items {
		switch {
		case it.event != nil:
			s.enc.event(*it.event)
		case it.beat != nil:
			s.enc.beat(*it.beat)
		case it.step != nil:
			s.enc.step(*it.step, s.cfg.Layout)
		}
		items[i] = sinkItem{}
		if s.enc.points >= s.batchSize() {
			s.flush()
		}
	}
	s.spareIt = items[:0]
}

// flush hands the batch being filled to the sender, if it has points or
// completes gaps.
func (s *Sink) flush() {
	if s.enc.points == 0 && len(s.resolving) == 0 {
		return
	}
	var b *sinkBatch
	select {
	case b = <-s.spare:
	default:
		b = new(sinkBatch)
	}
	b.points = int64(s.enc.points)
	b.gz.Reset()
	if b.points > 0 {
		if err := gzipBatch(s.zw, &b.gz, s.enc.buf, b.points); err != nil {
			panic("influx: gzip to memory: " + err.Error()) // cannot fail
		}
	}
	b.framesTo, b.haveTo = s.liveTo, s.haveLive
	b.resolves = append(b.resolves[:0], s.resolving...)
	clear(s.resolving)
	s.resolving = s.resolving[:0]
	s.enc.reset()
	s.batches <- b
}

// addGap starts tracking a gap.
func (s *Sink) addGap(g frameGap) {
	if g.n == 0 {
		return
	}
	s.gmu.Lock()
	defer s.gmu.Unlock()
	if n := len(s.gaps); n >= maxGaps && !s.gaps[n-1].filled {
		last := s.gaps[n-1]
		last.to = g.to
		last.n += g.n
		return
	}
	s.gaps = append(s.gaps, &gapEntry{frameGap: g})
}

// fillGaps re-reads the frames of gaps from the record into batches. During
// the run (final false) it takes one gap the frames have gone gapSettle
// past, and counts it filled only if the record's files hold a frame after
// it, i.e. hold all of it. In Close (final true) the caller has synced the
// record, so the files hold everything; it fills every gap until the
// closing context ends.
func (s *Sink) fillGaps(final bool) {
	s.gmu.Lock()
	var todo []*gapEntry
	for _, g := range s.gaps {
		if g.filled || g.resolved {
			continue
		}
		if !final && !(s.haveLive && s.liveTo-g.to >= gapSettle) {
			continue
		}
		todo = append(todo, g)
		if !final {
			break
		}
	}
	s.gmu.Unlock()
	for _, g := range todo {
		if final && s.runCtx.Err() != nil {
			return
		}
		past, err := s.frames.Scan(g.from, g.to, func(t time.Duration, v []float64) error {
			if final && s.runCtx.Err() != nil {
				return s.runCtx.Err()
			}
			if !s.enc.frame(t, v) {
				s.skipped++
			}
			if s.enc.points >= s.batchSize() {
				s.flush()
			}
			return nil
		})
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				s.w.logf("influx: re-reading frames %v..%v from the record: %v", g.from, g.to, err)
			}
			continue
		}
		if past || final {
			s.gmu.Lock()
			g.filled = true
			s.gmu.Unlock()
			s.resolving = append(s.resolving, g)
		}
	}
}

// sendLoop is the sender goroutine: it writes batches, or spools them while
// the spool is not empty or the write fails, and replays the spool with
// backoff. When the encoder is done it keeps replaying until the spool is
// empty or Close's context ends.
func (s *Sink) sendLoop() {
	defer close(s.sendDone)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	done := s.runCtx.Done()
	for {
		if len(s.w.files) > 0 && !armed && done != nil {
			timer.Reset(time.Until(s.retryAt))
			armed = true
		}
		select {
		case b, ok := <-s.batches:
			if !ok {
				timer.Stop()
				s.drainSpool()
				return
			}
			s.deliver(b)
		case <-timer.C:
			armed = false
			s.retrySpool()
		case <-done:
			done = nil // no more attempts; batches go to the spool
			timer.Stop()
			armed = false
		}
		s.saveState(false)
	}
}

// deliver writes a batch, or spools it, and recycles it.
func (s *Sink) deliver(b *sinkBatch) {
	defer func() {
		select {
		case s.spare <- b:
		default:
		}
	}()
	if b.points == 0 {
		s.durable(b)
		return
	}
	if s.cfg.Written != nil {
		if err := s.cfg.Written(); err != nil {
			s.w.logf("influx: the record could not write frames before a batch was sent: %v", err)
		}
	}
	if len(s.w.files) == 0 && s.runCtx.Err() == nil {
		werr := s.w.write(s.runCtx, b.gz.Bytes(), b.points)
		if werr == nil {
			s.acked += b.points
			s.durable(b)
			return
		}
		if werr.permanent {
			if err := s.w.reject(b.gz.Bytes(), b.points, werr); err != nil {
				s.spoolFailed(err)
				return
			}
			s.w.logf("influx: %s", s.w.lastErr)
			s.durable(b)
			return
		}
		s.w.lastErr = werr.msg
		if !s.down {
			s.w.logf("influx: write failed (%s); spooling to %s until the server is back", werr.msg, s.spool)
			s.down = true
		}
		s.retryAt = time.Now().Add(s.w.nextBackoff(werr))
	}
	if err := s.w.spool(b.gz.Bytes(), b.points); err != nil {
		s.spoolFailed(err)
		return
	}
	s.durable(b)
}

// retrySpool replays the oldest spooled batch and schedules the next try.
func (s *Sink) retrySpool() {
	n, err := s.w.replayOldest(s.runCtx)
	if err != nil {
		var werr *writeError
		if !errors.As(err, &werr) && s.err == nil {
			s.err = err
		}
		s.retryAt = time.Now().Add(s.w.nextBackoff(err))
		return
	}
	s.acked += n
	s.w.backoff = s.cfg.RetryMin
	s.retryAt = time.Now()
	if s.down && len(s.w.files) == 0 {
		s.w.logf("influx: server is back; spool replayed")
		s.down = false
	}
}

// drainSpool replays the spool at the end of a run while the server takes
// it: until it is empty, Close's context ends, or one replay fails. A server
// that is down at the end of a run does not hold the run's close for the
// whole context (a run ends in seconds, not after a backoff schedule); what
// is left stays spooled, counted in the result, for `mockloop sync`.
func (s *Sink) drainSpool() {
	for len(s.w.files) > 0 && s.runCtx.Err() == nil {
		before := len(s.w.files)
		s.retrySpool()
		if len(s.w.files) >= before {
			return // the server did not take it: leave the rest for sync
		}
	}
}

// durable notes that a batch was acknowledged or spooled (or refused and
// kept): the frames and gaps it covers are no longer owed.
func (s *Sink) durable(b *sinkBatch) {
	if s.frozen {
		return
	}
	if b.haveTo {
		s.framesTo, s.haveTo = b.framesTo, true
	}
	if len(b.resolves) > 0 {
		s.gmu.Lock()
		for _, g := range b.resolves {
			g.resolved = true
		}
		kept := s.gaps[:0]
		for _, g := range s.gaps {
			if !g.resolved {
				kept = append(kept, g)
			}
		}
		clear(s.gaps[len(kept):])
		s.gaps = kept
		s.gmu.Unlock()
	}
	clear(b.resolves)
	s.stateDirty = true
}

// spoolFailed handles a batch that could be neither written nor spooled:
// its points are still in the record, so from here on the state claims
// nothing more as delivered, and sync re-reads the rest from the record.
func (s *Sink) spoolFailed(err error) {
	if !s.frozen {
		s.w.logf("influx: %v; the data stays in the record, `mockloop sync` will re-read it", err)
	}
	s.frozen = true
	s.w.lastErr = err.Error()
	if s.err == nil {
		s.err = err
	}
}

// saveState rewrites spool/state.json if it changed and stateInterval has
// passed (or force).
func (s *Sink) saveState(force bool) {
	if !force && (!s.stateDirty || time.Since(s.stateAt) < stateInterval) {
		return
	}
	var to *time.Duration
	if s.haveTo {
		to = &s.framesTo
	}
	s.gmu.Lock()
	st := stateOf(to, s.gaps, s.eventsOwed)
	s.gmu.Unlock()
	if err := writeState(s.spool, st); err != nil && s.err == nil {
		s.err = err
	}
	s.stateDirty, s.stateAt = false, time.Now()
}

// stateOf is the state of a sink while the run goes on: not complete,
// frames delivered or spooled through *framesTo (if set) but for gaps.
func stateOf(framesTo *time.Duration, gaps []*gapEntry, eventsOwed bool) sinkState {
	st := sinkState{EventsOwed: eventsOwed}
	if framesTo != nil {
		ns := int64(*framesTo)
		st.FramesTo = &ns
	}
	for _, g := range gaps {
		st.Gaps = append(st.Gaps, stateGap{From: int64(g.from), To: int64(g.to), Frames: g.n})
	}
	return st
}

// batchSize is the number of points of a batch: BatchSize, or less once the
// server refused a larger one as too large (influxWriter.write).
func (s *Sink) batchSize() int {
	if lim := s.w.limit.Load(); lim > 0 && lim < int64(s.cfg.BatchSize) {
		return int(lim)
	}
	return s.cfg.BatchSize
}
