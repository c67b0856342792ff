package rig

import (
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/pumpctl/mcp4725"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/sim"
)

// wrapPlant has the runs of test t build their plant as newPlant does and
// run it wrapped: a probe of the plant's parts.
func wrapPlant(t *testing.T, wrap func(p *busPlant, clk clock.Clock) Plant) {
	t.Helper()
	orig := plantFor
	plantFor = func(cfg *Config, clk clock.Clock, cals map[string]daq.Calibration) (Plant, error) {
		pl, err := newPlant(cfg, clk, cals)
		if err != nil {
			return nil, err
		}
		return wrap(pl.(*busPlant), clk), nil
	}
	t.Cleanup(func() { plantFor = orig })
}

// rightHeartSnap is what the right heart's actuators hold at one instant:
// the RV drive's DAC register as the emulated chip answers it over the
// bus, the pulmonary valve's duty as its driver wrote it, and what the
// physics took from them.
type rightHeartSnap struct {
	code         uint16  // the RV drive MCP4725's DAC register
	duty         float64 // the pulmonary valve's PCA9685 duty
	drive, pulmR float64 // the rv chamber's drive, the pulmonary link's resistance
}

// rightHeartProbe snapshots the right heart at the given times of a run.
type rightHeartProbe struct {
	Plant
	clk   clock.Clock
	at    []time.Duration
	snaps []rightHeartSnap
	t     *testing.T
}

func (p *rightHeartProbe) Read(dst []float64) (int64, error) {
	if len(p.snaps) < len(p.at) && p.clk.Now() >= p.at[len(p.snaps)] {
		bp := p.Plant.(*busPlant)
		st, err := bp.rvDrive.Out.(*mcp4725.Dev).Read()
		if err != nil {
			p.t.Errorf("reading the RV drive's DAC: %v", err)
		}
		drive, _ := bp.bench.Loop().Drive(sim.NodeRV)
		r, _ := bp.bench.Loop().Resistance(sim.LinkPulmonary)
		p.snaps = append(p.snaps, rightHeartSnap{st.Code, bp.pulmonary.Out.(*pumpctl.Valve).Duty(), drive, r})
	}
	return p.Plant.Read(dst)
}

// TestRightHeartParametersActThroughTheEmulatedChips: on the simulated rig
// loop.rv_contractility and loop.pulmonary_resistance reach the patient
// through the RV drive's MCP4725 and the pulmonary valve's PCA9685 channel,
// as a bench's would, not by a way around the bus: the DAC's register holds
// the drive's code and the rv chamber's drive is that code, the link's
// resistance the valve law at the written duty; before either is set the
// patient is as its circulation declares (40 %, 0.08 mmHg·s/ml). The RV
// weakened, the pulmonary arterial pressure falls and the right atrial one
// rises; the pulmonary resistance raised, the pulmonary arterial pressure
// rises.
func TestRightHeartParametersActThroughTheEmulatedChips(t *testing.T) {
	probe := &rightHeartProbe{at: []time.Duration{19 * time.Second, 39 * time.Second, 59 * time.Second}, t: t}
	wrapPlant(t, func(p *busPlant, clk clock.Clock) Plant {
		probe.Plant, probe.clk = p, clk
		return probe
	})
	crit := func(id string) string {
		return "    criteria:\n      - {id: " + id + "P, measure: mean(pap), over: last 5 s, min: -1000 mmHg}\n" +
			"      - {id: " + id + "R, measure: mean(rap), over: last 5 s, min: -1000 mmHg}\n"
	}
	o := runDUT(t, nil, header+"  - set: {loop.preset: healthy}\n    hold: 20 s\n"+crit("A")+
		"  - set: {loop.rv_contractility: 10 %}\n    hold: 20 s\n"+crit("B")+
		"  - set: {loop.pulmonary_resistance: 0.3 mmHg·s/ml}\n    hold: 20 s\n"+crit("C"))
	if o.res.Outcome != runlog.OutcomePass || len(o.res.Criteria) != 6 || len(probe.snaps) != 3 {
		t.Fatalf("outcome %s (%s), %d criteria, %d snapshots", o.res.Outcome, o.res.AbortReason, len(o.res.Criteria), len(probe.snaps))
	}
	valve := pumpctl.ResistanceValve{ROpen: 0.02, MaxDuty: 0.9} // sim.yaml's pulmonary_valve
	for i, want := range []struct{ drive, r float64 }{{40, 0.08}, {10, 0.08}, {10, 0.3}} {
		s := probe.snaps[i]
		if code := uint16(math.Round(want.drive / 100 * 4096)); s.code != code || s.drive != float64(code)/4096 {
			t.Errorf("step %d: RV drive %g %%: DAC register %d (want %d), rv chamber's drive %g (want %g)", i+1, want.drive, s.code, code, s.drive, float64(code)/4096)
		}
		if math.Abs(s.pulmR-valve.Resistance(s.duty)) > 1e-12 || math.Abs(s.pulmR-want.r) > 0.002*want.r {
			t.Errorf("step %d: pulmonary resistance %g: valve at duty %g, the link at %g mmHg·s/ml", i+1, want.r, s.duty, s.pulmR)
		}
	}
	v := func(i int) float64 { return *o.res.Criteria[i].Value }
	t.Logf("mean PAP, RAP: healthy %.1f, %.1f; RV at 10 %% %.1f, %.1f; and PVR 0.3 %.1f, %.1f mmHg", v(0), v(1), v(2), v(3), v(4), v(5))
	if !(v(2) < v(0)-2 && v(3) > v(1)+1) {
		t.Errorf("RV 40 → 10 %%: mean PAP %.1f → %.1f, RAP %.1f → %.1f mmHg; want PAP down by 2 mmHg or more, RAP up by 1", v(0), v(2), v(1), v(3))
	}
	if !(v(4) > v(2)+1) {
		t.Errorf("pulmonary resistance 0.08 → 0.3 mmHg·s/ml: mean PAP %.1f → %.1f mmHg; want up by 1 mmHg or more", v(2), v(4))
	}
}

