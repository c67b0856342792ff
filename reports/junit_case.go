package reports

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mockloop/mockloop/runlog"
)

// junitSkip is a test case's <skipped>: the schema gives it a message
// and no type.
type junitSkip struct {
	Message string `xml:"message,attr"`
}

// caseProps are a test case's <properties>; nil for none (encoding/xml
// writes an empty element for an empty slice under "properties>property").
type caseProps struct {
	List []junitProp `xml:"property"`
}

// criterionProps are a criterion's test case properties, for CI tools
// that show or trend them (Jenkins): the step path, the measured value,
// its limits in the same unit (absent for an open side), the unit, the
// limits as written and the verdict. Numbers are in full precision.
func criterionProps(c *runlog.CriterionResult) *caseProps {
	var props []junitProp
	for _, p := range []junitProp{
		{"step", c.Step},
		{"value", fullNum(c.Value)},
		{"lo", fullNum(c.Lo)},
		{"hi", fullNum(c.Hi)},
		{"unit", c.Unit},
		{"limits", c.Limits},
		{"verdict", string(c.Verdict)},
		{"reference", fullNum(c.Reference)},
		{"reference_step", c.ReferenceStep},
		{"marginal", marginalProp(c)},
	} {
		if p.Value != "" {
			props = append(props, p)
		}
	}
	return &caseProps{props}
}

// unreachedCases are skipped test cases for what the run never reached
// because it ended early (aborted, interrupted, or still running): one per
// criterion of the protocol it never judged (unreachedRows), or, when its
// criteria were not judged again from the record (no protocol copy, or
// read from InfluxDB), one per requirement of the protocol's catalogue no
// criterion evaluated. CI shows what the run never reached, with why. A
// run that completed has none; a requirement it left untested is the
// traceability matrix's flag, not a skip.
func (r *Report) unreachedCases() []junitCase {
	o := r.outcome()
	if o == string(runlog.OutcomePass) || o == string(runlog.OutcomeFail) {
		return nil
	}
	abort := ""
	if res := r.run.Result; res != nil && res.AbortReason != "" {
		abort = " (" + res.AbortReason + ")"
	}
	if r.judged != nil && r.judged.note == "" {
		var cases []junitCase
		for i := range r.unreached {
			row := &r.unreached[i]
			cases = append(cases, junitCase{Classname: token(classname(row.c.Step, row.c.StepName), "run"), Name: token(caseName(row), "criterion"),
				Time: secs(0), Props: criterionProps(row.c), Skipped: &junitSkip{Message: row.Reason + abort}})
		}
		return cases
	}
	why := "the run was " + o
	if o == string(runlog.StateRunning) {
		why = "the run has not ended"
	}
	why += abort
	if n := len(r.steps); n > 0 {
		why += " in step " + stepLabel(r.steps[n-1].Path, r.steps[n-1].Name)
	}
	var cases []junitCase
	for _, q := range r.trace.Reqs {
		if q.Status != "not tested" {
			continue
		}
		msg := fmt.Sprintf("not reached: %s before any criterion of %s was evaluated", why, q.ID)
		cases = append(cases, junitCase{Classname: "not reached", Name: token(q.ID+" "+q.Text, q.ID), Time: secs(0),
			Skipped: &junitSkip{Message: msg}})
	}
	return cases
}

// marginalProp is the JUnit property of a marginal verdict (language 1.1):
// CI tools show properties, not verdicts they do not know.
func marginalProp(c *runlog.CriterionResult) string {
	if c.Verdict != runlog.VerdictMarginal {
		return ""
	}
	return "true"
}

// iterationsCase is the one test case of a criterion evaluated more than
// once (every iteration of a repeat or sweep, a retried step): named and
// classed by the criterion as written, without an iteration, so that CI
// tracks the same test from run to run however long the loop ran. Its
// properties are those of its worst evaluation (value: the worst value)
// with the step as written, its verdict the worst, and the counts of
// iterations by verdict; its time the sum of its steps'. A failure lists
// every failed iteration in its message, and each in full in its text.
func iterationsCase(g *critGroup, durS float64, out *strings.Builder) junitCase {
	sr := g.summaryRow()
	p, n, _ := written(sr.c.Step, sr.c.StepName)
	tc := junitCase{Classname: token(classname(p, n), "run"), Name: token(caseName(&sr), "criterion"), Props: iterationProps(g, p)}
	t := 0.0
	for _, r := range g.rows {
		if r.Timed {
			t += r.EndS - r.StartS
		}
	}
	if p == alwaysStep {
		t = durS
	}
	tc.Time = secs(t)
	msg := func(which string, vs ...runlog.Verdict) string {
		list := g.listed(vs...)
		return fmt.Sprintf("%s = worst %s, limits %s; %d of %d iterations %s: %s", sr.c.Measure, g.worstValue(), orDash(sr.c.Limits),
			len(list), len(g.rows), which, strings.Join(list, "; "))
	}
	if g.counts[string(runlog.VerdictSuperseded)] > 0 { // attempts run again (retry): not failures
		fmt.Fprintf(out, "SUPERSEDED %s %s: %s\n", tc.Classname, tc.Name, msg("superseded", runlog.VerdictSuperseded))
	}
	switch g.verdict {
	case string(runlog.VerdictPass), string(runlog.VerdictMarginal), string(runlog.VerdictSuperseded):
	case string(runlog.VerdictWarn):
		fmt.Fprintf(out, "WARN %s %s: %s\n", tc.Classname, tc.Name, msg("warned", runlog.VerdictWarn))
	default: // fail or no-data, or a verdict this version does not know
		res := &junitResult{Type: g.verdict, Message: msg("failed", runlog.VerdictFail, runlog.VerdictNoData, runlog.Verdict(g.verdict)), Text: g.failedDetail()}
		if g.aborted() {
			res.Type = "abort"
			tc.Error = res
		} else {
			tc.Failure = res
		}
	}
	return tc
}

