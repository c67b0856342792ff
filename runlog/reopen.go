package runlog

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	run, err := Open(dir)
	if err != nil {
		return nil, 0, err
	}
	m := run.Manifest
	if m.State != StateInterrupted {
		return nil, 0, fmt.Errorf("runlog: reopen %s: the run is %s; only an interrupted run can be resumed", dir, m.State)
	}
	st, err := run.Frames(func(time.Duration, []float64) error { return nil })
	if err != nil {
		return nil, 0, fmt.Errorf("runlog: reopen %s: %w", dir, err)
	}
	lastT = st.Last
	if evs, _ := run.ReadEvents(); len(evs) > 0 {
		lastT = max(lastT, time.Duration(evs[len(evs)-1].T*float64(time.Second)))
	}
	hdr, err := appendSegmentHeader(nil, segHeader{RunID: m.RunID, Channels: m.Layout})
	if err != nil {
		return nil, 0, err
	}
	r := &Record{dir: dir, m: m, width: len(m.Layout), flush: flush, segMax: segmentBytes, segHdr: hdr,
		segW: bufio.NewWriterSize(nil, bufSize), frames: st.Frames}
	defer func() {
		if err != nil {
			r.abandon()
			err = fmt.Errorf("runlog: reopen %s: %w", dir, err)
		}
	}()
	lock, ok, err := tryLock(dir)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, errors.New("locked by another process")
	}
	r.lock = lock
	ents, err := os.ReadDir(filepath.Join(dir, framesDir))
	if err != nil {
		return nil, 0, err
	}
	last := 0
	for _, e := range ents {
		if n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), segmentExt)); err == nil && strings.HasSuffix(e.Name(), segmentExt) {
			last = max(last, n)
		}
	}
	if err := r.openSegment(last + 1); err != nil {
		return nil, 0, err
	}
	if r.events, err = os.OpenFile(filepath.Join(dir, eventsFile), os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, 0, err
	}
	r.eventsW = bufio.NewWriterSize(r.events, bufSize)
	if r.beats, err = os.OpenFile(filepath.Join(dir, BeatsFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
		return nil, 0, err
	}
	r.beatsW = bufio.NewWriterSize(r.beats, bufSize)
	r.m.State, r.m.Outcome, r.m.Ended = StateRunning, "", time.Time{}
	r.m.Resumed++
	if err := writeJSONAtomic(dir, manifestFile, r.m); err != nil {
		return nil, 0, err
	}
	r.lastSync = flush.Now()
	return r, lastT, nil
}

// Manifest is the record's manifest as it stands.
func (r *Record) Manifest() Manifest { return r.m }
