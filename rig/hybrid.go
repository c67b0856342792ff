package rig

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/sim"
	"github.com/mockloop/mockloop/units"
)

// Rig modes (`mode:`). A numerical rig's bench is the patient: its LV
// drive, valves and compliances make the pressures the device under test
// sees. A hybrid rig's patient is the circulation computed in the
// controller at the sample rate, and its bench only the boundary the
// device touches: an inlet and an outlet chamber whose pressures follow
// the model's at the device's inlet and outlet node (README, "Hybrid
// rigs"). They are runlog's, which a run's manifest records as rig_mode.
const (
	ModeNumerical = runlog.RigModeNumerical
	ModeHybrid    = runlog.RigModeHybrid
)

// HybridConfig is a hybrid rig's `hybrid:` section.
type HybridConfig struct {
	// Inlet and Outlet are the bench's chambers around the device.
	Inlet, Outlet HybridChamber
	// Flow is the channel of the device's measured flow (the bench's
	// flowmeter): the model's device branch.
	Flow string
	// DriveResponse is the chamber drives' time constant (their speed
	// servo's first-order lag, measured at commissioning): the chamber
	// servo's feed-forward leads by it and its gains leave it phase
	// margin (pumpctl.ChamberServo).
	DriveResponse time.Duration
	// DivergenceRMS is the bound on the RMS tracking error of either
	// chamber over DivergenceOver beyond which the bench no longer stands
	// for the model and the run is aborted.
	DivergenceRMS  float64
	DivergenceOver time.Duration
	// PreloadHead and PreloadLine are the model's venous reservoir
	// (`preload:`), a numerical bench's preload valve in the model: a
	// head up to PreloadHead mmHg feeding its left atrium through a line
	// of PreloadLine mmHg·s/ml, which loop.preload holds the mean LAP
	// with. PreloadHead 0: none.
	PreloadHead, PreloadLine float64
}

// HybridChamber is one chamber of a hybrid bench: the model node it
// stands for, the channel measuring its pressure and its compliance
// (ml/mmHg, measured at commissioning: the feed-forward's model of it).
type HybridChamber struct {
	Node, Channel string
	Compliance    float64
}

// Tracking signals: a chamber's pressure tracking error over the last
// full beat of the model's heart, the RMS error in mmHg or, in %, that
// as a part of the model's pressure range over the beat (NRMSE, as
// PSCOPE and Ochsner et al. report a hybrid loop's tracking: issue 21).
var trackingSignals = []string{"inlet", "outlet"}

// trackingRangeFloor is the smallest range an NRMSE is a part of: a beat
// whose model pressure spans less, such as the aorta's flattened by full
// support (std(aop) ≤ 3.5 mmHg, a 10 mmHg pulse: the scenario library's
// CS-7 after Burkhoff et al.), has no pulse for the error to be a
// fraction of, and a 0.2 mmHg transducer's noise alone would be 20 % of a
// 1 mmHg one.
const trackingRangeFloor = 10 // mmHg

func (d *configDoc) mode(n *strictyaml.Node) {
	if s, ok := d.e.Scalar(n, "mode"); ok {
		if s != ModeNumerical && s != ModeHybrid {
			d.e.At(n, "mode %q is not %s or %s", s, ModeNumerical, ModeHybrid)
		}
		d.c.Mode = s
	}
}

