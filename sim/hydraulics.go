package sim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/mockloop/mockloop/clock"
)

// HydraulicsConfig is a hybrid loop's bench (issue 21): two chambers
// around the device under test (BenchConfig.Pump, required), each filled
// or drained by a servo-driven gear pump (a "drive") from the reservoir.
// The patient is then no part of the bench: it is a numerical network in
// the controller, whose pressures at the device's inlet and outlet the
// controller makes the chambers follow through the drives.
//
// The drives are bidirectional gear pumps, not a drain valve and a fill
// line: a valve only lets fluid out of a chamber, so an outlet chamber
// fed by the device alone could not be held at aortic pressure when the
// device is stopped or its flow runs backward, as it does in a weaning
// or a suction. A gear pump moves what it is told either way, whatever
// the chamber's pressure, which is also what makes it a clean actuator for
// a pressure servo: the chamber is an integrator of the drive's flow.
//
// The chambers are named after the model nodes they stand for (lv and
// aorta around an Impella CP, ra and pa around an Impella RP), so that
// the bench's existing signals measure them (lvp, aop, rap, pap) and the
// rig's sensor roles need no new ones; a name no signal reads is refused.
type HydraulicsConfig struct {
	Inlet, Outlet                     string  // the chambers' node names: the model nodes they stand for
	InletCompliance, OutletCompliance float64 // ml/mmHg: air-cushioned chambers (e.g. 0.05)
	InletPressure, OutletPressure     float64 // at the start, mmHg
	// DriveFullScale is either drive's flow at its DAC's Vref, ml/s. The
	// drives are bipolar on a unipolar DAC: 0 V is −DriveFullScale (out of
	// the chamber into the reservoir), Vref/2 is stopped, so that a DAC
	// reset to mid-scale, or a controller that writes mid-scale to hold a
	// chamber, moves nothing. The bench's DACs hold mid-scale in their
	// EEPROM and so power up stopped (newDriveDAC); but 0 V, a DAC's
	// power-down output and the LV drive's safe state, drains a chamber
	// at full scale: a controller stops a drive by writing Vref/2.
	DriveFullScale float64
	// DriveResponse is the first-order time constant of the drives'
	// servo (e.g. 5 ms): a drive's flow follows its command through it.
	// 0: at once.
	DriveResponse time.Duration
}

// The names of a hybrid bench's network besides its chambers.
const (
	NodeReservoir   = "reservoir"    // the fluid the drives take from and give to
	LinkDUT         = "dut"          // the device under test, inlet → outlet
	LinkInletDrive  = "inlet_drive"  // reservoir → inlet chamber
	LinkOutletDrive = "outlet_drive" // reservoir → outlet chamber
)

// reservoirCompliance is the reservoir's, ml/mmHg: large enough that its
// pressure stays within 0.1 mmHg of 0 for a litre moved. Nothing reads
// it (a source's flow does not depend on the pressures), but the network
// conserves its volume.
const reservoirCompliance = 1e4

// chamberSignals are the node names a hybrid bench's chamber may take:
// those a bench signal reads.
var chamberSignals = []string{NodeLV, NodeLA, NodeAorta, "ra", "pa"}

// validate reports the first field of h out of range.
func (h *HydraulicsConfig) validate() error {
	for _, c := range []struct{ what, name string }{{"inlet", h.Inlet}, {"outlet", h.Outlet}} {
		if !slices.Contains(chamberSignals, c.name) {
			return fmt.Errorf("sim: hydraulics: %s chamber %q: no bench signal reads it; name it after the model node it stands for, one of %v", c.what, c.name, chamberSignals)
		}
	}
	if h.Inlet == h.Outlet {
		return fmt.Errorf("sim: hydraulics: inlet and outlet are both %s", h.Inlet)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"inlet compliance", h.InletCompliance}, {"outlet compliance", h.OutletCompliance}, {"drive full scale", h.DriveFullScale}} {
		if !positive(f.v, false) {
			return fmt.Errorf("sim: hydraulics: %s %g must be finite and > 0", f.name, f.v)
		}
	}
	for _, p := range []float64{h.InletPressure, h.OutletPressure} {
		if math.IsNaN(p) || math.IsInf(p, 0) {
			return fmt.Errorf("sim: hydraulics: initial chamber pressure %g mmHg is not finite", p)
		}
	}
	if h.DriveResponse < 0 {
		return fmt.Errorf("sim: hydraulics: drive response %v is negative", h.DriveResponse)
	}
	return nil
}

