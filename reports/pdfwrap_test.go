package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/internal/testtool"
)

// No table cell of the PDF breaks a word: fpdf wrapped "mmHg" as "mmH" /
// "g" and "Outcome" as "Outcom" / "e" in narrow columns. For every cell
// drawn, its text with white space collapsed must appear in pdftotext's
// raw text (which keeps a cell's lines together): a word broken across
// lines reads as two there. Over the fixtures and a run with long names,
// ids and units.
func TestPDFCellsBreakNoWord(t *testing.T) {
	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	long := func(r *Report) {
		res := *r.run.Result
		res.Criteria = append(res.Criteria[:0:0], res.Criteria...)
		for i := range res.Criteria {
			c := &res.Criteria[i]
			c.ID = "REQ-HYDRAULIC-PERFORMANCE-" + c.ID
			c.StepName = "afterload-resistance-doubled hold"
			if c.Unit == "mmHg" {
				c.Unit = "mmHg·s/ml"
			}
		}
		r.run.Result = &res
		r.crit = criteriaRows(res.Criteria, map[string]bool{})
		r.run.Manifest.Operator = "Maximiliane Oberholzer-Winterstein"
	}
	for _, tc := range []struct {
		name, fixture string
		edit          func(*Report)
	}{
		{"pass", "pass", nil}, {"fail", "fail", nil}, {"aborted", "aborted", nil}, {"long names", "pass", long},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Load(fixtureRun(t, tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			r.Generated = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
			if tc.edit != nil {
				tc.edit(r)
			}
			var cells []string
			cellDrawn = func(text string, lines int) {
				if lines < pdfMaxRows { // a cut cell ends in "…"
					cells = append(cells, strings.Join(strings.Fields(text), " "))
				}
			}
			defer func() { cellDrawn = nil }()
			file := writePDFFile(t, r)
			// A line may end after a joint of an id or a name (breakAfter):
			// that is not a broken word.
			unhyphen := strings.NewReplacer("- ", "-", ". ", ".", "_ ", "_", "/ ", "/").Replace
			raw := unhyphen(strings.Join(pdfPages(t, pdftotext, file, "-raw"), " "))
			if len(cells) < 50 {
				t.Fatalf("%d cells drawn", len(cells))
			}
			bad := 0
			for _, c := range cells {
				if c != "" && !strings.Contains(raw, unhyphen(c)) {
					if bad++; bad <= 10 {
						t.Errorf("cell %q is not whole in the PDF's text", c)
					}
				}
			}
		})
	}
}

// writePDFFile writes r's PDF to a temporary file and returns its path.
func writePDFFile(t *testing.T, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WritePDF(&b); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}
