package runlog

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
)

// SyncInterval is the most time, on a Record's flush clock, that frames and
// events stay in memory before they are flushed and fsynced: the data a
// crash may lose.
const SyncInterval = time.Second

// ErrClosed is returned by the methods of a Record after Close.
var ErrClosed = errors.New("runlog: record closed")

// bufSize is the size of the write buffers of the frame segment and the
// event log: a little over a second of 8 channels at 1 kHz, so that at real
// time data reaches the kernel about once per sync.
const bufSize = 64 << 10

// Record is a run record being written. Create makes one; AppendBlock and
// Event append to it; Close ends it.
//
// A Record is written from one goroutine, the engine's loop. Sync may be
// called from any goroutine. All methods serialise on an internal mutex, so
// other concurrent use is safe too, but then the order of frames and events
// is whatever the callers' races make it.
type Record struct {
	mu       sync.Mutex
	dir      string
	m        Manifest // as written by Create
	width    int
	flush    clock.Clock
	lastSync time.Duration // flush clock time of the last sync

	lock *os.File // holds the run lock until Close

	seg      *os.File
	segW     *bufio.Writer
	segSeq   int
	segBytes int64     // size of the current segment, buffered bytes included
	segMax   int64     // rotation size; a field so tests can make it small
	segRecs  int       // records in the current segment
	segRecN  int       // if > 0, the records a segment takes (tests: records vary in size)
	segInfo  segHeader // what every segment's header says but its number
	segHdr   []byte    // the current segment's encoded header
	written  int64     // frame bytes written to all segments, headers included
	frames   int64     // frames appended
	buf      []byte    // encode buffer, reused by every record

	// Frames appended and not yet coded: a record codes them column by
	// column, so it takes up to recordFrames of them; they are coded when
	// it is full and whenever the segment is written (an event, a flush,
	// a sync, the close), so that they are exactly as durable as frames
	// waiting in segW.
	enc       *frameEncoder
	recFrames int // frames a record takes (enc.maxFrames(); tests make it small)
	pendT     []time.Duration
	pendV     []float64

	events *os.File // written through: an event reaches the file before any later frame
	beats  *os.File
	beatsW *bufio.Writer

	err    error // first write or sync error; every later write returns it
	closed bool
}

