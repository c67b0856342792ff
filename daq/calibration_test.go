package daq

import (
	"math"
	"testing"
)

func TestTwoPointCalibration(t *testing.T) {
	// A 5 µV/V/mmHg-style transducer behind an amplifier: 0.5 V at 0 mmHg,
	// 1.5 V at 200 mmHg.
	c, err := Fit([]Point{{0.5, 0}, {1.5, 200}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Point{{0.5, 0}, {1.0, 100}, {1.5, 200}, {0.45, -10}} {
		if got := c.Apply(p.Volts); math.Abs(got-p.Value) > 1e-9 {
			t.Errorf("Apply(%g V) = %g, want %g", p.Volts, got, p.Value)
		}
	}
	if math.Abs(c.Coeffs[0]+100) > 1e-9 || math.Abs(c.Coeffs[1]-200) > 1e-9 {
		t.Errorf("coefficients %v, want [-100 200]", c.Coeffs)
	}
}

func TestPolynomialFitRecoversCurve(t *testing.T) {
	// a flow meter with a quadratic characteristic, far from 0 V
	want := []float64{-3, 2.5, 0.4}
	var pts []Point
	for v := 2.0; v <= 4.0; v += 0.25 {
		pts = append(pts, Point{v, want[0] + want[1]*v + want[2]*v*v})
	}
	c, err := Fit(pts, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(c.Coeffs[i]-want[i]) > 1e-8 {
			t.Errorf("coefficient %d = %g, want %g", i, c.Coeffs[i], want[i])
		}
	}
}

func TestFitRefuses(t *testing.T) {
	cases := map[string][]Point{
		"one point":     {{1, 1}},
		"same voltage":  {{1, 0}, {1, 100}},
		"not finite":    {{1, 0}, {math.NaN(), 100}},
		"too few for 2": {{1, 0}, {2, 100}},
	}
	for name, pts := range cases {
		deg := 1
		if name == "too few for 2" {
			deg = 2
		}
		if _, err := Fit(pts, deg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestZeroedShiftsOffsetOnly(t *testing.T) {
	c := Calibration{Coeffs: []float64{-100, 200}}
	z := c.Zeroed(0.52) // reads 4 mmHg open to atmosphere
	if got := z.Apply(0.52); math.Abs(got) > 1e-12 {
		t.Errorf("zeroed reading %g, want 0", got)
	}
	if z.Coeffs[1] != 200 || c.Coeffs[0] != -100 {
		t.Errorf("zeroing changed gain or the original: %v %v", z.Coeffs, c.Coeffs)
	}
	if (Calibration{}).Valid() || (Calibration{Coeffs: []float64{math.Inf(1)}}).Valid() || !z.Valid() {
		t.Error("Valid misjudges")
	}
}

func BenchmarkCalibrationApply(b *testing.B) {
	c := Calibration{Coeffs: []float64{-100, 200, 0.1}}
	b.ReportAllocs()
	s := 0.0
	for b.Loop() {
		s += c.Apply(1.234)
	}
	_ = s
}
