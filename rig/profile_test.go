package rig

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/dut/dutsim"
	"github.com/mockloop/mockloop/dut/profile"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/sim"
)

// published are the flows REFERENCE.md ("The device family", "Impella-class
// pump") gives each device, the head its fit is made against, and the
// range P8 must deliver there; P9 must stay at or below top.
var published = []struct {
	name          string
	headmmHg      float64 // outlet minus inlet pressure, steady
	p8Lo, p8Hi    float64 // L/min
	topLmin       float64 // L/min, the most the device delivers
	source, hHead string
}{
	{"impella-2.5", 60, 2.1, 2.4, 2.5, "Impella 2.5 IFU: P8 2.1–2.4, P9 2.1–2.5", "aortic − LV pressure in heart failure"},
	{"impella-cp", 60, 3.0, 4.0, 4.3, "Abiomed CP FAQ, Hayes HTA: 3.0–4.0, up to 4.3", "aortic − LV pressure in heart failure"},
	{"impella-5.0", 60, 3.4, 5.0, 5.0, "RECOVER I 4.0 ± 0.6 (lower bound), Abiomed: up to 5.0", "aortic − LV pressure in heart failure"},
	{"impella-5.5", 60, 5.0, 6.2, 6.2, "Ramzy et al.: up to 6.2; above the 5.0's 5.0", "aortic − LV pressure in heart failure"},
	{"hemopump", 60, 2.5, 3.5, 3.5, "Butler, Moise & Wampler 1990: ≤ 3.5", "aortic − LV pressure in heart failure"},
	{"impella-rp", 20, 4.0, 5.0, 5.0, "FDA SSED, RECOVER RIGHT: > 4 (5.0 this project's bound)", "mean PA − RA pressure in RV failure"},
}

// TestProfileFlowAtP8: the HQ constants of every shipped profile are fitted
// to its published flow: steady, against its typical head, P8 delivers the
// published range and P9 no more than the device's most.
func TestProfileFlowAtP8(t *testing.T) {
	names := profile.Shipped()
	if len(names) != len(published) {
		t.Errorf("shipped profiles %v; the table has %d", names, len(published))
	}
	for _, c := range published {
		p, err := profile.Load(c.name, "")
		if err != nil {
			t.Fatal(err)
		}
		pp := pumpParams(p)
		p8 := pp.SteadyFlow(float64(p.Levels[8]), c.headmmHg)
		p9 := pp.SteadyFlow(float64(p.Levels[9]), c.headmmHg)
		t.Logf("%-12s against %2.0f mmHg (%s): P8 %.2f L/min, P9 %.2f; published %s", c.name, c.headmmHg, c.hHead, p8, p9, c.source)
		if p8 < c.p8Lo || p8 > c.p8Hi {
			t.Errorf("%s: P8 (%d rpm) delivers %.2f L/min against %g mmHg, outside the published %g–%g", c.name, p.Levels[8], p8, c.headmmHg, c.p8Lo, c.p8Hi)
		}
		if p9 < p8 || p9 > c.topLmin {
			t.Errorf("%s: P9 (%d rpm) delivers %.2f L/min, want between P8's %.2f and the published %g", c.name, p.Levels[9], p9, p8, c.topLmin)
		}
	}
}

// TestImpella25ProfileIsTodaysPump: the Impella 2.5 profile builds the very
// pump and firmware the simulated rig had before profiles (sim.Impella25,
// dutsim's defaults), so every test and golden made with them stands. Only
// the top speed is the 2.5's own: 51,000 rpm (P9), where it was VADLINK's
// 60,000; no level reaches past it.
func TestImpella25ProfileIsTodaysPump(t *testing.T) {
	p, err := profile.Load("impella-2.5", "")
	if err != nil {
		t.Fatal(err)
	}
	want := sim.Impella25()
	want.MaxRPM = 51000
	if got := pumpParams(p); got != want {
		t.Errorf("pump from the profile\n%+v\nwant sim.Impella25\n%+v", got, want)
	}
	fc := firmwareConfig(p)
	if *fc.Levels != dutsim.ImpellaLevels || fc.Model != "dutsim-impella" || fc.Quiet != 0 ||
		fc.OvercurrentmA != 1000 || fc.PurgeLowmmHg != 300 || fc.PurgeHighmmHg != 1100 || fc.SpeedDeviationRPM != 1000 {
		t.Errorf("firmware from the profile: %+v", fc)
	}
}

