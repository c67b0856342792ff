package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// configMistakes are rig config mistakes that passed `validate` and failed
// only at `run` (exit 4, some after the record was made): each is edits of
// the shipped sim.yaml (old, new, ...), the message it must give and the
// text its position must point at (its first occurrence in the edited
// config).
var configMistakes = []struct {
	name    string
	edits   []string
	msg, at string
}{
	{"sample rate the ADC clock cannot make", []string{"sample_rate: 1 kHz", "sample_rate: 1500 Hz"},
		"sample_rate 1500 Hz: ads131m08: data rate 1500 SPS not available with CLKIN 8.192MHz; it offers 32000, 16000, 8000, 4000, 2000, 1000, 500", "1500 Hz"},
	{"CLKIN too fast for the ADC gain", []string{"drdy: GPIO25, gain: 1}", "drdy: GPIO25, gain: 4, clkin: 8300 kHz}"},
		"adc clkin: ads131m08: CLKIN 8.300MHz outside 300 kHz to 8.200MHz", "8300 kHz"},
	{"two chips on one I2C address", []string{"pwm: {address: 0x40", "pwm: {address: 0x60"},
		"pwm is on I²C address 0x60, already lv_drive's", "0x60, frequency"},
	{"PWM on the simulated bench's own ADS1115", []string{
		"  slow_adc: {address: 0x48, data_rate: 860 Hz}     # ADS1115, slow channels\n", "",
		"temp: {unit: °C, slow_adc: 0", "temp: {unit: °C, adc: 5",
		"pwm: {address: 0x40", "pwm: {address: 0x48"},
		"the simulated bench's ADS1115 is on I²C address 0x48, already pwm's", "adc: {spi"},
	{"reserved I2C address", []string{"pwm: {address: 0x40", "pwm: {address: 0x78"},
		"address 0x78 is not a valid address for this chip (0x40 to 0x77)", "0x78"},
	{"RV drive on the LV drive's address", []string{"rv_drive: {address: 0x61", "rv_drive: {address: 0x60"},
		"rv_drive is on I²C address 0x60, already lv_drive's", "0x60, vref: 5 V, full_scale: 100 %"},
	{"RV drive on an address no MCP4725 has", []string{"rv_drive: {address: 0x61", "rv_drive: {address: 0x68"},
		"address 0x68 is not a valid address for this chip (0x60 to 0x67)", "0x68"},
	{"RV drive's full scale in elastance", []string{"full_scale: 100 %", "full_scale: 5 mmHg/ml"},
		`rv_drive full_scale: "5 mmHg/ml" is an elastance, expected a percentage, e.g. 35 %`, "5 mmHg/ml}      #"},
	{"RV drive with a key an MCP4725 has not", []string{"vref: 5 V, full_scale: 100 %}", "vref: 5 V, full_scale: 100 %, gain: 2}"},
		`unknown key "gain" in rv_drive (MCP4725); expected one of address, vref, full_scale`, "gain: 2}"},
	{"RV drive's full scale below the parameter's range", []string{"full_scale: 100 %", "full_scale: 50 %"},
		"loop.rv_contractility may reach 60 % but the RV drive's full scale is 50 %", "{min: 5 %, max: 60 %}"},
	{"loop.rv_contractility without an RV drive", []string{"  rv_drive: {address: 0x61", "  # rv_drive: {address: 0x61"},
		"parameter loop.rv_contractility needs hardware.rv_drive", "loop.rv_contractility: {min"},
	{"pulmonary valve on the resistance valve's channel", []string{"pulmonary_valve: {channel: 2", "pulmonary_valve: {channel: 0"},
		"pulmonary_valve is on PWM channel 0, already resistance_valve's", "0, open: 0.02"},
	{"pulmonary valve without its open resistance", []string{"open: 0.02 mmHg·s/ml, ", ""},
		"pulmonary_valve needs open > 0, 0 % < max_duty < 100 % and safe_duty ≤ max_duty", "{channel: 2, max_duty"},
	{"pulmonary valve that cannot reach the parameter's range", []string{"open: 0.02 mmHg·s/ml", "open: 0.05 mmHg·s/ml"},
		"loop.pulmonary_resistance needs a min and max within the pulmonary valve's 0.05 mmHg·s/ml to 5 mmHg·s/ml", "{min: 0.03 mmHg·s/ml, max: 0.6"},
	{"loop.pulmonary_resistance without the pulmonary valve", []string{"  pulmonary_valve: {channel: 2", "  # pulmonary_valve: {channel: 2"},
		"parameter loop.pulmonary_resistance needs hardware.pulmonary_valve", "loop.pulmonary_resistance: {min"},
	{"DUT placement on a rig whose circulation places it", []string{"  profile: impella-cp\n", "  profile: impella-cp\n  placement: {inlet: ra, outlet: pa}\n"},
		"dut placement is a hardware bench's; this rig's circulation places the DUT by its pump link", "{inlet: ra, outlet: pa}"},
	{"drdy on the e-stop pin", []string{"estop: GPIO23", "estop: GPIO25"},
		"the estop is on GPIO GPIO25, already the ADC's drdy's", "GPIO25 "},
	{"a switch on the e-stop pin", []string{"heater: {pin: GPIO22", "heater: {pin: GPIO23"},
		"switch heater is on GPIO GPIO23, already the estop's", "GPIO23, safe"},
	{"two switches on one pin", []string{"drain: {pin: GPIO27", "drain: {pin: GPIO17"},
		"switch drain is on GPIO GPIO17, already switch bypass's", "GPIO17, safe: off}\n    heater"},
	{"a switch the simulated bench does not have", []string{"bypass: {pin: GPIO17", "pump: {pin: GPIO17"},
		"switch pump: the simulated bench switches only heater, drain, bypass", "{pin: GPIO17"},
	{"switch without a name", []string{"    bypass: {pin: GPIO17, safe: off}\n", "    bypass: {pin: GPIO17, safe: off}\n    \"\": {pin: GPIO5, safe: off}\n"},
		"switch needs a name", `"": {pin: GPIO5`},
	{"newline in a channel name", []string{"  dut.current: {unit: mA", `  "dut.cur\nrent": {unit: mA`},
		`channel "dut.cur\nrent": a name is a letter, then letters, digits, _, . or -`, `"dut.cur`},
	{"BEL in a channel name", []string{"  dut.current: {unit: mA", `  "dut.cur\arent": {unit: mA`},
		`channel "dut.cur\arent": a name is a letter`, `"dut.cur`},
	{"ESC in the rig name", []string{"rig: sim\n", "rig: \"sim\\e[2J\"\n"},
		`rig "sim\x1b[2J": a name is a letter`, `"sim`},
	{"channel named time", []string{"  dut.current: {unit: mA", "  time: {unit: mA"},
		`channel "time": InfluxDB refuses a field named time`, "time: {unit"},
	{"measured channel the simulated bench has not", []string{"  lv_volume: {unit: ml, sim: lv_volume}",
		"  lv_volume: {unit: ml, sim: lv_volume}\n  extra: {unit: mmHg, adc: 7, nominal: [0 V = 0 mmHg, 1 V = 250 mmHg]}"},
		"channel extra: the simulated bench measures only lvp, aop", "{unit: mmHg, adc: 7"},
	{"non-linear nominal on the simulated bench", []string{"lvp: {unit: mmHg, adc: 0, nominal: [0 V = 0 mmHg, 1 V = 250 mmHg]}",
		"lvp: {unit: mmHg, adc: 0, nominal: [0 V = 0 mmHg, 0.5 V = 120 mmHg, 1 V = 250 mmHg]}"},
		"channel lvp: the simulated bench has linear transducers", "[0 V = 0 mmHg, 0.5 V"},
	{"flat nominal calibration", []string{"aop: {unit: mmHg, adc: 1, nominal: [0 V = 0 mmHg, 1 V = 250 mmHg]}",
		"aop: {unit: mmHg, adc: 1, nominal: [0 V = 0 mmHg, 1 V = 0 mmHg]}"},
		"aop nominal calibration is flat: every point reads 0 mmHg", "[0 V = 0 mmHg, 1 V = 0 mmHg]"},
	{"slow ADC input the ADS1115 has not", []string{"temp: {unit: °C, slow_adc: 0", "temp: {unit: °C, slow_adc: 4"},
		"temp slow_adc input must be a whole number from 0 to 3", "4, nominal: [0 V = 0 °C"},
	{"negative passive elastance", []string{"emin: 0.06 mmHg/ml", "emin: -0.06 mmHg/ml"},
		"emin must be above 0 mmHg/ml", "-0.06"},
	{"zero passive elastance", []string{"emin: 0.06 mmHg/ml", "emin: 0 mmHg/ml"},
		"emin must be above 0 mmHg/ml", "0 mmHg/ml   #"},
	{"InfluxDB URL without a scheme", []string{"sim:\n  emin", "influx: {url: \"localhost:8086\"}\nsim:\n  emin"},
		`influx: URL "localhost:8086": want http(s)://host[:port]`, `"localhost:8086"`},
}

