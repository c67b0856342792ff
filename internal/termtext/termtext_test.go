package termtext

import "testing"

// TestEscapeControlCharacters: BEL, ESC, C1, DEL, bidi overrides and bytes
// that are not UTF-8 are escaped; printable text (UTF-8 included) is kept.
func TestEscapeControlCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"step one":                       "step one",
		"≤ 200 mmHg · °C":                "≤ 200 mmHg · °C",
		"bell\a":                         `bell\a`,
		"\x1b]0;pwned\a\x1b[2J":          `\x1b]0;pwned\a\x1b[2J`,
		"a\nb\tc\rd":                     `a\nb\tc\rd`,
		"c1 \u0085 \u009b2J del \x7f":    `c1 \u0085 \u009b2J del \x7f`,
		"bidi \u202eLIAF\u202c":          `bidi \u202eLIAF\u202c`,
		"bad \xff\xfe utf8, real \ufffd": `bad \xff\xfe utf8, real ` + "\ufffd",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	if got, want := EscapeLines("1: a\x1b[31m\n2:\tb\a\n"), "1: a\\x1b[31m\n2:\tb\\a\n"; got != want {
		t.Errorf("EscapeLines: %q, want %q", got, want)
	}
}

// FuzzEscape: the result never holds a control character but the kept
// ones, and text that needs nothing comes back unchanged.
func FuzzEscape(f *testing.F) {
	f.Add("step \x1b[2J\a\u0085\xff")
	f.Fuzz(func(t *testing.T, s string) {
		out := EscapeLines(s)
		for _, r := range out {
			if unsafe(r) && r != '\n' && r != '\t' {
				t.Fatalf("EscapeLines(%q) = %q holds %U", s, out, r)
			}
		}
		if !needsEscape(s, "\n\t") && out != s {
			t.Fatalf("EscapeLines changed %q to %q", s, out)
		}
	})
}
