package main

import (
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/internal/testtool"
	"github.com/mockloop/mockloop/runlog"
)

// The demo's reports, from a development build (this test binary): the
// manifest records the build, the HTML's top, every PDF page and the
// JUnit properties say DEVELOPMENT BUILD; and no word of any table cell is
// broken across lines in the PDF ("mmH" / "g", "dut.alarms.speed_devia" /
// "tion" before): no two successive words of pdftotext's raw text join
// into a word of the HTML's cells, but after a joint (- . _ /) of a name
// too long for its column. And they carry the signatures, deviations and
// audit trail sections (demoHasAuditSections).
func TestDemoReportsBreakNoWordAndSayDevelopmentBuild(t *testing.T) {
	dir := runPassing(t, "configs/protocols/demo.yaml", "--operator", "Lab Engineer")
	demoHasAuditSections(t, dir)
	rec, err := runlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b := rec.Manifest.Build; b == nil || b.Release || b.Version == "" {
		t.Errorf("manifest build %+v, want a development build recorded", b)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	top, _, _ := strings.Cut(string(page), `id="identity"`)
	junit, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if !strings.Contains(top, "DEVELOPMENT BUILD") || !strings.Contains(string(junit), `name="development_build"`) {
		t.Error("the HTML's top or the JUnit properties do not say DEVELOPMENT BUILD")
	}

	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	pdf := filepath.Join(dir, "report.pdf")
	layout, err := exec.Command(pdftotext, "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range strings.Split(strings.TrimSuffix(string(layout), "\f"), "\f") {
		if !strings.Contains(p, "DEVELOPMENT BUILD") {
			t.Errorf("PDF page %d does not say DEVELOPMENT BUILD", i+1)
		}
	}
	raw, err := exec.Command(pdftotext, "-raw", pdf, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	words := map[string]bool{}
	cellRE := regexp.MustCompile(`(?s)<t[dh][^>]*>(.*?)</t[dh]>`)
	tagRE := regexp.MustCompile(`<[^>]*>`)
	for _, m := range cellRE.FindAllStringSubmatch(string(page), -1) {
		for _, w := range strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(m[1], " "))) {
			if len([]rune(w)) >= 3 {
				words[w] = true
			}
		}
	}
	if len(words) < 100 || !words["mmHg"] {
		t.Fatalf("%d words in the HTML's cells", len(words))
	}
	toks := strings.Fields(string(raw))
	for i := 0; i+1 < len(toks); i++ {
		if a, b := toks[i], toks[i+1]; words[a+b] && !strings.ContainsAny(a[len(a)-1:], "-._/") && !words[a] {
			t.Errorf("the PDF breaks %q as %q / %q", a+b, a, b)
		}
	}
}

// demoHasAuditSections checks that the demo's HTML and PDF carry the sections an auditor looks for (issue
// 17): the signatures (none yet: "Not signed", with the wet-ink table),
// the deviations (none: said so), the audit trail with the run's start by
// its operator; and every page of the PDF renders to an image.
func demoHasAuditSections(t *testing.T, dir string) {
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	pdf := filepath.Join(dir, "report.pdf")
	text, err := exec.Command(pdftotext, "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Signatures", "Not signed", "Deviations", "Audit trail", "Lab Engineer"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html has no %q", want)
		}
		if !strings.Contains(string(text), want) {
			t.Errorf("report.pdf's text has no %q", want)
		}
	}
	_, trail, _ := strings.Cut(string(text), "Audit trail")
	if start, _, _ := strings.Cut(trail, "\n\n\n"); !strings.Contains(start, "start") || !strings.Contains(start, "Lab Engineer") {
		t.Errorf("the PDF's audit trail does not show the start by Lab Engineer:\n%s", start)
	}

	pdfinfo := testtool.Need(t, "pdfinfo", "poppler-utils")
	info, err := exec.Command(pdfinfo, pdf).Output()
	if err != nil {
		t.Fatal(err)
	}
	pages := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindStringSubmatch(string(info))
	if pages == nil {
		t.Fatalf("pdfinfo gives no page count:\n%s", info)
	}
	out := filepath.Join(t.TempDir(), "page")
	pdftoppm := testtool.Need(t, "pdftoppm", "poppler-utils")
	if b, err := exec.Command(pdftoppm, "-r", "20", "-png", pdf, out).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, b)
	}
	pngs, _ := filepath.Glob(out + "*.png")
	if n := strconv.Itoa(len(pngs)); n != pages[1] {
		t.Fatalf("%s pages rendered of %s", n, pages[1])
	}
	for _, p := range pngs {
		if fi, err := os.Stat(p); err != nil || fi.Size() < 500 {
			t.Errorf("page image %s is empty", filepath.Base(p))
		}
	}
}
