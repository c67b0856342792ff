package reports

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

// Each criterion's test case carries its measured value, limits, unit and
// verdict as properties (before, only the failure message had them, as
// text); class names have no dots for CI tools to split ("2.1/hold" showed
// as package "2", class "1/hold"); and a requirement an aborted run never
// reached is a skipped case saying why (before, it was absent: CI counted
// a run aborted in step 2 as fewer tests, none skipped). TestJUnitSchema
// validates the same documents with xmllint.
func TestJUnitCasesCarryValuesLimitsAndUnreachedSkips(t *testing.T) {
	type prop struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	type tcase struct {
		Name      string `xml:"name,attr"`
		Classname string `xml:"classname,attr"`
		Props     []prop `xml:"properties>property"`
		Skipped   *struct {
			Message string `xml:"message,attr"`
		} `xml:"skipped"`
	}
	type suite struct {
		Skipped int     `xml:"skipped,attr"`
		Cases   []tcase `xml:"testcase"`
	}
	parse := func(name string) (s suite) {
		fixtureJUnit(t, name, &s)
		return s
	}
	props := func(c tcase) map[string]string {
		m := map[string]string{}
		for _, p := range c.Props {
			m[p.Name] = p.Value
		}
		return m
	}

	pass := parse("pass")
	for _, c := range pass.Cases {
		if strings.Contains(c.Classname, ".") {
			t.Errorf("class name %q has a dot", c.Classname)
		}
		if p := props(c); p["verdict"] == "" || p["unit"] == "" || (p["value"] == "" && p["verdict"] != "no-data") {
			t.Errorf("case %q lacks value, unit or verdict properties: %v", c.Name, p)
		}
	}
	var hold tcase
	for _, c := range pass.Cases {
		if c.Name == "PASS-2 std(dut.rpm)" {
			hold = c
		}
	}
	// One case for the three executions of the hold, its worst value
	// (closest to ≤ 500 rpm: 11.61 in the second) as its value.
	if p := props(hold); hold.Classname != "step 2-1/hold" || p["step"] != "2.1" || p["iterations"] != "3" || p["iterations_pass"] != "3" ||
		p["value"] != "11.61" || p["worst_iteration"] != "2" || p["worst_start_s"] != "6" {
		t.Errorf("repeated step's case: class %q, properties %v; want class \"step 2-1/hold\", step 2.1, 3 iterations passed, worst 11.61 in the 2nd at 6 s", hold.Classname, p)
	}
	for _, c := range parse("aborted").Cases {
		if c.Name != "ABT-1 mean(aop)" {
			continue
		}
		if p := props(c); p["value"] != "100.8" || p["lo"] != "90" || p["hi"] != "110" || p["unit"] != "mmHg" || p["verdict"] != "pass" {
			t.Errorf("ABT-1 properties %v, want value 100.8, lo 90, hi 110, mmHg, pass", p)
		}
	}

	ab := parse("aborted")
	if ab.Skipped != 1 {
		t.Fatalf("aborted run: %d skipped, want 1 (ABT-3, after the trip)", ab.Skipped)
	}
	for _, c := range ab.Cases {
		if c.Skipped != nil && (!strings.HasPrefix(c.Name, "ABT-3") || !strings.Contains(c.Skipped.Message, "safety trip") || !strings.Contains(c.Skipped.Message, "not reached")) {
			t.Errorf("skipped case %q: %q", c.Name, c.Skipped.Message)
		}
	}
	if p := parse("pass"); p.Skipped != 0 {
		t.Errorf("a completed run has %d skipped cases", p.Skipped)
	}
}

// fixtureJUnit decodes the JUnit document of fixture run name into s.
func fixtureJUnit(t *testing.T, name string, s any) {
	t.Helper()
	if err := xml.Unmarshal(fixtureJUnitDoc(t, name), s); err != nil {
		t.Fatal(err)
	}
}

// fixtureJUnitDoc is the JUnit document of fixture run name.
func fixtureJUnitDoc(t *testing.T, name string) []byte {
	t.Helper()
	r, err := Load(fixtureRun(t, name))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
