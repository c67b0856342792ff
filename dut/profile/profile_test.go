package profile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mockloop/mockloop/internal/golden"
	"github.com/mockloop/mockloop/internal/strictyaml"
)

// TestShippedProfilesDecode: each profile of configs/duts decodes to its
// golden form (testdata/NAME.golden.json): a change of a constant is a
// change of that file, seen in review.
func TestShippedProfilesDecode(t *testing.T) {
	want := []string{"hemopump", "impella-2.5", "impella-5.0", "impella-5.5", "impella-cp", "impella-rp"}
	if got := Shipped(); !slices.Equal(got, want) {
		t.Errorf("shipped %v, want %v", got, want)
	}
	for _, name := range want {
		p, err := Load(name, "")
		if err != nil {
			t.Fatal(err)
		}
		if p.Name != name {
			t.Errorf("%s: name %q", name, p.Name)
		}
		out, err := json.MarshalIndent(struct {
			*Profile
			RaisesNames string `json:"raises_names"`
		}{p, p.Alarms.Raises.String()}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		golden.Check(t, filepath.Join("testdata", name+".golden.json"), append(out, '\n'))
	}
}

// TestProfileFileAndNameAgree: a profile read from a file is named after
// it, and reads the same as the shipped one of that name.
func TestProfileFileAndNameAgree(t *testing.T) {
	byName, err := Load("impella-cp", "")
	if err != nil {
		t.Fatal(err)
	}
	byFile, err := Load("impella-cp.yaml", "../../configs/duts")
	if err != nil {
		t.Fatal(err)
	}
	byFile.File = byName.File
	if *byFile != *byName {
		t.Errorf("by file %+v\nby name %+v", byFile, byName)
	}
}

// valid is a minimal valid profile the error cases edit.
const valid = `model: x-1
device: X
placement: {inlet: lv, outlet: aorta}
levels: [0 rpm, 1 rpm, 2 rpm, 3 rpm, 4 rpm, 5 rpm, 6 rpm, 7 rpm, 8 rpm, 9 rpm]
max_speed: 10 rpm
hq: {beta: 1e-7, resistance: 1 mmHg·s/ml, loss: 0, inertance: 0.05}
motor: {idle: 100 mA, speed: 0.1, flow: 1, back_emf: 0.1, winding: 1}
purge: {pressure: 600 mmHg}
alarms: {raises: [suction], suction_below: 1 mmHg, suction_gain: 30, suction_latch: 1 s, overcurrent: 1 A, purge_low: 300 mmHg, purge_high: 1100 mmHg, speed_deviation: 1000 rpm}
`

// TestProfileMistakesAtTheirPosition: every mistake of a profile is
// reported at file:line:col, with what is wrong.
func TestProfileMistakesAtTheirPosition(t *testing.T) {
	if _, err := Parse("x.yaml", []byte(valid)); err != nil {
		t.Fatalf("the valid profile: %v", err)
	}
	for _, c := range []struct{ old, new, want string }{
		{"model: x-1", "model: x 1", `x.yaml:1:8: model "x 1": must be letters`},
		{"inlet: lv", "inlet: LV", `x.yaml:3:20: placement inlet "LV": must be a node name`},
		{"outlet: aorta", "outlet: lv", `x.yaml:1:1: placement: inlet and outlet are both lv`},
		{"[0 rpm, 1 rpm,", "[0 rpm,", "x.yaml:4:9: levels must list 10 speeds, P0 to P9; got 9"},
		{"1 rpm, 2 rpm", "1 rpm, 2 mmHg", "x.yaml:4:24: level P2: "},
		{"2 rpm, 3 rpm", "3 rpm, 2 rpm", "levels: P3 (2 rpm) is below P2 (3 rpm)"},
		{"max_speed: 10 rpm", "max_speed: 70000 rpm", "x.yaml:5:12: max_speed must be a whole number of rpm from 0 to 60000"},
		{"max_speed: 10 rpm", "max_speed: 8 rpm", "levels: P9 (9 rpm) is above max_speed (8 rpm)"},
		{"beta: 1e-7", "beta: NaN", `x.yaml:6:12: hq beta must be a finite number ≥ 0, got "NaN"`},
		{"beta: 1e-7", "beta: 0", "hq: beta, resistance and inertance must be > 0"},
		{"loss: 0,", "los: 0,", `x.yaml:6:43: unknown key "los" in hq; did you mean loss?`},
		{"winding: 1}", "winding: -1}", "x.yaml:7:68: motor winding must be a finite number ≥ 0"},
		{"purge: {pressure: 600 mmHg}", "purge: 600 mmHg", "x.yaml:8:8: purge must be a mapping"},
		{"raises: [suction]", "raises: [suction, host_link_lost]", "x.yaml:9:28: alarms raises: host_link_lost is VADLINK's watchdog"},
		{"raises: [suction]", "raises: [sucktion]", `x.yaml:9:19: alarms raises: unknown alarm "sucktion"; did you mean suction?`},
		{"purge_low: 300 mmHg", "purge_low: 1200 mmHg", "purge_low 1200 mmHg must be below purge_high 1100 mmHg"},
		{"device: X\n", "", `x.yaml:1:1: DUT profile: missing key "device"`},
		{"device: X\n", "device: X\ndevice: Y\n", `x.yaml:3:1: duplicate key "device"`},
	} {
		src := strings.Replace(valid, c.old, c.new, 1)
		_, err := Parse("x.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q → %q: %v\nwant %s", c.old, c.new, err, c.want)
		}
	}
}

// TestProfileReadBounded: a profile is read as a bounded regular file: a
// FIFO is refused, not waited on, and so is a file over strictyaml's
// limit.
func TestProfileReadBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("fifo.yaml", dir); err == nil {
		t.Error("a FIFO read as a profile")
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(valid+"#"+strings.Repeat("x", strictyaml.MaxSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big, ""); err == nil {
		t.Error("an over-long file read as a profile")
	}
	if _, err := Load("missing.yaml", dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// positioned is how every error of Parse begins: the file, and a line and
// a column unless it is about the whole file (binary, too large).
var positioned = regexp.MustCompile(`^f\.yaml(:\d+:\d+)?: `)

// FuzzParse: no input makes Parse panic or hang, every error it reports is
// at a position, and what it accepts passes its own checks again.
func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	for _, name := range Shipped() {
		data, err := os.ReadFile("../../configs/duts/" + name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("levels: &a [*a]\n"))
	f.Add([]byte("\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !positioned.MatchString(line) {
					t.Fatalf("error without a position: %q", line)
				}
			}
			return
		}
		if p.Levels[9] > p.MaxRPM || p.MaxRPM > MaxRPM || p.Inlet == p.Outlet || p.HQ.Beta <= 0 {
			t.Fatalf("accepted an invalid profile: %+v", p)
		}
	})
}
