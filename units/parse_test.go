package units

import (
	"math"
	"strings"
	"testing"
	"time"
)

// near reports whether got is within rel (relative) of want.
func near(got, want, rel float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= rel*math.Max(math.Abs(got), math.Abs(want))
}

// Expected values are written out by hand (or from the definitions noted),
// not computed with the package's constants.
var spellingTests = []struct {
	in   string
	dim  Dimension
	want float64
}{
	// Pressure. 1 kPa = 1000 / 133.322387415 mmHg.
	{"80 mmHg", Pressure, 80},
	{"1 kPa", Pressure, 7.500615758456563},
	{"13.3322387415 kPa", Pressure, 100},

	// Flow.
	{"2.5 L/min", Flow, 2.5},
	{"2.5 l/min", Flow, 2.5},
	{"2.5 lpm", Flow, 2.5},
	{"100 ml/s", Flow, 6},
	{"100 mL/s", Flow, 6},
	{"500 ml/min", Flow, 0.5},
	{"500 mL/min", Flow, 0.5},

	// Volume.
	{"70 ml", Volume, 70},
	{"70 mL", Volume, 70},
	{"1.5 L", Volume, 1500},
	{"1.5 l", Volume, 1500},

	{"75 bpm", Rate, 75},
	{"40000 rpm", Speed, 40000},
	{"2 krpm", Speed, 2000},

	// Time, in seconds.
	{"30 s", Time, 30},
	{"250 ms", Time, 0.25},
	{"2 min", Time, 120},
	{"12 h", Time, 43200},

	// Resistance: every product-dot and denominator variant. 1333.22387415
	// dyn·s/cm⁵ = 1 mmHg·s/ml (133.322387415 Pa/mmHg × 10 dyn/cm² per Pa).
	{"1 mmHg·s/ml", Resistance, 1},
	{"1 mmHg·s/mL", Resistance, 1},
	{"1 mmHg⋅s/ml", Resistance, 1},
	{"1 mmHg⋅s/mL", Resistance, 1},
	{"1 mmHg*s/ml", Resistance, 1},
	{"1 mmHg*s/mL", Resistance, 1},
	{"1 mmHg.s/ml", Resistance, 1},
	{"1 mmHg.s/mL", Resistance, 1},
	{"1333.22387415 dyn·s/cm⁵", Resistance, 1},
	{"1333.22387415 dyn·s/cm^5", Resistance, 1},
	{"1333.22387415 dyn·s/cm5", Resistance, 1},
	{"1333.22387415 dyn·s·cm⁻⁵", Resistance, 1},
	{"1333.22387415 dyn·s·cm^-5", Resistance, 1},
	{"1333.22387415 dyn·s·cm-5", Resistance, 1},
	{"1000 dyn⋅s/cm⁵", Resistance, 0.7500615758456563},
	{"1000 dyn⋅s/cm^5", Resistance, 0.7500615758456563},
	{"1000 dyn⋅s/cm5", Resistance, 0.7500615758456563},
	{"1000 dyn⋅s⋅cm⁻⁵", Resistance, 0.7500615758456563},
	{"1000 dyn⋅s⋅cm^-5", Resistance, 0.7500615758456563},
	{"1000 dyn⋅s⋅cm-5", Resistance, 0.7500615758456563},
	{"1000 dyn*s/cm⁵", Resistance, 0.7500615758456563},
	{"1000 dyn*s/cm^5", Resistance, 0.7500615758456563},
	{"1000 dyn*s/cm5", Resistance, 0.7500615758456563},
	{"1000 dyn*s*cm⁻⁵", Resistance, 0.7500615758456563},
	{"1000 dyn*s*cm^-5", Resistance, 0.7500615758456563},
	{"1000 dyn*s*cm-5", Resistance, 0.7500615758456563},
	{"1000 dyn.s/cm⁵", Resistance, 0.7500615758456563},
	{"1000 dyn.s/cm^5", Resistance, 0.7500615758456563},
	{"1000 dyn.s/cm5", Resistance, 0.7500615758456563},
	{"1000 dyn.s.cm⁻⁵", Resistance, 0.7500615758456563},
	{"1000 dyn.s.cm^-5", Resistance, 0.7500615758456563},
	{"1000 dyn.s.cm-5", Resistance, 0.7500615758456563},

	{"2 mmHg/ml", Elastance, 2},
	{"2 mmHg/mL", Elastance, 2},
	{"37 °C", Temperature, 37},
	{"37 degC", Temperature, 37},
	{"37 ℃", Temperature, 37},
	{"35 %", Percent, 35},
	{"50 Hz", Frequency, 50},
	{"1 kHz", Frequency, 1000},
	{"500 mA", Current, 500},
	{"0.5 A", Current, 500},
	{"5 V", Voltage, 5},
	{"500 mV", Voltage, 0.5},
	{"10 mW", Power, 10},
	{"10 W", Power, 10000},
	{"1.33 ml/mmHg", Compliance, 1.33},
	{"1.33 mL/mmHg", Compliance, 1.33},
	{"0.0005 mmHg·s²/ml", Inertance, 0.0005},
	{"0.0005 mmHg·s^2/ml", Inertance, 0.0005},
	{"0.0005 mmHg⋅s²/ml", Inertance, 0.0005},
	{"0.0005 mmHg⋅s^2/ml", Inertance, 0.0005},
	{"0.0005 mmHg*s²/ml", Inertance, 0.0005},
	{"0.0005 mmHg*s^2/ml", Inertance, 0.0005},
	{"0.0005 mmHg.s²/ml", Inertance, 0.0005},
	{"0.0005 mmHg.s^2/ml", Inertance, 0.0005},
	{"0.033 /ml", Stiffness, 0.033},
	{"0.033 /mL", Stiffness, 0.033},
}

