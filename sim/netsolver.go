package sim

import "math"

// maxNewton bounds the Newton iterations of one implicit stage of a
// Network. From trStep's guess a stage is done in two or three (stage). The bound guards against cycling at a
// valve's switching point, where both of its states give nearly the same
// result.
const maxNewton = 8

// newtonTol is the relative error of a stage's state that ends its Newton
// iteration, far below the scheme's own error (per beat 3.5e-4 of RK4 at
// 5 µs on sim.yaml's patient: TestNetworkSolverMatchesReference). 1e-10
// and 1e-7 gave the same figures there to the third digit; 1e-10 took
// 5.5 solves a step, 1e-8 4.5, 1e-7 3.6.
const newtonTol = 1e-8

// nodePressure returns the pressure of node i at volume v and its
// derivative dP/dV.
func (nw *Network) nodePressure(i int, v float64) (p, dp float64) {
	nd := &nw.nodes[i]
	d := v - nd.V0
	if nd.Collapse > 0 && d < 0 {
		ex := math.Exp(-d / nd.Collapse)
		p -= CollapsePressure * (ex - 1)
		dp += CollapsePressure * ex / nd.Collapse
	}
	if nd.C > 0 {
		return p + d/nd.C, dp + 1/nd.C
	}
	e := nd.Drive * nw.active
	if nd.P0 > 0 {
		ex := nd.P0 * math.Exp(nd.Lambda*d)
		return p + e*d + ex - nd.P0, dp + e + nd.Lambda*ex
	}
	e += nd.Emin
	return p + e*d, dp + e
}

// CollapsePressure is the pressure scale of a chamber's collapse law
// (NodeSpec.Collapse), mmHg: with Collapse 5 ml, a ventricle 15 ml below
// its unstressed volume is at −19 mmHg, 20 ml below at −54 mmHg.
const CollapsePressure = 1.0

// pressures sets nw.p and nw.dp for the node volumes of x.
func (nw *Network) pressures(x *netVec) {
	for i := range nw.nn {
		nw.p[i], nw.dp[i] = nw.nodePressure(i, x[i])
	}
}

// linkFlow returns the flow of link i at x (ml/s) and, for a link without
// a state of its own, its derivatives by the volumes of its From and To
// nodes (dq/dVa, dq/dVb); pressures must be set for x. on reports an open
// valve (true for other kinds). A source's flow is an input: it depends on
// no state, so it adds to the derivative and nothing to the Jacobian.
func (nw *Network) linkFlow(i int, x *netVec) (q, da, db float64, on bool) {
	l := &nw.links[i]
	if l.stateIdx >= 0 {
		return x[l.stateIdx], 0, 0, true
	}
	if l.Kind == Source {
		return nw.src[i], 0, 0, true
	}
	a, b := l.nodeA, l.nodeB
	dp := nw.p[a] - nw.p[b]
	if l.Kind == Valve && !(dp > 0) {
		return 0, 0, 0, false
	}
	return dp / l.R, nw.dp[a] / l.R, -nw.dp[b] / l.R, true
}

// deriv sets f = dx/dt at x, nw.mask to the valves open at x and, if jac,
// nw.jac to its Jacobian.
func (nw *Network) deriv(x, f *netVec, jac bool) {
	n := nw.n
	nw.pressures(x)
	*f = netVec{}
	var mask uint32
	if jac {
		for i := range n {
			clear(nw.jac[i][:n])
		}
	}
	for i := range nw.links {
		l := &nw.links[i]
		a, b := l.nodeA, l.nodeB
		q, da, db, on := nw.linkFlow(i, x)
		if on && l.Kind == Valve {
			mask |= 1 << i
		}
		f[a] -= q
		f[b] += q
		s := l.stateIdx
		if s < 0 {
			if jac {
				nw.jac[a][a] -= da
				nw.jac[a][b] -= db
				nw.jac[b][a] += da
				nw.jac[b][b] += db
			}
			continue
		}
		// L·dQ/dt = Pa − Pb − R·Q, and for a pump + head − K·|Q|·Q −
		// Rsuc(Pa)·Q with Simaan's suction resistance on its inlet. An
		// inlet with a collapse law engages it only once it collapses,
		// below 0 mmHg (see Loop.suctionThreshold): the chamber walls
		// closing on the inlet.
		var head, rq, dra, dq float64
		if l.Kind == Pump {
			pp := l.Pump
			thr := pp.SuctionThreshold
			if nw.nodes[a].Collapse > 0 {
				thr = min(thr, 0)
			}
			rs := pp.SuctionGain * max(thr-nw.p[a], 0)
			head = pp.Beta * nw.rpm[i] * nw.rpm[i]
			rq = (pp.R + pp.K*math.Abs(q) + rs) * q
			dq = pp.R + 2*pp.K*math.Abs(q) + rs
			if rs > 0 {
				dra = -pp.SuctionGain * q // d(Rsuc·Q)/dPa
			}
		} else {
			rq, dq = l.R*q, l.R
		}
		inert := l.L
		if l.Kind == Pump {
			inert = l.Pump.L
		}
		f[s] = (nw.p[a] - nw.p[b] + head - rq) / inert
		if jac {
			nw.jac[a][s]--
			nw.jac[b][s]++
			nw.jac[s][a] = (1 - dra) * nw.dp[a] / inert
			nw.jac[s][b] = -nw.dp[b] / inert
			nw.jac[s][s] = -dq / inert
		}
	}
	nw.mask = mask
}

