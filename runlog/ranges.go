package runlog

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// FrameRanges reads time ranges of the frames of a run while it may still
// be written: what the InfluxDB sink re-reads when its queue had no room
// for frames, and `mockloop sync` what a crash left undelivered. It
// remembers the time of each segment's first frame, so that reading range
// after range of a long run skips the segments before each unread. It is
// used by one goroutine at a time.
type FrameRanges struct {
	dir    string
	runID  string // the directory's name, if a run id: segments of other runs are refused
	layout []Channel
	first  map[string]time.Duration // segment file name → time of its first frame
}

// NewFrameRanges returns a reader of the frames of the run in dir, whose
// frames have the given layout.
func NewFrameRanges(dir string, layout []Channel) *FrameRanges {
	id := filepath.Base(dir)
	if !ValidRunID(id) {
		id = "" // a run directory by another name: its segments' run ids are not checked
	}
	return &FrameRanges{dir: dir, runID: id, layout: layout, first: make(map[string]time.Duration)}
}

// errStopScan ends a scan of the record's frames early.
var errStopScan = errors.New("runlog: stop scan")

// Scan calls fn for every intact frame with from ≤ t ≤ to, in order, and
// reports whether it found a frame after to (so the files hold the whole
// range). Frame times never decrease, so a segment whose successor starts
// before from is skipped unread.
func (x *FrameRanges) Scan(from, to time.Duration, fn func(time.Duration, []float64) error) (past bool, err error) {
	names, err := segmentFiles(x.dir)
	if err != nil {
		return false, fmt.Errorf("runlog: frames: %w", err)
	}
	for i, name := range names {
		if i+1 < len(names) {
			if ft, ok := x.firstT(names[i+1]); ok && ft < from {
				continue
			}
		}
		_, err := scanSegmentFile(x.dir, name, x.runID, x.layout, func(t time.Duration, v []float64) error {
			if t > to {
				return errStopScan
			}
			if t < from {
				return nil
			}
			return fn(t, v)
		})
		if err == errStopScan {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// firstT returns the time of the first frame of a segment, remembered or
// read from its first record.
func (x *FrameRanges) firstT(name string) (time.Duration, bool) {
	if t, ok := x.first[name]; ok {
		return t, true
	}
	var first time.Duration
	found := false
	_, err := scanSegmentFile(x.dir, name, x.runID, x.layout, func(t time.Duration, _ []float64) error {
		first, found = t, true
		return errStopScan
	})
	if err != nil && err != errStopScan || !found {
		return 0, false
	}
	x.first[name] = first
	return first, true
}
