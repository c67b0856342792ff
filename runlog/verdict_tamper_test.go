package runlog_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/internal/benchtest"
	"github.com/mockloop/mockloop/internal/testtool"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/reports"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/verdict"
)

func TestMain(m *testing.M) { os.Exit(benchtest.Run(m)) }

// tamperSrc fails T-1 (the loop holds no 500 mmHg) and judges T-2 against
// the "within 99 mmHg ± 10 %".
const tamperSrc = `protocol: 1
name: tamper
steps:
  - name: baseline
    set: {loop.preset: healthy}
    hold: 4 s
    criteria:
      - {id: T-1, measure: mean(aop), min: 500 mmHg}
      - {id: T-2, measure: mean(aop), within: 99 mmHg ± 10 %}
`

// failingRun runs tamperSrc on the simulated rig, virtual time.
func failingRun(t *testing.T) (string, *runlog.Result) {
	t.Helper()
	cfg, err := rig.LoadConfig("../configs/rigs/sim-loop-only.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := protocols.Parse("tamper.yaml", []byte(tamperSrc), cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	res, dir, err := rig.Run(context.Background(), cfg, p, rig.Options{RunsDir: t.TempDir(), ProtocolFile: "tamper.yaml",
		ProtocolSource: []byte(tamperSrc), Epoch: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != runlog.OutcomeFail || res.Criteria[0].Verdict != runlog.VerdictFail {
		t.Fatalf("the run %s, T-1 %s: want a failing run", res.Outcome, res.Criteria[0].Verdict)
	}
	return dir, res
}

// editResult rewrites result.json of dir with edit applied, then seals the
// record again, so that verify alone finds nothing.
func editResult(t *testing.T, dir string, edit func(r *runlog.Result)) {
	t.Helper()
	p := filepath.Join(dir, "result.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var r runlog.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	edit(&r)
	if b, err = json.MarshalIndent(r, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runlog.ResealForTest(dir); err != nil {
		t.Fatal(err)
	}
	if v, err := runlog.Verify(dir); err != nil || !v.Intact() {
		t.Fatalf("resealed record does not verify: %v %v", v, err)
	}
}

func pf(v float64) *float64 { return &v }

// An auditor's edits of result.json, the record sealed again so that
// verify passes: the report is still INTEGRITY FAILED (Generate's error,
// `mockloop report` exit 1), names the criterion and both values, and shows
// the recomputed FAIL of T-1 and the run's failing outcome.
func TestEditedResultResealedIsIntegrityFailureWithRecomputedVerdicts(t *testing.T) {
	orig, res := failingRun(t)
	t1 := *res.Criteria[0].Value
	cases := []struct {
		name string
		edit func(r *runlog.Result)
		says string // in the reasons of the failure
	}{
		{"value and verdict flipped to pass", func(r *runlog.Result) {
			c := &r.Criteria[0]
			c.Value, c.Verdict, c.Pass, r.Outcome = pf(512.5), runlog.VerdictPass, true, runlog.OutcomePass
		}, "criterion T-1 (mean(aop)) in step 1: result.json states 512.5 mmHg pass"},
		{"limits edited to pass 12345 mmHg", func(r *runlog.Result) {
			c := &r.Criteria[1]
			c.Value, c.Verdict, c.Pass = pf(12345), runlog.VerdictPass, true
			c.Limits, c.Lo, c.Hi = "within 12345 mmHg ± 10 %", pf(12345*0.9), pf(12345*1.1)
		}, `criterion T-2 (mean(aop)) in step 1: result.json states limits "within 12345 mmHg ± 10 %", the protocol "within 99 mmHg ± 10 %"`},
		{"value 12345 mmHg shown pass", func(r *runlog.Result) {
			c := &r.Criteria[1]
			c.Value, c.Verdict, c.Pass = pf(12345), runlog.VerdictPass, true
		}, "criterion T-2 (mean(aop)) in step 1: result.json states 12345 mmHg pass"},
		{"failing criterion deleted", func(r *runlog.Result) {
			r.Criteria, r.Outcome = r.Criteria[1:], runlog.OutcomePass
		}, "result.json lacks criterion T-1 (mean(aop)) in step 1, judged from the record"},
		{"criterion added", func(r *runlog.Result) {
			r.Criteria = append(r.Criteria, runlog.CriterionResult{ID: "T-9", Step: "1", Measure: "mean(lvp)", Verdict: runlog.VerdictPass, Pass: true})
		}, "result.json states criterion T-9 (mean(lvp)) in step 1, which the record's protocol and events do not judge"},
		{"outcome edited", func(r *runlog.Result) { r.Outcome = runlog.OutcomePass },
			`result.json states outcome "pass"; its criteria and events make it "fail"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), filepath.Base(orig))
			if err := os.CopyFS(dir, os.DirFS(orig)); err != nil {
				t.Fatal(err)
			}
			editResult(t, dir, tc.edit)
			out := t.TempDir()
			_, err := reports.Generate(dir, reports.Options{Formats: []string{reports.FormatHTML, reports.FormatCSV}, OutDir: out})
			if !errors.Is(err, reports.ErrIntegrity) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Generate: %v\nwant INTEGRITY FAILED saying %q", err, tc.says)
			}
			html, _ := os.ReadFile(filepath.Join(out, reports.HTMLFile))
			if !strings.Contains(string(html), "INTEGRITY FAILED") {
				t.Error("the HTML report does not say INTEGRITY FAILED")
			}
			if !strings.Contains(string(html), `id="outcome-badge">FAIL`) {
				t.Error("the HTML report does not show the run's outcome FAIL")
			}
			rows := readCSV(t, filepath.Join(out, reports.CriteriaCSVFile))
			if len(rows) != 3 || rows[1][1] != "T-1" || rows[1][13] != "fail" || rows[2][12] != "within 99 mmHg ± 10 %" {
				t.Fatalf("criteria.csv does not show T-1 recomputed (fail) and T-2's limits from the protocol:\n%q", rows)
			}
			if v, err := strconv.ParseFloat(rows[1][8], 64); err != nil || math.Abs(v-t1) > verdict.FrameTolerance*t1 {
				t.Errorf("criteria.csv shows T-1 = %s, the engine had %g", rows[1][8], t1)
			}
		})
	}
}

func readCSV(t *testing.T, name string) [][]string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// A record without a protocol copy (as an older version made them) is
// shown as result.json states it: its integrity section says the verdicts
// were not recomputed, which is no failure while its seal holds. An
// intact record says its criteria were recomputed and agree.
func TestRecordWithoutProtocolCopySaysVerdictsNotRecomputed(t *testing.T) {
	orig, _ := failingRun(t)
	out := t.TempDir()
	if _, err := reports.Generate(orig, reports.Options{Formats: []string{reports.FormatHTML}, OutDir: out}); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(out, reports.HTMLFile))
	if !strings.Contains(string(html), "recomputed from the frames, beats and protocol copy: 2 criteria as result.json states them") {
		t.Error("the intact record's report does not say its 2 criteria were recomputed and agree")
	}
	dir := filepath.Join(t.TempDir(), filepath.Base(orig))
	if err := os.CopyFS(dir, os.DirFS(orig)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "protocol.yaml"))
	editResult(t, dir, func(*runlog.Result) {})
	if _, err := reports.Generate(dir, reports.Options{Formats: []string{reports.FormatHTML}, OutDir: out}); err != nil {
		t.Fatalf("Generate: %v, want no integrity failure", err)
	}
	html, _ = os.ReadFile(filepath.Join(out, reports.HTMLFile))
	if !strings.Contains(string(html), "verdicts not recomputed: no protocol copy") || strings.Contains(string(html), "INTEGRITY FAILED") {
		t.Error("the report of a record without protocol copy does not say its verdicts were not recomputed, or says INTEGRITY FAILED")
	}
}

// The PDF of a record whose result.json was edited to pass and sealed
// again says INTEGRITY FAILED on every page, and its criteria table shows
// T-1's recomputed FAIL (pdftotext, as the reports' own PDF tests).
func TestEditedResultResealedPDFSaysIntegrityFailedOnEveryPage(t *testing.T) {
	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	dir, _ := failingRun(t)
	editResult(t, dir, func(r *runlog.Result) {
		c := &r.Criteria[0]
		c.Value, c.Verdict, c.Pass, r.Outcome = pf(512.5), runlog.VerdictPass, true, runlog.OutcomePass
	})
	out := t.TempDir()
	if _, err := reports.Generate(dir, reports.Options{Formats: []string{reports.FormatPDF}, OutDir: out}); !errors.Is(err, reports.ErrIntegrity) {
		t.Fatalf("Generate: %v, want INTEGRITY FAILED", err)
	}
	text, err := exec.Command(pdftotext, "-layout", filepath.Join(out, reports.PDFFile), "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	pages := strings.Split(strings.TrimSuffix(string(text), "\f"), "\f")
	for i, p := range pages {
		if !strings.Contains(p, "INTEGRITY FAILED") {
			t.Errorf("page %d of %d does not say INTEGRITY FAILED", i+1, len(pages))
		}
	}
	if !strings.Contains(string(text), "512.5") || !regexp.MustCompile(`T-1.*mean\(aop\)[^\n]*FAIL`).MatchString(string(text)) {
		t.Errorf("the PDF does not name the edit (512.5) or show T-1's recomputed FAIL:\n%s", text)
	}
}