// hybrid decodes the `hybrid:` section.
func (d *configDoc) hybrid(n *strictyaml.Node) {
	e := d.e
	if d.c.Mode != ModeHybrid {
		e.At(n, "hybrid describes a hybrid rig's bench; this rig's mode is %s", d.c.Mode)
		return
	}
	h := &HybridConfig{DriveResponse: 5 * time.Millisecond, DivergenceRMS: 10, DivergenceOver: 2 * time.Second}
	fields, _ := e.Mapping(n, "hybrid", []string{"inlet", "outlet", "flow", "drive_response", "divergence", "preload"})
	seen := map[string]bool{}
	for _, f := range fields {
		seen[f.Key] = true
		switch f.Key {
		case "inlet", "outlet":
			c := hybridChamber(e, f.Value, f.Key)
			if f.Key == "inlet" {
				h.Inlet = c
			} else {
				h.Outlet = c
			}
		case "flow":
			h.Flow, _ = e.Scalar(f.Value, "hybrid flow")
		case "drive_response":
			h.DriveResponse = driveResponse(e, f.Value, "hybrid")
		case "divergence":
			h.divergence(e, f.Value)
		case "preload":
			h.preload(e, f.Value)
		}
	}
	for _, k := range []string{"inlet", "outlet", "flow"} {
		if !seen[k] {
			e.At(n, "hybrid needs %s", k)
		}
	}
	d.c.Hybrid = h
}

// driveResponse decodes a drives' time constant: above 0, at most 1 s.
func driveResponse(e *strictyaml.Errors, n *strictyaml.Node, in string) time.Duration {
	v, ok := quantity(e, n, units.Time, in+" drive_response")
	if ok && (!(v > 0) || v > 1) {
		e.At(n, "drive_response must be above 0 s and at most 1 s")
	}
	return time.Duration(v * float64(time.Second))
}

func hybridChamber(e *strictyaml.Errors, n *strictyaml.Node, key string) HybridChamber {
	var c HybridChamber
	fields, _ := e.Mapping(n, "hybrid "+key, []string{"node", "channel", "compliance"})
	for _, f := range fields {
		switch f.Key {
		case "node":
			c.Node, _ = e.Scalar(f.Value, key+" node")
		case "channel":
			c.Channel, _ = e.Scalar(f.Value, key+" channel")
		case "compliance":
			c.Compliance, _ = quantity(e, f.Value, units.Compliance, key+" compliance")
		}
	}
	if c.Node == "" || c.Channel == "" || !(c.Compliance > 0) || math.IsInf(c.Compliance, 0) {
		e.At(n, "hybrid %s needs a node, a channel and a compliance above 0 ml/mmHg", key)
	}
	return c
}

func simChambers(e *strictyaml.Errors, n *strictyaml.Node) SimChambers {
	var c SimChambers
	fields, _ := e.Mapping(n, "sim chambers", []string{"inlet", "outlet", "drive_response"})
	for _, f := range fields {
		switch f.Key {
		case "inlet", "outlet":
			v, ok := quantity(e, f.Value, units.Compliance, "sim chambers "+f.Key)
			if ok && !(v > 0) {
				e.At(f.Value, "a chamber's compliance must be above 0 ml/mmHg")
			}
			if f.Key == "inlet" {
				c.Inlet = v
			} else {
				c.Outlet = v
			}
		case "drive_response":
			c.DriveResponse = driveResponse(e, f.Value, "sim chambers")
		}
	}
	return c
}

func (h *HybridConfig) preload(e *strictyaml.Errors, n *strictyaml.Node) {
	fields, _ := e.Mapping(n, "hybrid preload", []string{"head", "line"})
	for _, f := range fields {
		if f.Key == "head" {
			h.PreloadHead, _ = quantity(e, f.Value, units.Pressure, "preload head")
		} else {
			h.PreloadLine, _ = quantity(e, f.Value, units.Resistance, "preload line")
		}
	}
	if !(h.PreloadHead > 0) || !(h.PreloadLine > 0) || math.IsInf(h.PreloadHead+h.PreloadLine, 0) {
		e.At(n, "hybrid preload needs a head and a line, finite and above 0")
	}
}

func (h *HybridConfig) divergence(e *strictyaml.Errors, n *strictyaml.Node) {
	fields, _ := e.Mapping(n, "hybrid divergence", []string{"rms", "over"})
	for _, f := range fields {
		switch f.Key {
		case "rms":
			if v, ok := quantity(e, f.Value, units.Pressure, "divergence rms"); ok {
				if !(v > 0) {
					e.At(f.Value, "divergence rms must be above 0 mmHg")
				}
				h.DivergenceRMS = v
			}
		case "over":
			if v, ok := quantity(e, f.Value, units.Time, "divergence over"); ok {
				if v < 0.1 || v > 60 {
					e.At(f.Value, "divergence over must be 100 ms to 60 s")
				}
				h.DivergenceOver = time.Duration(v * float64(time.Second))
			}
		}
	}
}

