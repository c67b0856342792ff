package rig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShippedConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("../configs/rigs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no rig configs")
	}
	for _, f := range files {
		if _, err := LoadConfig(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestSimConfigContents(t *testing.T) {
	cfg := simConfig(t)
	if cfg.Name != "sim" || cfg.SampleRate != 1000 || len(cfg.Channels) != 5 || cfg.Debounce != 3 || cfg.Initial != "healthy" {
		t.Errorf("config %+v", cfg)
	}
	if r := cfg.Params["loop.resistance"]; *r.Min != 0.3 || *r.Max != 3 {
		t.Errorf("resistance range %v..%v", *r.Min, *r.Max)
	}
	if got := strings.Join(cfg.PresetNames, ","); got != "healthy,heart_failure,cardiogenic_shock" {
		t.Errorf("presets %s", got)
	}
	if len(cfg.SHA256) != 64 || cfg.SafeResistance != 0.5 {
		t.Errorf("sha %q safe %g", cfg.SHA256, cfg.SafeResistance)
	}
}

// TestBadConfigGolden: every mistake of a rig config, each at its position.
func TestBadConfigGolden(t *testing.T) {
	_, err := LoadConfig("testdata/bad_rig.yaml")
	if err == nil {
		t.Fatal("bad config accepted")
	}
	got := err.Error() + "\n"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		os.WriteFile("testdata/bad_rig.golden", []byte(got), 0o644)
	}
	want, _ := os.ReadFile("testdata/bad_rig.golden")
	if got != string(want) {
		t.Errorf("errors differ:\n--- got\n%s--- want\n%s", got, want)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, g := range []string{"../configs/rigs/*.yaml", "testdata/*.yaml"} {
		files, _ := filepath.Glob(g)
		for _, file := range files {
			data, _ := os.ReadFile(file)
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		if cfg.Name == "" || len(cfg.Channels) == 0 || cfg.SampleRate <= 0 {
			t.Fatalf("accepted an incomplete config: %+v", cfg)
		}
	})
}
