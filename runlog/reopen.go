package runlog

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/clock"
)

// Reopen continues an interrupted run's record in place, for `mockloop run
// --resume`: frames go to a new segment after the existing ones, events and
// beats are appended, and the manifest is back in state running with
// Resumed counted. Only a run Recover closed as interrupted can be
// reopened; everything it holds stays as it is. LastT is the run-clock time
// of its last frame or event, where the resumed run continues.
func Reopen(dir string, flush clock.Clock) (rec *Record, lastT time.Duration, err error) {
	if flush == nil {
		return nil, 0, errors.New("runlog: reopen: no flush clock")
	}
	// The lock first: what is read below must not change under us.
	lock, ok, err := tryLock(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("runlog: reopen %s: %w", dir, err)
	}
	if !ok {
		return nil, 0, fmt.Errorf("runlog: reopen %s: locked by another process", dir)
	}
	r := &Record{dir: dir, lock: lock, flush: flush, segMax: segmentBytes, segW: bufio.NewWriterSize(nil, bufSize)}
	defer func() {
		if err != nil {
			r.abandon()
			freeReserve(dir) // ours, if we got that far; the run stays interrupted
			err = fmt.Errorf("runlog: reopen %s: %w", dir, err)
		}
	}()
	run, err := Open(dir)
	if err != nil {
		return nil, 0, err
	}
	m := run.Manifest
	if m.State != StateInterrupted {
		return nil, 0, fmt.Errorf("the run is %s; only an interrupted run can be resumed", m.State)
	}
	if err := CheckResumable(dir); err != nil {
		return nil, 0, err
	}
	st, err := run.Frames(nil)
	if err != nil {
		return nil, 0, err
	}
	lastT = st.Last
	if evs, _ := run.ReadEvents(); len(evs) > 0 {
		lastT = max(lastT, time.Duration(evs[len(evs)-1].T*float64(time.Second)))
	}
	r.m, r.width, r.frames = m, len(m.Layout), st.Frames
	r.m.Coding = lastCoding(dir, m)
	r.segInfo = segHeader{RunID: m.RunID, Channels: m.Layout, Coding: r.m.Coding}
	r.setCoding(r.m.Coding)
	if err := reserveSpace(dir); err != nil {
		return nil, 0, err
	}
	// Running again, and then the interrupted part's result goes: a kill
	// during the resumed part must not leave it looking like the whole
	// run's. A kill between the two leaves a running run whose result
	// still counts the frames on disk, which Recover keeps; in the other
	// order it left an interrupted run without a result.
	r.m.State, r.m.Outcome, r.m.Ended = StateRunning, "", time.Time{}
	r.m.Resumed++
	if err := writeJSONAtomic(dir, manifestFile, r.m); err != nil {
		return nil, 0, err
	}
	if err := os.Remove(filepath.Join(dir, resultFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, err
	}
	// An open run has no seal; the next close (or recovery) seals the
	// whole record, the interrupted part and the resumed one.
	if err := removeSeal(dir); err != nil {
		return nil, 0, err
	}
	// The new segment only now, in a running run without a seal: a kill
	// before this point leaves nothing the seal does not cover (a segment
	// added to a sealed, interrupted run failed verification, and the run
	// could not be resumed again); after it, recovery seals it with the
	// rest.
	if err := r.openFiles(); err != nil {
		return nil, 0, err
	}
	r.lastSync = flush.Now()
	return r, lastT, nil
}

// openFiles opens, for a resumed part, a new segment after the existing
// ones and the events and beats files for appending.
func (r *Record) openFiles() error {
	names, err := segmentFiles(r.dir)
	if err != nil {
		return err
	}
	last := 0
	if n := len(names); n > 0 {
		last, _ = strconv.Atoi(strings.TrimSuffix(names[n-1], segmentExt))
	}
	if err := r.openSegment(last + 1); err != nil {
		return err
	}
	if r.events, err = openAppend(filepath.Join(r.dir, eventsFile), false); err != nil {
		return err
	}
	r.beats, err = openAppend(filepath.Join(r.dir, BeatsFile), true)
	r.beatsW = bufio.NewWriterSize(r.beats, bufSize)
	return err
}

// lastCoding is the coding of the last segment of the run in dir whose
// header says one (version 3), so that the resumed part codes as the
// interrupted one did; float32 for a record of older segments.
func lastCoding(dir string, m Manifest) []ColumnCoding {
	names, _ := segmentFiles(dir)
	for i := len(names) - 1; i >= 0; i-- {
		f, size, err := OpenFile(filepath.Join(dir, framesDir, names[i]))
		if err != nil {
			continue
		}
		var sc segScan
		_, why, err := sc.readHeader(f, size)
		f.Close()
		if err == nil && why == "" && sc.dec != nil && sc.header.RunID == m.RunID && slices.Equal(sc.header.Channels, m.Layout) {
			return sc.header.Coding
		}
	}
	return defaultCoding(len(m.Layout))
}

// Manifest is the record's manifest as it stands.
func (r *Record) Manifest() Manifest { return r.m }

// ErrNotResumable is wrapped by CheckResumable's error.
var ErrNotResumable = errors.New("the record may not be resumed")

// CheckResumable refuses to reopen a record that someone signed (the
// signature accepts the record as it is; resuming would void it) or whose
// seal does not hold (the resumed run's seal would cover the edit as if
// it had been written by the run). A record without a seal — recovery
// killed between its manifest and its seal — may be resumed: there is
// nothing to check it against, and its close seals it.
func CheckResumable(dir string) error {
	v, err := Verify(dir)
	if err != nil {
		return err
	}
	switch {
	case len(v.Signatures) > 0:
		return fmt.Errorf("%w: it is signed (%d signature(s)); a signed record is final", ErrNotResumable, len(v.Signatures))
	case v.Seal != nil && !v.Intact():
		return fmt.Errorf("%w: it fails verification (%s); `mockloop verify` says what differs", ErrNotResumable, strings.Join(v.Failures(), "; "))
	}
	return nil
}
