package units

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Exact conversion constants. They are derived rather than copied from a
// table so that every unit agrees with every other one to the last digit.
const (
	// pascalPerMmHg is the conventional millimetre of mercury, exactly
	// 13.5951 g/cm³ × 9.80665 m/s² × 1 mm = 133.322387415 Pa. (The torr,
	// 101325/760 Pa, differs from it by 1.4e-7 relative; it is not used here.)
	pascalPerMmHg = 133.322387415

	// mmHgSPerMlInSI is 1 mmHg·s/ml in Pa·s/m³: 133.322387415 Pa·s per 1e-6 m³.
	mmHgSPerMlInSI = pascalPerMmHg / 1e-6

	// dynSPerCm5InSI is 1 dyn·s/cm⁵ in Pa·s/m³: 1 dyn = 1e-5 N, 1 cm⁵ = 1e-10 m⁵.
	dynSPerCm5InSI = 1e-5 / 1e-10

	// dynPerMmHgSPerMl is how many dyn·s/cm⁵ make one mmHg·s/ml: exactly
	// 1333.22387415 (the "1333" of physiology texts). Go evaluates untyped
	// constants exactly, so no rounding happens before the final float64.
	dynPerMmHgSPerMl = mmHgSPerMlInSI / dynSPerCm5InSI
)

// unitDef is one accepted spelling of a unit. A value v written in this unit
// is v·num/den in the dimension's canonical unit; keeping the ratio as two
// numbers instead of one pre-divided factor avoids a double rounding
// (0.7 ml/s is 0.042 L/min, where 0.7 × 0.06 gives 0.041999999999999996).
type unitDef struct {
	spelling string
	dim      Dimension
	num, den float64
	primary  bool // listed in "pressure units are ..." messages
}

// sameUnit reports whether two spellings denote the same unit, so that a
// suggestion is not called ambiguous when "ml" and "mL" both match.
func (u unitDef) sameUnit(o unitDef) bool {
	return u.dim == o.dim && u.num == o.num && u.den == o.den
}

// toCanonical converts v from this unit to the canonical one. When v·num
// overflows although the result would not, it divides first.
func (u unitDef) toCanonical(v float64) float64 {
	r := v * u.num / u.den
	if math.IsInf(r, 0) {
		r = v / u.den * u.num
	}
	return r
}

// fromCanonical converts v from the canonical unit to this one.
func (u unitDef) fromCanonical(v float64) float64 {
	r := v * u.den / u.num
	if math.IsInf(r, 0) {
		r = v / u.num * u.den
	}
	return r
}

// unitTable lists every accepted spelling, primary spellings first within a
// unit, so that ties in suggestions resolve to the usual spelling.
var unitTable = buildUnitTable()

// unitBySpelling indexes unitTable for exact-case lookups.
var unitBySpelling = indexUnits(unitTable)

// unitKeys holds the lower-cased, space-free form of each unitTable spelling,
// precomputed for suggestions.
var unitKeys = func() [][]rune {
	keys := make([][]rune, len(unitTable))
	for i, u := range unitTable {
		keys[i] = []rune(suggestKey(u.spelling))
	}
	return keys
}()

