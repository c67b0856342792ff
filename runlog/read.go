package runlog

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Run is a run record opened for reading, closed or still being written.
type Run struct {
	// Dir is the run's directory.
	Dir string
	// Manifest is manifest.json as it was when the run was opened.
	Manifest Manifest
	// Result is result.json, or nil if the run has none yet (it is
	// running, or its process died and Recover has not closed it).
	Result *Result
}

// Open opens the run record in dir, reading its manifest and, if there is
// one, its result.
func Open(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	if err := readJSON(dir, manifestFile, &r.Manifest); err != nil {
		return nil, fmt.Errorf("runlog: open %s: %w", dir, err)
	}
	var res Result
	switch err := readJSON(dir, resultFile, &res); {
	case err == nil:
		r.Result = &res
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("runlog: open %s: %w", dir, err)
	}
	return r, nil
}

// Coding is how the run's frame segments code each channel (that of its
// last segment; float32 for every channel of a record before format 3).
func (r *Run) Coding() []ColumnCoding { return lastCoding(r.Dir, r.Manifest) }

// FrameStats says what Run.Frames read, and what it could not.
type FrameStats struct {
	Segments int           // segment files read
	Records  int64         // intact records read
	Frames   int64         // frames delivered
	Last     time.Duration // timestamp of the last frame delivered
	// Damaged lists, in file order, each part of a segment that could not
	// be read (reading resumes at the next intact record), and each segment
	// refused as a whole. After a crash the last segment may end in a torn
	// record; anything else is corruption or a stray file.
	Damaged []Damage
	// UnreadBytes is the sum of Damaged[i].Bytes.
	UnreadBytes int64
}

// Intact reports whether every byte of every segment was read.
func (s FrameStats) Intact() bool { return len(s.Damaged) == 0 }

// Damage is where and why reading a segment stopped before its end.
type Damage struct {
	Segment string // path relative to the run directory, "frames/00000002.seg"
	Offset  int64  // end of the last intact record before it: the first byte not read
	Bytes   int64  // bytes not read from Offset on, up to the next intact record or the end of the file
	Reason  string // e.g. "truncated record", "bad record checksum"
	// Refused is set when the whole segment is not this run's: another
	// run's, a copy of another segment of this run, another layout, not a
	// regular file. It is ignored, never read, never cut.
	Refused bool
	// Tail is set when the damage runs to the end of the file: after a
	// crash, the last segment's torn last record.
	Tail bool
}

// String describes d for a report or log.
func (d Damage) String() string {
	return fmt.Sprintf("%s: %s at byte %d, %d bytes unread", d.Segment, d.Reason, d.Offset, d.Bytes)
}

// Frames calls fn for every intact frame of the run, in order, with its
// timestamp (run clock time since the epoch) and its values in layout order.
// values is reused from call to call: copy it to keep it. fn may be nil to
// only count.
//
// Every record's CRC is checked. Damage — a torn or corrupt record, a bad
// segment header, a segment whose layout is not the manifest's — ends the
// reading of that segment, keeping the frames before it, and is reported in
// the stats, not as an error; reading goes on with the next segment. The
// error is fn's, which stops the reading, or a failure to read a file.
func (r *Run) Frames(fn func(t time.Duration, values []float64) error) (FrameStats, error) {
	return scanFrames(r.Dir, r.Manifest.RunID, r.Manifest.Layout, fn)
}

// scanFrames is Run.Frames for the run runID in dir with the given layout.
func scanFrames(dir, runID string, layout []Channel, fn func(time.Duration, []float64) error) (FrameStats, error) {
	var st FrameStats
	names, err := segmentFiles(dir)
	if err != nil {
		return st, fmt.Errorf("runlog: frames: %w", err)
	}
	for _, name := range names {
		sc, err := scanSegmentFile(dir, name, runID, layout, fn)
		st.Segments++
		st.Records += sc.records
		st.Frames += sc.frames
		if sc.frames > 0 {
			st.Last = sc.lastT
		}
		if err != nil {
			return st, err
		}
		for _, sd := range sc.damage {
			d := Damage{Segment: path.Join(framesDir, name), Offset: sd.off, Bytes: sd.n, Reason: sd.reason,
				Refused: sd.refused, Tail: !sd.refused && sd.off+sd.n == sc.size}
			st.Damaged = append(st.Damaged, d)
			st.UnreadBytes += d.Bytes
		}
	}
	return st, nil
}

// scanSegmentFile runs scanSegment on segment name of the run runID in
// dir, which must be a regular file (a FIFO or a device is refused as a
// whole, without blocking). Errors other than fn's are wrapped with the file
// name.
func scanSegmentFile(dir, name, runID string, layout []Channel, fn func(time.Duration, []float64) error) (segScan, error) {
	seq, _ := strconv.Atoi(strings.TrimSuffix(name, segmentExt))
	f, size, err := OpenFile(filepath.Join(dir, framesDir, name))
	if errors.Is(err, ErrNotRegular) {
		return segScan{damage: []segDamage{{reason: damageNotRegular, refused: true}}}, nil
	}
	if err != nil {
		return segScan{}, fmt.Errorf("runlog: frames: %w", err)
	}
	defer f.Close()
	var fnErr error
	sc, err := scanSegment(f, size, &segWant{runID: runID, seq: seq, layout: layout}, func(t time.Duration, v []float64) error {
		if fn != nil {
			fnErr = fn(t, v)
		}
		return fnErr
	})
	sc.size = size
	if err != nil && err != fnErr {
		err = fmt.Errorf("runlog: frames: %s: %w", f.Name(), err)
	}
	return sc, err
}