// TestRightHeartSafeOnTrip: a safety trip (the e-stop) leaves the RV drive
// at 0 V, the RV pump stopped, and the pulmonary valve at its safe duty
// (sim.yaml: 0 %, fully open), on the chips and so in the patient.
func TestRightHeartSafeOnTrip(t *testing.T) {
	var plant *busPlant
	wrapPlant(t, func(p *busPlant, clk clock.Clock) Plant {
		plant = p
		return &benchProbe{Plant: p, at: 20 * time.Second, do: func(b *sim.Bench) { b.PressEStop(true) }, clk: clk}
	})
	o := runDUT(t, nil, header+"  - set: {loop.preset: rv_failure, loop.rv_contractility: 30 %, loop.pulmonary_resistance: 0.2 mmHg·s/ml}\n    hold: 40 s\n")
	if o.res.Outcome != runlog.OutcomeAborted || o.res.AbortReason != "emergency stop pressed" {
		t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
	}
	if code, _ := plant.rvDrive.Out.(*mcp4725.Dev).Code(); code != 0 {
		t.Errorf("RV drive's DAC left at code %d, want 0 (the pump stopped)", code)
	}
	if d, _ := plant.bench.Loop().Drive(sim.NodeRV); d != 0 {
		t.Errorf("the rv chamber's drive %g after the trip, want 0", d)
	}
	out := plant.pulmonary.Out.(*pumpctl.Valve)
	if out.Duty() != out.SafeDuty() || out.SafeDuty() != 0 {
		t.Errorf("pulmonary valve at duty %g, want its safe duty %g (sim.yaml: 0 %%)", out.Duty(), out.SafeDuty())
	}
	if r, _ := plant.bench.Loop().Resistance(sim.LinkPulmonary); math.Abs(r-plant.pulmonary.ROpen) > 1e-12 {
		t.Errorf("pulmonary resistance %g mmHg·s/ml after the trip, want the valve's open %g", r, plant.pulmonary.ROpen)
	}
}