// numericalOnly are the hardware a numerical bench acts on the patient
// with; a hybrid rig's patient is its model, which the protocol's loop.*
// parameters set directly.
var numericalOnly = []string{"lv_drive", "rv_drive", "resistance_valve", "pulmonary_valve", "preload_valve"}

// checkHybrid checks a hybrid rig across its sections: the chambers'
// nodes and the device's branch in the circulation, their channels, the
// model's channels.
func (d *configDoc) checkHybrid() {
	c, e := d.c, d.e
	chN := field(d.kvs, "channels")
	for _, ch := range c.Channels {
		if k := c.Inputs[ch.Name].Kind; (k == "model" || k == "tracking") && c.Mode != ModeHybrid {
			e.At(lookup(chN, ch.Name), "channel %s comes from a hybrid rig's model; this rig's mode is %s", ch.Name, c.Mode)
		}
	}
	if c.Mode != ModeHybrid {
		for _, k := range []string{"inlet_drive", "outlet_drive"} {
			if n := lookup(d.hardwareN, k); n != nil {
				e.At(n, "hardware %s is a hybrid bench's chamber drive; this rig's mode is %s", k, c.Mode)
			}
		}
		return
	}
	h, nw := c.Hybrid, c.Sim.Circulation
	hN := field(d.kvs, "hybrid")
	if h == nil || nw == nil {
		e.At(d.root, "a hybrid rig needs a hybrid section and a circulation (its patient)")
		return
	}
	pump := slices.IndexFunc(nw.Links, func(l sim.LinkSpec) bool { return l.Kind == sim.Pump })
	if pump < 0 {
		e.At(field(d.kvs, "circulation"), "a hybrid rig's circulation needs a pump link: the device's place, whose flow is the measured %s", h.Flow)
		return
	}
	for _, x := range []struct {
		key, end string
		ch       HybridChamber
	}{{"inlet", nw.Links[pump].From, h.Inlet}, {"outlet", nw.Links[pump].To, h.Outlet}} {
		if x.ch.Node != x.end {
			e.At(lookup(hN, x.key, "node"), "hybrid %s node %s: the device's link %s runs from %s to %s", x.key, x.ch.Node, nw.Links[pump].Name, nw.Links[pump].From, nw.Links[pump].To)
		}
		if i := c.Channels.Index(x.ch.Channel); i < 0 || c.Channels[i].Dim != units.Pressure || c.Inputs[x.ch.Channel].Kind != "adc" {
			e.At(lookup(hN, x.key, "channel"), "hybrid %s channel %s must be a pressure channel on the adc", x.key, x.ch.Channel)
		}
	}
	if i := c.Channels.Index(h.Flow); i < 0 || c.Channels[i].Dim != units.Flow || c.Inputs[h.Flow].Kind != "adc" {
		e.At(lookup(hN, "flow"), "hybrid flow %s must be a flow channel on the adc", h.Flow)
	}
	for _, ch := range c.Channels {
		in := c.Inputs[ch.Name]
		if in.Kind != "model" {
			continue
		}
		if why := modelSignalFits(nw, in.Signal, ch.Dim); why != "" {
			e.At(lookup(chN, ch.Name, "model"), "channel %s: %s", ch.Name, why)
		}
	}
	if in, out := c.Hardware.InletDrive, c.Hardware.OutletDrive; c.Backend == "sim" && in != nil && out != nil && in.FullScale != out.FullScale {
		e.At(lookup(d.hardwareN, "outlet_drive", "full_scale"), "the simulated hybrid bench's drives share one full scale: inlet_drive's is %s", units.Format(in.FullScale, units.Flow))
	}
	for _, k := range numericalOnly {
		if n := lookup(d.hardwareN, k); n != nil {
			e.At(n, "hardware %s acts on a numerical bench's patient; a hybrid rig's patient is its model (its chambers have inlet_drive and outlet_drive)", k)
		}
	}
}