// TestConfigMistakesRunWouldFindValidateFinds: each mistake is refused by
// validate and by run with exit 3, at its position, and run leaves no record.
func TestConfigMistakesRunWouldFindValidateFinds(t *testing.T) {
	chdirRoot(t)
	for _, m := range configMistakes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			file, pos := writeMistake(t, dir, m.edits, m.at)
			want := pos + ": " + m.msg
			code, _, stderr := cli(t, "validate", "--rig", file, "configs/protocols/demo.yaml")
			if code != exitInvalid || !strings.Contains(stderr, want) {
				t.Fatalf("validate: exit %d, want %d and %q in:\n%s", code, exitInvalid, want, stderr)
			}
			runs := filepath.Join(dir, "runs")
			code, _, stderr = cli(t, "run", "--quiet", "--runs", runs, "--rig", file, "configs/protocols/demo.yaml")
			if code != exitInvalid || !strings.Contains(stderr, want) {
				t.Fatalf("run: exit %d, want %d and %q in:\n%s", code, exitInvalid, want, stderr)
			}
			if names, _ := os.ReadDir(runs); len(names) > 0 {
				t.Fatalf("run left %v in the runs folder", names)
			}
		})
	}
}

// writeMistake writes sim.yaml with one mistake into dir and returns its
// path and the position ("file:line:col") the mistake must be reported at.
func writeMistake(t *testing.T, dir string, edits []string, at string) (file, pos string) {
	t.Helper()
	src, err := os.ReadFile("configs/rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := string(src)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(edited, edits[i]) {
			t.Fatalf("sim.yaml has no %q", edits[i])
		}
		edited = strings.Replace(edited, edits[i], edits[i+1], 1)
	}
	i := strings.Index(edited, at)
	if i < 0 {
		t.Fatalf("edited config has no %q", at)
	}
	line := 1 + strings.Count(edited[:i], "\n")
	col := 1 + len([]rune(edited[strings.LastIndexByte(edited[:i], '\n')+1:i]))
	file = filepath.Join(dir, "rig.yaml")
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, fmt.Sprintf("%s:%d:%d", file, line, col)
}

