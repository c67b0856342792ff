package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mockloop/mockloop/runlog"
)

// Caps on the event rows a report lists. Counts by kind are always
// complete; events.jsonl has every event.
const (
	maxNotable  = 500
	maxTimeline = 200
	maxDataText = 2000 // characters of an event's data shown
)

// Event classes, for what the reports do with an event kind.
const (
	classCounted  = "counted"  // DUT traffic: only counted
	classTimeline = "timeline" // the run's routine course
	classCriteria = "criteria" // shown in the criteria table instead
	classNotable  = "notable"  // safety trips, faults, acquisition, operator, and unknown kinds
)

// eventClass says how the reports treat an event of kind k. Kinds are an
// open set: one the reports do not know is shown as notable, since it may
// matter and showing it costs little.
func eventClass(k string) string {
	switch k {
	case runlog.KindDUTTx, runlog.KindDUTRx:
		return classCounted
	case runlog.KindRunStart, runlog.KindRunEnd, runlog.KindStepStart, runlog.KindStepEnd,
		runlog.KindSetpoint, runlog.KindRamp, runlog.KindUntilMet, runlog.KindDUTSummary:
		return classTimeline
	case runlog.KindCriterion:
		return classCriteria
	}
	return classNotable
}

// eventRow is one event as the reports show it.
type eventRow struct {
	T    string // run clock, seconds
	Kind string
	Step string
	Msg  string
	Data string // compact text of the event's data, possibly cut short
}

// kindCount is how many events of a kind the run has.
type kindCount struct {
	Kind  string
	Count int64
	Class string
}

// eventSummary is what the reports show of events.jsonl.
// classify counts e in the notable or timeline table it belongs to, and
// keeps it while the table has room.
func (s *eventSummary) classify(e *runlog.Event) {
	if e.Kind == runlog.KindOperator {
		s.addAudit(e)
	}
	switch eventClass(e.Kind) {
	case classNotable:
		s.NotableTotal++
		if len(s.Notable) < maxNotable {
			s.Notable = append(s.Notable, rowOf(e))
		}
	case classTimeline:
		s.TimelineTotal++
		if it := iterIndex.FindAllStringSubmatch(e.Step, -1); len(it) > 0 && !firstIteration(it) {
			if key := iterIndex.ReplaceAllString(e.Step, "") + fmt.Sprint(it); key != s.iterKey {
				s.IterationsLeftOut += len(s.iterBuf) // an iteration neither first nor, as this one follows, last
				s.iterBuf, s.iterKey = s.iterBuf[:0], key
			}
			s.iterBuf = append(s.iterBuf, rowOf(e))
			return
		}
		s.flushIteration()
		s.addTimeline(rowOf(e))
	}
}

// firstIteration reports whether the iteration indices of a step path
// (iterIndex's matches) are all 1: the first iteration of its loops.
func firstIteration(it [][]string) bool {
	for _, m := range it {
		if m[1] != "1" {
			return false
		}
	}
	return true
}

// addTimeline adds a row to the timeline while it has room.
func (s *eventSummary) addTimeline(r eventRow) {
	if len(s.Timeline) < maxTimeline {
		s.Timeline = append(s.Timeline, r)
	}
}

// flushIteration adds the routine events of the iteration held back to
// the timeline: the last of its loop, since another event followed it.
func (s *eventSummary) flushIteration() {
	for _, r := range s.iterBuf {
		s.addTimeline(r)
	}
	s.iterBuf, s.iterKey = s.iterBuf[:0], ""
}

// TimelineNote says which timeline events the timeline leaves out, if
// any: those of the middle iterations of loops, and those past its cap.
func (s eventSummary) TimelineNote() string {
	var parts []string
	if s.IterationsLeftOut > 0 {
		parts = append(parts, fmt.Sprintf("The step starts, ends and setpoints of loop iterations other than the first and the last are left out (%d events); the criteria table and criteria.csv have every iteration.", s.IterationsLeftOut))
	}
	if s.TimelineTotal-s.IterationsLeftOut > len(s.Timeline) {
		parts = append(parts, fmt.Sprintf("Only the first %d of %d timeline events are listed.", len(s.Timeline), s.TimelineTotal-s.IterationsLeftOut))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " ") + " events.jsonl has all."
}

// finish ends the reading of the events: the iteration held back was the
// last.
func (s *eventSummary) finish() { s.flushIteration() }