func TestParseSpellings(t *testing.T) {
	for _, tt := range spellingTests {
		q, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if q.Dim != tt.dim || !near(q.Value, tt.want, 1e-14) {
			t.Errorf("Parse(%q) = %v %v, want %v %v", tt.in, q.Value, q.Dim, tt.want, tt.dim)
		}
		v, err := ParseAs(tt.in, tt.dim)
		if err != nil || v != q.Value {
			t.Errorf("ParseAs(%q, %v) = %v, %v; want %v like Parse", tt.in, tt.dim, v, err, q.Value)
		}
	}
}

// Adding a spelling to the table must come with a test of its value.
func TestEverySpellingTested(t *testing.T) {
	tested := map[string]bool{}
	for _, tt := range spellingTests {
		_, unit, _ := strings.Cut(tt.in, " ")
		tested[unit] = true
	}
	for _, u := range unitTable {
		if !tested[u.spelling] {
			t.Errorf("spelling %q (%v) has no test in spellingTests", u.spelling, u.dim)
		}
	}
	if len(tested) != len(unitTable) {
		t.Errorf("spellingTests has %d spellings, the table %d", len(tested), len(unitTable))
	}
}

// kPa uses the exact mmHg (133.322387415 Pa); the often quoted 7.50061683 is
// for the torr (101325/760 Pa) and agrees to 1.4e-7.
func TestKiloPascalAgreesWithQuotedFactor(t *testing.T) {
	v, err := ParseAs("1 kPa", Pressure)
	if err != nil {
		t.Fatal(err)
	}
	if !near(v, 7.50061683, 2e-7) || near(v, 7.50061683, 1e-8) {
		t.Errorf("1 kPa = %.12g mmHg, want mmHg-based 7.5006157585 (not torr-based 7.50061683)", v)
	}
	if !near(dynPerMmHgSPerMl, 1333.22387415, 0) {
		t.Errorf("dyn·s/cm⁵ per mmHg·s/ml = %.15g, want exactly 1333.22387415", dynPerMmHgSPerMl)
	}
}

func TestParseNumberForms(t *testing.T) {
	tests := []struct {
		in   string
		want Quantity
	}{
		{"80mmHg", Quantity{80, Pressure}},
		{"80 mmHg", Quantity{80, Pressure}},
		{"  80 mmHg\n", Quantity{80, Pressure}},
		{"80\tmmHg", Quantity{80, Pressure}},
		{"80  mmHg", Quantity{80, Pressure}},
		{"80\u00a0mmHg", Quantity{80, Pressure}}, // no-break space
		{"80\u202fmmHg", Quantity{80, Pressure}}, // narrow no-break space (SI style)
		{"-3 mmHg", Quantity{-3, Pressure}},
		{"+3 mmHg", Quantity{3, Pressure}},
		{"-0 mmHg", Quantity{0, Pressure}},
		{"1e3 rpm", Quantity{1000, Speed}},
		{"1E3 rpm", Quantity{1000, Speed}},
		{"1e+3 rpm", Quantity{1000, Speed}},
		{"1.5e3rpm", Quantity{1500, Speed}},
		{"2.5e-1 L/min", Quantity{0.25, Flow}},
		{".5 ml", Quantity{0.5, Volume}},
		{"5. ml", Quantity{5, Volume}},
		{"007 s", Quantity{7, Time}},
		{"12 h", Quantity{43200, Time}},
		{"35%", Quantity{35, Percent}},
		{"37°C", Quantity{37, Temperature}},
		{"37 °C", Quantity{37, Temperature}},
		{"1e-400 mmHg", Quantity{0, Pressure}}, // underflow is zero, not an error
	}
	for _, tt := range tests {
		q, err := Parse(tt.in)
		if err != nil || q != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, q, err, tt.want)
		}
	}
}

