package sim

import (
	"fmt"
	"math"
	"time"
)

// Parameters are the constants of the Simaan model: the resistances,
// compliances and inertance of the left heart and systemic circulation and
// the passive properties of the ventricle, and optionally a rotary pump
// between the LV and the aorta. Units: mmHg·s/ml, ml/mmHg, mmHg·s²/ml, ml,
// mmHg/ml.
type Parameters struct {
	Rs   float64 // systemic vascular resistance (the bench's resistance valve)
	Rm   float64 // mitral valve resistance when open
	Ra   float64 // aortic valve resistance when open
	Rc   float64 // characteristic resistance of the aorta
	Cr   float64 // left atrial (pulmonary venous) compliance
	Cs   float64 // systemic compliance
	Ca   float64 // aortic compliance
	Ls   float64 // inertance of the blood in the aorta
	V0   float64 // LV volume at zero pressure
	Emin float64 // passive (diastolic) LV elastance

	// Pump is a rotary pump from the LV to the aorta (an Impella's place),
	// one more state in the model. Nil: no pump, the model of Simaan's
	// paper without assist, unchanged to the last bit.
	Pump *PumpParams
}

// SimaanNormal returns the parameters of Simaan et al. 2009 for a healthy
// adult at rest.
func SimaanNormal() Parameters {
	return Parameters{
		Rs: 1.0, Rm: 0.005, Ra: 0.001, Rc: 0.0398,
		Cr: 4.4, Cs: 1.33, Ca: 0.08,
		Ls:   0.0005,
		V0:   10,
		Emin: 0.06,
	}
}

// Validate reports the first parameter that is not finite and positive (V0
// may be 0).
func (p Parameters) Validate() error {
	for _, f := range []struct {
		name, unit string
		v          float64
		zeroOK     bool
	}{
		{"Rs", "mmHg·s/ml", p.Rs, false},
		{"Rm", "mmHg·s/ml", p.Rm, false},
		{"Ra", "mmHg·s/ml", p.Ra, false},
		{"Rc", "mmHg·s/ml", p.Rc, false},
		{"Cr", "ml/mmHg", p.Cr, false},
		{"Cs", "ml/mmHg", p.Cs, false},
		{"Ca", "ml/mmHg", p.Ca, false},
		{"Ls", "mmHg·s²/ml", p.Ls, false},
		{"V0", "ml", p.V0, true},
		{"Emin", "mmHg/ml", p.Emin, false},
	} {
		if !positive(f.v, f.zeroOK) {
			bound := "> 0"
			if f.zeroOK {
				bound = "≥ 0"
			}
			return fmt.Errorf("sim: parameter %s = %g %s: must be finite and %s", f.name, f.v, f.unit, bound)
		}
	}
	if p.Pump != nil {
		return p.Pump.Validate()
	}
	return nil
}

func positive(v float64, zeroOK bool) bool {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return false
	}
	return v > 0 || (zeroOK && v == 0)
}

// Initial is the state a Loop starts from. Its total volume, LVVolume +
// Cr·LAP + Ca·AoP + Cs·Ps, is the loop's filling: the model conserves it,
// so it sets the pressure level of the periodic steady state the loop
// settles into.
type Initial struct {
	LVVolume   float64 // ml
	LAP        float64 // left atrial pressure, mmHg
	AoP        float64 // aortic pressure, mmHg
	Ps         float64 // systemic (arterial) pressure, mmHg
	AorticFlow float64 // flow from aorta to systemic compartment, L/min
}

// SimaanInitial is a start from rest, LV volume 140 ml, LAP 5 mmHg, AoP
// and Ps 90 mmHg: a filling of 288.9 ml by the measure of Initial. With
// SimaanNormal and the normal heart (75 bpm, Emax 2 mmHg/ml) the loop
// settles within about 20 s at the published 117/77 mmHg and 5.2 L/min.
// The filling matters: LAP 8 mmHg instead (13 ml more) settles about 5 %
// higher in pressure and output.
func SimaanInitial() Initial {
	return Initial{LVVolume: 140, LAP: 5, AoP: 90, Ps: 90}
}

