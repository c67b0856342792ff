package units

import (
	"strconv"
	"time"
)

// Dimension is a physical dimension with one canonical unit.
type Dimension uint8

// Dimensions and their canonical units.
const (
	None        Dimension = iota // dimensionless plain number; never parsed from a unit
	Pressure                     // mmHg (also kPa)
	Flow                         // L/min (also ml/s, ml/min)
	Volume                       // ml (also L)
	Rate                         // bpm (heart rate)
	Speed                        // rpm (pump speed)
	Time                         // s (also ms, min, h)
	Resistance                   // mmHg·s/ml (also dyn·s/cm⁵)
	Elastance                    // mmHg/ml
	Temperature                  // °C
	Percent                      // %
	Frequency                    // Hz (also kHz)
	Current                      // mA (also A)
	Voltage                      // V (also mV)
	Power                        // mW (also W)
	Compliance                   // ml/mmHg
	Inertance                    // mmHg·s²/ml
	Stiffness                    // /ml, per ml (an exponential pressure–volume law's λ)
	numDimensions
)

// Quantity is a value converted to its dimension's canonical unit.
type Quantity struct {
	Value float64
	Dim   Dimension
}

// Seconds returns a Time quantity as a time.Duration.
func Seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// dimInfo describes a Dimension for messages and formatting.
type dimInfo struct {
	name    string // noun used in messages: "a pressure", "needs a pressure unit"
	article string // "a" or "an", so messages read "an elastance"
	unit    string // canonical unit, the one Format writes
	example string // a typical value, shown in error messages as "e.g. ..."
}

// dims is indexed by Dimension. Examples are realistic bench values so that an
// error message doubles as a reminder of the expected order of magnitude.
var dims = [numDimensions]dimInfo{
	None:        {"number", "a", "", ""},
	Pressure:    {"pressure", "a", "mmHg", "80 mmHg"},
	Flow:        {"flow", "a", "L/min", "2.5 L/min"},
	Volume:      {"volume", "a", "ml", "70 ml"},
	Rate:        {"heart rate", "a", "bpm", "75 bpm"},
	Speed:       {"speed", "a", "rpm", "40000 rpm"},
	Time:        {"time", "a", "s", "30 s"},
	Resistance:  {"resistance", "a", "mmHg·s/ml", "1 mmHg·s/ml"},
	Elastance:   {"elastance", "an", "mmHg/ml", "2 mmHg/ml"},
	Temperature: {"temperature", "a", "°C", "37 °C"},
	Percent:     {"percentage", "a", "%", "35 %"},
	Frequency:   {"frequency", "a", "Hz", "1 kHz"},
	Current:     {"current", "a", "mA", "500 mA"},
	Voltage:     {"voltage", "a", "V", "5 V"},
	Power:       {"power", "a", "mW", "10 W"},
	Compliance:  {"compliance", "a", "ml/mmHg", "1.33 ml/mmHg"},
	Inertance:   {"inertance", "an", "mmHg·s²/ml", "0.0005 mmHg·s²/ml"},
	Stiffness:   {"stiffness", "a", "/ml", "0.033 /ml"},
}

// valid reports whether d is one of the declared dimensions.
func (d Dimension) valid() bool { return d < numDimensions }

// String returns the dimension's name as used in messages ("pressure",
// "heart rate"); None is "number". An undeclared value prints as
// "Dimension(N)" so that a corrupted value is visible rather than disguised.
func (d Dimension) String() string {
	if !d.valid() {
		return "Dimension(" + strconv.Itoa(int(d)) + ")"
	}
	return dims[d].name
}

// Unit returns the canonical unit that values of this dimension are stored
// and formatted in, e.g. "mmHg" for Pressure. None and undeclared dimensions
// have no unit and return "".
func (d Dimension) Unit() string {
	if !d.valid() {
		return ""
	}
	return dims[d].unit
}

// Example returns a typical value with a unit, e.g. "80 mmHg", for error
// messages that must show the user what to write. None and undeclared
// dimensions return "".
func (d Dimension) Example() string {
	if !d.valid() {
		return ""
	}
	return dims[d].example
}

// withArticle returns the dimension's name with its indefinite article,
// "a pressure" or "an elastance", for messages.
func (d Dimension) withArticle() string {
	if !d.valid() {
		return "a " + d.String()
	}
	return dims[d].article + " " + dims[d].name
}

// String formats the quantity in its canonical unit, see Format.
func (q Quantity) String() string { return Format(q.Value, q.Dim) }