// iterationProps are the properties of a criterion evaluated more than
// once: its worst evaluation's, the step as written (step), the worst
// verdict, the number of iterations and their count by verdict
// (iterations_pass, iterations_fail, ...), where the worst was
// (worst_iteration, worst_step, worst_start_s) and the first failure
// (first_failure_iteration).
func iterationProps(g *critGroup, step string) *caseProps {
	rep := g.rows[0]
	if g.worst >= 0 {
		rep = g.rows[g.worst]
	}
	props := criterionProps(rep.c).List
	for i := range props {
		switch props[i].Name {
		case "step":
			props[i].Value = step
		case "verdict":
			props[i].Value = g.verdict
		}
	}
	props = slices.DeleteFunc(props, func(p junitProp) bool { return p.Name == "marginal" })
	add := func(name, value string) {
		if value != "" {
			props = append(props, junitProp{name, value})
		}
	}
	if g.verdict == string(runlog.VerdictMarginal) {
		add("marginal", "true")
	}
	add("iterations", strconv.Itoa(len(g.rows)))
	for _, v := range []runlog.Verdict{runlog.VerdictPass, runlog.VerdictMarginal, runlog.VerdictWarn, runlog.VerdictFail, runlog.VerdictNoData, runlog.VerdictSuperseded} {
		if c := g.counts[string(v)]; c > 0 || v == runlog.VerdictPass {
			add("iterations_"+strings.ReplaceAll(string(v), "-", "_"), strconv.Itoa(c))
		}
	}
	if g.worst >= 0 {
		w := g.rows[g.worst]
		add("worst_iteration", g.iteration(g.worst))
		add("worst_step", w.c.Step)
		if w.Timed {
			add("worst_start_s", strconv.FormatFloat(w.StartS, 'f', -1, 64))
		}
	}
	if g.firstBad >= 0 {
		add("first_failure_iteration", g.iteration(g.firstBad))
	}
	return &caseProps{props}
}

// worstValue is the group's worst value with its unit, "-" without one.
func (g *critGroup) worstValue() string {
	if g.worst < 0 {
		return "-"
	}
	return g.rows[g.worst].Value
}

// listed names the group's evaluations of the given verdicts, each
// "iteration 17 (#65), t = 16 h 02 min: 3.91 L/min (reason)".
func (g *critGroup) listed(vs ...runlog.Verdict) []string {
	var out []string
	for i, r := range g.rows {
		for _, v := range vs {
			if r.Verdict == string(v) {
				item := g.at(i) + ": " + r.Value
				if r.Reason != "" {
					item += " (" + r.Reason + ")"
				}
				out = append(out, item)
				break
			}
		}
	}
	return out
}

// failedDetail is the body of a failure of a criterion evaluated more
// than once: the criterion, then every evaluation that failed (or had no
// data) in full, a line each.
func (g *critGroup) failedDetail() string {
	var b strings.Builder
	c := *g.rows[0].c // the criterion as written, its worst value and verdict
	c.Step, c.StepName, _ = written(c.Step, c.StepName)
	c.Verdict, c.Reason, c.Value = runlog.Verdict(g.verdict), "", nil
	if g.worst >= 0 {
		c.Value = g.rows[g.worst].c.Value
	}
	b.WriteString(critDetail(&c))
	for i, r := range g.rows {
		if verdictRank(r.Verdict) >= verdictRank(string(runlog.VerdictNoData)) {
			fmt.Fprintf(&b, "iteration %s, step %s: %s\n", g.iteration(i), r.c.Step, critMessage(r.c))
		}
	}
	return b.String()
}

// aborted reports whether a failed evaluation of the group aborted the
// run (on_fail: abort).
func (g *critGroup) aborted() bool {
	for _, r := range g.rows {
		if r.OnFail == "abort" && verdictRank(r.Verdict) >= verdictRank(string(runlog.VerdictNoData)) {
			return true
		}
	}
	return false
}