// State indices of the circulation.
const (
	xV          = iota // LV volume, ml
	xPla               // left atrial pressure, mmHg
	xPao               // aortic pressure, mmHg
	xQ                 // aortic flow through Rc and Ls, ml/s
	xPs                // systemic pressure, mmHg
	nLoopStates        // states without a pump

	xQp = nLoopStates // pump flow LV → aorta, ml/s, when there is a pump
)

// Modes: the valves open (conducting) or closed; bit k is switch k of
// circuit.guards.
const (
	mitralOpen = 1 << iota
	aorticOpen
)

// MlPerSToLPerMin converts ml/s, the network's flows and sources, to L/min,
// its Flow's and the channels' unit.
const MlPerSToLPerMin = 60.0 / 1000

// circuit is the model's equations as a piecewise-linear system for the
// solver: the parameters and the inputs held over the current interval, the
// elastance and the pump's speed.
type circuit struct {
	p Parameters // p.Pump is always nil: the pump's constants are pp
	e float64    // total LV elastance Emin + active, mmHg/ml

	pump bool       // the loop has a pump: state xQp, constants pp
	pp   PumpParams // the pump's constants
	rpm  float64    // pump speed, rpm
	head float64    // pump pressure head Beta·rpm², mmHg
}

func (c *circuit) dim() int {
	if c.pump {
		return nLoopStates + 1
	}
	return nLoopStates
}

// guards are the pressure differences across the valves: mitral Pla − Plv,
// aortic Plv − Pao. A valve conducts where its guard is positive.
func (c *circuit) guards(x *vec, g *guards) {
	plv := c.e * (x[xV] - c.p.V0)
	*g = guards{x[xPla] - plv, plv - x[xPao]}
}

func (c *circuit) input() (float64, int) { return c.e, xV }

// system writes the linear dynamics of mode m, split into the part without
// the elastance (A0, b0) and the LV volume column and offset per unit of
// elastance (c, d). The valves are diodes with a resistance: Qm = (Pla −
// Plv)/Rm when open, Qa = (Plv − Pao)/Ra, with Plv = E·(V − V0).
//
// With a pump, its flow Qp leaves the LV and enters the aorta, and
//
//	L·dQp/dt = Plv − Pao − R·Qp + [H − K·|Qp|·Qp − Rsuc(Plv)·Qp],
//
// the bracket frozen over each stage (see frozen): u is the column its
// resistance q acts through.
func (c *circuit) system(m int, a0 *mat, b0, col, d, u *vec) {
	p := &c.p
	var gm, ga float64 // valve conductances, ml/(s·mmHg)
	if m&mitralOpen != 0 {
		gm = 1 / p.Rm
	}
	if m&aorticOpen != 0 {
		ga = 1 / p.Ra
	}
	gs := 1 / p.Rs
	*a0, *b0, *col, *u = mat{}, vec{}, vec{}, vec{}
	// dV/dt = Qm − Qa
	col[xV] = -(gm + ga)
	a0[xV][xPla] = gm
	a0[xV][xPao] = ga
	// Cr·dPla/dt = (Ps − Pla)/Rs − Qm
	col[xPla] = gm / p.Cr
	a0[xPla][xPla] = -(gs + gm) / p.Cr
	a0[xPla][xPs] = gs / p.Cr
	// Ca·dPao/dt = Qa − Q
	col[xPao] = ga / p.Ca
	a0[xPao][xPao] = -ga / p.Ca
	a0[xPao][xQ] = -1 / p.Ca
	// Ls·dQ/dt = Pao − Ps − Rc·Q
	a0[xQ][xPao] = 1 / p.Ls
	a0[xQ][xQ] = -p.Rc / p.Ls
	a0[xQ][xPs] = -1 / p.Ls
	// Cs·dPs/dt = Q − (Ps − Pla)/Rs
	a0[xPs][xPla] = gs / p.Cs
	a0[xPs][xQ] = 1 / p.Cs
	a0[xPs][xPs] = -gs / p.Cs
	if c.pump {
		pp := &c.pp
		a0[xV][xQp] = -1
		a0[xPao][xQp] = 1 / p.Ca
		col[xQp] = 1 / pp.L
		a0[xQp][xPao] = -1 / pp.L
		a0[xQp][xQp] = -pp.R / pp.L
		u[xQp] = -1 / pp.L
	}
	// E·V enters as E·(V − V0).
	for i := range *d {
		d[i] = -p.V0 * col[i]
	}
}

