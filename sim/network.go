package sim

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// A NetworkSpec declares a circulation as a lumped-parameter network
// (DESIGN.md decision 9): nodes that hold blood (chambers with a
// time-varying elastance, compliances with an unstressed volume) and links
// that move it between two of them (resistances, resistances with an
// inertance, valves, rotary pumps, flow sources set from outside). Simaan's left heart (SimaanNetwork) is
// one such network; a biventricular patient is another, with no change to
// the code.
type NetworkSpec struct {
	Nodes []NodeSpec
	Links []LinkSpec
}

// WithPump is spec with pp's constants in its pump link, its links copied
// so that spec is unchanged; false if spec has no pump link.
func (spec NetworkSpec) WithPump(pp PumpParams) (NetworkSpec, bool) {
	i := slices.IndexFunc(spec.Links, func(l LinkSpec) bool { return l.Kind == Pump })
	if i < 0 {
		return spec, false
	}
	spec.Links = slices.Clone(spec.Links)
	spec.Links[i].Pump = &pp
	return spec, true
}

// NodeSpec is one node of a network. Its pressure is a function of its
// volume V (ml):
//
//   - a compliance (C > 0): P = (V − V0)/C;
//   - a chamber (C = 0): P = Drive·e·(V − V0) + Ped(V), with e the active
//     elastance the bench's LV drive commands (Network.SetActiveElastance)
//     and Ped the passive, end-diastolic law: exponential, P0·(exp(λ·(V −
//     V0)) − 1), where P0 > 0 (Smith, Chase et al. 2004; REFERENCE.md), or
//     Simaan's linear Emin·(V − V0) where P0 = 0.
//
// Either kind, if Collapse > 0, adds below V0 the collapse law
// −CollapsePressure·(exp((V0 − V)/Collapse) − 1): a chamber or vessel
// sucked empty by a pump collapses, its pressure falling steeply negative
// (REFERENCE.md, "What support does to the patient": suction), instead of
// emptying on at the slope of its passive law.
type NodeSpec struct {
	Name string
	C    float64 // compliance, ml/mmHg; 0 makes the node a chamber
	V0   float64 // unstressed volume, ml

	Drive  float64 // chamber: active elastance per unit of the LV drive's (1 for the LV)
	Emin   float64 // chamber: linear passive elastance, mmHg/ml (when P0 = 0)
	P0     float64 // chamber: exponential end-diastolic law's scale, mmHg
	Lambda float64 // chamber: exponential end-diastolic law's stiffness, 1/ml
	// Collapse is the volume scale of the collapse law below V0, ml; 0:
	// none.
	Collapse float64

	Volume float64 // initial volume, ml
}

// LinkKind is what a link between two nodes is.
type LinkKind int

// Kinds of link. Flow is positive from From to To.
const (
	Resistor  LinkKind = iota // Q = (Pfrom − Pto)/R
	Valve                     // an ideal diode with resistance R when open: Q = max(Pfrom − Pto, 0)/R
	Inertance                 // L·dQ/dt = Pfrom − Pto − R·Q: one state
	Pump                      // a rotary pump (PumpParams) taking blood from From into To: one state
	// Source is a flow from From to To set from outside the network
	// (Network.SetSourceFlow), whatever the pressures: a hybrid bench's
	// gear pump moving fluid between its reservoir and a chamber, or a
	// patient model's device branch carrying the flow measured through
	// the real device. It has no state and no resistance.
	Source
)

var linkKindNames = [...]string{Resistor: "resistance", Valve: "valve", Inertance: "inertance", Pump: "pump", Source: "source"}

func (k LinkKind) String() string {
	if k < 0 || int(k) >= len(linkKindNames) {
		return fmt.Sprintf("LinkKind(%d)", int(k))
	}
	return linkKindNames[k]
}

// LinkKinds returns the names of the kinds of link, in LinkKind order.
func LinkKinds() []string { return slices.Clone(linkKindNames[:]) }