// TestRunRefusesAForeignOrConstantCalibration: a calibration file of
// another rig, or `coeffs: [100]` for aop, is refused by validate and run
// (exit 3, with its position) before a record is made: aop read 100 mmHg
// all run and the run passed.
func TestRunRefusesAForeignOrConstantCalibration(t *testing.T) {
	chdirRoot(t)
	for _, c := range []struct{ old, new, msg string }{
		{`"rig": "sim",`, `"rig": "pi-mcl",`, `sim.calibration.json:2:3: the calibrations of rig "pi-mcl", not of sim`},
		{"\"coeffs\": [\n        1.9957700371742286,\n        250\n      ]", `"coeffs": [100]`, "sim.calibration.json:35:7: record 2 (aop) does not pass through its point"},
	} {
		dir, rigFile := tempSimRig(t)
		cal, _ := os.ReadFile("configs/rigs/sim.calibration.json")
		os.WriteFile(filepath.Join(dir, "sim.calibration.json"), []byte(strings.Replace(string(cal), c.old, c.new, 1)), 0o644)
		runs := filepath.Join(dir, "runs")
		for _, args := range [][]string{
			{"validate", "--rig", rigFile, "configs/protocols/demo.yaml"},
			{"run", "--quiet", "--runs", runs, "--rig", rigFile, "configs/protocols/demo.yaml"},
		} {
			code, _, stderr := cli(t, args...)
			if want := filepath.Join(dir, c.msg); code != exitInvalid || !strings.Contains(stderr, want) {
				t.Fatalf("%s: exit %d, want %d and %q in:\n%s", args[0], code, exitInvalid, want, stderr)
			}
		}
		if names, _ := os.ReadDir(runs); len(names) > 0 {
			t.Fatalf("run left %v in the runs folder", names)
		}
	}
}

