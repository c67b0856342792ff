package reports

import (
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/internal/golden"
	"github.com/mockloop/mockloop/internal/testtool"
	"github.com/mockloop/mockloop/runlog"
)

// A 14-day endurance run as endurance-impella-rp.yaml makes it: a
// 2-minute settle, 336 one-hour iterations of a hold with four criteria,
// a stop. Frames are one a minute (the reports' pass over the frames is
// not what is tested here), the rest as the engine records it.
const (
	longIters    = 336
	longSettleS  = 120.0
	longHourS    = 3600.0
	longFrameDtS = 60.0
)

// longCriterion is one of the four criteria of every iteration.
type longCriterion struct {
	id, measure, unit, limits string
	lo, hi                    *float64
	value                     func(k int) float64
	verdict                   func(k int) runlog.Verdict
}

// longCriteria are the criteria of the run. END-1 fails in iterations
// 120 (3.99 L/min, the first failure), 250 (3.91, the worst: furthest
// beyond 4 L/min) and 300 (3.98), and comes closest inside its limits in
// iteration 100 (4.02); END-2 is marginal in iteration 77 (431 rpm, its
// worst); END-3 is 0 throughout (its worst: the first); END-4's worst is
// its lowest, 484.3 mA, first in iteration 10.
var longCriteria = []longCriterion{
	{id: "END-1", measure: "mean(flow_dut)", unit: "L/min", limits: "between 4.0 L/min and 5.0 L/min", lo: f64(4), hi: f64(5),
		value: func(k int) float64 {
			switch k {
			case 100:
				return 4.02
			case 120:
				return 3.99
			case 250:
				return 3.91
			case 300:
				return 3.98
			}
			return 4.52 + 0.03*math.Sin(2*math.Pi*float64(k)/48)
		},
		verdict: func(k int) runlog.Verdict {
			if k == 120 || k == 250 || k == 300 {
				return runlog.VerdictFail
			}
			return runlog.VerdictPass
		}},
	{id: "END-2", measure: "std(dut.rpm)", unit: "rpm", limits: "≤ 500 rpm", hi: f64(500),
		value: func(k int) float64 {
			if k == 77 {
				return 431
			}
			return 12 + float64(k%7)
		},
		verdict: func(k int) runlog.Verdict {
			if k == 77 {
				return runlog.VerdictMarginal
			}
			return runlog.VerdictPass
		}},
	{id: "END-3", measure: "max(dut.alarms)", limits: "≤ 0", hi: f64(0),
		value: func(int) float64 { return 0 }, verdict: func(int) runlog.Verdict { return runlog.VerdictPass }},
	{id: "END-4", measure: "mean(dut.current)", unit: "mA", limits: "between 100 mA and 1000 mA", lo: f64(100), hi: f64(1000),
		value:   func(k int) float64 { return 484.3 + 0.1*float64(k%10) },
		verdict: func(int) runlog.Verdict { return runlog.VerdictPass }},
}

// longStart is the start of iteration k (from 1) on the run clock.
func longStart(k int) float64 { return longSettleS + float64(k-1)*longHourS }

