package reports

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// Selection chooses the frames of frames.csv and the beats of beats.csv.
// The zero Selection is everything.
type Selection struct {
	// Step keeps only the time of the executions of the step at this path
	// ("3.2"), its nested steps included; empty: the whole run.
	Step string
	// From and To keep only times t with From < t <= To on the run clock,
	// To 0 means to the end.
	From, To time.Duration
	// Every keeps every Every-th selected frame (the 1st, the Every+1-th,
	// ...); 0 and 1 keep all. It does not apply to beats.
	Every int
}

// ErrSelection is wrapped by the errors of a Selection that cannot be
// made: a negative count or time, an empty time range, a step the run
// does not have. It is the caller's input that is wrong, not the record.
var ErrSelection = errors.New("invalid selection")

// check reports a Selection that can select nothing by construction.
func (s Selection) check() error {
	switch {
	case s.Every < 0:
		return fmt.Errorf("reports: %w: every %d, want a positive number of frames", ErrSelection, s.Every)
	case s.From < 0 || s.To < 0:
		return fmt.Errorf("reports: %w: negative time", ErrSelection)
	case s.To != 0 && s.To <= s.From:
		return fmt.Errorf("reports: %w: empty time range %s s to %s s", ErrSelection, fmtNS(int64(s.From)), fmtNS(int64(s.To)))
	}
	return nil
}

// IsZero reports whether s selects everything.
func (s Selection) IsZero() bool { return s == Selection{} }

// selector tests times, in increasing order, against a selection's
// windows: sorted, non-overlapping intervals (lo, hi] in ns, as steps are.
type selector struct {
	lo, hi []int64
	i      int
}

// newSelector returns the selector of s over the run's steps.
func (r *Report) newSelector(s Selection) *selector {
	from, to := int64(s.From), int64(s.To)
	if to == 0 {
		to = math.MaxInt64
	}
	sel := &selector{}
	if s.Step == "" {
		if from == 0 {
			from = math.MinInt64 // the whole run, t = 0 included
		}
		sel.lo, sel.hi = []int64{from}, []int64{to}
		return sel
	}
	type win struct{ lo, hi int64 }
	var ws []win
	for _, st := range r.steps {
		if st.Path == s.Step {
			lo, hi := max(durationOf(st.StartS), from), min(durationOf(st.EndS), to)
			if lo < hi {
				ws = append(ws, win{lo, hi})
			}
		}
	}
	slices.SortFunc(ws, func(a, b win) int { return cmp.Compare(a.lo, b.lo) })
	for _, w := range ws {
		if n := len(sel.hi); n > 0 && w.lo <= sel.hi[n-1] { // overlapping executions: merge
			sel.hi[n-1] = max(sel.hi[n-1], w.hi)
			continue
		}
		sel.lo, sel.hi = append(sel.lo, w.lo), append(sel.hi, w.hi)
	}
	return sel
}

// test reports whether t is selected, and whether every window has ended
// (no later time can be selected).
func (s *selector) test(t int64) (in, done bool) {
	for s.i < len(s.lo) && t > s.hi[s.i] {
		s.i++
	}
	if s.i >= len(s.lo) {
		return false, true
	}
	return t > s.lo[s.i], false
}

// contains reports whether t is selected, in any order of calls: beats of
// different channels need not be in time order.
func (s *selector) contains(t int64) bool {
	i, _ := slices.BinarySearch(s.hi, t) // first window with hi ≥ t
	return i < len(s.lo) && t > s.lo[i]
}

// errStop stops a pass over the frames once the selection has ended.
var errStop = errors.New("reports: selection ended")

// WriteFramesCSV writes the selected frames as CSV, streaming: one header
// row ("t [s],aop [mmHg],..."), then a row per frame with its time in
// seconds and its values as stored (see the package documentation). The
// frames are read again from where the report was made from.
func (r *Report) WriteFramesCSV(w io.Writer, s Selection) error {
	return r.framesCSV(context.Background(), w, s)
}

