package reports

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/internal/golden"
	"github.com/mockloop/mockloop/runlog"
)

// 71 iterations of a check are one row of the criteria table, "71/71
// pass, worst 2.31 L/min at iteration 17" (worst: closest to or furthest
// beyond its limit), and none in the appendix, which lists the
// evaluations of a criterion evaluated more than maxIterRows times only
// when they did not pass, and says so; the traceability matrix
// has one criterion of 71 evaluations (not 71 of one, each iteration's
// path being another); a criterion evaluated once stays as it was. The
// fixture's appendix is a golden file.
func TestRepeatedIterationsSummarised(t *testing.T) {
	lo, hi := 2.0, 4.0
	var cs []runlog.CriterionResult
	for k := 1; k <= 71; k++ {
		v := 3.0 + 0.01*float64(k%5)
		switch k {
		case 17:
			v = 2.31 // 0.31 from the low limit: the least margin
		case 40:
			v = 3.65 // 0.35 from the high limit
		}
		cs = append(cs, runlog.CriterionResult{ID: "END-1", Step: fmt.Sprintf("2[%d].1", k), StepName: fmt.Sprintf("hour [#%d]", k),
			Measure: "mean(flow_dut)", Value: &v, Lo: &lo, Hi: &hi, Unit: "L/min", Limits: "between 2 L/min and 4 L/min", Verdict: runlog.VerdictPass})
	}
	once := 101.2
	cs = append(cs, runlog.CriterionResult{ID: "END-0", Step: "3", StepName: "stop", Measure: "mean(aop)", Value: &once, Unit: "mmHg", Limits: "-", Verdict: runlog.VerdictPass})
	beyond := 4.5
	fails := append([]runlog.CriterionResult(nil), cs[:3]...)
	fails[1].Value, fails[1].Verdict = &beyond, runlog.VerdictFail

	for _, tc := range []struct {
		name          string
		cs            []runlog.CriterionResult
		rows, appx    int
		evals         int
		value, verdct string
	}{
		// More than maxIterRows iterations, all passed: none in the appendix, a note says so.
		{"71 iterations pass", cs, 2, 0, 71, "71/71 pass, worst 2.31 L/min at iteration 17 (#17)", "pass"},
		{"one beyond its limit", fails, 1, 3, 3, "2/3 pass, 1 fail, worst 4.5 L/min at iteration 2 (#2); also the first failure", "fail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table, appendix, notes := summarizeCriteria(criteriaRows(tc.cs, nil))
			if len(table) != tc.rows || len(appendix) != tc.appx {
				t.Fatalf("%d rows, %d in the appendix; want %d, %d", len(table), len(appendix), tc.rows, tc.appx)
			}
			if wantNote := tc.evals > maxIterRows; (len(notes) == 1) != wantNote || wantNote && notes[0] != "END-1 mean(flow_dut) in step 2.1 hour: evaluated in 71 iterations, 71/71 pass; all passed, none is listed." {
				t.Errorf("appendix notes %q", notes)
			}
			s := table[0]
			if s.Value != tc.value || s.Verdict != tc.verdct || s.Step != "2.1 hour" || !s.Summary {
				t.Errorf("summary row: step %q value %q verdict %s; want \"2.1 hour\", %q, %s", s.Step, s.Value, s.Verdict, tc.value, tc.verdct)
			}
			tv := traceability(nil, criteriaRows(tc.cs, nil))
			if got := tv.Unknown[0].Criteria; len(got) != 1 || got[0].Evals != tc.evals || got[0].Step != "2.1 hour" {
				t.Errorf("traceability of the iterations: %+v, want one criterion of %d evaluations", got, tc.evals)
			}
			if tc.rows > 1 && (table[1].Summary || table[1].Value != "101.2 mmHg") {
				t.Errorf("a criterion evaluated once became %+v", table[1])
			}
		})
	}

	r, err := Load(fixtureRun(t, "pass"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.writeHTMLSection(&b, "appendix"); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "golden", "pass.appendix.html"), b.Bytes())
}

// TestSweepIterationSettingsSummarised: a criterion of a sweep of several
// parameters is one row whose worst iteration is named by its settings
// too, as the engine named the step ("measure [dut.level=P8,
// loop.preset=heart_failure]").
func TestSweepIterationSettingsSummarised(t *testing.T) {
	lo := 2.0
	var cs []runlog.CriterionResult
	for k, set := range []string{"dut.level=P2, loop.preset=healthy", "dut.level=P8, loop.preset=heart_failure", "dut.level=P8, loop.preset=healthy"} {
		v := 3.0 - float64(k%2)
		cs = append(cs, runlog.CriterionResult{ID: "SW-1", Step: fmt.Sprintf("2[%d].1", k+1), StepName: "measure [" + set + "]",
			Measure: "mean(flow_dut)", Value: &v, Lo: &lo, Unit: "L/min", Limits: "≥ 2 L/min", Verdict: runlog.VerdictPass})
	}
	table, appendix, _ := summarizeCriteria(criteriaRows(cs, nil))
	if len(table) != 1 || len(appendix) != 3 {
		t.Fatalf("%d rows, %d in the appendix", len(table), len(appendix))
	}
	if want := "3/3 pass, worst 2 L/min at iteration 2 (#2) [dut.level=P8, loop.preset=heart_failure]"; table[0].Value != want || table[0].Step != "2.1 measure" {
		t.Errorf("summary %q at %q, want %q", table[0].Value, table[0].Step, want)
	}
}