// modelSignalFits says why a model channel of dimension dim cannot read
// name ("" if it can): a pressure or a volume is a node's, a flow a
// link's.
func modelSignalFits(nw *sim.NetworkSpec, name string, dim units.Dimension) string {
	var names []string
	switch dim {
	case units.Pressure, units.Volume:
		for _, n := range nw.Nodes {
			names = append(names, n.Name)
		}
	case units.Flow:
		for _, l := range nw.Links {
			names = append(names, l.Name)
		}
	default:
		return "a model channel is a node's pressure (mmHg) or volume (ml), or a link's flow (L/min)"
	}
	if !slices.Contains(names, name) {
		return fmt.Sprintf("the circulation has no %s %q%s", map[bool]string{true: "link", false: "node"}[dim == units.Flow], name, strictyaml.Suggest(name, names))
	}
	return ""
}

// benchSignal is the simulated bench's signal a measured channel reads: a
// hybrid bench's chamber channel bench.X measures the chamber that stands
// for the model's X (sim.HydraulicsConfig), other channels the signal of
// their own name.
func benchSignal(ch string) string { return strings.TrimPrefix(ch, "bench.") }

// simHydraulics is the simulated hybrid bench: its chambers stand for
// the model's nodes at the device's ends and start at the model's
// initial pressures there; their compliances and the drives' response
// are the sim section's, else the hybrid section's.
func simHydraulics(cfg *Config) (*sim.HydraulicsConfig, error) {
	h, sc := cfg.Hybrid, cfg.Sim.Chambers
	nw, err := sim.NewNetwork(modelSpec(cfg.Sim.Circulation))
	if err != nil {
		return nil, fmt.Errorf("rig: hybrid model: %w", err)
	}
	hy := &sim.HydraulicsConfig{Inlet: h.Inlet.Node, Outlet: h.Outlet.Node,
		InletCompliance: h.Inlet.Compliance, OutletCompliance: h.Outlet.Compliance,
		InletPressure: nw.Pressure(nw.Node(h.Inlet.Node)), OutletPressure: nw.Pressure(nw.Node(h.Outlet.Node)),
		DriveFullScale: cfg.Hardware.InletDrive.FullScale / sim.MlPerSToLPerMin, DriveResponse: h.DriveResponse}
	if sc.Inlet > 0 {
		hy.InletCompliance = sc.Inlet
	}
	if sc.Outlet > 0 {
		hy.OutletCompliance = sc.Outlet
	}
	if sc.DriveResponse > 0 {
		hy.DriveResponse = sc.DriveResponse
	}
	return hy, nil
}

// modelSpec is the controller's patient of a hybrid rig: the circulation
// with its device link a flow source, whose flow is the measured one.
func modelSpec(c *sim.NetworkSpec) sim.NetworkSpec {
	spec := sim.NetworkSpec{Nodes: slices.Clone(c.Nodes), Links: slices.Clone(c.Links)}
	for i := range spec.Links {
		if l := &spec.Links[i]; l.Kind == sim.Pump {
			l.Kind, l.Pump, l.R, l.L = sim.Source, nil, 0, 0
		}
	}
	return spec
}

