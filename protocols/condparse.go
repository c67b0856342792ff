package protocols

import (
	"math"
	"regexp"
	"strings"

	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/units"
)

// condParser is a recursive-descent parser of one condition:
//
//	cond    = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | "(" cond ")" | compare
//	compare = operand ( "<" | "<=" | ">" | ">=" | "==" | "!=" ) value
//	        | operand "within" value "±" tolerance
//	        | operand "between" ( "[" value "," value "]" | value "and" value )
//
// The operand is a measure (until) or a parameter (when). Its errors name
// the column inside the condition and, when the YAML scalar is written on
// one line, point the file position at it too.
type condParser struct {
	p     *parser
	n     *node
	s     string
	i     int
	when  bool // operands are parameters
	depth int
	ok    bool
}

// maxCondDepth bounds nesting of parentheses and not: the parser recurses.
const maxCondDepth = 32

// parseCondition parses s, the scalar of n, as an until condition
// (when=false) or a when (when=true). ok is false after any error, which
// it has reported.
func (p *parser) parseCondition(n *node, s string, when bool) (*Condition, bool) {
	cp := &condParser{p: p, n: n, s: s, when: when, ok: true}
	c := cp.or()
	if cp.ok {
		if cp.skip(); cp.i < len(s) {
			cp.errorf(cp.i, "expected \"and\", \"or\" or end of condition at col %d, got %q", cp.i+1, cp.s[cp.i:])
		}
	}
	if !cp.ok || c == nil {
		return nil, false
	}
	c.Text = strings.TrimSpace(s)
	return c, true
}

// at is the condition's node pointing at offset off of its text.
func (cp *condParser) at(off int) *node { return strictyaml.Inside(cp.n, off) }

func (cp *condParser) errorf(off int, format string, args ...any) {
	if !cp.ok {
		return // one error per condition: what follows the first is guesswork
	}
	cp.ok = false
	cp.p.errs.At(cp.at(off), format, args...)
}

func (cp *condParser) skip() {
	for cp.i < len(cp.s) && (cp.s[cp.i] == ' ' || cp.s[cp.i] == '\t') {
		cp.i++
	}
}

// keyword consumes word if it stands next as a whole word.
func (cp *condParser) keyword(word string) bool {
	cp.skip()
	if !isWordAt(cp.s, cp.i, word) {
		return false
	}
	cp.i += len(word)
	return true
}

// isWordAt reports whether word stands at s[i:] followed by a space, a
// parenthesis or the end.
func isWordAt(s string, i int, word string) bool {
	if !strings.HasPrefix(s[i:], word) {
		return false
	}
	j := i + len(word)
	return j == len(s) || strings.ContainsRune(" \t()[", rune(s[j]))
}

func (cp *condParser) or() *Condition {
	return cp.chain(Or, "or", cp.and)
}

func (cp *condParser) and() *Condition {
	return cp.chain(And, "and", cp.unary)
}

func (cp *condParser) chain(op CondOp, word string, next func() *Condition) *Condition {
	first := next()
	if !cp.ok {
		return nil
	}
	c := &Condition{Op: op, Args: []*Condition{first}}
	for cp.ok && cp.keyword(word) {
		c.Args = append(c.Args, next())
	}
	if !cp.ok {
		return nil
	}
	if len(c.Args) == 1 {
		return first
	}
	return c
}

func (cp *condParser) unary() *Condition {
	if cp.depth++; cp.depth > maxCondDepth {
		cp.errorf(cp.i, "condition nested more than %d deep at col %d", maxCondDepth, cp.i+1)
		return nil
	}
	defer func() { cp.depth-- }()
	cp.skip()
	switch {
	case cp.keyword("not"):
		inner := cp.unary()
		if !cp.ok {
			return nil
		}
		return &Condition{Op: Not, Args: []*Condition{inner}}
	case cp.i < len(cp.s) && cp.s[cp.i] == '(':
		open := cp.i
		cp.i++
		c := cp.or()
		if !cp.ok {
			return nil
		}
		if cp.skip(); cp.i >= len(cp.s) || cp.s[cp.i] != ')' {
			cp.errorf(cp.i, "expected \")\" closing the \"(\" at col %d, at col %d", open+1, cp.i+1)
			return nil
		}
		cp.i++
		return c
	case cp.i >= len(cp.s):
		what := "a measure, e.g. mean(aop, 10 s) >= 60 mmHg"
		if cp.when {
			what = "a parameter, e.g. dut.level == P8"
		}
		cp.errorf(cp.i, "expected %s, \"not\" or \"(\" at col %d, got the end of the condition", what, cp.i+1)
		return nil
	}
	return cp.compare()
}

var paramRE = regexp.MustCompile(`^[a-z_][a-z0-9_.]*`)

