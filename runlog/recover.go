package runlog

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Recover closes the runs in runsDir that a process left "running" when it
// ended without closing them (killed, crashed, lost power), and returns
// their ids. It is meant to be called at start-up, before a new run.
//
// A run whose lock is held belongs to a live process and is left alone.
// Otherwise, under the lock:
//
//   - if the run has a result.json (its Close was cut short after writing
//     it), the manifest is completed as Close would have;
//   - else the run is closed as "interrupted": a torn or corrupt tail of the
//     last frame segment is cut off (the cut bytes are kept next to it in
//     <segment>.cut), as is an unfinished last line of events.jsonl; a
//     "run.interrupted" event and a result.json with outcome "interrupted",
//     the frame count and a reason saying what was cut are written; and the
//     manifest gets state and outcome "interrupted" and, as end time, the
//     epoch plus the time of the last frame or event.
//
// Everything before the cut stays readable and reportable. Runs that cannot
// be recovered are reported in the error, which comes with the ids of those
// that were.
func Recover(runsDir string) ([]string, error) {
	var ids []string
	err := eachRun(runsDir, "recover", func(id, dir string, m *Manifest) error {
		if m.State != StateRunning {
			return nil
		}
		lock, ok, err := tryLock(dir)
		if err != nil || !ok { // !ok: a live process is writing it
			return err
		}
		defer lock.Close()
		done, err := recoverRun(dir)
		if done && err == nil {
			ids = append(ids, id)
		}
		return err
	})
	return ids, err
}

// recoverRun closes the run in dir, whose lock the caller holds, if it is
// still running; it reports whether it did.
//
// It is idempotent, and each of its steps leaves the run recoverable if the
// process dies there: the segment's tail is copied before it is cut, the
// events' torn line is cut before the run.interrupted event is appended, an
// event already appended by an attempt that died is reused, and result.json
// and then manifest.json are replaced atomically. A result.json is taken as
// the run's only if it counts the frames on disk: a result of an earlier
// part of a resumed run is recomputed, never kept.
func recoverRun(dir string) (bool, error) {
	// Read again under the lock: its process may have closed it meanwhile.
	var m Manifest
	if err := readJSON(dir, manifestFile, &m); err != nil {
		return false, err
	}
	if m.State != StateRunning {
		return false, nil
	}
	if err := freeReserve(dir); err != nil {
		return false, err
	}
	st, err := scanFrames(dir, m.RunID, m.Layout, nil)
	if err != nil {
		return false, err
	}
	var res Result
	if err := readJSON(dir, resultFile, &res); err == nil && runOutcome(res.Outcome) && res.Frames == st.Frames {
		m.State, m.Outcome, m.Ended = StateClosed, res.Outcome, m.Epoch.Add(durationOf(res.DurationS))
		if res.Outcome == OutcomeInterrupted {
			m.State = StateInterrupted // closed by an attempt of this that died: still resumable
		}
		return true, closeManifest(dir, m)
	}
	ev, err := interruptedEvent(dir, &st)
	if err != nil {
		return false, err
	}
	res = Result{
		RunID:       m.RunID,
		Rig:         m.Rig,
		Host:        m.Host,
		Job:         m.Job,
		Outcome:     OutcomeInterrupted,
		AbortReason: ev.Msg,
		Frames:      st.Frames,
		DurationS:   ev.T,
		Steps:       []StepResult{},
		Criteria:    []CriterionResult{},
	}
	if err := writeJSONAtomic(dir, resultFile, res); err != nil {
		return false, err
	}
	m.State, m.Outcome, m.Ended = StateInterrupted, OutcomeInterrupted, m.Epoch.Add(durationOf(ev.T))
	return true, closeManifest(dir, m)
}

// closeManifest writes the manifest of a run recovery closed, then its seal
// over what recovery kept. A kill between the two leaves the run closed
// without a seal: verify says so.
func closeManifest(dir string, m Manifest) error {
	if err := writeJSONAtomic(dir, manifestFile, m); err != nil {
		return err
	}
	return writeSeal(dir, m.RunID, SealedByRecovery)
}