// valves returns the open state of every valve at x (bit i for link i)
// and writes the pressure differences across them to gv.
func (nw *Network) valves(x *netVec, gv *netGuards) uint32 {
	nw.pressures(x)
	return nw.guards(gv)
}

// guards returns the open state of every valve at the pressures set (bit
// i for link i) and writes the pressure differences across them to gv.
func (nw *Network) guards(gv *netGuards) uint32 {
	var m uint32
	for i := range nw.links {
		l := &nw.links[i]
		if l.Kind != Valve {
			continue
		}
		d := nw.p[l.nodeA] - nw.p[l.nodeB]
		gv[i] = d
		if d > 0 {
			m |= 1 << i
		}
	}
	return m
}

type netGuards [maxLinks]float64

// step advances the network by h seconds with TR-BDF2, cutting the step
// where a valve opened or closed (as trbdf2.stepOdd does for Loop).
func (nw *Network) step(h float64) {
	var g0, g1 netGuards
	for split := 0; ; split++ {
		nw.x0 = nw.x
		nw.deriv(&nw.x, &nw.fx, false)
		m0 := nw.guards(&g0)
		xp, hp := nw.xp, nw.hp
		nw.trStep(h)
		m1 := nw.valves(&nw.x, &g1)
		if split == maxSplits || m1 == m0 {
			return
		}
		theta := 1.0
		for i := range nw.links {
			if (m0^m1)&(1<<i) != 0 {
				theta = min(theta, g0[i]/(g0[i]-g1[i]))
			}
		}
		if !(theta > minSplit && theta < 1-minSplit) {
			return
		}
		nw.splits++
		nw.x, nw.xp, nw.hp = nw.x0, xp, hp
		nw.trStep(theta * h)
		h -= theta * h
	}
}

// trStep is one TR-BDF2 step of h seconds from nw.x, without cutting;
// nw.fx must hold the derivative at nw.x.
func (nw *Network) trStep(h float64) {
	n := nw.n
	dh := trD * h
	for i := range n {
		nw.r[i] = nw.x[i] + dh*nw.fx[i]
	}
	xold := nw.x
	// The guess: the last step's change carried on (the solution's
	// trajectory, on which the stiff parts sit at equilibrium; an Euler
	// step from f would throw them off it).
	c := 0.0
	if nw.hp > 0 {
		c = trGamma * h / nw.hp
	}
	for i := range n {
		nw.y[i] = nw.x[i] + c*(nw.x[i]-nw.xp[i])
	}
	nw.xp, nw.hp = xold, h
	nw.stage(dh) // trapezoidal to t + γh
	for i := range n {
		nw.r[i] = trC1*nw.y[i] - trC2*xold[i]
		nw.y[i] = xold[i] + (nw.y[i]-xold[i])/trGamma
	}
	nw.stage(dh) // BDF2 to t + h
	nw.x = nw.y
}

// stage solves y = r + dh·f(y) for y by Newton's method from the guess in
// nw.y.
//
// The iteration matrix I − dh·J is factorised only when it has to be (a
// chord method, as stiff solvers such as LSODE and CVODE do): its
// factorisations are kept across stages and steps, one for each set of
// open valves and step size (a valve chattering at its switching point
// alternates between two; a step cut at a valve event has its own size),
// and one is made again when the iteration contracts slower than
// chordRate, which a stale Jacobian causes (the drive's elastance moved
// on, a volume left its linear range). The iteration stops at the same
// tolerance as a full Newton's, so the solution is the same; only the work
// differs: a factorisation costs several steps' worth of the rest.
func (nw *Network) stage(dh float64) {
	n := nw.n
	prev := math.Inf(1)
	var m *netLU
	fresh := false
	for range maxNewton {
		nw.deriv(&nw.y, &nw.f, false)
		// The residual is checked before solving: after a step that
		// converged, the iteration that would only confirm it is skipped.
		small := true
		for i := range n {
			nw.dx[i] = nw.r[i] + dh*nw.f[i] - nw.y[i]
			small = small && math.Abs(nw.dx[i]) <= newtonTol*(1+math.Abs(nw.y[i]))
		}
		if small {
			return
		}
		if m == nil || m.mask != nw.mask {
			m = nw.lus.find(nw.mask, dh)
			fresh = false
		}
		if !m.valid {
			nw.factor(m, dh)
			fresh = true
		}
		m.solve(n, &nw.dx)
		var norm float64
		for i := range n {
			nw.y[i] += nw.dx[i]
			norm = max(norm, math.Abs(nw.dx[i])/(1+math.Abs(nw.y[i])))
		}
		// Converged when the error left, estimated from the contraction
		// (θ per iteration leaves θ/(1−θ) of the last change; Hairer and
		// Wanner, Solving ODEs II, IV.8), is within the tolerance. The
		// first iteration has no θ of its own yet and takes the last
		// stage's.
		theta := 0.0 // after a new factorisation, only a θ measured here counts
		if !fresh {
			theta = nw.theta
		}
		if !math.IsInf(prev, 1) {
			theta = norm / prev
			nw.theta = theta
		}
		if norm <= newtonTol || theta > 0 && theta < 1 && theta/(1-theta)*norm <= newtonTol {
			return
		}
		if norm > chordRate*prev && norm > 10*newtonTol {
			if fresh {
				fresh = false // a fresh Jacobian may take one slow iteration
			} else {
				m.valid = false
			}
		}
		prev = norm
	}
	nw.unresolved++
}