// compare parses a leaf: the operand, the comparison and its value.
func (cp *condParser) compare() *Condition {
	start := cp.i
	c := &Condition{Op: Compare, Pos: cp.p.errs.Pos(cp.at(start))}
	var dim units.Dimension
	var par Param
	if cp.when {
		name := paramRE.FindString(cp.s[cp.i:])
		if name == "" {
			cp.errorf(cp.i, "expected a parameter at col %d, got %q", cp.i+1, cp.s[cp.i:])
			return nil
		}
		var ok bool
		if par, ok = cp.p.param(withValue(cp.at(start), name)); !ok {
			cp.ok = false
			return nil
		}
		c.Param, dim = par.Name, par.Dim
		cp.i += len(name)
	} else {
		m, rest, ok := cp.p.measurePrefix(cp.at(start), cp.s[cp.i:])
		if !ok {
			cp.ok = false
			return nil
		}
		if dim, ok = cp.p.measureDim(cp.at(start), m); !ok || !cp.p.untilMeasure(cp.at(start), m) {
			cp.ok = false
			return nil
		}
		c.Measure = m
		cp.i = len(cp.s) - len(rest)
	}
	cp.skip()
	opAt := cp.i
	op := ""
	for _, o := range []string{"<=", ">=", "==", "!=", "<", ">", "within", "between"} {
		if strings.HasPrefix(cp.s[cp.i:], o) && (o[0] < 'a' || isWordAt(cp.s, cp.i, o)) {
			op = o
			break
		}
	}
	if op == "" {
		cp.errorf(cp.i, "expected a comparison (<, <=, >, >=, ==, !=, within X ± T or between [LO, HI]) at col %d, got %q", cp.i+1, cp.s[cp.i:])
		return nil
	}
	cp.i += len(op)
	if cp.when && par.Dim == units.None && op != "==" && op != "!=" {
		cp.errorf(opAt, "%s takes words: compare it with == or != (col %d)", par.Name, opAt+1)
		return nil
	}
	cp.bound(c, op, dim, par)
	if !cp.ok {
		return nil
	}
	return c
}

// withValue is a copy of n whose scalar is s, for the parser's helpers
// that read a value off a node.
func withValue(n *node, s string) *node {
	m := *n
	m.Value = s
	return &m
}

// bound reads what follows the comparison operator into c.
func (cp *condParser) bound(c *Condition, op string, dim units.Dimension, par Param) {
	agg := c.Measure.Agg
	cp.skip()
	valAt := cp.i
	b := Bound{Lo: math.Inf(-1), Hi: math.Inf(1), Dim: dim}
	qty := func(off int, text, what string) float64 {
		v, ok := cp.p.boundQuantity(cp.at(off), text, dim, true, agg, what)
		if !ok {
			cp.ok = false
		}
		return v
	}
	switch op {
	case "within":
		text := cp.value(5)
		b.Kind = Within
		var ok bool
		if b.Lo, b.Hi, ok = cp.p.within(cp.at(valAt), text, dim, true, agg); !ok {
			cp.ok = false
		}
	case "between":
		b.Kind = Between
		lo, loAt, hi, hiAt := cp.betweenValues()
		if !cp.ok {
			return
		}
		b.Lo, b.Hi = qty(loAt, lo, "between low"), qty(hiAt, hi, "between high")
		if cp.ok && b.Lo > b.Hi {
			cp.errorf(loAt, "between [%s, %s] is inverted: the low value is above the high one", lo, hi)
		}
	default:
		words := 2 // a number and its unit
		if cp.when && par.Dim == units.None {
			words = 1 // a word
		}
		text := cp.value(words)
		if text == "" {
			cp.errorf(valAt, "expected a value after %s at col %d", op, valAt+1)
			return
		}
		if cp.when && (par.Dim == units.None || par.Off && text == "off") {
			v, ok := cp.p.value(par, withValue(cp.at(valAt), text))
			if !ok {
				cp.ok = false
				return
			}
			c.Word, c.Negate = v.String(), op == "!="
			break
		}
		v := qty(valAt, text, "condition")
		switch op {
		case "<", "<=":
			b.Kind, b.Hi = AtMost, v
			if op == "<" {
				b.Hi = math.Nextafter(v, math.Inf(-1))
			}
		case ">", ">=":
			b.Kind, b.Lo = AtLeast, v
			if op == ">" {
				b.Lo = math.Nextafter(v, math.Inf(1))
			}
		default: // == and !=
			b.Kind, b.Lo, b.Hi, c.Negate = Between, v, v, op == "!="
		}
	}
	b.Text = strings.TrimSpace(op + " " + cp.s[valAt:cp.i])
	c.Bound = b
}

// value scans a value of at most words words (a number and its unit: 2;
// within's "65 mmHg ± 3 mmHg": 5), up to the next and, or, ")" or the end.
func (cp *condParser) value(words int) string {
	cp.skip()
	start := cp.i
	for w := 0; w < words && cp.i < len(cp.s) && cp.s[cp.i] != ')'; w++ {
		if w > 0 && (isWordAt(cp.s, cp.i, "and") || isWordAt(cp.s, cp.i, "or")) {
			break
		}
		for cp.i < len(cp.s) && !strings.ContainsRune(" \t)", rune(cp.s[cp.i])) {
			cp.i++
		}
		cp.skip()
	}
	return strings.TrimSpace(cp.s[start:cp.i])
}

// betweenValues reads `[LO, HI]`, or v1's `LO and HI`, and where each is.
func (cp *condParser) betweenValues() (lo string, loAt int, hi string, hiAt int) {
	cp.skip()
	if cp.i < len(cp.s) && cp.s[cp.i] == '[' {
		open := cp.i
		end := strings.IndexByte(cp.s[cp.i:], ']')
		if end < 0 {
			cp.errorf(open, "expected \"]\" closing the \"[\" of between at col %d", open+1)
			return
		}
		inner := cp.s[cp.i+1 : cp.i+end]
		a, b, found := strings.Cut(inner, ",")
		if !found || strings.Contains(b, ",") {
			cp.errorf(open, "between needs two values [LO, HI] at col %d", open+1)
			return
		}
		loAt, hiAt = open+1, open+2+len(a)
		cp.i += end + 1
		return strings.TrimSpace(a), loAt, strings.TrimSpace(b), hiAt
	}
	loAt = cp.i
	lo = cp.value(2)
	if !cp.keyword("and") {
		cp.errorf(cp.i, "between needs \"[LO, HI]\" (or \"LO and HI\") at col %d", loAt+1)
		return
	}
	cp.skip()
	hiAt = cp.i
	hi = cp.value(2)
	return lo, loAt, hi, hiAt
}
