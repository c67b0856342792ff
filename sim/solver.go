package sim

import "math"

// maxStates is the largest state vector the solver handles: the five states
// of the circulation and one for a rotary pump's flow.
const maxStates = 6

// maxSwitches bounds the on/off switches of a piecewise-linear system: the
// mitral and aortic valves. A pump's suction resistance needs none: it
// rises continuously from zero as P_lv falls below its threshold, so it
// is one of the frozen nonlinear terms (see pwl), with no kink in the flow
// worth cutting a step at.
const maxSwitches = 2

// maxModes is the number of switch configurations.
const maxModes = 1 << maxSwitches

// maxModeIters bounds the valve-state iterations of one implicit stage. A
// consistent mode is normally found in one or two; the bound only guards
// against cycling at a valve's switching point, where either mode gives
// nearly the same result because the diode law is continuous.
const maxModeIters = 4

// maxSplits bounds how often one step is cut at a switching instant.
const maxSplits = 2

// minSplit is the smallest fraction of an off-grid step worth cutting off:
// a switch that close to either end of the step is taken as happening at
// the end.
const minSplit = 0.02

type (
	vec    [maxStates]float64
	mat    [maxStates][maxStates]float64
	guards [maxSwitches]float64
)

// pwl is a piecewise-linear system dx/dt = A(m)·x + b(m) with one scalar
// input p that scales one column of A:
//
//	A(m) = A0(m) + p·c(m)·e_kᵀ,  b(m) = b0(m) + p·d(m).
//
// Within a mode m, a combination of switch states such as open and closed
// valves, the dynamics are linear; which mode holds depends on the state
// through guard functions: switch k is on (bit k of m set) where its guard
// is > 0, for a valve the pressure difference across it.
//
// The input is the LV elastance, which the waveform changes every sample:
// it multiplies the LV volume's column (P_lv = E·(V − V0)). Keeping it out
// of A0 lets the solver factorise I − d·h·A0 once per mode for the whole
// run and apply p by the Sherman–Morrison formula, instead of
// refactorising every millisecond.
//
// A system may also have nonlinear terms, such as a rotary pump's
// quadratic flow loss and suction resistance. Before each implicit stage
// the solver asks it to linearise them about the stage's starting point
// (frozen): they then enter as a second rank-one term q·u(m)·e_jᵀ of A,
// whose coefficient q changes at every stage, and a source s added to b.
// Both are applied without refactorising, q by the Woodbury formula
// together with the elastance and s through the stages' right-hand sides,
// so a pump whose speed and operating point change every sample costs no
// more factorisations than the valves alone. A linearly-implicit stage is
// exact for the linearised system, not for the nonlinear one; frozen
// documents the error.
//
// The solver requires that I − s·A(m) be nonsingular for every s > 0,
// p ≥ 0 and q ≥ 0: true of any passive circuit (compliances, resistances,
// inertances, ideal diodes), whose A is −C⁻¹·G with C positive diagonal and
// G of positive semidefinite symmetric part, as long as q·u·e_jᵀ only adds
// resistance.
type pwl interface {
	// dim is the number of states, at most maxStates.
	dim() int
	// guards sets g[k], the guard of switch k, at x; unused entries are 0.
	guards(x *vec, g *guards)
	// input returns p and the column k it scales.
	input() (p float64, k int)
	// system fills A0(m), b0(m), c(m), d(m) and u(m) in their first dim
	// rows and columns; the rest is left as it is.
	system(m int, a0 *mat, b0, c, d, u *vec)
	// frozen linearises the nonlinear terms about x for one implicit
	// stage: it returns the coefficient q of u·e_jᵀ in A and writes the
	// source s added to b. j < 0 says the system has no nonlinear terms;
	// then q and s are ignored and the stage is the plain
	// piecewise-linear one.
	frozen(x, s *vec) (q float64, j int)
	// deriv sets dx = f(x), the exact (not linearised) right-hand side, for
	// the mode m of x.
	deriv(x, dx *vec)
}

// mode returns the switch configuration the guards select.
func (g *guards) mode() int {
	m := 0
	for k, v := range g {
		if v > 0 {
			m |= 1 << k
		}
	}
	return m
}

// TR-BDF2 with γ = 2 − √2: a trapezoidal stage to t + γh, then a BDF2 stage
// to t + h. With this γ both stages solve with the same matrix I − d·h·A,
// so one factorisation per mode serves every step of the same length. The
// scheme is second order and L-stable: unlike the plain trapezoidal rule
// it damps the stiff valve transients (h/τ ≈ 12 at h = 1 ms) instead of
// letting them ring, and unlike backward Euler it does not smear the pulse.
const (
	trGamma = 2 - math.Sqrt2
	trD     = trGamma / 2                                               // = 1 − 1/√2, both stages' implicit weight
	trC1    = 1 / (trGamma * (2 - trGamma))                             // weight of the intermediate state
	trC2    = (1 - trGamma) * (1 - trGamma) / (trGamma * (2 - trGamma)) // weight of the old state
)