// TestCalibrateRefusesToSaveAClippedReading: references beyond the ADC's
// full scale read clipped; the calibration is refused and nothing saved (a
// clipped reading was saved as a calibration of 827,842 mmHg/V).
func TestCalibrateRefusesToSaveAClippedReading(t *testing.T) {
	chdirRoot(t)
	dir, rigFile := tempSimRig(t)
	code, out, stderr := cli(t, "calibrate", "--rig", rigFile, "--at", "100 mmHg", "--at", "400 mmHg", "--reference", "x", "--for", "200 ms", "--yes", "aop")
	if code == exitPass || !strings.Contains(stderr, "rig: the calibration of aop has a clipped point") {
		t.Fatalf("calibrate beyond full scale: exit %d\n%s\n%s", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "sim.calibration.json")); !os.IsNotExist(err) {
		t.Fatalf("a calibration file was written: %v", err)
	}
}

// tempSimRig copies the shipped sim.yaml, without its calibration file,
// into a temporary directory; run from the repository root.
func tempSimRig(t *testing.T) (dir, rigFile string) {
	t.Helper()
	dir = t.TempDir()
	src, err := os.ReadFile("configs/rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rigFile = filepath.Join(dir, "sim.yaml")
	if err := os.WriteFile(rigFile, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, rigFile
}

// TestValidateDevZeroAndFIFOsRefusedAtOnce: a protocol, rig config or
// calibration file that is /dev/zero or a FIFO is refused with exit 3 and
// a clear error, without blocking or reading it (validate /dev/zero grew to
// 2.9 GB; a FIFO hung the command).
func TestValidateDevZeroAndFIFOsRefusedAtOnce(t *testing.T) {
	chdirRoot(t)
	dir, rigFile := tempSimRig(t)
	fifo := filepath.Join(dir, "protocol.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	calDir, calRig := tempSimRig(t)
	if err := syscall.Mkfifo(filepath.Join(calDir, "sim.calibration.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"validate", "/dev/zero"}, "/dev/zero: a character device, not a regular file"},
		{[]string{"validate", fifo}, fifo + ": a FIFO, not a regular file"},
		{[]string{"validate", "--rig", "/dev/zero", "configs/protocols/demo.yaml"}, "/dev/zero: a character device, not a regular file"},
		{[]string{"validate", "--rig", fifo, "configs/protocols/demo.yaml"}, fifo + ": a FIFO, not a regular file"},
		{[]string{"validate", "--rig", calRig, "configs/protocols/demo.yaml"}, "sim.calibration.json: a FIFO, not a regular file"},
		{[]string{"run", "--runs", filepath.Join(dir, "runs"), "--rig", rigFile, fifo}, fifo + ": a FIFO, not a regular file"},
	} {
		type result struct {
			code   int
			stderr string
		}
		done := make(chan result, 1)
		go func() {
			code, _, stderr := cli(t, c.args...)
			done <- result{code, stderr}
		}()
		select {
		case r := <-done:
			if r.code != exitInvalid || !strings.Contains(r.stderr, c.want) {
				t.Errorf("%v: exit %d, want %d and %q in:\n%s", c.args, r.code, exitInvalid, c.want, r.stderr)
			}
		case <-time.After(60 * time.Second): // a hang guard, not a timing
			t.Fatalf("%v blocked", c.args)
		}
	}
}

// TestRunsSaysWhatItClosedTheRunAs: a run whose process died after writing
// its result is closed as that result (pass), and `runs` says pass, not
// "closed it as interrupted".
func TestRunsSaysWhatItClosedTheRunAs(t *testing.T) {
	chdirRoot(t)
	runs := t.TempDir()
	if code, _, errOut := cli(t, "run", "--quiet", "--runs", runs, "configs/protocols/demo.yaml"); code != exitPass {
		t.Fatalf("demo: exit %d\n%s", code, errOut)
	}
	list, _ := runlog.List(runs)
	manifest := filepath.Join(list[0].Dir, "manifest.json")
	m, _ := os.ReadFile(manifest)
	running := strings.Replace(string(m), `"state": "closed"`, `"state": "running"`, 1)
	if running == string(m) {
		t.Fatalf("manifest format changed: %s", m)
	}
	os.WriteFile(manifest, []byte(running), 0o644) // killed between result.json and the manifest
	code, out, errOut := cli(t, "runs", "--runs", runs)
	want := "run " + list[0].RunID + " was left running by a process that died; closed it as pass"
	if code != exitPass || !strings.Contains(errOut, want) || !regexp.MustCompile(`closed +pass`).MatchString(out) {
		t.Fatalf("runs: exit %d, want %q\n%s\n%s", code, want, out, errOut)
	}
}

// TestControlCharactersNeverReachTheTerminal: BEL and ESC in a protocol's
// step names, criterion ids and names (the summary, the abort line) and in
// a rig config's names quoted by validate's errors are printed escaped.
func TestControlCharactersNeverReachTheTerminal(t *testing.T) {
	chdirRoot(t)
	dir, rigFile := tempSimRig(t)
	proto := filepath.Join(dir, "p.yaml")
	os.WriteFile(proto, []byte(`protocol: 1
name: evil
steps:
  - name: "step \e[2J\a one"
    set:
      loop.preset: healthy
    hold: 2 s
    criteria:
      - id: "R\e]0;pwned\a"
        name: "crit \e[31m"
        measure: mean(aop)
        over: last 1 s
        min: 500 mmHg
        on_fail: abort
`), 0o644)
	code, out, errOut := cli(t, "run", "--runs", filepath.Join(dir, "runs"), "--rig", rigFile, proto)
	if code == exitPass || code == exitInfra || !strings.Contains(out, `step \x1b[2J\a one`) || !strings.Contains(out, `R\x1b]0;pwned\a`) {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.ContainsAny(out+errOut, "\a\x1b") {
		t.Errorf("raw BEL or ESC on the terminal:\n%q\n%q", out, errOut)
	}
	src, _ := os.ReadFile(rigFile)
	bad := strings.Replace(string(src), "  heart_failure:", "  \"heart\\e[2J\":\n    loop.nothing: 1\n  heart_failure:", 1)
	os.WriteFile(rigFile, []byte(bad), 0o644)
	code, _, errOut = cli(t, "validate", "--rig", rigFile, "configs/protocols/demo.yaml")
	if code != exitInvalid || !strings.Contains(errOut, `preset heart\x1b[2J sets`) || strings.ContainsAny(errOut, "\a\x1b") {
		t.Errorf("validate: exit %d\n%q", code, errOut)
	}
}
