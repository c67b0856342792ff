package rig

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/internal/golden"
)

// TestShippedConfigsLoad: every rig config shipped in configs/rigs loads
// (pi-mcl-rp.yaml among them), and the README's list of rigs names it.
func TestShippedConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("../configs/rigs/*.yaml")
	if len(files) < 5 || !slices.Contains(files, "../configs/rigs/pi-mcl-rp.yaml") {
		t.Fatalf("rig configs %v", files)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := LoadConfig(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if b := filepath.Base(f); !strings.Contains(string(readme), "`"+b+"`") && !strings.Contains(string(readme), "/"+b+"`") {
			t.Errorf("README.md does not name %s", b)
		}
	}
}

func TestSimConfigContents(t *testing.T) {
	cfg, err := LoadConfig("../configs/rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// 13 channels and the 6 flags of dut.alarms
	if cfg.Name != "sim" || cfg.SampleRate != 1000 || len(cfg.Channels) != 19 || cfg.Debounce != 3 || cfg.Initial != "healthy" {
		t.Errorf("config: name %s, rate %g, %d channels, debounce %d, initial %s", cfg.Name, cfg.SampleRate, len(cfg.Channels), cfg.Debounce, cfg.Initial)
	}
	if d := cfg.DUT; d == nil || d.Port != "sim" || d.Poll != 100*time.Millisecond || d.OnLinkLoss != "abort" || d.Safe.String() != "stop" {
		t.Errorf("dut %+v", d)
	}
	if in := cfg.Inputs["dut.rpm"]; in.Kind != "dut" || in.Signal != "rpm" {
		t.Errorf("dut.rpm input %+v", in)
	}
	if hf := cfg.Presets["heart_failure"]; len(hf) != 4 || hf[3].Param != "loop.fill" || hf[3].Value.Num != 4912 {
		t.Errorf("heart_failure preset %+v", hf)
	}
	if r := cfg.Params["loop.resistance"]; *r.Min != 0.3 || *r.Max != 3 {
		t.Errorf("resistance range %v..%v", *r.Min, *r.Max)
	}
	if got := strings.Join(cfg.PresetNames, ","); got != "healthy,heart_failure,cardiogenic_shock,hypovolemia,rv_failure,biventricular_failure" {
		t.Errorf("presets %s", got)
	}
	if len(cfg.SHA256) != 64 {
		t.Errorf("sha %q", cfg.SHA256)
	}
	h := cfg.Hardware
	if h.SPI != "SPI0.0" || h.DRDY != "GPIO25" || h.LVDrive.Address != 0x60 || h.PWM.Address != 0x40 || h.SlowADC.Address != 0x48 ||
		h.Valve.ROpen != 0.3 || h.Valve.MaxDuty != 0.9 || h.Valve.SafeDuty != 0 || h.EStop != "GPIO23" || len(h.Switches) != 3 {
		t.Errorf("hardware %+v", h)
	}
	if in := cfg.Inputs["aop"]; in.Kind != "adc" || in.Index != 1 || in.Nominal.Apply(1) != 250 || in.Nominal.Apply(0) != 0 {
		t.Errorf("aop input %+v", in)
	}
	if in := cfg.Inputs["lv_volume"]; in.Kind != "sim" || in.Signal != "lv_volume" {
		t.Errorf("lv_volume input %+v", in)
	}
	if tr := cfg.Sim.Transducers["aop"]; tr.Offset != -2 || tr.Noise != 0.2 {
		t.Errorf("aop transducer %+v", tr)
	}
}

// TestBadConfigGolden: every mistake of a rig config, each at its position.
func TestBadConfigGolden(t *testing.T) {
	_, err := LoadConfig("testdata/bad_rig.yaml")
	if err == nil {
		t.Fatal("bad config accepted")
	}
	got := err.Error() + "\n"
	golden.Check(t, "testdata/bad_rig.golden", []byte(got))
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

// FuzzLoadCalibrations feeds arbitrary bytes as a rig's calibration file:
// an error with the file's position, or records whose coefficients are all
// usable — never a panic.
func FuzzLoadCalibrations(f *testing.F) {
	seed, _ := os.ReadFile("../configs/rigs/sim.calibration.json")
	f.Add(seed)
	f.Add([]byte(`{"rig":"sim","records":[{"channel":"aop","method":"zero","date":"2026-11-20T00:00:00Z","reference":"x","points":[],"coeffs":[1e308,1e308]}]}`))
	f.Add([]byte(`{"rig":"sim","records":[{"channel":"lv_volume","coeffs":[0,1]}]}`))
	f.Add([]byte("{\"rig\":\"sim\",\"records\":[{\"channel\":\"aop\",\"coeffs\":[]}]}\n"))
	f.Add([]byte(`{"rig":"sim-loop-only","records":[{"channel":"aop","input":"ADS131M08 SPI0.0 input 1","points":[{"volts":0,"value":100}],"coeffs":[100]}]}`))
	f.Add([]byte(`{"rig":"sim-loop-only","records":[{"channel":"aop","input":"ADS131M08 SPI0.0 input 1","points":[{"volts":0.4,"value":100}],"coeffs":[0,250]}],"records":null}`))
	cfg, err := LoadConfig("../configs/rigs/sim-loop-only.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "sim.calibration.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c := *cfg
		c.CalibrationFile, c.File = path, filepath.Join(dir, "sim.yaml")
		cals, err := c.LoadCalibrations()
		if err != nil {
			if !strings.Contains(err.Error(), "calibration") && !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, r := range cals.Records {
			if in := c.Inputs[r.Channel]; in.Kind != "adc" && in.Kind != "slow_adc" {
				t.Fatalf("record for %q accepted", r.Channel)
			}
			if len(r.Coeffs) == 0 || len(r.Coeffs) > maxCalDegree+1 || len(r.Points) == 0 || r.Input != c.inputID(r.Channel) {
				t.Fatalf("record accepted: %+v", r)
			}
		}
	})
}

// TestKeyChannels: key_channels declares what a run shows first; without
// it, the rig's own channels among the defaults; a channel the rig does
// not have is refused at its position.
func TestKeyChannels(t *testing.T) {
	base, err := os.ReadFile("../configs/rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig("sim.yaml", base)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Keys.Progress, ","); got != "aop,lvp,flow_ao,flow_dut,dut.rpm" {
		t.Errorf("progress keys %s", got)
	}
	if got := strings.Join(cfg.Keys.Summary, ","); got != "aop,lvp,lap,flow_ao,flow_dut" || cfg.Keys.Beat != "aop" {
		t.Errorf("summary keys %s, beat %q", got, cfg.Keys.Beat)
	}
	src := string(base)
	i := strings.Index(src, "key_channels:")
	j := strings.Index(src[i:], "\n\n") + i
	for _, tc := range []struct {
		name, section, progress, summary, err string
	}{
		{name: "absent: defaults", section: "", progress: "aop,lvp,flow_ao,flow_dut,dut.rpm", summary: "aop,lvp,lap,flow_ao,flow_dut"},
		{name: "declared", section: "key_channels:\n  progress: [lap, temp]\n  summary: []", progress: "lap,temp", summary: ""},
		{name: "unknown channel", section: "key_channels:\n  progress: [aop, flow_pa]", err: `sim.yaml:%d:19: key channel "flow_pa" is not a channel of the rig`},
		{name: "unknown key", section: "key_channels:\n  beat: aop", err: `sim.yaml:%d:3: unknown key "beat" in key_channels`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := src[:i] + tc.section + src[j:]
			cfg, err := ParseConfig("sim.yaml", []byte(data))
			if tc.err != "" {
				line := strings.Count(src[:i], "\n") + 2
				if want := fmt.Sprintf(tc.err, line); err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Fatalf("error %v, want %s…", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p, s := strings.Join(cfg.Keys.Progress, ","), strings.Join(cfg.Keys.Summary, ","); p != tc.progress || s != tc.summary {
				t.Errorf("progress %s, summary %s; want %s, %s", p, s, tc.progress, tc.summary)
			}
		})
	}
}

// TestFlagChannels: `flags:` on a flags channel adds a 0/1 channel per
// named bit, set in the frames where the bit is; its mistakes are refused
// at their position: a bit that is not one bit, a bit named twice, flags
// on a measured channel, and a DUT alarm bit under another name than the
// DUT's (VADLINK.md).
func TestFlagChannels(t *testing.T) {
	cfg := dutConfig(t)
	for _, name := range []string{"dut.alarms.suction", "dut.alarms.overcurrent", "dut.alarms.host_link_lost"} {
		in, ok := cfg.Inputs[name]
		if !ok || in.Kind != "flag" || in.Signal != "dut.alarms" {
			t.Errorf("%s: %+v", name, in)
		}
	}
	base, err := os.ReadFile("../configs/rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const flags = "flags: {suction: 0x01, overcurrent: 0x02, purge_low: 0x04, purge_high: 0x08, speed_deviation: 0x10, host_link_lost: 0x20}"
	for _, c := range []struct{ replace, with, at, want string }{
		{flags, "flags: {suction: 0x03}", "0x03", "flag suction: 0x03 is not one bit"},
		{flags, "flags: {suction: 0x01, overcurrent: 0x01}", "0x01}", "flag overcurrent: bit 0x01 is already another flag's"},
		{flags, "flags: {suction: 0x02}", "suction", "flag suction: the DUT's alarm bit 0x02 is overcurrent"},
		{flags, "flags: {suck: 0x01}", "suck", "flag suck: the DUT's alarm bit 0x01 is suction"},
		{"lvp: {unit: mmHg, adc: 0,", "lvp: {unit: mmHg, flags: {a: 1}, adc: 0,", "{a: 1}", "channel lvp: flags name the bits of a channel of unit flags"},
	} {
		src := strings.Replace(string(base), c.replace, c.with, 1)
		at := strings.Index(src, c.with) + strings.Index(c.with, c.at) // the mistake's offset
		line := 1 + strings.Count(src[:at], "\n")
		col := at - strings.LastIndex(src[:at], "\n")
		want := fmt.Sprintf("sim.yaml:%d:%d: %s", line, col, c.want)
		if _, err := ParseConfig("sim.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v\nwant %s", c.with, err, want)
		}
	}
}
