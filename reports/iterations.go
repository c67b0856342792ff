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

// summarizeCriteria makes the criteria table of the report: one row per
// criterion as written, in order of first evaluation. A criterion
// evaluated more than once (in a repeat or sweep, or a repeated step) is
// one row summarising its evaluations — "71/71 pass, worst 2.31 L/min at
// iteration 17" — with its worst verdict; every evaluation is listed in
// the appendix (appendix, the rows of criteria evaluated more than once).
func summarizeCriteria(rows []critRow) (table, appendix []critRow) {
	groups := map[string][]int{}
	var order []string
	for i := range rows {
		k := writtenKey(rows[i].c)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		g := groups[k]
		if len(g) == 1 {
			table = append(table, rows[g[0]])
			continue
		}
		table = append(table, summaryRow(rows, g))
		for _, i := range g {
			appendix = append(appendix, rows[i])
		}
	}
	return table, appendix
}

// summaryRow is the row of a criterion evaluated at rows[g...]: its first
// evaluation's, its step as written, the counts of verdicts and the worst
// value as the value, the worst verdict as the verdict.
func summaryRow(rows []critRow, g []int) critRow {
	s := rows[g[0]]
	p, n, _ := written(s.c.Step, s.c.StepName)
	s.Step, s.Repeats, s.Reason, s.Summary = stepLabel(p, n), false, "", true
	counts := map[string]int{}
	worst, worstAt := math.Inf(1), -1
	for _, i := range g {
		r := rows[i]
		counts[r.Verdict]++
		if verdictRank(r.Verdict) > verdictRank(s.Verdict) {
			s.Verdict, s.OnFail, s.Reason = r.Verdict, r.OnFail, r.Reason
		}
		if m, ok := margin(r.c); ok && m < worst {
			worst, worstAt = m, i
		}
	}
	text := fmt.Sprintf("%d/%d pass", counts[string(runlog.VerdictPass)], len(g))
	for _, v := range []runlog.Verdict{runlog.VerdictMarginal, runlog.VerdictWarn, runlog.VerdictFail, runlog.VerdictNoData, runlog.VerdictSuperseded} {
		if c := counts[string(v)]; c > 0 {
			text += fmt.Sprintf(", %d %s", c, v)
		}
	}
	if worstAt >= 0 {
		w := rows[worstAt]
		_, _, iter := written(w.c.Step, w.c.StepName)
		if iter == "" {
			iter = fmt.Sprint(w.Iter)
		}
		text += fmt.Sprintf(", worst %s at iteration %s (#%d)", w.Value, iter, w.N)
		if set := iterSuffix.FindString(w.c.StepName); strings.Contains(set, "=") {
			text += set // a sweep's settings: " [dut.level=P8, loop.preset=healthy]"
		}
	}
	s.Value = text
	return s
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
const critSummaryNote = "A criterion evaluated more than once (in a repeat or sweep) is one row; its value says how its evaluations went and which came closest to, or furthest beyond, a limit. Appendix A lists every evaluation."

// criteriaAppendix draws appendix A of the PDF: every evaluation of the
// criteria the criteria table summarises.
func (d *pdfDoc) criteriaAppendix() {
	if len(d.v.CriteriaAppendix) == 0 {
		return
	}
	d.heading("Appendix A. Every evaluation of the criteria evaluated more than once")
	var rows [][]pdfCell
	for _, c := range d.v.CriteriaAppendix {
		rows = append(rows, criterionCells(c))
	}
	d.table(critCols, rows, pdfSmall)
}
