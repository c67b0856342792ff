package sim

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The circuits solved so far never need pivoting; this checks the pivoting
// path on matrices that do (zero or tiny leading pivots).
func TestLUSolvesWithPivoting(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 1 + trial%maxStates
		var a mat
		for i := range n {
			for j := range n {
				a[i][j] = rng.NormFloat64()
			}
		}
		if trial%3 == 0 {
			a[0][0] = 0 // forces a swap
		}
		if trial%5 == 0 && n > 1 {
			a[1][1] = 1e-14
		}
		var want, y vec
		for i := range n {
			want[i] = rng.NormFloat64()
		}
		for i := range n {
			for j := range n {
				y[i] += a[i][j] * want[j]
			}
		}
		f := lu{a: a}
		f.factor(n)
		f.solve(n, &y)
		for i := range n {
			if math.Abs(y[i]-want[i]) > 1e-8*(1+math.Abs(want[i])) {
				t.Fatalf("trial %d (n=%d): x[%d] = %g, want %g", trial, n, i, y[i], want[i])
			}
		}
	}
}

// The Sherman–Morrison treatment of the elastance must give the same stage
// solution as factorising I − d·h·A(E) directly.
func TestStageMatchesDirectSolve(t *testing.T) {
	c := &circuit{p: SimaanNormal()}
	s := newTRBDF2(1e-3)
	r := vec{120, 8, 85, 200, 84}
	for m := range 4 {
		for _, e := range []float64{0.06, 0.8, 2.5} {
			c.e = e
			var a0 mat
			var b0, col, d, u vec
			c.system(m, &a0, &b0, &col, &d, &u)
			dh := trD * 1e-3
			var f lu
			var want vec
			for i := range nLoopStates {
				for j := range nLoopStates {
					f.a[i][j] = -dh * a0[i][j]
				}
				f.a[i][xV] -= dh * e * col[i]
				f.a[i][i]++
				want[i] = r[i] + dh*(b0[i]+e*d[i])
			}
			f.factor(nLoopStates)
			f.solve(nLoopStates, &want)

			var y vec
			sc := &s.grid[splitGrid-1]
			mf := s.prepare(c, sc, m)
			y = r
			mf.solve(nLoopStates, &y)
			for i := range nLoopStates {
				y[i] += mf.zb[i] + e*mf.zd[i]
			}
			g := e * y[xV] / (1 - e*mf.w[xV])
			for i := range nLoopStates {
				y[i] += g * mf.w[i]
			}
			for i := range nLoopStates {
				if math.Abs(y[i]-want[i]) > 1e-9*(1+math.Abs(want[i])) {
					t.Errorf("mode %d, E %g: state %d = %.12g, direct %.12g", m, e, i, y[i], want[i])
				}
			}
		}
	}
}