// modeFactors is what one mode's implicit stages need at one step length
// h: M0 = I − d·h·A0 factorised, and M0⁻¹ applied to d·h·c, d·h·b0 and
// d·h·d.
//
// For the fixed step, whose factors serve the whole run, M0⁻¹ is also kept
// explicitly: a matrix-vector product is several times faster than the
// two triangular solves, whose every row waits for the one before.
type modeFactors struct {
	m0     lu
	inv    mat  // M0⁻¹, if hasInv
	hasInv bool // the step cache asked for inv
	w      vec  // M0⁻¹·d·h·c
	w2     vec  // M0⁻¹·d·h·u
	zb, zd vec  // M0⁻¹·d·h·b0, M0⁻¹·d·h·d
}

// solve overwrites y with M0⁻¹·y.
func (mf *modeFactors) solve(n int, y *vec) {
	if !mf.hasInv {
		mf.m0.solve(n, y)
		return
	}
	r := *y
	if n == maxStates { // a loop with a pump: written out, the same sums
		for i := range maxStates {
			row := &mf.inv[i]
			y[i] = row[0]*r[0] + row[1]*r[1] + row[2]*r[2] + row[3]*r[3] + row[4]*r[4] + row[5]*r[5]
		}
		return
	}
	n = min(n, maxStates)
	for i := range n {
		row := &mf.inv[i]
		var v float64
		for j := range n {
			v += row[j] * r[j]
		}
		y[i] = v
	}
}

// stepCache holds the factors of every mode for one step length.
type stepCache struct {
	h       float64
	inverse bool // keep M0⁻¹ explicitly
	valid   [maxModes]bool
	modes   [maxModes]modeFactors
}

// trbdf2 integrates a pwl in steps of any length, fast for one fixed length.
//
// Each implicit stage is solved for the mode consistent with its own result
// (solve, check the guards, switch, solve again), which makes it exact for
// the continuous piecewise-linear valve law. What a fixed step cannot get
// right is when within the step a valve switches: the mode of the end of
// the step would be applied over all of it, an error of the order of
// dP/dt·h at every valve opening (≈ 3 mmHg of aortic pressure at 1 ms). So
// when a step ends in another mode than it began, it is redone in two
// parts, cut where the guard, interpolated linearly, crossed zero.
//
// With a piecewise-constant input this happens often, not only at the four
// valve events of a beat: in early ejection each step of the elastance
// opens the aortic valve, which closes again within the millisecond as the
// aorta drains faster than the held elastance empties the ventricle (about
// 55 cut steps per beat at 75 bpm). Cuts of the fixed step are therefore
// rounded to 1/splitGrid of it, so that the factors of every piece length
// are built once and kept for the run like those of the fixed step. Steps
// of any other length (a last partial step of AdvanceTo) are cut exactly
// and use a cache rebuilt whenever their length changes.
//
// The solver is generic over the system: anything that fits pwl in up to
// maxStates states and maxSwitches switches.
type trbdf2 struct {
	h0   float64              // the fixed step, s
	grid [splitGrid]stepCache // grid[j] for steps of (j+1)/splitGrid·h0; the last is h0
	odd  stepCache            // any other length

	// unresolved counts stages whose mode iteration hit maxModeIters,
	// splits the steps cut at a switching instant; tests read them.
	unresolved, splits uint64

	// Scratch space. It lives here, not on the stack, because the system
	// is called through an interface: the compiler cannot prove it keeps
	// no pointer, so stack vectors would escape to the heap on every step.
	f0, r, xg, b0, c, d, u, x0, src vec
	a0                              mat
	g0, g1                          guards
}

// splitGrid is the resolution of cuts in the fixed step: 1/8 of 1 ms puts
// a valve event within ±62.5 µs, about the valve's own time constant.
const splitGrid = 8

// newTRBDF2 returns a solver whose fixed step is h0 seconds.
func newTRBDF2(h0 float64) *trbdf2 {
	s := &trbdf2{h0: h0}
	for j := range s.grid {
		s.grid[j] = stepCache{h: h0 * float64(j+1) / splitGrid, inverse: true}
	}
	return s
}

// invalidate drops all factorisations: A0, b0, c or d changed.
func (s *trbdf2) invalidate() {
	for j := range s.grid {
		s.grid[j].valid = [maxModes]bool{}
	}
	s.odd.valid = [maxModes]bool{}
}