// chordRate is the contraction per iteration below which a stage keeps its
// iteration matrix: slower, and the matrix is made again from the current
// Jacobian.
const chordRate = 0.1

// factor makes m the factorised iteration matrix I − dh·J at nw.y, for the
// valves open there (nw.mask).
func (nw *Network) factor(m *netLU, dh float64) {
	n := nw.n
	var f netVec
	nw.deriv(&nw.y, &f, true)
	for i := range n {
		row := &m.a[i]
		for j := range n {
			row[j] = -dh * nw.jac[i][j]
		}
		row[i]++
	}
	m.factor(n)
	m.valid, m.dh, m.mask = true, dh, nw.mask
}

// netLUs are the factorised iteration matrices a network keeps, for the
// last few combinations of open valves and step size, least recently used
// replaced first.
type netLUs struct {
	m    [8]netLU
	used [8]uint64
	tick uint64
}

// find returns the matrix for mask and dh: the one kept, or the least
// recently used one, invalid, to be made.
func (c *netLUs) find(mask uint32, dh float64) *netLU {
	c.tick++
	old := 0
	for i := range c.m {
		if m := &c.m[i]; m.valid && m.mask == mask && m.dh == dh {
			c.used[i] = c.tick
			return m
		}
		if c.used[i] < c.used[old] {
			old = i
		}
	}
	c.used[old] = c.tick
	c.m[old].valid = false
	return &c.m[old]
}

// netLU is lu for a network's larger matrices: an LU factorisation with
// partial pivoting in place, the row swaps applied as they are found, and
// the diagonal's inverses kept for the solves. It is an iteration matrix
// of stage for the valves open in mask and the step dh.
type netLU struct {
	a     netMat
	piv   [maxNetStates]int
	inv   netVec // 1 / a[i][i]
	valid bool
	dh    float64
	mask  uint32
	// Row i's nonzero columns left of the diagonal (L) are
	// cols[start[i]:mid[i]], right of it (U) cols[mid[i]:start[i+1]]:
	// the solves, several a step, skip the zeros of these sparse factors.
	cols  [maxNetStates * maxNetStates]uint8
	start [maxNetStates + 1]int
	mid   [maxNetStates]int
}

func (f *netLU) factor(n int) {
	n = min(n, maxNetStates)
	for k := range n {
		p := k
		for i := k + 1; i < n; i++ {
			if math.Abs(f.a[i][k]) > math.Abs(f.a[p][k]) {
				p = i
			}
		}
		f.piv[k] = p
		rk := &f.a[k]
		if p != k {
			rp := &f.a[p]
			for j := range n {
				rk[j], rp[j] = rp[j], rk[j]
			}
		}
		f.inv[k] = 1 / rk[k]
		// Row k's nonzeros right of the pivot: the only columns the
		// elimination changes (a zero term leaves a finite entry as it is).
		var nz [maxNetStates]uint8
		cnt := 0
		for j := k + 1; j < n; j++ {
			if rk[j] != 0 {
				nz[cnt] = uint8(j)
				cnt++
			}
		}
		for i := k + 1; i < n; i++ {
			l := f.a[i][k] * f.inv[k]
			f.a[i][k] = l
			if l == 0 {
				continue // the matrices are sparse: most rows have nothing to remove
			}
			ri := &f.a[i]
			for _, j := range nz[:cnt] {
				ri[j] -= l * rk[j]
			}
		}
	}
	c := 0
	for i := range n {
		f.start[i] = c
		for j := range n {
			if j == i {
				f.mid[i] = c
			} else if f.a[i][j] != 0 {
				f.cols[c] = uint8(j)
				c++
			}
		}
	}
	f.start[n] = c
}

func (f *netLU) solve(n int, y *netVec) {
	n = min(n, maxNetStates)
	for k := range n {
		p := f.piv[k]
		y[k], y[p] = y[p], y[k]
	}
	for i := range n {
		s, row := y[i], &f.a[i]
		for _, j := range f.cols[f.start[i]:f.mid[i]] {
			s -= row[j] * y[j]
		}
		y[i] = s
	}
	for i := n - 1; i >= 0; i-- {
		s, row := y[i], &f.a[i]
		for _, j := range f.cols[f.mid[i]:f.start[i+1]] {
			s -= row[j] * y[j]
		}
		y[i] = s * f.inv[i]
	}
}
