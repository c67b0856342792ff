package reports

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/mockloop/mockloop/runlog"
)

// The engine names each iteration of a repeat or sweep in the step path
// ("3[17].1": step 3's 17th iteration, its first sub-step) and in the
// step's name ("hold [#17]", "hold [flow=2.5 L/min]").
var (
	iterIndex  = regexp.MustCompile(`\[([0-9]+)\]`)
	iterSuffix = regexp.MustCompile(`( \[[^\]]*\])+$`)
)

// maxIterRows is the number of evaluations of one criterion that the
// appendix lists one by one. A criterion evaluated in more iterations (a
// 14-day endurance run evaluates each of its criteria 336 times) is
// listed there only by its evaluations that did not pass, at most
// maxIterRows of them: 20 rows are half a PDF page, about what a reader
// scans before the rows stop telling anything the summary row and the
// trend plot do not; every evaluation is in criteria.csv.
const maxIterRows = 20

// written is a step path and name as the protocol writes them, without
// the iterations ("3.1", "hold"), and the iteration of this execution
// ("17", "2.5" for nested loops; "" outside any).
func written(path, name string) (p, n, iter string) {
	var idx []string
	for _, m := range iterIndex.FindAllStringSubmatch(path, -1) {
		idx = append(idx, m[1])
	}
	return iterIndex.ReplaceAllString(path, ""), iterSuffix.ReplaceAllString(name, ""), strings.Join(idx, ".")
}

// writtenKey identifies a criterion as written in the protocol: the same
// across every iteration of the loops around it.
func writtenKey(c *runlog.CriterionResult) string {
	p, n, _ := written(c.Step, c.StepName)
	return strings.Join([]string{p, n, c.ID, c.Name, c.Measure, c.Over, c.Limits}, "\x00")
}

// critGroup is a criterion as written and every evaluation of it, in
// evaluation order: the one summary of repeated iterations that the
// criteria table, its trend plots, the appendix and JUnit all read, so
// that they name the same worst value and the same failures.
type critGroup struct {
	rows     []*critRow
	counts   map[string]int
	verdict  string // the worst verdict
	worst    int    // index in rows of the least margin (margin), -1 without a value
	firstBad int    // index in rows of the first fail or no-data, -1 without any
}

// groupCriteria groups the criteria rows by criterion as written, in
// order of first evaluation.
func groupCriteria(rows []critRow) []*critGroup {
	ptrs := make([]*critRow, len(rows))
	for i := range rows {
		ptrs[i] = &rows[i]
	}
	return groupRows(ptrs)
}

// groupRows is groupCriteria of some of the rows (the traceability
// matrix groups those of one requirement).
func groupRows(rows []*critRow) []*critGroup {
	var groups []*critGroup
	idx := map[string]*critGroup{}
	for _, r := range rows {
		k := writtenKey(r.c)
		g, ok := idx[k]
		if !ok {
			g = &critGroup{counts: map[string]int{}, verdict: r.Verdict, worst: -1, firstBad: -1}
			idx[k] = g
			groups = append(groups, g)
		}
		g.add(r)
	}
	return groups
}

// add adds an evaluation to the group.
func (g *critGroup) add(r *critRow) {
	k := len(g.rows)
	g.rows = append(g.rows, r)
	g.counts[r.Verdict]++
	sup := string(runlog.VerdictSuperseded)
	if verdictRank(r.Verdict) > verdictRank(g.verdict) || g.verdict == sup && r.Verdict != sup { // a later attempt's verdict counts
		g.verdict = r.Verdict
	}
	if m, ok := margin(r.c); ok && (g.worst < 0 || m < g.worstMargin()) {
		g.worst = k
	}
	if g.firstBad < 0 && verdictRank(r.Verdict) >= verdictRank(string(runlog.VerdictNoData)) {
		g.firstBad = k
	}
}

func (g *critGroup) worstMargin() float64 {
	m, _ := margin(g.rows[g.worst].c)
	return m
}

// iteration names the iteration of the group's i-th evaluation: the
// engine's ("17", "2.3" in nested loops), else its count (a step without
// loops executed again: a retry, or an older record).
func (g *critGroup) iteration(i int) string {
	r := g.rows[i]
	if _, _, it := written(r.c.Step, r.c.StepName); it != "" {
		return it
	}
	return fmt.Sprint(i + 1)
}

// when says where in the run the i-th evaluation was made: its step
// execution's start, "t = 16 h 02 min"; empty when not known.
func (g *critGroup) when(i int) string {
	if r := g.rows[i]; r.Timed {
		return "t = " + fmtDuration(r.StartS)
	}
	return ""
}

// countsText is the verdicts of the group: "330/336 pass, 4 marginal, 2 fail".
func (g *critGroup) countsText() string {
	text := fmt.Sprintf("%d/%d pass", g.counts[string(runlog.VerdictPass)], len(g.rows))
	for _, v := range []runlog.Verdict{runlog.VerdictMarginal, runlog.VerdictWarn, runlog.VerdictFail, runlog.VerdictNoData, runlog.VerdictSuperseded} {
		if c := g.counts[string(v)]; c > 0 {
			text += fmt.Sprintf(", %d %s", c, v)
		}
	}
	return text
}

