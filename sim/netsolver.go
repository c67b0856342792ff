package sim

import "math"

// maxNewton bounds the Newton iterations of one implicit stage of a
// Network. A linear stage (Simaan's network between valve events) is done
// in two, the second confirming the first; the exponential laws and the
// pump's losses take a few more. The bound guards against cycling at a
// valve's switching point, where both of its states give nearly the same
// result.
const maxNewton = 8

// newtonTol is the relative change of a stage's state that ends its Newton
// iteration, far below the scheme's own error.
const newtonTol = 1e-10

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
// valve (true for other kinds).
func (nw *Network) linkFlow(i int, x *netVec) (q, da, db float64, on bool) {
	l := &nw.links[i]
	if l.stateIdx >= 0 {
		return x[l.stateIdx], 0, 0, true
	}
	a, b := l.nodeA, l.nodeB
	dp := nw.p[a] - nw.p[b]
	if l.Kind == Valve && !(dp > 0) {
		return 0, 0, 0, false
	}
	return dp / l.R, nw.dp[a] / l.R, -nw.dp[b] / l.R, true
}

// deriv sets f = dx/dt at x and, if jac, nw.jac to its Jacobian.
func (nw *Network) deriv(x, f *netVec, jac bool) {
	n := nw.n
	nw.pressures(x)
	*f = netVec{}
	if jac {
		for i := range n {
			nw.jac[i] = [maxNetStates]float64{}
		}
	}
	for i := range nw.links {
		l := &nw.links[i]
		a, b := l.nodeA, l.nodeB
		q, da, db, _ := nw.linkFlow(i, x)
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
}

// valves returns the open state of every valve at x (bit i for link i)
// and writes the pressure differences across them to gv.
func (nw *Network) valves(x *netVec, gv *netGuards) uint32 {
	nw.pressures(x)
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
		m0 := nw.valves(&nw.x, &g0)
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
		nw.x = nw.x0
		nw.trStep(theta * h)
		h -= theta * h
	}
}

// trStep is one TR-BDF2 step of h seconds from nw.x, without cutting.
func (nw *Network) trStep(h float64) {
	n := nw.n
	dh := trD * h
	nw.deriv(&nw.x, &nw.f, false)
	for i := range n {
		nw.r[i] = nw.x[i] + dh*nw.f[i]
	}
	xold := nw.x
	nw.y = nw.x
	nw.stage(dh) // trapezoidal to t + γh
	for i := range n {
		nw.r[i] = trC1*nw.y[i] - trC2*xold[i]
	}
	nw.stage(dh) // BDF2 to t + h
	nw.x = nw.y
}

// stage solves y = r + dh·f(y) for y by Newton's method from the guess in
// nw.y.
func (nw *Network) stage(dh float64) {
	n := nw.n
	for range maxNewton {
		nw.deriv(&nw.y, &nw.f, true)
		// The residual is checked before factorising: after a step that
		// converged, the iteration that would only confirm it is skipped.
		small := true
		for i := range n {
			nw.dx[i] = nw.r[i] + dh*nw.f[i] - nw.y[i]
			small = small && math.Abs(nw.dx[i]) <= newtonTol*(1+math.Abs(nw.y[i]))
		}
		if small {
			return
		}
		for i := range n {
			row := &nw.lu.a[i]
			for j := range n {
				row[j] = -dh * nw.jac[i][j]
			}
			row[i]++
		}
		nw.lu.factor(n)
		nw.lu.solve(n, &nw.dx)
		done := true
		for i := range n {
			nw.y[i] += nw.dx[i]
			if math.Abs(nw.dx[i]) > newtonTol*(1+math.Abs(nw.y[i])) {
				done = false
			}
		}
		if done {
			return
		}
	}
	nw.unresolved++
}

// netLU is lu for a network's larger matrices: an LU factorisation with
// partial pivoting in place, the row swaps applied as they are found.
type netLU struct {
	a   netMat
	piv [maxNetStates]int
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
		f.a[k], f.a[p] = f.a[p], f.a[k]
		pivot := f.a[k][k]
		for i := k + 1; i < n; i++ {
			l := f.a[i][k] / pivot
			f.a[i][k] = l
			for j := k + 1; j < n; j++ {
				f.a[i][j] -= l * f.a[k][j]
			}
		}
	}
}

func (f *netLU) solve(n int, y *netVec) {
	n = min(n, maxNetStates)
	for k := range n {
		p := f.piv[k]
		y[k], y[p] = y[p], y[k]
	}
	for i := range n {
		for j := range i {
			y[i] -= f.a[i][j] * y[j]
		}
	}
	for i := n - 1; i >= 0; i-- {
		for j := i + 1; j < n; j++ {
			y[i] -= f.a[i][j] * y[j]
		}
		y[i] /= f.a[i][i]
	}
}
