package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/internal/testtool"
	"github.com/mockloop/mockloop/runlog"
)

// A run made by a development build says so in every report: atop the
// HTML, in the footer of every PDF page, and as a JUnit property; a
// release build's reports say nothing of it. (Before, a plain `go build`
// made reports indistinguishable from a release's.)
func TestDevelopmentBuildStampedInEveryReport(t *testing.T) {
	const notice = "DEVELOPMENT BUILD v1.4.0-3-g1a2b3c4-dirty — not for design-history evidence"
	for _, tc := range []struct {
		name  string
		build *runlog.Build
		want  bool
	}{
		{"development", &runlog.Build{Version: "v1.4.0-3-g1a2b3c4-dirty", Revision: "1a2b3c4", Modified: true}, true},
		{"release", &runlog.Build{Version: "v1.4.0-3-g1a2b3c4-dirty", Release: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Load(fixtureRun(t, "pass"))
			if err != nil {
				t.Fatal(err)
			}
			r.run.Manifest.Build = tc.build
			var h, j bytes.Buffer
			if err := r.WriteHTML(&h); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteJUnit(&j); err != nil {
				t.Fatal(err)
			}
			top, _, _ := strings.Cut(h.String(), `id="identity"`)
			if got := strings.Contains(top, notice); got != tc.want {
				t.Errorf("HTML top says %q: %v, want %v", notice, got, tc.want)
			}
			if got := strings.Contains(j.String(), `<property name="development_build" value="`+notice+`">`); got != tc.want {
				t.Errorf("JUnit development_build property: %v, want %v", got, tc.want)
			}
			pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
			file := writePDFFile(t, r)
			for i, page := range pdfPages(t, pdftotext, file, "-layout") {
				if got := strings.Contains(strings.Join(strings.Fields(page), " "), notice); got != tc.want {
					t.Errorf("PDF page %d says %q: %v, want %v", i+1, notice, got, tc.want)
				}
			}
		})
	}
}