// valveFlows returns the mitral and aortic valve flows at x, ml/s.
func (c *circuit) valveFlows(x *vec) (qm, qa float64) {
	plv := c.e * (x[xV] - c.p.V0)
	return max(x[xPla]-plv, 0) / c.p.Rm, max(plv-x[xPao], 0) / c.p.Ra
}

// suctionR is the pump's suction resistance at LV pressure plv, mmHg·s/ml:
// Simaan's α·(x1 − Plv) below the threshold x1, zero above. It models the
// inlet obstructed by the collapsing ventricle, and rises continuously
// from zero, so the flow has no jump where it engages.
func (c *circuit) suctionR(plv float64) float64 {
	return c.pp.SuctionGain * max(c.pp.SuctionThreshold-plv, 0)
}

// frozen linearises the pump's nonlinear terms about x: the quadratic loss
// along its tangent, K·|Q|·Q ≈ 2K·|Q0|·Q − K·|Q0|·Q0 (second-order
// accurate, see trStep), the suction resistance at the LV pressure of x
// (Picard, first order in the few steps where it changes fast, at the
// start of systole; it is a model of an obstruction, not a measured law).
// Both stay resistances ≥ 0, so the stage stays passive.
func (c *circuit) frozen(x, s *vec) (float64, int) {
	if !c.pump {
		return 0, -1
	}
	pp := &c.pp
	q := x[xQp]
	kq := pp.K * math.Abs(q)
	*s = vec{}
	s[xQp] = (c.head + kq*q) / pp.L
	return 2*kq + c.suctionR(c.e*(x[xV]-c.p.V0)), xQp
}

func (c *circuit) deriv(x, dx *vec) {
	p := &c.p
	qm, qa := c.valveFlows(x)
	qs := (x[xPs] - x[xPla]) / p.Rs
	dx[xV] = qm - qa
	dx[xPla] = (qs - qm) / p.Cr
	dx[xPao] = (qa - x[xQ]) / p.Ca
	dx[xQ] = (x[xPao] - x[xPs] - p.Rc*x[xQ]) / p.Ls
	dx[xPs] = (x[xQ] - qs) / p.Cs
	if c.pump {
		pp := &c.pp
		q := x[xQp]
		plv := c.e * (x[xV] - p.V0)
		dx[xV] -= q
		dx[xPao] += q / p.Ca
		dx[xQp] = (plv - x[xPao] + c.head - (pp.R+pp.K*math.Abs(q)+c.suctionR(plv))*q) / pp.L
	}
}

// substep is the solver's fixed step, one rig sample. Against RK4 at 5 µs
// driven by the same 1 kHz elastance, TR-BDF2 at 1 ms with its steps cut at
// valve events keeps every beat's systolic, diastolic and mean aortic
// pressure and mean flow within 0.03 % and every sample within 0.3 mmHg
// (TestSolverMatchesReference), for about 200 ns per millisecond of model
// time. An explicit method would need steps of ≈ 50 µs to stay stable.
const substep = time.Millisecond