// at names the i-th evaluation: "iteration 17 (#65), t = 16 h 02 min",
// and a sweep's settings.
func (g *critGroup) at(i int) string {
	r := g.rows[i]
	text := fmt.Sprintf("iteration %s (#%d)", g.iteration(i), r.N)
	if set := iterSuffix.FindString(r.c.StepName); strings.Contains(set, "=") {
		text += set // a sweep's settings: " [dut.level=P8, loop.preset=healthy]"
	}
	if w := g.when(i); w != "" {
		text += ", " + w
	}
	return text
}

// summaryText is the value of the group's row in the criteria table: how
// its evaluations went, which came closest to or furthest beyond a limit,
// and which failed first.
func (g *critGroup) summaryText() string {
	text := g.countsText()
	if g.worst >= 0 {
		text += fmt.Sprintf(", worst %s at %s", g.rows[g.worst].Value, g.at(g.worst))
	}
	if g.firstBad >= 0 {
		if g.firstBad == g.worst {
			text += "; also the first failure"
		} else {
			text += fmt.Sprintf("; first failure %s at %s", g.rows[g.firstBad].Value, g.at(g.firstBad))
		}
	}
	return text
}

// notPassed are the group's evaluations that did not pass: failed,
// marginal, warned, without data (superseded attempts count as passed:
// a later attempt's verdict counts).
func (g *critGroup) notPassed() []*critRow {
	var out []*critRow
	for _, r := range g.rows {
		if verdictRank(r.Verdict) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// summaryRow is the row of the group in the criteria table: its first
// evaluation's, with its step as written, the summary as the value and
// the worst verdict as the verdict.
func (g *critGroup) summaryRow() critRow {
	s := *g.rows[0]
	p, n, _ := written(s.c.Step, s.c.StepName)
	s.Step, s.Repeats, s.Reason, s.Summary = stepLabel(p, n), false, "", true
	s.Verdict = g.verdict
	for _, r := range g.rows {
		if r.Verdict == g.verdict {
			s.OnFail, s.Reason = r.OnFail, r.Reason
			break
		}
	}
	s.Value = g.summaryText()
	return s
}

// summarizeCriteria makes the criteria table of the report: one row per
// criterion as written, in order of first evaluation. A criterion
// evaluated more than once (in a repeat or sweep, or a repeated step) is
// one row summarising its evaluations — "71/71 pass, worst 2.31 L/min at
// iteration 17 (#17), t = 16 h 02 min" — with its worst verdict. appendix
// lists its evaluations: all of them up to maxIterRows, else only those
// that did not pass (at most maxIterRows), with a note each saying so.
func summarizeCriteria(rows []critRow) (table, appendix []critRow, notes []string) {
	for _, g := range groupCriteria(rows) {
		if len(g.rows) == 1 {
			table = append(table, *g.rows[0])
			continue
		}
		sr := g.summaryRow()
		table = append(table, sr)
		list := g.rows
		if len(g.rows) > maxIterRows {
			list = g.notPassed()
			shown := min(len(list), maxIterRows)
			note := fmt.Sprintf("%s %s in step %s: evaluated in %d iterations, %s; ", sr.Label, sr.Measure, sr.Step, len(g.rows), g.countsText())
			switch {
			case len(list) == 0:
				note += "all passed, none is listed."
			case shown < len(list):
				note += fmt.Sprintf("the first %d of the %d that did not pass are listed.", shown, len(list))
			case len(list) == 1:
				note += "only the one that did not pass is listed."
			default:
				note += fmt.Sprintf("only the %d that did not pass are listed.", len(list))
			}
			notes = append(notes, note)
			list = list[:shown]
		}
		for _, r := range list {
			appendix = append(appendix, *r)
		}
	}
	return table, appendix, notes
}

// margin is how far a criterion's value lies inside its limits, in its
// unit: negative beyond them. The worst evaluation is the one with the
// least: closest to, or furthest beyond, a limit. ok is false without a
// value or limits.
func margin(c *runlog.CriterionResult) (float64, bool) {
	if c.Value == nil || c.Lo == nil && c.Hi == nil {
		return 0, false
	}
	m := math.Inf(1)
	if c.Lo != nil {
		m = min(m, *c.Value-*c.Lo)
	}
	if c.Hi != nil {
		m = min(m, *c.Hi-*c.Value)
	}
	return m, !math.IsNaN(m)
}

// critSummaryNote says how to read a summarised row of the criteria
// table (the HTML says the same).
const critSummaryNote = "A criterion evaluated more than once (in a repeat or sweep) is one row; its value says how its evaluations went, which came closest to, or furthest beyond, a limit (# is its row in Appendix A and criteria.csv, t the start of its step) and which failed first; a plot below shows its value in every iteration. Appendix A lists every evaluation of a criterion evaluated in at most 20 iterations and, of one evaluated in more, those that did not pass. criteria.csv, written next to this report, has every evaluation."

// critTrendsTitle heads the trend plots of the criteria.
const critTrendsTitle = "The criteria evaluated more than once, iteration by iteration"

// appendixNote says where the evaluations the appendix leaves out are.
const appendixNote = "criteria.csv, written next to this report (mockloop report --format csv makes it again), has every evaluation of every criterion: step path, iteration, start and end of the step, value, unit, limits and verdict."

// criteriaAppendix draws appendix A of the PDF: the evaluations of the
// criteria the criteria table summarises.
func (d *pdfDoc) criteriaAppendix() {
	if len(d.v.CriteriaAppendix) == 0 && len(d.v.AppendixNotes) == 0 {
		return
	}
	d.heading("Appendix A. Evaluations of the criteria evaluated more than once")
	for _, n := range d.v.AppendixNotes {
		d.para(n, false)
	}
	if len(d.v.AppendixNotes) > 0 {
		d.para(appendixNote, false)
	}
	if len(d.v.CriteriaAppendix) == 0 {
		return
	}
	var rows [][]pdfCell
	for _, c := range d.v.CriteriaAppendix {
		rows = append(rows, criterionCells(c))
	}
	d.table(critCols, rows, pdfSmall)
}

// Colours of a criterion's trend plot.
var (
	trendValueColor = rgb{0x1f, 0x77, 0xb4}
	trendLimitColor = rgb{0x44, 0x44, 0x44}
)

// critTrends are the trend plots of the criteria evaluated more than
// once that have a value: one per criterion as written.
func critTrends(rows []critRow) []*figure {
	var figs []*figure
	for _, g := range groupCriteria(rows) {
		if len(g.rows) > 1 && g.hasValue() {
			figs = append(figs, g.trendFigure())
		}
	}
	return figs
}

// hasValue reports whether any evaluation of the group has a value.
func (g *critGroup) hasValue() bool {
	for _, r := range g.rows {
		if r.c.Value != nil && !math.IsNaN(*r.c.Value) && !math.IsInf(*r.c.Value, 0) {
			return true
		}
	}
	return false
}

// trendFigure plots the group's value in each evaluation (x: its place in
// evaluation order, the iteration of a loop) with its limits as lines
// (each evaluation's: a relative criterion's move with its reference) and
// its failed and marginal evaluations marked.
func (g *critGroup) trendFigure() *figure {
	sr := g.summaryRow()
	f := &figure{Title: strings.TrimSpace(sr.Label + " " + sr.c.Measure), XLabel: "iteration of step " + sr.Step, YLabel: unitLabel(sr.c.Unit)}
	var val, lo, hi [][]pt
	var seg, loSeg, hiSeg []pt
	for i, r := range g.rows {
		x, c := float64(i+1), r.c
		if c.Value == nil || math.IsNaN(*c.Value) || math.IsInf(*c.Value, 0) {
			val, seg = appendSeg(val, seg), nil
		} else {
			seg = append(seg, pt{x, *c.Value})
			switch verdictClass(r.Verdict) {
			case "bad":
				f.Dots = append(f.Dots, dot{x, *c.Value, outcomeColor("fail")})
			case "warn":
				f.Dots = append(f.Dots, dot{x, *c.Value, outcomeColor("warn")})
			}
		}
		loSeg, lo = limitPoint(loSeg, lo, x, c.Lo)
		hiSeg, hi = limitPoint(hiSeg, hi, x, c.Hi)
	}
	val, lo, hi = appendSeg(val, seg), appendSeg(lo, loSeg), appendSeg(hi, hiSeg)
	f.Series = append(f.Series, series{Name: "value", Color: trendValueColor, Lines: val})
	if lines := append(lo, hi...); len(lines) > 0 {
		f.Series = append(f.Series, series{Name: "limit", Color: trendLimitColor, Lines: lines})
	}
	if g.counts[string(runlog.VerdictFail)]+g.counts[string(runlog.VerdictNoData)] > 0 {
		f.Series = append(f.Series, series{Name: "fail", Color: outcomeColor("fail")})
	}
	if g.counts[string(runlog.VerdictMarginal)]+g.counts[string(runlog.VerdictWarn)] > 0 {
		f.Series = append(f.Series, series{Name: "marginal", Color: outcomeColor("warn")})
	}
	f.frame(1, float64(len(g.rows)))
	return f
}

// appendSeg appends a polyline segment if it has points.
func appendSeg(lines [][]pt, seg []pt) [][]pt {
	if len(seg) == 0 {
		return lines
	}
	return append(lines, seg)
}

// limitPoint extends the line of a limit to x; a missing limit ends the
// segment. A limit that stays the same is a line of two points, however
// many iterations it spans.
func limitPoint(seg []pt, lines [][]pt, x float64, lim *float64) ([]pt, [][]pt) {
	if lim == nil || math.IsNaN(*lim) || math.IsInf(*lim, 0) {
		return nil, appendSeg(lines, seg)
	}
	if n := len(seg); n > 1 && seg[n-1].Y == *lim && seg[n-2].Y == *lim {
		seg[n-1].X = x
		return seg, lines
	}
	return append(seg, pt{x, *lim}), lines
}
