package rig

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/sim"
	"github.com/mockloop/mockloop/units"
)

var hardwareKeys = []string{"adc", "i2c", "slow_adc", "lv_drive", "rv_drive", "inlet_drive", "outlet_drive", "pwm", "resistance_valve", "pulmonary_valve", "preload_valve", "estop", "switches", "watchdog"}

// hardware reads the `hardware:` section: the parts of DESIGN.md's
// reference bench, where they sit on which bus, and the safe state of every
// actuator.
func (c *Config) hardware(e *strictyaml.Errors, n *strictyaml.Node) {
	kvs, ok := e.Mapping(n, "hardware", hardwareKeys)
	if !ok {
		return
	}
	h := &c.Hardware
	h.ADCGain, h.ADCClockIn = 1, 8.192e6
	seen := map[string]bool{}
	for _, kv := range kvs {
		seen[kv.Key] = true
		switch kv.Key {
		case "adc":
			h.adc(e, kv.Value)
		case "i2c":
			h.I2C, _ = e.Scalar(kv.Value, "i2c")
		case "slow_adc":
			h.slowADC(e, kv.Value)
		case "lv_drive":
			h.LVDrive = *pumpDrive(e, kv.Value, kv.Key, units.Elastance, 0x60)
		case "rv_drive":
			h.RVDrive = pumpDrive(e, kv.Value, kv.Key, units.Percent, 0x61)
		case "inlet_drive":
			h.InletDrive = pumpDrive(e, kv.Value, kv.Key, units.Flow, 0x60)
		case "outlet_drive":
			h.OutletDrive = pumpDrive(e, kv.Value, kv.Key, units.Flow, 0x61)
		case "pwm":
			h.pwm(e, kv.Value)
		case "resistance_valve":
			h.Valve = *resistanceValve(e, kv.Value, kv.Key)
		case "pulmonary_valve":
			h.Pulmonary = resistanceValve(e, kv.Value, kv.Key)
		case "preload_valve":
			h.preloadValve(e, kv.Value)
		case "estop":
			h.EStop, _ = e.Scalar(kv.Value, "estop pin")
		case "switches":
			h.switches(e, kv.Value)
		case "watchdog":
			h.watchdog(e, kv.Value)
		}
	}
	required := []string{"adc", "lv_drive", "pwm", "resistance_valve", "estop"}
	if c.Mode == ModeHybrid {
		required = []string{"adc", "inlet_drive", "outlet_drive", "estop"}
	}
	for _, k := range required {
		if !seen[k] {
			e.At(n, "hardware needs %s", k)
		}
	}
	if h.I2C == "" {
		e.At(n, "hardware needs i2c, the bus of the DAC, PWM and slow ADC")
	}
	for name, in := range c.Inputs {
		if in.Kind == "slow_adc" && h.SlowADC == nil {
			e.At(n, "channel %s is on slow_adc, but hardware has no slow_adc", name)
		}
	}
	c.checkClaims(e, n)
}

// checkRightHeart checks the right heart's actuators against the rest of
// the config: on a simulated rig they act on the circulation's rv chamber
// and pulmonary link, which it must have; the ranges of their parameters
// must fit them, as a setpoint outside would fail only mid-run.
func (d *configDoc) checkRightHeart() {
	c, h, e := d.c, d.c.Hardware, d.e
	if d.hardwareN == nil {
		return
	}
	if c.Backend == "sim" {
		nw := c.Sim.Circulation
		if h.RVDrive != nil && (nw == nil || !slices.ContainsFunc(nw.Nodes, func(n sim.NodeSpec) bool { return n.Name == sim.NodeRV && n.C == 0 })) {
			e.At(lookup(d.hardwareN, "rv_drive"), "rv_drive drives the circulation's chamber %s; this rig's circulation has none", sim.NodeRV)
		}
		if h.Pulmonary != nil && (nw == nil || !slices.ContainsFunc(nw.Links, func(l sim.LinkSpec) bool { return l.Name == sim.LinkPulmonary && l.Kind != sim.Pump })) {
			e.At(lookup(d.hardwareN, "pulmonary_valve"), "pulmonary_valve sets the circulation's resistance %s; this rig's circulation has none", sim.LinkPulmonary)
		}
	}
	if r, ok := c.Params["loop.rv_contractility"]; ok && h.RVDrive != nil && h.RVDrive.FullScale > 0 && r.Max != nil && *r.Max > h.RVDrive.FullScale {
		e.At(d.paramNs["loop.rv_contractility"].Value, "loop.rv_contractility may reach %s but the RV drive's full scale is %s",
			units.Format(*r.Max, units.Percent), units.Format(h.RVDrive.FullScale, units.Percent))
	}
	if r, ok := c.Params["loop.pulmonary_resistance"]; ok && h.Pulmonary != nil && h.Pulmonary.ROpen > 0 && h.Pulmonary.MaxDuty < 1 {
		v := pumpctl.ResistanceValve{ROpen: h.Pulmonary.ROpen, MaxDuty: h.Pulmonary.MaxDuty}
		lo, hi := v.ROpen, v.Resistance(v.MaxDuty)
		if r.Min == nil || *r.Min < lo || r.Max == nil || *r.Max > hi {
			e.At(d.paramNs["loop.pulmonary_resistance"].Value, "loop.pulmonary_resistance needs a min and max within the pulmonary valve's %s to %s",
				units.Format(lo, units.Resistance), units.Format(hi, units.Resistance))
		}
	}
}