// segmentFiles returns the names of the frame segments of the run in dir,
// in order; none if it has no frames directory.
func segmentFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(dir, framesDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if isSegmentName(e.Name()) && !e.IsDir() { // other types are refused by scanSegmentFile
			names = append(names, e.Name())
		}
	}
	slices.Sort(names) // fixed-width numbers: lexical order is numeric order
	return names, nil
}

// isSegmentName reports whether name is as segmentName makes them.
func isSegmentName(name string) bool {
	num, ok := strings.CutSuffix(name, segmentExt)
	if !ok || len(num) != 8 {
		return false
	}
	for _, c := range []byte(num) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ReadEvents returns the events of the run in the order they were written.
//
// A last line without its newline is a write cut short (the run is being
// written, or its process died) and is left out silently. Lines that are
// complete but not a JSON event are left out too, and reported in the error,
// which then comes with all the events that could be read.
func (r *Run) ReadEvents() ([]Event, error) {
	b, err := ReadFile(filepath.Join(r.Dir, eventsFile), maxEventsFile)
	if err != nil {
		return nil, fmt.Errorf("runlog: events: %w", err)
	}
	evs, bad, _ := parseEvents(b)
	if len(bad) > 0 {
		return evs, fmt.Errorf("runlog: %s: %d malformed lines (first: line %d)", filepath.Join(r.Dir, eventsFile), len(bad), bad[0])
	}
	return evs, nil
}

// parseEvents parses the complete lines of events.jsonl content b. It
// returns the events, the 1-based numbers of malformed lines, and the
// length of b up to the end of its last complete line.
func parseEvents(b []byte) (evs []Event, bad []int, complete int) {
	complete = bytes.LastIndexByte(b, '\n') + 1
	line := 0
	for l := range bytes.Lines(b[:complete]) {
		line++
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(l, &e); err != nil || e.Kind == "" {
			bad = append(bad, line)
			continue
		}
		evs = append(evs, e)
	}
	return evs, bad, complete
}

// Summary is one line of a listing of runs.
type Summary struct {
	RunID    string    `json:"run_id"`
	Dir      string    `json:"dir"`
	State    State     `json:"state"`
	Outcome  Outcome   `json:"outcome"`  // "" while running or interrupted before a result
	Protocol string    `json:"protocol"` // the protocol's name
	Rig      string    `json:"rig"`
	Operator string    `json:"operator"`
	Started  time.Time `json:"started"`
	// Ended is null while the run goes on (or was interrupted before it
	// ended).
	Ended *time.Time `json:"ended"`
}

// List returns a summary of every run in runsDir, sorted by start time (then
// run id). A runsDir that does not exist has no runs. Entries that are not
// run directories, and run directories without a manifest yet (Create is
// making them), are skipped. A run whose manifest cannot be read is left out
// and reported in the error, which then comes with all the other summaries.
func List(runsDir string) ([]Summary, error) {
	var sums []Summary
	err := eachRun(runsDir, "list", func(id, dir string, m *Manifest) error {
		sums = append(sums, Summary{
			RunID:    id,
			Dir:      dir,
			State:    m.State,
			Outcome:  m.Outcome,
			Protocol: m.Protocol.Name,
			Rig:      m.Rig,
			Operator: m.Operator,
			Started:  m.Started,
		})
		if !m.Ended.IsZero() {
			sums[len(sums)-1].Ended = &m.Ended
		}
		return nil
	})
	slices.SortFunc(sums, func(a, b Summary) int {
		return cmp.Or(a.Started.Compare(b.Started), cmp.Compare(a.RunID, b.RunID))
	})
	return sums, err
}

// eachRun calls fn for every run directory in runsDir with its manifest. A
// runsDir that does not exist has no runs; entries that are not run
// directories, and runs without a manifest yet (Create is making them), are
// skipped. Errors (an unreadable manifest, fn failing) are collected, named
// by op and directory, and do not stop the walk.
func eachRun(runsDir, op string, fn func(id, dir string, m *Manifest) error) error {
	ents, err := os.ReadDir(runsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("runlog: %s: %w", op, err)
	}
	var errs []error
	for _, e := range ents {
		if !e.IsDir() || !ValidRunID(e.Name()) {
			continue
		}
		dir := filepath.Join(runsDir, e.Name())
		var m Manifest
		if err := readJSON(dir, manifestFile, &m); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("runlog: %s %s: %w", op, dir, err))
			}
			continue
		}
		if err := fn(e.Name(), dir, &m); err != nil {
			errs = append(errs, fmt.Errorf("runlog: %s %s: %w", op, dir, err))
		}
	}
	return errors.Join(errs...)
}
