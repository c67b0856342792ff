package protocols

// Conditions of language 1.1: comparisons combined with and, or, not and
// parentheses. An until condition compares measures, a criterion's when
// compares parameters; both are one Condition tree, evaluated by the
// engine on the live run and by verdict.Recompute on the record with the
// same Eval.

// CondOp is what a Condition node does.
type CondOp uint8

// Condition operators.
const (
	Compare CondOp = iota // a leaf: a measure or a parameter against a bound or a value
	And
	Or
	Not
)

// Condition is a condition tree. Compare nodes are its leaves; And and Or
// have two or more Args, Not one.
type Condition struct {
	Op   CondOp
	Args []*Condition
	// Leaf (Compare) of an until: Measure against Bound.
	Measure Measure
	// Leaf of a when: Param against Bound (numeric comparison) or, when
	// Word is set, equal to the word ("P8", "healthy", "off").
	Param string
	Word  string
	Bound Bound
	// Negate: the comparison was `!=`.
	Negate bool
	// Text is the condition as written (the whole text at the root).
	Text string
	Pos  Pos
}

// Eval reports whether the condition holds, leaf deciding each comparison.
// and and or do not evaluate what cannot change their result.
func (c *Condition) Eval(leaf func(*Condition) bool) bool {
	switch c.Op {
	case And:
		for _, a := range c.Args {
			if !a.Eval(leaf) {
				return false
			}
		}
		return true
	case Or:
		for _, a := range c.Args {
			if a.Eval(leaf) {
				return true
			}
		}
		return false
	case Not:
		return !c.Args[0].Eval(leaf)
	}
	return leaf(c)
}

// Leaves are the comparisons of the condition, in the order written.
func (c *Condition) Leaves() []*Condition {
	if c == nil {
		return nil
	}
	if c.Op == Compare {
		return []*Condition{c}
	}
	var out []*Condition
	for _, a := range c.Args {
		out = append(out, a.Leaves()...)
	}
	return out
}

// Measures are the measures an until condition compares.
func (c *Condition) Measures() []Measure {
	var out []Measure
	for _, l := range c.Leaves() {
		if l.Param == "" {
			out = append(out, l.Measure)
		}
	}
	return out
}

// Holds reports whether a leaf's measured value satisfies it.
func (c *Condition) Holds(v float64) bool { return c.Bound.Holds(v) != c.Negate }

// HoldsValue reports whether a when leaf holds for a parameter's current
// value (ok false: the run has not set it, so no comparison holds but !=).
// Units are not compared: a parameter has one dimension.
func (c *Condition) HoldsValue(v Value, ok bool) bool {
	var eq bool
	switch {
	case !ok:
	case c.Word == "off":
		eq = v.Off
	case c.Word != "":
		eq = v.Word == c.Word
	default:
		eq = !v.Off && v.Word == "" && c.Bound.Holds(v.Num)
	}
	return eq != c.Negate
}
