package strictyaml

import (
	"strings"
	"testing"
)

func TestParseRefuses(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"empty", "  \n\t\n", "f.yaml:1:1: file is empty"},
		{"nul", "a: \x00", "f.yaml: file is not UTF-8 text"},
		{"latin1", "a: caf\xe9", "f.yaml: file is not UTF-8 text"},
		{"alias", "a: &x 1\nb: *x\n", "f.yaml:1:4: YAML anchors and aliases are not supported"},
		{"tag", "a: !custom 1\n", "f.yaml:1:4: YAML tag !custom is not supported"},
		{"two docs", "a: 1\n---\nb: 2\n", "f.yaml:2:1: a second YAML document starts here"},
		{"syntax", "a: [1, 2\n", "f.yaml:1:1: invalid YAML:"},
		{"huge", "a: " + strings.Repeat("x", MaxSize), "more than the 1048576"},
	}
	for _, c := range cases {
		_, err := Parse("f.yaml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	n, err := Parse("f.yaml", []byte("a: 1\nb: [x, y]\n"))
	if err != nil || !IsMapping(n) || len(n.Content) != 4 || n.Content[3].Line != 2 || n.Content[3].Column != 4 {
		t.Fatalf("valid document: %v %+v", err, n)
	}
}

func TestMappingReportsEveryKeyProblem(t *testing.T) {
	n, _ := Parse("f.yaml", []byte("hold: 1\nhodl: 2\nhold: 3\nname: x\n"))
	e := &Errors{File: "f.yaml"}
	kvs, ok := e.Mapping(n, "step", []string{"name", "hold"})
	if !ok || len(kvs) != 2 || kvs[0].Key != "hold" || kvs[1].Key != "name" {
		t.Errorf("pairs %+v", kvs)
	}
	want := "f.yaml:2:1: unknown key \"hodl\" in step; did you mean hold?\nf.yaml:3:1: duplicate key \"hold\" in step (first at line 1)"
	if got := e.List.Err().Error(); got != want {
		t.Errorf("errors:\n%s\nwant:\n%s", got, want)
	}
	e2 := &Errors{File: "f.yaml"}
	if _, ok := e2.Mapping(n.Content[1], "step", nil); ok || !strings.Contains(e2.List.Error(), "step must be a mapping of key: value, got \"1\"") {
		t.Errorf("scalar as mapping: %v", e2.List)
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"loop.heart_rate", "loop.resistance", "dut.level"}
	cases := map[string]string{
		"loop.resistence": "; did you mean loop.resistance?",
		"loop.haert_rate": "; did you mean loop.heart_rate?", // transposition
		"DUT.LEVEL":       "; did you mean dut.level?",
		"pressure":        "; expected one of loop.heart_rate, loop.resistance, dut.level",
	}
	for in, want := range cases {
		if got := Suggest(in, cands); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
	if d := distance("hodl", "hold"); d != 1 {
		t.Errorf("distance(hodl, hold) = %d, want 1", d)
	}
}
