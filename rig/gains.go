package rig

import (
	"math"
	"strconv"

	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/pumpctl"
)

// defaultGains are the gains of every closed-loop target parameter before
// the rig config's control: section: those of its actuation kind, tuned on
// the simulated bench.
func defaultGains() map[string]pumpctl.Gains {
	g := map[string]pumpctl.Gains{}
	for _, p := range protocols.ParamTable {
		if a := actuations[p.Actuation]; a.target != nil {
			g[p.Name] = a.gains
		}
	}
	return g
}

// control reads the control: section: per closed-loop target parameter,
// the gains that differ from the defaults, e.g.
//
//	control:
//	  loop.target.map: {kp: 0.03, ki: 0.012, kd: 0, rate: 0.5}
//
// The gains are plain numbers in the units of the driven parameter per unit
// of the target's (kp), per unit·s (ki), per unit/s (kd); rate is the
// driven parameter's largest change per second, 0 for none. A bench tunes
// them to its own loop.
func (c *Config) control(e *strictyaml.Errors, n *strictyaml.Node) {
	kvs, ok := e.Mapping(n, "control", nil)
	if !ok {
		return
	}
	var targets []string
	for _, p := range protocols.ParamTable {
		if _, ok := c.Control[p.Name]; ok {
			targets = append(targets, p.Name)
		}
	}
	for _, kv := range kvs {
		g, ok := c.Control[kv.Key]
		if !ok {
			e.At(kv.KeyN, "control of %q: not a closed-loop target%s", kv.Key, strictyaml.Suggest(kv.Key, targets))
			continue
		}
		fields, _ := e.Mapping(kv.Value, "control "+kv.Key, []string{"kp", "ki", "kd", "rate"})
		for _, f := range fields {
			v, ok := gain(e, f.Value, kv.Key+" "+f.Key)
			if !ok {
				continue
			}
			switch f.Key {
			case "kp":
				g.Kp = v
			case "ki":
				g.Ki = v
			case "kd":
				g.Kd = v
			case "rate":
				g.Rate = v
			}
		}
		c.Control[kv.Key] = g
	}
}

// gain reads a plain number, zero or more.
func gain(e *strictyaml.Errors, n *strictyaml.Node, what string) (float64, bool) {
	s, ok := e.Scalar(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0) || math.IsInf(v, 0) {
		e.At(n, "%s must be a plain number, 0 or more, got %q", what, s)
		return 0, false
	}
	return v, true
}
