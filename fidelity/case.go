package fidelity

import (
	"encoding/json"
	"math"
)

// Case is one reference case: what is measured, the published figure or
// range, its source, the tolerance and why, and where and how the
// simulated value is measured.
type Case struct {
	ID    string // unique, e.g. "simaan.sbp"
	Group string // the report's table and plot it belongs to
	What  string // what is measured ("case" in the JSON)
	Unit  string
	// Published is the figure (with Tol) or range (Tol zero) of the source.
	Published Published
	Source    string
	Tol       Tolerance
	// Rig is the rig config the case runs on (a file of the rig directory).
	Rig string
	// Experiment names the run the case is measured in (experiments).
	Experiment string
	// Method says how the value is measured, for the report.
	Method string
	// Value computes the simulated value from the experiment's measures.
	Value func(m Measures) float64
}

// Measures are an experiment's measured values by criterion id.
type Measures map[string]float64

// Published is a published figure, or a range when Min or Max is set (a
// side left nil is open).
type Published struct {
	Value    float64
	Min, Max *float64
}

// Figure is a published figure.
func Figure(v float64) Published { return Published{Value: v} }

// Range is a published range [lo, hi].
func Range(lo, hi float64) Published { return Published{Min: &lo, Max: &hi} }

// Above is a published lower bound.
func Above(lo float64) Published { return Published{Min: &lo} }

// Below is a published upper bound.
func Below(hi float64) Published { return Published{Max: &hi} }

// IsRange reports whether p is a range rather than a figure.
func (p Published) IsRange() bool { return p.Min != nil || p.Max != nil }

// MarshalJSON writes a figure as a number and a range as {"min","max"}
// (an open side left out).
func (p Published) MarshalJSON() ([]byte, error) {
	if !p.IsRange() {
		return json.Marshal(p.Value)
	}
	return json.Marshal(struct {
		Min *float64 `json:"min,omitempty"`
		Max *float64 `json:"max,omitempty"`
	}{p.Min, p.Max})
}

// Tolerance is how far the simulated value may fall below and rise above
// a published figure, in the case's unit, and why that much. A range has
// none: the range is the criterion.
type Tolerance struct {
	Below, Above float64
	Why          string
}

// Pct is a symmetric tolerance of pct per cent of v.
func Pct(v, pct float64, why string) Tolerance {
	d := math.Abs(v) * pct / 100
	return Tolerance{Below: d, Above: d, Why: why}
}

// Factor is the tolerance of a change published as v: the simulated
// change at least lo·v and at most hi·v.
func Factor(v, lo, hi float64, why string) Tolerance {
	return Tolerance{Below: v * (1 - lo), Above: v * (hi - 1), Why: why}
}

// MarshalJSON writes a symmetric tolerance as a number (±), an
// asymmetric one as {"below","above"}.
func (t Tolerance) MarshalJSON() ([]byte, error) {
	if t.Below == t.Above {
		return json.Marshal(t.Below)
	}
	return json.Marshal(struct {
		Below float64 `json:"below"`
		Above float64 `json:"above"`
	}{t.Below, t.Above})
}

// Evaluate judges simulated against the case: for a figure the error is
// simulated − published and passes within the tolerance; for a range the
// error is how far outside the range it lies (0 inside, negative below,
// positive above) and passes at 0. A value that could not be measured
// (NaN) fails.
func (c Case) Evaluate(simulated float64) (errv float64, pass bool) {
	if math.IsNaN(simulated) || math.IsInf(simulated, 0) {
		return math.NaN(), false
	}
	p := c.Published
	if !p.IsRange() {
		errv = simulated - p.Value
		return errv, errv >= -c.Tol.Below && errv <= c.Tol.Above
	}
	switch {
	case p.Min != nil && simulated < *p.Min:
		errv = simulated - *p.Min
	case p.Max != nil && simulated > *p.Max:
		errv = simulated - *p.Max
	}
	return errv, errv == 0
}

// Accepted is the interval of simulated values that pass (an open side is
// ±Inf).
func (c Case) Accepted() (lo, hi float64) {
	p := c.Published
	if !p.IsRange() {
		return p.Value - c.Tol.Below, p.Value + c.Tol.Above
	}
	lo, hi = math.Inf(-1), math.Inf(1)
	if p.Min != nil {
		lo = *p.Min
	}
	if p.Max != nil {
		hi = *p.Max
	}
	return lo, hi
}