// LinkSpec is one link of a network, from node From to node To.
type LinkSpec struct {
	Name     string
	Kind     LinkKind
	From, To string
	R        float64     // resistance, mmHg·s/ml (Resistor, Valve, Inertance)
	L        float64     // inertance, mmHg·s²/ml (Inertance)
	Pump     *PumpParams // Pump: its constants (R, L and K are the pump's)
	Flow     float64     // Inertance, Pump, Source: initial flow, ml/s
	nodeA    int
	nodeB    int
	stateIdx int
}

// Network capacity: fixed so that a step allocates nothing.
const (
	maxNodes     = 12
	maxLinks     = 24
	maxNetStates = maxNodes + 8 // node volumes, then the flows of inertances and pumps
)

type (
	netVec [maxNetStates]float64
	netMat [maxNetStates][maxNetStates]float64
)

// Validate reports the first error of the spec: names missing or repeated,
// links to unknown nodes, constants out of range, more nodes or states
// than a Network holds.
func (s *NetworkSpec) Validate() error {
	if len(s.Nodes) == 0 || len(s.Nodes) > maxNodes {
		return fmt.Errorf("sim: a network has 1 to %d nodes, not %d", maxNodes, len(s.Nodes))
	}
	if len(s.Links) > maxLinks {
		return fmt.Errorf("sim: a network has at most %d links, not %d", maxLinks, len(s.Links))
	}
	names := map[string]bool{}
	for _, n := range s.Nodes {
		if err := n.Validate(); err != nil {
			return err
		}
		if names[n.Name] {
			return fmt.Errorf("sim: node %q is declared twice", n.Name)
		}
		names[n.Name] = true
	}
	states := len(s.Nodes)
	links := map[string]bool{}
	for _, l := range s.Links {
		if err := l.validate(names); err != nil {
			return err
		}
		if links[l.Name] {
			return fmt.Errorf("sim: link %q is declared twice", l.Name)
		}
		links[l.Name] = true
		if l.Kind == Inertance || l.Kind == Pump {
			states++
		}
	}
	if states > maxNetStates {
		return fmt.Errorf("sim: the network has %d states (node volumes and inertial flows), at most %d", states, maxNetStates)
	}
	return nil
}

// Validate reports the first constant of the node out of range.
func (n *NodeSpec) Validate() error {
	if n.Name == "" {
		return fmt.Errorf("sim: a node needs a name")
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"compliance", n.C}, {"unstressed volume", n.V0}, {"drive", n.Drive}, {"emin", n.Emin}, {"p0", n.P0}, {"lambda", n.Lambda}, {"collapse", n.Collapse}, {"volume", n.Volume}} {
		if !positive(f.v, true) {
			return fmt.Errorf("sim: node %s: %s %g must be finite and ≥ 0", n.Name, f.name, f.v)
		}
	}
	if n.C == 0 && n.Emin == 0 && (n.P0 == 0 || n.Lambda == 0) {
		return fmt.Errorf("sim: node %s: a chamber needs a passive law: emin > 0, or p0 and lambda > 0", n.Name)
	}
	return nil
}

func (l *LinkSpec) validate(nodes map[string]bool) error {
	if l.Name == "" {
		return fmt.Errorf("sim: a link needs a name")
	}
	for _, n := range []string{l.From, l.To} {
		if !nodes[n] {
			return fmt.Errorf("sim: link %s: no node %q", l.Name, n)
		}
	}
	if l.From == l.To {
		return fmt.Errorf("sim: link %s: joins node %s to itself", l.Name, l.From)
	}
	if math.IsNaN(l.Flow) || math.IsInf(l.Flow, 0) {
		return fmt.Errorf("sim: link %s: initial flow %g is not finite", l.Name, l.Flow)
	}
	switch l.Kind {
	case Resistor, Valve, Inertance:
		if !positive(l.R, false) {
			return fmt.Errorf("sim: link %s: resistance %g must be finite and > 0", l.Name, l.R)
		}
		if l.Kind == Inertance && !positive(l.L, false) {
			return fmt.Errorf("sim: link %s: inertance %g must be finite and > 0", l.Name, l.L)
		}
	case Source:
		if l.R != 0 || l.L != 0 || l.Pump != nil {
			return fmt.Errorf("sim: link %s: a source's flow is set from outside; it has no resistance, inertance or pump constants", l.Name)
		}
	case Pump:
		if l.Pump == nil {
			return fmt.Errorf("sim: link %s: a pump needs its constants", l.Name)
		}
		if err := l.Pump.Validate(); err != nil {
			return fmt.Errorf("sim: link %s: %w", l.Name, err)
		}
	default:
		return fmt.Errorf("sim: link %s: unknown kind %v", l.Name, l.Kind)
	}
	return nil
}

