package dutsim

import (
	"strings"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	cases := []struct {
		in   string
		want Faults
	}{
		{"", Faults{}},
		{"none", Faults{}},
		{"drop=0.2,delay=150ms", Faults{Drop: 0.2, Delay: 150 * time.Millisecond}},
		{" drop-next = 3 , corrupt=1, corrupt-next=2 ", Faults{DropNext: 3, Corrupt: 1, CorruptNext: 2}},
		{"garbage=0.05,babble,silent=false,seed=-7", Faults{Garbage: 0.05, Babble: true, Seed: -7}},
		{"silent", Faults{Silent: true}},
		{"unplug=10s", Faults{UnplugAfter: 10 * time.Second}},
		{"unplug=1m/2.5s", Faults{UnplugAfter: time.Minute, UnplugFor: 2500 * time.Millisecond}},
	}
	for _, c := range cases {
		got, err := ParseFaults(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseFaults(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		// String writes what ParseFaults reads back.
		back, err := ParseFaults(got.String())
		if err != nil || back != got {
			t.Errorf("round trip of %q via %q: %+v, %v", c.in, got.String(), back, err)
		}
	}
	if s := (Faults{Drop: 0.2, Delay: 150 * time.Millisecond}).String(); s != "drop=0.2,delay=150ms" {
		t.Errorf("String = %q", s)
	}
	if s := (Faults{}).String(); s != "none" {
		t.Errorf("String of no faults = %q", s)
	}
}

func TestParseFaultsErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"drop=2", `fault "drop=2": probability must be a number from 0 to 1`},
		{"drop=NaN", "probability must be a number from 0 to 1"},
		{"drop", `fault "drop": needs a value (drop=...)`},
		{"drop=0.1,drop=0.2", "drop given twice"},
		{"delay=fast", `"fast" is not a duration such as 150ms or 2s`},
		{"delay=-1s", "negative"},
		{"drop-next=-1", "count must be a non-negative integer"},
		{"drop-next=1.5", "count must be a non-negative integer"},
		{"silent=maybe", "takes no value, or true/false"},
		{"unplug=0s", "want unplug=AFTER or unplug=AFTER/FOR"},
		{"unplug=1s/x", "want unplug=AFTER or unplug=AFTER/FOR"},
		{"seed=x", "seed must be an integer"},
		{"dorp=0.1", "unknown fault (known: drop, drop-next, delay"},
		{"drop=0.1,,silent", "empty item"},
	} {
		_, err := ParseFaults(c.in)
		if err == nil || !strings.HasPrefix(err.Error(), "dutsim: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseFaults(%q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}
