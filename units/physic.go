package units

import (
	"math"

	"periph.io/x/conn/v3/physic"
)

// Conversions between canonical units and periph's physic types, for drivers
// at the hardware edge. physic stores fixed-point int64 values: Pressure in
// nPa, Temperature in nK, ElectricPotential in nV, ElectricCurrent in nA and
// Frequency in µHz. Conversions to physic round to the nearest step and
// saturate at the type's range instead of wrapping around, so an absurd value
// stays absurd rather than changing sign; NaN becomes zero. Callers that must
// reject such values check them in canonical units before converting.

// nanoPascalPerMmHg is 133.322387415 Pa in nPa, physic.Pressure's step. The
// value is exact: the compiler refuses to convert a non-integer constant.
const nanoPascalPerMmHg = physic.Pressure(pascalPerMmHg * 1e9)

// PressureToPhysic converts mmHg to a physic.Pressure.
func PressureToPhysic(mmHg float64) physic.Pressure {
	return physic.Pressure(saturate(mmHg*float64(nanoPascalPerMmHg), -math.MaxInt64))
}

// PressureFromPhysic converts a physic.Pressure to mmHg.
func PressureFromPhysic(p physic.Pressure) float64 {
	return float64(p) / float64(nanoPascalPerMmHg)
}

// TemperatureToPhysic converts °C to a physic.Temperature. physic counts
// from absolute zero and treats negative values as invalid, so temperatures
// below -273.15 °C saturate at 0 K.
func TemperatureToPhysic(degC float64) physic.Temperature {
	nK := degC*float64(physic.Celsius) + float64(physic.ZeroCelsius)
	return physic.Temperature(saturate(nK, 0))
}

// TemperatureFromPhysic converts a physic.Temperature to °C.
func TemperatureFromPhysic(t physic.Temperature) float64 {
	if t < math.MinInt64+physic.ZeroCelsius {
		// Invalid in physic and too negative to subtract in int64.
		return (float64(t) - float64(physic.ZeroCelsius)) / float64(physic.Celsius)
	}
	return float64(t-physic.ZeroCelsius) / float64(physic.Celsius)
}

// VoltsToPhysic converts volts (V, the Voltage canonical unit) to a
// physic.ElectricPotential.
func VoltsToPhysic(v float64) physic.ElectricPotential {
	return physic.ElectricPotential(saturate(v*float64(physic.Volt), -math.MaxInt64))
}

// VoltsFromPhysic converts a physic.ElectricPotential to volts.
func VoltsFromPhysic(p physic.ElectricPotential) float64 {
	return float64(p) / float64(physic.Volt)
}

// MilliampsToPhysic converts mA (the Current canonical unit) to a
// physic.ElectricCurrent.
func MilliampsToPhysic(mA float64) physic.ElectricCurrent {
	return physic.ElectricCurrent(saturate(mA*float64(physic.MilliAmpere), -math.MaxInt64))
}

// MilliampsFromPhysic converts a physic.ElectricCurrent to mA.
func MilliampsFromPhysic(c physic.ElectricCurrent) float64 {
	return float64(c) / float64(physic.MilliAmpere)
}

// HertzToPhysic converts Hz to a physic.Frequency.
func HertzToPhysic(hz float64) physic.Frequency {
	return physic.Frequency(saturate(hz*float64(physic.Hertz), -math.MaxInt64))
}

// HertzFromPhysic converts a physic.Frequency to Hz.
func HertzFromPhysic(f physic.Frequency) float64 {
	return float64(f) / float64(physic.Hertz)
}

// saturate rounds x to the nearest int64 within [lo, math.MaxInt64]; NaN
// gives 0 (or lo if 0 is below it). physic's own minimum is -MaxInt64, not
// MinInt64, hence the lower bound as a parameter.
func saturate(x float64, lo int64) int64 {
	switch {
	case math.IsNaN(x):
		return max(0, lo)
	case x >= 0x1p63: // float64(math.MaxInt64) rounds up to 2⁶³
		return math.MaxInt64
	case x <= float64(lo):
		return lo
	}
	return int64(math.Round(x))
}