// SimaanNetwork is Simaan's left heart and systemic circulation
// (SimaanNormal, SimaanInitial) as a network: the left atrium (Cr), the LV
// (Emin, V0), the aorta (Ca) and the systemic arteries (Cs); the mitral and
// aortic valves (Rm, Ra), the aortic characteristic resistance and
// inertance (Rc, Ls) and the systemic resistance (Rs). Its equations are
// Loop's, term by term.
func SimaanNetwork() NetworkSpec {
	p, x := SimaanNormal(), SimaanInitial()
	return NetworkSpec{
		Nodes: []NodeSpec{
			{Name: "la", C: p.Cr, Volume: p.Cr * x.LAP},
			{Name: "lv", V0: p.V0, Drive: 1, Emin: p.Emin, Volume: x.LVVolume},
			{Name: "aorta", C: p.Ca, Volume: p.Ca * x.AoP},
			{Name: "sa", C: p.Cs, Volume: p.Cs * x.Ps},
		},
		Links: []LinkSpec{
			{Name: "mitral", Kind: Valve, From: "la", To: "lv", R: p.Rm},
			{Name: "aortic", Kind: Valve, From: "lv", To: "aorta", R: p.Ra},
			{Name: "aortic_root", Kind: Inertance, From: "aorta", To: "sa", R: p.Rc, L: p.Ls},
			{Name: "systemic", Kind: Resistor, From: "sa", To: "la", R: p.Rs},
		},
	}
}

// Network is a circulation declared by a NetworkSpec, integrated in model
// time with the same scheme as Loop: TR-BDF2 in steps of one 1 ms sample,
// each implicit stage solved by Newton's method (the exponential laws and
// the pump's losses are nonlinear; the valves switch inside the
// iteration), and a step in which a valve opens or closes cut where it did.
// Its methods after NewNetwork allocate nothing; it is not safe for
// concurrent use.
type Network struct {
	nodes []NodeSpec
	links []LinkSpec
	n     int // states
	nn    int // nodes: states [0, nn) are their volumes

	active float64   // the LV drive's active elastance, mmHg/ml
	rpm    []float64 // speed of each link's pump, rpm
	src    []float64 // flow of each source link, ml/s
	x      netVec
	t      time.Duration
	h      time.Duration

	// unresolved counts stages whose Newton iteration hit its bound,
	// splits the steps cut at a valve event; tests read them.
	unresolved, splits uint64
	theta              float64 // the last contraction per Newton iteration seen

	lus netLUs // stage's iteration matrices
	// xp is the state at the start of the last step of hp seconds (0: none
	// yet): trStep's guesses extrapolate from it.
	xp   netVec
	hp   float64
	mask uint32 // the valves open at the state deriv saw last

	// Scratch space, kept here so a step allocates nothing.
	p, dp, f, fx, r, y, x0, dx netVec
	jac                        netMat
}

// NewNetwork builds the network of spec in its initial state at model time
// 0, with relaxed chambers and stopped pumps.
func NewNetwork(spec NetworkSpec) (*Network, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	nw := &Network{nodes: slices.Clone(spec.Nodes), links: slices.Clone(spec.Links), h: substep}
	nw.nn = len(nw.nodes)
	nw.n = nw.nn
	nw.rpm = make([]float64, len(nw.links))
	nw.src = make([]float64, len(nw.links))
	for i, nd := range nw.nodes {
		nw.x[i] = nd.Volume
	}
	for i := range nw.links {
		l := &nw.links[i]
		l.nodeA, l.nodeB, l.stateIdx = nw.Node(l.From), nw.Node(l.To), -1
		if l.Pump != nil {
			pp := *l.Pump
			l.Pump = &pp
		}
		if l.Kind == Source {
			nw.src[i] = l.Flow
		}
		if l.Kind == Inertance || l.Kind == Pump {
			l.stateIdx = nw.n
			nw.x[nw.n] = l.Flow
			nw.n++
		}
	}
	return nw, nil
}