// TestImpella25ProfileStaysInIFUTable: with --dut impella-2.5 the default
// rig builds its pump and firmware from the Impella 2.5 profile; in the
// healthy heart, the failing heart and cardiogenic shock, commanded by
// level over VADLINK, the pump's mean flow (flow_dut, through the ADC)
// stays inside the IFU's range at every level P1–P9.
func TestImpella25ProfileStaysInIFUTable(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 200 s of simulated patient per preset")
	}
	var crit strings.Builder
	for _, lv := range []struct {
		name   string
		lo, hi float64
	}{{"P1", 0, 1.1}, {"P2", 0.8, 1.5}, {"P3", 1.1, 1.7}, {"P4", 1.3, 1.8}, {"P5", 1.5, 1.9}, {"P6", 1.7, 2.1}, {"P7", 1.8, 2.2}, {"P8", 2.1, 2.4}, {"P9", 2.1, 2.5}} {
		fmt.Fprintf(&crit, "          - {id: %s, when: dut.level == %s, measure: mean(flow_dut), between: [%g L/min, %g L/min]}\n", lv.name, lv.name, lv.lo, lv.hi)
	}
	for _, preset := range []string{"healthy", "heart_failure", "cardiogenic_shock"} {
		t.Run(preset, func(t *testing.T) {
			o := runDUT(t, impella25Config(t), header+`
  - set: {loop.preset: `+preset+`}
    hold: 20 s
  - name: levels
    sweep: {dut.level: [P1, P2, P3, P4, P5, P6, P7, P8, P9]}
    steps:
      - name: settle
        hold: 10 s
      - name: measure
        hold: 10 s
        criteria:
`+crit.String())
			for _, c := range o.res.Criteria {
				t.Logf("%s %.2f L/min %s", c.ID, *c.Value, c.Verdict)
			}
			if o.res.Outcome != runlog.OutcomePass || len(o.res.Criteria) != 9 {
				t.Fatalf("outcome %s %s, %d criteria", o.res.Outcome, o.res.AbortReason, len(o.res.Criteria))
			}
		})
	}
}

// TestLeftSidedProfilesAtP8InHeartFailure: on the default rig's failing
// heart, each left-sided profile at P8 delivers its published flow
// (REFERENCE.md, "The device family"): the 2.5 its IFU's P8 row, the CP
// 3.0–4.0 L/min (up to 4.3), the 5.0 RECOVER I's 4.0 ± 0.6 L/min, the 5.5
// up to 6.2 L/min (at least the 5.0's lower bound: a bigger pump), the
// Hemopump up to 3.5 L/min (at least the 2.5's P8).
func TestLeftSidedProfilesAtP8InHeartFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 40 s of simulated heart failure per profile")
	}
	for _, c := range []struct {
		profile string
		lo, hi  float64
	}{{"impella-2.5", 2.1, 2.4}, {"impella-cp", 3.0, 4.3}, {"impella-5.0", 3.4, 5.0}, {"impella-5.5", 3.4, 6.2}, {"hemopump", 2.1, 3.5}} {
		t.Run(c.profile, func(t *testing.T) {
			cfg := dutConfig(t)
			if err := cfg.SetDUTProfile(c.profile); err != nil {
				t.Fatal(err)
			}
			o := runDUT(t, cfg, header+fmt.Sprintf(`  - set: {loop.preset: heart_failure}
    hold: 20 s
  - set: {dut.level: P8}
    hold: 20 s
    criteria:
      - {id: P8, measure: mean(flow_dut), over: last 10 s, between: [%g L/min, %g L/min]}
`, c.lo, c.hi))
			for _, cr := range o.res.Criteria {
				t.Logf("%s at P8 in heart failure: %.2f L/min (%g–%g)", c.profile, *cr.Value, c.lo, c.hi)
			}
			if o.res.Outcome != runlog.OutcomePass {
				t.Fatalf("outcome %s %s", o.res.Outcome, o.res.AbortReason)
			}
		})
	}
}

