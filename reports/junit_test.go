package reports

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/internal/testtool"
	"github.com/mockloop/mockloop/runlog"
)

// junitSchema is the Apache Ant JUnit schema CI tools accept (a copy of
// the one in the project's shared schemas, Apache License 2.0).
const junitSchema = "testdata/junit.xsd"

// TestJUnitSchema validates the JUnit XML of every recorded run against
// the Ant schema with xmllint.
func TestJUnitSchema(t *testing.T) {
	xmllint := testtool.Need(t, "xmllint", "libxml2-utils")
	schema := junitSchema
	if _, err := os.Stat(schema); err != nil {
		t.Fatalf("schema: %v", err)
	}
	dir := t.TempDir()
	var files []string
	for name := range fixtureIDs {
		f := filepath.Join(dir, name+".xml")
		if err := os.WriteFile(f, fixtureJUnitDoc(t, name), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	args := append([]string{"--noout", "--schema", schema}, files...)
	out, err := exec.Command(xmllint, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), " validates"); n != len(files) {
		t.Errorf("xmllint validated %d of %d files:\n%s", n, len(files), out)
	}

	// The check must be able to fail: a test case with two results is
	// invalid.
	bad := filepath.Join(dir, "bad.xml")
	b, _ := os.ReadFile(files[0])
	b = bytes.Replace(b, []byte("<system-out>"), []byte(`<testcase name="x" classname="y" time="0"><failure type="a"/><error type="b"/></testcase><system-out>`), 1)
	os.WriteFile(bad, b, 0o644)
	if out, err := exec.Command(xmllint, "--noout", "--schema", schema, bad).CombinedOutput(); err == nil {
		t.Errorf("xmllint accepted an invalid file:\n%s", out)
	}
}

// TestJUnitVerdicts checks how verdicts map to JUnit results: fail and
// no-data are failures, an abort is an error, a warning passes and is told
// in system-out, and an aborted or interrupted run adds an error test case.
func TestJUnitVerdicts(t *testing.T) {
	type result struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
	}
	type tcase struct {
		Name      string  `xml:"name,attr"`
		Classname string  `xml:"classname,attr"`
		Failure   *result `xml:"failure"`
		Error     *result `xml:"error"`
	}
	type suite struct {
		Tests     int     `xml:"tests,attr"`
		Failures  int     `xml:"failures,attr"`
		Errors    int     `xml:"errors,attr"`
		Cases     []tcase `xml:"testcase"`
		SystemOut string  `xml:"system-out"`
	}
	parse := func(name string) (s suite) {
		fixtureJUnit(t, name, &s)
		return s
	}
	find := func(s suite, name string) tcase {
		for _, c := range s.Cases {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no test case %q in %+v", name, s.Cases)
		return tcase{}
	}

	fail := parse("fail")
	if fail.Tests != 5 || fail.Failures != 3 || fail.Errors != 0 {
		t.Errorf("fail run: tests %d failures %d errors %d, want 5 3 0", fail.Tests, fail.Failures, fail.Errors)
	}
	if c := find(fail, "FAIL-1 mean(flow_dut)"); c.Failure == nil || c.Failure.Type != "fail" ||
		!strings.Contains(c.Failure.Message, "2.0999996 L/min") || !strings.Contains(c.Failure.Message, "≥ 2.1 L/min") {
		t.Errorf("failed criterion: %+v", c.Failure)
	}
	if c := find(fail, "FAIL-2 map(aop)"); c.Failure == nil || c.Failure.Type != "no-data" || !strings.Contains(c.Failure.Message, "no beats detected") {
		t.Errorf("no-data criterion: %+v", c.Failure)
	}
	if c := find(fail, "FAIL-3 aop"); c.Classname != "always" || c.Failure == nil {
		t.Errorf("always invariant: %+v", c)
	}
	if c := find(fail, "LV pressure stays below 200 mmHg max(lvp)"); c.Classname != "step 1/heart failure at P8" || c.Failure != nil || c.Error != nil {
		t.Errorf("criterion without id: %+v", c)
	}

	pass := parse("pass")
	if pass.Failures != 0 || pass.Errors != 0 || pass.Tests != 4 { // PASS-2's three evaluations are one case
		t.Errorf("pass run: %d tests, %d failures, %d errors", pass.Tests, pass.Failures, pass.Errors)
	}
	find(pass, "PASS-2 std(dut.rpm)")
	if c := find(pass, "PASS-3 map(aop)"); c.Failure != nil || !strings.Contains(pass.SystemOut, "WARN step 3/stop PASS-3 map(aop)") {
		t.Errorf("warning: %+v, system-out %q", c, pass.SystemOut)
	}

	ab := parse("aborted")
	if ab.Errors != 2 || ab.Failures != 0 {
		t.Errorf("aborted run: %d errors %d failures, want 2 0", ab.Errors, ab.Failures)
	}
	if c := find(ab, "ABT-2 max(aop)"); c.Error == nil || c.Error.Type != "abort" {
		t.Errorf("on_fail abort criterion: %+v", c)
	}
	if c := find(ab, "run aborted"); c.Error == nil || c.Classname != "step 2/afterload tripled" || !strings.Contains(c.Error.Message, "safety trip") {
		t.Errorf("abort of the run: %+v", c)
	}

	in := parse("interrupted")
	if c := find(in, "run interrupted"); c.Error == nil || c.Error.Type != "interrupted" || c.Classname != "step 2/heart failure" {
		t.Errorf("interruption: %+v", c)
	}
}

// Which host ran a run for which CI job is in the identity block (HTML and
// PDF) and in the JUnit properties.
func TestHostAndJobInIdentityAndJUnit(t *testing.T) {
	r, err := Load(fixtureRun(t, "pass"))
	if err != nil {
		t.Fatal(err)
	}
	r.run.Manifest.Host = "bench-pc-2"
	r.run.Manifest.Job = &runlog.Job{System: "gitlab", URL: "https://gitlab.example/lab/pump/-/jobs/7?a=1&b=2", ID: "7", Name: "hil", Runner: "rig-2 <runner>"}
	h, j := identityAndJUnit(t, r)
	for _, want := range []string{"<th>Host</th><td>bench-pc-2</td>",
		"<th>CI job</th><td>gitlab, job hil, id 7, runner rig-2 &lt;runner&gt;, https://gitlab.example/lab/pump/-/jobs/7?a=1&amp;b=2</td>"} {
		if !strings.Contains(h, want) {
			t.Errorf("identity lacks %s:\n%s", want, h)
		}
	}
	for _, want := range []string{`<property name="host" value="bench-pc-2">`, `<property name="ci_system" value="gitlab">`,
		`<property name="ci_job_name" value="hil">`, `<property name="ci_job_id" value="7">`,
		`<property name="ci_runner" value="rig-2 &lt;runner&gt;">`, `<property name="ci_job_url" value="https://gitlab.example/lab/pump/-/jobs/7?a=1&amp;b=2">`} {
		if !strings.Contains(j, want) {
			t.Errorf("JUnit lacks %s:\n%s", want, j)
		}
	}
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		return // TestPDF says poppler-utils is missing
	}
	var pdf bytes.Buffer
	if err := r.WritePDF(&pdf); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(file, pdf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(pdfPages(t, pdftotext, file, "-raw"), " ")
	for _, want := range []string{"Host bench-pc-2", "CI job gitlab, job hil, id 7, runner rig-2 <runner>"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF lacks %q", want)
		}
	}
}

