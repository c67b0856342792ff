package protocols

import (
	"cmp"
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/units"
)

// ReadFile reads a protocol file for Parse: a regular file of at most
// strictyaml.MaxSize bytes; a FIFO or a device is refused at once, never
// waited on or read without end.
func ReadFile(path string) ([]byte, error) { return strictyaml.ReadFile(path) }

// ReadFS is ReadFile in a file system (the bench view's protocols folder).
func ReadFS(fsys fs.FS, name string) ([]byte, error) { return strictyaml.ReadFS(fsys, name) }

// Parse reads a protocol file and checks it completely against the rig: keys,
// units, expressions, channels, parameters, setpoint ranges and limits. It
// returns every mistake as an ErrorList, sorted by position. A protocol that
// parses without error can be run on that rig without a validation failure
// halfway through.
func Parse(file string, data []byte, rig RigInfo) (*Protocol, error) {
	root, err := strictyaml.Parse(file, data)
	if err != nil {
		return nil, err
	}
	p := &parser{rig: rig, errs: strictyaml.Errors{File: file}, proto: &Protocol{File: file}}
	p.document(root)
	if err := p.errs.List.Err(); err != nil {
		return nil, err
	}
	return p.proto, nil
}

type parser struct {
	rig   RigInfo
	errs  strictyaml.Errors
	proto *Protocol
	// criteria with ids, checked against the requirements catalogue at the end
	ids []*Criterion
	// done are the steps parsed so far, each with its path ("2.1"), in the
	// order they complete: what a criterion's relative_to may name.
	done []doneStep
	// promptIDs are the prompts' ids so far, unique in the file
	promptIDs []string
}

type doneStep struct {
	step *Step
	path string
}

type node = strictyaml.Node

var nameRE = regexp.MustCompile(`^[a-z0-9._-]+$`)

func (p *parser) document(root *node) {
	kvs, ok := p.errs.Mapping(root, "protocol file", []string{"protocol", "name", "description", "requirements", "requires", "limits", "always", "steps"})
	if !ok {
		return
	}
	have := map[string]bool{}
	for _, kv := range kvs {
		have[kv.Key] = true
		switch kv.Key {
		case "protocol":
			if s, ok := p.errs.Scalar(kv.Value, "protocol"); ok {
				if v, err := strconv.Atoi(s); err != nil || v != Version {
					p.errs.At(kv.Value, "protocol language version %q is not supported; this mockloop reads version %d", s, Version)
				}
			}
		case "name":
			if s, ok := p.errs.Scalar(kv.Value, "name"); ok {
				if !nameRE.MatchString(s) {
					p.errs.At(kv.Value, "name %q may use only a-z, 0-9, '.', '_' and '-'", s)
				}
				p.proto.Name = s
			}
		case "description":
			p.proto.Description, _ = p.errs.Scalar(kv.Value, "description")
		case "requirements":
			p.requirements(kv.Value)
		case "requires":
			p.requires(kv.Value)
		case "limits":
			p.limits(kv.Value)
		case "always":
			if items, ok := p.errs.Sequence(kv.Value, "always"); ok {
				for _, it := range items {
					if c := p.invariant(it); c != nil {
						p.proto.Always = append(p.proto.Always, c)
					}
				}
			}
		case "steps":
			p.proto.Steps = p.steps(kv.Value, 0, "")
		}
	}
	for _, k := range []string{"protocol", "name", "steps"} {
		if !have[k] {
			p.errs.At(root, "missing required key %q", k)
		}
	}
	if stepsN := field(kvs, "steps"); stepsN != nil && strictyaml.IsSequence(stepsN) && len(stepsN.Content) == 0 {
		p.errs.At(root, "protocol has no steps")
	}
	if len(p.proto.Requirements) > 0 {
		for _, c := range p.ids {
			if !slices.ContainsFunc(p.proto.Requirements, func(r Requirement) bool { return r.ID == c.ID }) {
				p.errs.List = append(p.errs.List, &Error{Pos: c.Pos, Msg: fmt.Sprintf("criterion id %q is not in requirements", c.ID)})
			}
		}
	}
}

