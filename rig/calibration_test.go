package rig

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShippedCalibrationsLoad(t *testing.T) {
	files, _ := filepath.Glob("../configs/rigs/*.yaml")
	for _, f := range files {
		cfg, err := LoadConfig(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.LoadCalibrations(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// shippedWith writes sim.yaml and its shipped calibration file, with one
// edit of the file (old → new), into a temporary directory; it returns the
// config and the position ("file:line:col") of at in the edited file.
func shippedWith(t *testing.T, old, new, at string) (*Config, string) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"sim.yaml", "sim.calibration.json"} {
		src, err := os.ReadFile(filepath.Join("../configs/rigs", name))
		if err != nil {
			t.Fatal(err)
		}
		s := string(src)
		if name == "sim.calibration.json" {
			if !strings.Contains(s, old) {
				t.Fatalf("the shipped calibration file has no %q", old)
			}
			s = strings.Replace(s, old, new, 1)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if name != "sim.calibration.json" {
			continue
		}
		i := strings.Index(s, at)
		if i < 0 {
			t.Fatalf("the edited file has no %q", at)
		}
		line := 1 + strings.Count(s[:i], "\n")
		col := i - strings.LastIndexByte(s[:i], '\n')
		at = fmt.Sprintf("%s:%d:%d", filepath.Join(dir, name), line, col)
	}
	cfg, err := LoadConfig(filepath.Join(dir, "sim.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, at
}

// aopZero is the shipped zero record of aop, from its coefficients on.
const aopZero = `"coeffs": [
        1.9957700371742286,
        250
      ]`

// aopPoint is the shipped zero record of aop's point.
const aopPoint = `"volts": -0.007983080148696914,`

// TestCalibrationMistakesRefusedAtTheirPosition: a calibration of another
// rig or input, a constant (coeffs: [100] for aop), a clipped point, a
// polynomial off its own points, of high order, or off the nominal by more
// than the channel's tolerance is refused when loaded, at its position.
func TestCalibrationMistakesRefusedAtTheirPosition(t *testing.T) {
	for _, c := range []struct {
		name, old, new, at, msg string
	}{
		{"another rig's file", `"rig": "sim",`, `"rig": "pi-mcl",`, `"rig"`,
			`the calibrations of rig "pi-mcl", not of sim`},
		{"a record of another input", `"input": "ADS131M08 SPI0.0 input 1"`, `"input": "ADS131M08 SPI0.0 input 5"`, `"input": "ADS131M08 SPI0.0 input 5"`,
			`record 2 (aop) was made on "ADS131M08 SPI0.0 input 5"; aop is on ADS131M08 SPI0.0 input 1`},
		{"a record of before inputs were recorded", "\"input\": \"ADS131M08 SPI0.0 input 1\",\n", "", `"channel": "aop"`,
			`record 2 (aop) names no input; aop is on ADS131M08 SPI0.0 input 1: if the record was made there, add "input": "ADS131M08 SPI0.0 input 1", else make it again`},
		{"coeffs [100] for aop", aopZero, `"coeffs": [100]`, `"coeffs": [100]`,
			"record 2 (aop) does not pass through its point -0.007983 V = 0 mmHg: off by 100 mmHg"},
		{"a constant through its point", aopZero + "\n", "\"coeffs\": [0]\n", `"coeffs": [0]`,
			"record 2 (aop) is flat: it reads 0 mmHg whatever the sensor sees"},
		{"a clipped point", aopPoint, `"volts": 1.1999999,`, "\"points\": [\n        {\n          \"volts\": 1.1999999",
			"record 2 (aop) has a clipped point: 1.200000 V for 0 mmHg, at the converter's full scale ±1.2 V"},
		{"827,842 mmHg/V", aopZero, `"coeffs": [6609.0, 827842]`, `"coeffs": [6609.0`,
			"record 2 (aop) reads 6609 mmHg at 0 V where the nominal calibration reads 0 mmHg: off by more than the channel's tolerance, 25 mmHg"},
		{"a gain off by 20 %", aopZero, `"coeffs": [2.39, 300]`, `"coeffs": [2.39`,
			"record 2 (aop) reads 152.39 mmHg at 0.5 V where the nominal calibration reads 125 mmHg"},
		{"a quartic", aopZero, `"coeffs": [2, 250, 0, 0, 0]`, `"coeffs": [2, 250, 0`,
			"record 2 (aop) is a polynomial of degree 4; at most 3"},
		{"no points", `"points": [
        {
          "volts": -0.007983080148696914,
          "value": 0
        }
      ],`, `"points": [],`, `"points": []`, "record 2 (aop) has no points"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, pos := shippedWith(t, c.old, c.new, c.at)
			_, err := cfg.LoadCalibrations()
			if want := pos + ": " + c.msg; err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v\nwant %s", err, want)
			}
		})
	}
}

// TestCalibrationToleranceIsDeclaredPerChannel: the config's tolerance
// decides how far a record may be from the nominal.
func TestCalibrationToleranceIsDeclaredPerChannel(t *testing.T) {
	cfg, _ := shippedWith(t, aopZero, `"coeffs": [2.39, 300]`, "")
	in := cfg.Inputs["aop"]
	in.Tolerance = 0.25
	cfg.Inputs["aop"] = in
	if _, err := cfg.LoadCalibrations(); err != nil {
		t.Fatalf("a record 21 %% off with a 25 %% tolerance: %v", err)
	}
	src := strings.Replace(string(cfg.Source), "aop: {unit: mmHg, adc: 1,", "aop: {unit: mmHg, adc: 1, tolerance: 25 %,", 1)
	c2, err := ParseConfig(cfg.File, []byte(src))
	if err != nil || c2.Inputs["aop"].Tolerance != 0.25 {
		t.Fatalf("tolerance: 25 %%: %v %+v", err, c2.Inputs["aop"])
	}
}

// TestSaveRefusesAClippedCalibration: a record made from a reading at the
// converter's full scale is not saved, and the file stays as it was.
func TestSaveRefusesAClippedCalibration(t *testing.T) {
	cfg, _ := shippedWith(t, `"rig": "sim",`, `"rig": "sim",`, "")
	before, _ := os.ReadFile(cfg.CalibrationPath())
	s, err := OpenCalibration(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, cal, err := s.Calibrate(t.Context(), "aop", []float64{100, 400}, 100e6, 200e6, func(v float64) error { return s.Present("aop", v) })
	if err == nil || !strings.Contains(err.Error(), "rig: the calibration of aop has a clipped point") {
		t.Fatalf("Calibrate beyond full scale: %v (coeffs %v)", err, cal.Coeffs)
	}
	recs, _, err := s.Zero(t.Context(), []string{"aop"}, 200e6, "test")
	if err != nil {
		t.Fatal(err)
	}
	recs[0].Points[0].Volts = 1.2 // the zero reading, as if clipped
	if err := cfg.SaveCalibrations(recs...); err == nil || !strings.Contains(err.Error(), "not saved: the calibration of aop has a clipped point") {
		t.Fatalf("SaveCalibrations of a clipped zero: %v", err)
	}
	if after, _ := os.ReadFile(cfg.CalibrationPath()); string(after) != string(before) {
		t.Fatal("the calibration file changed")
	}
}