func TestParseAsErrors(t *testing.T) {
	tests := []struct {
		in   string
		want Dimension
		err  string
	}{
		// Bare numbers.
		{"80", Pressure, `"80" needs a pressure unit, e.g. 80 mmHg`},
		{"75", Rate, `"75" needs a heart rate unit, e.g. 75 bpm`},
		{"2", Elastance, `"2" needs an elastance unit, e.g. 2 mmHg/ml`},
		{" 1e3 ", Speed, `" 1e3 " needs a speed unit, e.g. 40000 rpm`},

		// Wrong dimension.
		{"2 L/min", Pressure, `"2 L/min" is a flow, expected a pressure, e.g. 80 mmHg`},
		{"5 mmHg", Elastance, `"5 mmHg" is a pressure, expected an elastance, e.g. 2 mmHg/ml`},
		{"30 Hz", Time, `"30 Hz" is a frequency, expected a time, e.g. 30 s`},
		{"2 mmHg/ml", Resistance, `"2 mmHg/ml" is an elastance, expected a resistance, e.g. 1 mmHg·s/ml`},
		{"75 bpm", Speed, `"75 bpm" is a heart rate, expected a speed, e.g. 40000 rpm`},

		// Unknown units with a clear suggestion.
		{"80 mmhg", Pressure, `unknown unit "mmhg" in "80 mmhg"; did you mean mmHg?`},
		{"80 MMHG", Pressure, `unknown unit "MMHG" in "80 MMHG"; did you mean mmHg?`},
		{"80 mm Hg", Pressure, `unknown unit "mm Hg" in "80 mm Hg"; did you mean mmHg?`},
		{"80 mmHg,", Pressure, `unknown unit "mmHg," in "80 mmHg,"; did you mean mmHg?`},
		{"80 mmHg\u200b", Pressure, `unknown unit "mmHg\u200b" in "80 mmHg\u200b"; did you mean mmHg?`},
		{"7 kpa", Pressure, `unknown unit "kpa" in "7 kpa"; did you mean kPa?`},
		{"70 ML", Volume, `unknown unit "ML" in "70 ML"; did you mean ml?`},
		{"4000 rmp", Speed, `unknown unit "rmp" in "4000 rmp"; did you mean rpm?`},
		{"37 C", Temperature, `unknown unit "C" in "37 C"; did you mean °C?`},
		{"37 deg C", Temperature, `unknown unit "deg C" in "37 deg C"; did you mean degC?`},
		{"1 mmHg s/ml", Resistance, `unknown unit "mmHg s/ml" in "1 mmHg s/ml"; did you mean mmHg·s/ml?`},
		{"1 mmHg/s/ml", Resistance, `unknown unit "mmHg/s/ml" in "1 mmHg/s/ml"; did you mean mmHg·s/ml?`},
		{"900 dyn s/cm5", Resistance, `unknown unit "dyn s/cm5" in "900 dyn s/cm5"; did you mean dyn·s/cm5?`},
		{"900 dyn*s/cm^6", Resistance, `unknown unit "dyn*s/cm^6" in "900 dyn*s/cm^6"; did you mean dyn*s/cm^5?`},
		{"2 ml/mn", Flow, `unknown unit "ml/mn" in "2 ml/mn"; did you mean ml/min?`},
		{"500 ma", Current, `unknown unit "ma" in "500 ma"; did you mean mA?`},
		{"1 KHZ", Frequency, `unknown unit "KHZ" in "1 KHZ"; did you mean kHz?`},

		// Unknown units without a safe suggestion: the wanted units are listed.
		{"3 psi", Pressure, `unknown unit "psi" in "3 psi"; pressure units are mmHg, kPa`},
		{"80 /min", Rate, `unknown unit "/min" in "80 /min"; the heart rate unit is bpm`},
		{"3 ml/h", Flow, `unknown unit "ml/h" in "3 ml/h"; flow units are L/min, ml/s, ml/min`},
		{"3 l/s", Flow, `unknown unit "l/s" in "3 l/s"; flow units are L/min, ml/s, ml/min`},
		{"3 Lmin", Flow, `unknown unit "Lmin" in "3 Lmin"; flow units are L/min, ml/s, ml/min`},
		{"3 ul/min", Flow, `unknown unit "ul/min" in "3 ul/min"; flow units are L/min, ml/s, ml/min`},
		{"98 degF", Temperature, `unknown unit "degF" in "98 degF"; the temperature unit is °C`},
		{"5 m", Time, `unknown unit "m" in "5 m"; time units are s, ms, min, h`},
		{"5 m", Volume, `unknown unit "m" in "5 m"; volume units are ml, L`},
		{"1 foo", Resistance, `unknown unit "foo" in "1 foo"; resistance units are mmHg·s/ml, dyn·s/cm⁵`},
		{"1e3 rpms", Speed, `unknown unit "rpms" in "1e3 rpms"; speed units are rpm, krpm`},

		// Not a number.
		{"fast", Pressure, `"fast" is not a number with a unit, e.g. 80 mmHg`},
		{"mmHg 80", Pressure, `"mmHg 80" is not a number with a unit, e.g. 80 mmHg`},
		{"NaN mmHg", Pressure, `"NaN mmHg" is not a number with a unit, e.g. 80 mmHg`},
		{"nan mmHg", Pressure, `"nan mmHg" is not a number with a unit, e.g. 80 mmHg`},
		{"Inf mmHg", Pressure, `"Inf mmHg" is not a number with a unit, e.g. 80 mmHg`},
		{"-Inf mmHg", Pressure, `"-Inf mmHg" is not a number with a unit, e.g. 80 mmHg`},
		{"+infinity mmHg", Pressure, `"+infinity mmHg" is not a number with a unit, e.g. 80 mmHg`},
		{"0x1p3 Hz", Frequency, `"0x1p3 Hz" is not a number with a unit, e.g. 1 kHz`},
		{"0X10 Hz", Frequency, `"0X10 Hz" is not a number with a unit, e.g. 1 kHz`},
		{"0b101 Hz", Frequency, `"0b101 Hz" is not a number with a unit, e.g. 1 kHz`},
		{"1_000 rpm", Speed, `"1_000 rpm" is not a number with a unit, e.g. 40000 rpm`},
		{"1.2.3 mmHg", Pressure, `"1.2.3 mmHg" is not a number with a unit, e.g. 80 mmHg`},
		{"-", Pressure, `"-" is not a number with a unit, e.g. 80 mmHg`},
		{".", Pressure, `"." is not a number with a unit, e.g. 80 mmHg`},
		{"e3 rpm", Speed, `"e3 rpm" is not a number with a unit, e.g. 40000 rpm`},
		{"−3 mmHg", Pressure, `"−3 mmHg" is not a number with a unit, e.g. 80 mmHg`}, // U+2212
		{"٨٠ mmHg", Pressure, `"٨٠ mmHg" is not a number with a unit, e.g. 80 mmHg`}, // Arabic-Indic digits
		{"2,5 L/min", Flow, `"2,5 L/min" is not a number with a unit, e.g. 2.5 L/min; write decimals with a point and digits without grouping`},
		{"40,000 rpm", Speed, `"40,000 rpm" is not a number with a unit, e.g. 40000 rpm; write decimals with a point and digits without grouping`},

		// Empty.
		{"", Pressure, `empty value, expected a pressure, e.g. 80 mmHg`},
		{" \t", Flow, `empty value, expected a flow, e.g. 2.5 L/min`},

		// More than one number.
		{"80 90 mmHg", Pressure, `"80 90 mmHg" has more than one number, expected one pressure, e.g. 80 mmHg`},
		{"80 mmHg 90", Pressure, `"80 mmHg 90" has more than one number, expected one pressure, e.g. 80 mmHg`},
		{"80 mmHg -3 mmHg", Pressure, `"80 mmHg -3 mmHg" has more than one number, expected one pressure, e.g. 80 mmHg`},
		{"1 h 30 min", Time, `"1 h 30 min" has more than one number, expected one time, e.g. 30 s`},

		// Out of range.
		{"1e400 mmHg", Pressure, `"1e400 mmHg" is out of range`},
		{"-1e400 mmHg", Pressure, `"-1e400 mmHg" is out of range`},
		{"1e308 kPa", Pressure, `"1e308 kPa" is out of range`},
		{"1e306 h", Time, `"1e306 h" is out of range`},

		// None: a plain number, no unit.
		{"3 mmHg", None, `"3 mmHg" is a pressure, expected a plain number`},
		{"3 foo", None, `unknown unit "foo" in "3 foo", expected a plain number`},
		{"x", None, `"x" is not a number`},
		{"", None, `empty value, expected a number`},
		{"3 4", None, `"3 4" has more than one number, expected one plain number`},
	}
	for _, tt := range tests {
		v, err := ParseAs(tt.in, tt.want)
		if err == nil {
			t.Errorf("ParseAs(%q, %v) = %v, want error %s", tt.in, tt.want, v, tt.err)
			continue
		}
		if err.Error() != tt.err {
			t.Errorf("ParseAs(%q, %v) error\n got: %s\nwant: %s", tt.in, tt.want, err, tt.err)
		}
		if v != 0 {
			t.Errorf("ParseAs(%q, %v) returned %v with its error, want 0", tt.in, tt.want, v)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, err string }{
		{"80", `"80" needs a unit, e.g. 80 mmHg`},
		{"80 mmhg", `unknown unit "mmhg" in "80 mmhg"; did you mean mmHg?`},
		{"3 psi", `unknown unit "psi" in "3 psi"`},
		// "/min" is one edit from "min", but a rate is not a time.
		{"80 /min", `unknown unit "/min" in "80 /min"`},
		// "ms" and "ml" are equally close to "m": ambiguous, no guess.
		{"5 m", `unknown unit "m" in "5 m"`},
		{"fast", `"fast" is not a number with a unit, e.g. 80 mmHg`},
		{"", `empty value, expected a number with a unit, e.g. 80 mmHg`},
		{"80 90 mmHg", `"80 90 mmHg" has more than one number, expected one number with a unit, e.g. 80 mmHg`},
		{"1e999 rpm", `"1e999 rpm" is out of range`},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want error %s", tt.in, q, tt.err)
			continue
		}
		if err.Error() != tt.err {
			t.Errorf("Parse(%q) error\n got: %s\nwant: %s", tt.in, err, tt.err)
		}
		if q != (Quantity{}) {
			t.Errorf("Parse(%q) returned %v with its error, want the zero Quantity", tt.in, q)
		}
	}
}

