package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// fmtNum formats v with sig significant digits in plain decimal notation
// (32901, 101.0, 0.7166), so that tables of rpm and of L/min read alike;
// only very large or very small magnitudes fall back to exponents. Non-finite
// values are written as Go writes them (NaN, +Inf).
func fmtNum(v float64, sig int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if v == 0 {
		return "0"
	}
	a := math.Abs(v)
	if a >= 1e9 || a < 1e-4 {
		return strconv.FormatFloat(v, 'g', sig, 64)
	}
	dec := max(0, sig-1-int(math.Floor(math.Log10(a))))
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if s == "-0" || strings.TrimLeft(s, "-0.") == "" {
		return "0"
	}
	return s
}

// statNum is the format of statistics: 5 significant digits, trailing
// zeros dropped (a mean of 281 rpm reads "281", not "281.00").
func statNum(v float64) string { return trimZeros(fmtNum(v, 5)) }

// trimZeros drops the trailing zeros of a decimal fraction: "250.000"
// becomes "250".
func trimZeros(s string) string {
	if strings.Contains(s, ".") && !strings.ContainsAny(s, "eEIN") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// valueText formats a criterion's measured value with 6 significant digits,
// or more when that would make it look equal to a limit it is not equal to:
// a reader must never see "2.1 L/min" fail a "≥ 2.1 L/min" limit.
func valueText(v float64, lo, hi *float64) string {
	for sig := 6; ; sig++ {
		s := trimZeros(fmtNum(v, sig))
		if sig >= 17 {
			return s
		}
		clash := false
		for _, l := range []*float64{lo, hi} {
			if l != nil && *l != v && trimZeros(fmtNum(*l, sig)) == s {
				clash = true
			}
		}
		if !clash {
			return s
		}
	}
}

// withUnit joins a number and a unit, leaving out an empty unit.
func withUnit(s, unit string) string {
	if unit == "" {
		return s
	}
	return s + " " + unit
}

// fmtSeconds formats a run-clock time in seconds for tables: "12.345 s".
func fmtSeconds(s float64) string {
	return strconv.FormatFloat(s, 'f', 3, 64) + " s"
}

// fmtDuration formats a duration in seconds for people: "45.2 s",
// "2 min 40 s", "24 h 00 min".
func fmtDuration(s float64) string {
	switch {
	case math.IsNaN(s) || math.IsInf(s, 0):
		return "-"
	case s < 120:
		return strconv.FormatFloat(s, 'f', 1, 64) + " s"
	case s < 2*3600:
		m := int(s / 60)
		return fmt.Sprintf("%d min %02d s", m, int(math.Round(s-float64(m)*60)))
	}
	h := int(s / 3600)
	return fmt.Sprintf("%d h %02d min", h, int(math.Round((s-float64(h)*3600)/60)))
}

// fmtTime formats a wall time for the reports, in UTC to the second.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// fmtNS formats a run-clock time in nanoseconds as seconds, exactly:
// "12.345", "0.000001", "7".
func fmtNS(ns int64) string {
	neg := ns < 0
	if neg {
		ns = -ns
	}
	s := strconv.FormatInt(ns/1e9, 10)
	if frac := ns % 1e9; frac != 0 {
		f := fmt.Sprintf("%09d", frac)
		s += "." + strings.TrimRight(f, "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// fmtSample formats a frame value as stored (a float32): the shortest text
// that reads back to the same float32.
func fmtSample(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 32)
}

// fmtAny formats a decoded JSON value compactly for a table cell:
// numbers with 6 significant digits, objects as {k v, ...} with sorted keys.
func fmtAny(v any) string {
	var b strings.Builder
	writeAny(&b, v)
	return b.String()
}

func writeAny(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case float64:
		b.WriteString(trimZeros(fmtNum(x, 6)))
	case string:
		b.WriteString(x)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeAny(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteByte(' ')
			writeAny(b, x[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, x)
	}
}

// orDash returns s, or "-" when it is empty, so that an empty table cell
// reads as "none" and not as a rendering fault.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// plural writes a count with its noun: "1 execution", "3 executions".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// fmtCount writes a count with thin spaces between groups of three digits
// (86 400 000), as ISO 80000 writes large numbers.
func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune('\u2009')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
