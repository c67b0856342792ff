package rig

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/units"
)

// Config is a rig configuration file (configs/rigs/*.yaml): what the rig is,
// which channels it measures, what protocols may set and within which range,
// its hard limits, presets and safe state.
type Config struct {
	File   string
	Source []byte
	SHA256 string

	Name       string
	Backend    string  // "sim" (hardware comes with the drivers)
	SampleRate float64 // Hz, per channel
	Channels   daq.Layout
	// Limits are the hard limits the safety supervisor enforces on every
	// frame; a protocol may only tighten them.
	Limits map[string]protocols.Range
	// Debounce is how many consecutive frames must break a hard limit
	// before the supervisor trips, so a single noisy sample does not abort
	// a day-long run, while a real excursion stops it within milliseconds.
	Debounce int
	// Params are the parameters protocols may set, with their ranges.
	Params map[string]protocols.Range
	// Presets are named sets of setpoints (loop.preset), in file order.
	Presets     map[string][]protocols.Setpoint
	PresetNames []string
	// Initial is the preset applied before the first step.
	Initial string
	// Safe is the resistance the systemic valve goes to in the safe state
	// (its fail-safe position, fully open) and the LV drive stops.
	SafeResistance float64
	Sim            SimConfig
	Influx         InfluxConfig
}

// SimConfig parameterises the simulated loop.
type SimConfig struct {
	// Emin is the passive (diastolic) elastance of the simulated ventricle.
	Emin float64
}

// InfluxConfig says where runs are logged; flags and environment override it.
type InfluxConfig struct {
	URL, Org, Bucket string
}

// Info describes the rig to the protocol language.
func (c *Config) Info() protocols.RigInfo {
	ch := make(map[string]units.Dimension, len(c.Channels))
	for _, k := range c.Channels {
		ch[k.Name] = k.Dim
	}
	return protocols.RigInfo{Name: c.Name, Channels: ch, Params: c.Params, Presets: c.PresetNames, Limits: c.Limits}
}

// LoadConfig reads and checks a rig config file.
func LoadConfig(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("rig: %w", err)
	}
	return ParseConfig(file, data)
}

var configKeys = []string{"rig", "backend", "sample_rate", "channels", "limits", "debounce", "parameters", "presets", "initial", "safe_state", "sim", "influx"}

