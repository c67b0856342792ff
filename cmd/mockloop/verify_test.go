package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/internal/testtool"
	"github.com/mockloop/mockloop/runlog"
)

// failedRun runs a short failing protocol on the simulated rig (virtual
// time) and returns its run directory.
func failedRun(t *testing.T) string {
	t.Helper()
	chdirRoot(t)
	proto := filepath.Join(t.TempDir(), "fail.yaml")
	os.WriteFile(proto, []byte("protocol: 1\nname: tamper\nsteps:\n  - hold: 5 s\n    criteria: [{id: T-1, measure: mean(aop), min: 500 mmHg}]\n"), 0o644)
	runs := t.TempDir()
	if code, out, errOut := cli(t, "run", "--quiet", "--runs", runs, proto); code != exitFail {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errOut)
	}
	list, err := runlog.List(runs)
	if err != nil || len(list) != 1 {
		t.Fatalf("runs: %+v %v", list, err)
	}
	return list[0].Dir
}

// copyRun copies the run directory src to a new temporary directory.
func copyRun(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// editByte changes one byte of dir/name, in its middle.
func editByte(t *testing.T, dir, name string) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil || len(b) == 0 {
		t.Fatalf("%s: %v (%d bytes)", name, err, len(b))
	}
	b[len(b)/2] ^= 0x04
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// editDigit changes one byte of dir/name, a JSON file, so that it stays
// JSON a report can read: the first digit 0-3 from the middle on becomes
// 4-7 (the middle byte itself may be indentation or a quote).
func editDigit(t *testing.T, dir, name string) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	i := len(b) / 2
	for i < len(b) && (b[i] < '0' || b[i] > '3') {
		i++
	}
	if i == len(b) {
		t.Fatalf("%s: no digit 0-3 in its second half", name)
	}
	b[i] ^= 0x04
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// editString replaces the first old in dir/name with new.
func editString(t *testing.T, dir, name, old, new string) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil || !strings.Contains(string(b), old) {
		t.Fatalf("%s: %v, or no %q in it", name, err, old)
	}
	os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
}

// A manifest edited into bad JSON cannot be reported at all: report
// exits 1 all the same, saying INTEGRITY FAILED and naming the file,
// rather than 4 as if the disk had failed.
func TestUnreadableTamperedManifestReportSaysIntegrityFailed(t *testing.T) {
	dir := copyRun(t, failedRun(t))
	editString(t, dir, "manifest.json", `"run_id"`, `"run_id`)
	code, _, errOut := cli(t, "report", "--format", "html", "--out", t.TempDir(), dir)
	if code != exitFail || !strings.Contains(errOut, "INTEGRITY FAILED") || !strings.Contains(errOut, "manifest.json: content differs") {
		t.Errorf("report: exit %d, want 1 with INTEGRITY FAILED naming manifest.json: %s", code, errOut)
	}
}

