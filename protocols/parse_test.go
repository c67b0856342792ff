package protocols

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/internal/golden"
	"github.com/mockloop/mockloop/units"
)

func ptr(v float64) *float64 { return &v }

// benchRig is a rig with every channel and parameter of the reference bench.
func benchRig() RigInfo {
	all := Range{}
	return RigInfo{
		Name: "bench",
		Channels: map[string]units.Dimension{
			"lvp": units.Pressure, "aop": units.Pressure, "lap": units.Pressure,
			"flow_ao": units.Flow, "flow_dut": units.Flow, "temp": units.Temperature,
			"dut.rpm": units.Speed, "dut.current": units.Current, "dut.alarms": units.None,
		},
		Params: map[string]Range{
			"loop.preset": all, "loop.heart_rate": {Min: ptr(30), Max: ptr(180)},
			"loop.systole_fraction": all, "loop.contractility": {Min: ptr(0.2), Max: ptr(4)},
			"loop.resistance": {Min: ptr(0.3), Max: ptr(3)}, "loop.preload": all,
			"loop.target.map": {Min: ptr(40), Max: ptr(120)}, "loop.target.co": all,
			"loop.temperature": all, "dut.mode": all, "dut.speed": {Min: ptr(0), Max: ptr(60000)}, "dut.level": all,
		},
		Presets:      []string{"healthy", "heart_failure", "cardiogenic_shock"},
		Limits:       map[string]Range{"aop": {Min: ptr(-10), Max: ptr(200)}, "lvp": {Max: ptr(250)}},
		BeatChannels: []string{"aop", "lvp"},
		DUT:          "impella-cp",
	}
}

// TestRequiresMapping: requires as a mapping (1.1) names the channels, the
// DUT profiles and the presets a protocol needs; a DUT other than those is
// refused (testdata/invalid/requires.yaml), or with the rig's leave
// (RigInfo.OtherDevice, run --allow-other-device) let through saying so,
// for the run to record as a deviation.
func TestRequiresMapping(t *testing.T) {
	const src = "protocol: 1\nname: r\nrequires: {channels: [aop], dut: [impella-rp, impella-cp], presets: [healthy]}\nsteps:\n  - {name: a, hold: 1 s}\n"
	p, err := Parse("r.yaml", []byte(src), benchRig())
	if err != nil || p.OtherDevice != "" || len(p.Requires) != 1 || !slices.Equal(p.RequiresDUT, []string{"impella-rp", "impella-cp"}) {
		t.Fatalf("the rig's own DUT among those required: %v %+v", err, p)
	}
	rp := strings.Replace(src, "impella-rp, impella-cp", "impella-rp", 1)
	if _, err := Parse("r.yaml", []byte(rp), benchRig()); err == nil || !strings.Contains(err.Error(), "r.yaml:3:34: requires DUT impella-rp, but rig bench drives impella-cp") {
		t.Errorf("another DUT: %v", err)
	}
	other := benchRig()
	other.OtherDevice = true
	p, err = Parse("r.yaml", []byte(rp), other)
	if err != nil || p.OtherDevice != "the protocol requires DUT impella-rp; rig bench drives impella-cp" {
		t.Errorf("another DUT allowed: %v %q", err, p.OtherDevice)
	}
}

// TestInvalidGolden parses every file in testdata/invalid and compares the
// complete error list with its .golden file: every mistake, each with
// file:line:column, in file order.
func TestInvalidGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) < 8 {
		t.Fatalf("only %d invalid cases", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(f, data, benchRig())
			if err == nil {
				t.Fatalf("parsed without error: %+v", p)
			}
			if p != nil {
				t.Error("a protocol was returned with errors")
			}
			got := err.Error() + "\n"
			golden.Check(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(got))
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if !strings.HasPrefix(line, f+":") {
					t.Errorf("error without file position: %q", line)
				}
			}
		})
	}
}

