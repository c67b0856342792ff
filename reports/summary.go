package reports

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/runlog"
)

// Summary writes the short end-of-run table: outcome, steps with the mean of
// the key channels, and every criterion with its value, limits and verdict.
// keys names the channels shown per step (those present in the result).
// Every text of the protocol and the record is escaped (termtext.Escape):
// it goes to a terminal, where a step name's ESC or newline could rewrite
// the table.
func Summary(w io.Writer, res *runlog.Result, protocol string, keys []string) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	e := termtext.Escape
	outcome := strings.ToUpper(string(res.Outcome))
	fmt.Fprintf(tw, "run %s  protocol %s  %s\n", e(res.RunID), e(protocol), e(outcome))
	if res.AbortReason != "" {
		fmt.Fprintf(tw, "reason: %s\n", e(res.AbortReason))
	}
	fmt.Fprintf(tw, "%d frames, %s of run time\n\n", res.Frames, strconv.FormatFloat(res.DurationS, 'f', 1, 64)+" s")

	fmt.Fprint(tw, "STEP\tNAME\tOUTCOME")
	for _, k := range keys {
		fmt.Fprintf(tw, "\t%s", e(k))
	}
	fmt.Fprintln(tw)
	for _, s := range summarySteps(res.Steps) {
		if s.more > 0 {
			fmt.Fprintf(tw, "%s\t… %d more iterations of %s\t%s%s\n", e(s.Path), s.more, e(s.StepResult.Name), e(s.outcomes), strings.Repeat("\t…", len(keys)))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s", e(s.Path), e(s.StepResult.Name), e(string(s.Outcome)))
		for _, k := range keys {
			c, ok := s.Channels[k]
			if !ok || c.N == 0 {
				fmt.Fprint(tw, "\t-")
				continue
			}
			fmt.Fprintf(tw, "\t%s %s", num(c.Mean), e(c.Unit))
		}
		fmt.Fprintln(tw)
	}
	if len(res.Criteria) > 0 {
		fmt.Fprint(tw, "\nCRITERION\tSTEP\tMEASURE\tVALUE\tLIMITS\tVERDICT\n")
		for _, g := range groupCriteria(criteriaRows(res.Criteria, nil)) {
			if len(g.rows) > maxIterRows {
				// A long loop's criterion is one line, as in the report:
				// its evaluations are in criteria.csv.
				r := g.summaryRow()
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e(r.Label), e(r.Step), e(r.c.Measure), e(r.Value), e(r.Limits), e(strings.ToUpper(r.Verdict)))
				continue
			}
			for _, r := range g.rows {
				criterionLine(tw, r)
			}
		}
	}
	return tw.Flush()
}

// criterionLine writes one evaluation of a criterion to the summary.
func criterionLine(w io.Writer, r *critRow) {
	e, c := termtext.Escape, r.c
	value := "-"
	if c.Value != nil {
		value = num(*c.Value) + " " + e(c.Unit)
	}
	verdict := strings.ToUpper(string(c.Verdict))
	if c.Reason != "" && !c.Pass {
		verdict += " (" + c.Reason + ")"
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e(r.Label), e(c.Step), e(c.Measure), value, e(c.Limits), e(verdict))
}

// summaryStep is a line of the summary's step table: a step's execution,
// or (more > 0) the iterations of a long loop left out between its first
// and last, Path and Name then being the step as written, outcomes how
// those left out went ("334 pass").
type summaryStep struct {
	runlog.StepResult
	more     int
	outcomes string
}

// summarySteps are the lines of the summary's step table: every step
// execution, but of a step executed more than maxIterRows times in a loop
// only the first and the last, with a line saying how many are left out
// and how they went (a 14-day endurance run has 336 hourly iterations).
func summarySteps(steps []runlog.StepResult) []summaryStep {
	count := map[string]int{}
	for _, s := range steps {
		p, _, _ := written(s.Path, s.Name)
		count[p]++
	}
	var out []summaryStep
	type elided struct {
		at       int // index in out of the "more" line
		outcomes map[runlog.Outcome]int
		seen     int
	}
	gaps := map[string]*elided{}
	for _, s := range steps {
		p, n, _ := written(s.Path, s.Name)
		if count[p] <= maxIterRows {
			out = append(out, summaryStep{StepResult: s})
			continue
		}
		g := gaps[p]
		if g == nil {
			g = &elided{at: -1, outcomes: map[runlog.Outcome]int{}}
			gaps[p] = g
		}
		g.seen++
		if g.seen == 1 || g.seen == count[p] {
			out = append(out, summaryStep{StepResult: s})
			continue
		}
		if g.at < 0 {
			g.at = len(out)
			out = append(out, summaryStep{StepResult: runlog.StepResult{Path: p, Name: n}})
		}
		g.outcomes[s.Outcome]++
		out[g.at].more++
	}
	for _, g := range gaps {
		if g.at >= 0 {
			out[g.at].outcomes = outcomesText(g.outcomes)
		}
	}
	return out
}

// outcomesText says how step executions went: "333 pass, 1 fail".
func outcomesText(outcomes map[runlog.Outcome]int) string {
	var parts []string
	for _, o := range slices.Sorted(maps.Keys(outcomes)) {
		parts = append(parts, fmt.Sprintf("%d %s", outcomes[o], o))
	}
	return strings.Join(parts, ", ")
}

// num formats a measured value with 4 significant digits, enough to judge
// it against limits written by people, without the noise of float digits.
func num(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