// TestDUTProfileChosenIsSimulatedAndRecorded: with --dut impella-2.5 on
// the left-sided rig (whose own is the CP), the simulated DUT answers HELLO
// over its pty with the 2.5's model, takes the 2.5's level table, and the
// manifest records the profile by name and the SHA-256 of its file.
func TestDUTProfileChosenIsSimulatedAndRecorded(t *testing.T) {
	cfg := impella25Config(t)
	var target int
	withDUT(t, 5*time.Second, func(s *dutsim.Server) { target = s.Firmware().State().TargetRPM })
	const p8 = header + "  - set: {dut.level: P8}\n    hold: 6 s\n  - hold: 4 s\n"
	o := runDUT(t, cfg, p8)
	if o.res.Outcome != runlog.OutcomePass {
		t.Fatalf("outcome %s %s", o.res.Outcome, o.res.AbortReason)
	}
	if id := o.run.Manifest.DUT; id == nil || id.Model != "dutsim-impella" {
		t.Errorf("manifest DUT %+v, want the 2.5's HELLO model dutsim-impella", id)
	}
	data, err := os.ReadFile("../configs/duts/impella-2.5.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got, want := o.run.Manifest.DUTProfile, (runlog.DUTProfile{Name: "impella-2.5", SHA256: hex.EncodeToString(sum[:])}); got == nil || *got != want {
		t.Errorf("manifest dut_profile %+v, want %+v", got, want)
	}
	if target != 50000 {
		t.Errorf("P8 targets %d rpm, want the 2.5's 50000", target)
	}
	// The pump in the loop is the 2.5's too: at P8 it moves far less than
	// the rig's own Impella CP in the same loop.
	withDUT(t, time.Hour, func(*dutsim.Server) {}) // a probe of its own: target keeps the 2.5's
	ocp := runDUT(t, nil, p8)
	i25, cp := o.res.Steps[1].Channels["flow_dut"].Mean, ocp.res.Steps[1].Channels["flow_dut"].Mean
	t.Logf("P8, healthy loop: mean flow_dut %.2f L/min with the CP, %.2f with the 2.5", cp, i25)
	if cp < i25+0.5 {
		t.Errorf("P8 moves %.2f L/min with the CP profile, %.2f with the 2.5's: not the 2.5's pump", cp, i25)
	}
}

// TestRightSidedProfileRefusedOnLeftSidedRig: the Impella RP pumps from
// the right atrium into the pulmonary artery; the rig's pump sits LV →
// aorta, so --dut impella-rp is refused, saying why, and so is a rig
// config naming it, at its position.
func TestRightSidedProfileRefusedOnLeftSidedRig(t *testing.T) {
	cfg := dutConfig(t)
	err := cfg.SetDUTProfile("impella-rp")
	if err == nil || !strings.Contains(err.Error(), "pumps ra → pa; this rig's pump sits lv → aorta") {
		t.Errorf("--dut impella-rp: %v", err)
	}
	if cfg.DUT.Profile.Name != "impella-cp" {
		t.Errorf("a refused profile replaced the rig's: %s", cfg.DUT.Profile.Name)
	}
	src, err := os.ReadFile("../configs/rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(src), "  port: sim\n", "  port: sim\n  profile: impella-rp\n", 1)
	_, err = ParseConfig("sim.yaml", []byte(bad))
	line := 1 + strings.Count(bad[:strings.Index(bad, "profile: impella-rp")], "\n")
	if want := fmt.Sprintf("sim.yaml:%d:12: dut profile: DUT profile impella-rp pumps ra → pa", line); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("rig config naming impella-rp: %v\nwant %s", err, want)
	}
	bad = strings.Replace(string(src), "  port: sim\n", "  port: sim\n  profile: impella-cq\n", 1)
	if _, err = ParseConfig("sim.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), `no shipped DUT profile "impella-cq"; did you mean impella-cp?`) {
		t.Errorf("unknown profile: %v", err)
	}
}