// TestManyErrorsAllReported checks that one file with many mistakes reports
// each of them, not just the first.
func TestManyErrorsAllReported(t *testing.T) {
	data, _ := os.ReadFile("testdata/invalid/many.yaml")
	_, err := Parse("many.yaml", data, benchRig())
	list, ok := err.(ErrorList)
	if !ok {
		t.Fatalf("error is %T, want ErrorList", err)
	}
	wants := []string{
		`many.yaml:2:7: name "Bad Name" may use only`,
		`many.yaml:5:3: duplicate requirement id "R-1"`,
		`many.yaml:6:17: rig bench has no channel "flow_dutt"; did you mean flow_dut?`,
		`many.yaml:8:14: limit aop max 400 mmHg would loosen the rig's hard limit of 200 mmHg`,
		`many.yaml:12:24: loop.heart_rate: "80" needs a heart rate unit, e.g. 75 bpm`,
		`many.yaml:13:7: unknown parameter "loop.resistence"; did you mean loop.resistance?`,
		`many.yaml:14:27: loop.contractility: "2 L/min" is a flow, expected an elastance, e.g. 2 mmHg/ml`,
		`many.yaml:15:11: hold must be a positive duration`,
		`many.yaml:17:5: unknown key "hodl" in step; did you mean hold?`,
		`many.yaml:19:9: criterion id "R-9" is not in requirements`,
		`many.yaml:21:18: between [90 mmHg, 60 mmHg] is inverted`,
		`many.yaml:22:18: unknown aggregate "avg"`,
		`many.yaml:23:14: min: unknown unit "mmhg" in "2 mmhg"; did you mean mmHg?`,
		`many.yaml:25:28: loop.heart_rate 400 bpm is outside what rig bench allows (30 bpm to 180 bpm)`,
		`many.yaml:29:7: until needs a timeout`,
	}
	text := list.Error()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("missing error %q in:\n%s", w, text)
		}
	}
	if len(list) < len(wants) {
		t.Errorf("%d errors, want at least %d", len(list), len(wants))
	}
}

func TestParseFullLanguage(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/language.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("language.yaml", data, benchRig())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "impella-plevel-sweep" || len(p.Requirements) != 2 || p.Requirements[1].ID != "SRS-140" {
		t.Errorf("header: %+v", p)
	}
	if len(p.Requires) != 5 || p.Requires[4].Name != "flow_dut" {
		t.Errorf("requires: %+v", p.Requires)
	}
	if len(p.Limits) != 1 || *p.Limits[0].Max != 170 || p.Limits[0].Min != nil {
		t.Errorf("limits: %+v", p.Limits)
	}
	if a := p.Always; len(a) != 1 || a[0].Channel != "aop" || a[0].OnFail != Abort || a[0].Bound.Hi != 160 || !math.IsInf(a[0].Bound.Lo, -1) {
		t.Errorf("always: %+v", a)
	}
	if len(p.Steps) != 5 {
		t.Fatalf("%d steps", len(p.Steps))
	}
	base := p.Steps[0]
	if len(base.Set) != 3 || base.Set[0].Value.Word != "heart_failure" || base.Set[1].Value.Num != 80 || base.Hold != time.Minute {
		t.Errorf("baseline: %+v", base)
	}
	u := p.Steps[1].Until
	if u == nil || u.Timeout != 2*time.Minute || u.OnTimeout != Fail || u.Cond.Measure.Window != 10*time.Second || u.Cond.Op != Compare ||
		u.Cond.Bound.Lo != 62 || u.Cond.Bound.Hi != 68 || u.Cond.Measure.Agg != "mean" {
		t.Errorf("until: %+v", u)
	}
	sw := p.Steps[2]
	if sw.Sweep == nil || !slices.Equal(sw.Sweep.Params, []string{"dut.level"}) || len(sw.Sweep.Iterations()) != 4 || sw.Sweep.Values[0][3].Word != "P8" || len(sw.Steps) != 2 {
		t.Errorf("sweep: %+v", sw)
	}
	c := sw.Steps[1].Criteria
	if len(c) != 2 || c[0].When == nil || c[0].When.Word != "P8" || c[0].Bound.Lo != 2.1 || c[0].Bound.Kind != AtLeast {
		t.Errorf("criteria: %+v", c)
	}
	if !c[1].Measure.IsBeat() || c[1].Bound.Lo != 55 || c[1].Bound.Hi != 90 {
		t.Errorf("beat criterion: %+v", c[1])
	}
	end := p.Steps[3]
	if end.Repeat == nil || end.Repeat.For != 12*time.Hour || len(end.Steps[0].Ramp) != 1 || end.Steps[0].Ramp[0].To.Num != 45000 || end.Steps[0].Ramp[0].Over != 10*time.Second {
		t.Errorf("endurance: %+v", end)
	}
	stop := p.Steps[4]
	if stop.Set[0].Value.Word != "stop" || !stop.Set[1].Value.Off {
		t.Errorf("stop: %+v", stop.Set)
	}
}