// The timeline of a loop of five iterations keeps the routine events of
// the first and the last and counts the three between; the step
// statistics of 25 iterations pool them by the step as written.
func TestLoopIterationsPooled(t *testing.T) {
	var s eventSummary
	add := func(path string, at float64) {
		s.classify(&runlog.Event{T: at, Kind: runlog.KindStepStart, Step: path})
		s.classify(&runlog.Event{T: at + 1, Kind: runlog.KindStepEnd, Step: path})
	}
	add("1", 0)
	for k := 1; k <= 5; k++ {
		add(fmt.Sprintf("2[%d].1", k), float64(k))
	}
	add("3", 9)
	s.finish()
	var got []string
	for _, e := range s.Timeline {
		got = append(got, e.Step)
	}
	if want := "1 1 2[1].1 2[1].1 2[5].1 2[5].1 3 3"; strings.Join(got, " ") != want || s.IterationsLeftOut != 6 || s.TimelineTotal != 14 {
		t.Errorf("timeline %q, %d left out of %d; want %q, 6 of 14", got, s.IterationsLeftOut, s.TimelineTotal, want)
	}
	if n := s.TimelineNote(); !strings.Contains(n, "(6 events)") || strings.Contains(n, "Only the first") {
		t.Errorf("timeline note %q", n)
	}

	var steps []stepExec
	for k := 1; k <= 25; k++ {
		steps = append(steps, stepExec{Path: fmt.Sprintf("2[%d].1", k), Name: fmt.Sprintf("hour [#%d]", k), StartS: float64(k), EndS: float64(k + 1),
			Outcome: "pass", Stats: map[string]runlog.ChannelStats{"aop": {N: 10, Mean: float64(k), Min: 0, Max: 100, Unit: "mmHg"}}})
	}
	sv := stepStats(steps, []runlog.Channel{{Name: "aop", Unit: "mmHg"}})
	if !sv.Pooled || len(sv.Rows) != 1 || sv.Rows[0].Step != "2.1 hour" || sv.Rows[0].Span != "25 executions" || sv.Rows[0].Mean != "13" {
		t.Errorf("step statistics of 25 iterations: %+v, want one pooled row of 2.1 hour, 25 executions, mean 13", sv.Rows)
	}
	if idx, note := pickWaveSteps(steps); len(idx) != 2 || idx[0] != 0 || idx[1] != 24 || note == "" {
		t.Errorf("waveforms of iterations %v (%q), want the first and the last", idx, note)
	}
}

// A retried step's criterion, superseded in its first attempt and passed
// in its second, is one row and one JUnit case that pass: the later
// attempt's verdict counts; the case says the first was superseded. One
// that fails in three iterations fails with each named in its message.
func TestIterationsCaseVerdicts(t *testing.T) {
	v1, v2, lo := 0.5, 1.5, 1.0
	cs := []runlog.CriterionResult{
		{ID: "RT-1", Step: "1", StepName: "hold", Measure: "mean(aop)", Value: &v1, Lo: &lo, Unit: "mmHg", Limits: "≥ 1 mmHg", Verdict: runlog.VerdictSuperseded},
		{ID: "RT-1", Step: "1", StepName: "hold", Measure: "mean(aop)", Value: &v2, Lo: &lo, Unit: "mmHg", Limits: "≥ 1 mmHg", Verdict: runlog.VerdictPass, Pass: true},
	}
	rows := criteriaRows(cs, nil)
	table, _, _ := summarizeCriteria(rows)
	var out strings.Builder
	tc := iterationsCase(groupCriteria(rows)[0], 0, &out)
	if len(table) != 1 || table[0].Verdict != "pass" || tc.Failure != nil || tc.Error != nil || !strings.Contains(out.String(), "SUPERSEDED step 1/hold RT-1 mean(aop): mean(aop) = worst 0.5 mmHg") {
		t.Errorf("retried criterion: row %+v, case %+v, system-out %q", table, tc, out.String())
	}

	var fails []runlog.CriterionResult
	for k := 1; k <= 30; k++ {
		v := 2.0 + float64(k%3)/10
		c := runlog.CriterionResult{ID: "F-1", Step: fmt.Sprintf("2[%d].1", k), StepName: fmt.Sprintf("hold [#%d]", k), Measure: "mean(flow)", Value: &v, Lo: &lo, Unit: "L/min", Limits: "≥ 1 L/min", Verdict: runlog.VerdictPass, OnFail: "fail"}
		if k == 4 || k == 9 || k == 27 {
			*c.Value, c.Verdict = 0.9-float64(k)/100, runlog.VerdictFail
		}
		fails = append(fails, c)
	}
	g := groupCriteria(criteriaRows(fails, nil))[0]
	tc = iterationsCase(g, 0, &out)
	if tc.Failure == nil || tc.Failure.Type != "fail" || tc.Name != "F-1 mean(flow)" || tc.Classname != "step 2-1/hold" {
		t.Fatalf("failing criterion's case %+v", tc)
	}
	if want := "mean(flow) = worst 0.63 L/min, limits ≥ 1 L/min; 3 of 30 iterations failed: iteration 4 (#4): 0.86 L/min; iteration 9 (#9): 0.81 L/min; iteration 27 (#27): 0.63 L/min"; tc.Failure.Message != want {
		t.Errorf("failure message\n %q\nwant\n %q", tc.Failure.Message, want)
	}
	if n := strings.Count(tc.Failure.Text, "\niteration "); n != 3 {
		t.Errorf("failure text has %d iterations, want 3:\n%s", n, tc.Failure.Text)
	}
}