// interruptedEvent cuts the torn tails of the run in dir (its last
// segment's, per st, which it updates, and its events') and appends the
// run.interrupted event that says what was cut; it returns that event. If
// the last event already is one (an earlier recovery died after writing
// it), that one is returned and nothing is appended.
func interruptedEvent(dir string, st *FrameStats) (Event, error) {
	notes, cutFrameBytes, err := cutFrameTail(dir, st)
	if err != nil {
		return Event{}, err
	}
	evPath := filepath.Join(dir, eventsFile)
	b, err := ReadFile(evPath, maxEventsFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Event{}, err
	}
	evs, bad, complete := parseEvents(b)
	if n := len(evs); n > 0 && evs[n-1].Kind == KindRunInterrupted && complete == len(b) {
		return evs[n-1], nil
	}
	cutEventBytes := int64(len(b) - complete)
	if cutEventBytes > 0 {
		if err := truncateFile(evPath, int64(complete)); err != nil {
			return Event{}, err
		}
		notes = append(notes, fmt.Sprintf("cut %d bytes of an unfinished last line from %s", cutEventBytes, eventsFile))
	}
	if len(bad) > 0 {
		notes = append(notes, fmt.Sprintf("%d malformed lines in %s", len(bad), eventsFile))
	}
	end := st.Last
	for _, e := range evs {
		if t := durationOf(e.T); t > end {
			end = t
		}
	}
	reason := fmt.Sprintf("interrupted: the process ended without closing the run; %d frames recovered, to t = %.3f s",
		st.Frames, end.Seconds())
	if len(notes) > 0 {
		reason += "; " + strings.Join(notes, "; ")
	}
	ev := NewEvent(KindRunInterrupted, "", reason, RunInterruptedData{
		Frames:            st.Frames,
		CutFrameBytes:     cutFrameBytes,
		CutEventBytes:     cutEventBytes,
		DamagedFrameBytes: st.UnreadBytes - cutFrameBytes,
	})
	ev.T = end.Seconds()
	return ev, appendEvent(evPath, ev)
}

// cutFrameTail cuts the torn tail of the last segment, if st has one, and
// returns notes on what it cut and what else is unreadable.
func cutFrameTail(dir string, st *FrameStats) (notes []string, cut int64, err error) {
	n := len(st.Damaged)
	if n == 0 {
		return nil, 0, nil
	}
	last := st.Damaged[n-1]
	names, err := segmentFiles(dir)
	if err != nil {
		return nil, 0, err
	}
	if last.Tail && last.Segment == path.Join(framesDir, names[len(names)-1]) {
		if err := cutSegment(dir, last); err != nil {
			return nil, 0, err
		}
		cut = last.Bytes
		notes = append(notes, fmt.Sprintf("cut %d bytes (%s) after the last intact record of %s, kept in %s",
			last.Bytes, last.Reason, last.Segment, strings.TrimSuffix(last.Segment, segmentExt)+cutExt))
		st.Damaged = st.Damaged[:n-1]
	}
	for _, d := range st.Damaged {
		notes = append(notes, "unreadable: "+d.String())
	}
	return notes, cut, nil
}

// cutSegment moves the bytes of a segment from d.Offset on to
// <segment>.cut, durably, and truncates the segment there.
func cutSegment(dir string, d Damage) error {
	name := filepath.Join(dir, filepath.FromSlash(d.Segment))
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	cut := strings.TrimSuffix(name, segmentExt) + cutExt
	c, err := os.OpenFile(cut, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(c, io.NewSectionReader(f, d.Offset, d.Bytes))
	if err == nil {
		err = c.Sync()
	}
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := f.Truncate(d.Offset); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(name))
}

// truncateFile truncates a file to size, durably.
func truncateFile(name string, size int64) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// appendEvent appends one event line to the events file name, durably.
func appendEvent(name string, e Event) error {
	line, err := marshalLine(e)
	if err != nil {
		return err
	}
	f, err := openAppend(name, true)
	if err != nil {
		return err
	}
	_, err = f.Write(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ErrRunLocked is returned by Own for a run that a live process holds.
var ErrRunLocked = errors.New("the run is locked by a live process")

// Own takes the run lock of the run in dir for a process that completes a
// run after the one that wrote it (`mockloop sync` delivering it to
// InfluxDB): a run still "running" whose process is gone is recovered first,
// as Recover does, and then opened. It fails with ErrRunLocked when a live
// process holds the lock. Closing the returned lock releases it; the caller
// may change the run's files (SetInfluxDelivery) until then.
func Own(dir string) (*Run, io.Closer, error) {
	lock, ok, err := tryLock(dir)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, ErrRunLocked
	}
	if _, err := recoverRun(dir); err != nil {
		lock.Close()
		return nil, nil, fmt.Errorf("recover: %w", err)
	}
	run, err := Open(dir)
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	return run, lock, nil
}
