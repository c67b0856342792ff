package units

import (
	"math"
	"testing"

	"periph.io/x/conn/v3/physic"
)

// The conversions assume physic's fixed-point steps; if periph ever changes
// them, these fail before any driver sends a wrong value.
func TestPhysicResolution(t *testing.T) {
	if physic.Pascal != 1e9*physic.NanoPascal || physic.NanoPascal != 1 {
		t.Errorf("physic.Pressure is no longer in nPa")
	}
	if physic.Kelvin != 1e9 || physic.Celsius != physic.Kelvin || physic.ZeroCelsius != 273150000000 {
		t.Errorf("physic.Temperature is no longer in nK from absolute zero")
	}
	if physic.Volt != 1e9 || physic.MilliAmpere != 1e6 || physic.Hertz != 1e6 {
		t.Errorf("physic voltage/current/frequency steps changed: V=%d mA=%d Hz=%d",
			physic.Volt, physic.MilliAmpere, physic.Hertz)
	}
}

func TestPressurePhysic(t *testing.T) {
	tests := []struct {
		mmHg float64
		want physic.Pressure
	}{
		{0, 0},
		{1, 133322387415},                      // 133.322387415 Pa exactly
		{1e-11, 1},                             // 1.33 nPa rounds to 1
		{-2e-11, -3},                           // -2.67 nPa rounds to -3
		{80, 10665790993200},                   // 80 × 133322387415 nPa
		{-3, -399967162245},                    // negative (gauge) pressure
		{760, 101325014435400},                 // 760 mmHg is not exactly 1 atm (that is 760 torr)
		{7.500615758456563, physic.KiloPascal}, // 1 kPa
		{1e30, math.MaxInt64},                  // saturates
		{-1e30, -math.MaxInt64},                // physic's minimum
		{math.NaN(), 0},
	}
	for _, tt := range tests {
		if got := PressureToPhysic(tt.mmHg); got != tt.want {
			t.Errorf("PressureToPhysic(%v) = %d nPa, want %d", tt.mmHg, got, tt.want)
		}
	}
	if got := PressureFromPhysic(physic.KiloPascal); !near(got, 7.500615758456563, 1e-15) {
		t.Errorf("PressureFromPhysic(1 kPa) = %v mmHg", got)
	}
	if got := PressureFromPhysic(133322387415 * 120); got != 120 {
		t.Errorf("PressureFromPhysic(120 mmHg in nPa) = %v", got)
	}
}

func TestTemperaturePhysic(t *testing.T) {
	tests := []struct {
		degC float64
		want physic.Temperature
	}{
		{0, physic.ZeroCelsius},
		{37, physic.ZeroCelsius + 37*physic.Celsius},
		{36.6, physic.ZeroCelsius + 36600*physic.MilliCelsius},
		{-273.15, 0},
		{-300, 0}, // below absolute zero: saturates at physic's minimum
		{1e30, math.MaxInt64},
		{math.NaN(), 0},
	}
	for _, tt := range tests {
		if got := TemperatureToPhysic(tt.degC); got != tt.want {
			t.Errorf("TemperatureToPhysic(%v) = %d nK, want %d", tt.degC, got, tt.want)
		}
	}
	for _, tt := range []struct {
		t    physic.Temperature
		want float64
	}{
		{physic.ZeroCelsius, 0},
		{0, -273.15},
		{physic.ZeroCelsius + 37*physic.Celsius, 37},
		{math.MinInt64, (math.MinInt64 - 273.15e9) / 1e9}, // invalid, but no wrap-around
	} {
		if got := TemperatureFromPhysic(tt.t); !near(got, tt.want, 1e-15) {
			t.Errorf("TemperatureFromPhysic(%d nK) = %v °C, want %v", tt.t, got, tt.want)
		}
		if tt.t >= 0 && TemperatureFromPhysic(tt.t) != tt.t.Celsius() {
			t.Errorf("TemperatureFromPhysic(%d) disagrees with physic's Celsius()", tt.t)
		}
	}
}

func TestElectricPhysic(t *testing.T) {
	if got := VoltsToPhysic(5); got != 5*physic.Volt {
		t.Errorf("VoltsToPhysic(5) = %v", got)
	}
	if got := VoltsToPhysic(0.0012); got != 1200*physic.MicroVolt {
		t.Errorf("VoltsToPhysic(0.0012) = %d nV", got)
	}
	if got := VoltsFromPhysic(-2500 * physic.MilliVolt); got != -2.5 {
		t.Errorf("VoltsFromPhysic(-2.5 V) = %v", got)
	}
	if got := MilliampsToPhysic(500); got != 500*physic.MilliAmpere {
		t.Errorf("MilliampsToPhysic(500) = %v", got)
	}
	if got := MilliampsFromPhysic(physic.Ampere); got != 1000 {
		t.Errorf("MilliampsFromPhysic(1 A) = %v mA", got)
	}
	if got := HertzToPhysic(1000); got != physic.KiloHertz {
		t.Errorf("HertzToPhysic(1000) = %v", got)
	}
	if got := HertzToPhysic(0.5); got != 500*physic.MilliHertz {
		t.Errorf("HertzToPhysic(0.5) = %v", got)
	}
	if got := HertzFromPhysic(physic.MegaHertz); got != 1e6 {
		t.Errorf("HertzFromPhysic(1 MHz) = %v Hz", got)
	}
	// Rounding to the nearest step, not truncation toward zero.
	if got := MilliampsToPhysic(0.0000007); got != physic.NanoAmpere {
		t.Errorf("MilliampsToPhysic(0.7 nA) = %d nA, want 1", got)
	}
	if got := VoltsToPhysic(-0.0000000007); got != -physic.NanoVolt {
		t.Errorf("VoltsToPhysic(-0.7 nV) = %d nV, want -1", got)
	}
	if got := HertzToPhysic(0.0000016); got != 2*physic.MicroHertz {
		t.Errorf("HertzToPhysic(1.6 µHz) = %d µHz, want 2", got)
	}
	if got := HertzToPhysic(math.Inf(1)); got != math.MaxInt64 {
		t.Errorf("HertzToPhysic(+Inf) = %d, want saturation", got)
	}
	if got := MilliampsToPhysic(math.Inf(-1)); got != -math.MaxInt64 {
		t.Errorf("MilliampsToPhysic(-Inf) = %d, want saturation", got)
	}
}

// Round trips through physic lose at most half a fixed-point step.
func TestPhysicRoundTrips(t *testing.T) {
	values := []float64{0, 1, -1, 0.001, 3.14159, 37.2, 80, 120.5, 999.999, 12345.678, -42.4242}
	for _, v := range values {
		check := func(name string, got, step float64) {
			t.Helper()
			if math.Abs(got-v) > step/2+1e-15*math.Abs(v) {
				t.Errorf("%s round trip of %v = %v (step %g)", name, v, got, step)
			}
		}
		check("pressure", PressureFromPhysic(PressureToPhysic(v)), 1/133322387415.0)
		if v > -273.15 {
			check("temperature", TemperatureFromPhysic(TemperatureToPhysic(v)), 1e-9)
		}
		check("volts", VoltsFromPhysic(VoltsToPhysic(v)), 1e-9)
		check("milliamps", MilliampsFromPhysic(MilliampsToPhysic(v)), 1e-6)
		check("hertz", HertzFromPhysic(HertzToPhysic(v)), 1e-6)
	}
}