// checkHydraulics checks a hybrid bench's config: the chambers, the
// device between them, both drives' DACs, and none of the parts of a
// bench whose loop is the patient (its network, preload, pulmonary valve).
func (cfg *BenchConfig) checkHydraulics() error {
	h := cfg.Hydraulics
	if err := h.validate(); err != nil {
		return err
	}
	switch {
	case cfg.Pump == nil:
		return errors.New("sim: hydraulics: the hybrid bench needs its device under test (Pump) between the chambers")
	case cfg.Network != nil:
		return errors.New("sim: hydraulics: the hybrid bench's patient is the controller's model, not a Network on the bench")
	case cfg.Preload != nil || cfg.PulmonaryValve != nil:
		return errors.New("sim: hydraulics: the hybrid bench has no preload or pulmonary valve: its drives hold the chambers")
	case cfg.RVDrive == nil:
		return errors.New("sim: hydraulics: the hybrid bench needs its second DAC (RVDrive) for the outlet drive")
	case !(cfg.DACVref > 0) || math.IsInf(cfg.DACVref, 0) || !(cfg.RVDrive.Vref > 0) || math.IsInf(cfg.RVDrive.Vref, 0):
		return errors.New("sim: hydraulics: both drives' DACs need a reference voltage, finite and > 0")
	}
	return nil
}

// The inlet chamber's collapsible sleeve around the device's inlet: the
// liquid it holds at 0 mmHg (ml) and the collapse law below that
// (NodeSpec.Collapse), the numerical patient's ventricles'. A rigid
// chamber never closes on the device's inlet, so a pump sucking it would
// only lower its pressure; the sleeve, like a mock loop's silicone
// ventricle, closes below 0 mmHg, and the device's suction resistance
// engages there as it does in the numerical patient's collapsing LV
// (PumpParams.SuctionThreshold, Loop.suctionThreshold). Against the
// chamber's stiffness (1 ml is 20 mmHg at 0.05 ml/mmHg) the law adds
// little to its pressure.
const (
	inletSleeve   = 100.0 // ml
	inletCollapse = 5.0   // ml
)

// newHydraulicLoop is a hybrid bench's physics: the chambers h.Inlet and
// h.Outlet (compliances at their initial pressures; the inlet's with a
// collapsible sleeve, inletSleeve), the reservoir, the device pp between
// the chambers and the drives' sources. Its roles are by name:
// the chamber named lv is the lv role, aorta the ao, and so on; the
// others are -1, and the loop's accessors read 0 for them.
func newHydraulicLoop(h HydraulicsConfig, pp PumpParams) (*Loop, error) {
	spec := NetworkSpec{
		Nodes: []NodeSpec{
			{Name: h.Inlet, C: h.InletCompliance, V0: inletSleeve, Collapse: inletCollapse, Volume: inletSleeve + h.InletCompliance*h.InletPressure},
			{Name: h.Outlet, C: h.OutletCompliance, Volume: h.OutletCompliance * h.OutletPressure},
			{Name: NodeReservoir, C: reservoirCompliance},
		},
		Links: []LinkSpec{
			{Name: LinkDUT, Kind: Pump, From: h.Inlet, To: h.Outlet, Pump: &pp},
			{Name: LinkInletDrive, Kind: Source, From: NodeReservoir, To: h.Inlet},
			{Name: LinkOutletDrive, Kind: Source, From: NodeReservoir, To: h.Outlet},
		},
	}
	nw, err := NewNetwork(spec)
	if err != nil {
		return nil, err
	}
	r := netRoles{lv: nw.Node(NodeLV), la: nw.Node(NodeLA), ao: nw.Node(NodeAorta), ra: nw.Node("ra"), rv: -1, pa: nw.Node("pa"),
		systemic: -1, pump: nw.Link(LinkDUT)}
	l := &Loop{net: nw, roles: r, h: substep}
	l.c.pump, l.c.pp = true, *nw.links[r.pump].Pump
	return l, nil
}

