package protocols

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// condProto is a protocol with one until condition and one criterion's when.
func condProto(until, when string) string {
	return "protocol: 1\nname: c\nsteps:\n  - until:\n      condition: " + until + "\n      timeout: 1 min\n" +
		"    criteria:\n      - when: " + when + "\n        measure: mean(aop)\n        min: 1 mmHg\n"
}

// TestConditions: until and when conditions of language 1.1 parse into a
// tree whose evaluation follows and, or, not and parentheses, with v1's
// forms keeping their meaning.
func TestConditions(t *testing.T) {
	cases := []struct {
		until, when string
		leaves      int
		vals        []float64 // the until's measures, in order
		params      map[string]Value
		until1      bool // the until holds for vals
		when1       bool // the when holds for params
	}{
		{"mean(aop, 10 s) within 65 mmHg ± 3 mmHg", "dut.level == P8", 1, []float64{67}, map[string]Value{"dut.level": {Word: "P8"}}, true, true},
		{"mean(aop) between 60 mmHg and 70 mmHg", "dut.level != P8", 1, []float64{71}, map[string]Value{"dut.level": {Word: "P8"}}, false, false},
		{"mean(aop, 10 s) >= 60 mmHg and count(dut.alarms, 10 s) == 0", "dut.level == P8 or loop.preset == heart_failure", 2, []float64{61, 0},
			map[string]Value{"dut.level": {Word: "P2"}, "loop.preset": {Word: "heart_failure"}}, true, true},
		{"mean(aop, 10 s) >= 60 mmHg and count(dut.alarms, 10 s) == 0", "dut.level == P8 and loop.preset == heart_failure", 2, []float64{61, 1},
			map[string]Value{"dut.level": {Word: "P2"}, "loop.preset": {Word: "heart_failure"}}, false, false},
		{"not (mean(aop) < 60 mmHg or map(aop, 5 s) > 90 mmHg) and mean(lap) != 0 mmHg", "loop.heart_rate >= 80 bpm and not loop.target.map == off", 3, []float64{60, 90, 1},
			map[string]Value{"loop.heart_rate": {Num: 80}, "loop.target.map": {Num: 65}}, true, true},
		{"mean(aop) < 60 mmHg", "loop.heart_rate > 80 bpm", 1, []float64{60}, map[string]Value{"loop.heart_rate": {Num: 80}}, false, false},
		{"(mean(aop) > 60 mmHg)", "loop.target.map == off", 1, []float64{60.5}, map[string]Value{"loop.target.map": {Off: true}}, true, true},
		{"mean(aop) between [60 mmHg, 70 mmHg] or max(lvp, 2 s) <= 10 mmHg", "loop.heart_rate between [60 bpm, 80 bpm]", 2, []float64{50, 10}, map[string]Value{"loop.heart_rate": {Num: 80}}, true, true},
		{"fraction(dut.alarms, 10 s) < 5 %", "dut.level != P8", 1, []float64{4.9}, nil, true, true},
	}
	for _, c := range cases {
		p, err := Parse("c.yaml", []byte(condProto(c.until, c.when)), benchRig())
		if err != nil {
			t.Errorf("%s / %s: %v", c.until, c.when, err)
			continue
		}
		u := p.Steps[0].Until.Cond
		leaves := u.Leaves()
		if len(leaves) != c.leaves || len(u.Measures()) != c.leaves || u.Text != c.until {
			t.Errorf("%s: %d leaves, text %q", c.until, len(leaves), u.Text)
			continue
		}
		at := map[*Condition]float64{}
		for i, l := range leaves {
			at[l] = c.vals[i]
		}
		if got := u.Eval(func(l *Condition) bool { return l.Holds(at[l]) }); got != c.until1 {
			t.Errorf("%s at %v: %v", c.until, c.vals, got)
		}
		w := p.Steps[0].Criteria[0].When
		got := w.Eval(func(l *Condition) bool { v, ok := c.params[l.Param]; return l.HoldsValue(v, ok) })
		if got != c.when1 {
			t.Errorf("when %s with %v: %v", c.when, c.params, got)
		}
	}
}

// TestConditionErrorColumn: an error inside a condition points at its
// column in the file, quoted or not.
func TestConditionErrorColumn(t *testing.T) {
	for src, want := range map[string]string{
		condProto("mean(aop) > 1 mmHg xor mean(lap) > 1 mmHg", "dut.level == P8"):   "c.yaml:5:37: expected \"and\", \"or\" or end of condition at col 20",
		condProto(`"mean(aop) > 1 mmHg xor mean(lap) > 1 mmHg"`, "dut.level == P8"): "c.yaml:5:38: expected \"and\", \"or\" or end of condition at col 20",
		condProto("mean(aop) > 1 mmHg", "dut.level == P8 and (dut.speed > 1 rpm"):   "c.yaml:8:53: expected \")\" closing the \"(\" at col 21, at col 39",
	} {
		_, err := Parse("c.yaml", []byte(src), benchRig())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %s", err, want)
		}
	}
}

// TestSweepIterations: a sweep of several parameters runs their cartesian
// product, the first outermost, or with zip their lists side by side.
func TestSweepIterations(t *testing.T) {
	for zip, want := range map[string][]string{
		"":            {"dut.level=P2, loop.preset=healthy", "dut.level=P2, loop.preset=heart_failure", "dut.level=P8, loop.preset=healthy", "dut.level=P8, loop.preset=heart_failure"},
		", zip: true": {"dut.level=P2, loop.preset=healthy", "dut.level=P8, loop.preset=heart_failure"},
	} {
		src := "protocol: 1\nname: s\nsteps:\n  - sweep: {dut.level: [P2, P8], loop.preset: [healthy, heart_failure]" + zip + "}\n    steps:\n      - hold: 1 s\n"
		p, err := Parse("s.yaml", []byte(src), benchRig())
		if err != nil {
			t.Fatal(err)
		}
		sw := p.Steps[0].Sweep
		var got []string
		for _, set := range sw.Iterations() {
			got = append(got, sw.Label(set))
		}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("zip %q: %q", zip, got)
		}
		if p.Steps[0].Title() != "sweep dut.level, loop.preset" {
			t.Errorf("title %q", p.Steps[0].Title())
		}
	}
}

// TestValidFilesParse: every file of testdata/valid (the fuzz seeds among
// them) parses on the reference bench.
func TestValidFilesParse(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(f, data, benchRig()); err != nil {
			t.Errorf("%v", err)
		}
	}
}