// framesCSV is WriteFramesCSV, reading the frames the selection needs
// within ctx.
func (r *Report) framesCSV(ctx context.Context, w io.Writer, s Selection) error {
	if err := s.check(); err != nil {
		return err
	}
	header := []string{"t [s]"}
	for _, c := range r.run.Manifest.Layout {
		header = append(header, csvName(c.Name, c.Unit))
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	cw := newCSVWriter(bw)
	if err := cw.Write(header); err != nil {
		return err
	}
	cw.Flush()
	sel := r.newSelector(s)
	if len(sel.lo) == 0 {
		return bw.Flush()
	}
	to := sel.hi[len(sel.hi)-1]
	if to == math.MaxInt64 {
		to = 0
	}
	every := max(1, s.Every)
	var k int
	buf := make([]byte, 0, 256)
	_, err := r.src.scan(ctx, max(0, sel.lo[0]), to, func(t int64, v []float64) error {
		in, done := sel.test(t)
		if done {
			return errStop
		}
		if !in {
			return nil
		}
		k++
		if (k-1)%every != 0 {
			return nil
		}
		buf = append(buf[:0], fmtNS(t)...)
		for _, x := range v {
			buf = append(buf, ',')
			buf = appendSample(buf, x)
		}
		buf = append(buf, '\n')
		_, err := bw.Write(buf)
		return err
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("reports: frames csv: %w", err)
	}
	return bw.Flush()
}

// appendSample appends a frame value as fmtSample formats it.
func appendSample(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, fmtSample(v)...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 32)
}

// csvName is the header of a column: the name, and the unit in brackets
// if it has one.
// csvWriter is a csv.Writer whose cells cannot be formulas: a text cell
// that a spreadsheet would evaluate (starting with = + - @, a tab or a
// carriage return; OWASP's CSV injection guidance) is written with a
// leading apostrophe, which spreadsheets show as text. A protocol's names,
// messages and limits come from whoever wrote it, and a record from
// whoever had the disk; =HYPERLINK(…) passed through. Numbers stay numbers:
// a cell that parses as one, negative ones included, is written as it is.
type csvWriter struct{ *csv.Writer }

func newCSVWriter(w io.Writer) csvWriter { return csvWriter{csv.NewWriter(w)} }

// Write writes one row, neutralising its formula cells in place.
func (w csvWriter) Write(rec []string) error {
	for i, c := range rec {
		rec[i] = csvCell(c)
	}
	return w.Writer.Write(rec)
}

// csvCell is c as a cell no spreadsheet evaluates.
func csvCell(c string) string {
	if c == "" || !strings.ContainsRune("=+-@\t\r", rune(c[0])) {
		return c
	}
	if _, err := strconv.ParseFloat(c, 64); err == nil {
		return c
	}
	return "'" + c
}

func csvName(name, unit string) string {
	if unit == "" {
		return name
	}
	return name + " [" + unit + "]"
}

// WriteCriteriaCSV writes every evaluated criterion as CSV, values at full
// precision, one row per evaluation in evaluation order: the full
// per-iteration table of a long loop that the HTML and PDF summarise.
// The last three columns (added after the others, so that readers by
// position keep working) are the iteration, as the criteria table names
// it ("17", "2.3" in nested loops; empty for a criterion evaluated once
// outside any loop), and the start and end on the run clock of the step
// execution it was evaluated in (empty for an invariant).
func (r *Report) WriteCriteriaCSV(w io.Writer) error {
	cw := newCSVWriter(w)
	cw.Write([]string{"n", "requirement_id", "in_catalogue", "name", "step", "step_name", "measure", "over",
		"value", "unit", "lo", "hi", "limits", "verdict", "pass", "on_fail", "reason",
		"iteration", "step_start [s]", "step_end [s]"})
	iters := iterations(r.crit)
	for i, row := range r.crit {
		c := row.c
		start, end := "", ""
		if row.Timed {
			start, end = strconv.FormatFloat(row.StartS, 'f', -1, 64), strconv.FormatFloat(row.EndS, 'f', -1, 64)
		}
		cw.Write([]string{strconv.Itoa(row.N), c.ID, strconv.FormatBool(row.InCat), c.Name, c.Step, c.StepName, c.Measure, c.Over,
			fullNum(c.Value), c.Unit, fullNum(c.Lo), fullNum(c.Hi), c.Limits, string(c.Verdict), strconv.FormatBool(c.Pass), c.OnFail, c.Reason,
			iters[i], start, end})
	}
	cw.Flush()
	return cw.Error()
}

// iterations names the iteration of each criterion row as the summaries
// do (critGroup.iteration); empty for a criterion evaluated once outside
// any loop.
func iterations(rows []critRow) []string {
	out := make([]string, len(rows))
	at := map[*critRow]int{}
	for i := range rows {
		at[&rows[i]] = i
	}
	for _, g := range groupCriteria(rows) {
		for k, row := range g.rows {
			if _, _, it := written(row.c.Step, row.c.StepName); it != "" || len(g.rows) > 1 {
				out[at[row]] = g.iteration(k)
			}
		}
	}
	return out
}

// fullNum writes a number that may be absent at full precision; empty
// when absent.
func fullNum(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}

// WriteBeatsCSV writes the beats in the selection's step and time range
// (Every does not apply) as CSV: time, channel, and each beat quantity with
// its unit. A quantity the beat does not have is an empty cell. Without
// beats (no beats file) it writes nothing and returns an error.
func (r *Report) WriteBeatsCSV(w io.Writer, s Selection) error {
	return r.beatsCSV(context.Background(), w, s)
}

// beatsCSV is WriteBeatsCSV, reading the beats within ctx.
func (r *Report) beatsCSV(ctx context.Context, w io.Writer, s Selection) error {
	if err := s.check(); err != nil {
		return err
	}
	header := []string{"t [s]", "channel"}
	for _, bm := range beatMetrics {
		u := bm.Unit
		if u == "" {
			u = pressureUnit
		}
		header = append(header, csvName(bm.Key, u))
	}
	cw := newCSVWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	sel := r.newSelector(s)
	rec := make([]string, len(header))
	_, err := r.src.eachBeat(ctx, func(b *runlog.Beat) error { // beats that cannot be read are counted in the report's integrity section
		if !sel.contains(durationOf(b.T)) {
			return nil
		}
		rec[0], rec[1] = strconv.FormatFloat(b.T, 'f', -1, 64), b.Channel
		for j, bm := range beatMetrics {
			rec[2+j] = fullNum(bm.get(b))
		}
		return cw.Write(rec)
	})
	if err != nil {
		return fmt.Errorf("reports: beats csv: %w", err)
	}
	cw.Flush()
	return cw.Error()
}
