package protocols

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/units"
)

// Version is the language version this package reads.
const Version = 1

// Pos is a position in a protocol file; Error is a mistake at one.
type (
	Pos       = strictyaml.Pos
	Error     = strictyaml.Error
	ErrorList = strictyaml.ErrorList
)

// Protocol is a parsed protocol file.
type Protocol struct {
	File         string
	Name         string
	Description  string
	Requirements []Requirement // in file order
	Requires     []ChannelRef
	// RequiresDUT are the DUT profiles the protocol is written for (none:
	// any), and OtherDevice, when the rig's is none of them and the rig
	// allowed it (RigInfo.OtherDevice), says so: a deviation of the run.
	RequiresDUT []string
	OtherDevice string
	Limits      []Limit
	Always      []*Criterion
	Steps       []*Step
}

// StepCount is how many steps the protocol has, as a run counts them in
// "step N/M" and validate, the bench view and resume say: its top-level
// steps (nested steps run inside them).
func (p *Protocol) StepCount() int { return len(p.Steps) }

// Requirement is one entry of the traceability catalogue.
type Requirement struct {
	ID, Text string
	Pos      Pos
}

// ChannelRef names a channel at a position.
type ChannelRef struct {
	Name string
	Pos  Pos
}

// Limit tightens a rig hard limit on a channel for this protocol.
type Limit struct {
	Channel  string
	Min, Max *float64 // canonical unit of the channel's dimension
	Dim      units.Dimension
	Pos      Pos
}

// Step is one step of a protocol. Its parts apply in this order: Set, Ramp,
// then Hold, Until or the nested Steps (plain, repeated or swept).
type Step struct {
	Pos      Pos
	Name     string
	Set      []Setpoint
	Ramp     []Ramp
	Hold     time.Duration // 0 when absent
	Until    *Until
	Repeat   *Repeat
	Sweep    *Sweep
	Steps    []*Step
	Criteria []*Criterion
	// Retry is how many more times the step runs when its own criteria
	// fail (language 1.1, retry: {count: N}); the last attempt's verdicts
	// count, the earlier ones are recorded as superseded.
	Retry int
	// Prompt, if set, is asked after Set and Ramp: the step waits for its
	// answer, holding the setpoints (language 1.1).
	Prompt *Prompt
	// Refs are the criteria of later steps relative to this one: the
	// engine measures each of their measures over this step too.
	Refs []*Criterion
}

// Title is the step's name, or a description of what it does when unnamed.
func (s *Step) Title() string {
	if s.Name != "" {
		return s.Name
	}
	switch {
	case s.Prompt != nil && s.Hold == 0 && s.Until == nil && len(s.Steps) == 0:
		return "prompt " + s.Prompt.ID
	case s.Sweep != nil:
		return "sweep " + strings.Join(s.Sweep.Params, ", ")
	case s.Repeat != nil:
		return "repeat"
	case len(s.Ramp) > 0:
		return "ramp " + s.Ramp[0].Param
	case s.Until != nil:
		return "until " + s.Until.Cond.Text
	case s.Hold > 0:
		return "hold " + units.FormatDuration(s.Hold)
	case len(s.Set) > 0:
		return "set " + s.Set[0].Param
	}
	return "step"
}

// Value is a parameter value: a quantity, a word (preset name, mode, level),
// or off (closed-loop targets).
type Value struct {
	Num  float64 // canonical unit of Dim
	Dim  units.Dimension
	Word string // for word-valued parameters: "healthy", "speed", "P8"
	Off  bool
}

func (v Value) String() string {
	switch {
	case v.Off:
		return "off"
	case v.Word != "":
		return v.Word
	}
	return units.Format(v.Num, v.Dim)
}

// Equal reports whether two values are the same setting.
func (v Value) Equal(w Value) bool {
	return v.Off == w.Off && v.Word == w.Word && v.Dim == w.Dim && v.Num == w.Num
}

// Setpoint assigns a value to a parameter.
type Setpoint struct {
	Param string
	Value Value
	Pos   Pos
}

// Ramp moves a parameter linearly from its current value to To over Over.
type Ramp struct {
	Param string
	To    Value
	Over  time.Duration
	Pos   Pos
}

// Until holds a step until Cond is true or Timeout passes.
type Until struct {
	Cond      Condition
	Timeout   time.Duration
	OnTimeout Action
	Pos       Pos
}

// Repeat loops nested steps Count times, or for a duration (the iteration in
// progress when For has passed is completed).
type Repeat struct {
	Count int
	For   time.Duration
	Pos   Pos
}

// Sweep runs the nested steps once per setting of its parameters: each
// value of one, or (language 1.1) the cartesian product of several, the
// first outermost, or with Zip their lists' values taken together.
type Sweep struct {
	Params []string
	Values [][]Value // per parameter, in the order written
	Zip    bool
	Pos    Pos
}

