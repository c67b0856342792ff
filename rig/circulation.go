package rig

import (
	"slices"
	"strconv"

	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/sim"
	"github.com/mockloop/mockloop/units"
)

// circulationKeys are the keys of a node and of a link in a rig config's
// circulation section (README, "Rig configs").
var (
	nodeKeys = []string{"compliance", "unstressed", "volume", "pressure", "emin", "p0", "lambda", "collapse", "drive"}
	linkKeys = []string{"kind", "from", "to", "resistance", "inertance"}
)

// circulation decodes the sim backend's `circulation:` section, the
// patient as a lumped-parameter network (sim.NetworkSpec): nodes by name,
// links by name between two of them. A `pump` link is where the DUT's pump
// sits; its constants are the DUT's, so it needs a simulated DUT, which in
// turn needs one.
func (d *configDoc) circulation(n *strictyaml.Node) {
	e := d.e
	if d.c.Backend != "sim" && d.c.Mode != ModeHybrid {
		e.At(n, "circulation is the simulated patient: only the sim backend, or a hybrid rig's model, has one")
		return
	}
	fields, ok := e.Mapping(n, "circulation", []string{"nodes", "links"})
	if !ok {
		return
	}
	spec := &sim.NetworkSpec{}
	var nodesN *strictyaml.Node
	for _, f := range fields {
		kvs, _ := e.Mapping(f.Value, "circulation "+f.Key, nil)
		for _, kv := range kvs {
			if f.Key == "nodes" {
				nodesN = f.Value
				spec.Nodes = append(spec.Nodes, circulationNode(e, kv))
			} else {
				spec.Links = append(spec.Links, circulationLink(e, kv))
			}
		}
	}
	if nodesN == nil {
		e.At(n, "circulation needs nodes")
		return
	}
	names := make([]string, len(spec.Nodes))
	for i, nd := range spec.Nodes {
		names[i] = nd.Name
	}
	linkNs := map[string]strictyaml.KV{}
	for _, f := range fields {
		if f.Key == "links" {
			kvs, _ := e.Mapping(f.Value, "circulation links", nil)
			for _, kv := range kvs {
				linkNs[kv.Key] = kv
			}
		}
	}
	pumps := 0
	simDUT := d.c.DUT != nil && d.c.DUT.Port == "sim"
	for i := range spec.Links {
		l := &spec.Links[i]
		kv := linkNs[l.Name]
		for _, end := range []string{l.From, l.To} {
			if end != "" && !slices.Contains(names, end) {
				e.At(kv.Value, "link %s: no node %q%s", l.Name, end, strictyaml.Suggest(end, names))
			}
		}
		if l.Kind == sim.Pump {
			pumps++
			if !simDUT && d.c.Mode != ModeHybrid { // a hybrid model's pump link takes the measured flow
				e.At(kv.KeyN, "link %s: a pump link needs the rig's simulated DUT (dut: port: sim) to put in it", l.Name)
			}
			pp := sim.Impella25() // stands in for the DUT's constants while checking
			l.Pump = &pp
		}
	}
	switch {
	case pumps > 1:
		e.At(n, "circulation has %d pump links; the simulated bench has one DUT", pumps)
	case pumps == 0 && simDUT:
		e.At(n, "the rig's simulated DUT needs a pump link in circulation (kind: pump, from: its inlet node, to: its outlet node)")
	}
	if len(e.List) == 0 {
		if _, err := sim.NewNetworkLoop(*spec); err != nil {
			e.At(n, "circulation: %v", err)
			return
		}
	}
	for i := range spec.Links {
		spec.Links[i].Pump = nil
	}
	d.c.Sim.Circulation = spec
}