// How the run reached its DUT (manifest dut_link) is shown with the DUT's
// identity in the report and is a JUnit property; a record made before it
// was recorded shows the identity alone. A dut.summary is part of the
// timeline.
func TestDUTLinkInIdentityAndJUnit(t *testing.T) {
	r, err := Load(fixtureRun(t, "pass"))
	if err != nil {
		t.Fatal(err)
	}
	r.run.Manifest.DUT = &runlog.DUTIdentity{Model: "dutsim-impella-cp", Serial: "SIM-0001", FW: "1.0.0"}
	for link, want := range map[string]string{
		runlog.DUTLinkInProcess: "<th>Device under test</th><td>model dutsim-impella-cp, serial SIM-0001, firmware 1.0.0; simulated, in process</td>",
		runlog.DUTLinkPTY:       "<th>Device under test</th><td>model dutsim-impella-cp, serial SIM-0001, firmware 1.0.0; simulated, over a pseudo-terminal</td>",
		runlog.DUTLinkSerial:    "<th>Device under test</th><td>model dutsim-impella-cp, serial SIM-0001, firmware 1.0.0; on a serial port</td>",
		"":                      "<th>Device under test</th><td>model dutsim-impella-cp, serial SIM-0001, firmware 1.0.0</td>",
	} {
		r.run.Manifest.DUTLink = link
		h, j := identityAndJUnit(t, r)
		if !strings.Contains(h, want) {
			t.Errorf("identity lacks %s:\n%s", want, h)
		}
		prop := `<property name="dut_link" value="` + link + `">`
		if got := strings.Contains(j, prop); got != (link != "") {
			t.Errorf("dut_link %q: JUnit has %s: %v", link, prop, got)
		}
	}
	if c := eventClass(runlog.KindDUTSummary); c != classTimeline {
		t.Errorf("dut.summary is %s", c)
	}
}

