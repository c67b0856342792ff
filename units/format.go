package units

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Format writes v, a value in d's canonical unit, compactly with that unit:
// "80 mmHg", "2.5 L/min", "0.0398 mmHg·s/ml", "35 %". It keeps up to six
// significant digits without trailing zeros, enough that Parse gives back v
// within 5e-6 relative. Very small or large magnitudes use an exponent
// ("1.5e-07 ml"). None and undeclared dimensions give the bare number.
//
// NaN and infinities are written as "NaN", "+Inf" and "-Inf" so that a broken
// value shows in a report; Parse refuses them.
func Format(v float64, d Dimension) string {
	num := formatNumber(v)
	if u := d.Unit(); u != "" {
		return num + " " + u
	}
	return num
}

// FormatIn writes v, a value in d's canonical unit, in another unit of the
// same dimension, e.g. a resistance in "dyn·s/cm⁵" for a report. The unit is
// written as given; see Convert for the accepted units and errors.
func FormatIn(v float64, d Dimension, unit string) (string, error) {
	c, err := Convert(v, d, unit)
	if err != nil {
		return "", err
	}
	if unit == "" {
		return formatNumber(c), nil
	}
	return formatNumber(c) + " " + unit, nil
}

// Convert converts v from d's canonical unit to unit, one of the spellings
// Parse accepts for d ("dyn·s/cm⁵", "ml/s", "kPa", ...). For None the only
// unit is "" and v is returned unchanged.
func Convert(v float64, d Dimension, unit string) (float64, error) {
	switch {
	case !d.valid():
		return 0, fmt.Errorf("cannot convert to %s: invalid %v", quote(unit), d)
	case d == None && unit == "":
		return v, nil
	case d == None:
		return 0, fmt.Errorf("cannot convert a plain number to %s: it has no unit", quote(unit))
	}
	def, ok := unitBySpelling[unit]
	if !ok {
		msg := fmt.Sprintf("unknown unit %s", quote(unit))
		if sug, ok := suggest(unit, d); ok {
			return 0, fmt.Errorf("%s; did you mean %s?", msg, sug)
		}
		return 0, fmt.Errorf("%s; %s", msg, listUnits(d))
	}
	if def.dim != d {
		return 0, fmt.Errorf("unit %s is %s unit, expected %s unit", quote(unit), def.dim.withArticle(), d.withArticle())
	}
	return def.fromCanonical(v), nil
}

// formatNumber rounds v to six significant digits and writes the rounded
// value in its shortest form: plainly for magnitudes in [1e-4, 1e9), where
// people read numbers without effort, and with an exponent outside.
func formatNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	// Rounding through text is exact: the result is the float64 nearest to
	// the six-digit decimal, so its shortest form has at most six digits.
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	if r == 0 {
		return "0" // also for -0 and values that round to zero
	}
	if a := math.Abs(r); a >= 1e-4 && a < 1e9 {
		return strconv.FormatFloat(r, 'f', -1, 64)
	}
	return strconv.FormatFloat(r, 'g', -1, 64)
}

// FormatDuration writes d for humans without losing information: "250 ms",
// "30 s", "1.5 s", "1 min 30 s", "1 h 30 min", "12 h". Durations under a
// second are in milliseconds (with decimals down to the nanosecond); longer
// ones are split into hours, minutes and seconds, omitting zero parts. A
// negative duration is prefixed with "-", which applies to the whole.
//
// Compound results such as "1 h 30 min" are for reading; ParseDuration takes
// one number with one unit.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0 s"
	}
	b := make([]byte, 0, 32)
	u := uint64(d)
	if d < 0 {
		b = append(b, '-')
		u = -u // two's complement: correct even for math.MinInt64
	}
	if u < uint64(time.Second) {
		b = appendFixed(b, u, uint64(time.Millisecond))
		return string(append(b, " ms"...))
	}
	h := u / uint64(time.Hour)
	u %= uint64(time.Hour)
	m := u / uint64(time.Minute)
	u %= uint64(time.Minute)
	parts := [...]struct {
		n, scale uint64 // the part is n/scale units
		unit     string
	}{{h, 1, " h"}, {m, 1, " min"}, {u, uint64(time.Second), " s"}}
	first := true
	for _, p := range parts {
		if p.n == 0 {
			continue
		}
		if !first {
			b = append(b, ' ')
		}
		first = false
		b = appendFixed(b, p.n, p.scale)
		b = append(b, p.unit...)
	}
	return string(b)
}

// appendFixed appends n/scale as an exact decimal without trailing zeros;
// scale is a power of ten.
func appendFixed(b []byte, n, scale uint64) []byte {
	b = strconv.AppendUint(b, n/scale, 10)
	frac := n % scale
	if frac == 0 {
		return b
	}
	b = append(b, '.')
	for scale /= 10; frac > 0; scale /= 10 {
		b = append(b, byte('0'+frac/scale))
		frac %= scale
	}
	return b
}
