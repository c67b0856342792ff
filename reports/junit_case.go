package reports

import (
	"fmt"

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