// identityAndJUnit renders a report's identity section (HTML) and its
// JUnit XML, for what a manifest key shows in each.
func identityAndJUnit(t *testing.T, r *Report) (html, junit string) {
	t.Helper()
	var h, j bytes.Buffer
	if err := r.writeHTMLSection(&h, "identity"); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJUnit(&j); err != nil {
		t.Fatal(err)
	}
	return h.String(), j.String()
}

// A hybrid run says so in the identity's rig row (HTML and PDF share it)
// and in JUnit's rig_mode; a numerical run's rig row is the rig's name
// alone, as before the key, and a record made before it (no rig_mode)
// has no property.
func TestRigModeInIdentityAndJUnit(t *testing.T) {
	r, err := Load(fixtureRun(t, "pass"))
	if err != nil {
		t.Fatal(err)
	}
	rig := r.run.Manifest.Rig
	if rig == "" || r.run.Manifest.RigMode != "" {
		t.Fatalf("fixture: rig %q, rig_mode %q; want a rig made before rig_mode", rig, r.run.Manifest.RigMode)
	}
	for mode, want := range map[string]string{
		runlog.RigModeHybrid:    "<th>Rig</th><td>" + rig + " (hybrid: the patient is the controller&#39;s model, the bench its boundary)</td>",
		runlog.RigModeNumerical: "<th>Rig</th><td>" + rig + "</td>",
		"":                      "<th>Rig</th><td>" + rig + "</td>",
	} {
		r.run.Manifest.RigMode = mode
		h, j := identityAndJUnit(t, r)
		if !strings.Contains(h, want) {
			t.Errorf("rig_mode %q: identity lacks %s:\n%s", mode, want, h)
		}
		if n := strings.Count(h, "hybrid"); n != map[bool]int{true: 1}[mode == runlog.RigModeHybrid] {
			t.Errorf("rig_mode %q: identity says hybrid %d times", mode, n)
		}
		prop := `<property name="rig_mode" value="` + mode + `">`
		if got := strings.Contains(j, prop); got != (mode != "") {
			t.Errorf("rig_mode %q: JUnit has %s: %v", mode, prop, got)
		}
		if mode == "" && strings.Contains(j, `name="rig_mode"`) {
			t.Errorf("a record before rig_mode has the property:\n%s", j)
		}
	}
}