// Create starts the record of a new run in runsDir/m.RunID and returns it,
// holding the run's lock until Close. It fails if that directory exists.
//
// It copies protocolSrc to protocol.yaml and rigSrc to rig.yaml, fills in
// their SHA-256 in the manifest (a hash the caller set must match them),
// writes manifest.json with state "running" and opens events.jsonl and the
// first frame segment. m.RunID must be valid (ValidRunID), m.Layout must name
// at least one channel, each once, m.Epoch must be set, and m.Clock must be
// "virtual" or "real"; a zero m.Started defaults to m.Epoch. Times are stored
// in UTC.
//
// flush is a real-time clock used only to decide when to sync (SyncInterval):
// the run itself may be on virtual time, and a run at 1000× must not fsync a
// thousand times per wall-clock second.
func Create(runsDir string, m Manifest, protocolSrc, rigSrc []byte, flush clock.Clock) (_ *Record, err error) {
	if flush == nil {
		return nil, errors.New("runlog: create: no flush clock")
	}
	if err := prepareManifest(&m, protocolSrc, rigSrc); err != nil {
		return nil, fmt.Errorf("runlog: create: %w", err)
	}
	// Encode everything that can fail on content before touching the disk.
	manifestJSON, err := marshalFile(m)
	if err != nil {
		return nil, fmt.Errorf("runlog: create: manifest: %w", err)
	}
	if m.Coding == nil {
		m.Coding = defaultCoding(len(m.Layout))
	}
	if err := checkCoding(m.Coding, len(m.Layout)); err != nil {
		return nil, fmt.Errorf("runlog: create: %w", err)
	}
	info := segHeader{RunID: m.RunID, Channels: m.Layout, Coding: m.Coding}
	if _, err := appendSegmentHeader(nil, info); err != nil {
		return nil, fmt.Errorf("runlog: create: %w", err)
	}

	if err := os.MkdirAll(runsDir, 0o755); err != nil {
		return nil, fmt.Errorf("runlog: create: %w", err)
	}
	dir := filepath.Join(runsDir, m.RunID)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("runlog: create: %w", err)
	}
	r := &Record{
		dir:     dir,
		m:       m,
		width:   len(m.Layout),
		flush:   flush,
		segMax:  segmentBytes,
		segInfo: info,
		segW:    bufio.NewWriterSize(nil, bufSize),
	}
	r.setCoding(m.Coding)
	defer func() {
		if err != nil {
			r.abandon()
			os.RemoveAll(dir) // ours: made above, never yet a run
			err = fmt.Errorf("runlog: create: %w", err)
		}
	}()
	lock, ok, err := tryLock(dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: locked by another process", dir)
	}
	r.lock = lock
	if err := reserveSpace(dir); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(dir, protocolFile, protocolSrc); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(dir, rigFile, rigSrc); err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, framesDir), 0o755); err != nil {
		return nil, err
	}
	if err := r.openSegment(1); err != nil {
		return nil, err
	}
	r.events, err = os.OpenFile(filepath.Join(dir, eventsFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	r.beats, err = os.OpenFile(filepath.Join(dir, BeatsFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	r.beatsW = bufio.NewWriterSize(r.beats, bufSize)
	// The manifest comes last: a directory with a manifest is a run whose
	// files all exist.
	if err := writeFileAtomic(dir, manifestFile, manifestJSON); err != nil {
		return nil, err
	}
	if err := syncDir(runsDir); err != nil {
		return nil, err
	}
	r.lastSync = flush.Now()
	return r, nil
}

// prepareManifest checks m for Create and fills in what Create decides.
func prepareManifest(m *Manifest, protocolSrc, rigSrc []byte) error {
	if !ValidRunID(m.RunID) {
		return fmt.Errorf("invalid run id %q", m.RunID)
	}
	if len(m.Layout) == 0 {
		return errors.New("manifest has no channels")
	}
	if len(m.Layout) > maxChannels {
		return fmt.Errorf("%d channels, at most %d", len(m.Layout), maxChannels)
	}
	seen := make(map[string]bool, len(m.Layout))
	for _, c := range m.Layout {
		if c.Name == "" {
			return errors.New("channel without a name")
		}
		if seen[c.Name] {
			return fmt.Errorf("channel %q twice", c.Name)
		}
		seen[c.Name] = true
	}
	if m.Epoch.IsZero() {
		return errors.New("manifest has no epoch")
	}
	if m.Clock != ClockVirtual && m.Clock != ClockReal {
		return fmt.Errorf("clock %q: want %q or %q", m.Clock, ClockVirtual, ClockReal)
	}
	if math.IsNaN(m.SampleRateHz) || math.IsInf(m.SampleRateHz, 0) || m.SampleRateHz < 0 {
		return fmt.Errorf("sample rate %v Hz", m.SampleRateHz)
	}
	if err := setHash(&m.Protocol.SHA256, protocolSrc, "protocol"); err != nil {
		return err
	}
	if err := setHash(&m.RigConfigSHA256, rigSrc, "rig config"); err != nil {
		return err
	}
	if m.Started.IsZero() {
		m.Started = m.Epoch
	}
	m.Started, m.Epoch = m.Started.UTC(), m.Epoch.UTC()
	m.Ended, m.State, m.Outcome = time.Time{}, StateRunning, ""
	m.Layout = slices.Clone(m.Layout)
	if m.Calibration == nil {
		m.Calibration = []Calibration{}
	}
	return nil
}

// setHash sets *h to the hex SHA-256 of b, or fails if *h is set to another.
func setHash(h *string, b []byte, what string) error {
	sum := sha256.Sum256(b)
	s := hex.EncodeToString(sum[:])
	if *h != "" && *h != s {
		return fmt.Errorf("%s sha256 %s does not match its bytes (%s)", what, *h, s)
	}
	*h = s
	return nil
}

// marshalFile encodes v as manifest.json and result.json are written:
// indented, newline-terminated, with <, > and & as themselves (limits are
// written "< 90 mmHg").
func marshalFile(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// marshalLine encodes v on one line, newline-terminated, as in events.jsonl.
func marshalLine(v any) ([]byte, error) {
	b, err := marshalCompact(v)
	return append(b, '\n'), err
}

// openSegment creates segment seq and writes its header, which binds it to
// the run and to its number.
func (r *Record) openSegment(seq int) error {
	info := r.segInfo
	info.Seq = seq
	hdr, err := appendSegmentHeader(r.segHdr[:0], info)
	if err != nil {
		return err
	}
	r.segHdr = hdr
	dir := filepath.Join(r.dir, framesDir)
	f, err := os.OpenFile(filepath.Join(dir, segmentName(seq)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	r.seg, r.segSeq = f, seq
	r.segW.Reset(f)
	if _, err := r.segW.Write(r.segHdr); err != nil {
		return err
	}
	r.segBytes, r.segRecs = int64(len(r.segHdr)), 0
	r.written += int64(len(r.segHdr))
	return syncDir(dir) // the new file's name is durable before its data is
}

// rotate ends the current segment, durably, and begins the next. The
// events are synced first: nothing durable is ahead of what precedes it.
func (r *Record) rotate() error {
	if err := r.segW.Flush(); err != nil {
		return err
	}
	if err := r.events.Sync(); err != nil {
		return err
	}
	if err := r.seg.Sync(); err != nil {
		return err
	}
	if err := r.seg.Close(); err != nil {
		return err
	}
	return r.openSegment(r.segSeq + 1)
}

// AppendBlock appends the frames of b to the record, converting values to
// float32 (see the package documentation for the format). Its width must be
// the layout's. Once the segment is written, it syncs if SyncInterval has
// passed on the flush clock since the last sync. In the steady state it does
// not allocate.
//
// After a write error every later append fails with the same error: a
// record with a hole in it must not look whole.
func (r *Record) AppendBlock(b *daq.Block) error {
	r.mu.Lock()
	if err := r.writableLocked(); err != nil {
		r.mu.Unlock()
		return err
	}
	if b.Width != r.width || len(b.Values) != b.Len()*b.Width {
		r.mu.Unlock()
		return fmt.Errorf("runlog: block of %d frames × %d channels with %d values, want %d channels",
			b.Len(), b.Width, len(b.Values), r.width)
	}
	maxFrames := r.recFrames
	for i, n := 0, b.Len(); i < n; {
		j := min(n, i+maxFrames-len(r.pendT))
		r.pendT = append(r.pendT, b.Times[i:j]...)
		r.pendV = append(r.pendV, b.Values[i*r.width:j*r.width]...)
		r.frames += int64(j - i)
		i = j
		if len(r.pendT) == maxFrames {
			if err := r.codePendingLocked(); err != nil {
				r.mu.Unlock()
				return err
			}
		}
	}
	seg, ev, bt := r.syncDueLocked()
	r.mu.Unlock()
	return r.fsync(seg, ev, bt)
}

// setCoding makes the record code its frames with cs.
func (r *Record) setCoding(cs []ColumnCoding) {
	r.enc = newFrameEncoder(cs)
	n := r.enc.maxFrames()
	r.recFrames = n
	r.pendT, r.pendV = make([]time.Duration, 0, n), make([]float64, 0, n*r.width)
}

// codePendingLocked codes the frames not yet coded into a record and
// writes it to the segment's buffer.
func (r *Record) codePendingLocked() error {
	if len(r.pendT) == 0 {
		return nil
	}
	r.buf = r.enc.appendRecord(r.buf[:0], r.pendT, r.pendV)
	r.pendT, r.pendV = r.pendT[:0], r.pendV[:0]
	if err := r.writeRecordLocked(r.buf); err != nil {
		r.err = fmt.Errorf("runlog: append frames: %w", err)
		return r.err
	}
	return nil
}

// writeRecordLocked writes one encoded record, rotating first if the segment
// would grow past its bound. A segment always takes at least one record.
func (r *Record) writeRecordLocked(rec []byte) error {
	n := int64(len(rec))
	if r.segBytes > int64(len(r.segHdr)) && (r.segBytes+n > r.segMax || r.segRecs == r.segRecN) {
		if err := r.rotate(); err != nil {
			return err
		}
	}
	if _, err := r.segW.Write(rec); err != nil {
		return err
	}
	r.segBytes += n
	r.segRecs++
	r.written += n
	return nil
}

// Event appends e as a line to events.jsonl and, as AppendBlock, syncs when
// a sync is due.
//
// The frames buffered before it are written to their segment first, and
// the line is written at once (write(2), no user-space buffer): a frame
// never reaches the files before an event that precedes it, so a process
// killed at any moment leaves every frame's run start, step start and
// setpoints on disk. Events are few (steps, setpoints, alarms), so the two
// writes cost little.
func (r *Record) Event(e Event) error {
	line, err := marshalLine(e)
	if e.err != nil {
		err = e.err
	}
	if err != nil {
		return fmt.Errorf("runlog: event %q: %w", e.Kind, err)
	}
	r.mu.Lock()
	if err := r.writableLocked(); err != nil {
		r.mu.Unlock()
		return err
	}
	if err := r.codePendingLocked(); err != nil {
		r.mu.Unlock()
		return err
	}
	if err := r.segW.Flush(); err != nil {
		r.err = fmt.Errorf("runlog: write frames: %w", err)
		r.mu.Unlock()
		return r.err
	}
	if _, err := r.events.Write(line); err != nil {
		r.err = fmt.Errorf("runlog: append event: %w", err)
		r.mu.Unlock()
		return r.err
	}
	seg, ev, bt := r.syncDueLocked()
	r.mu.Unlock()
	return r.fsync(seg, ev, bt)
}

// Beat appends a detected beat to beats.jsonl, with the same buffering and
// sync policy as events.
func (r *Record) Beat(b Beat) error {
	line, err := marshalLine(b)
	if err != nil {
		return fmt.Errorf("runlog: beat: %w", err)
	}
	r.mu.Lock()
	if err := r.writableLocked(); err != nil {
		r.mu.Unlock()
		return err
	}
	if _, err := r.beatsW.Write(line); err != nil {
		r.err = fmt.Errorf("runlog: append beat: %w", err)
		r.mu.Unlock()
		return r.err
	}
	seg, ev, bt := r.syncDueLocked()
	r.mu.Unlock()
	return r.fsync(seg, ev, bt)
}

// Sync makes everything appended so far durable: it writes the buffered
// frames and events to their files and fsyncs them. The fsync runs outside
// the record's mutex, so a goroutine that calls Sync more often than
// SyncInterval keeps the fsync latency (tens of ms on an SD card) out of the
// goroutine that appends, which then never finds a sync due.
func (r *Record) Sync() error {
	r.mu.Lock()
	if err := r.writableLocked(); err != nil {
		r.mu.Unlock()
		return err
	}
	seg, ev, bt := r.flushLocked()
	err := r.err
	r.mu.Unlock()
	if err != nil {
		return err
	}
	return r.fsync(seg, ev, bt)
}

// Flush writes the buffered frames and beats to their files (write(2),
// no fsync): they then survive the process being killed. The InfluxDB sink
// calls it before it sends or spools a batch, so that InfluxDB is never
// ahead of the record. Flushing a closed record is not an error.
func (r *Record) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	if r.err != nil {
		return r.err
	}
	if err := r.codePendingLocked(); err != nil {
		return err
	}
	if err := r.segW.Flush(); err != nil {
		r.err = fmt.Errorf("runlog: write frames: %w", err)
	} else if err := r.beatsW.Flush(); err != nil {
		r.err = fmt.Errorf("runlog: write beats: %w", err)
	}
	return r.err
}

// writableLocked returns why nothing can be appended, or nil.
func (r *Record) writableLocked() error {
	if r.closed {
		return ErrClosed
	}
	return r.err
}

// syncDueLocked flushes the buffers if a sync is due and returns the files
// to fsync then, or nils.
func (r *Record) syncDueLocked() (seg, ev, bt *os.File) {
	if r.flush.Now()-r.lastSync < SyncInterval {
		return nil, nil, nil
	}
	return r.flushLocked()
}

// flushLocked writes the buffers to the files and returns the files for
// fsync (nils after an error, which it records).
func (r *Record) flushLocked() (seg, ev, bt *os.File) {
	r.lastSync = r.flush.Now()
	if err := r.codePendingLocked(); err != nil {
		return nil, nil, nil
	}
	if err := r.segW.Flush(); err != nil {
		r.err = fmt.Errorf("runlog: write frames: %w", err)
		return nil, nil, nil
	}
	if err := r.beatsW.Flush(); err != nil {
		r.err = fmt.Errorf("runlog: write beats: %w", err)
		return nil, nil, nil
	}
	return r.seg, r.events, r.beats
}

// fsync fsyncs the files given (either may be nil) and records a failure.
// A file closed meanwhile by rotation or Close was synced by them, and is
// not an error. The events go first, the beats (which follow the frames
// they are found in) last, so that what is durable is never ahead of what
// precedes it.
func (r *Record) fsync(seg, ev, bt *os.File) error {
	var err error
	for _, f := range [3]*os.File{ev, seg, bt} {
		if f == nil {
			continue
		}
		if e := f.Sync(); e != nil && !errors.Is(e, os.ErrClosed) && err == nil {
			err = fmt.Errorf("runlog: sync: %w", e)
		}
	}
	if err != nil {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
	}
	return err
}

// Close ends the run: it flushes, syncs and closes the frames and events,
// writes result.json, rewrites manifest.json with state "closed", the end
// time (the epoch plus res.DurationS) and the outcome, and releases the run
// lock. It sets res.RunID and res.Frames from the record, and writes nil
// Steps and Criteria as [].
//
// res.Outcome must be a run outcome and res.DurationS finite and not
// negative; otherwise Close returns an error and the record stays open. Any
// other failure still closes the record as far as it can and is returned,
// together with any earlier write error. A second Close returns ErrClosed.
func (r *Record) Close(res Result) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if !runOutcome(res.Outcome) {
		return fmt.Errorf("runlog: close with outcome %q: want pass, fail, aborted or interrupted", res.Outcome)
	}
	if math.IsNaN(res.DurationS) || math.IsInf(res.DurationS, 0) || res.DurationS < 0 {
		return fmt.Errorf("runlog: close with duration %v s", res.DurationS)
	}
	r.closed = true
	if r.err == nil {
		_ = r.codePendingLocked() // an error is in r.err, below
	}
	errs := []error{r.err}
	note := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("runlog: close: %s: %w", what, err))
		}
	}
	note("events", closeFile(r.events))
	note("frames", closeWriter(r.segW, r.seg))
	note("beats", closeWriter(r.beatsW, r.beats))

	note("reserve", freeReserve(r.dir)) // room for what follows on a full disk
	if errors.Is(r.err, syscall.ENOSPC) {
		// The cause, not just its consequence (a fault, or nothing at all
		// when the result could not be written and Recover said
		// "interrupted").
		res.Outcome, res.AbortReason = OutcomeAborted, "disk full: "+r.err.Error()
	}
	res.RunID, res.Frames = r.m.RunID, r.frames
	res.Rig, res.Host, res.Job = r.m.Rig, r.m.Host, r.m.Job
	if res.Steps == nil {
		res.Steps = []StepResult{}
	}
	if res.Criteria == nil {
		res.Criteria = []CriterionResult{}
	}
	note("result", writeJSONAtomic(r.dir, resultFile, res))
	m := r.m
	m.State, m.Outcome, m.Ended = StateClosed, res.Outcome, m.Epoch.Add(durationOf(res.DurationS))
	note("manifest", writeJSONAtomic(r.dir, manifestFile, m))
	note("seal", writeSeal(r.dir, m.RunID, SealedByClose)) // last: it covers all of the above
	note("lock", r.lock.Close())
	return errors.Join(errs...)
}

// closeWriter flushes w to f, syncs and closes f.
func closeWriter(w *bufio.Writer, f *os.File) error {
	err := w.Flush()
	if e := closeFile(f); err == nil {
		err = e
	}
	return err
}

// closeFile syncs and closes f.
func closeFile(f *os.File) error {
	err := f.Sync()
	if e := f.Close(); err == nil {
		err = e
	}
	return err
}

// abandon closes whatever Create opened, when Create fails.
func (r *Record) abandon() {
	for _, f := range []*os.File{r.seg, r.events, r.beats, r.lock} {
		if f != nil {
			f.Close()
		}
	}
}

// durationOf converts seconds to a duration, rounding to the nanosecond.
func durationOf(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// Dir returns the run's directory.
func (r *Record) Dir() string { return r.dir }

// RunID returns the run's id.
func (r *Record) RunID() string { return r.m.RunID }

// Frames returns the number of frames appended so far.
func (r *Record) Frames() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames
}
