package sim

import (
	"fmt"
	"time"
)

// netRoles are the nodes and links of a network a Loop reads and drives by
// their names, resolved once: the bench's sensors (lvp, aop, lap, flow_ao,
// flow_dut, lv_volume and the right heart's rap, pap, rv_volume), its
// resistance valve (the link "systemic") and the pump (the network's first
// pump link). -1: the network has none.
type netRoles struct {
	lv, la, ao, ra, rv, pa int // nodes
	systemic, pump         int // links
}

// Node names a network must have for a Loop, and the link the bench's
// resistance valve sets.
const (
	NodeLV       = "lv"
	NodeLA       = "la"
	NodeAorta    = "aorta"
	LinkSystemic = "systemic"

	NodeRV        = "rv"        // the right ventricle, whose drive loop.rv_contractility sets
	LinkPulmonary = "pulmonary" // the pulmonary resistance, loop.pulmonary_resistance
)

// NewNetworkLoop returns a Loop whose circulation is the network of spec
// instead of Simaan's circuit: the bench drives and reads it alike. The
// network needs the nodes lv (a chamber), la (a compliance: the bench's
// fill and preload lines join it) and aorta, and a resistance named
// systemic, the bench's resistance valve. Its first pump link, if any, is
// the device under test.
func NewNetworkLoop(spec NetworkSpec) (*Loop, error) {
	nw, err := NewNetwork(spec)
	if err != nil {
		return nil, err
	}
	r := netRoles{lv: nw.Node(NodeLV), la: nw.Node(NodeLA), ao: nw.Node(NodeAorta), ra: nw.Node("ra"), rv: nw.Node("rv"), pa: nw.Node("pa"),
		systemic: nw.Link(LinkSystemic), pump: -1}
	switch {
	case r.lv < 0 || nw.nodes[r.lv].C > 0:
		return nil, fmt.Errorf("sim: the network needs a chamber named %s", NodeLV)
	case r.la < 0 || nw.nodes[r.la].C == 0:
		return nil, fmt.Errorf("sim: the network needs a compliance named %s", NodeLA)
	case r.ao < 0:
		return nil, fmt.Errorf("sim: the network needs a node named %s", NodeAorta)
	case r.systemic < 0 || nw.links[r.systemic].Kind != Resistor:
		return nil, fmt.Errorf("sim: the network needs a resistance named %s (the bench's resistance valve)", LinkSystemic)
	}
	for i, l := range nw.links {
		if l.Kind == Pump {
			r.pump = i
			break
		}
	}
	l := &Loop{net: nw, roles: r, h: substep}
	if r.pump >= 0 {
		l.c.pump, l.c.pp = true, *nw.links[r.pump].Pump
	}
	return l, nil
}

// netParameters are the Parameters of a network loop that have a place in
// it: the systemic resistance, the LV's linear passive law and the
// compliances of la and aorta. The others are 0, and so are these where
// the network has no such node or link (a hybrid bench's).
func (l *Loop) netParameters() Parameters {
	nw, r := l.net, &l.roles
	var p Parameters
	if r.systemic >= 0 {
		p.Rs = nw.links[r.systemic].R
	}
	if r.lv >= 0 {
		p.V0, p.Emin = nw.nodes[r.lv].V0, nw.nodes[r.lv].Emin
	}
	if r.la >= 0 {
		p.Cr = nw.nodes[r.la].C
	}
	if r.ao >= 0 {
		p.Ca = nw.nodes[r.ao].C
	}
	if l.c.pump {
		pp := l.c.pp
		p.Pump = &pp
	}
	return p
}

// netPressure returns the pressure of role node i, 0 if the network has
// none.
func (l *Loop) netPressure(i int) float64 {
	if i < 0 {
		return 0
	}
	return l.net.Pressure(i)
}

// netVolume returns the volume of role node i, 0 if the network has none.
func (l *Loop) netVolume(i int) float64 {
	if i < 0 {
		return 0
	}
	return l.net.Volume(i)
}

// aorticFlow is flow_ao, L/min: all that leaves the aorta for the
// systemic arteries, the device's flow included where its outlet is the
// aorta. In Simaan's circuit, the flow through Rc and Ls.
func (l *Loop) aorticFlow() float64 {
	if l.net == nil {
		return l.x[xQ] * MlPerSToLPerMin
	}
	var q float64
	for i := range l.net.links {
		if lk := &l.net.links[i]; lk.nodeA == l.roles.ao && lk.Kind != Pump {
			q += l.net.Flow(i)
		}
	}
	return q
}

// pumpFlow is the pump's flow from its inlet to its outlet, L/min.
func (l *Loop) pumpFlow() float64 {
	if l.net == nil {
		return l.x[xQp] * MlPerSToLPerMin
	}
	if l.roles.pump < 0 {
		return 0
	}
	return l.net.Flow(l.roles.pump)
}

// pumpInlet is the pressure at the pump's inlet, mmHg: the LV's in
// Simaan's circuit.
func (l *Loop) pumpInlet() float64 {
	if l.net == nil || l.roles.pump < 0 {
		return l.lvp()
	}
	return l.net.Pressure(l.net.links[l.roles.pump].nodeA)
}

// suctionThreshold is the inlet pressure below which the pump is sucking,
// mmHg: its SuctionThreshold, where its suction resistance engages; but
// 0 for an inlet with a collapse law, which is then the suction's physics
// (a full but slack ventricle in diastole sits near 0 mmHg, an emptied
// one goes below).
func (l *Loop) suctionThreshold() float64 {
	if l.net != nil && l.roles.pump >= 0 && l.net.nodes[l.net.links[l.roles.pump].nodeA].Collapse > 0 {
		return min(l.c.pp.SuctionThreshold, 0)
	}
	return l.c.pp.SuctionThreshold
}