// hybridLoop is a hybrid rig's controller: the patient model at the
// sample rate, driven by the cardiac waveform and the protocol's loop.*
// parameters and fed the device's measured flow; the two chamber servos
// that make the bench follow it; the tracking error per beat and the
// divergence watch.
//
// Per frame: Read observes the bench at t (the chambers' pressures and
// the device's flow) against the model at t; Actuate advances the model
// to t + T with that flow held (one frame's delay: no algebraic loop
// between the model and the bench) and commands each chamber's drive to
// reach the model's pressure at t + T.
type hybridLoop struct {
	cfg       HybridConfig
	model     *sim.Loop
	nw        *sim.Network
	source    int // the device's link in the model
	period    time.Duration
	inlet     chamberTrack
	outlet    chamberTrack
	flowCol   int
	flow      float64 // ml/s, the last measured
	fill      float64 // the fill the model works toward, ml; NaN: none
	head      float64 // the model's venous reservoir's head, mmHg; 0: its line shut
	divergeAt int     // frames in the divergence window
}

// chamberTrack is one chamber's servo and its tracking statistics.
type chamberTrack struct {
	name  string
	node  int // in the model
	col   int // the measured pressure's column
	servo pumpctl.ChamberServo
	meas  float64 // the last measured pressure
	// The beat in progress: squared errors, frames, the model's range.
	sq       float64
	n        int
	lo, hi   float64
	rmse     float64 // of the last full beat, mmHg
	nrmse    float64 // of the last full beat, %
	ring     []float64
	ringSum  float64
	ringNext int
}

func newHybridLoop(cfg *Config, inlet, outlet *pumpctl.FlowDrive, start time.Duration) (*hybridLoop, error) {
	h := cfg.Hybrid
	model, err := sim.NewNetworkLoop(modelSpec(cfg.Sim.Circulation))
	if err != nil {
		return nil, fmt.Errorf("rig: hybrid model: %w", err)
	}
	nw := model.Network()
	model.StartAt(start)
	period := time.Duration(float64(time.Second) / cfg.SampleRate)
	window := max(1, int(h.DivergenceOver/period))
	hl := &hybridLoop{cfg: *h, model: model, nw: nw, period: period, fill: math.NaN(), flowCol: cfg.Channels.Index(h.Flow)}
	hl.source = slices.IndexFunc(cfg.Sim.Circulation.Links, func(l sim.LinkSpec) bool { return l.Kind == sim.Pump })
	for _, x := range []struct {
		t     *chamberTrack
		c     HybridChamber
		drive *pumpctl.FlowDrive
		name  string
	}{{&hl.inlet, h.Inlet, inlet, "inlet"}, {&hl.outlet, h.Outlet, outlet, "outlet"}} {
		*x.t = chamberTrack{name: x.name, node: nw.Node(x.c.Node), col: cfg.Channels.Index(x.c.Channel),
			servo: pumpctl.ChamberServo{Drive: x.drive, Compliance: x.c.Compliance, Lag: h.DriveResponse.Seconds()},
			ring:  make([]float64, window), lo: math.Inf(1), hi: math.Inf(-1), meas: math.NaN()}
	}
	return hl, nil
}

// column reads a model or tracking channel for the frame.
func (hl *hybridLoop) column(in ChannelInput, dim units.Dimension) func() float64 {
	switch {
	case in.Kind == "tracking":
		t := &hl.inlet
		if in.Signal == "outlet" {
			t = &hl.outlet
		}
		if dim == units.Pressure {
			return func() float64 { return t.rmse }
		}
		return func() float64 { return t.nrmse }
	case dim == units.Pressure:
		i := hl.nw.Node(in.Signal)
		return func() float64 { return hl.nw.Pressure(i) }
	case dim == units.Volume:
		i := hl.nw.Node(in.Signal)
		return func() float64 { return hl.nw.Volume(i) }
	}
	i := hl.nw.Link(in.Signal)
	return func() float64 { return hl.nw.Flow(i) }
}