func TestBounds(t *testing.T) {
	cases := []struct {
		bound  string
		lo, hi float64
	}{
		{"min: 2 L/min", 2, math.Inf(1)},
		{"max: 6000 ml/min", math.Inf(-1), 6},
		{"between: [1 L/min, 3 L/min]", 1, 3},
		{"within: 2.5 L/min ± 10 %", 2.25, 2.75},
		{"within: 2.5 L/min +- 0.5 L/min", 2, 3},
		{"{min: 1 L/min, max: 2 L/min}", 1, 2},
	}
	for _, c := range cases {
		src := "protocol: 1\nname: b\nsteps:\n  - hold: 10 s\n    criteria:\n      - measure: mean(flow_ao)\n        " + c.bound + "\n"
		if strings.HasPrefix(c.bound, "{") {
			src = "protocol: 1\nname: b\nsteps:\n  - hold: 10 s\n    criteria:\n      - {measure: mean(flow_ao), " + strings.Trim(c.bound, "{}") + "}\n"
		}
		p, err := Parse("b.yaml", []byte(src), benchRig())
		if err != nil {
			t.Errorf("%s: %v", c.bound, err)
			continue
		}
		b := p.Steps[0].Criteria[0].Bound
		if math.Abs(b.Lo-c.lo) > 1e-9 && !(math.IsInf(b.Lo, -1) && math.IsInf(c.lo, -1)) || math.Abs(b.Hi-c.hi) > 1e-9 && !(math.IsInf(b.Hi, 1) && math.IsInf(c.hi, 1)) {
			t.Errorf("%s: got [%g, %g], want [%g, %g]", c.bound, b.Lo, b.Hi, c.lo, c.hi)
		}
	}
}

func TestSlopeLimitPerMinute(t *testing.T) {
	src := "protocol: 1\nname: s\nsteps:\n  - hold: 10 min\n    criteria:\n      - measure: slope(temp)\n        max: 0.5 °C/min\n"
	p, err := Parse("s.yaml", []byte(src), benchRig())
	if err != nil {
		t.Fatal(err)
	}
	if b := p.Steps[0].Criteria[0].Bound; b.Hi != 0.5 {
		t.Errorf("slope bound %+v", b)
	}
}

func TestHostileInputRefusedQuickly(t *testing.T) {
	cases := map[string][]byte{
		"binary":   {0x7f, 'E', 'L', 'F', 0, 1, 2, 3},
		"huge":     []byte("protocol: 1\n# " + strings.Repeat("x", 2<<20) + "\n"),
		"deep":     []byte(strings.Repeat("[", 20000) + strings.Repeat("]", 20000)),
		"invalid8": {'n', 'a', 'm', 'e', ':', ' ', 0xff, 0xfe},
		"scalar":   []byte("just a string"),
		"list":     []byte("- 1\n- 2\n"),
	}
	for name, data := range cases {
		start := time.Now()
		_, err := Parse(name+".yaml", data, benchRig())
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v", name, d)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid", "../configs/protocols"} {
		files, _ := filepath.Glob(dir + "/*.yaml")
		for _, file := range files {
			data, _ := os.ReadFile(file)
			f.Add(data)
		}
	}
	rig := benchRig()
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data, rig)
		if err == nil {
			if p == nil || len(p.Steps) == 0 || p.Name == "" {
				t.Fatalf("accepted protocol without name or steps: %+v", p)
			}
			return
		}
		list, ok := err.(ErrorList)
		if !ok || len(list) == 0 {
			t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
		}
		for _, e := range list {
			if e.Pos.File != "fuzz.yaml" || e.Msg == "" {
				t.Fatalf("error without position or text: %+v", e)
			}
		}
	})
}
