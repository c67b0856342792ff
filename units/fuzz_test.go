package units

import (
	"testing"
	"unicode/utf8"
)

// maxErrorLen bounds error messages: two quotes of at most maxQuoted input
// bytes, each escaped to at most 4 characters, plus fixed text.
const maxErrorLen = 2*(4*maxQuoted+4) + 200

// FuzzParse checks that Parse never panics, that every error has a message of bounded length,
// and that every accepted value survives Format and Parse again. The seed
// corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			if n := len(err.Error()); n == 0 || n > maxErrorLen {
				t.Fatalf("Parse(%q): error message of %d bytes: %v", s, n, err)
			}
			if q != (Quantity{}) {
				t.Fatalf("Parse(%q) = %v with error %v, want the zero Quantity", s, q, err)
			}
		} else {
			if q.Dim == None || !q.Dim.valid() {
				t.Fatalf("Parse(%q) gave dimension %v", s, q.Dim)
			}
			text := q.String()
			q2, err := Parse(text)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, but its format %q does not parse: %v", s, q.Value, text, err)
			}
			if q2.Dim != q.Dim || !near(q2.Value, q.Value, 1e-5) {
				t.Fatalf("Parse(%q) = %v %v, re-parsed from %q as %v %v", s, q.Value, q.Dim, text, q2.Value, q2.Dim)
			}
			// ParseAs agrees with Parse when the dimension matches.
			if v, err := ParseAs(s, q.Dim); err != nil || v != q.Value {
				t.Fatalf("ParseAs(%q, %v) = %v, %v; Parse gave %v", s, q.Dim, v, err, q.Value)
			}
		}
		// The other entry points must not panic either, and fail with a message.
		for _, d := range []Dimension{None, Pressure, Resistance, Time} {
			if _, err := ParseAs(s, d); err != nil && err.Error() == "" {
				t.Fatalf("ParseAs(%q, %v): empty error message", s, d)
			}
		}
		if _, err := ParseDuration(s); err != nil && err.Error() == "" {
			t.Fatalf("ParseDuration(%q): empty error message", s)
		}
		if err != nil && !utf8.ValidString(err.Error()) {
			t.Fatalf("Parse(%q): error message is not valid UTF-8: %q", s, err)
		}
	})
}