// buildUnitTable enumerates the spellings of every unit. Resistance has many
// because people type the middle dot and the superscripts in ASCII in
// different ways; all those variants are generated rather than listed.
func buildUnitTable() []unitDef {
	var t []unitDef
	add := func(d Dimension, num, den float64, spellings ...string) {
		for i, s := range spellings {
			t = append(t, unitDef{spelling: s, dim: d, num: num, den: den, primary: i == 0})
		}
	}
	add(Pressure, 1, 1, "mmHg")
	add(Pressure, 1000, pascalPerMmHg, "kPa")
	add(Flow, 1, 1, "L/min", "l/min", "lpm")
	add(Flow, 60, 1000, "ml/s", "mL/s")
	add(Flow, 1, 1000, "ml/min", "mL/min")
	add(Volume, 1, 1, "ml", "mL")
	add(Volume, 1000, 1, "L", "l")
	add(Rate, 1, 1, "bpm")
	add(Speed, 1, 1, "rpm")
	add(Speed, 1000, 1, "krpm")
	add(Time, 1, 1, "s")
	add(Time, 1, 1000, "ms")
	add(Time, 60, 1, "min")
	add(Time, 3600, 1, "h")

	// The product dot: middle dot (canonical), dot operator, and ASCII.
	dots := []string{"·", "⋅", "*", "."}
	var mmHg, dyn []string
	for _, dot := range dots {
		for _, ml := range []string{"ml", "mL"} {
			mmHg = append(mmHg, "mmHg"+dot+"s/"+ml)
		}
	}
	for _, dot := range dots {
		for _, cm5 := range []string{"cm⁵", "cm^5", "cm5"} {
			dyn = append(dyn, "dyn"+dot+"s/"+cm5)
		}
		for _, cm5 := range []string{"cm⁻⁵", "cm^-5", "cm-5"} {
			dyn = append(dyn, "dyn"+dot+"s"+dot+cm5)
		}
	}
	add(Resistance, 1, 1, mmHg...)
	add(Resistance, 1, dynPerMmHgSPerMl, dyn...)

	add(Elastance, 1, 1, "mmHg/ml", "mmHg/mL")
	add(Compliance, 1, 1, "ml/mmHg", "mL/mmHg")
	var inertance []string
	for _, dot := range dots {
		for _, s2 := range []string{"s²", "s^2"} {
			inertance = append(inertance, "mmHg"+dot+s2+"/ml")
		}
	}
	add(Inertance, 1, 1, inertance...)
	add(Stiffness, 1, 1, "/ml", "/mL")
	add(Temperature, 1, 1, "°C", "degC", "℃")
	add(Percent, 1, 1, "%")
	add(Frequency, 1, 1, "Hz")
	add(Frequency, 1000, 1, "kHz")
	add(Current, 1, 1, "mA")
	add(Current, 1000, 1, "A")
	add(Voltage, 1, 1, "V")
	add(Voltage, 1, 1000, "mV")
	add(Power, 1, 1, "mW")
	add(Power, 1000, 1, "W")
	return t
}

// indexUnits builds the spelling index and panics on a duplicate spelling,
// which would make a unit's meaning depend on table order.
func indexUnits(t []unitDef) map[string]unitDef {
	m := make(map[string]unitDef, len(t))
	for _, u := range t {
		if _, dup := m[u.spelling]; dup {
			panic("units: duplicate spelling " + u.spelling)
		}
		m[u.spelling] = u
	}
	return m
}

// anyDimension is the internal "want" of Parse: any unit is accepted, but a
// unit there must be.
const anyDimension = numDimensions

// Parse reads a number followed by a unit ("80 mmHg", "80mmHg", "2.5 L/min",
// "1e3 rpm", "35%") and converts it to the unit's canonical unit. The space
// between number and unit is optional; units are case-sensitive (mmHg, not
// mmhg), and an error suggests the right spelling when the intent is clear.
//
// A bare number is refused: no unit is ever assumed. Also refused are NaN,
// infinities, values that overflow, hex and underscore notation, a decimal
// comma, and more than one number.
func Parse(s string) (Quantity, error) {
	return parse(s, anyDimension)
}

// ParseAs is Parse for a value that must have dimension want; it returns the
// value in want's canonical unit. Errors say what was expected, e.g.
// `"80" needs a pressure unit, e.g. 80 mmHg`.
//
// With want None it accepts only a plain number without a unit.
func ParseAs(s string, want Dimension) (float64, error) {
	if !want.valid() {
		return 0, fmt.Errorf("cannot parse %s as invalid %v", quote(s), want)
	}
	q, err := parse(s, want)
	return q.Value, err
}

// ParseDuration parses a time quantity ("250 ms", "30 s", "2 min", "12 h")
// into a time.Duration, rounded to the nearest nanosecond. Values beyond
// time.Duration's range (about 292 years) are refused. Negative values are
// returned as they are: whether they make sense is the caller's decision.
func ParseDuration(s string) (time.Duration, error) {
	sec, err := ParseAs(s, Time)
	if err != nil {
		return 0, err
	}
	ns := math.Round(sec * float64(time.Second))
	// ±2⁶³ are exact in float64; -2⁶³ itself fits, 2⁶³ does not.
	if ns >= 0x1p63 || ns < -0x1p63 {
		return 0, fmt.Errorf("%s is out of range for a duration, which is at most %d h", quote(s), int64(math.MaxInt64/time.Hour))
	}
	return time.Duration(ns), nil
}