// Loop is the simulated circulation: the left ventricle, its valves and the
// systemic circulation, integrated in model time, and a rotary pump from
// the LV to the aorta if its Parameters have one.
//
// The ventricle's active elastance and the pump's speed are inputs held
// constant between calls, as the bench's DAC holds the LV pump's drive. A
// Loop is not safe for concurrent use; its methods after NewLoop allocate
// nothing (but Parameters, which copies the pump's constants).
type Loop struct {
	c      circuit
	active float64 // active elastance, mmHg/ml
	x      vec
	t      time.Duration // model time of x
	h      time.Duration // substep
	solver *trbdf2

	// The model time the suction resistance was last found engaged (LV
	// pressure below its threshold at the end of a step), if sucked.
	suckedAt time.Duration
	sucked   bool

	// net, if not nil, is the circulation instead of Simaan's circuit c
	// (NewNetworkLoop); roles are its nodes and links the loop reads and
	// drives. c then holds only the pump's constants and speed.
	net   *Network
	roles netRoles
}

// NewLoop returns a loop with parameters p in the initial state x0 at model
// time 0, with a relaxed ventricle (active elastance 0).
func NewLoop(p Parameters, x0 Initial) (*Loop, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	for _, v := range []float64{x0.LVVolume, x0.LAP, x0.AoP, x0.Ps, x0.AorticFlow} {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("sim: initial state %+v is not finite", x0)
		}
	}
	if x0.LVVolume < 0 {
		return nil, fmt.Errorf("sim: initial LV volume %g ml is negative", x0.LVVolume)
	}
	l := &Loop{c: circuit{p: p, e: p.Emin}}
	if p.Pump != nil {
		l.c.pump, l.c.pp, l.c.p.Pump = true, *p.Pump, nil
	}
	l.setSubstep(substep)
	l.x[xV] = x0.LVVolume
	l.x[xPla] = x0.LAP
	l.x[xPao] = x0.AoP
	l.x[xQ] = x0.AorticFlow / MlPerSToLPerMin
	l.x[xPs] = x0.Ps
	return l, nil
}

// Parameters returns the model's current parameters, with a copy of the
// pump's.
func (l *Loop) Parameters() Parameters {
	if l.net != nil {
		return l.netParameters()
	}
	p := l.c.p
	if l.c.pump {
		pp := l.c.pp
		p.Pump = &pp
	}
	return p
}

// SetActiveElastance sets the ventricle's active elastance in mmHg/ml (the
// waveform's output, added to Emin), held from the current model time
// until the next call. It must be finite and ≥ 0.
func (l *Loop) SetActiveElastance(mmHgPerMl float64) error {
	if !positive(mmHgPerMl, true) {
		return fmt.Errorf("sim: active elastance %g mmHg/ml: must be finite and ≥ 0", mmHgPerMl)
	}
	l.active = mmHgPerMl
	l.c.e = l.c.p.Emin + mmHgPerMl
	if l.net != nil {
		return l.net.SetActiveElastance(mmHgPerMl)
	}
	return nil
}

// ActiveElastance returns the active elastance in force, mmHg/ml.
func (l *Loop) ActiveElastance() float64 { return l.active }

// SetSystemicResistance sets Rs in mmHg·s/ml (1 mmHg·s/ml = 1333
// dyn·s/cm⁵), the resistance valve of the bench. It must be finite and > 0.
func (l *Loop) SetSystemicResistance(mmHgSPerMl float64) error {
	if !positive(mmHgSPerMl, false) {
		return fmt.Errorf("sim: systemic resistance %g mmHg·s/ml: must be finite and > 0", mmHgSPerMl)
	}
	if l.net != nil {
		if l.roles.systemic < 0 {
			return fmt.Errorf("sim: the circulation has no resistance %s", LinkSystemic)
		}
		l.net.links[l.roles.systemic].R = mmHgSPerMl
		return nil
	}
	if mmHgSPerMl != l.c.p.Rs {
		l.c.p.Rs = mmHgSPerMl
		l.solver.invalidate()
	}
	return nil
}