// oddCache returns the cache for steps of h seconds, h not on the grid.
func (s *trbdf2) oddCache(h float64) *stepCache {
	if s.odd.h != h {
		s.odd.h = h
		s.odd.valid = [maxModes]bool{}
	}
	return &s.odd
}

// crossing returns the earliest zero crossing, as a fraction of the step
// from s.g0 to s.g1, of a guard that changed sign, assuming the guards
// vary linearly.
func (s *trbdf2) crossing() float64 {
	theta := 1.0
	for k, a := range s.g0 {
		if b := s.g1[k]; (a > 0) != (b > 0) {
			theta = min(theta, a/(a-b))
		}
	}
	return theta
}

// prepare returns the factors of mode m in cache sc, building them if
// needed.
func (s *trbdf2) prepare(sys pwl, sc *stepCache, m int) *modeFactors {
	mf := &sc.modes[m]
	if sc.valid[m] {
		return mf
	}
	n := sys.dim()
	a := &mf.m0.a
	sys.system(m, &s.a0, &s.b0, &s.c, &s.d, &s.u)
	dh := trD * sc.h
	for i := range n {
		for j := range n {
			a[i][j] = -dh * s.a0[i][j]
		}
		a[i][i]++
		mf.w[i] = dh * s.c[i]
		mf.w2[i] = dh * s.u[i]
		mf.zb[i] = dh * s.b0[i]
		mf.zd[i] = dh * s.d[i]
	}
	mf.m0.factor(n)
	mf.m0.solve(n, &mf.w)
	mf.m0.solve(n, &mf.w2)
	mf.m0.solve(n, &mf.zb)
	mf.m0.solve(n, &mf.zd)
	mf.hasInv = false
	if sc.inverse {
		var col vec
		for j := range n {
			col = vec{}
			col[j] = 1
			mf.m0.solve(n, &col)
			for i := range n {
				mf.inv[i][j] = col[i]
			}
		}
		mf.hasInv = true
	}
	sc.valid[m] = true
	return mf
}

// stage solves y = r + d·h·f(y) for y, i.e. (I − d·h·A(m))·y = r + d·h·b(m)
// with m the mode of y, starting from the guess m. q and j are the frozen
// nonlinear term (j < 0: none); its source is already in r. It returns the
// mode used and leaves y's guards in s.g1.
func (s *trbdf2) stage(sys pwl, sc *stepCache, n int, r *vec, m int, y *vec, q float64, j int) int {
	p, k := sys.input()
	for range maxModeIters {
		mf := s.prepare(sys, sc, m)
		// z = M0⁻¹·(r + d·h·b), then Sherman–Morrison for the rank-one
		// term −d·h·p·c·e_kᵀ of I − d·h·A, or Woodbury for it and
		// −d·h·q·u·e_jᵀ together.
		*y = *r
		mf.solve(n, y)
		for i := range n {
			y[i] += mf.zb[i] + p*mf.zd[i]
		}
		if j < 0 {
			if p != 0 {
				f := p * y[k] / (1 - p*mf.w[k])
				for i := range n {
					y[i] += f * mf.w[i]
				}
			}
		} else {
			// (I − Vᵀ·W·D)·a = Vᵀ·z with W = [w w2], D = diag(p, q),
			// V = [e_k e_j]; then y = z + W·D·a. The 2×2 matrix is
			// det(M)/det(M0) away from singular, and M is nonsingular.
			g11, g12 := 1-p*mf.w[k], -q*mf.w2[k]
			g21, g22 := -p*mf.w[j], 1-q*mf.w2[j]
			det := g11*g22 - g12*g21
			z1, z2 := y[k], y[j]
			a1 := p * (z1*g22 - g12*z2) / det
			a2 := q * (g11*z2 - g21*z1) / det
			for i := range n {
				y[i] += a1*mf.w[i] + a2*mf.w2[i]
			}
		}
		sys.guards(y, &s.g1)
		next := s.g1.mode()
		if next == m {
			return m
		}
		m = next
	}
	s.unresolved++
	return m
}

// step advances x by ticks/splitGrid of the fixed step h0, 0 < ticks ≤
// splitGrid, cutting the step where a switch changes.
func (s *trbdf2) step(sys pwl, x *vec, ticks int) {
	left := ticks // still to go, in grid units
	for split := 0; ; split++ {
		s.x0 = *x
		sys.guards(x, &s.g0)
		s.trStep(sys, x, &s.grid[left-1]) // leaves the guards of the new x in s.g1
		if split == maxSplits || s.g1.mode() == s.g0.mode() {
			return
		}
		q := int(math.Round(s.crossing() * float64(left)))
		if q < 1 || q >= left {
			return
		}
		s.splits++
		*x = s.x0
		s.trStep(sys, x, &s.grid[q-1])
		left -= q
	}
}