// parse implements Parse (want anyDimension) and ParseAs.
func parse(s string, want Dimension) (Quantity, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Quantity{}, errors.New("empty value, expected " + expected(want))
	}
	n := scanNumber(t)
	if n == 0 || badNumberEnd(t[:n], t[n:]) {
		return Quantity{}, notNumber(s, t[n:], want)
	}
	v, err := strconv.ParseFloat(t[:n], 64)
	if err != nil {
		// The scanner admits only decimal syntax, so this is ErrRange:
		// a magnitude beyond float64.
		return Quantity{}, fmt.Errorf("%s is out of range", quote(s))
	}
	unit := strings.TrimLeftFunc(t[n:], unicode.IsSpace)
	if unit == "" {
		switch want {
		case None:
			return Quantity{Value: v, Dim: None}, nil
		case anyDimension:
			return Quantity{}, fmt.Errorf("%s needs a unit, e.g. %s", quote(s), Pressure.Example())
		}
		return Quantity{}, fmt.Errorf("%s needs %s unit, e.g. %s", quote(s), want.withArticle(), want.Example())
	}
	if want == None && unit == "flags" {
		// the unit a rig config gives a flags channel (dut.alarms): a
		// limit on the channel, or on a flag's count, may repeat it
		return Quantity{Value: v, Dim: None}, nil
	}
	if hasNumberField(unit) {
		return Quantity{}, fmt.Errorf("%s has more than one number, expected one %s", quote(s), expectedOne(want))
	}
	def, ok := unitBySpelling[unit]
	if !ok {
		return Quantity{}, unknownUnit(s, unit, want)
	}
	switch want {
	case anyDimension, def.dim:
	case None:
		return Quantity{}, fmt.Errorf("%s is %s, expected a plain number", quote(s), def.dim.withArticle())
	default:
		return Quantity{}, fmt.Errorf("%s is %s, expected %s, e.g. %s", quote(s), def.dim.withArticle(), want.withArticle(), want.Example())
	}
	c := def.toCanonical(v)
	if math.IsInf(c, 0) {
		return Quantity{}, fmt.Errorf("%s is out of range", quote(s))
	}
	return Quantity{Value: c, Dim: def.dim}, nil
}

// expected describes what parse wanted, for the empty-value message.
func expected(want Dimension) string {
	switch want {
	case None:
		return "a number"
	case anyDimension:
		return "a number with a unit, e.g. " + Pressure.Example()
	}
	return want.withArticle() + ", e.g. " + want.Example()
}

// expectedOne completes "has more than one number, expected one ...".
func expectedOne(want Dimension) string {
	switch want {
	case None:
		return "plain number"
	case anyDimension:
		return "number with a unit, e.g. " + Pressure.Example()
	}
	return want.String() + ", e.g. " + want.Example()
}

// notNumber is the error for input that does not start with a decimal
// number. A comma right after digits gets a hint, because "2,5 L/min" is the
// likeliest way a correct value is written wrongly.
func notNumber(s, rest string, want Dimension) error {
	var msg string
	switch want {
	case None:
		msg = fmt.Sprintf("%s is not a number", quote(s))
	case anyDimension:
		msg = fmt.Sprintf("%s is not a number with a unit, e.g. %s", quote(s), Pressure.Example())
	default:
		msg = fmt.Sprintf("%s is not a number with a unit, e.g. %s", quote(s), want.Example())
	}
	if strings.HasPrefix(rest, ",") {
		msg += "; write decimals with a point and digits without grouping"
	}
	return errors.New(msg)
}

// scanNumber returns the length of the decimal number at the start of s:
// an optional sign, digits with an optional decimal point (at least one
// digit), and an optional exponent. It returns 0 when s does not start with
// one. An "e" not followed by digits is left for the unit.
func scanNumber(s string) int {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			i = j
		}
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// badNumberEnd reports whether the text right after a scanned number shows
// that the number was really something else: "1.2.3", "1_000", "2,5", or a
// hex/octal/binary literal such as "0x1p3" (whose "0" would otherwise parse
// and leave "x1p3" as a unit).
func badNumberEnd(num, rest string) bool {
	if rest == "" {
		return false
	}
	switch rest[0] {
	case '.', '_', ',':
		return true
	case 'x', 'X', 'o', 'O', 'b', 'B':
		return strings.TrimLeft(num, "+-") == "0"
	}
	return false
}

// hasNumberField reports whether any space-separated word of the unit text
// starts with a number, as in "80 90 mmHg" or "80 mmHg 90". Units themselves
// contain no spaces, so this cannot misfire on "dyn·s·cm⁻⁵".
func hasNumberField(unit string) bool {
	atStart := true // at the start of a word
	for i, r := range unit {
		space := unicode.IsSpace(r)
		if atStart && !space && scanNumber(unit[i:]) > 0 {
			return true
		}
		atStart = space
	}
	return false
}