// lap is the left atrial pressure, mmHg (0 in a network without la).
func (l *Loop) lap() float64 {
	if l.net == nil {
		return l.x[xPla]
	}
	return l.netPressure(l.roles.la)
}

// aop is the aortic pressure, mmHg (0 in a network without aorta).
func (l *Loop) aop() float64 {
	if l.net == nil {
		return l.x[xPao]
	}
	return l.netPressure(l.roles.ao)
}

// lvVolume is the LV volume, ml. A compliance named lv is a hybrid
// bench's chamber standing for the ventricle (HydraulicsConfig), no
// ventricle: its volume is none of the patient's, so 0, as without an lv.
func (l *Loop) lvVolume() float64 {
	if l.net == nil {
		return l.x[xV]
	}
	if l.roles.lv < 0 || l.net.nodes[l.roles.lv].C > 0 {
		return 0
	}
	return l.net.Volume(l.roles.lv)
}

// rap, pap and rvVolume are the right heart's pressures (mmHg) and
// volume (ml), 0 in a circulation without the nodes ra, pa and rv.
func (l *Loop) rap() float64 {
	if l.net == nil {
		return 0
	}
	return l.netPressure(l.roles.ra)
}

func (l *Loop) pap() float64 {
	if l.net == nil {
		return 0
	}
	return l.netPressure(l.roles.pa)
}

func (l *Loop) rvVolume() float64 {
	if l.net == nil {
		return 0
	}
	return l.netVolume(l.roles.rv)
}

// atrialCompliance is the left atrium's compliance, ml/mmHg, which the
// bench's preload line fills.
func (l *Loop) atrialCompliance() float64 {
	if l.net == nil {
		return l.c.p.Cr
	}
	if l.roles.la < 0 {
		return 0
	}
	return l.net.nodes[l.roles.la].C
}

// netState is State for a network loop.
func (l *Loop) netState() State {
	nw, r := l.net, &l.roles
	var qm, qa float64
	for i := range nw.links {
		lk := &nw.links[i]
		switch {
		case lk.Kind == Valve && lk.nodeB == r.lv:
			qm += nw.Flow(i)
		case lk.Kind == Valve && lk.nodeA == r.lv:
			qa += nw.Flow(i)
		}
	}
	s := State{
		Time: l.t, LVP: l.lvp(), AoP: l.aop(), LAP: l.lap(),
		LVVolume: l.lvVolume(), AorticFlow: l.aorticFlow(),
		MitralFlow: qm, AorticValveFlow: qa, PumpFlow: l.pumpFlow(),
		RAP: l.netPressure(r.ra), PAP: l.netPressure(r.pa), RVVolume: l.netVolume(r.rv),
	}
	if r.lv >= 0 {
		s.Elastance = nw.nodes[r.lv].Drive*l.active + nw.nodes[r.lv].Emin
	}
	return s
}

// netAdvanceTo is AdvanceTo for a network loop.
func (l *Loop) netAdvanceTo(t time.Duration) {
	for l.t < t {
		l.net.AdvanceTo(min(t, l.t+l.h))
		l.t = l.net.Now()
		l.noteSuction()
	}
}

// SetDrive sets the share of the LV drive's active elastance that chamber
// node of a network loop takes (NodeSpec.Drive), from the current model
// time: a right ventricle's contractility. It must be finite and in [0,
// 100].
func (l *Loop) SetDrive(node string, drive float64) error {
	i := -1
	if l.net != nil {
		i = l.net.Node(node)
	}
	switch {
	case i < 0 || l.net.nodes[i].C > 0:
		return fmt.Errorf("sim: the circulation has no chamber %q", node)
	case !positive(drive, true) || drive > 100:
		return fmt.Errorf("sim: drive %g of chamber %s: must be finite and in [0, 100]", drive, node)
	}
	l.net.nodes[i].Drive = drive
	return nil
}

// SetResistance sets the resistance of link of a network loop, mmHg·s/ml,
// from the current model time. It must be finite and > 0.
func (l *Loop) SetResistance(link string, r float64) error {
	i := -1
	if l.net != nil {
		i = l.net.Link(link)
	}
	switch {
	case i < 0 || l.net.links[i].Kind == Pump || l.net.links[i].Kind == Source:
		return fmt.Errorf("sim: the circulation has no resistance %q", link)
	case !positive(r, false):
		return fmt.Errorf("sim: resistance %g mmHg·s/ml of %s: must be finite and > 0", r, link)
	}
	l.net.links[i].R = r
	return nil
}

// Drive is the drive of chamber node of a network loop (SetDrive); false
// if it has no such chamber.
func (l *Loop) Drive(node string) (float64, bool) {
	if l.net == nil || l.net.Node(node) < 0 || l.net.nodes[l.net.Node(node)].C > 0 {
		return 0, false
	}
	return l.net.nodes[l.net.Node(node)].Drive, true
}

// Resistance is the resistance of link of a network loop, mmHg·s/ml
// (SetResistance); false if it has no such link, or it is a pump's or a
// source's.
func (l *Loop) Resistance(link string) (float64, bool) {
	if l.net == nil || l.net.Link(link) < 0 {
		return 0, false
	}
	if k := l.net.links[l.net.Link(link)].Kind; k == Pump || k == Source {
		return 0, false
	}
	return l.net.links[l.net.Link(link)].R, true
}

// Network returns the loop's circulation when it is a network
// (NewNetworkLoop), else nil: for simulation-only truth and tests. Like
// Bench.Loop it bypasses the bench's lock.
func (l *Loop) Network() *Network { return l.net }
