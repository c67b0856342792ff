package sim_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mockloop/mockloop/sim"
)

func TestTransducerTransfer(t *testing.T) {
	// A pressure transducer: 0.5 V at 0 mmHg, 5 mV/mmHg, rails at 0 and 1.2 V.
	tr := sim.Transducer{Sensitivity: 0.005, Offset: 0.5, Min: 0, Max: 1.2}
	for _, c := range []struct{ in, want float64 }{
		{0, 0.5}, {100, 1.0}, {-20, 0.4}, {200, 1.2}, {-150, 0},
	} {
		if got := tr.Volts(c.in); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Volts(%g) = %g, want %g", c.in, got, c.want)
		}
	}
	if got := tr.Value(1.0); math.Abs(got-100) > 1e-9 {
		t.Errorf("Value(1 V) = %g, want 100", got)
	}
	free := sim.Transducer{Sensitivity: 1}
	if got := free.Volts(1e6); got != 1e6 {
		t.Errorf("Min == Max must mean no saturation: %g", got)
	}
}

func TestTransducerNoise(t *testing.T) {
	const n, sigma = 200_000, 1e-3
	a := sim.Transducer{Sensitivity: 1, NoiseRMS: sigma, Seed: 7}
	b := sim.Transducer{Sensitivity: 1, NoiseRMS: sigma, Seed: 7}
	c := sim.Transducer{Sensitivity: 1, NoiseRMS: sigma, Seed: 8}
	var sum, sumSq float64
	same := true
	differs := false
	for range n {
		x := a.Volts(0)
		same = same && x == b.Volts(0)
		differs = differs || x != c.Volts(0)
		sum += x
		sumSq += x * x
	}
	if !same || !differs {
		t.Fatalf("noise not determined by the seed: same seed equal %v, other seed differs %v", same, differs)
	}
	mean, rms := sum/n, math.Sqrt(sumSq/n)
	// Standard errors: σ/√n for the mean, σ/√(2n) for the RMS.
	if math.Abs(mean) > 5*sigma/math.Sqrt(n) {
		t.Errorf("noise mean %g, want 0 ± %g", mean, 5*sigma/math.Sqrt(n))
	}
	if math.Abs(rms/sigma-1) > 5/math.Sqrt(2*n) {
		t.Errorf("noise RMS %g, want %g within %.2g", rms, sigma, 5/math.Sqrt(2*n))
	}
}

func TestTransducerAllocatesNothing(t *testing.T) {
	tr := sim.Transducer{Sensitivity: 0.005, Offset: 0.5, NoiseRMS: 1e-4, Min: 0, Max: 1.2, Seed: 1}
	x := 0.0
	if a := testing.AllocsPerRun(1000, func() { x += tr.Volts(80) }); a != 0 {
		t.Errorf("Volts allocates %g times", a)
	}
}

// TestTransducerNoiseIsNormFloat64: the transducer's own ziggurat draws
// exactly what math/rand/v2's NormFloat64 draws from the same PCG stream,
// tails included, so a simulated run's noise is that of the standard
// library's generator.
func TestTransducerNoiseIsNormFloat64(t *testing.T) {
	for _, seed := range []uint64{1, 7, 0xad5131} {
		tr := sim.Transducer{Sensitivity: 1, NoiseRMS: 1, Seed: seed}
		ref := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		tails := 0
		for i := range 1_000_000 {
			got, want := tr.Volts(0), ref.NormFloat64()
			if got != want {
				t.Fatalf("seed %d sample %d: %g, NormFloat64 %g", seed, i, got, want)
			}
			if math.Abs(want) > 3.442619855899 {
				tails++
			}
		}
		if tails == 0 {
			t.Errorf("seed %d: no sample from the tail: the slow path was not exercised", seed)
		}
	}
}