func field(kvs []strictyaml.KV, key string) *node {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

func (p *parser) requirements(n *node) {
	if !strictyaml.IsMapping(n) {
		p.errs.At(n, "requirements must be a mapping of id: text, got %s", strictyaml.Describe(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		id, ok := p.errs.Scalar(k, "requirement id")
		if !ok {
			continue
		}
		if line, dup := seen[id]; dup {
			p.errs.At(k, "duplicate requirement id %q (first at line %d)", id, line)
			continue
		}
		seen[id] = k.Line
		text, _ := p.errs.Scalar(v, "requirement "+id)
		p.proto.Requirements = append(p.proto.Requirements, Requirement{ID: id, Text: text, Pos: p.errs.Pos(k)})
	}
}

// requires reads what the protocol needs of the rig and the device: a
// list of channels, or (1.1) a mapping {channels, dut, presets}. What the
// rig does not provide refuses the file, but for a DUT other than those
// named when the rig allows it (RigInfo.OtherDevice): the run records
// that departure as a deviation (Protocol.OtherDevice).
func (p *parser) requires(n *node) {
	if !strictyaml.IsMapping(n) {
		p.requiredChannels(n)
		return
	}
	kvs, _ := p.errs.Mapping(n, "requires", []string{"channels", "dut", "presets"})
	for _, kv := range kvs {
		switch kv.Key {
		case "channels":
			p.requiredChannels(kv.Value)
		case "dut":
			p.requiredDUT(kv.Value)
		case "presets":
			items, _ := p.errs.Sequence(kv.Value, "requires presets")
			for _, it := range items {
				if s, ok := p.errs.Scalar(it, "required preset"); ok && !slices.Contains(p.rig.Presets, s) {
					p.errs.At(it, "rig %s has no preset %q%s", p.rig.Name, s, strictyaml.Suggest(s, p.rig.Presets))
				}
			}
		}
	}
}

func (p *parser) requiredChannels(n *node) {
	items, ok := p.errs.Sequence(n, "requires")
	if !ok {
		return
	}
	for _, it := range items {
		if ch, ok := p.channel(it, "required channel"); ok {
			p.proto.Requires = append(p.proto.Requires, ChannelRef{Name: ch, Pos: p.errs.Pos(it)})
		}
	}
}

// requiredDUT reads the DUT profiles the protocol is written for.
func (p *parser) requiredDUT(n *node) {
	items, ok := p.errs.Sequence(n, "requires dut")
	if !ok {
		return
	}
	for _, it := range items {
		if s, ok := p.errs.Scalar(it, "required DUT profile"); ok {
			p.proto.RequiresDUT = append(p.proto.RequiresDUT, s)
		}
	}
	if len(p.proto.RequiresDUT) == 0 || slices.Contains(p.proto.RequiresDUT, p.rig.DUT) {
		return
	}
	dut := cmp.Or(p.rig.DUT, "no DUT profile")
	if p.rig.OtherDevice {
		p.proto.OtherDevice = fmt.Sprintf("the protocol requires DUT %s; rig %s drives %s", strings.Join(p.proto.RequiresDUT, " or "), p.rig.Name, dut)
		return
	}
	p.errs.At(n, "requires DUT %s, but rig %s drives %s (run it on a rig with that device, or give --allow-other-device REASON: a deviation)",
		strings.Join(p.proto.RequiresDUT, " or "), p.rig.Name, dut)
}

// channel reads a channel name and checks that the rig provides it.
func (p *parser) channel(n *node, what string) (string, bool) {
	s, ok := p.errs.Scalar(n, what)
	if !ok {
		return "", false
	}
	if _, ok := p.rig.Channels[s]; !ok {
		p.errs.At(n, "rig %s has no channel %q%s", p.rig.Name, s, strictyaml.Suggest(s, p.channelNames()))
		return "", false
	}
	return s, true
}

func (p *parser) channelNames() []string {
	names := make([]string, 0, len(p.rig.Channels))
	for c := range p.rig.Channels {
		names = append(names, c)
	}
	slices.Sort(names)
	return names
}

func (p *parser) limits(n *node) {
	kvs, ok := p.errs.Mapping(n, "limits", nil)
	if !ok {
		return
	}
	for _, kv := range kvs {
		ch, ok := p.channel(kv.KeyN, "limit channel")
		if !ok {
			continue
		}
		dim := p.rig.Channels[ch]
		fields, ok := p.errs.Mapping(kv.Value, "limit of "+ch, []string{"min", "max"})
		if !ok {
			continue
		}
		l := Limit{Channel: ch, Dim: dim, Pos: p.errs.Pos(kv.KeyN)}
		hard := p.rig.Limits[ch]
		for _, f := range fields {
			v, ok := p.quantity(f.Value, dim, ch+" "+f.Key)
			if !ok {
				continue
			}
			switch f.Key {
			case "min":
				l.Min = &v
				if hard.Min != nil && v < *hard.Min {
					p.errs.At(f.Value, "limit %s min %s would loosen the rig's hard limit of %s; a protocol may only tighten limits", ch, units.Format(v, dim), units.Format(*hard.Min, dim))
				}
			case "max":
				l.Max = &v
				if hard.Max != nil && v > *hard.Max {
					p.errs.At(f.Value, "limit %s max %s would loosen the rig's hard limit of %s; a protocol may only tighten limits", ch, units.Format(v, dim), units.Format(*hard.Max, dim))
				}
			}
		}
		if l.Min != nil && l.Max != nil && *l.Min >= *l.Max {
			p.errs.At(kv.Value, "limit %s: min %s is not below max %s", ch, units.Format(*l.Min, dim), units.Format(*l.Max, dim))
		}
		if len(fields) == 0 {
			p.errs.At(kv.Value, "limit %s needs min or max", ch)
		}
		p.proto.Limits = append(p.proto.Limits, l)
	}
}

var stepKeys = []string{"name", "set", "ramp", "hold", "until", "repeat", "sweep", "steps", "criteria", "retry", "prompt"}

// maxDepth bounds step nesting; real protocols nest two or three levels.
const maxDepth = 16

// steps reads a steps list; prefix is the path of the step holding it
// ("" at the top).
func (p *parser) steps(n *node, depth int, prefix string) []*Step {
	items, ok := p.errs.Sequence(n, "steps")
	if !ok {
		return nil
	}
	if depth > maxDepth {
		p.errs.At(n, "steps nested more than %d deep", maxDepth)
		return nil
	}
	var out []*Step
	for i, it := range items {
		path := strconv.Itoa(i + 1)
		if prefix != "" {
			path = prefix + "." + path
		}
		if s := p.step(it, depth, path); s != nil {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) step(n *node, depth int, path string) *Step {
	kvs, ok := p.errs.Mapping(n, "step", stepKeys)
	if !ok {
		return nil
	}
	// A refused key (a misspelt "hold") makes checks of what the step
	// lacks misleading: report the key only.
	clean := len(kvs)*2 == len(n.Content)
	if len(n.Content) == 0 {
		p.errs.At(n, "step is empty: give it set, ramp, hold, until or steps")
		return nil
	}
	s := &Step{Pos: p.errs.Pos(n)}
	var stepsN, critN *node
	keys := map[string]*node{}
	for _, kv := range kvs {
		keys[kv.Key] = kv.KeyN
		switch kv.Key {
		case "name":
			s.Name, _ = p.errs.Scalar(kv.Value, "step name")
		case "set":
			p.set(s, kv.Value)
		case "ramp":
			p.ramp(s, kv.Value)
		case "hold":
			s.Hold, _ = p.positiveDuration(kv.Value, "hold")
		case "until":
			s.Until = p.until(kv.Value)
		case "repeat":
			s.Repeat = p.repeat(kv.Value)
		case "sweep":
			s.Sweep = p.sweep(kv.Value)
		case "steps":
			stepsN = kv.Value
			s.Steps = p.steps(kv.Value, depth+1, path)
		case "criteria":
			critN = kv.Value
		case "retry":
			s.Retry = p.retry(kv.Value)
		case "prompt":
			s.Prompt = p.prompt(kv.Value)
		}
	}
	// The body of a step: at most one of hold, until, nested steps.
	var bodies []string
	for _, k := range []string{"hold", "until", "steps"} {
		if keys[k] != nil {
			bodies = append(bodies, k)
		}
	}
	if len(bodies) > 1 {
		p.errs.At(keys[bodies[1]], "a step has one of hold, until or steps, not both %s and %s", bodies[0], bodies[1])
	}
	if keys["repeat"] != nil && keys["sweep"] != nil {
		p.errs.At(keys["sweep"], "a step has repeat or sweep, not both; nest one inside the other")
	}
	for _, k := range []string{"repeat", "sweep"} {
		if keys[k] != nil && stepsN == nil {
			p.errs.At(keys[k], "%s needs nested steps", k)
		}
	}
	if stepsN != nil && len(s.Steps) == 0 && strictyaml.IsSequence(stepsN) {
		p.errs.At(stepsN, "steps is empty")
	}
	if clean && len(bodies) == 0 && len(s.Ramp) == 0 && len(s.Set) == 0 && keys["repeat"] == nil && keys["sweep"] == nil && keys["prompt"] == nil {
		p.errs.At(n, "step does nothing: give it set, ramp, hold, until or steps")
	}
	if critN != nil {
		if clean && len(bodies) == 0 && len(s.Ramp) == 0 {
			p.errs.At(critN, "criteria need a step that lasts: add hold, until, ramp or steps")
		}
		if items, ok := p.errs.Sequence(critN, "criteria"); ok {
			for _, it := range items {
				if c := p.criterion(it, s); c != nil {
					s.Criteria = append(s.Criteria, c)
				}
			}
		}
	}
	if keys["retry"] != nil && critN == nil && s.Retry > 0 {
		p.errs.At(keys["retry"], "retry runs the step again when its criteria fail: give the step criteria")
	}
	p.done = append(p.done, doneStep{s, path})
	return s
}

// retry reads a step's retry: {count: N} (language 1.1), how many more
// times the step runs when its criteria fail.
func (p *parser) retry(n *node) int {
	fields, ok := p.errs.Mapping(n, "retry", []string{"count"})
	if !ok || len(fields) == 0 {
		if ok && len(n.Content) == 0 { // else its keys were wrong, and said so
			p.errs.At(n, "retry needs count: N, how many more attempts")
		}
		return 0
	}
	v := fields[0].Value
	s, ok := p.errs.Scalar(v, "retry count")
	if !ok {
		return 0
	}
	c, err := strconv.Atoi(s)
	if err != nil || c < 1 || c > 100 {
		p.errs.At(v, "retry count must be a whole number from 1 to 100, got %q", s)
		return 0
	}
	return c
}

func (p *parser) set(s *Step, n *node) {
	kvs, ok := p.errs.Mapping(n, "set", nil)
	if !ok {
		return
	}
	for _, kv := range kvs {
		par, ok := p.param(kv.KeyN)
		if !ok {
			continue
		}
		if v, ok := p.value(par, kv.Value); ok {
			s.Set = append(s.Set, Setpoint{Param: par.Name, Value: v, Pos: p.errs.Pos(kv.KeyN)})
		}
	}
}

func (p *parser) ramp(s *Step, n *node) {
	kvs, ok := p.errs.Mapping(n, "ramp", nil)
	if !ok {
		return
	}
	for _, kv := range kvs {
		par, ok := p.param(kv.KeyN)
		if !ok {
			continue
		}
		if !par.Rampable {
			p.errs.At(kv.KeyN, "%s cannot be ramped; use set", par.Name)
			continue
		}
		fields, ok := p.errs.Mapping(kv.Value, "ramp of "+par.Name, []string{"to", "over"})
		if !ok {
			continue
		}
		r := Ramp{Param: par.Name, Pos: p.errs.Pos(kv.KeyN)}
		var haveTo, haveOver bool
		for _, f := range fields {
			switch f.Key {
			case "to":
				v, ok := p.value(par, f.Value)
				if ok && v.Off {
					p.errs.At(f.Value, "cannot ramp %s to off", par.Name)
					ok = false
				}
				r.To, haveTo = v, ok
			case "over":
				r.Over, haveOver = p.positiveDuration(f.Value, "ramp over")
			}
		}
		if !haveTo || !haveOver {
			if len(fields) < 2 {
				p.errs.At(kv.Value, "ramp of %s needs to: and over:", par.Name)
			}
			continue
		}
		s.Ramp = append(s.Ramp, r)
	}
}

// param reads a parameter name and checks the language and the rig know it.
func (p *parser) param(n *node) (Param, bool) {
	name, ok := p.errs.Scalar(n, "parameter")
	if !ok {
		return Param{}, false
	}
	par, ok := Params[name]
	if !ok {
		p.errs.At(n, "unknown parameter %q%s", name, strictyaml.Suggest(name, paramNames))
		return Param{}, false
	}
	if _, ok := p.rig.Params[name]; !ok {
		p.errs.At(n, "rig %s does not support parameter %s", p.rig.Name, name)
		return Param{}, false
	}
	return par, true
}

// value reads a parameter's value and checks it against the rig's range.
func (p *parser) value(par Param, n *node) (Value, bool) {
	s, ok := p.errs.Scalar(n, par.Name)
	if !ok {
		return Value{}, false
	}
	if par.Off && s == "off" {
		return Value{Off: true, Dim: par.Dim}, true
	}
	if par.Dim == units.None {
		words := par.Words
		if words == nil {
			words = p.rig.Presets
		}
		if !slices.Contains(words, s) {
			p.errs.At(n, "%q is not a value of %s%s", s, par.Name, strictyaml.Suggest(s, words))
			return Value{}, false
		}
		return Value{Word: s}, true
	}
	v, ok := p.quantity(n, par.Dim, par.Name)
	if !ok {
		return Value{}, false
	}
	if r := p.rig.Params[par.Name]; !r.Contains(v) {
		p.errs.At(n, "%s %s is outside what rig %s allows (%s)", par.Name, units.Format(v, par.Dim), p.rig.Name, rangeText(r, par.Dim))
		return Value{}, false
	}
	return Value{Num: v, Dim: par.Dim}, true
}

func rangeText(r Range, d units.Dimension) string {
	switch {
	case r.Min != nil && r.Max != nil:
		return units.Format(*r.Min, d) + " to " + units.Format(*r.Max, d)
	case r.Min != nil:
		return "at least " + units.Format(*r.Min, d)
	case r.Max != nil:
		return "at most " + units.Format(*r.Max, d)
	}
	return "any value"
}

func (p *parser) quantity(n *node, dim units.Dimension, what string) (float64, bool) {
	s, ok := p.errs.Scalar(n, what)
	if !ok {
		return 0, false
	}
	v, err := units.ParseAs(s, dim)
	if err != nil {
		p.errs.At(n, "%s: %v", what, err)
		return 0, false
	}
	return v, true
}

func (p *parser) positiveDuration(n *node, what string) (time.Duration, bool) {
	s, ok := p.errs.Scalar(n, what)
	if !ok {
		return 0, false
	}
	d, err := units.ParseDuration(s)
	if err != nil {
		p.errs.At(n, "%s: %v", what, err)
		return 0, false
	}
	if d <= 0 {
		p.errs.At(n, "%s must be a positive duration, got %s", what, s)
		return 0, false
	}
	return d, true
}

func (p *parser) until(n *node) *Until {
	fields, ok := p.errs.Mapping(n, "until", []string{"condition", "timeout", "on_timeout"})
	if !ok {
		return nil
	}
	u := &Until{Pos: p.errs.Pos(n), OnTimeout: Fail}
	var haveCond, haveTimeout bool
	for _, f := range fields {
		switch f.Key {
		case "condition":
			haveCond = true
			if s, ok := p.errs.Scalar(f.Value, "condition"); ok {
				u.Cond, _ = p.condition(f.Value, s)
			}
		case "timeout":
			u.Timeout, _ = p.positiveDuration(f.Value, "timeout")
			haveTimeout = true
		case "on_timeout":
			u.OnTimeout, _ = p.action(f.Value, "on_timeout", true)
		}
	}
	if !haveCond {
		p.errs.At(n, "until needs a condition")
	}
	if !haveTimeout {
		p.errs.At(n, "until needs a timeout, so a step cannot wait forever (e.g. timeout: 2 min)")
	}
	return u
}

func (p *parser) action(n *node, what string, allowContinue bool) (Action, bool) {
	s, ok := p.errs.Scalar(n, what)
	if !ok {
		return Fail, false
	}
	names := []string{"fail", "abort", "warn"}
	if allowContinue {
		names = []string{"fail", "abort", "continue"}
	}
	for a, name := range actionNames {
		if name == s && slices.Contains(names, s) {
			return Action(a), true
		}
	}
	p.errs.At(n, "%s %q is not one of %s", what, s, strings.Join(names, ", "))
	return Fail, false
}

func (p *parser) repeat(n *node) *Repeat {
	fields, ok := p.errs.Mapping(n, "repeat", []string{"count", "for"})
	if !ok {
		return nil
	}
	r := &Repeat{Pos: p.errs.Pos(n)}
	if len(fields) != 1 {
		p.errs.At(n, "repeat needs exactly one of count: N or for: DURATION")
		return nil
	}
	f := fields[0]
	switch f.Key {
	case "count":
		s, ok := p.errs.Scalar(f.Value, "count")
		if !ok {
			return nil
		}
		c, err := strconv.Atoi(s)
		if err != nil || c < 1 || c > 1_000_000 {
			p.errs.At(f.Value, "repeat count must be a whole number from 1 to 1000000, got %q", s)
			return nil
		}
		r.Count = c
	case "for":
		d, ok := p.positiveDuration(f.Value, "repeat for")
		if !ok {
			return nil
		}
		r.For = d
	}
	return r
}

// sweep reads `sweep: {PARAM: [values], ...}`, with `zip: true` pairing
// the lists (of equal lengths) instead of their cartesian product.
func (p *parser) sweep(n *node) *Sweep {
	kvs, ok := p.errs.Mapping(n, "sweep", nil)
	if !ok {
		return nil
	}
	sw := &Sweep{Pos: p.errs.Pos(n)}
	var zipN *node
	var lists []*node
	good := true
	for _, kv := range kvs {
		if kv.Key == "zip" {
			zipN = kv.KeyN
			s, _ := p.errs.Scalar(kv.Value, "zip")
			if s != "true" && s != "false" {
				p.errs.At(kv.Value, "zip is true or false, got %q", s)
				good = false
			}
			sw.Zip = s == "true"
			continue
		}
		par, ok := p.param(kv.KeyN)
		if !ok {
			good = false
			continue
		}
		items, ok := p.errs.Sequence(kv.Value, "sweep values")
		if !ok {
			good = false
			continue
		}
		if len(items) == 0 {
			p.errs.At(kv.Value, "empty sweep: give %s at least one value", par.Name)
			good = false
			continue
		}
		var vals []Value
		for _, it := range items {
			v, ok := p.value(par, it)
			good = good && ok
			vals = append(vals, v)
		}
		if len(sw.Params) == 0 {
			sw.Pos = p.errs.Pos(kv.KeyN)
		}
		sw.Params, sw.Values, lists = append(sw.Params, par.Name), append(sw.Values, vals), append(lists, kv.Value)
	}
	if len(kvs) > 0 && len(sw.Params) == 0 && good {
		p.errs.At(n, "sweep needs a parameter and its values, e.g. {dut.level: [P2, P8]}")
		return nil
	}
	if sw.Zip {
		for k := 1; k < len(lists) && good; k++ {
			if len(sw.Values[k]) != len(sw.Values[0]) {
				p.errs.At(lists[k], "zip pairs the lists value by value: %s has %d values, %s has %d", sw.Params[k], len(sw.Values[k]), sw.Params[0], len(sw.Values[0]))
				good = false
			}
		}
		if len(lists) == 1 && good {
			p.errs.At(zipN, "zip pairs the lists of two or more parameters; this sweep has one")
			good = false
		}
	}
	if !good {
		return nil
	}
	return sw
}

var criterionKeys = []string{"id", "name", "when", "measure", "over", "relative_to", "between", "min", "max", "within", "marginal", "on_fail"}

func (p *parser) criterion(n *node, s *Step) *Criterion {
	fields, ok := p.errs.Mapping(n, "criterion", criterionKeys)
	if !ok {
		return nil
	}
	c := &Criterion{Pos: p.errs.Pos(n), OnFail: Fail}
	var measureOK bool
	var measureN, relN, margN *node
	bounds := map[string]*node{}
	for _, f := range fields {
		switch f.Key {
		case "id":
			c.ID, _ = p.errs.Scalar(f.Value, "id")
		case "name":
			c.Name, _ = p.errs.Scalar(f.Value, "name")
		case "when":
			c.When = p.when(f.Value)
		case "measure":
			measureN = f.Value
			if t, ok := p.errs.Scalar(f.Value, "measure"); ok {
				c.Measure, measureOK = p.measure(f.Value, t)
				if measureOK && c.Measure.Window > 0 {
					p.errs.At(f.Value, "a window inside measure is for until conditions; in criteria write over: last %s", units.FormatDuration(c.Measure.Window))
					measureOK = false
				}
			}
		case "over":
			c.Over = p.over(f.Value, s)
		case "relative_to":
			relN = f.Value
		case "marginal":
			margN = f.Value
		case "between", "min", "max", "within":
			bounds[f.Key] = f.Value
		case "on_fail":
			c.OnFail, _ = p.action(f.Value, "on_fail", false)
		}
	}
	if measureN == nil {
		p.errs.At(n, "criterion needs a measure, e.g. measure: mean(aop)")
	}
	var dim units.Dimension
	if measureOK {
		dim, measureOK = p.measureDim(measureN, c.Measure)
	}
	if relN != nil {
		if c.Relative = p.relative(relN, c, bounds); c.Relative == nil {
			return c // its limits cannot be read without their reference
		}
		if c.Relative.Percent {
			dim = units.Percent
		}
	}
	var boundOK bool
	c.Bound, boundOK = p.criterionBound(n, bounds, dim, measureOK, c.Measure.Agg)
	if margN != nil {
		c.Marginal = p.marginal(margN, c.Bound, dim, measureOK && boundOK, c.Measure.Agg)
	}
	if c.ID != "" {
		p.ids = append(p.ids, c)
	}
	return c
}

// marginal reads a criterion's marginal band (language 1.1): limits in
// the criterion's own unit (percent for a relative criterion in percent),
// inside its pass region, so that a passing value outside the band is
// flagged before it fails.
func (p *parser) marginal(n *node, pass Bound, dim units.Dimension, dimKnown bool, agg string) *Bound {
	fields, ok := p.errs.Mapping(n, "marginal", []string{"between", "min", "max"})
	if !ok {
		return nil
	}
	bounds := map[string]*node{}
	for _, f := range fields {
		if slices.Contains([]string{"between", "min", "max"}, f.Key) {
			bounds[f.Key] = f.Value
		}
	}
	if len(bounds) == 0 {
		if len(n.Content) == 0 { // else its keys were wrong, and said so
			p.errs.At(n, "marginal needs a band: between, min or max")
		}
		return nil
	}
	b, ok := p.criterionBound(n, bounds, dim, dimKnown, agg)
	if !ok {
		return nil
	}
	// an open side is the limit's: marginal: {min: X} flags values near the low limit only
	if math.IsInf(b.Lo, -1) {
		b.Lo = pass.Lo
	}
	if math.IsInf(b.Hi, 1) {
		b.Hi = pass.Hi
	}
	if b.Lo < pass.Lo || b.Hi > pass.Hi {
		p.errs.At(n, "marginal band (%s) must lie inside the criterion's limits (%s): it flags passing values near them", b.Text, pass.Text)
		return nil
	}
	return &b
}

// relative reads a criterion's relative_to: a step completed before the
// criterion is judged (one before it in the file, or one of its own
// nested steps), named by its name or its path ("2.1"). Its limits are
// then changes from the reference step's value of the same measure:
// all in percent of it, or all in the measure's unit.
func (p *parser) relative(n *node, c *Criterion, bounds map[string]*node) *Relative {
	ref, ok := p.errs.Scalar(n, "relative_to")
	if !ok {
		return nil
	}
	var found []doneStep
	var known []string
	for _, d := range p.done {
		if d.step.Name == ref || d.path == ref {
			found = append(found, d)
		}
		known = append(known, d.path+" "+strconv.Quote(d.step.Title()))
	}
	switch {
	case len(found) == 0 && len(known) == 0:
		p.errs.At(n, "relative_to: no step %q completes before this criterion is judged: none does", ref)
		return nil
	case len(found) == 0:
		p.errs.At(n, "relative_to: no step %q completes before this criterion is judged; the steps before it: %s", ref, strings.Join(known, ", "))
		return nil
	case len(found) > 1:
		var at []string
		for _, d := range found {
			at = append(at, d.path)
		}
		p.errs.At(n, "relative_to: %d steps are named %q (paths %s): name them apart or give the path", len(found), ref, strings.Join(at, ", "))
		return nil
	}
	var pct, abs int
	for _, b := range bounds {
		for _, v := range boundScalars(b) {
			if strings.HasSuffix(strings.TrimSpace(v), "%") {
				pct++
			} else {
				abs++
			}
		}
	}
	if pct > 0 && abs > 0 {
		p.errs.At(n, "relative_to: give the limits all in percent of the reference or all in the measure's unit, not both")
		return nil
	}
	r := &Relative{Step: found[0].step, Path: found[0].path, Percent: pct > 0}
	found[0].step.Refs = append(found[0].step.Refs, c)
	return r
}

// boundScalars are the texts of a limit's values: one, or a between's two.
func boundScalars(n *node) []string {
	if strictyaml.IsSequence(n) {
		var out []string
		for _, it := range n.Content {
			out = append(out, it.Value)
		}
		return out
	}
	return []string{n.Value}
}

// invariant reads an `always` entry: a bound on a channel checked every frame.
func (p *parser) invariant(n *node) *Criterion {
	fields, ok := p.errs.Mapping(n, "always invariant", []string{"id", "name", "channel", "between", "min", "max", "on_fail"})
	if !ok {
		return nil
	}
	c := &Criterion{Pos: p.errs.Pos(n), OnFail: Fail}
	bounds := map[string]*node{}
	var chOK bool
	for _, f := range fields {
		switch f.Key {
		case "id":
			c.ID, _ = p.errs.Scalar(f.Value, "id")
		case "name":
			c.Name, _ = p.errs.Scalar(f.Value, "name")
		case "channel":
			c.Channel, chOK = p.channel(f.Value, "channel")
		case "on_fail":
			c.OnFail, _ = p.action(f.Value, "on_fail", false)
		default:
			bounds[f.Key] = f.Value
		}
	}
	if c.Channel == "" && !chOK {
		if _, ok := bounds["channel"]; !ok && !slices.ContainsFunc(fields, func(kv strictyaml.KV) bool { return kv.Key == "channel" }) {
			p.errs.At(n, "always invariant needs a channel")
		}
	}
	dim := p.rig.Channels[c.Channel]
	c.Measure = Measure{Agg: "value", Channel: c.Channel, Text: c.Channel, Pos: c.Pos}
	c.Bound, _ = p.criterionBound(n, bounds, dim, chOK, "")
	if c.ID != "" {
		p.ids = append(p.ids, c)
	}
	return c
}

func (p *parser) criterionBound(n *node, bounds map[string]*node, dim units.Dimension, dimKnown bool, agg string) (Bound, bool) {
	b := Bound{Lo: math.Inf(-1), Hi: math.Inf(1), Dim: dim}
	q := func(v *node, what string) (float64, bool) {
		s, ok := p.errs.Scalar(v, what)
		if !ok {
			return 0, false
		}
		return p.boundQuantity(v, s, dim, dimKnown, agg, what)
	}
	switch {
	case len(bounds) == 0:
		p.errs.At(n, "criterion needs a limit: between, min, max or within")
		return b, false
	case bounds["between"] != nil && len(bounds) > 1, bounds["within"] != nil && len(bounds) > 1:
		p.errs.At(n, "give one of between or within, or min and/or max")
		return b, false
	}
	ok := true
	var texts []string
	if v := bounds["between"]; v != nil {
		b.Kind = Between
		items, isSeq := p.errs.Sequence(v, "between")
		if !isSeq || len(items) != 2 {
			if isSeq {
				p.errs.At(v, "between needs two values [low, high]")
			}
			return b, false
		}
		lo, ok1 := q(items[0], "between low")
		hi, ok2 := q(items[1], "between high")
		if !ok1 || !ok2 {
			return b, false
		}
		if lo > hi {
			p.errs.At(v, "between [%s, %s] is inverted: the low value is above the high one", items[0].Value, items[1].Value)
			return b, false
		}
		b.Lo, b.Hi = lo, hi
		texts = append(texts, "between "+items[0].Value+" and "+items[1].Value)
	}
	if v := bounds["within"]; v != nil {
		b.Kind = Within
		s, isScalar := p.errs.Scalar(v, "within")
		if !isScalar {
			return b, false
		}
		lo, hi, good := p.within(v, s, dim, dimKnown, agg)
		if !good {
			return b, false
		}
		b.Lo, b.Hi = lo, hi
		texts = append(texts, "within "+s)
	}
	if v := bounds["min"]; v != nil {
		b.Kind = AtLeast
		lo, good := q(v, "min")
		ok = ok && good
		b.Lo = lo
		texts = append(texts, "≥ "+v.Value)
	}
	if v := bounds["max"]; v != nil {
		if bounds["min"] != nil {
			b.Kind = Between
		} else {
			b.Kind = AtMost
		}
		hi, good := q(v, "max")
		ok = ok && good
		b.Hi = hi
		texts = append(texts, "≤ "+v.Value)
		if ok && bounds["min"] != nil && b.Lo > b.Hi {
			p.errs.At(v, "max %s is below min %s", v.Value, bounds["min"].Value)
			ok = false
		}
	}
	b.Text = strings.Join(texts, " and ")
	return b, ok
}

// boundQuantity parses a limit. For slope the limit is per minute
// ("0.5 mmHg/min"). Without a known dimension (the measure itself is wrong)
// it still checks the unit, so one pass reports both mistakes.
func (p *parser) boundQuantity(n *node, s string, dim units.Dimension, dimKnown bool, agg, what string) (float64, bool) {
	if a := Aggregates[agg]; a.Per != "" {
		rest, ok := strings.CutSuffix(strings.TrimSpace(s), "/"+a.Per)
		if !ok {
			p.errs.At(n, "%s is a rate per %s: write the limit as e.g. \"0.5 %s/%s\"", agg, a.Per, dimUnit(dim, dimKnown), a.Per)
			return 0, false
		}
		s = rest
	}
	if !dimKnown {
		if _, err := units.Parse(s); err != nil {
			p.errs.At(n, "%s: %v", what, err)
		}
		return 0, false
	}
	v, err := units.ParseAs(s, dim)
	if err != nil {
		p.errs.At(n, "%s: %v", what, err)
		return 0, false
	}
	return v, true
}

func dimUnit(d units.Dimension, known bool) string {
	if !known {
		return "mmHg"
	}
	return d.Unit()
}

// within parses "X ± T", "X +- T" or "X ± N %" into [lo, hi].
func (p *parser) within(n *node, s string, dim units.Dimension, dimKnown bool, agg string) (lo, hi float64, ok bool) {
	var centre, tol string
	for _, sep := range []string{"±", "+/-", "+-"} {
		if a, b, found := strings.Cut(s, sep); found {
			centre, tol = strings.TrimSpace(a), strings.TrimSpace(b)
			break
		}
	}
	if centre == "" || tol == "" {
		p.errs.At(n, "within needs \"VALUE ± TOLERANCE\", e.g. 65 mmHg ± 3 mmHg or 2.5 L/min ± 10 %%")
		return 0, 0, false
	}
	c, okC := p.boundQuantity(n, centre, dim, dimKnown, agg, "within value")
	var t float64
	okT := false
	if pct, isPct := strings.CutSuffix(tol, "%"); isPct {
		f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			p.errs.At(n, "within tolerance %q is not a percentage", tol)
		} else {
			t, okT = math.Abs(c)*f/100, true
		}
	} else {
		t, okT = p.boundQuantity(n, tol, dim, dimKnown, agg, "within tolerance")
		if okT && t < 0 {
			p.errs.At(n, "within tolerance %s is negative", tol)
			okT = false
		}
	}
	if !okC || !okT {
		return 0, 0, false
	}
	return c - t, c + t, true
}

var measureRE = regexp.MustCompile(`^\s*([a-z0-9_]+)\s*\(\s*([A-Za-z0-9_.]+)\s*(?:,\s*([^)]*?)\s*)?\)\s*`)

// measure parses `AGG(CHANNEL[, WINDOW])` at the start of s and checks the
// aggregate and the channel; the rest of s must be empty.
func (p *parser) measure(n *node, s string) (Measure, bool) {
	m, rest, ok := p.measurePrefix(n, s)
	if ok && strings.TrimSpace(rest) != "" {
		p.errs.At(n, "unexpected %q after measure %s", strings.TrimSpace(rest), m.Text)
		return m, false
	}
	return m, ok
}

// wrappedRE is a beat aggregate wrapped in a statistic over beats,
// `STAT(AGG(CHANNEL)[, WINDOW])`.
var wrappedRE = regexp.MustCompile(`^\s*([a-z0-9_]+)\s*\(\s*([a-z0-9_]+)\s*\(\s*([A-Za-z0-9_.]+)\s*\)\s*(?:,\s*([^)]*?)\s*)?\)\s*`)

func (p *parser) measurePrefix(n *node, s string) (Measure, string, bool) {
	if w := wrappedRE.FindStringSubmatch(s); w != nil {
		m, _, ok := p.measurePrefix(n, w[2]+"("+w[3]+")")
		m.Stat, m.Text = w[1], strings.TrimSpace(w[0])
		if !slices.Contains(BeatStats, m.Stat) {
			p.errs.At(n, "%s(...) cannot wrap a beat aggregate; the statistics over beats are %s", m.Stat, strings.Join(BeatStats, ", "))
			ok = false
		} else if _, known := Aggregates[m.Agg]; known && !m.IsBeat() {
			p.errs.At(n, "%s wraps %s, which is not a beat aggregate: write %s(%s) for the frames' %s", m.Text, m.Agg, m.Stat, m.Channel, m.Stat)
			ok = false
		}
		return m, s[len(w[0]):], p.window(n, &m, w[4]) && ok
	}
	sub := measureRE.FindStringSubmatch(s)
	if sub == nil {
		p.errs.At(n, "measure %q is not AGGREGATE(CHANNEL), e.g. mean(aop)", s)
		return Measure{}, "", false
	}
	m := Measure{Agg: sub[1], Channel: sub[2], Text: strings.TrimSpace(sub[0]), Pos: p.errs.Pos(n)}
	ok := true
	if _, known := Aggregates[m.Agg]; !known {
		names := make([]string, 0, len(Aggregates))
		for a := range Aggregates {
			names = append(names, a)
		}
		slices.Sort(names)
		p.errs.At(n, "unknown aggregate %q%s", m.Agg, strictyaml.Suggest(m.Agg, names))
		ok = false
	}
	if _, known := p.rig.Channels[m.Channel]; !known {
		p.errs.At(n, "rig %s has no channel %q%s", p.rig.Name, m.Channel, strictyaml.Suggest(m.Channel, p.channelNames()))
		ok = false
	}
	return m, s[len(sub[0]):], p.window(n, &m, sub[3]) && ok
}

// window parses a measure's window, if it has one.
func (p *parser) window(n *node, m *Measure, text string) bool {
	if text == "" {
		return true
	}
	d, err := units.ParseDuration(text)
	switch {
	case err != nil:
		p.errs.At(n, "measure window: %v", err)
		return false
	case d <= 0:
		p.errs.At(n, "measure window must be positive, got %s", text)
		return false
	}
	m.Window = d
	return true
}

// measureDim checks the aggregate suits the channel and returns the
// dimension of the measured value.
func (p *parser) measureDim(n *node, m Measure) (units.Dimension, bool) {
	d, err := m.ResultDim(p.rig.Channels[m.Channel])
	if err != nil {
		p.errs.At(n, "%v", err)
		return 0, false
	}
	if m.IsBeat() {
		if m.Agg == "stroke_volume" || Aggregates[m.Agg].Phase {
			// stroke volume is integrated from a flow channel over beats
			// detected on the rig's first beat channel, and a phase read
			// on any channel at the instants of the rig's cycle channel
			// (a beat channel times its own)
			if len(p.rig.BeatChannels) == 0 {
				p.errs.At(n, "rig %s detects no beats, so %s cannot be measured", p.rig.Name, m.Text)
				return 0, false
			}
		} else if !slices.Contains(p.rig.BeatChannels, m.Channel) {
			p.errs.At(n, "rig %s detects beats on %s, not on %s", p.rig.Name, strings.Join(p.rig.BeatChannels, ", "), m.Channel)
			return 0, false
		}
	}
	return d, true
}

func (p *parser) over(n *node, s *Step) time.Duration {
	text, ok := p.errs.Scalar(n, "over")
	if !ok {
		return 0
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(text), "last ")
	if !ok {
		p.errs.At(n, "over must be \"last DURATION\", e.g. last 30 s")
		return 0
	}
	d, err := units.ParseDuration(strings.TrimSpace(rest))
	if err != nil {
		p.errs.At(n, "over: %v", err)
		return 0
	}
	if d <= 0 {
		p.errs.At(n, "over must be a positive duration")
		return 0
	}
	if s.Hold > 0 && d > s.Hold {
		p.errs.At(n, "over last %s is longer than the step's hold of %s", units.FormatDuration(d), units.FormatDuration(s.Hold))
		return 0
	}
	return d
}

// when parses a criterion's when: a condition on the run's parameters
// (language 1.1: comparisons, and, or, not; v1's PARAM == VALUE is one).
func (p *parser) when(n *node) *Condition {
	s, ok := p.errs.Scalar(n, "when")
	if !ok {
		return nil
	}
	c, _ := p.parseCondition(n, s, true)
	return c
}

// condition parses an until condition: comparisons of measures with
// `within X ± T`, `between [LO, HI]` (or v1's `between X and Y`), <, <=,
// >, >=, == or !=, combined with and, or, not and parentheses.
func (p *parser) condition(n *node, s string) (Condition, bool) {
	c, ok := p.parseCondition(n, s, false)
	if !ok {
		return Condition{Text: strings.TrimSpace(s)}, false
	}
	return *c, true
}

// untilMeasure checks that m can be an until's measure, which is checked
// on every frame, so the engine must update it in constant time: a
// rolling frame aggregate, a flag's count or fraction, or the mean (or
// min, max, std) over recent beats. Quantiles and slopes are for criteria.
func (p *parser) untilMeasure(n *node, m Measure) bool {
	if _, q := m.Quantile(); q || m.Agg == "slope" || strings.HasPrefix(m.Stat, "p") {
		p.errs.At(n, "%s is not available in an until condition (checked every frame); use mean, min, max, std, rms, count, fraction or a beat aggregate", cmp.Or(m.Stat, m.Agg))
		return false
	}
	return true
}
