package protocols

import (
	"os"
	"strings"
	"testing"
)

// readmeParams is the README's parameter table as ParamTable makes it: the
// README documents what the table declares, no more and no less.
func readmeParams() string {
	var b strings.Builder
	b.WriteString("| Parameter | Value | Range and support from the rig config | Ramps | Actuation | Sets |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, p := range ParamTable {
		value := p.Dim.Unit()
		switch {
		case p.Range == RangePresets:
			value = "a preset's name"
		case p.Words != nil:
			value = strings.Join(p.Words, ", ")
		}
		if p.Off {
			value += " or off"
		}
		source := map[RangeSource]string{
			RangeParameters: "`parameters:` {min, max}",
			RangePresets:    "`presets:`",
			RangeDUT:        "`dut:`",
		}[p.Range]
		ramps := "no"
		if p.Rampable {
			ramps = "yes"
		}
		b.WriteString("| `" + p.Name + "` | " + value + " | " + source + " | " + ramps + " | `" + string(p.Actuation) + "` | " + p.Doc + " |\n")
	}
	return b.String()
}

const (
	readmeBegin = "<!-- parameter table: protocols.ParamTable, checked by TestREADMEParams -->\n"
	readmeEnd   = "<!-- end of parameter table -->"
)

// TestREADMEParams: the README's parameter table is ParamTable's.
func TestREADMEParams(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(data), readmeBegin)
	table, _, ok2 := strings.Cut(rest, readmeEnd)
	if !ok1 || !ok2 {
		t.Fatalf("README.md has no parameter table between %q and %q", readmeBegin, readmeEnd)
	}
	if want := readmeParams(); table != want {
		t.Errorf("README.md's parameter table is not protocols.ParamTable's; it should read:\n%s", want)
	}
}