// stepOdd advances x by h seconds, any length, cutting the step exactly
// where a switch changes.
func (s *trbdf2) stepOdd(sys pwl, x *vec, h float64) {
	for split := 0; ; split++ {
		s.x0 = *x
		sys.guards(x, &s.g0)
		s.trStep(sys, x, s.oddCache(h))
		if split == maxSplits || s.g1.mode() == s.g0.mode() {
			return
		}
		theta := s.crossing()
		if !(theta > minSplit && theta < 1-minSplit) {
			return
		}
		s.splits++
		*x = s.x0
		s.trStep(sys, x, s.oddCache(theta*h))
		h -= theta * h
	}
}

// trStep is one TR-BDF2 step from x of the length of cache sc, without
// cutting.
//
// Nonlinear terms are linearised afresh for each stage, about the state the
// stage starts from (x, then the intermediate xg). For a term that is
// linearised along its tangent, such as a quadratic loss, the linearisation
// error is quadratic in the change over the stage, O(h²), which the stage
// multiplies by d·h: the local error stays O(h³) and the scheme second
// order.
func (s *trbdf2) trStep(sys pwl, x *vec, sc *stepCache) {
	n := sys.dim()
	f0, r, xg := &s.f0, &s.r, &s.xg
	sys.deriv(x, f0)
	dh := trD * sc.h
	for i := range n {
		r[i] = x[i] + dh*f0[i]
	}
	q, j := sys.frozen(x, &s.src)
	s.addSource(n, j, dh)
	sys.guards(x, &s.g1)
	m := s.stage(sys, sc, n, r, s.g1.mode(), xg, q, j) // trapezoidal to t + γh
	for i := range n {
		r[i] = trC1*xg[i] - trC2*x[i]
	}
	q, j = sys.frozen(xg, &s.src)
	s.addSource(n, j, dh)
	s.stage(sys, sc, n, r, m, x, q, j) // BDF2 to t + h
}

// addSource adds d·h·s, the frozen source, to the stage's right-hand side
// s.r; j < 0 says there is none.
func (s *trbdf2) addSource(n, j int, dh float64) {
	if j < 0 {
		return
	}
	for i := range n {
		s.r[i] += dh * s.src[i]
	}
}

// lu is an in-place LU factorisation with partial pivoting of a small dense
// matrix. For the passive circuits solved here pivoting is not strictly
// needed, but it costs a few comparisons per factorisation and keeps the
// solver safe for any model added later.
//
// The solve runs several times per millisecond of model time, so it avoids
// divisions (the reciprocal pivots are stored) and, when no rows were
// swapped, the permutation.
type lu struct {
	a       mat
	inv     vec // 1/U[k][k]
	piv     [maxStates]int
	swapped bool // any piv[k] != k
}

// factor factorises the leading n×n block of f.a in place.
func (f *lu) factor(n int) {
	n = min(n, maxStates) // lets the compiler drop bounds checks
	f.swapped = false
	for k := range n {
		p := k
		for i := k + 1; i < n; i++ {
			if math.Abs(f.a[i][k]) > math.Abs(f.a[p][k]) {
				p = i
			}
		}
		f.piv[k] = p
		if p != k {
			f.a[k], f.a[p] = f.a[p], f.a[k]
			f.swapped = true
		}
		inv := 1 / f.a[k][k]
		f.inv[k] = inv
		for i := k + 1; i < n; i++ {
			l := f.a[i][k] * inv
			f.a[i][k] = l
			if l == 0 {
				continue
			}
			for j := k + 1; j < n; j++ {
				f.a[i][j] -= l * f.a[k][j]
			}
		}
	}
}

// solve overwrites y with the solution of A·x = y.
func (f *lu) solve(n int, y *vec) {
	n = min(n, maxStates)
	if f.swapped {
		// factor swapped whole rows, so the multipliers are in the final
		// row order: permute y completely before substituting.
		for k := range n {
			if p := f.piv[k]; p != k && p < maxStates {
				y[k], y[p] = y[p], y[k]
			}
		}
	}
	for i := 1; i < n; i++ {
		v := y[i]
		row := &f.a[i]
		for j := range i {
			v -= row[j] * y[j]
		}
		y[i] = v
	}
	for i := n - 1; i >= 0; i-- {
		v := y[i]
		row := &f.a[i]
		for j := i + 1; j < n; j++ {
			v -= row[j] * y[j]
		}
		y[i] = v * f.inv[i]
	}
}