// TestRightHeartPartsNeedTheCirculation: on a simulated rig the RV drive
// and the pulmonary valve act on the circulation's rv chamber and
// pulmonary resistance; sim-loop-only.yaml's left heart has neither, and
// the config says so at the part.
func TestRightHeartPartsNeedTheCirculation(t *testing.T) {
	data, err := os.ReadFile("../configs/rigs/sim-loop-only.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "  pwm: {address: 0x40"
	for _, c := range []struct{ line, want string }{
		{"  rv_drive: {address: 0x61, vref: 5 V, full_scale: 100 %}\n", "rig.yaml:%d:13: rv_drive drives the circulation's chamber rv; this rig's circulation has none"},
		{"  pulmonary_valve: {channel: 2, open: 0.02 mmHg·s/ml}\n", "rig.yaml:%d:20: pulmonary_valve sets the circulation's resistance pulmonary; this rig's circulation has none"},
	} {
		i := strings.Index(string(data), anchor)
		if i < 0 {
			t.Fatalf("sim-loop-only.yaml has no %q", anchor)
		}
		src := string(data[:i]) + c.line + string(data[i:])
		_, err := ParseConfig("rig.yaml", []byte(src))
		want := strings.Replace(c.want, "%d", strconv.Itoa(1+strings.Count(src[:i], "\n")), 1)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", strings.TrimSpace(c.line), err, want)
		}
	}
}

// TestPiMCLRPAcceptsARightHeartProtocol: the right-heart bench places the
// Impella RP from the right atrium to the pulmonary artery (dut.placement)
// and accepts a protocol that sets the RV's contractility, the pulmonary
// resistance and the RP's level; without the placement its profile does
// not fit, and pi-mcl.yaml, which has no right heart, refuses the
// protocol.
func TestPiMCLRPAcceptsARightHeartProtocol(t *testing.T) {
	const src = "protocol: 1\nname: rp\nrequires: [rap, pap, flow_pa]\nsteps:\n" +
		"  - set: {loop.preset: rv_failure, loop.rv_contractility: 10 %, loop.pulmonary_resistance: 0.2 mmHg·s/ml, dut.level: P8}\n" +
		"    hold: 30 s\n"
	cfg, err := LoadConfig("../configs/rigs/pi-mcl-rp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if in, out := cfg.pumpPlacement(); in != "ra" || out != "pa" || cfg.DUT.Profile.Name != "impella-rp" {
		t.Errorf("placement %s → %s, profile %s", in, out, cfg.DUT.Profile.Name)
	}
	if cfg.Hardware.RVDrive == nil || cfg.Hardware.RVDrive.Address != 0x61 || cfg.Hardware.Pulmonary == nil || cfg.Hardware.Pulmonary.Channel != 2 {
		t.Errorf("right heart's parts: %+v, %+v", cfg.Hardware.RVDrive, cfg.Hardware.Pulmonary)
	}
	if _, err := protocols.Parse("rp.yaml", []byte(src), cfg.Info()); err != nil {
		t.Errorf("pi-mcl-rp.yaml refuses a right-heart protocol: %v", err)
	}
	data, err := os.ReadFile("../configs/rigs/pi-mcl-rp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const placement = "  placement: {inlet: ra, outlet: pa}\n"
	if !strings.Contains(string(data), placement) {
		t.Fatalf("pi-mcl-rp.yaml has no %q", placement)
	}
	line := strconv.Itoa(1 + strings.Count(string(data[:strings.Index(string(data), placement)]), "\n"))
	for _, c := range []struct{ placement, want string }{
		{"", "rig.yaml:%d:12: dut profile: DUT profile impella-rp pumps ra → pa; this rig's pump sits lv → aorta"},
		{"  placement: {inlet: ra}\n", "rig.yaml:%d:14: dut placement needs an inlet and an outlet"},
		{"  placement: {inlet: ra, outlet: ra}\n", "rig.yaml:%d:14: dut placement: inlet and outlet are both ra"},
		{"  placement: {inlet: \"r a\", outlet: pa}\n", `rig.yaml:%d:22: dut placement inlet: node "r a": a name is a letter`},
		{"  placement: {inlet: ra, outlet: pa, via: rv}\n", `rig.yaml:%d:38: unknown key "via" in dut placement`},
	} {
		_, err = ParseConfig("rig.yaml", []byte(strings.Replace(string(data), placement, c.placement, 1)))
		at := line
		if c.placement == "" { // the profile's line, above
			at = strconv.Itoa(1 + strings.Count(string(data[:strings.Index(string(data), "  profile: impella-rp")]), "\n"))
		}
		if want := strings.Replace(c.want, "%d", at, 1); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("placement %q: %v, want %q", c.placement, err, want)
		}
	}
	left, err := LoadConfig("../configs/rigs/pi-mcl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protocols.Parse("rp.yaml", []byte(src), left.Info()); err == nil || !strings.Contains(err.Error(), "does not support parameter loop.rv_contractility") {
		t.Errorf("pi-mcl.yaml: %v, want loop.rv_contractility refused", err)
	}
}