// setSubstep sets the solver's fixed step.
func (l *Loop) setSubstep(h time.Duration) {
	l.h = h
	l.solver = newTRBDF2(h.Seconds())
}

// Now returns the model time: how far the loop has been advanced.
func (l *Loop) Now() time.Duration { return l.t }

// StartAt sets the loop's model time to t without advancing it: a loop
// made partway through a run's time (a bench or a hybrid rig's model of a
// resumed run) starts in its initial state then, rather than integrating
// the whole gap.
func (l *Loop) StartAt(t time.Duration) {
	l.t = t
	if l.net != nil {
		l.net.t = t
	}
}

// AdvanceTo integrates the model from its current time to t in steps of
// 1 ms, the last one shortened to land exactly on t. A t at or before the
// current model time changes nothing: model time never goes back.
func (l *Loop) AdvanceTo(t time.Duration) {
	if t <= l.t {
		return
	}
	if l.net != nil {
		l.netAdvanceTo(t)
		return
	}
	for t-l.t >= l.h {
		l.solver.step(&l.c, &l.x, splitGrid)
		l.t += l.h
		l.noteSuction()
	}
	if r := t - l.t; r > 0 {
		// Remainders on the solver's grid (multiples of 125 µs) reuse its
		// kept factors; others are built for their length.
		if tick := l.h / splitGrid; r%tick == 0 {
			l.solver.step(&l.c, &l.x, int(r/tick))
		} else {
			l.solver.stepOdd(&l.c, &l.x, r.Seconds())
		}
		l.t = t
		l.noteSuction()
	}
}

// noteSuction records the model time if the pump's suction resistance is
// engaged at the current state, for PumpReadout's latched flag.
func (l *Loop) noteSuction() {
	if l.c.pump && l.pumpInlet() < l.suctionThreshold() {
		l.suckedAt, l.sucked = l.t, true
	}
}

// State is a snapshot of the loop, in the project's canonical units.
type State struct {
	Time            time.Duration // model time
	LVP             float64       // LV pressure, mmHg
	AoP             float64       // aortic pressure, mmHg
	LAP             float64       // left atrial pressure, mmHg
	Ps              float64       // systemic (arterial) pressure, mmHg
	LVVolume        float64       // ml
	AorticFlow      float64       // flow from aorta to systemic compartment (the flow meter's), L/min
	MitralFlow      float64       // through the mitral valve, L/min
	AorticValveFlow float64       // through the aortic valve, L/min
	PumpFlow        float64       // through the rotary pump, LV → aorta (negative: back into the LV), L/min; 0 without a pump
	Elastance       float64       // LV elastance Emin + active, mmHg/ml

	// The right heart's, in a network that has them (0 where it has not):
	RAP      float64 // right atrial pressure (node ra), mmHg
	PAP      float64 // pulmonary arterial pressure (node pa), mmHg
	RVVolume float64 // right ventricular volume (node rv), ml
}

// State returns the loop's state at its model time.
func (l *Loop) State() State {
	if l.net != nil {
		return l.netState()
	}
	qm, qa := l.c.valveFlows(&l.x)
	return State{
		Time:            l.t,
		LVP:             l.lvp(),
		AoP:             l.x[xPao],
		LAP:             l.x[xPla],
		Ps:              l.x[xPs],
		LVVolume:        l.x[xV],
		AorticFlow:      l.x[xQ] * MlPerSToLPerMin,
		MitralFlow:      qm * MlPerSToLPerMin,
		AorticValveFlow: qa * MlPerSToLPerMin,
		PumpFlow:        l.x[xQp] * MlPerSToLPerMin,
		Elastance:       l.c.e,
	}
}

func (l *Loop) lvp() float64 {
	if l.net != nil {
		return l.netPressure(l.roles.lv)
	}
	return l.c.e * (l.x[xV] - l.c.p.V0)
}