type eventSummary struct {
	Missing       bool // the record has no events.jsonl
	Total         int64
	Counts        []kindCount
	Notable       []eventRow
	NotableTotal  int
	Timeline      []eventRow
	TimelineTotal int
	// IterationsLeftOut counts the routine events (step starts and ends,
	// setpoints) of loop iterations other than the first and the last,
	// left out of the timeline: a 14-day loop of hours has 672; the
	// criteria table and criteria.csv have every iteration.
	IterationsLeftOut int
	iterBuf           []eventRow // the routine events of the latest iteration, held back
	iterKey           string     // which iteration: its loops and indices
	Malformed         int        // complete lines that are not an event
	LastT             float64    // time of the last event, seconds
	// Audit are the operator events, the audit trail (audit.go): the
	// first maxAudit of AuditTotal.
	Audit      []runlog.AuditEntry
	AuditTotal int
}

// stepSpan is a step execution reconstructed from step.start and step.end
// events, for runs whose result has no steps (interrupted runs).
type stepSpan struct {
	Path, Name string
	StartS     float64
	EndS       float64 // NaN until its step.end
	Outcome    string
	Frames     int64
}

// readEvents reads events.jsonl of the run in dir in one streaming pass.
func readEvents(dir string) (eventSummary, []stepSpan, error) {
	var s eventSummary
	counts := map[string]int64{}
	var spans []stepSpan
	var e runlog.Event
	err := eachLine(filepath.Join(dir, "events.jsonl"), func(line []byte) error {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			return nil
		}
		if k := quickKind(line); string(k) == runlog.KindDUTTx || string(k) == runlog.KindDUTRx {
			counts[string(k)]++ // the bulk of a long run's events: no decoding
			s.Total++
			return nil
		}
		e = runlog.Event{}
		if err := json.Unmarshal(line, &e); err != nil || e.Kind == "" {
			s.Malformed++
			return nil
		}
		s.Total++
		counts[e.Kind]++
		s.LastT = max(s.LastT, e.T)
		switch e.Kind {
		case runlog.KindStepStart:
			spans = append(spans, stepSpan{Path: e.Step, Name: e.Msg, StartS: e.T, EndS: nan()})
		case runlog.KindStepEnd:
			for i := len(spans) - 1; i >= 0; i-- {
				if spans[i].Path == e.Step && spans[i].EndS != spans[i].EndS {
					spans[i].EndS, spans[i].Outcome = e.T, e.Msg
					var d runlog.StepEndData
					_ = e.Decode(&d) // what could be read of it
					spans[i].Frames = d.Frames
					break
				}
			}
		}
		s.classify(&e)
		return nil
	})
	s.finish()
	if errors.Is(err, fs.ErrNotExist) {
		s.Missing = true
		err = nil
	}
	for k, n := range counts {
		s.Counts = append(s.Counts, kindCount{Kind: k, Count: n, Class: eventClass(k)})
	}
	slices.SortFunc(s.Counts, func(a, b kindCount) int { return strings.Compare(a.Kind, b.Kind) })
	return s, spans, err
}

// quickKind returns the kind of an event line as runlog writes them —
// {"t":<number>,"kind":"<kind>",... — without decoding it, or "" when the
// line is not in that form (it is then decoded in full).
func quickKind(line []byte) []byte {
	rest, ok := bytes.CutPrefix(line, []byte(`{"t":`))
	if !ok {
		return nil
	}
	i := bytes.IndexByte(rest, ',')
	if i < 0 || i > 32 {
		return nil
	}
	rest, ok = bytes.CutPrefix(rest[i:], []byte(`,"kind":"`))
	if !ok {
		return nil
	}
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return nil
	}
	return rest[:j]
}

// rowOf makes the table row of an event.
func rowOf(e *runlog.Event) eventRow {
	r := eventRow{T: fmtNum3(e.T), Kind: e.Kind, Step: e.Step, Msg: e.Msg}
	var data any // any kind's, as JSON has it: the reports show them all alike
	if json.Unmarshal(e.Data, &data) == nil && data != nil {
		r.Data = fmtAny(data)
		if rs := []rune(r.Data); len(rs) > maxDataText {
			r.Data = string(rs[:maxDataText]) + " …"
		}
	}
	return r
}

// fmtNum3 formats seconds with millisecond resolution.
func fmtNum3(s float64) string { return strings.TrimSuffix(fmtSeconds(s), " s") }