// ParseConfig checks a rig config and reports every mistake with its position.
func ParseConfig(file string, data []byte) (*Config, error) {
	root, err := strictyaml.Parse(file, data)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	c := &Config{File: file, Source: data, SHA256: hex.EncodeToString(sum[:]),
		Limits: map[string]protocols.Range{}, Params: map[string]protocols.Range{},
		Presets: map[string][]protocols.Setpoint{}, Debounce: 3, Sim: SimConfig{Emin: 0.06},
		SafeResistance: math.NaN()}
	e := &strictyaml.Errors{File: file}
	kvs, ok := e.Mapping(root, "rig config", configKeys)
	if !ok {
		return nil, e.List.Err()
	}
	var presetsN, initialN *strictyaml.Node
	seen := map[string]bool{}
	for _, kv := range kvs {
		seen[kv.Key] = true
		switch kv.Key {
		case "rig":
			c.Name, _ = e.Scalar(kv.Value, "rig")
		case "backend":
			if s, ok := e.Scalar(kv.Value, "backend"); ok {
				if s != "sim" {
					e.At(kv.Value, "backend %q is not available in this build; use sim", s)
				}
				c.Backend = s
			}
		case "sample_rate":
			if v, ok := quantity(e, kv.Value, units.Frequency, "sample_rate"); ok {
				if v < 100 || v > 10000 {
					e.At(kv.Value, "sample_rate must be from 100 Hz to 10 kHz")
				}
				c.SampleRate = v
			}
		case "channels":
			c.channels(e, kv.Value)
		case "limits":
			c.limits(e, kv.Value)
		case "debounce":
			if s, ok := e.Scalar(kv.Value, "debounce"); ok {
				var n int
				if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n < 1 || n > 1000 || fmt.Sprint(n) != s {
					e.At(kv.Value, "debounce must be a number of frames from 1 to 1000")
				}
				c.Debounce = n
			}
		case "parameters":
			c.params(e, kv.Value)
		case "presets":
			presetsN = kv.Value
		case "initial":
			initialN = kv.Value
			c.Initial, _ = e.Scalar(kv.Value, "initial")
		case "safe_state":
			fields, ok := e.Mapping(kv.Value, "safe_state", []string{"loop.resistance"})
			for _, f := range fields {
				if ok {
					c.SafeResistance, _ = quantity(e, f.Value, units.Resistance, "safe_state loop.resistance")
				}
			}
		case "sim":
			fields, _ := e.Mapping(kv.Value, "sim", []string{"emin"})
			for _, f := range fields {
				c.Sim.Emin, _ = quantity(e, f.Value, units.Elastance, "sim emin")
			}
		case "influx":
			fields, _ := e.Mapping(kv.Value, "influx", []string{"url", "org", "bucket"})
			for _, f := range fields {
				s, _ := e.Scalar(f.Value, f.Key)
				switch f.Key {
				case "url":
					c.Influx.URL = s
				case "org":
					c.Influx.Org = s
				case "bucket":
					c.Influx.Bucket = s
				}
			}
		}
	}
	for _, k := range []string{"rig", "backend", "sample_rate", "channels", "safe_state"} {
		if !seen[k] {
			e.At(root, "missing required key %q", k)
		}
	}
	if presetsN != nil {
		c.presets(e, presetsN) // after parameters, whose ranges they must respect
	}
	if initialN != nil && c.Initial != "" && c.Presets[c.Initial] == nil {
		e.At(initialN, "initial preset %q is not defined%s", c.Initial, strictyaml.Suggest(c.Initial, c.PresetNames))
	}
	for ch := range c.Limits {
		if c.Channels.Index(ch) < 0 {
			e.At(root, "limits name channel %q, which is not in channels", ch)
		}
	}
	if len(c.PresetNames) > 0 {
		c.Params["loop.preset"] = protocols.Range{}
	}
	if err := e.List.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func quantity(e *strictyaml.Errors, n *strictyaml.Node, d units.Dimension, what string) (float64, bool) {
	s, ok := e.Scalar(n, what)
	if !ok {
		return 0, false
	}
	v, err := units.ParseAs(s, d)
	if err != nil {
		e.At(n, "%s: %v", what, err)
		return 0, false
	}
	return v, true
}

// units a channel may be declared in, by their canonical spelling.
var channelDims = map[string]units.Dimension{}

func init() {
	for d := units.Pressure; d <= units.Power; d++ {
		channelDims[d.Unit()] = d
	}
}

func (c *Config) channels(e *strictyaml.Errors, n *strictyaml.Node) {
	kvs, ok := e.Mapping(n, "channels", nil)
	if !ok {
		return
	}
	for _, kv := range kvs {
		u, ok := e.Scalar(kv.Value, "unit of channel "+kv.Key)
		if !ok {
			continue
		}
		d, ok := channelDims[u]
		if !ok {
			names := make([]string, 0, len(channelDims))
			for k := range channelDims {
				names = append(names, k)
			}
			slices.Sort(names)
			e.At(kv.Value, "channel %s: unit %q is not a canonical unit%s", kv.Key, u, strictyaml.Suggest(u, names))
			continue
		}
		c.Channels = append(c.Channels, daq.Channel{Name: kv.Key, Dim: d})
	}
	if len(c.Channels) == 0 {
		e.At(n, "a rig needs at least one channel")
	}
}

// rangeOf reads {min: Q, max: Q} in dimension d.
func rangeOf(e *strictyaml.Errors, n *strictyaml.Node, d units.Dimension, what string) (protocols.Range, bool) {
	fields, ok := e.Mapping(n, what, []string{"min", "max"})
	if !ok {
		return protocols.Range{}, false
	}
	var r protocols.Range
	good := true
	for _, f := range fields {
		v, ok := quantity(e, f.Value, d, what+" "+f.Key)
		good = good && ok
		if f.Key == "min" {
			r.Min = &v
		} else {
			r.Max = &v
		}
	}
	if good && r.Min != nil && r.Max != nil && *r.Min >= *r.Max {
		e.At(n, "%s: min %s is not below max %s", what, units.Format(*r.Min, d), units.Format(*r.Max, d))
		good = false
	}
	return r, good
}

func (c *Config) limits(e *strictyaml.Errors, n *strictyaml.Node) {
	kvs, ok := e.Mapping(n, "limits", nil)
	if !ok {
		return
	}
	for _, kv := range kvs {
		i := c.Channels.Index(kv.Key)
		if i < 0 {
			e.At(kv.KeyN, "limit on unknown channel %q%s", kv.Key, strictyaml.Suggest(kv.Key, c.Channels.Names()))
			continue
		}
		if r, ok := rangeOf(e, kv.Value, c.Channels[i].Dim, "limit "+kv.Key); ok {
			c.Limits[kv.Key] = r
		}
	}
}

// supported lists the parameters this build's sim backend can act on.
var supported = []string{"loop.heart_rate", "loop.contractility", "loop.resistance", "loop.systole_fraction"}

func (c *Config) params(e *strictyaml.Errors, n *strictyaml.Node) {
	kvs, ok := e.Mapping(n, "parameters", nil)
	if !ok {
		return
	}
	for _, kv := range kvs {
		p, known := protocols.Params[kv.Key]
		if !known || p.Dim == units.None {
			e.At(kv.KeyN, "parameter %q cannot be given a range%s", kv.Key, strictyaml.Suggest(kv.Key, supported))
			continue
		}
		if !slices.Contains(supported, kv.Key) {
			e.At(kv.KeyN, "parameter %s is not supported by the %s backend yet", kv.Key, "sim")
			continue
		}
		if r, ok := rangeOf(e, kv.Value, p.Dim, kv.Key); ok {
			c.Params[kv.Key] = r
		}
	}
}

func (c *Config) presets(e *strictyaml.Errors, n *strictyaml.Node) {
	kvs, ok := e.Mapping(n, "presets", nil)
	if !ok {
		return
	}
	for _, kv := range kvs {
		fields, ok := e.Mapping(kv.Value, "preset "+kv.Key, nil)
		if !ok {
			continue
		}
		var set []protocols.Setpoint
		for _, f := range fields {
			p, known := protocols.Params[f.Key]
			r, supported := c.Params[f.Key]
			if !known || !supported || p.Dim == units.None {
				e.At(f.KeyN, "preset %s sets %q, which is not a parameter of this rig", kv.Key, f.Key)
				continue
			}
			v, ok := quantity(e, f.Value, p.Dim, f.Key)
			if !ok {
				continue
			}
			if !r.Contains(v) {
				e.At(f.Value, "preset %s: %s %s is outside the parameter's range", kv.Key, f.Key, units.Format(v, p.Dim))
				continue
			}
			set = append(set, protocols.Setpoint{Param: f.Key, Value: protocols.Value{Num: v, Dim: p.Dim}, Pos: e.Pos(f.KeyN)})
		}
		c.Presets[kv.Key] = set
		c.PresetNames = append(c.PresetNames, kv.Key)
	}
}
