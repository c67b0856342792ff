package units

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		v    float64
		d    Dimension
		want string
	}{
		{80, Pressure, "80 mmHg"},
		{-3, Pressure, "-3 mmHg"},
		{2.5, Flow, "2.5 L/min"},
		{0.0398, Resistance, "0.0398 mmHg·s/ml"},
		{37, Temperature, "37 °C"},
		{35, Percent, "35 %"},
		{40000, Speed, "40000 rpm"},
		{70, Volume, "70 ml"},
		{75, Rate, "75 bpm"},
		{2, Elastance, "2 mmHg/ml"},
		{1000, Frequency, "1000 Hz"},
		{500, Current, "500 mA"},
		{5, Voltage, "5 V"},
		{10000, Power, "10000 mW"},
		{43200, Time, "43200 s"},
		{0.1 + 0.2, Volume, "0.3 ml"},              // float noise is not shown
		{1.0 / 3, Volume, "0.333333 ml"},           // six significant digits
		{2.0 / 3, Volume, "0.666667 ml"},           // rounded, not truncated
		{123456.7, Speed, "123457 rpm"},            // rounded to six digits
		{1234567, Speed, "1234570 rpm"},            // no exponent below 1e9
		{999999.7, Speed, "1000000 rpm"},           // rounding carries
		{1.5e9, Speed, "1.5e+09 rpm"},              // exponent from 1e9
		{1e-4, Pressure, "0.0001 mmHg"},            // plain down to 1e-4
		{1.5e-5, Pressure, "1.5e-05 mmHg"},         // exponent below
		{math.Copysign(0, -1), Pressure, "0 mmHg"}, // no "-0"
		{1e-320, Pressure, "1e-320 mmHg"},          // subnormal: the short form reads back the same
		{math.MaxFloat64, Pressure, "1.79769e+308 mmHg"},
		{math.NaN(), Pressure, "NaN mmHg"},
		{math.Inf(1), Flow, "+Inf L/min"},
		{math.Inf(-1), Flow, "-Inf L/min"},
		{3, None, "3"},
		{3, Dimension(99), "3"},
	}
	for _, tt := range tests {
		if got := Format(tt.v, tt.d); got != tt.want {
			t.Errorf("Format(%v, %v) = %q, want %q", tt.v, tt.d, got, tt.want)
		}
	}
}

// Parse(Format(v, d)) gives back v within 1e-5 relative, for every dimension
// and magnitudes across the float64 range.
func TestFormatRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []float64{0, 1, -1, 0.0398, 1333.22387415, 1e-300, 5e-324, math.MaxFloat64, -math.MaxFloat64, 999999.5, 0.000099999951}
	for range 2000 {
		v := (rng.Float64()*2 - 1) * math.Pow(10, float64(rng.IntN(600)-300))
		values = append(values, v)
	}
	for d := Pressure; d < numDimensions; d++ {
		for _, v := range values {
			s := Format(v, d)
			q, err := Parse(s)
			if err != nil {
				t.Fatalf("Parse(Format(%v, %v) = %q): %v", v, d, s, err)
			}
			if q.Dim != d || !near(q.Value, v, 1e-5) {
				t.Fatalf("Parse(Format(%v, %v) = %q) = %v %v", v, d, s, q.Value, q.Dim)
			}
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0 s"},
		{250 * time.Millisecond, "250 ms"},
		{1500 * time.Microsecond, "1.5 ms"},
		{time.Nanosecond, "0.000001 ms"},
		{999999999, "999.999999 ms"},
		{time.Second, "1 s"},
		{1500 * time.Millisecond, "1.5 s"},
		{30 * time.Second, "30 s"},
		{90 * time.Second, "1 min 30 s"},
		{2 * time.Minute, "2 min"},
		{2*time.Minute + 500*time.Millisecond, "2 min 0.5 s"},
		{90 * time.Minute, "1 h 30 min"},
		{12 * time.Hour, "12 h"},
		{time.Hour + time.Second, "1 h 1 s"},
		{time.Hour + time.Nanosecond, "1 h 0.000000001 s"},
		{3661 * time.Second, "1 h 1 min 1 s"},
		{100 * time.Hour, "100 h"},
		{-250 * time.Millisecond, "-250 ms"},
		{-90 * time.Second, "-1 min 30 s"},
		{math.MaxInt64, "2562047 h 47 min 16.854775807 s"},
		{math.MinInt64, "-2562047 h 47 min 16.854775808 s"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.d); got != tt.want {
			t.Errorf("FormatDuration(%d) = %q, want %q", int64(tt.d), got, tt.want)
		}
	}
}

// Where FormatDuration writes a single number, ParseDuration reads back the
// exact duration: nothing is lost in either direction.
func TestFormatDurationParsesBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ds := []time.Duration{1, 999999999, time.Second, 59*time.Second + 999999999, time.Minute, 7 * time.Hour}
	for range 5000 {
		ds = append(ds, time.Duration(rng.Int64N(int64(time.Minute))))
	}
	for _, d := range ds {
		s := FormatDuration(d)
		if strings.Count(s, " ") != 1 {
			continue // compound form, for reading only
		}
		got, err := ParseDuration(s)
		if err != nil || got != d {
			t.Fatalf("ParseDuration(FormatDuration(%d) = %q) = %d, %v", int64(d), s, int64(got), err)
		}
	}
}

