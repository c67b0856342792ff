package units

import (
	"math"
	"strings"
	"testing"
)

// The Dimension values are stored in configs' compiled forms and compared
// across packages; their order is part of the contract.
func TestDimensionOrder(t *testing.T) {
	got := []Dimension{None, Pressure, Flow, Volume, Rate, Speed, Time, Resistance,
		Elastance, Temperature, Percent, Frequency, Current, Voltage, Power, Compliance, Inertance, Stiffness, numDimensions}
	for i, d := range got {
		if int(d) != i {
			t.Errorf("dimension #%d (%v) has value %d", i, d, d)
		}
	}
}

func TestDimensionNames(t *testing.T) {
	tests := []struct {
		d                   Dimension
		name, unit, example string
	}{
		{None, "number", "", ""},
		{Pressure, "pressure", "mmHg", "80 mmHg"},
		{Flow, "flow", "L/min", "2.5 L/min"},
		{Volume, "volume", "ml", "70 ml"},
		{Rate, "heart rate", "bpm", "75 bpm"},
		{Speed, "speed", "rpm", "40000 rpm"},
		{Time, "time", "s", "30 s"},
		{Resistance, "resistance", "mmHg·s/ml", "1 mmHg·s/ml"},
		{Elastance, "elastance", "mmHg/ml", "2 mmHg/ml"},
		{Temperature, "temperature", "°C", "37 °C"},
		{Percent, "percentage", "%", "35 %"},
		{Frequency, "frequency", "Hz", "1 kHz"},
		{Current, "current", "mA", "500 mA"},
		{Voltage, "voltage", "V", "5 V"},
		{Power, "power", "mW", "10 W"},
		{Compliance, "compliance", "ml/mmHg", "1.33 ml/mmHg"},
		{Inertance, "inertance", "mmHg·s²/ml", "0.0005 mmHg·s²/ml"},
		{Stiffness, "stiffness", "/ml", "0.033 /ml"},
		{numDimensions, "Dimension(18)", "", ""},
		{Dimension(200), "Dimension(200)", "", ""},
	}
	if len(tests) != int(numDimensions)+2 {
		t.Fatalf("table covers %d dimensions, want all %d", len(tests)-2, numDimensions)
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.name {
			t.Errorf("Dimension(%d).String() = %q, want %q", tt.d, got, tt.name)
		}
		if got := tt.d.Unit(); got != tt.unit {
			t.Errorf("%v.Unit() = %q, want %q", tt.d, got, tt.unit)
		}
		if got := tt.d.Example(); got != tt.example {
			t.Errorf("%v.Example() = %q, want %q", tt.d, got, tt.example)
		}
	}
}

// Every example shown in an error message must itself be accepted, and every
// canonical unit must be a spelling that converts with factor 1.
func TestDimensionExamplesAndUnitsParse(t *testing.T) {
	for d := Pressure; d < numDimensions; d++ {
		if _, err := ParseAs(d.Example(), d); err != nil {
			t.Errorf("%v example %q does not parse: %v", d, d.Example(), err)
		}
		v, err := ParseAs("1.5 "+d.Unit(), d)
		if err != nil || v != 1.5 {
			t.Errorf("ParseAs(%q) = %v, %v; want the canonical unit to give 1.5", "1.5 "+d.Unit(), v, err)
		}
		// The canonical unit is listed first in "... units are ..." messages.
		if first := firstListed(listUnits(d)); first != d.Unit() {
			t.Errorf("listUnits(%v) = %q lists %q first, want %q", d, listUnits(d), first, d.Unit())
		}
	}
}

// firstListed returns the first unit in "x units are a, b" or "the x unit is a".
func firstListed(list string) string {
	_, rest, ok := strings.Cut(list, " units are ")
	if !ok {
		_, rest, _ = strings.Cut(list, " unit is ")
	}
	first, _, _ := strings.Cut(rest, ", ")
	return first
}

func TestQuantityString(t *testing.T) {
	tests := []struct {
		q    Quantity
		want string
	}{
		{Quantity{80, Pressure}, "80 mmHg"},
		{Quantity{2.5, Flow}, "2.5 L/min"},
		{Quantity{0.0398, Resistance}, "0.0398 mmHg·s/ml"},
		{Quantity{3, None}, "3"},
		{Quantity{math.NaN(), Pressure}, "NaN mmHg"},
	}
	for _, tt := range tests {
		if got := tt.q.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.q, got, tt.want)
		}
	}
}