// claim is one part's hold on a GPIO line or an I²C address, and where the
// config gives it.
type claim struct {
	what, key string
	at        *strictyaml.Node
}

// checkClaims refuses two parts on one GPIO line or one I²C address: on the
// bench the second fights the first (a switch driving the e-stop's input,
// the DAC answering as the PWM), and the buses would refuse them only when
// a run opens them.
func (c *Config) checkClaims(e *strictyaml.Errors, n *strictyaml.Node) {
	h := &c.Hardware
	pins := []claim{{"the ADC's drdy", h.DRDY, lookup(n, "adc", "drdy")}, {"the estop", h.EStop, lookup(n, "estop")}}
	for _, s := range h.Switches {
		pins = append(pins, claim{"switch " + s.Name, s.Pin, lookup(n, "switches", s.Name, "pin")})
	}
	hex := func(a uint16) string { return fmt.Sprintf("%#x", a) }
	var addrs []claim
	for _, d := range []struct {
		key string
		d   *PumpDrive
	}{{"lv_drive", &h.LVDrive}, {"rv_drive", h.RVDrive}, {"inlet_drive", h.InletDrive}, {"outlet_drive", h.OutletDrive}} {
		if d.d != nil && lookup(n, d.key) != nil {
			addrs = append(addrs, claim{d.key, hex(d.d.Address), lookup(n, d.key, "address")})
		}
	}
	if lookup(n, "pwm") != nil {
		addrs = append(addrs, claim{"pwm", hex(h.PWM.Address), lookup(n, "pwm", "address")})
	}
	// The valves on the PCA9685's channels: one valve per channel. The
	// resistance valve's counts only where the config gives it (it is
	// required: a missing one is reported already).
	var pwmChannels []claim
	valve := func(key string, ch int) {
		if lookup(n, key) != nil {
			pwmChannels = append(pwmChannels, claim{key, strconv.Itoa(ch), lookup(n, key, "channel")})
		}
	}
	valve("resistance_valve", h.Valve.Channel)
	if h.Pulmonary != nil {
		valve("pulmonary_valve", h.Pulmonary.Channel)
	}
	if h.Preload != nil {
		valve("preload_valve", h.Preload.Channel)
	}
	switch {
	case h.SlowADC != nil:
		addrs = append(addrs, claim{"slow_adc", hex(h.SlowADC.Address), lookup(n, "slow_adc", "address")})
	case c.Backend == "sim": // the simulated bench has its ADS1115 whether used or not
		addrs = append(addrs, claim{"the simulated bench's ADS1115", "0x48", n})
	}
	distinct(e, n, "GPIO", pins)
	distinct(e, n, "I²C address", addrs)
	distinct(e, n, "PWM channel", pwmChannels)
	if c.Backend != "sim" {
		return
	}
	for _, s := range h.Switches {
		if !slices.Contains(sim.SwitchKinds, s.Name) {
			e.At(lookup(n, "switches", s.Name), "switch %s: the simulated bench switches only %s", s.Name, strings.Join(sim.SwitchKinds, ", "))
		}
	}
}

// distinct reports each claim whose key an earlier one holds, at its place
// (or the section's, for a part placed by default).
func distinct(e *strictyaml.Errors, section *strictyaml.Node, kind string, claims []claim) {
	for i, c := range claims {
		for _, o := range claims[:i] {
			if c.key != "" && c.key == o.key {
				at := c.at
				if at == nil {
					at = section
				}
				e.At(at, "%s is on %s %s, already %s's", c.what, kind, c.key, o.what)
				break
			}
		}
	}
}

