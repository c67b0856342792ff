package termtext

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s with every control character escaped: C0 (newline and
// tab included: one field of a line or a table has none), DEL, C1, the
// bidirectional overrides that reorder what a terminal shows, and bytes
// that are not UTF-8. Text without them is returned as it is.
func Escape(s string) string { return escape(s, "") }

// EscapeLines is Escape for text of several lines: newlines and tabs stay.
func EscapeLines(s string) string { return escape(s, "\n\t") }

func escape(s, keep string) string {
	if !needsEscape(s, keep) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && isInvalid(s[i:]):
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i]), 16))
		case unsafe(r) && !strings.ContainsRune(keep, r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsEscape(s, keep string) bool {
	for i, r := range s {
		if (r == utf8.RuneError && isInvalid(s[i:])) || (unsafe(r) && !strings.ContainsRune(keep, r)) {
			return true
		}
	}
	return false
}

// isInvalid reports whether s starts with a byte that is not UTF-8 (rather
// than an encoded U+FFFD).
func isInvalid(s string) bool {
	_, n := utf8.DecodeRuneInString(s)
	return n <= 1
}

// unsafe reports whether a terminal may act on r rather than show it.
func unsafe(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