// volume is the conserved total volume V + Cr·Pla + Ca·Pao + Cs·Ps, ml.
// Volume is the fluid in the circulation (the loop's stressed volume), ml.
// It is conserved by the model; only AddVolume changes it.
func (l *Loop) Volume() float64 { return l.volume() }

// AddVolume adds fluid at the left atrium (negative: takes it away), as the
// bench's fill pump or drain does between the loop and its reservoir.
func (l *Loop) AddVolume(ml float64) error {
	if math.IsNaN(ml) || math.IsInf(ml, 0) {
		return fmt.Errorf("sim: cannot add %g ml", ml)
	}
	if l.net != nil {
		if l.roles.la < 0 {
			return fmt.Errorf("sim: the circulation has no %s to add fluid at", NodeLA)
		}
		l.net.x[l.roles.la] += ml
		return nil
	}
	l.x[xPla] += ml / l.c.p.Cr
	return nil
}

// FillToward has the bench's fill pump move the circulating volume
// toward ml over dt seconds at FillRate, added at once (zero-order hold,
// as the loop's other inputs), and reports whether it got there. The
// bench's fill pump and a hybrid rig's fill of its model move alike.
func (l *Loop) FillToward(ml, dt float64) (bool, error) {
	if !(dt > 0) {
		return false, nil
	}
	dv, step := ml-l.Volume(), FillRate*dt
	if err := l.AddVolume(max(-step, min(step, dv))); err != nil {
		return false, err
	}
	return math.Abs(dv) <= step, nil
}

// FillFromReservoir exchanges fluid over dt seconds between the left
// atrium and a reservoir at head mmHg through a line of resistance line
// (mmHg·s/ml), added at once (zero-order hold, as the loop's other
// inputs): the exact exchange of the line with the atrial compliance
// alone, whose pressure moves toward the head by 1 − e^(−dt/(Cr·line)),
// so it is stable at any step. A head above the atrial pressure fills the
// loop, one below drains it. The bench's preload valve and a hybrid rig's
// model of it fill alike.
func (l *Loop) FillFromReservoir(head, line, dt float64) error {
	cr := l.atrialCompliance()
	return l.AddVolume(cr * (head - l.lap()) * -math.Expm1(-dt/(cr*line)))
}

func (l *Loop) volume() float64 {
	if l.net != nil {
		return l.net.TotalVolume()
	}
	p := &l.c.p
	return l.x[xV] + p.Cr*l.x[xPla] + p.Ca*l.x[xPao] + p.Cs*l.x[xPs]
}

// Channel describes one value a Loop reads out for acquisition.
type Channel struct {
	Name string // as protocols and reports name it
	Unit string // canonical unit of its dimension
}

// Columns of Loop.Read.
const (
	ChLVP      = iota // lvp, mmHg
	ChAoP             // aop, mmHg
	ChLAP             // lap, mmHg
	ChFlowAo          // flow_ao, L/min
	ChLVVolume        // lv_volume, ml: simulation-only truth, no bench sensor measures it
	NumChannels
)

var channels = [NumChannels]Channel{
	ChLVP:      {"lvp", "mmHg"},
	ChAoP:      {"aop", "mmHg"},
	ChLAP:      {"lap", "mmHg"},
	ChFlowAo:   {"flow_ao", "L/min"},
	ChLVVolume: {"lv_volume", "ml"},
}

// Channels returns the channels of Loop.Read in column order.
func Channels() []Channel {
	c := channels
	return c[:]
}

// Read writes the channels (see Channels) at the current model time to
// dst[0:NumChannels], so an acquisition adapter can fill a frame without
// allocating. It panics if dst is shorter than NumChannels, which is a
// programming error.
func (l *Loop) Read(dst []float64) {
	_ = dst[NumChannels-1]
	dst[ChLVP] = l.lvp()
	dst[ChAoP] = l.aop()
	dst[ChLAP] = l.lap()
	dst[ChFlowAo] = l.aorticFlow()
	dst[ChLVVolume] = l.lvVolume()
}

var _ pwl = (*circuit)(nil)
