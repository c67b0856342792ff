package reports

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/internal/testtool"
	"github.com/mockloop/mockloop/runlog"
)

// TestPDF checks the PDF of recorded runs with qpdf (structure) and
// pdftotext (content): every page has the header with run id and outcome
// and its "Page N of M"; every criterion is listed on a page of the
// criteria table or, evaluated more than once, of its appendix; non-ASCII
// text (mmHg·s/ml, °C, ±, ≤, ≥) survives; and
// pdffonts says every font is embedded.
func TestPDF(t *testing.T) {
	qpdf := testtool.Need(t, "qpdf", "qpdf")
	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	pdffonts := testtool.Need(t, "pdffonts", "poppler-utils")
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		texts []string // must appear somewhere
	}{
		{"pass", []string{"mmHg·s/ml", "[°C]", "± ", "≤ 200 mmHg", "≥ 95 mmHg", "PASS WITH WARNINGS", "(overdue)",
			"Deviations", "allow-overdue", "gauge away for recertification", "bubble in the line", "none given", "Audit trail", "2026-11-21 09:30:09 UTC r.viewer admin bench-view resume", "qa.bench operator bench-view start"}},
		{"fail", []string{"2.0999996 L/min", "NO-DATA: no beats detected", "not in the protocol's requirements catalogue", "NOT TESTED",
			"Deviations None: the run followed the protocol as written.", "Audit trail No operator action is recorded."}},
		{"aborted", []string{"safety trip: aop 221 mmHg above hard limit 220 mmHg", "<img src=http://evil.example/x.png", "on_fail: abort"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Load(fixtureRun(t, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			r.Generated = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
			file := filepath.Join(dir, tc.name+".pdf")
			var b bytes.Buffer
			if err := r.WritePDF(&b); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(qpdf, "--check", file).CombinedOutput(); err != nil || !strings.Contains(string(out), "No syntax or stream encoding errors") {
				t.Fatalf("qpdf --check: %v\n%s", err, out)
			}
			out, err := exec.Command(pdffonts, file).CombinedOutput()
			if err != nil {
				t.Fatalf("pdffonts: %v\n%s", err, out)
			}
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n")[2:] {
				if f := strings.Fields(l); len(f) < 5 || !strings.Contains(l, " yes ") {
					t.Errorf("font not embedded: %s", l)
				}
			}

			// -layout keeps each page's header on one line; -raw keeps the
			// lines of a wrapped table cell together, so that with white
			// space collapsed a cell's text reads as one.
			layout := pdfPages(t, pdftotext, file, "-layout")
			raw := pdfPages(t, pdftotext, file, "-raw")
			if len(layout) < 3 || len(raw) != len(layout) {
				t.Fatalf("%d pages (raw %d)", len(layout), len(raw))
			}
			id, outcome := r.run.Manifest.RunID, strings.ToUpper(r.outcome())
			for i, p := range layout {
				head := firstLine(p)
				if !strings.Contains(head, "Run "+id+" — "+outcome) {
					t.Errorf("page %d header %q lacks run id and outcome", i+1, head)
				}
				if want := fmt.Sprintf("Page %d of %d", i+1, len(layout)); !strings.Contains(p, want) {
					t.Errorf("page %d lacks %q", i+1, want)
				}
			}
			for _, c := range r.crit {
				label := c.ReqID
				if label == "" {
					label = "(no id) " + c.Name
				}
				row := fmt.Sprintf("%d %s ", c.N, label)
				found := false
				for _, p := range raw {
					if (strings.Contains(p, "Acceptance criteria") || strings.Contains(p, "Appendix A")) && strings.Contains(p, row) && strings.Contains(p, c.Value+" "+c.Limits) {
						found = true
					}
				}
				if !found {
					t.Errorf("criterion %d (%q, %s %s) is on no page of the criteria table", c.N, row, c.Value, c.Limits)
				}
			}
			all := strings.Join(raw, " ")
			for _, s := range tc.texts {
				if !strings.Contains(all, s) {
					t.Errorf("text %q missing", s)
				}
			}
			if strings.Contains(all, "�") {
				t.Error("the text has replacement characters")
			}
		})
	}
}

// TestPDFLongTable makes a report with many criteria and checks that the
// criteria table continues over pages with its header and section title.
func TestPDFLongTable(t *testing.T) {
	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	r, err := Load(fixtureRun(t, "pass"))
	if err != nil {
		t.Fatal(err)
	}
	res := *r.run.Result
	for i := range 150 {
		c := res.Criteria[1]
		c.ID = fmt.Sprintf("LONG-%03d", i)
		res.Criteria = append(res.Criteria, c)
	}
	r.run.Result = &res
	r.crit = criteriaRows(res.Criteria, map[string]bool{})
	file := filepath.Join(t.TempDir(), "long.pdf")
	var b bytes.Buffer
	if err := r.WritePDF(&b); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, b.Bytes(), 0o644)
	txt, err := exec.Command(pdftotext, "-layout", file, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	pages := strings.Split(string(txt), "\f")
	cont := 0
	for _, p := range pages {
		if strings.Contains(p, "3. Acceptance criteria (continued)") {
			cont++
			if !strings.Contains(p, "Requirement") || !strings.Contains(p, "Verdict") {
				t.Error("a continuation page of the criteria table has no header row")
			}
		}
	}
	if cont < 2 {
		t.Errorf("criteria table continued on %d pages, want at least 2", cont)
	}
	for i := range 150 {
		if id := fmt.Sprintf("LONG-%03d", i); !strings.Contains(string(txt), id) {
			t.Errorf("%s missing", id)
		}
	}
}

// pdfPages returns the text of each page of a PDF as pdftotext gives it
// in mode ("-layout", "-raw"); in raw mode with white space collapsed.
func pdfPages(t *testing.T, pdftotext, file, mode string) []string {
	t.Helper()
	txt, err := exec.Command(pdftotext, mode, "-enc", "UTF-8", file, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	pages := strings.Split(strings.TrimSuffix(string(txt), "\f"), "\f")
	if mode == "-raw" {
		for i, p := range pages {
			pages[i] = strings.Join(strings.Fields(p), " ")
		}
	}
	return pages
}

// firstLine returns the first non-blank line of s.
func firstLine(s string) string {
	for l := range strings.Lines(s) {
		if strings.TrimSpace(l) != "" {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// The PDF's identity says a hybrid run is one, as the HTML does (they
// share the rows: TestRigModeInIdentityAndJUnit).
func TestPDFRigMode(t *testing.T) {
	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	r, err := Load(fixtureRun(t, "pass"))
	if err != nil {
		t.Fatal(err)
	}
	r.run.Manifest.RigMode = runlog.RigModeHybrid
	var b bytes.Buffer
	if err := r.WritePDF(&b); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "hybrid.pdf")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	txt := strings.Join(pdfPages(t, pdftotext, file, "-raw"), " ")
	want := r.run.Manifest.Rig + " (hybrid: the patient is the controller" // an apostrophe may be typeset
	if !strings.Contains(txt, want) || !strings.Contains(txt, "model, the bench its boundary)") {
		t.Errorf("PDF lacks %q … the bench its boundary):\n%.2000s", want, txt)
	}
}
