package sim

import (
	"math"
	"math/rand/v2"
)

// Transducer is a sensor with its amplifier as the ADC sees it: an
// engineering value (mmHg, L/min) in, a voltage out. It is linear, adds white
// Gaussian noise and saturates at its supply rails. The bench puts one
// between each physics signal and the ADC emulator's input; the ADC then adds
// its own quantisation and full-scale clipping.
//
// The noise is deterministic: a Transducer with the same Seed produces the
// same sequence, so a simulated run repeats exactly. Volts allocates nothing.
// A Transducer is not safe for concurrent use.
type Transducer struct {
	Sensitivity float64 // volts per engineering unit
	Offset      float64 // volts at an engineering value of zero
	NoiseRMS    float64 // volts, standard deviation of the added noise
	Min, Max    float64 // output saturation in volts; Min == Max means none
	Seed        uint64  // selects the noise sequence

	rng    rand.PCG
	seeded bool
	spare  float64 // the second value of the last Box–Muller pair
	has    bool
}

// Volts returns the output voltage for the engineering value, with the next
// noise sample added and the result held within [Min, Max].
func (t *Transducer) Volts(value float64) float64 {
	v := t.Offset + t.Sensitivity*value
	if t.NoiseRMS != 0 {
		v += t.NoiseRMS * t.normal()
	}
	if t.Min != t.Max {
		if v < t.Min {
			v = t.Min
		} else if v > t.Max {
			v = t.Max
		}
	}
	return v
}

// Value is the inverse of the noise-free, unsaturated transfer: the
// engineering value a voltage stands for. Tests use it to compare what came
// through the ADC with what went in.
func (t *Transducer) Value(volts float64) float64 {
	return (volts - t.Offset) / t.Sensitivity
}

// normal returns a standard normal sample (Box–Muller on a PCG stream).
func (t *Transducer) normal() float64 {
	if t.has {
		t.has = false
		return t.spare
	}
	if !t.seeded {
		// The second word is a fixed odd constant so that Seed alone picks the stream.
		t.rng.Seed(t.Seed, 0x9e3779b97f4a7c15)
		t.seeded = true
	}
	// Uniforms in (0, 1): 53 random bits, offset by half a step so log(u1) is finite.
	const step = 1.0 / (1 << 53)
	u1 := (float64(t.rng.Uint64()>>11) + 0.5) * step
	u2 := (float64(t.rng.Uint64()>>11) + 0.5) * step
	r := math.Sqrt(-2 * math.Log(u1))
	s, c := math.Sincos(2 * math.Pi * u2)
	t.spare, t.has = r*s, true
	return r * c
}