// circulationNode decodes one node: a compliance if it has one, else a
// chamber.
func circulationNode(e *strictyaml.Errors, kv strictyaml.KV) sim.NodeSpec {
	nd := sim.NodeSpec{Name: kv.Key}
	fields, _ := e.Mapping(kv.Value, "node "+kv.Key, nodeKeys)
	var pressure *float64
	for _, f := range fields {
		what := "node " + kv.Key + " " + f.Key
		switch f.Key {
		case "compliance":
			nd.C, _ = quantity(e, f.Value, units.Compliance, what)
		case "unstressed":
			nd.V0, _ = quantity(e, f.Value, units.Volume, what)
		case "volume":
			nd.Volume, _ = quantity(e, f.Value, units.Volume, what)
		case "pressure":
			if v, ok := quantity(e, f.Value, units.Pressure, what); ok {
				pressure = &v
			}
		case "emin":
			nd.Emin, _ = quantity(e, f.Value, units.Elastance, what)
		case "p0":
			nd.P0, _ = quantity(e, f.Value, units.Pressure, what)
		case "collapse":
			nd.Collapse, _ = quantity(e, f.Value, units.Volume, what)
		case "lambda":
			nd.Lambda, _ = quantity(e, f.Value, units.Stiffness, what)
		case "drive":
			if s, ok := e.Scalar(f.Value, what); ok {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil || !(v >= 0) || v > 100 {
					e.At(f.Value, "%s must be a plain number from 0 to 100 (the chamber's share of the LV drive's active elastance), got %q", what, s)
				}
				nd.Drive = v
			}
		}
	}
	chamber := nd.C == 0
	switch {
	case pressure != nil && chamber:
		e.At(kv.KeyN, "node %s: a chamber starts from a volume, not a pressure", kv.Key)
	case pressure != nil:
		nd.Volume = nd.V0 + nd.C**pressure
	}
	if !chamber && (nd.Emin != 0 || nd.P0 != 0 || nd.Lambda != 0 || nd.Drive != 0) {
		e.At(kv.KeyN, "node %s: a compliance has no emin, p0, lambda or drive (those are a chamber's: leave out compliance)", kv.Key)
	}
	if err := nd.Validate(); err != nil {
		e.At(kv.KeyN, "%v", err)
	}
	return nd
}

// circulationLink decodes one link.
func circulationLink(e *strictyaml.Errors, kv strictyaml.KV) sim.LinkSpec {
	l := sim.LinkSpec{Name: kv.Key}
	fields, _ := e.Mapping(kv.Value, "link "+kv.Key, linkKeys)
	kinds := sim.LinkKinds()
	kind := -1
	for _, f := range fields {
		what := "link " + kv.Key + " " + f.Key
		switch f.Key {
		case "kind":
			if s, ok := e.Scalar(f.Value, what); ok {
				if kind = slices.Index(kinds, s); kind < 0 {
					e.At(f.Value, "link %s: kind %q is not one of %v%s", kv.Key, s, kinds, strictyaml.Suggest(s, kinds))
				}
			}
		case "from":
			l.From, _ = e.Scalar(f.Value, what)
		case "to":
			l.To, _ = e.Scalar(f.Value, what)
		case "resistance":
			l.R, _ = quantity(e, f.Value, units.Resistance, what)
		case "inertance":
			l.L, _ = quantity(e, f.Value, units.Inertance, what)
		}
	}
	if kind < 0 || l.From == "" || l.To == "" {
		e.At(kv.KeyN, "link %s needs a kind, from and to", kv.Key)
		return l
	}
	l.Kind = sim.LinkKind(kind)
	needR := l.Kind != sim.Pump
	switch {
	case needR && !(l.R > 0):
		e.At(kv.KeyN, "link %s: a %s needs a resistance above 0", kv.Key, l.Kind)
	case l.Kind == sim.Inertance && !(l.L > 0):
		e.At(kv.KeyN, "link %s: an inertance needs an inertance above 0", kv.Key)
	case l.Kind == sim.Pump && (l.R != 0 || l.L != 0):
		e.At(kv.KeyN, "link %s: a pump's resistance and inertance are the DUT's", kv.Key)
	case l.Kind != sim.Inertance && l.L != 0:
		e.At(kv.KeyN, "link %s: only an inertance has an inertance", kv.Key)
	}
	return l
}