// Iterations are the sweep's settings in the order the engine runs them.
func (s *Sweep) Iterations() [][]Setpoint {
	if len(s.Values) == 0 {
		return nil
	}
	if s.Zip {
		out := make([][]Setpoint, len(s.Values[0]))
		for i := range out {
			for k, par := range s.Params {
				out[i] = append(out[i], Setpoint{Param: par, Value: s.Values[k][i]})
			}
		}
		return out
	}
	out := [][]Setpoint{nil}
	for k, par := range s.Params {
		var next [][]Setpoint
		for _, head := range out {
			for _, v := range s.Values[k] {
				next = append(next, append(slices.Clip(head), Setpoint{Param: par, Value: v}))
			}
		}
		out = next
	}
	return out
}

// Label names one iteration's setting: "dut.level=P8, loop.preset=healthy".
func (s *Sweep) Label(set []Setpoint) string {
	parts := make([]string, len(set))
	for i, sp := range set {
		parts[i] = sp.Param + "=" + sp.Value.String()
	}
	return strings.Join(parts, ", ")
}

// Action is what a failed criterion or a timed-out step does to the run.
type Action uint8

// Actions.
const (
	Fail     Action = iota // the run completes and fails
	Abort                  // the run aborts to the safe state
	Warn                   // recorded, does not fail the run
	Continue               // (on_timeout only) go on with the next step
)

var actionNames = [...]string{Fail: "fail", Abort: "abort", Warn: "warn", Continue: "continue"}

func (a Action) String() string { return actionNames[a] }

// Criterion is an acceptance criterion of a step, or an invariant of the
// whole run (Always), or the condition of an until.
type Criterion struct {
	Pos     Pos
	ID      string
	Name    string
	When    *Condition // on the parameters: the moments (sweep iterations) it applies
	Measure Measure
	Over    time.Duration // 0: the whole step
	Bound   Bound
	OnFail  Action
	// Channel is set for `always` invariants, which bound a channel on every frame.
	Channel string
	// Relative, if set, makes Bound a bound on the change from the value
	// of the same measure in an earlier step (language 1.1, relative_to).
	Relative *Relative
	// Marginal, if set, is the band inside Bound a passing value should
	// lie in: outside it the verdict is marginal, still a pass (language
	// 1.1), so a drift toward a limit shows before it fails.
	Marginal *Bound
}

// Relative is a criterion's reference: the step whose value of the same
// measure (over the same window) its limits are changes from.
type Relative struct {
	Step *Step
	Path string // the step's path in the file ("2.1"), as relative_to resolved it
	// Percent: the limits are percent of the reference value; else changes
	// in the measure's unit.
	Percent bool
}

// Unit is the unit of a relative criterion's value: "%", or the
// measure's unit.
func (r *Relative) Unit(measureUnit string) string {
	if r.Percent {
		return "%"
	}
	return measureUnit
}

// Change is the change of v from ref as the criterion's limits are
// written: in percent of ref, or in the measure's unit.
func (r *Relative) Change(v, ref float64) float64 {
	if r.Percent {
		return (v - ref) / math.Abs(ref) * 100
	}
	return v - ref
}

// Label is the criterion's id, name or measure, for messages.
func (c *Criterion) Label() string {
	switch {
	case c.ID != "":
		return c.ID
	case c.Name != "":
		return c.Name
	case c.Channel != "":
		return c.Channel
	}
	return c.Measure.Text
}

// Bound is the acceptance region of a measured value.
type Bound struct {
	Kind   BoundKind
	Lo, Hi float64 // inclusive, canonical units; ±Inf for one-sided bounds
	Dim    units.Dimension
	Text   string // as written, for reports
}

// BoundKind says how a bound was written.
type BoundKind uint8

// Bound kinds.
const (
	Between BoundKind = iota
	AtLeast
	AtMost
	Within
)

// Holds reports whether v lies inside the bound.
func (b Bound) Holds(v float64) bool { return v >= b.Lo && v <= b.Hi }

// Kind of aggregate: over frames or over detected beats.
type AggKind uint8

// Aggregate kinds.
const (
	FrameAgg AggKind = iota
	BeatAgg
)

// Aggregate describes one aggregate function of the language.
type Aggregate struct {
	Name string
	Kind AggKind
	// Dim is the result's dimension given the channel's; nil means the same.
	Dim func(channel units.Dimension) (units.Dimension, bool)
	// Per says the result is per this unit of time ("min" for slope).
	Per string
	// Phase says the aggregate reads each beat at instants of its cycle
	// (end_diastolic, end_systolic, dp_dt_max, dp_dt_min): a channel other
	// than a beat channel is timed by the rig's cycle channel (its
	// ventricle's pressure).
	Phase bool
}

