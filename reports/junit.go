package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mockloop/mockloop/runlog"
)

// The JUnit XML document, as the Apache Ant schema has it: a <testsuite>
// root with <properties>, the <testcase>s, <system-out> and <system-err>,
// in that order, all required; a test case has at most one of <skipped>,
// <error>, <failure>, and nothing else.
type junitSuite struct {
	XMLName    xml.Name    `xml:"testsuite"`
	Name       string      `xml:"name,attr"`
	Timestamp  string      `xml:"timestamp,attr"` // no time zone: the schema's pattern has none; UTC
	Hostname   string      `xml:"hostname,attr"`
	Tests      int         `xml:"tests,attr"`
	Failures   int         `xml:"failures,attr"`
	Errors     int         `xml:"errors,attr"`
	Skipped    int         `xml:"skipped,attr"`
	Time       string      `xml:"time,attr"`
	Properties []junitProp `xml:"properties>property"`
	Cases      []junitCase `xml:"testcase"`
	SystemOut  cdata       `xml:"system-out"`
	SystemErr  cdata       `xml:"system-err"`
}

// cdata is element content written as CDATA, so that multi-line text
// stays readable in the file.
type cdata struct {
	Text string `xml:",cdata"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string       `xml:"name,attr"`
	Classname string       `xml:"classname,attr"`
	Time      string       `xml:"time,attr"`
	Props     *caseProps   `xml:"properties,omitempty"`
	Skipped   *junitSkip   `xml:"skipped,omitempty"`
	Failure   *junitResult `xml:"failure,omitempty"`
	Error     *junitResult `xml:"error,omitempty"`
}

type junitResult struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// WriteJUnit writes the run as a JUnit XML test suite for CI: a test case
// per criterion evaluation (always-invariants included), and one for the
// run itself when it was aborted, interrupted or has no result yet. See the
// package documentation for the mapping of verdicts.
func (r *Report) WriteJUnit(w io.Writer) error {
	m := &r.run.Manifest
	res := r.run.Result
	s := junitSuite{
		Name:      token(m.Protocol.Name, "mockloop"),
		Timestamp: m.Started.UTC().Format("2006-01-02T15:04:05"),
		Hostname:  token(m.Rig, "localhost"),
	}
	durS := float64(r.lastT) / 1e9
	if res != nil {
		durS = res.DurationS
	}
	s.Time = secs(durS)
	s.Properties = r.junitProperties()

	var out strings.Builder
	for _, g := range groupCriteria(r.crit) {
		if len(g.rows) == 1 {
			s.Cases = append(s.Cases, criterionCase(g.rows[0], durS, &out))
		} else {
			s.Cases = append(s.Cases, iterationsCase(g, durS, &out))
		}
	}
	if tc, ok := r.runCase(durS); ok {
		s.Cases = append(s.Cases, tc)
	}
	if tc, ok := r.integrityCase(); ok {
		s.Cases = append(s.Cases, tc)
	}
	s.Cases = append(s.Cases, r.unreachedCases()...)
	for _, tc := range s.Cases {
		switch {
		case tc.Skipped != nil:
			s.Skipped++
		case tc.Failure != nil:
			s.Failures++
		case tc.Error != nil:
			s.Errors++
		}
	}
	s.Tests = len(s.Cases)
	s.SystemOut = cdata{out.String()}
	return encodeJUnit(w, &s)
}

// junitProperties are the suite's properties: the run's identity, those
// the run has.
func (r *Report) junitProperties() []junitProp {
	m := &r.run.Manifest
	res := r.run.Result
	var props []junitProp
	prop := func(name, value string) {
		if value != "" {
			props = append(props, junitProp{name, value})
		}
	}
	prop("run_id", m.RunID)
	prop("outcome", r.outcome())
	if res != nil {
		prop("abort_reason", res.AbortReason)
	}
	prop("protocol", m.Protocol.Name)
	prop("protocol_file", m.Protocol.File)
	prop("protocol_sha256", m.Protocol.SHA256)
	prop("rig", m.Rig)
	prop("rig_mode", m.RigMode) // numerical or hybrid; none before schema 1.2.0
	prop("host", m.Host)
	if j := m.Job; j != nil {
		prop("ci_system", j.System)
		prop("ci_job_name", j.Name)
		prop("ci_job_id", j.ID)
		prop("ci_runner", j.Runner)
		prop("ci_job_url", j.URL)
	}
	prop("rig_config_sha256", m.RigConfigSHA256)
	prop("software_version", m.SoftwareVersion)
	prop("development_build", devBuildNotice(m))
	if d := m.DUT; d != nil {
		prop("dut_model", d.Model)
		prop("dut_serial", d.Serial)
		prop("dut_fw", d.FW)
		prop("dut_link", m.DUTLink)
	}
	prop("operator", m.Operator)
	prop("clock", string(m.Clock))
	if !m.Started.IsZero() {
		prop("started", m.Started.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if !m.Ended.IsZero() {
		prop("ended", m.Ended.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if res != nil {
		prop("frames", strconv.FormatInt(res.Frames, 10))
	}
	if k := m.KeptEvery(); k > 1 { // a dry run's record keeps 1 frame in k
		prop("frames_kept_every", strconv.Itoa(k))
	}
	return props
}

// criterionCase is the test case of a criterion evaluated once: its time
// is its step's or, for an invariant, the run's (durS); a warning passes
// and is described in out, the suite's system-out.
func criterionCase(row *critRow, durS float64, out *strings.Builder) junitCase {
	c := row.c
	tc := junitCase{Classname: token(classname(c.Step, c.StepName), "run"), Name: token(caseName(row), "criterion"), Props: criterionProps(c)}
	switch {
	case c.Step == alwaysStep:
		tc.Time = secs(durS)
	case row.Timed:
		tc.Time = secs(row.EndS - row.StartS)
	default:
		tc.Time = secs(0)
	}
	msg := critMessage(c)
	switch c.Verdict {
	case runlog.VerdictPass, runlog.VerdictMarginal: // marginal: a pass, its verdict property says so
	case runlog.VerdictWarn:
		fmt.Fprintf(out, "WARN %s %s: %s\n", tc.Classname, tc.Name, msg)
	case runlog.VerdictSuperseded: // an attempt run again (retry): not a failure
		fmt.Fprintf(out, "SUPERSEDED %s %s: %s\n", tc.Classname, tc.Name, msg)
	case runlog.VerdictNoData:
		tc.Failure = &junitResult{Type: "no-data", Message: msg, Text: critDetail(c)}
	default: // fail, or a verdict this version does not know
		res := &junitResult{Type: string(c.Verdict), Message: msg, Text: critDetail(c)}
		if c.OnFail == "abort" {
			res.Type = "abort"
			tc.Error = res
		} else {
			tc.Failure = res
		}
	}
	return tc
}

// runCase is the test case of the run itself, an error, when it did not
// complete (aborted, interrupted, or no result yet); ok is false when it
// did. Its class is the step it stopped in.
func (r *Report) runCase(durS float64) (tc junitCase, ok bool) {
	o := r.outcome()
	if o == string(runlog.OutcomePass) || o == string(runlog.OutcomeFail) {
		return junitCase{}, false
	}
	class := "run"
	for i := len(r.steps) - 1; i >= 0; i-- {
		if st := r.steps[i]; st.Outcome == string(runlog.OutcomeAborted) || st.Outcome == "unfinished" {
			class = classname(st.Path, st.Name)
			break
		}
	}
	reason := ""
	if res := r.run.Result; res != nil {
		reason = res.AbortReason
	}
	if reason == "" {
		reason = "the run has no result: it is still running or ended without closing its record"
	}
	return junitCase{Classname: token(class, "run"), Name: "run " + o, Time: secs(durS),
		Error: &junitResult{Type: o, Message: reason, Text: "run " + r.run.Manifest.RunID + " " + o + ": " + reason}}, true
}

// encodeJUnit writes the suite as an indented XML document.
func encodeJUnit(w io.Writer, s *junitSuite) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("reports: junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// classname is a criterion's test class: its step's "step path/name",
// without dots, on which CI tools split a class name into package and
// class: the path's dots become hyphens ("3.2" is "step 3-2") and a name's
// become middle dots ("2·5 L/min").
func classname(path, name string) string {
	switch {
	case path == "":
		return "run"
	case path == alwaysStep:
		return path
	}
	c := "step " + strings.ReplaceAll(path, ".", "-")
	if name != "" {
		c += "/" + strings.ReplaceAll(name, ".", "·")
	}
	return c
}

// caseName is a criterion's test name: its requirement id (or name) and
// measure, numbered when its step was executed more than once.
func caseName(row *critRow) string {
	id := row.ReqID
	if id == "" {
		id = row.Name
	}
	n := strings.TrimSpace(id + " " + row.c.Measure)
	if row.Repeats {
		n += " #" + strconv.Itoa(row.Iter)
	}
	return n
}

// critMessage says what a criterion measured against what: the message of
// a failure.
func critMessage(c *runlog.CriterionResult) string {
	v := "no value"
	if c.Value != nil {
		v = withUnit(valueText(*c.Value, c.Lo, c.Hi), c.Unit)
	}
	msg := fmt.Sprintf("%s = %s, limits %s", c.Measure, v, orDash(c.Limits))
	if c.Over != "" {
		msg += " (over " + c.Over + ")"
	}
	if c.Verdict != runlog.VerdictPass {
		msg += ": " + string(c.Verdict)
	}
	if c.Reason != "" {
		msg += " (" + c.Reason + ")"
	}
	return msg
}

// critDetail is the body of a failure: every field of the criterion.
func critDetail(c *runlog.CriterionResult) string {
	var b strings.Builder
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	field("requirement", c.ID)
	field("name", c.Name)
	field("step", stepLabel(c.Step, c.StepName))
	field("measure", c.Measure)
	field("over", c.Over)
	field("value", fullNum(c.Value))
	field("unit", c.Unit)
	field("limits", c.Limits)
	field("verdict", string(c.Verdict))
	field("on_fail", c.OnFail)
	field("reason", c.Reason)
	return b.String()
}

// critSteps matches each criterion to the step execution it was evaluated
// in (-1 for none), for the test case's time. The engine records a step's
// criteria just before the step itself, both in order, and evaluates each
// criterion at most once per execution; so the criteria of a path fill its
// executions in turn, moving on when a criterion comes again. (A criterion
// skipped by its "when" in some executions can make this match an earlier
// execution of the same step than the true one: the time is then that of a
// sibling execution. The #k numbering of test names does not depend on it.)
func critSteps(crit []critRow, steps []stepExec) []int {
	out := make([]int, len(crit))
	cur := map[string]int{}              // path: the execution being filled
	used := map[string]map[string]bool{} // path: criteria already met in it
	for i := range crit {
		out[i] = -1
		p := crit[i].c.Step
		if p == "" || p == alwaysStep {
			continue
		}
		key := critKey(crit[i].c)
		j, ok := cur[p]
		if !ok || used[p][key] {
			start := 0
			if ok {
				start = j + 1
			}
			j = -1
			for k := start; k < len(steps); k++ {
				if steps[k].Path == p {
					j = k
					break
				}
			}
			if j < 0 {
				continue
			}
			cur[p], used[p] = j, map[string]bool{}
		}
		used[p][key] = true
		out[i] = j
	}
	return out
}

// timeCriteria gives each criterion row the start and end of the step
// execution it was evaluated in (critSteps), for the summaries of
// iterations and criteria.csv; an invariant (always) has none.
func timeCriteria(crit []critRow, steps []stepExec) {
	for i, j := range critSteps(crit, steps) {
		if j >= 0 {
			crit[i].Timed, crit[i].StartS, crit[i].EndS = true, steps[j].StartS, steps[j].EndS
		}
	}
}

// token collapses white space as xs:token does, with a default for empty.
func token(s, def string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return def
	}
	return s
}

// secs formats seconds as the schema's xs:decimal (no exponent).
func secs(s float64) string {
	if s != s || s < 0 {
		s = 0
	}
	return strconv.FormatFloat(s, 'f', 3, 64)
}
