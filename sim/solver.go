package sim

import "math"

// maxStates is the largest state vector the solver handles: the five states
// of the circulation and one for a rotary pump's flow.
const maxStates = 6

// maxModes bounds the switch configurations of a piecewise-linear system:
// three on/off switches (mitral valve, aortic valve, a pump's suction
// resistance).
const maxModes = 8

// maxModeIters bounds the valve-state iterations of one implicit stage. A
// consistent mode is normally found in one or two; the bound only guards
// against cycling at a valve's switching point, where either mode gives
// nearly the same result because the diode law is continuous.
const maxModeIters = 4

type (
	vec [maxStates]float64
	mat [maxStates][maxStates]float64
)

// pwl is a piecewise-linear system dx/dt = A(m)·x + b(m). Within a mode m,
// a combination of switch states such as open and closed valves, the
// dynamics are linear; which mode holds depends on the state. A and b may
// change between steps (a new DAC value), the solver is then told so by
// invalidate.
//
// The solver requires that I − c·A(m) be nonsingular for every c > 0: true
// of any passive circuit (compliances, resistances, inertances, ideal
// diodes), whose A is −C⁻¹·G with C positive diagonal and G of positive
// semidefinite symmetric part.
type pwl interface {
	// dim is the number of states, at most maxStates.
	dim() int
	// mode is the switch configuration consistent with x, in [0, maxModes).
	mode(x *vec) int
	// system fills the first dim rows and columns of a and first dim
	// entries of b for mode m; the rest is left as it is.
	system(m int, a *mat, b *vec)
	// deriv sets dx = f(x) = A(mode(x))·x + b(mode(x)).
	deriv(x, dx *vec)
}

// TR-BDF2 with γ = 2 − √2: a trapezoidal stage to t + γh, then a BDF2 stage
// to t + h. With this γ both stages solve with the same matrix I − d·h·A,
// so one factorisation per mode serves a whole step. The scheme is second
// order and L-stable: unlike the plain trapezoidal rule it damps the stiff
// valve transients (h/τ ≈ 6 at h = 0.5 ms) instead of letting them ring,
// and unlike backward Euler it does not smear the pulse.
const (
	trGamma = 2 - math.Sqrt2
	trD     = trGamma / 2                                               // = 1 − 1/√2, both stages' implicit weight
	trC1    = 1 / (trGamma * (2 - trGamma))                             // weight of the intermediate state
	trC2    = (1 - trGamma) * (1 - trGamma) / (trGamma * (2 - trGamma)) // weight of the old state
)

// trbdf2 integrates a pwl in fixed steps. It caches, per mode, the LU
// factors of I − d·h·A(m) and d·h·b(m), valid until the step length or the
// system changes.
type trbdf2 struct {
	h     float64 // step the cache was built for, s
	valid [maxModes]bool
	fac   [maxModes]lu
	db    [maxModes]vec // d·h·b(m)

	// unresolved counts stages whose mode iteration hit maxModeIters; a
	// test checks it stays rare.
	unresolved uint64

	// Scratch vectors. They live here, not on the stack, because the
	// system is called through an interface: the compiler cannot prove it
	// keeps no pointer, so stack vectors would escape to the heap on every
	// step.
	f0, r, xg, b vec
}

// invalidate drops the cached factorisations: the system's A or b changed.
func (s *trbdf2) invalidate() { s.valid = [maxModes]bool{} }

// prepare returns the cached factors of mode m, building them if needed.
func (s *trbdf2) prepare(sys pwl, m int) *lu {
	if s.valid[m] {
		return &s.fac[m]
	}
	n := sys.dim()
	f := &s.fac[m]
	b := &s.b
	sys.system(m, &f.a, b)
	dh := trD * s.h
	for i := range n {
		for j := range n {
			f.a[i][j] *= -dh
		}
		f.a[i][i]++
		s.db[m][i] = dh * b[i]
	}
	f.factor(n)
	s.valid[m] = true
	return f
}

// stage solves y = r + d·h·f(y) for y, i.e. (I − d·h·A(m))·y = r + d·h·b(m)
// with m = mode(y), starting from the guess m. It returns the mode used.
func (s *trbdf2) stage(sys pwl, n int, r *vec, m int, y *vec) int {
	for range maxModeIters {
		f := s.prepare(sys, m)
		for i := range n {
			y[i] = r[i] + s.db[m][i]
		}
		f.solve(n, y)
		next := sys.mode(y)
		if next == m {
			return m
		}
		m = next
	}
	s.unresolved++
	return m
}

// step advances x by h seconds.
func (s *trbdf2) step(sys pwl, x *vec, h float64) {
	if h != s.h {
		s.h = h
		s.invalidate()
	}
	n := sys.dim()
	f0, r, xg := &s.f0, &s.r, &s.xg
	sys.deriv(x, f0)
	dh := trD * h
	for i := range n {
		r[i] = x[i] + dh*f0[i]
	}
	m := s.stage(sys, n, r, sys.mode(x), xg) // trapezoidal to t + γh
	for i := range n {
		r[i] = trC1*xg[i] - trC2*x[i]
	}
	s.stage(sys, n, r, m, x) // BDF2 to t + h
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