// unknownUnit is the error for a unit that is not in unitTable. It suggests a
// spelling when one is clearly meant; otherwise, for ParseAs, it lists the
// units of the wanted dimension.
func unknownUnit(s, unit string, want Dimension) error {
	msg := fmt.Sprintf("unknown unit %s in %s", quote(unit), quote(s))
	if want == None {
		return errors.New(msg + ", expected a plain number")
	}
	if sug, ok := suggest(unit, want); ok {
		return errors.New(msg + "; did you mean " + sug + "?")
	}
	if want == anyDimension {
		return errors.New(msg)
	}
	return errors.New(msg + "; " + listUnits(want))
}

// listUnits returns "pressure units are mmHg, kPa" or, for a dimension with
// a single unit, "the heart rate unit is bpm".
func listUnits(d Dimension) string {
	var names []string
	for _, u := range unitTable {
		if u.dim == d && u.primary {
			names = append(names, u.spelling)
		}
	}
	if len(names) == 1 {
		return "the " + d.String() + " unit is " + names[0]
	}
	return d.String() + " units are " + strings.Join(names, ", ")
}

// suggestKey is the form in which spellings are compared for suggestions:
// lower case and without spaces, so "MMHG" and "mm Hg" both match mmHg.
func suggestKey(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// maxSuggestLen bounds the inputs considered for suggestions; longer ones
// cannot be within one edit of any spelling, and skipping them keeps the
// edit-distance cost bounded for arbitrary input.
const maxSuggestLen = 16

// suggest returns the spelling the user most likely meant by unit, among the
// units of want (or all units for anyDimension), and only when the match is
// good and unambiguous (no different unit equally close).
//
// Good means equal up to case and spaces ("MMHG", "mm Hg"), or one edit away,
// where for short keys the edit must be a transposition ("rmp") or touch only
// punctuation ("C" for °C, "mmHg,"). Short units differ from each other by one
// letter ("ml/h" and "ml/s", "degF" and "degC", "l/s" and "ml/s"), and a
// suggestion that swaps one real unit for another invites a 1000x mistake.
func suggest(unit string, want Dimension) (string, bool) {
	key := suggestKey(unit)
	if utf8.RuneCountInString(key) > maxSuggestLen {
		return "", false
	}
	k := []rune(key)
	best, bestIdx, ambiguous := 2, -1, false
	for i, u := range unitTable {
		if want != anyDimension && u.dim != want {
			continue
		}
		d := editDistance(k, unitKeys[i])
		if d > 1 || d == 1 && !longKey(k) && !harmlessEdit(k, unitKeys[i]) {
			continue
		}
		switch {
		case d < best:
			best, bestIdx, ambiguous = d, i, false
		case d == best && !u.sameUnit(unitTable[bestIdx]):
			ambiguous = true
		}
	}
	if bestIdx < 0 || ambiguous {
		return "", false
	}
	return unitTable[bestIdx].spelling, true
}

// longKey reports whether a key is long enough (five runes) for any single
// edit to be taken as a typo rather than a different unit.
func longKey(k []rune) bool { return len(k) >= 5 }

// harmlessEdit reports whether a and b, one edit apart, differ only by a
// transposition of adjacent runes or by one punctuation rune (inserted,
// deleted or replaced), i.e. not by a letter or digit that may carry meaning.
func harmlessEdit(a, b []rune) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	i := 0 // length of the common prefix
	for i < len(a) && a[i] == b[i] {
		i++
	}
	if len(a) < len(b) {
		// b has one extra rune. If it is one of a run of equal runes, the
		// common prefix ends at the run's last one, which is the same rune.
		return !significant(b[i]) && string(a[i:]) == string(b[i+1:])
	}
	if i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && string(a[i+2:]) == string(b[i+2:]) {
		return true // transposition
	}
	return !significant(a[i]) && !significant(b[i]) && string(a[i+1:]) == string(b[i+1:])
}

// significant reports whether a rune can change a unit's meaning: letters,
// digits, and the division slash ("/min" is a rate, "min" a time). Product
// dots, carets, spaces, the degree sign and stray symbols are not.
func significant(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '/' }

// editDistance is the optimal-string-alignment distance between a and b:
// Levenshtein plus transposition of adjacent runes ("rmp" is one edit from
// "rpm").
func editDistance(a, b []rune) int {
	// Three rolling rows: two back (for transpositions), previous, current.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// maxQuoted is how many bytes of the input an error message quotes. Values
// in configs are short; a hostile or corrupted one must not turn into a
// megabyte-long message.
const maxQuoted = 100

// quote returns s as a Go string literal for error messages, so that
// invisible and invalid characters show as escapes. Inputs longer than
// maxQuoted bytes are cut at a rune boundary and marked with "…" after the
// closing quote.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
