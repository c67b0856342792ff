package rig

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/dut/dutsim"
	"github.com/mockloop/mockloop/dut/profile"
	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/sim"
)

// pumpPlacement is where the rig's DUT pumps from and to: the nodes of
// the pump link of its simulated circulation; without one, where the
// bench's plumbing puts it (dut.placement); else from the LV into the
// aorta — Simaan's loop and the bench's mock loop are left hearts. A DUT
// profile must sit there (profile.Fits).
func (c *Config) pumpPlacement() (inlet, outlet string) {
	if c.Sim.Circulation != nil {
		for _, l := range c.Sim.Circulation.Links {
			if l.Kind == sim.Pump {
				return l.From, l.To
			}
		}
	}
	if c.DUT != nil && c.DUT.Placement[0] != "" {
		return c.DUT.Placement[0], c.DUT.Placement[1]
	}
	return "lv", "aorta"
}

// dutProfile decodes dut.profile (a shipped profile's name or a file
// relative to the rig config). Whether it fits the rig's placement is a
// cross-section check (fitsPlacement): the circulation is decoded later.
func (c *Config) dutProfile(e *strictyaml.Errors, n *strictyaml.Node) *profile.Profile {
	ref, ok := e.Scalar(n, "dut profile")
	if !ok {
		return nil
	}
	p, err := profile.Load(ref, c.dir())
	if err != nil {
		e.At(n, "dut profile: %v", err)
		return nil
	}
	return p
}

// fitsPlacement says why profile p cannot be the rig's DUT, or "".
func (c *Config) fitsPlacement(p *profile.Profile) string {
	return p.Fits(c.pumpPlacement())
}

// dir is the directory of the rig config, against which its relative
// paths are read.
func (c *Config) dir() string {
	return filepath.Dir(strings.TrimSuffix(c.File, embeddedSuffix))
}

// SetDUTProfile makes ref the DUT's profile in place of the one the rig
// config names (`mockloop run --dut`): a shipped profile's name, or a file
// relative to the working directory. It fails, saying why, when the rig
// has no DUT, when the profile is invalid, and when it does not fit the
// rig's pump placement.
func (c *Config) SetDUTProfile(ref string) error {
	if c.DUT == nil {
		return fmt.Errorf("rig %s has no DUT: --dut %s has nothing to profile", c.Name, ref)
	}
	p, err := profile.Load(ref, ".")
	if err != nil {
		return fmt.Errorf("--dut %s: %w", ref, err)
	}
	if why := c.fitsPlacement(p); why != "" {
		return fmt.Errorf("--dut %s: %s", ref, why)
	}
	if why := safeAboveTop(c.DUT.Safe, p); why != "" {
		return fmt.Errorf("--dut %s: %s", ref, why)
	}
	c.DUT.Profile = p
	// Protocols may command no speed the device refuses.
	if r, ok := c.Params[dutSpeed]; ok && r.Max != nil && *r.Max > float64(p.MaxRPM) {
		top := float64(p.MaxRPM)
		r.Max = &top
		c.Params[dutSpeed] = r
	}
	return nil
}

// dutSpeed is the parameter of the DUT's speed.
const dutSpeed = "dut.speed"

// safeAboveTop says why the DUT's safe speed is one profile p refuses, or
// "" if it is not.
func safeAboveTop(s DUTSafe, p *profile.Profile) string {
	if s.Mode == dut.ModeSpeed && s.RPM > p.MaxRPM {
		return fmt.Sprintf("dut safe speed %d rpm is above DUT profile %s's top speed (%d rpm)", s.RPM, p.Name, p.MaxRPM)
	}
	return ""
}

// checkDUTSpeeds refuses speeds the config allows and its DUT's profile
// does not: dut.speed's range and the safe speed.
func (d *configDoc) checkDUTSpeeds() {
	c := d.c
	if c.DUT == nil || c.DUT.Profile == nil {
		return
	}
	p := c.DUT.Profile
	if why := safeAboveTop(c.DUT.Safe, p); why != "" {
		d.e.At(field(d.kvs, "dut"), "%s", why)
	}
	if r, ok := c.Params[dutSpeed]; ok && r.Max != nil && *r.Max > float64(p.MaxRPM) {
		d.e.At(d.paramNs[dutSpeed].Value, "%s max %g rpm is above DUT profile %s's top speed (%d rpm)", dutSpeed, *r.Max, p.Name, p.MaxRPM)
	}
}

// SimDUTConfig is the simulated firmware of DUT profile ref (a shipped
// profile's name or a file), for `mockloop dut-sim --profile`: a device on
// a pty with no loop around it, so any placement will do.
func SimDUTConfig(ref string) (dutsim.Config, error) {
	p, err := profile.Load(ref, ".")
	if err != nil {
		return dutsim.Config{}, fmt.Errorf("--profile %s: %w", ref, err)
	}
	return firmwareConfig(p), nil
}

// pumpParams are the simulated pump's constants from the DUT's profile.
func pumpParams(p *profile.Profile) sim.PumpParams {
	a := &p.Alarms
	return sim.PumpParams{
		Beta: p.HQ.Beta, R: p.HQ.R, K: p.HQ.K, L: p.HQ.L,
		SuctionThreshold: a.SuctionBelowmmHg, SuctionGain: a.SuctionGain, SuctionLatch: a.SuctionLatch,
		MaxRPM:      float64(p.MaxRPM),
		CurrentIdle: p.Motor.IdlemA, CurrentSpeed: p.Motor.SpeedmA, CurrentFlow: p.Motor.FlowmA,
		BackEMF: p.Motor.BackEMF, Winding: p.Motor.Winding,
		Purge: p.PurgemmHg,
	}
}

// sensedAlarms are the alarms a pump's sensors raise (all but the
// host-link watchdog's).
const sensedAlarms = dut.AlarmSuction | dut.AlarmOvercurrent | dut.AlarmPurgeLow | dut.AlarmPurgeHigh | dut.AlarmSpeedDeviation

// firmwareConfig is the simulated firmware's identity, level table, top
// speed and alarms from the DUT's profile; the caller adds the rest.
func firmwareConfig(p *profile.Profile) dutsim.Config {
	levels := p.Levels
	a := &p.Alarms
	return dutsim.Config{
		Model: p.Model, Levels: &levels, TopRPM: p.MaxRPM, Quiet: sensedAlarms &^ a.Raises,
		OvercurrentmA: a.OvercurrentmA, PurgeLowmmHg: a.PurgeLowmmHg, PurgeHighmmHg: a.PurgeHighmmHg,
		SpeedDeviationRPM: a.SpeedDeviationRPM,
	}
}

// dutProfileRef is the manifest's record of the DUT's profile, nil
// without a DUT.
func dutProfileRef(cfg *Config) *runlog.DUTProfile {
	if cfg.DUT == nil || cfg.DUT.Profile == nil {
		return nil
	}
	return &runlog.DUTProfile{Name: cfg.DUT.Profile.Name, SHA256: cfg.DUT.Profile.SHA256}
}