func TestConvert(t *testing.T) {
	tests := []struct {
		v    float64
		d    Dimension
		unit string
		want float64
	}{
		{1, Resistance, "dyn·s/cm⁵", 1333.22387415},
		{1, Resistance, "dyn*s/cm^5", 1333.22387415},
		{0.75, Resistance, "dyn·s·cm⁻⁵", 999.9179056125}, // 0.75 × 1333.22387415
		{1, Resistance, "mmHg·s/ml", 1},
		{6, Flow, "ml/s", 100},
		{0.5, Flow, "ml/min", 500},
		{2.5, Flow, "lpm", 2.5},
		{80, Pressure, "kPa", 10.6657909932}, // 80 × 0.133322387415
		{1500, Volume, "L", 1.5},
		{2000, Speed, "krpm", 2},
		{120, Time, "min", 2},
		{43200, Time, "h", 12},
		{0.25, Time, "ms", 250},
		{1000, Frequency, "kHz", 1},
		{500, Current, "A", 0.5},
		{0.5, Voltage, "mV", 500},
		{10000, Power, "W", 10},
		{3, None, "", 3},
	}
	for _, tt := range tests {
		got, err := Convert(tt.v, tt.d, tt.unit)
		if err != nil || !near(got, tt.want, 1e-14) {
			t.Errorf("Convert(%v, %v, %q) = %v, %v; want %v", tt.v, tt.d, tt.unit, got, err, tt.want)
		}
	}
}

// Convert is the inverse of parsing, for every spelling.
func TestConvertInvertsParse(t *testing.T) {
	for _, u := range unitTable {
		v, err := ParseAs("1.25 "+u.spelling, u.dim)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Convert(v, u.dim, u.spelling)
		if err != nil || !near(back, 1.25, 1e-15) {
			t.Errorf("Convert(ParseAs(%q)) = %v, %v; want 1.25", "1.25 "+u.spelling, back, err)
		}
	}
}

func TestConvertErrors(t *testing.T) {
	tests := []struct {
		d          Dimension
		unit, want string
	}{
		{Resistance, "ml/s", `unit "ml/s" is a flow unit, expected a resistance unit`},
		{Elastance, "mmHg", `unit "mmHg" is a pressure unit, expected an elastance unit`},
		{Resistance, "dyn s/cm5", `unknown unit "dyn s/cm5"; did you mean dyn·s/cm5?`},
		{Resistance, "foo", `unknown unit "foo"; resistance units are mmHg·s/ml, dyn·s/cm⁵`},
		{Pressure, "", `unknown unit ""; pressure units are mmHg, kPa`},
		{None, "mmHg", `cannot convert a plain number to "mmHg": it has no unit`},
		{Dimension(99), "mmHg", `cannot convert to "mmHg": invalid Dimension(99)`},
	}
	for _, tt := range tests {
		v, err := Convert(1, tt.d, tt.unit)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Convert(1, %v, %q) = %v, %v; want error %s", tt.d, tt.unit, v, err, tt.want)
		}
	}
}

func TestFormatIn(t *testing.T) {
	tests := []struct {
		v    float64
		d    Dimension
		unit string
		want string
	}{
		{1, Resistance, "dyn·s/cm⁵", "1333.22 dyn·s/cm⁵"},
		{0.75, Resistance, "dyn·s/cm⁵", "999.918 dyn·s/cm⁵"},
		{6, Flow, "ml/s", "100 ml/s"},
		{3, None, "", "3"},
	}
	for _, tt := range tests {
		got, err := FormatIn(tt.v, tt.d, tt.unit)
		if err != nil || got != tt.want {
			t.Errorf("FormatIn(%v, %v, %q) = %q, %v; want %q", tt.v, tt.d, tt.unit, got, err, tt.want)
		}
	}
	if s, err := FormatIn(1, Resistance, "ml/s"); err == nil {
		t.Errorf("FormatIn to a flow unit = %q, want an error", s)
	}
}

// TestFlagsIsAPlainNumber: a number without a dimension needs no unit, and
// may carry "flags", the unit a rig config gives a flags channel (issue
// 19: "flags" was refused in a limit); no other dimension takes it.
func TestFlagsIsAPlainNumber(t *testing.T) {
	for _, s := range []string{"0", "0 flags", "3flags"} {
		if v, err := ParseAs(s, None); err != nil || v != float64(s[0]-'0') {
			t.Errorf("ParseAs(%q, None) = %v, %v", s, v, err)
		}
	}
	if _, err := ParseAs("0 flags", Pressure); err == nil {
		t.Error(`"0 flags" accepted as a pressure`)
	}
}
