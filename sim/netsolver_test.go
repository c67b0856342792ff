package sim

import (
	"math"
	"testing"
	"time"
)

// TestNetworkJacobian: deriv's Jacobian, which the chord iterations of the
// solver factorise, agrees with central differences of its flows at states
// across a beat of sim.yaml's patient with its pump running (filling,
// ejection, valves opening and shutting, the pump's losses), and of the
// same patient with its device branch a source whose flow changes.
func TestNetworkJacobian(t *testing.T) {
	for _, c := range []struct {
		name string
		spec NetworkSpec
		set  func(nw *Network, k int) error
	}{
		{"pump", simYAMLNetwork(), func(nw *Network, _ int) error { return nw.SetPumpSpeed(nw.Link("pump"), 40000) }},
		{"source", sourceYAMLNetwork(), func(nw *Network, k int) error { return nw.SetSourceFlow(nw.Link("pump"), 10+float64(k%7)*8) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newNetDriven(t, c.spec, 75, 2.0, 0.06)
			nw := d.nw
			if err := c.set(nw, 0); err != nil {
				t.Fatal(err)
			}
			d.settle(2 * time.Second)
			for k := range 40 {
				if err := c.set(nw, k); err != nil {
					t.Fatal(err)
				}
				d.settle(20 * time.Millisecond)
				checkJacobian(t, nw)
			}
		})
	}
}

// checkJacobian compares deriv's Jacobian at nw's state with central
// differences.
func checkJacobian(t *testing.T, nw *Network) {
	t.Helper()
	n := nw.n
	x := nw.x
	var f0, f1, f2 netVec
	nw.deriv(&x, &f0, true)
	jac := nw.jac
	for j := range n {
		h := 1e-6 * (1 + math.Abs(x[j]))
		xp, xm := x, x
		xp[j] += h
		xm[j] -= h
		nw.deriv(&xp, &f1, false)
		nw.deriv(&xm, &f2, false)
		for i := range n {
			fd := (f1[i] - f2[i]) / (2 * h)
			if math.Abs(fd-jac[i][j]) > 1e-4*(1+math.Abs(fd)) {
				t.Errorf("at %v J[%d][%d] = %g, central difference %g", nw.t, i, j, jac[i][j], fd)
			}
		}
	}
}