// makeLongRecord writes the run into runsDir and returns its directory.
func makeLongRecord(t testing.TB, runsDir string) string {
	t.Helper()
	epoch := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	var reqs []runlog.Requirement
	for _, c := range longCriteria {
		reqs = append(reqs, runlog.Requirement{ID: c.id, Text: "every hour: " + c.measure + " " + c.limits})
	}
	m := runlog.Manifest{RunID: "20261101T080000Z-00e14d", Rig: "sim-rp", SoftwareVersion: "v0.9.0-fixture", Operator: "ci",
		Protocol: runlog.ProtocolRef{Name: "endurance-impella-rp", File: "configs/protocols/endurance-impella-rp.yaml", Requirements: reqs},
		DUT:      &runlog.DUTIdentity{Model: "dutsim-impella-rp", Serial: "SIM-RP-1", FW: "1.0.0"},
		Layout:   synthLayout, SampleRateHz: 1 / longFrameDtS, Clock: runlog.ClockVirtual, Epoch: epoch}
	rec, err := runlog.Create(runsDir, m, []byte("protocol: 1\nname: endurance-impella-rp\n"), []byte("rig: sim-rp\n"), clock.NewReal())
	if err != nil {
		t.Fatal(err)
	}
	end := longStart(longIters+1) + 10
	b := daq.NewBlock(len(synthLayout), 64)
	for ts := longFrameDtS; ts <= end; ts += longFrameDtS {
		v := b.Append(secs2d(ts))
		ph := math.Sin(ts / 7)
		copy(v, []float64{40 + 30*ph, 80 + 15*ph, 12, 0.8 + 0.5*ph, 4.5 + 0.05*ph, 31000, 484, 0, 37, 110})
		if b.Full() {
			if err := rec.AppendBlock(b); err != nil {
				t.Fatal(err)
			}
			b.Reset()
		}
	}
	if b.Len() > 0 {
		if err := rec.AppendBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	res := runlog.Result{Outcome: runlog.OutcomeFail, DurationS: end}
	step := func(path, name string, from, to float64, o runlog.Outcome) {
		rec.Event(runlog.Event{T: from, Kind: runlog.KindStepStart, Step: path, Msg: name})
		rec.Event(withT(to, runlog.NewEvent(runlog.KindStepEnd, path, string(o), runlog.StepEndData{})))
		res.Steps = append(res.Steps, runlog.StepResult{Index: len(res.Steps), Path: path, Name: name, StartS: from, EndS: to, Outcome: o,
			Frames: int64((to - from) / longFrameDtS)})
	}
	step("1", "patient at P8", 0, longSettleS, runlog.OutcomePass)
	for k := 1; k <= longIters; k++ {
		path, name, o := fmt.Sprintf("2[%d].1", k), fmt.Sprintf("hour [#%d]", k), runlog.OutcomePass
		for _, c := range longCriteria {
			v, vd := c.value(k), c.verdict(k)
			res.Criteria = append(res.Criteria, runlog.CriterionResult{ID: c.id, Step: path, StepName: name, Measure: c.measure,
				Value: &v, Unit: c.unit, Limits: c.limits, Lo: c.lo, Hi: c.hi, Verdict: vd, Pass: vd != runlog.VerdictFail, OnFail: "fail"})
			rec.Event(withT(longStart(k+1), runlog.NewEvent(runlog.KindCriterion, path, c.id+": "+string(vd), runlog.CriterionData{Verdict: vd})))
			if vd == runlog.VerdictFail {
				o = runlog.OutcomeFail
			}
		}
		step(path, name, longStart(k), longStart(k+1), o)
	}
	res.Steps = append(res.Steps, runlog.StepResult{Index: len(res.Steps), Path: "2", Name: "endurance", StartS: longSettleS, EndS: longStart(longIters + 1), Outcome: runlog.OutcomeFail})
	step("3", "stop", longStart(longIters+1), end, runlog.OutcomePass)
	if err := rec.Close(res); err != nil {
		t.Fatal(err)
	}
	return rec.Dir()
}

// TestLongRunReport: the reports of a 14-day run of 336 iterations × 4
// criteria stay short — the PDF at most 10 pages — with one summary row
// per criterion naming its worst value (magnitude, iteration, time) and
// first failure (golden file), a trend plot per criterion, an appendix of
// only what did not pass, JUnit one case per criterion with every failed
// iteration in its message, and criteria.csv every evaluation: 1344 rows
// with the values, iterations and start times the run recorded.
func TestLongRunReport(t *testing.T) {
	dir := makeLongRecord(t, t.TempDir())
	out := t.TempDir()
	if d := os.Getenv("MOCKLOOP_KEEP_LONG"); d != "" {
		out = d
	}
	files, err := Generate(dir, Options{OutDir: out, Generated: time.Date(2026, 11, 15, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if want := []string{HTMLFile, PDFFile, JUnitFile, CriteriaCSVFile}; strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("wrote %v, want %v", names, want)
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	v := r.view()
	var summary strings.Builder
	for _, c := range v.Criteria {
		fmt.Fprintf(&summary, "%s | %s | %s | %s | %s\n", c.Label, c.Step, c.Measure, c.Value, strings.ToUpper(c.Verdict))
	}
	for _, n := range v.AppendixNotes {
		fmt.Fprintln(&summary, n)
	}
	golden.Check(t, filepath.Join("testdata", "golden", "longrun.summary.txt"), []byte(summary.String()))
	for i, want := range []string{
		"333/336 pass, 3 fail, worst 3.91 L/min at iteration 250 (#997), t = 249 h 02 min; first failure 3.99 L/min at iteration 120 (#477), t = 119 h 02 min",
		"335/336 pass, 1 marginal, worst 431 rpm at iteration 77 (#306), t = 76 h 02 min",
		"336/336 pass, worst 0 at iteration 1 (#3), t = 2 min 00 s",
		"336/336 pass, worst 484.3 mA at iteration 10 (#40), t = 9 h 02 min",
	} {
		if i >= len(v.Criteria) || v.Criteria[i].Value != want || !v.Criteria[i].Summary {
			t.Errorf("summary row %d: %+v, want value %q", i+1, v.Criteria[min(i, len(v.Criteria)-1)].Value, want)
		}
	}
	if len(v.Criteria) != 4 || len(v.CriteriaAppendix) != 4 || len(v.CritTrends) != 4 {
		t.Errorf("%d criteria rows, %d in the appendix, %d trend plots; want 4, 4 (3 failed, 1 marginal), 4", len(v.Criteria), len(v.CriteriaAppendix), len(v.CritTrends))
	}
	checkLongTrend(t, v.CritTrends[0])
	checkLongCSV(t, filepath.Join(out, CriteriaCSVFile))
	checkLongJUnit(t, filepath.Join(out, JUnitFile))
	checkLongPDF(t, filepath.Join(out, PDFFile))
	checkLongHTML(t, filepath.Join(out, HTMLFile))
}

// checkLongHTML checks the HTML in Chromium, as TestHTMLInChromium does:
// self-contained, and the criteria section shows the four trend plots
// and the summary rows.
func checkLongHTML(t *testing.T, page string) {
	t.Helper()
	if testing.Short() {
		return // drives headless Chromium
	}
	bin := testtool.Need(t, "chromium", "chromium")
	dom := string(testtool.SelfContained(t, bin, filepath.Dir(page), page))
	crit, _, _ := strings.Cut(dom, `id="traceability"`)
	if n := strings.Count(crit, "<svg"); n != 4 {
		t.Errorf("the criteria section of the rendered HTML has %d plots, want 4", n)
	}
	for _, want := range []string{"333/336 pass, 3 fail, worst 3.91 L/min at iteration 250 (#997), t = 249 h 02 min", critTrendsTitle, "3 fail", ">marginal<"} {
		if !strings.Contains(crit, want) {
			t.Errorf("the rendered criteria section lacks %q", want)
		}
	}
}

// checkLongTrend checks END-1's trend plot: 336 values, the limits at 4
// and 5 L/min, its three failures marked red where they are.
func checkLongTrend(t *testing.T, f *figure) {
	t.Helper()
	if f.Title != "END-1 mean(flow_dut)" || len(f.Series) != 3 || f.Series[0].Name != "value" || f.Series[1].Name != "limit" || f.Series[2].Name != "fail" {
		t.Fatalf("END-1 trend: %q with %d series", f.Title, len(f.Series))
	}
	if v := f.Series[0].Lines; len(v) != 1 || len(v[0]) != longIters || v[0][249] != (pt{250, 3.91}) {
		t.Errorf("END-1 values: %d lines, want one of %d points with (250, 3.91)", len(v), longIters)
	}
	lim := f.Series[1].Lines
	if len(lim) != 2 || lim[0][0] != (pt{1, 4}) || lim[0][len(lim[0])-1] != (pt{longIters, 4}) || lim[1][0].Y != 5 {
		t.Errorf("END-1 limit lines %v, want 4 and 5 L/min from iteration 1 to %d", lim, longIters)
	}
	red := outcomeColor("fail")
	if len(f.Dots) != 3 || f.Dots[0] != (dot{120, 3.99, red}) || f.Dots[1] != (dot{250, 3.91, red}) || f.Dots[2] != (dot{300, 3.98, red}) {
		t.Errorf("END-1 failures marked %v", f.Dots)
	}
	if f.Y0 > 3.91 || f.Y1 < 5 {
		t.Errorf("END-1 y axis %g to %g does not show 3.91 and the 5 L/min limit", f.Y0, f.Y1)
	}
}

// checkLongCSV checks criteria.csv: a row per evaluation, 336 × 4, each
// with the value, iteration and step start the run recorded.
func checkLongCSV(t *testing.T, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+longIters*len(longCriteria) {
		t.Fatalf("criteria.csv has %d rows, want a header and %d", len(rows), longIters*len(longCriteria))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for i, row := range rows[1:] {
		k, c := i/len(longCriteria)+1, longCriteria[i%len(longCriteria)]
		val, err := strconv.ParseFloat(row[col["value"]], 64)
		start, _ := strconv.ParseFloat(row[col["step_start [s]"]], 64)
		if err != nil || val != c.value(k) || row[col["requirement_id"]] != c.id || row[col["iteration"]] != strconv.Itoa(k) ||
			start != longStart(k) || row[col["step"]] != fmt.Sprintf("2[%d].1", k) || row[col["unit"]] != c.unit ||
			row[col["limits"]] != c.limits || row[col["verdict"]] != string(c.verdict(k)) {
			t.Fatalf("criteria.csv row %d: %q; want %s = %v in iteration %d from %v s, %s", i+1, row, c.id, c.value(k), k, longStart(k), c.verdict(k))
		}
	}
}

// checkLongJUnit checks the JUnit: one case per criterion, END-1 failing
// with its three failed iterations in the message and 336 iterations in
// its properties.
func checkLongJUnit(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Tests int `xml:"tests,attr"`
		Cases []struct {
			Name    string      `xml:"name,attr"`
			Props   []junitProp `xml:"properties>property"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	}
	if err := xml.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Tests != 4 || len(s.Cases) != 4 {
		t.Fatalf("JUnit has %d test cases, want 4", s.Tests)
	}
	c := s.Cases[0]
	props := map[string]string{}
	for _, p := range c.Props {
		props[p.Name] = p.Value
	}
	if c.Name != "END-1 mean(flow_dut)" || c.Failure == nil || props["iterations"] != "336" || props["iterations_fail"] != "3" || props["value"] != "3.91" || props["worst_iteration"] != "250" {
		t.Fatalf("END-1's case: %s, properties %v, failure %v", c.Name, props, c.Failure)
	}
	for _, want := range []string{"3 of 336 iterations failed", "iteration 120 (#477), t = 119 h 02 min: 3.99 L/min", "iteration 250 (#997), t = 249 h 02 min: 3.91 L/min", "iteration 300 (#1197), t = 299 h 02 min: 3.98 L/min"} {
		if !strings.Contains(c.Failure.Message, want) {
			t.Errorf("END-1's failure message lacks %q: %s", want, c.Failure.Message)
		}
	}
	for _, c := range s.Cases[1:] {
		if c.Failure != nil {
			t.Errorf("%s failed: %s", c.Name, c.Failure.Message)
		}
	}
}

// pdfPageObj matches a page object of a PDF as fpdf writes it.
var pdfPageObj = regexp.MustCompile(`/Type /Page\b[^s]`)

// checkLongPDF checks the PDF's page count, and with qpdf and poppler
// that it is sound and has the summary rows and trend plots.
func checkLongPDF(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n := len(pdfPageObj.FindAll(b, -1))
	t.Logf("PDF of 336 iterations × 4 criteria: %d pages, %d bytes", n, len(b))
	if n == 0 || n > 10 {
		t.Errorf("the PDF has %d pages, want at most 10", n)
	}
	qpdf := testtool.Need(t, "qpdf", "qpdf")
	if out, err := exec.Command(qpdf, "--check", file).CombinedOutput(); err != nil || !strings.Contains(string(out), "No syntax or stream encoding errors") {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	pages := pdfPages(t, pdftotext, file, "-raw")
	if len(pages) != n {
		t.Errorf("pdftotext finds %d pages, the file has %d page objects", len(pages), n)
	}
	all := strings.Join(pages, " ")
	for _, want := range []string{"worst 3.91 L/min at iteration 250 (#997), t = 249 h 02 min; first failure 3.99 L/min at iteration 120",
		critTrendsTitle, "END-1 mean(flow_dut)", "END-4 mean(dut.current)", "iteration of step 2.1 hour",
		"evaluated in 336 iterations, 333/336 pass, 3 fail; only the 3 that did not pass are listed", "criteria.csv"} {
		if !strings.Contains(all, want) {
			t.Errorf("the PDF lacks %q", want)
		}
	}
	if strings.Contains(all, "hour [#17]") {
		t.Error("the PDF lists an iteration that passed (hour [#17])")
	}
}