// hydraulic is the state of a hybrid bench's two drives, 0 the inlet's
// and 1 the outlet's; Bench.mu guards it.
type hydraulic struct {
	fullScale float64 // ml/s
	tau       float64 // the servo's time constant, s
	link      [2]int  // the drives' source links
	cmd       [2]float64
	q         [2]float64 // each drive's flow at the loop's model time, ml/s
	seized    [2]bool    // stopped for good, deaf to its DAC (SeizeDrive)
}

func newHydraulic(h *HydraulicsConfig, l *Loop) *hydraulic {
	return &hydraulic{
		fullScale: h.DriveFullScale, tau: h.DriveResponse.Seconds(),
		link: [2]int{l.net.Link(LinkInletDrive), l.net.Link(LinkOutletDrive)},
	}
}

// command sets drive i's commanded flow from its DAC's volts: bipolar,
// stopped at vref/2.
func (h *hydraulic) command(i int, volts, vref float64) {
	// The DAC cannot leave 0..Vref.
	if !h.seized[i] {
		h.cmd[i] = (min(max(volts, 0), vref)/vref*2 - 1) * h.fullScale
	}
}

// Drives of a hybrid bench, for SeizeDrive.
const (
	InletDrive  = 0
	OutletDrive = 1
)

// SeizeDrive seizes a hybrid bench's drive (InletDrive or OutletDrive) at
// the clock's now: it stops within its response and takes no command
// after, as a jammed gear pump or a stuck valve would. The fault a hybrid
// rig's divergence watch is for.
func (b *Bench) SeizeDrive(i int) error {
	if b.hyd == nil || i < 0 || i > 1 {
		return fmt.Errorf("sim: no hybrid bench drive %d to seize", i)
	}
	b.lockAdvance(b.clk.Now())
	defer b.mu.Unlock()
	b.hyd.seized[i], b.hyd.cmd[i] = true, 0
	return nil
}

// advance takes l to now in steps of at most its own (1 ms). Over each
// step every drive's source holds its servo's mean flow over the step,
// which moves exactly the volume the lagged flow does, and the flow at
// the step's end carries on into the next: exact for the first-order lag
// at any step length, with the solver's zero-order hold on its inputs.
func (h *hydraulic) advance(l *Loop, now time.Duration) {
	for l.t < now {
		next := min(now, l.t+l.h)
		dt := (next - l.t).Seconds()
		for i := range h.q {
			mean, end := h.cmd[i], h.cmd[i]
			if h.tau > 0 {
				a := -math.Expm1(-dt / h.tau) // the share of the way to the command covered
				end = h.q[i] + (h.cmd[i]-h.q[i])*a
				mean = h.cmd[i] + (h.q[i]-h.cmd[i])*h.tau/dt*a
			}
			_ = l.net.SetSourceFlow(h.link[i], mean) // finite: the command is
			h.q[i] = end
		}
		l.AdvanceTo(next)
	}
}

// newDriveDAC is a hybrid bench's drive DAC: an MCP4725 whose EEPROM
// holds mid-scale, as a bipolar drive's must, so that it powers up (and
// comes back from a Reset) with its drive stopped; one at the chip's
// factory 0 V would drain its chamber at full scale until the controller
// first wrote it.
func newDriveDAC(clk clock.Clock, vref float64, onChange func(now time.Duration, volts float64)) *MCP4725 {
	m := NewMCP4725(clk, vref, onChange)
	m.code, m.eeCode, m.out = mcp4725Mid, mcp4725Mid, vref*mcp4725Mid/4096
	return m
}

// mcp4725Mid is the MCP4725's mid-scale code: Vref/2, a drive stopped.
const mcp4725Mid = 2048