func TestParseAsNone(t *testing.T) {
	for in, want := range map[string]float64{"3": 3, " -2.5e1 ": -25, "0": 0} {
		v, err := ParseAs(in, None)
		if err != nil || v != want {
			t.Errorf("ParseAs(%q, None) = %v, %v; want %v", in, v, err, want)
		}
	}
}

func TestParseAsInvalidDimension(t *testing.T) {
	for _, d := range []Dimension{numDimensions, 200} {
		_, err := ParseAs("3 mmHg", d)
		if err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("ParseAs with %v: error %v, want one saying the dimension is invalid", d, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"250 ms", 250 * time.Millisecond},
		{"30 s", 30 * time.Second},
		{"1.5 s", 1500 * time.Millisecond},
		{"0.3 s", 300 * time.Millisecond},
		{"0.1 ms", 100 * time.Microsecond},
		{"1e-9 s", time.Nanosecond},
		{"2 min", 2 * time.Minute},
		{"1.5 min", 90 * time.Second},
		{"12 h", 12 * time.Hour},
		{"-3 s", -3 * time.Second},
		{"2562047 h", 2562047 * time.Hour}, // the largest whole number of hours
		{"9223372036 s", 9223372036 * time.Second},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseDurationErrors(t *testing.T) {
	tests := []struct{ in, err string }{
		{"2562048 h", `"2562048 h" is out of range for a duration, which is at most 2562047 h`},
		{"-2562048 h", `"-2562048 h" is out of range for a duration, which is at most 2562047 h`},
		{"9223372036.854775808 s", `"9223372036.854775808 s" is out of range for a duration, which is at most 2562047 h`}, // 2⁶³ ns
		{"1e12 h", `"1e12 h" is out of range for a duration, which is at most 2562047 h`},
		{"30", `"30" needs a time unit, e.g. 30 s`},
		{"80 mmHg", `"80 mmHg" is a pressure, expected a time, e.g. 30 s`},
		{"1 h 30 min", `"1 h 30 min" has more than one number, expected one time, e.g. 30 s`},
	}
	for _, tt := range tests {
		d, err := ParseDuration(tt.in)
		if err == nil || err.Error() != tt.err {
			t.Errorf("ParseDuration(%q) = %v, %v; want error %s", tt.in, d, err, tt.err)
		}
	}
}

func TestSuggest(t *testing.T) {
	long := strings.Repeat("m", maxSuggestLen)
	tests := []struct {
		unit string
		want Dimension
		sug  string // "" for no suggestion
	}{
		{"mmHgg", Pressure, "mmHg"},     // long key: a letter typo is fine
		{"mmmHg", anyDimension, "mmHg"}, // repeated rune inserted
		{"mmHg//", Pressure, ""},        // two edits
		{"ss", Time, ""},                // short key, letter inserted
		{"s s", Time, ""},               // "ss" after removing spaces
		{"S", Time, "s"},                // case only
		{long + "Hg", Pressure, ""},     // beyond maxSuggestLen: not considered
		{long[:maxSuggestLen-2] + "Hg", Pressure, ""},
		{"\xff", anyDimension, ""},     // invalid UTF-8 as a rune
		{"\xffmmHg", Pressure, "mmHg"}, // one stray (invalid) byte, long key
		{"Mmhg", Elastance, ""},        // right spelling of the wrong dimension
	}
	for _, tt := range tests {
		sug, ok := suggest(tt.unit, tt.want)
		if ok != (tt.sug != "") || sug != tt.sug {
			t.Errorf("suggest(%q, %v) = %q, %v; want %q", tt.unit, tt.want, sug, ok, tt.sug)
		}
	}
}

func TestHarmlessEdit(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"rmp", "rpm", true},    // transposition
		{"mmhg,", "mmhg", true}, // punctuation deleted
		{"c", "°c", true},       // degree sign inserted
		{"mmhg*s", "mmhg.s", true},
		{"ml/h", "ml/s", false}, // letter substituted
		{"l/s", "ml/s", false},  // letter inserted
		{"min", "/min", false},  // the slash matters
		{"mmmhg", "mmhg", false},
		{"cm6", "cm5", false}, // digit
	}
	for _, tt := range tests {
		if got := harmlessEdit([]rune(tt.a), []rune(tt.b)); got != tt.want {
			t.Errorf("harmlessEdit(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := harmlessEdit([]rune(tt.b), []rune(tt.a)); got != tt.want {
			t.Errorf("harmlessEdit(%q, %q) = %v, want %v (symmetry)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"rpm", "rpm", 0},
		{"rmp", "rpm", 1},
		{"psi", "kpa", 3},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3}, // OSA, not full Damerau (which gives 2)
	}
	for _, tt := range tests {
		if got := editDistance([]rune(tt.a), []rune(tt.b)); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	inputs := []string{"80 mmHg", "2.5 L/min", "1e3 rpm", "1000 dyn·s/cm⁵", "37 °C", "12 h"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := Parse(inputs[i%len(inputs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// A huge value must not produce a huge message; the quote is cut at a rune
// boundary and marked.
func TestLongInputErrorIsShort(t *testing.T) {
	long := "1 " + strings.Repeat("é", 1<<16) // 2-byte runes: the cut needs care
	_, err := Parse(long)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if len(msg) > 300 || !strings.Contains(msg, `"…`) || strings.Contains(msg, `\x`) {
		t.Errorf("error for a %d-byte input is %d bytes: %.300s", len(long), len(msg), msg)
	}
	if got := quote(strings.Repeat("a", maxQuoted)); got != `"`+strings.Repeat("a", maxQuoted)+`"` {
		t.Errorf("quote of exactly maxQuoted bytes was cut: %s", got)
	}
}

// Conversions with exact decimal factors give exact results: the ratio is
// applied as ·num/den, not as a pre-rounded factor (0.7 × 0.06 would be
// 0.041999999999999996, 9 × 0.001 is 0.009000000000000001).
func TestParseExactConversions(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"100 ml/s", 6},
		{"0.7 ml/s", 0.042},
		{"500 ml/min", 0.5},
		{"9 ml/min", 0.009},
		{"250 ms", 0.25},
		{"13 ms", 0.013},
		{"1.5 L", 1500},
		{"2 krpm", 2000},
		{"500 mV", 0.5},
		{"0.5 A", 500},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in)
		if err != nil || q.Value != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want exactly %v", tt.in, q.Value, err, tt.want)
		}
	}
}