// TestPlacementIsTheCirculations: on sim-rp.yaml the pump link runs
// RA → PA, so its Impella RP fits and a left-sided profile is refused at
// the line that names it, and by --dut.
func TestPlacementIsTheCirculations(t *testing.T) {
	cfg, err := LoadConfig("../configs/rigs/sim-rp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if in, out := cfg.pumpPlacement(); in != "ra" || out != "pa" || cfg.DUT.Profile.Name != "impella-rp" {
		t.Fatalf("sim-rp.yaml: pump %s → %s, profile %s", in, out, cfg.DUT.Profile.Name)
	}
	if err := cfg.SetDUTProfile("impella-cp"); err == nil || !strings.Contains(err.Error(), "pumps lv → aorta; this rig's pump sits ra → pa") {
		t.Errorf("--dut impella-cp on sim-rp.yaml: %v", err)
	}
	src, err := os.ReadFile("../configs/rigs/sim-rp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(src), "profile: impella-rp", "profile: impella-cp", 1)
	line := 1 + strings.Count(bad[:strings.Index(bad, "profile: impella-cp")], "\n")
	_, err = ParseConfig("sim-rp.yaml", []byte(bad))
	if want := fmt.Sprintf("sim-rp.yaml:%d:12: dut profile: DUT profile impella-cp pumps lv → aorta", line); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("sim-rp.yaml naming impella-cp: %v\nwant %s", err, want)
	}
}

// TestDUTSpeedsBeyondProfileRefused: a protocol may command no speed the
// chosen device refuses: on a rig allowing the 2.5's 51,000 rpm, --dut
// impella-cp (top 46,000 rpm) narrows dut.speed, so 50,000 rpm is refused
// when the protocol is checked, not by the device mid-run; a rig config
// allowing more than its profile's top is refused at the position of the
// range.
func TestDUTSpeedsBeyondProfileRefused(t *testing.T) {
	const fast = header + "  - set: {dut.speed: 50000 rpm}\n    hold: 1 s\n"
	src, err := os.ReadFile("../configs/rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const cpRange = "dut.speed: {min: 0 rpm, max: 46000 rpm}"
	rig25 := strings.Replace(strings.Replace(string(src), cpRange, "dut.speed: {min: 0 rpm, max: 51000 rpm}", 1), "profile: impella-cp", "profile: impella-2.5", 1)
	cfg, err := ParseConfig("../configs/rigs/sim.yaml", []byte(rig25))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protocols.Parse("p.yaml", []byte(fast), cfg.Info()); err != nil {
		t.Fatalf("50,000 rpm on the 2.5: %v", err)
	}
	if err := cfg.SetDUTProfile("impella-cp"); err != nil {
		t.Fatal(err)
	}
	if _, err := protocols.Parse("p.yaml", []byte(fast), cfg.Info()); err == nil || !strings.Contains(err.Error(), "46000") {
		t.Errorf("50,000 rpm on the CP: %v", err)
	}
	bad := strings.Replace(string(src), cpRange, "dut.speed: {min: 0 rpm, max: 51000 rpm}", 1)
	line := 1 + strings.Count(bad[:strings.Index(bad, "dut.speed: {min")], "\n")
	_, err = ParseConfig("sim.yaml", []byte(bad))
	if want := fmt.Sprintf("sim.yaml:%d:14: dut.speed max 51000 rpm is above DUT profile impella-cp's top speed (46000 rpm)", line); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("rig config: %v\nwant %s", err, want)
	}
}

// markInterrupted makes the closed run in dir one its process left
// interrupted: its manifest says so, and it has no seal, as if recovery
// had been killed before sealing (runlog.CheckResumable).
func markInterrupted(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, "manifest.json")
	m, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m = bytes.Replace(m, []byte(`"state": "closed"`), []byte(`"state": "interrupted"`), 1)
	if err := os.WriteFile(path, m, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, runlog.SealFile)); err != nil {
		t.Fatal(err)
	}
}

// TestResumeKeepsTheDUTProfile: a run made with --dut impella-2.5 resumes
// only with that profile: on the rig config's own (the CP) it is refused,
// saying which it ran with.
func TestResumeKeepsTheDUTProfile(t *testing.T) {
	cfg := impella25Config(t)
	const src = header + "  - set: {dut.level: P2}\n    hold: 1 s\n"
	o := runDUT(t, cfg, src)
	markInterrupted(t, o.run.Dir)
	sum := sha256.Sum256([]byte(src))
	sha := hex.EncodeToString(sum[:])
	if _, err := planResume(o.run.Dir, dutConfig(t), []byte(src), sha); !errors.Is(err, ErrCannotResume) || !strings.Contains(err.Error(), "ran with DUT profile impella-2.5") {
		t.Errorf("resumed with the CP: %v", err)
	}
	if _, err := planResume(o.run.Dir, cfg, []byte(src), sha); err != nil {
		t.Errorf("resumed with the 2.5: %v", err)
	}
}
