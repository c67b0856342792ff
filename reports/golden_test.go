package reports

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/mockloop/mockloop/internal/golden"
)

// TestGolden renders, for each recorded run, the parts of the reports that
// are signed and parsed — the criteria table and traceability matrix of the
// HTML, and the JUnit XML — and compares them with the golden files in
// testdata/golden (rewritten with -update).
func TestGolden(t *testing.T) {
	for _, name := range []string{"pass", "fail", "aborted", "interrupted"} {
		t.Run(name, func(t *testing.T) {
			r, err := Load(fixtureRun(t, name))
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range []struct {
				file  string
				write func(*bytes.Buffer) error
			}{
				{name + ".criteria.html", func(b *bytes.Buffer) error { return r.writeHTMLSection(b, "criteria") }},
				{name + ".traceability.html", func(b *bytes.Buffer) error { return r.writeHTMLSection(b, "traceability") }},
				{name + ".junit.xml", func(b *bytes.Buffer) error { return r.WriteJUnit(b) }},
				{name + ".criteria.csv", func(b *bytes.Buffer) error { return r.WriteCriteriaCSV(b) }},
			} {
				var got bytes.Buffer
				if err := part.write(&got); err != nil {
					t.Fatalf("%s: %v", part.file, err)
				}
				golden.Check(t, filepath.Join("testdata", "golden", part.file), got.Bytes())
			}
		})
	}
}