// Aggregates is every aggregate of language v1, by name.
var Aggregates = map[string]Aggregate{
	"mean":           {Name: "mean"},
	"min":            {Name: "min"},
	"max":            {Name: "max"},
	"std":            {Name: "std"},
	"rms":            {Name: "rms"},
	"p5":             {Name: "p5"},
	"p50":            {Name: "p50"},
	"p95":            {Name: "p95"},
	"slope":          {Name: "slope", Per: "min"},
	"systolic":       {Name: "systolic", Kind: BeatAgg, Dim: onlyPressure},
	"diastolic":      {Name: "diastolic", Kind: BeatAgg, Dim: onlyPressure},
	"map":            {Name: "map", Kind: BeatAgg, Dim: onlyPressure},
	"pulse_pressure": {Name: "pulse_pressure", Kind: BeatAgg, Dim: onlyPressure},
	"heart_rate":     {Name: "heart_rate", Kind: BeatAgg, Dim: func(d units.Dimension) (units.Dimension, bool) { return units.Rate, d == units.Pressure }},
	"stroke_volume":  {Name: "stroke_volume", Kind: BeatAgg, Dim: func(d units.Dimension) (units.Dimension, bool) { return units.Volume, d == units.Flow }},
	// The phases of each beat (language 1.1), of any channel with a
	// dimension, timed by a beat channel: end_diastolic(lvp) is LVEDP,
	// end_diastolic(lv_volume) EDV.
	"end_diastolic": {Name: "end_diastolic", Kind: BeatAgg, Dim: anyDimension, Phase: true},
	"end_systolic":  {Name: "end_systolic", Kind: BeatAgg, Dim: anyDimension, Phase: true},
	"dp_dt_max":     {Name: "dp_dt_max", Kind: BeatAgg, Dim: anyDimension, Per: "s", Phase: true},
	"dp_dt_min":     {Name: "dp_dt_min", Kind: BeatAgg, Dim: anyDimension, Per: "s", Phase: true},
	// Of a flag channel (language 1.1; a rig config's `flags:` names the
	// bits of a flags channel, each a 0/1 channel such as
	// dut.alarms.suction): its rising edges in the window, and the share
	// of the window it was set.
	"count":    {Name: "count", Dim: onlyFlags},
	"fraction": {Name: "fraction", Dim: func(d units.Dimension) (units.Dimension, bool) { return units.Percent, d == units.None }},
}

func onlyFlags(d units.Dimension) (units.Dimension, bool) { return units.None, d == units.None }

// anyDimension keeps the channel's dimension; a channel without one (DUT
// alarm flags) has no value at an instant of the cycle worth a limit.
func anyDimension(d units.Dimension) (units.Dimension, bool) { return d, d != units.None }

func onlyPressure(d units.Dimension) (units.Dimension, bool) {
	return units.Pressure, d == units.Pressure
}

// Measure is `AGG(CHANNEL)` or, inside until, `AGG(CHANNEL, WINDOW)`; a
// beat aggregate may be wrapped in a statistic over the beats,
// `min(map(aop))` (language 1.1).
type Measure struct {
	Agg     string
	Channel string
	// Stat is the statistic of a beat aggregate over the window's beats
	// (BeatStats); "" is their mean.
	Stat   string
	Window time.Duration // trailing window; 0 = whole step
	Text   string
	Pos    Pos
}

// BeatStats are the statistics a beat aggregate may be wrapped in:
// min(map(aop)) is the lowest beat MAP of the window. They are frame
// aggregates' names, computed the same way over the beats' values.
var BeatStats = []string{"min", "max", "std", "p5", "p50", "p95"}

// IsBeat reports whether the measure aggregates detected beats.
func (m Measure) IsBeat() bool { return Aggregates[m.Agg].Kind == BeatAgg }

// Quantile returns q in [0,1] for p5/p50/p95, or false.
func (m Measure) Quantile() (float64, bool) {
	if !strings.HasPrefix(m.Agg, "p") {
		return 0, false
	}
	n, err := strconv.Atoi(m.Agg[1:])
	if err != nil {
		return 0, false
	}
	return float64(n) / 100, true
}

// ResultDim is the dimension of the measure's value given its channel's.
func (m Measure) ResultDim(channel units.Dimension) (units.Dimension, error) {
	a, ok := Aggregates[m.Agg]
	if !ok {
		return 0, fmt.Errorf("unknown aggregate %q", m.Agg)
	}
	if a.Dim == nil {
		return channel, nil
	}
	d, ok := a.Dim(channel)
	if !ok {
		return 0, fmt.Errorf("%s() needs a %s channel, %s is a %s", m.Agg, need(m.Agg), m.Channel, channel)
	}
	return d, nil
}

func need(agg string) string {
	switch {
	case agg == "stroke_volume":
		return "flow"
	case Aggregates[agg].Phase:
		return "measured"
	case agg == "count" || agg == "fraction":
		return "flag (e.g. dut.alarms.suction)"
	}
	return "pressure"
}
