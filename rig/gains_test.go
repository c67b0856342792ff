package rig

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/pumpctl"
)

// TestControlGains: without a control: section every closed-loop target
// has the gains it was tuned with on the simulated bench (so the shipped
// configs run as before); the section overrides only what it names, and
// its mistakes are reported at their position.
func TestControlGains(t *testing.T) {
	src, err := os.ReadFile("../configs/rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig("rig.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]pumpctl.Gains{
		"loop.target.map": {Kp: 0.03, Ki: 0.012, Rate: 0.5},
		"loop.target.co":  {Kp: 0.05, Ki: 0.05, Rate: 0.5},
		"loop.preload":    {Kp: 1, Ki: 0.2, Rate: 2},
	}
	if len(cfg.Control) != len(want) {
		t.Errorf("control %+v, want %+v", cfg.Control, want)
	}
	for p, g := range want {
		if cfg.Control[p] != g {
			t.Errorf("%s gains %+v, want %+v", p, cfg.Control[p], g)
		}
	}
	ts := newControllers(cfg)
	if m := ts.Find("loop.target.map"); m == nil || m.PID.Kp != 0.03 || m.PID.Ki != 0.012 || m.PID.Rate != 0.5 || m.PID.Min != 0.3 || m.PID.Max != 3 {
		t.Errorf("MAP target %+v", m)
	}

	tuned := string(src) + "control:\n  loop.target.map: {kp: 0.05, rate: 1}\n"
	if cfg, err = ParseConfig("rig.yaml", []byte(tuned)); err != nil {
		t.Fatal(err)
	}
	if g := cfg.Control["loop.target.map"]; g != (pumpctl.Gains{Kp: 0.05, Ki: 0.012, Rate: 1}) {
		t.Errorf("tuned MAP gains %+v", g)
	}
	if g := cfg.Control["loop.target.co"]; g != want["loop.target.co"] {
		t.Errorf("untouched CO gains %+v", g)
	}

	for bad, msg := range map[string]string{
		"control:\n  loop.target.mpa: {kp: 1}\n":   `control of "loop.target.mpa": not a closed-loop target; did you mean loop.target.map?`,
		"control:\n  loop.target.co: {kp: -1}\n":   `loop.target.co kp must be a plain number, 0 or more, got "-1"`,
		"control:\n  loop.target.co: {kq: 1}\n":    `unknown key "kq" in control loop.target.co`,
		"control:\n  loop.preload: {rate: 2 s}\n":  `loop.preload rate must be a plain number, 0 or more, got "2 s"`,
		"control:\n  loop.resistance: {kp: 1}\n":   `control of "loop.resistance": not a closed-loop target`,
		"control:\n  loop.target.map: {ki: NaN}\n": `loop.target.map ki must be a plain number`,
	} {
		_, err := ParseConfig("rig.yaml", []byte(string(src)+bad))
		if err == nil || !strings.Contains(err.Error(), msg) || !regexp.MustCompile(`rig\.yaml:\d+:\d+: `).MatchString(err.Error()) {
			t.Errorf("%q: %v, want %q at its position", bad, err, msg)
		}
	}
}