// The issue's tampering: a failing run's files edited made `mockloop
// report` print a clean PASS. Each tampering of a real finished run now
// makes verify exit 1 naming the file, and report exit 1 with INTEGRITY
// FAILED atop the HTML, on every page of the PDF and in JUnit; the intact
// run verifies and reports with exit 0.
func TestTamperedRecordFailsVerifyAndReport(t *testing.T) {
	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	run := failedRun(t)
	seg1 := filepath.Join("frames", "00000001.seg")
	seg2 := filepath.Join("frames", "00000002.seg")
	cases := []struct {
		name   string
		tamper func(dir string)
		want   string // in verify's output
	}{
		{"intact", func(string) {}, ""},
		{"result.json byte", func(d string) { editDigit(t, d, "result.json") }, "result.json: content differs from the seal"},
		{"events.jsonl byte", func(d string) { editByte(t, d, "events.jsonl") }, "events.jsonl: line "},
		{"beats.jsonl byte", func(d string) { editByte(t, d, runlog.BeatsFile) }, "beats.jsonl: line "},
		{"manifest.json byte", func(d string) { editString(t, d, "manifest.json", `"operator": "`, `"operator": "Q. Auditor`) }, "manifest.json: content differs from the seal"},
		{"segment byte", func(d string) { editByte(t, d, seg1) }, "frames/00000001.seg: content differs from the seal (byte changed in the record at byte "},
		{"segment deleted", func(d string) { os.Remove(filepath.Join(d, seg1)) }, "frames/00000001.seg: sealed but missing"},
		{"segment added", func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, seg1))
			os.WriteFile(filepath.Join(d, seg2), b, 0o644)
		}, "frames/00000002.seg: not in the seal (added: a copy of frames/00000001.seg)"},
		{"segment moved", func(d string) { os.Rename(filepath.Join(d, seg1), filepath.Join(d, seg2)) }, "frames/00000001.seg: sealed but missing"},
		{"seal.json deleted", func(d string) { os.Remove(filepath.Join(d, runlog.SealFile)) }, runlog.NotSealed},
		{"seal.json byte", func(d string) { editByte(t, d, runlog.SealFile) }, "seal.json: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRun(t, run)
			c.tamper(dir)
			code, out, errOut := cli(t, "verify", dir)
			if c.want == "" {
				if code != exitPass || !strings.Contains(out, "intact, sealed by close") {
					t.Fatalf("verify of the intact run: exit %d\n%s%s", code, out, errOut)
				}
			} else if code != exitFail || !strings.Contains(out, c.want) || !strings.Contains(out, "NOT INTACT") {
				t.Fatalf("verify: exit %d, want 1 and %q in\n%s%s", code, c.want, out, errOut)
			}
			outDir := t.TempDir()
			code, _, errOut = cli(t, "report", "--format", "html,pdf,junit", "--out", outDir, dir)
			html, _ := os.ReadFile(filepath.Join(outDir, "report.html"))
			junit, _ := os.ReadFile(filepath.Join(outDir, "junit.xml"))
			txt, err := exec.Command(pdftotext, "-layout", filepath.Join(outDir, "report.pdf"), "-").Output()
			if err != nil {
				t.Fatalf("pdftotext: %v (report: exit %d %s)", err, code, errOut)
			}
			pages := strings.Split(strings.TrimRight(string(txt), "\f\n"), "\f")
			failedPages := 0
			for _, p := range pages {
				if strings.Contains(p, "INTEGRITY FAILED") {
					failedPages++
				}
			}
			if c.want == "" {
				if code != exitPass || strings.Contains(string(html), "INTEGRITY FAILED") || failedPages != 0 || !strings.Contains(string(html), "intact: every file as sealed") {
					t.Fatalf("report of the intact run: exit %d, INTEGRITY FAILED on %d pages\n%s", code, failedPages, errOut)
				}
				return
			}
			top, _, _ := strings.Cut(string(html), `id="identity"`)
			if code != exitFail || !strings.Contains(errOut, "INTEGRITY FAILED") {
				t.Errorf("report: exit %d, want 1 saying INTEGRITY FAILED: %s", code, errOut)
			}
			if !strings.Contains(top, `id="integrity-failed"`) || !strings.Contains(top, "INTEGRITY FAILED") {
				t.Error("the HTML does not say INTEGRITY FAILED at its top")
			}
			if failedPages != len(pages) {
				t.Errorf("INTEGRITY FAILED on %d of the PDF's %d pages", failedPages, len(pages))
			}
			if !strings.Contains(string(junit), `name="record integrity"`) {
				t.Error("JUnit has no failing case record integrity")
			}
		})
	}
}

// verify tells a run that is not there (3) from one that is not intact.
func TestVerifyNotARunExits3(t *testing.T) {
	for _, args := range [][]string{{"verify"}, {"verify", "--runs", t.TempDir(), "20261120T080000Z-000000"}, {"verify", t.TempDir() + "/"}} {
		if code, _, errOut := cli(t, args...); code != exitInvalid {
			t.Errorf("%q: exit %d, want 3: %s", args, code, errOut)
		}
	}
}