// observe takes the bench's frame at the model's time: the measured
// pressures against the model's, the device's flow for the next advance.
// It returns an AbortError when the bench has diverged from the model.
func (hl *hybridLoop) observe(frame []float64) error {
	if q := frame[hl.flowCol]; !math.IsNaN(q) {
		hl.flow = q / sim.MlPerSToLPerMin
	}
	var diverged []string
	for _, t := range []*chamberTrack{&hl.inlet, &hl.outlet} {
		t.meas = frame[t.col]
		ref := hl.nw.Pressure(t.node)
		err := t.meas - ref
		if math.IsNaN(err) {
			continue
		}
		t.sq += err * err
		t.n++
		t.lo, t.hi = min(t.lo, ref), max(t.hi, ref)
		t.ringSum += err*err - t.ring[t.ringNext]
		t.ring[t.ringNext] = err * err
		if t.ringNext++; t.ringNext == len(t.ring) {
			t.ringNext, t.ringSum = 0, sum(t.ring) // no drift of the running sum
		}
		if rms := math.Sqrt(max(t.ringSum, 0) / float64(len(t.ring))); hl.divergeAt >= len(t.ring) && rms > hl.cfg.DivergenceRMS {
			diverged = append(diverged, fmt.Sprintf("%s %s RMS over %s (bound %s)", t.name, units.Format(rms, units.Pressure),
				units.FormatDuration(hl.cfg.DivergenceOver), units.Format(hl.cfg.DivergenceRMS, units.Pressure)))
		}
	}
	hl.divergeAt++
	if len(diverged) > 0 {
		return abortf("hybrid bench diverged from the model: %s", strings.Join(diverged, ", "))
	}
	return nil
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// actuate advances the model over the frame that starts at now, with the
// LV drive's active elastance, the measured flow held and the fill pump's
// transfer, and commands both chambers toward the model's pressures at
// its end. A new beat closes the tracking statistics of the last one.
func (hl *hybridLoop) actuate(now time.Duration, active float64, beatStarted bool) error {
	if beatStarted {
		hl.closeBeat()
	}
	ref := [2]float64{hl.nw.Pressure(hl.inlet.node), hl.nw.Pressure(hl.outlet.node)}
	if err := hl.model.SetActiveElastance(active); err != nil {
		return err
	}
	if err := hl.nw.SetSourceFlow(hl.source, hl.flow); err != nil {
		return err
	}
	end := now + hl.period
	if !math.IsNaN(hl.fill) { // a preset's fill, at the bench's fill pump's rate
		done, err := hl.model.FillToward(hl.fill, (end - hl.model.Now()).Seconds())
		if err != nil {
			return err
		}
		if done {
			hl.fill = math.NaN()
		}
	}
	if hl.head > 0 {
		if err := hl.model.FillFromReservoir(hl.head, hl.cfg.PreloadLine, (end - hl.model.Now()).Seconds()); err != nil {
			return err
		}
	}
	hl.model.AdvanceTo(end)
	dt := hl.period.Seconds()
	if _, err := hl.inlet.servo.Update(ref[0], hl.nw.Pressure(hl.inlet.node), hl.inlet.meas, hl.flow, dt); err != nil {
		return err
	}
	_, err := hl.outlet.servo.Update(ref[1], hl.nw.Pressure(hl.outlet.node), hl.outlet.meas, -hl.flow, dt)
	return err
}

// closeBeat makes the beat just ended each chamber's tracking value.
func (hl *hybridLoop) closeBeat() {
	for _, t := range []*chamberTrack{&hl.inlet, &hl.outlet} {
		if t.n > 0 {
			t.rmse = math.Sqrt(t.sq / float64(t.n))
			t.nrmse = 100 * t.rmse / max(t.hi-t.lo, trackingRangeFloor)
		}
		t.sq, t.n, t.lo, t.hi = 0, 0, math.Inf(1), math.Inf(-1)
	}
}

// safe stops both chamber drives; the servos start afresh, and the
// divergence window refills, when the run actuates again.
func (hl *hybridLoop) safe() error {
	var errs []error
	for _, t := range []*chamberTrack{&hl.inlet, &hl.outlet} {
		t.servo.Reset()
		errs = append(errs, t.servo.Drive.Safe())
	}
	hl.divergeAt, hl.head = 0, 0 // the model's reservoir line shut, as a preload valve's safe duty
	return errors.Join(errs...)
}