// Node returns the index of the node named name, -1 if there is none.
func (nw *Network) Node(name string) int {
	return slices.IndexFunc(nw.nodes, func(n NodeSpec) bool { return n.Name == name })
}

// Link returns the index of the link named name, -1 if there is none.
func (nw *Network) Link(name string) int {
	return slices.IndexFunc(nw.links, func(l LinkSpec) bool { return l.Name == name })
}

// SetActiveElastance sets the LV drive's active elastance in mmHg/ml, held
// until the next call; each chamber's is its Drive times it.
func (nw *Network) SetActiveElastance(mmHgPerMl float64) error {
	if !positive(mmHgPerMl, true) {
		return fmt.Errorf("sim: active elastance %g mmHg/ml: must be finite and ≥ 0", mmHgPerMl)
	}
	nw.active = mmHgPerMl
	return nil
}

// SetPumpSpeed sets the speed of the pump of link i in rpm, held until the
// next call.
func (nw *Network) SetPumpSpeed(i int, rpm float64) error {
	if i < 0 || i >= len(nw.links) || nw.links[i].Kind != Pump {
		return fmt.Errorf("sim: link %d is not a pump", i)
	}
	if pp := nw.links[i].Pump; !positive(rpm, true) || rpm > pp.MaxRPM {
		return fmt.Errorf("sim: pump speed %g rpm: must be finite and in [0, %g]", rpm, pp.MaxRPM)
	}
	nw.rpm[i] = rpm
	return nil
}

// SetSourceFlow sets the flow of source link i from its From to its To
// node in ml/s (negative: the other way), held from the current model
// time until the next call, as the other inputs are: over a step the
// solver takes it as constant (zero-order hold), so a caller that wants a
// varying flow's exact volume sets the step's mean.
func (nw *Network) SetSourceFlow(i int, q float64) error {
	if i < 0 || i >= len(nw.links) || nw.links[i].Kind != Source {
		return fmt.Errorf("sim: link %d is not a source", i)
	}
	if math.IsNaN(q) || math.IsInf(q, 0) {
		return fmt.Errorf("sim: source flow %g ml/s is not finite", q)
	}
	nw.src[i] = q
	return nil
}

// SourceFlow returns the flow in force of source link i, ml/s; 0 if it is
// not a source.
func (nw *Network) SourceFlow(i int) float64 {
	if i < 0 || i >= len(nw.src) {
		return 0
	}
	return nw.src[i]
}

// Now returns the model time.
func (nw *Network) Now() time.Duration { return nw.t }

// Pressure returns the pressure of node i, mmHg.
func (nw *Network) Pressure(i int) float64 {
	p, _ := nw.nodePressure(i, nw.x[i])
	return p
}

// Volume returns the volume of node i, ml.
func (nw *Network) Volume(i int) float64 { return nw.x[i] }

// TotalVolume is the blood in the network, ml: the model conserves it.
func (nw *Network) TotalVolume() float64 {
	var v float64
	for i := range nw.nn {
		v += nw.x[i]
	}
	return v
}

// Flow returns the flow through link i from its From to its To node, L/min.
func (nw *Network) Flow(i int) float64 {
	nw.pressures(&nw.x)
	q, _, _, _ := nw.linkFlow(i, &nw.x)
	return q * MlPerSToLPerMin
}

// AdvanceTo integrates the network from its model time to t in steps of
// 1 ms, the last one shortened to land on t. Model time never goes back.
func (nw *Network) AdvanceTo(t time.Duration) {
	for nw.t < t {
		h := min(nw.h, t-nw.t)
		nw.step(h.Seconds())
		nw.t += h
	}
}
