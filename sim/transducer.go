package sim

import (
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

	rng  rand.PCG
	rand *rand.Rand // over rng, made on first use
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

// normal returns a standard normal sample: the ziggurat of math/rand on
// a PCG stream chosen by Seed (Box–Muller's log and sincos cost a quarter of
// a simulated frame).
func (t *Transducer) normal() float64 {
	if t.rand == nil {
		// The second word is a fixed odd constant so that Seed alone picks the stream.
		t.rng.Seed(t.Seed, 0x9e3779b97f4a7c15)
		t.rand = rand.New(&t.rng)
	}
	return t.rand.NormFloat64()
}
