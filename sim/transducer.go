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

// normal returns a standard normal sample: the ziggurat of Marsaglia and
// Tsang, as math/rand/v2's NormFloat64 draws it, on a PCG stream chosen by
// Seed, called directly rather than through rand.Rand's Source interface:
// a frame draws a dozen of them (Box–Muller's log and sincos cost a
// quarter of a simulated frame).
func (t *Transducer) normal() float64 {
	if !t.seeded {
		// The second word is a fixed odd constant so that Seed alone picks the stream.
		t.rng.Seed(t.Seed, 0x9e3779b97f4a7c15)
		t.seeded = true
	}
	for {
		u := t.rng.Uint64()
		j := int32(u) // possibly negative
		i := u >> 32 & 0x7F
		x := float64(j) * float64(zigW[i])
		if uint32(max(j, -j)) < zigK[i] { // j = −2³¹ fails: its strip's k is below 2³¹
			return x // nearly always
		}
		if i == 0 { // the base strip's tail
			for {
				x = -math.Log(t.uniform()) * (1 / zigR)
				y := -math.Log(t.uniform())
				if y+y >= x*x {
					break
				}
			}
			if j > 0 {
				return zigR + x
			}
			return -zigR - x
		}
		if zigF[i]+float32(t.uniform())*(zigF[i-1]-zigF[i]) < float32(math.Exp(-.5*x*x)) {
			return x
		}
	}
}

// uniform returns a sample of [0, 1) from the stream.
func (t *Transducer) uniform() float64 {
	return float64(t.rng.Uint64()<<11>>11) / (1 << 53)
}

// The ziggurat's 128 strips for the normal density (Marsaglia and Tsang,
// "The Ziggurat Method for Generating Random Variables", J. Stat. Softw.
// 5(8), 2000): zigR is where the tail starts, zigK the acceptance bounds
// of the 31-bit magnitudes, zigW the width of a unit of magnitude, zigF
// the density at each strip's edge.
const zigR = 3.442619855899

var (
	zigK [128]uint32
	zigW [128]float32
	zigF [128]float32
)

func init() {
	const (
		m1 = 1 << 31
		vn = 9.91256303526217e-3 // the area of each strip
	)
	dn, tn := zigR, zigR
	q := vn / math.Exp(-.5*dn*dn)
	zigK[0] = uint32(dn / q * m1)
	zigK[1] = 0
	zigW[0] = float32(q / m1)
	zigW[127] = float32(dn / m1)
	zigF[0] = 1
	zigF[127] = float32(math.Exp(-.5 * dn * dn))
	for i := 126; i >= 1; i-- {
		dn = math.Sqrt(-2 * math.Log(vn/dn+math.Exp(-.5*dn*dn)))
		zigK[i+1] = uint32(dn / tn * m1)
		tn = dn
		zigF[i] = float32(math.Exp(-.5 * dn * dn))
		zigW[i] = float32(dn / m1)
	}
}
