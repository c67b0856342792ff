package reports

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/internal/testtool"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

// abortsEarly aborts in step 1 of 3 (U-1, on_fail: abort, cannot pass):
// U-3 and U-4 of steps 2 and 3 are never judged.
const abortsEarly = `protocol: 1
name: aborts-early
requirements:
  U-1: peak pressure
  U-3: mean pressure
  U-4: lowest pressure
steps:
  - name: one
    set: {loop.preset: healthy}
    hold: 2 s
    criteria:
      - {id: U-1, measure: max(aop), min: 500 mmHg, on_fail: abort}
  - name: two
    hold: 2 s
    criteria:
      - {id: U-3, measure: mean(aop), between: [60 mmHg, 140 mmHg]}
  - repeat: {count: 2}
    steps:
      - name: held
        hold: 1 s
        criteria:
          - {id: U-4, measure: min(aop), min: 10 mmHg}
`

// simRun runs protocol src on the simulated rig on virtual time and
// returns its record's directory.
func simRun(t *testing.T, src string) string {
	t.Helper()
	cfg, err := rig.LoadConfig("../configs/rigs/sim-loop-only.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := protocols.Parse("p.yaml", []byte(src), cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	res, dir, err := rig.Run(context.Background(), cfg, p, rig.Options{RunsDir: t.TempDir(), ProtocolFile: "p.yaml", ProtocolSource: []byte(src),
		Epoch: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != runlog.OutcomeAborted {
		t.Fatalf("outcome %s, want aborted", res.Outcome)
	}
	return dir
}

// An aborted run's report names every criterion it never reached: JUnit
// skips each with the step it stopped before, and the HTML and PDF
// criteria tables show each as NOT REACHED after the judged ones.
func TestReportShowsEachCriterionNotReachedByAbortedRun(t *testing.T) {
	r, err := Load(simRun(t, abortsEarly))
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Skipped int `xml:"skipped,attr"`
		Cases   []struct {
			Name    string `xml:"name,attr"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	}
	var b bytes.Buffer
	if err := r.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"U-3 mean(aop)": "not reached: the run was aborted before step 2", "U-4 min(aop)": "not reached: the run was aborted before step 3"}
	got := map[string]string{}
	for _, c := range j.Cases {
		if c.Skipped != nil {
			got[c.Name] = c.Skipped.Message
		}
	}
	if j.Skipped != 2 || len(got) != 2 {
		t.Errorf("%d skipped cases %v, want U-3 and U-4", j.Skipped, got)
	}
	for name, msg := range want {
		if !strings.HasPrefix(got[name], msg) {
			t.Errorf("case %q skipped %q, want %q", name, got[name], msg)
		}
	}

	xmllint := testtool.Need(t, "xmllint", "libxml2-utils")
	xf := filepath.Join(t.TempDir(), "j.xml")
	if err := os.WriteFile(xf, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(xmllint, "--noout", "--schema", junitSchema, xf).CombinedOutput(); err != nil {
		t.Errorf("the JUnit document with skipped criteria is not valid: %v\n%s", err, out)
	}

	b.Reset()
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, s := range []string{`<td class="other">NOT REACHED<span class="reason">not reached: the run was aborted before step 2</span>`, `<td>3.1 held</td>`, "1 evaluated: 1 fail; 2 not reached"} {
		if !strings.Contains(html, s) {
			t.Errorf("HTML lacks %q", s)
		}
	}
	if n := strings.Count(html, ">NOT REACHED<"); n != 2 {
		t.Errorf("HTML has %d NOT REACHED rows, want 2", n)
	}

	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	b.Reset()
	if err := r.WritePDF(&b); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(pdfPages(t, pdftotext, file, "-raw"), " ")
	if n := strings.Count(text, "NOT REACHED: not reached: the run was aborted before step"); n != 2 {
		t.Errorf("PDF has %d NOT REACHED rows, want 2:\n%s", n, text)
	}
}
