package daq

import (
	"errors"
	"fmt"
	"math"
)

// Point is one calibration point: the input voltage read while a reference
// instrument showed Value (in the channel's canonical unit).
type Point struct {
	Volts float64 `json:"volts"`
	Value float64 `json:"value"`
}

// Calibration converts an input voltage to the channel's engineering unit
// with a polynomial, value = c0 + c1·v + c2·v² + …: linear (offset and gain)
// for pressure transducers and flow meters, higher degree where a sensor's
// datasheet or a multi-point calibration says so.
type Calibration struct {
	Coeffs []float64
}

// Apply converts volts to the engineering value (Horner's scheme; no
// allocation). Each product is rounded before its sum (the explicit
// float64 conversion forbids fusing them into one FMA, which Go may do
// on arm64 and not on amd64): the value is the same bits on every
// machine, so that a run record stores the converter's code and a reader
// anywhere maps it back to exactly the value the engine had.
func (c Calibration) Apply(v float64) float64 {
	y := 0.0
	for i := len(c.Coeffs) - 1; i >= 0; i-- {
		y = float64(y*v) + c.Coeffs[i]
	}
	return y
}

// Valid reports whether the calibration has coefficients and all are finite.
func (c Calibration) Valid() bool {
	if len(c.Coeffs) == 0 {
		return false
	}
	for _, k := range c.Coeffs {
		if math.IsNaN(k) || math.IsInf(k, 0) {
			return false
		}
	}
	return true
}

// Zeroed returns the calibration shifted so that the given reading (taken
// with the transducer open to atmosphere, or the flow stopped) reads zero.
// Only the offset changes: zeroing corrects drift, not sensitivity.
func (c Calibration) Zeroed(volts float64) Calibration {
	k := append([]float64(nil), c.Coeffs...)
	k[0] -= c.Apply(volts)
	return Calibration{Coeffs: k}
}

// Fit returns the least-squares polynomial of the given degree through the
// points: degree 1 from two points is the classic two-point calibration.
func Fit(points []Point, degree int) (Calibration, error) {
	if degree < 1 {
		return Calibration{}, errors.New("daq: calibration degree must be at least 1")
	}
	if len(points) < degree+1 {
		return Calibration{}, fmt.Errorf("daq: a degree-%d calibration needs at least %d points, got %d", degree, degree+1, len(points))
	}
	for _, p := range points {
		if math.IsNaN(p.Volts) || math.IsInf(p.Volts, 0) || math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			return Calibration{}, errors.New("daq: calibration point is not finite")
		}
	}
	// Normal equations on volts scaled to [-1, 1] keep the system well
	// conditioned; then the coefficients are mapped back.
	lo, hi := points[0].Volts, points[0].Volts
	for _, p := range points {
		lo, hi = min(lo, p.Volts), max(hi, p.Volts)
	}
	if hi-lo < 1e-9 {
		return Calibration{}, errors.New("daq: calibration points must be at different voltages")
	}
	mid, half := (hi+lo)/2, (hi-lo)/2
	n := degree + 1
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n+1)
	}
	for _, p := range points {
		x := (p.Volts - mid) / half
		pow := make([]float64, 2*n)
		pow[0] = 1
		for k := 1; k < len(pow); k++ {
			pow[k] = pow[k-1] * x
		}
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				a[i][j] += pow[i+j]
			}
			a[i][n] += pow[i] * p.Value
		}
	}
	u, err := solve(a)
	if err != nil {
		return Calibration{}, err
	}
	// value = Σ u_k ((v − mid)/half)^k: expand into powers of v.
	coeffs := make([]float64, n)
	for k := 0; k < n; k++ {
		scale := u[k] / math.Pow(half, float64(k))
		for j := 0; j <= k; j++ {
			coeffs[j] += scale * binomial(k, j) * math.Pow(-mid, float64(k-j))
		}
	}
	return Calibration{Coeffs: coeffs}, nil
}

func binomial(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

// solve does Gaussian elimination with partial pivoting on an augmented matrix.
func solve(a [][]float64) ([]float64, error) {
	n := len(a)
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12 {
			return nil, errors.New("daq: calibration points do not determine the polynomial")
		}
		a[c], a[p] = a[p], a[c]
		for r := c + 1; r < n; r++ {
			f := a[r][c] / a[c][c]
			for k := c; k <= n; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := a[r][n]
		for k := r + 1; k < n; k++ {
			s -= a[r][k] * x[k]
		}
		x[r] = s / a[r][r]
	}
	return x, nil
}
