package units_test

import (
	"fmt"
	"time"

	"github.com/mockloop/mockloop/units"
)

func ExampleParse() {
	q, err := units.Parse("100 ml/s")
	if err != nil {
		panic(err)
	}
	fmt.Println(q.Value, q.Dim, q)

	q, _ = units.Parse("1000 dyn·s/cm⁵")
	fmt.Println(q)
	// Output:
	// 6 flow 6 L/min
	// 0.750062 mmHg·s/ml
}

func ExampleParseAs() {
	v, err := units.ParseAs("10 kPa", units.Pressure)
	fmt.Println(units.Format(v, units.Pressure), err)

	for _, s := range []string{"80", "2 L/min", "80 mmhg", "3 psi", "fast"} {
		_, err := units.ParseAs(s, units.Pressure)
		fmt.Println(err)
	}
	// Output:
	// 75.0062 mmHg <nil>
	// "80" needs a pressure unit, e.g. 80 mmHg
	// "2 L/min" is a flow, expected a pressure, e.g. 80 mmHg
	// unknown unit "mmhg" in "80 mmhg"; did you mean mmHg?
	// unknown unit "psi" in "3 psi"; pressure units are mmHg, kPa
	// "fast" is not a number with a unit, e.g. 80 mmHg
}

func ExampleParseDuration() {
	d, err := units.ParseDuration("1.5 min")
	fmt.Println(d, err)
	_, err = units.ParseDuration("1e12 h")
	fmt.Println(err)
	// Output:
	// 1m30s <nil>
	// "1e12 h" is out of range for a duration, which is at most 2562047 h
}

func ExampleFormat() {
	fmt.Println(units.Format(80, units.Pressure))
	fmt.Println(units.Format(2.5, units.Flow))
	fmt.Println(units.Format(1.0/3, units.Volume))
	fmt.Println(units.Format(0.0398, units.Resistance))
	fmt.Println(units.Format(35, units.Percent))
	// Output:
	// 80 mmHg
	// 2.5 L/min
	// 0.333333 ml
	// 0.0398 mmHg·s/ml
	// 35 %
}

func ExampleFormatDuration() {
	for _, d := range []time.Duration{250 * time.Millisecond, 1500 * time.Millisecond, 90 * time.Second, 90 * time.Minute, 12 * time.Hour} {
		fmt.Println(units.FormatDuration(d))
	}
	// Output:
	// 250 ms
	// 1.5 s
	// 1 min 30 s
	// 1 h 30 min
	// 12 h
}

func ExampleConvert() {
	// A report shows systemic resistance in the units of the clinical literature.
	dyn, _ := units.Convert(0.9, units.Resistance, "dyn·s/cm⁵")
	fmt.Printf("%.0f dyn·s/cm⁵\n", dyn)

	s, _ := units.FormatIn(6, units.Flow, "ml/s")
	fmt.Println(s)
	// Output:
	// 1200 dyn·s/cm⁵
	// 100 ml/s
}

func ExampleDimension_Example() {
	fmt.Printf("%s is in %s, e.g. %s\n", units.Resistance, units.Resistance.Unit(), units.Resistance.Example())
	// Output:
	// resistance is in mmHg·s/ml, e.g. 1 mmHg·s/ml
}

func ExamplePressureToPhysic() {
	p := units.PressureToPhysic(80)
	fmt.Println(p, units.PressureFromPhysic(p))
	// Output:
	// 10.666kPa 80
}