// lookup finds the value at a path of mapping keys below n, or nil.
func lookup(n *strictyaml.Node, keys ...string) *strictyaml.Node {
	for _, k := range keys {
		if n == nil || !strictyaml.IsMapping(n) {
			return nil
		}
		var next *strictyaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// adc decodes hardware.adc: the ADS131M08 of the pressures and flows.
func (h *Hardware) adc(e *strictyaml.Errors, n *strictyaml.Node) {
	fields, _ := e.Mapping(n, "adc (ADS131M08)", []string{"spi", "drdy", "gain", "clkin"})
	for _, f := range fields {
		switch f.Key {
		case "spi":
			h.SPI, _ = e.Scalar(f.Value, "adc spi")
		case "drdy":
			h.DRDY, _ = e.Scalar(f.Value, "adc drdy")
		case "gain":
			g, ok := integer(e, f.Value, "adc gain", 1, 128)
			if ok && g&(g-1) != 0 {
				e.At(f.Value, "adc gain must be 1, 2, 4, 8, 16, 32, 64 or 128")
			}
			h.ADCGain = g
		case "clkin":
			if v, ok := quantity(e, f.Value, units.Frequency, "adc clkin"); ok {
				if v < 300e3 || v > 8.4e6 {
					e.At(f.Value, "the ADS131M08's CLKIN runs from 300 kHz to 8400 kHz")
				}
				h.ADCClockIn = v
			}
		}
	}
	if h.SPI == "" || h.DRDY == "" {
		e.At(n, "adc needs spi and drdy")
	}
}

// slowADC decodes hardware.slow_adc: the ADS1115 of the slow channels.
func (h *Hardware) slowADC(e *strictyaml.Errors, n *strictyaml.Node) {
	s := &SlowADC{Address: 0x48, DataRate: 860}
	fields, _ := e.Mapping(n, "slow_adc (ADS1115)", []string{"address", "data_rate"})
	for _, f := range fields {
		switch f.Key {
		case "address":
			s.Address, _ = address(e, f.Value, 0x48, 0x4b)
		case "data_rate":
			if v, ok := quantity(e, f.Value, units.Frequency, "slow_adc data_rate"); ok {
				if !validADS1115Rate(v) {
					e.At(f.Value, "the ADS1115 converts at 8, 16, 32, 64, 128, 250, 475 or 860 SPS")
				}
				s.DataRate = v
			}
		}
	}
	h.SlowADC = s
}

// pumpDrive decodes hardware.lv_drive or rv_drive: the MCP4725 of a
// piston pump, full_scale in dim (PumpDrive), at address addr unless the
// config says.
func pumpDrive(e *strictyaml.Errors, n *strictyaml.Node, key string, dim units.Dimension, addr uint16) *PumpDrive {
	d := &PumpDrive{Address: addr}
	fields, _ := e.Mapping(n, key+" (MCP4725)", []string{"address", "vref", "full_scale"})
	for _, f := range fields {
		switch f.Key {
		case "address":
			if a, ok := address(e, f.Value, 0x60, 0x67); ok { // else the default: no second error, a clash
				d.Address = a
			}
		case "vref":
			d.Vref, _ = quantity(e, f.Value, units.Voltage, key+" vref")
		case "full_scale":
			d.FullScale, _ = quantity(e, f.Value, dim, key+" full_scale")
		}
	}
	if d.Vref <= 0 || d.FullScale <= 0 {
		e.At(n, "%s needs a positive vref and full_scale", key)
	}
	return d
}

// pwm decodes hardware.pwm: the PCA9685 of the valves.
func (h *Hardware) pwm(e *strictyaml.Errors, n *strictyaml.Node) {
	p := &h.PWM
	p.Address, p.Frequency = 0x40, 200
	fields, _ := e.Mapping(n, "pwm (PCA9685)", []string{"address", "frequency"})
	for _, f := range fields {
		switch f.Key {
		case "address":
			p.Address, _ = address(e, f.Value, 0x40, 0x77) // 0x78 up are reserved on I²C
		case "frequency":
			if v, ok := quantity(e, f.Value, units.Frequency, "pwm frequency"); ok {
				if v < 24 || v > 1526 {
					e.At(f.Value, "the PCA9685 runs from 24 Hz to 1526 Hz")
				}
				p.Frequency = v
			}
		}
	}
}

// resistanceValve decodes hardware.resistance_valve or pulmonary_valve: a
// pinch valve setting a line's resistance.
func resistanceValve(e *strictyaml.Errors, n *strictyaml.Node, key string) *Valve {
	v := &Valve{MaxDuty: 0.9}
	fields, _ := e.Mapping(n, key, []string{"channel", "open", "max_duty", "safe_duty"})
	for _, f := range fields {
		switch f.Key {
		case "channel":
			v.Channel, _ = integer(e, f.Value, key+" channel", 0, 15)
		case "open":
			v.ROpen, _ = quantity(e, f.Value, units.Resistance, key+" open")
		case "max_duty":
			v.MaxDuty, _ = fraction(e, f.Value, "max_duty")
		case "safe_duty":
			v.SafeDuty, _ = fraction(e, f.Value, "safe_duty")
		}
	}
	if v.ROpen <= 0 || v.MaxDuty <= 0 || v.MaxDuty >= 1 || v.SafeDuty > v.MaxDuty {
		e.At(n, "%s needs open > 0, 0 %% < max_duty < 100 %% and safe_duty ≤ max_duty", key)
	}
	return v
}

// preloadValve decodes hardware.preload_valve: the venous reservoir's valve.
func (h *Hardware) preloadValve(e *strictyaml.Errors, n *strictyaml.Node) {
	v := &PreloadValve{}
	fields, _ := e.Mapping(n, "preload_valve", []string{"channel", "head", "safe_duty"})
	for _, f := range fields {
		switch f.Key {
		case "channel":
			v.Channel, _ = integer(e, f.Value, "preload_valve channel", 0, 15)
		case "head":
			v.Head, _ = quantity(e, f.Value, units.Pressure, "preload_valve head")
		case "safe_duty":
			v.SafeDuty, _ = fraction(e, f.Value, "safe_duty")
		}
	}
	if !(v.Head > 0) {
		e.At(n, "preload_valve needs the reservoir's head at 100 %% duty, head > 0")
	}
	h.Preload = v
}

// switches decodes hardware.switches: the on/off outputs and their safe states.
func (h *Hardware) switches(e *strictyaml.Errors, n *strictyaml.Node) {
	sw, _ := e.Mapping(n, "switches", nil)
	for _, s := range sw {
		if err := checkName("switch", s.Key); err != nil {
			e.At(s.KeyN, "%v", err)
			continue
		}
		x := Switch{Name: s.Key}
		fields, _ := e.Mapping(s.Value, "switch "+s.Key, []string{"pin", "safe"})
		for _, f := range fields {
			switch f.Key {
			case "pin":
				x.Pin, _ = e.Scalar(f.Value, "pin")
			case "safe":
				if w, ok := e.Scalar(f.Value, "safe"); ok {
					if w != "on" && w != "off" {
						e.At(f.Value, "safe must be on or off")
					}
					x.Safe = w == "on"
				}
			}
		}
		if x.Pin == "" {
			e.At(s.Value, "switch %s needs a pin", s.Key)
		}
		h.Switches = append(h.Switches, x)
	}
}

// watchdog decodes hardware.watchdog: the computer's hardware watchdog,
// armed during a run (watchdog.go).
func (h *Hardware) watchdog(e *strictyaml.Errors, n *strictyaml.Node) {
	w := &Watchdog{Timeout: 15 * time.Second}
	fields, _ := e.Mapping(n, "watchdog", []string{"device", "timeout"})
	for _, f := range fields {
		switch f.Key {
		case "device":
			w.Device, _ = e.Scalar(f.Value, "watchdog device")
		case "timeout":
			if v, ok := quantity(e, f.Value, units.Time, "watchdog timeout"); ok {
				if v < 1 || v > 15 {
					e.At(f.Value, "the bcm2835 watchdog times out after 1 s to 15 s")
				}
				w.Timeout = time.Duration(v * float64(time.Second))
			}
		}
	}
	if w.Device == "" {
		e.At(n, "watchdog needs its device, e.g. /dev/watchdog")
	}
	h.Watchdog = w
}

// address decodes a chip's I²C address in lo..hi; lo and false if it is
// not one.
func address(e *strictyaml.Errors, n *strictyaml.Node, lo, hi uint16) (uint16, bool) {
	s, ok := e.Scalar(n, "address")
	if !ok {
		return lo, false
	}
	v, err := strconv.ParseUint(s, 0, 16)
	if err != nil || v < uint64(lo) || v > uint64(hi) {
		e.At(n, "address %s is not a valid address for this chip (%#x to %#x)", s, lo, hi)
		return lo, false
	}
	return uint16(v), true
}

func validADS1115Rate(v float64) bool {
	for _, r := range []float64{8, 16, 32, 64, 128, 250, 475, 860} {
		if v == r {
			return true
		}
	}
	return false
}
