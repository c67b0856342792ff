package rig

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/daq/ads131m08"
	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/influx"
	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/sim"
	"github.com/mockloop/mockloop/units"
	"periph.io/x/conn/v3/physic"
)

// Config is a rig configuration file (configs/rigs/*.yaml): what the rig is,
// which parts it is built of and on which buses, which channels it measures
// and how they are calibrated, what protocols may set and within which range,
// its hard limits, presets and safe state.
type Config struct {
	File   string
	Source []byte
	SHA256 string

	Name    string
	Backend string // "sim" (emulated chips) or "hardware" (periph host drivers)
	// Mode is ModeNumerical (the bench is the patient) or ModeHybrid (the
	// patient is the controller's model, Hybrid the bench around the
	// device).
	Mode       string
	Hybrid     *HybridConfig
	SampleRate float64 // Hz, per channel
	Hardware   Hardware
	Channels   daq.Layout
	// Inputs says where each channel comes from, by channel name.
	Inputs map[string]ChannelInput
	// Limits are the hard limits the safety supervisor enforces on every
	// frame; a protocol may only tighten them.
	Limits map[string]protocols.Range
	// Debounce is how many consecutive frames must break a hard limit
	// before the supervisor trips, so a single noisy sample does not abort
	// a day-long run, while a real excursion stops it within milliseconds.
	Debounce int
	// Params are the parameters protocols may set, with their ranges.
	Params map[string]protocols.Range
	// Control are the gains of the closed-loop targets, by target
	// parameter: the `control:` section over each kind's defaults.
	Control map[string]pumpctl.Gains
	// Presets are named sets of setpoints (loop.preset), in file order.
	Presets     map[string][]protocols.Setpoint
	PresetNames []string
	// Initial is the preset applied before the first step.
	Initial string
	// CalibrationFile holds the calibration records (zero, calibrate); a
	// path relative to the config's directory. Empty: nominal only.
	CalibrationFile string
	// DUT is the device under test on its serial link; nil: none.
	DUT *DUTConfig
	// BeatChannels are the pressure channels beats are detected on; the
	// first one times the beats over which flows are integrated into
	// stroke volumes.
	BeatChannels []string
	// CycleChannel is the beat channel that times the phases of a beat
	// (end_diastolic, end_systolic, dp_dt_max, dp_dt_min) on channels
	// beats are not detected on: the ventricle's pressure, whose foot and
	// knee are the ends of filling and of ejection (an artery's knee lies
	// inside ejection). Default: the first beat channel.
	CycleChannel string
	// FS, when set, is where the config was read from (the configs built
	// into the binary); the calibration file is read from it too.
	FS     fs.FS
	Sim    SimConfig
	Influx InfluxConfig
	// Realtime is how the sampling loop asks for real time on the wall
	// clock (hardware, --realtime): DESIGN.md decision 7.
	Realtime RealtimeConfig
	// Keys are the channels a run shows first (key_channels).
	Keys KeyChannels
}

// RealtimeConfig is the `realtime:` section of a rig config.
type RealtimeConfig struct {
	// Priority is the loop thread's SCHED_FIFO priority, 1 to 99; 0 keeps
	// normal scheduling.
	Priority int
	// LockMemory locks the process's pages in RAM (mlockall), so that no
	// page fault waits for the SD card under the loop.
	LockMemory bool
}

// Hardware is the bench's parts (DESIGN.md, reference hardware). The sim
// backend emulates exactly these chips, on emulated buses, so the same
// drivers run in simulation and on the Pi.
type Hardware struct {
	SPI     string // periph SPI port name of the ADS131M08, e.g. "SPI0.0"
	DRDY    string // GPIO of its data-ready line
	ADCGain int    // PGA gain of every ADS131M08 channel
	// ADCClockIn is the ADS131M08's CLKIN in Hz: 8.192 MHz gives 1, 2, 4, 8
	// kSPS; 10 kSPS needs 5.12 MHz (OSR 256).
	ADCClockIn float64
	I2C        string // periph I²C bus name of the slow ADC, DAC and PWM chips
	SlowADC    *SlowADC
	LVDrive    PumpDrive
	RVDrive    *PumpDrive // nil: none; FullScale in percent
	// InletDrive and OutletDrive are a hybrid bench's chamber drives
	// (pumpctl.FlowDrive): MCP4725s whose FullScale, L/min, is the flow
	// at Vref into the chamber and its reverse at 0 V. Nil: none.
	InletDrive, OutletDrive *PumpDrive
	PWM                     PWM
	Valve                   Valve
	Pulmonary               *Valve        // the pulmonary_valve; nil: none
	Preload                 *PreloadValve // nil: none
	EStop                   string        // GPIO of the emergency-stop button (active low)
	Switches                []Switch
	// Watchdog is the computer's hardware watchdog, armed during a run;
	// nil: none.
	Watchdog *Watchdog
}

// SlowADC is the ADS1115 for slow channels.
type SlowADC struct {
	Address  uint16
	DataRate float64 // SPS
}

// PumpDrive is an MCP4725 DAC driving a piston pump: the LV's, FullScale
// mmHg/ml of active elastance at Vref, written every frame; or the RV's,
// FullScale percent of the LV drive's waveform. A right-heart bench beats
// both ventricles from one waveform, the RV's driver multiplying the LV
// drive's signal by its DAC's output, as the simulated patient's rv
// chamber takes its drive's share of the LV's active elastance
// (sim.NodeSpec.Drive): the ventricles contract in step, and the
// parameter, a percent, needs no unit the rv chamber does not have. Its
// DAC is written only when loop.rv_contractility changes.
type PumpDrive struct {
	Address         uint16
	Vref, FullScale float64
}

// PWM is the PCA9685 driving the proportional valves.
type PWM struct {
	Address   uint16
	Frequency float64 // Hz
}

// Valve is a resistance pinch valve on a PWM channel: the systemic one
// (resistance_valve) or the pulmonary one (pulmonary_valve).
type Valve struct {
	Channel           int
	ROpen             float64 // mmHg·s/ml, fully open
	MaxDuty, SafeDuty float64 // fractions
}

// PreloadValve is the proportional valve on a PWM channel that sets the
// head of the venous reservoir feeding the left atrium: Head·duty, the
// line shut at 0 % (pumpctl.PreloadValve). loop.preload holds the mean
// atrial pressure with it.
type PreloadValve struct {
	Channel  int
	Head     float64 // mmHg, at 100 % duty
	SafeDuty float64 // fraction; 0 shuts the line, keeping the loop's volume
}

// Switch is a GPIO output (solenoid valve, heater relay) and its safe level.
type Switch struct {
	Name, Pin string
	Safe      bool
}

// ChannelInput says where a channel's values come from.
type ChannelInput struct {
	// Kind is "adc" (ADS131M08 input), "slow_adc" (ADS1115 input), "sim"
	// (a simulation-only truth signal, such as lv_volume, that no bench
	// sensor measures; refused on hardware), "dut" (the DUT's telemetry)
	// or "flag" (bit Index of channel Signal, a flags channel).
	Kind    string
	Index   int
	Signal  string // for Kinds "sim" and "dut"; the parent channel for "flag"
	Nominal daq.Calibration
	// NominalPoints are the points the nominal calibration was made from.
	NominalPoints []daq.Point
	// Tolerance is how far a calibration record may read from the nominal
	// calibration, as a fraction of the nominal's span (`tolerance:`,
	// default 10 %): further, the record is of another sensor, a mistake
	// or a forgery, and is refused.
	Tolerance float64
}

// defaultTolerance is a measured channel's tolerance when its config
// declares none: a sensor within its datasheet's spread and a zero drift
// stay well inside it; a swapped sensor or a wrong range does not.
const defaultTolerance = 0.1

// SimConfig parameterises the simulated bench.
type SimConfig struct {
	// Emin is the passive (diastolic) elastance of the simulated ventricle.
	Emin float64
	// Transducers are the simulated sensors' deviations from their nominal
	// calibration, in the channel's unit: a constant offset (what zeroing
	// removes) and white noise (RMS).
	Transducers map[string]Transducer
	// Circulation is the simulated patient as a network (`circulation:`);
	// nil: Simaan's left heart (sim.SimaanNormal). Its pump link, if any,
	// has no constants: they are the DUT's.
	Circulation *sim.NetworkSpec
	// PreloadLine is the resistance of the venous reservoir's line into
	// the left atrium, mmHg·s/ml: with the loop's compliance behind the
	// atrium (about 30 ml/mmHg) it sets how fast the atrial pressure
	// follows the preload valve's head.
	PreloadLine float64
	// Chambers is a hybrid bench's hydraulics as built (`sim: chambers:`):
	// the chambers' true compliances and the drives' true response, which
	// the hybrid section's commissioning figures may miss. Zero: as the
	// hybrid section says.
	Chambers SimChambers
}

// SimChambers is the simulated hybrid bench's `sim: chambers:`.
type SimChambers struct {
	Inlet, Outlet float64 // ml/mmHg
	DriveResponse time.Duration
}

// Transducer is a simulated sensor's imperfection.
type Transducer struct {
	Offset, Noise float64
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
	info := protocols.RigInfo{Name: c.Name, Channels: ch, Params: c.Params, Presets: c.PresetNames, Limits: c.Limits, BeatChannels: c.BeatChannels}
	if ref := dutProfileRef(c); ref != nil {
		info.DUT = ref.Name
	}
	return info
}

// CalibrationPath is the calibration record file, or "".
func (c *Config) CalibrationPath() string {
	if c.CalibrationFile == "" || filepath.IsAbs(c.CalibrationFile) {
		return c.CalibrationFile
	}
	return filepath.Join(c.dir(), c.CalibrationFile)
}

// embeddedSuffix marks a config read from the binary (see cmd/mockloop).
const embeddedSuffix = " (embedded)"

// LoadConfig reads and checks a rig config file (a regular file of at most
// strictyaml.MaxSize bytes).
func LoadConfig(file string) (*Config, error) {
	data, err := strictyaml.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("rig: %w", err)
	}
	return ParseConfig(file, data)
}

// configSection decodes one top-level key of a rig config.
type configSection struct {
	key    string
	decode func(d *configDoc, n *strictyaml.Node)
}

// configSections are the rig config's top-level keys in the order they are
// decoded, which is the order of what they refer to: limits, transducers,
// beats and key channels name channels; presets must respect the ranges
// of the parameters and the DUT; the initial preset must be one of them.
// A new section is one entry here (and its field in Config).
var configSections = []configSection{
	{"channels", func(d *configDoc, n *strictyaml.Node) { d.c.channels(d.e, n) }},
	{"rig", func(d *configDoc, n *strictyaml.Node) {
		if s, ok := d.e.Scalar(n, "rig"); ok {
			if err := checkName("rig", s); err != nil {
				d.e.At(n, "%v", err)
			}
			d.c.Name = s
		}
	}},
	{"backend", (*configDoc).backend},
	{"mode", (*configDoc).mode},
	{"sample_rate", (*configDoc).sampleRate},
	{"hardware", func(d *configDoc, n *strictyaml.Node) { d.hardwareN = n; d.c.hardware(d.e, n) }},
	{"dut", func(d *configDoc, n *strictyaml.Node) { d.c.dut(d.e, n) }},
	{"limits", func(d *configDoc, n *strictyaml.Node) { d.c.limits(d.e, n) }},
	{"debounce", func(d *configDoc, n *strictyaml.Node) {
		if v, ok := integer(d.e, n, "debounce", 1, 1000); ok {
			d.c.Debounce = v
		}
	}},
	{"parameters", func(d *configDoc, n *strictyaml.Node) { d.paramNs = d.c.params(d.e, n, field(d.kvs, "dut")) }},
	{"control", func(d *configDoc, n *strictyaml.Node) { d.c.control(d.e, n) }},
	{"beats", (*configDoc).beats},
	{"cycle", (*configDoc).cycle},
	{"key_channels", (*configDoc).keyChannels},
	{"calibration", func(d *configDoc, n *strictyaml.Node) { d.c.CalibrationFile, _ = d.e.Scalar(n, "calibration") }},
	{"sim", func(d *configDoc, n *strictyaml.Node) { d.c.sim(d.e, n) }},
	{"circulation", (*configDoc).circulation},
	{"hybrid", (*configDoc).hybrid},
	{"presets", func(d *configDoc, n *strictyaml.Node) { d.c.presets(d.e, n) }},
	{"initial", (*configDoc).initial},
	{"realtime", (*configDoc).realtime},
	{"influx", (*configDoc).influx},
}

// requiredKeys are the sections every rig config has.
var requiredKeys = []string{"rig", "backend", "sample_rate", "hardware", "channels"}

// configDoc is a rig config being decoded: the config, its errors, its
// top-level keys, and what one section keeps for the checks across them.
type configDoc struct {
	c         *Config
	e         *strictyaml.Errors
	root      *strictyaml.Node
	kvs       []strictyaml.KV
	hardwareN *strictyaml.Node
	paramNs   map[string]strictyaml.KV
}

// ParseConfig checks a rig config and reports every mistake with its position.
func ParseConfig(file string, data []byte) (*Config, error) {
	root, err := strictyaml.Parse(file, data)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	c := &Config{File: file, Source: data, SHA256: hex.EncodeToString(sum[:]),
		Mode: ModeNumerical, Inputs: map[string]ChannelInput{}, Limits: map[string]protocols.Range{}, Params: map[string]protocols.Range{},
		Presets: map[string][]protocols.Setpoint{}, Debounce: 3, Control: defaultGains(),
		Sim:      SimConfig{Emin: 0.06, Transducers: map[string]Transducer{}, PreloadLine: 0.2},
		Realtime: RealtimeConfig{Priority: clock.DefaultPriority, LockMemory: true}}
	e := &strictyaml.Errors{File: file}
	keys := make([]string, len(configSections))
	for i, s := range configSections {
		keys[i] = s.key
	}
	kvs, ok := e.Mapping(root, "rig config", keys)
	if !ok {
		return nil, e.List.Err()
	}
	d := &configDoc{c: c, e: e, root: root, kvs: kvs}
	for _, s := range configSections {
		if n := field(kvs, s.key); n != nil {
			s.decode(d, n)
		}
	}
	for _, k := range requiredKeys {
		if field(kvs, k) == nil {
			e.At(root, "missing required key %q", k)
		}
	}
	d.crossChecks()
	if err := e.List.Err(); err != nil {
		return nil, err
	}
	c.defaultKeyChannels()
	return c, nil
}

// crossChecks are the checks that span sections.
func (d *configDoc) crossChecks() {
	c, e := d.c, d.e
	if c.DUT != nil && c.DUT.placementN != nil && c.Sim.Circulation != nil {
		e.At(c.DUT.placementN, "dut placement is a hardware bench's; this rig's circulation places the DUT by its pump link")
	}
	if c.DUT != nil && c.DUT.Profile != nil {
		if why := c.fitsPlacement(c.DUT.Profile); why != "" {
			at := c.DUT.profileN
			if at == nil { // the default profile
				at = field(d.kvs, "dut")
			}
			e.At(at, "dut profile: %s", why)
		}
	}
	for name, in := range c.Inputs {
		if in.Kind == "dut" && c.DUT == nil {
			e.At(d.root, "channel %s comes from the DUT, but the rig has no dut section", name)
		}
	}
	for name, in := range c.Inputs {
		if in.Kind == "sim" && c.Backend == "hardware" {
			e.At(d.root, "channel %s is a simulation-only signal; a hardware rig cannot measure it", name)
		}
	}
	c.checkParams(e, d.root, d.hardwareN, d.paramNs)
	d.checkDUTSpeeds()
	d.checkRightHeart()
	d.checkADCClock()
	d.checkSimInputs()
	d.checkHybrid()
}

// checkADCClock refuses a sample rate the ADS131M08 cannot make from its
// CLKIN (it divides CLKIN/2 by a fixed set of oversampling ratios), and a
// CLKIN too fast for its gain: the driver would refuse both at run.
func (d *configDoc) checkADCClock() {
	h, rateN := d.c.Hardware, field(d.kvs, "sample_rate")
	if d.hardwareN == nil || rateN == nil || d.c.SampleRate < 100 || d.c.SampleRate > 10000 { // else sampleRate said so
		return
	}
	err := ads131m08.CheckClock(physic.Frequency(h.ADCClockIn*float64(physic.Hertz)), d.c.SampleRate, h.ADCGain)
	if err == nil {
		return
	}
	if n := lookup(d.hardwareN, "adc", "clkin"); n != nil && strings.Contains(err.Error(), "outside") {
		d.e.At(n, "adc clkin: %v", err)
		return
	}
	d.e.At(rateN, "sample_rate %s: %v", units.Format(d.c.SampleRate, units.Frequency), err)
}

// checkSimInputs checks what the sim backend builds its transducers from:
// a measured channel is the bench's signal of the same name, and its
// nominal calibration a straight line (a sensitivity and an offset).
func (d *configDoc) checkSimInputs() {
	chN := field(d.kvs, "channels")
	if d.c.Backend != "sim" || chN == nil {
		return
	}
	for _, ch := range d.c.Channels {
		in := d.c.Inputs[ch.Name]
		if in.Kind != "adc" && in.Kind != "slow_adc" {
			continue
		}
		sig := ch.Name
		if h := d.c.Hybrid; h != nil && (ch.Name == h.Inlet.Channel || ch.Name == h.Outlet.Channel) {
			sig = benchSignal(ch.Name)
		}
		if !slices.Contains(sim.Signals, sig) {
			d.e.At(lookup(chN, ch.Name), "channel %s: the simulated bench measures only %s (a hybrid bench's chambers as bench.SIGNAL)", ch.Name, strings.Join(sim.Signals, ", "))
		} else if len(in.NominalPoints) != 2 {
			d.e.At(lookup(chN, ch.Name, "nominal"), "channel %s: the simulated bench has linear transducers; give its nominal calibration 2 points", ch.Name)
		}
	}
}

func (d *configDoc) backend(n *strictyaml.Node) {
	if s, ok := d.e.Scalar(n, "backend"); ok {
		if s != "sim" && s != "hardware" {
			d.e.At(n, "backend %q is not sim or hardware", s)
		}
		d.c.Backend = s
	}
}

func (d *configDoc) sampleRate(n *strictyaml.Node) {
	if v, ok := quantity(d.e, n, units.Frequency, "sample_rate"); ok {
		if v < 100 || v > 10000 {
			d.e.At(n, "sample_rate must be from 100 Hz to 10 kHz")
		}
		d.c.SampleRate = v
	}
}

func (d *configDoc) beats(n *strictyaml.Node) {
	items, _ := d.e.Sequence(n, "beats")
	for _, it := range items {
		ch, ok := d.e.Scalar(it, "beat channel")
		if i := d.c.Channels.Index(ch); ok && (i < 0 || d.c.Channels[i].Dim != units.Pressure) {
			d.e.At(it, "beats are detected on pressure channels; %q is not one", ch)
			continue
		}
		d.c.BeatChannels = append(d.c.BeatChannels, ch)
	}
}

// cycleChannel is CycleChannel, or its default.
func (c *Config) cycleChannel() string {
	if c.CycleChannel == "" && len(c.BeatChannels) > 0 {
		return c.BeatChannels[0]
	}
	return c.CycleChannel
}

func (d *configDoc) cycle(n *strictyaml.Node) {
	ch, ok := d.e.Scalar(n, "cycle")
	if ok && !slices.Contains(d.c.BeatChannels, ch) {
		d.e.At(n, "cycle must be one of the beat channels (%s), not %q", strings.Join(d.c.BeatChannels, ", "), ch)
		return
	}
	d.c.CycleChannel = ch
}

func (d *configDoc) initial(n *strictyaml.Node) {
	d.c.Initial, _ = d.e.Scalar(n, "initial")
	if d.c.Initial != "" && d.c.Presets[d.c.Initial] == nil {
		d.e.At(n, "initial preset %q is not defined%s", d.c.Initial, strictyaml.Suggest(d.c.Initial, d.c.PresetNames))
	}
}

func (d *configDoc) realtime(n *strictyaml.Node) {
	fields, _ := d.e.Mapping(n, "realtime", []string{"priority", "lock_memory"})
	for _, f := range fields {
		switch f.Key {
		case "priority":
			if v, ok := integer(d.e, f.Value, "realtime priority", 0, 99); ok {
				d.c.Realtime.Priority = v
			}
		case "lock_memory":
			if s, ok := d.e.Scalar(f.Value, "lock_memory"); ok {
				b, err := strconv.ParseBool(s)
				if err != nil {
					d.e.At(f.Value, "lock_memory must be true or false, not %q", s)
				}
				d.c.Realtime.LockMemory = b
			}
		}
	}
}

func (d *configDoc) influx(n *strictyaml.Node) {
	fields, _ := d.e.Mapping(n, "influx", []string{"url", "org", "bucket"})
	for _, f := range fields {
		s, _ := d.e.Scalar(f.Value, f.Key)
		switch f.Key {
		case "url":
			if err := influx.CheckURL(s); err != nil {
				d.e.At(f.Value, "%v", err)
			}
			d.c.Influx.URL = s
		case "org":
			d.c.Influx.Org = s
		case "bucket":
			d.c.Influx.Bucket = s
		}
	}
}

// KeyChannels are the channels a run shows first, declared in the rig
// config's key_channels section: on the progress line, in the per-step
// table of the run's summary, and the beat channel of the bench view.
type KeyChannels struct {
	Progress []string
	Summary  []string
	// Beat is the channel whose beats the bench view shows: the rig's
	// first beat channel.
	Beat string
}

// defaultKeys are the key channels of a rig config without a key_channels
// section, as far as the rig has them.
var defaultKeys = KeyChannels{
	Progress: []string{"aop", "lvp", "flow_ao", "flow_dut", "dut.rpm"},
	Summary:  []string{"aop", "lvp", "lap", "flow_ao", "flow_dut"},
}

func (d *configDoc) keyChannels(n *strictyaml.Node) {
	fields, _ := d.e.Mapping(n, "key_channels", []string{"progress", "summary"})
	for _, f := range fields {
		items, _ := d.e.Sequence(f.Value, f.Key)
		list := []string{} // declared, even if empty
		for _, it := range items {
			ch, ok := d.e.Scalar(it, "channel")
			if !ok {
				continue
			}
			if d.c.Channels.Index(ch) < 0 {
				d.e.At(it, "key channel %q is not a channel of the rig%s", ch, strictyaml.Suggest(ch, d.c.Channels.Names()))
				continue
			}
			list = append(list, ch)
		}
		if f.Key == "progress" {
			d.c.Keys.Progress = list
		} else {
			d.c.Keys.Summary = list
		}
	}
}

// defaultKeyChannels fills what key_channels did not declare.
func (c *Config) defaultKeyChannels() {
	present := func(names []string) []string {
		var out []string
		for _, k := range names {
			if c.Channels.Index(k) >= 0 {
				out = append(out, k)
			}
		}
		return out
	}
	if c.Keys.Progress == nil {
		c.Keys.Progress = present(defaultKeys.Progress)
	}
	if c.Keys.Summary == nil {
		c.Keys.Summary = present(defaultKeys.Summary)
	}
	if len(c.BeatChannels) > 0 {
		c.Keys.Beat = c.BeatChannels[0]
	}
}

// checkParams checks the parameters against the rest of the config: their
// ranges against the hardware, and each parameter's actuation against what
// it needs. It adds the word parameters the presets and the DUT support.
func (c *Config) checkParams(e *strictyaml.Errors, root, hardwareN *strictyaml.Node, paramNs map[string]strictyaml.KV) {
	if r, ok := c.Params["loop.contractility"]; ok && r.Max != nil && hardwareN != nil && c.Hardware.LVDrive.FullScale > 0 &&
		*r.Max-c.Sim.Emin > c.Hardware.LVDrive.FullScale {
		e.At(hardwareN, "loop.contractility may reach %s but the LV drive's full scale is %s of active elastance",
			units.Format(*r.Max, units.Elastance), units.Format(c.Hardware.LVDrive.FullScale, units.Elastance))
	}
	if r, ok := c.Params["loop.preload"]; ok && c.preloadHead() > 0 {
		head := c.preloadHead()
		switch {
		case r.Min != nil && *r.Min < 0:
			e.At(paramNs["loop.preload"].Value, "loop.preload may go down to %s, below the reservoir's lowest head, 0 mmHg", units.Format(*r.Min, units.Pressure))
		case r.Max == nil || *r.Max > head:
			what := "the preload valve's head"
			if c.Hardware.Preload == nil {
				what = "the model's reservoir head (hybrid preload)"
			}
			e.At(paramNs["loop.preload"].Value, "loop.preload needs a max no higher than %s, %s", what, units.Format(head, units.Pressure))
		}
	}
	for _, p := range protocols.ParamTable {
		switch {
		case p.Range == protocols.RangePresets && len(c.PresetNames) > 0,
			p.Range == protocols.RangeDUT && c.DUT != nil:
			c.Params[p.Name] = protocols.Range{}
		}
	}
	// Closed-loop targets need what they measure and what they drive; the
	// thermostat its heater and thermometer.
	for _, p := range protocols.ParamTable {
		a := actuations[p.Actuation]
		if _, ok := c.Params[p.Name]; !ok || a.has == nil || a.has(c) {
			continue
		}
		at := root
		if kv, ok := paramNs[p.Name]; ok {
			at = kv.KeyN
		}
		e.At(at, "parameter %s needs %s", p.Name, a.needs)
	}
}

func field(kvs []strictyaml.KV, key string) *strictyaml.Node {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
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

func integer(e *strictyaml.Errors, n *strictyaml.Node, what string, lo, hi int) (int, bool) {
	s, ok := e.Scalar(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 0, 32)
	if err != nil || int(v) < lo || int(v) > hi {
		e.At(n, "%s must be a whole number from %d to %d, got %q", what, lo, hi, s)
		return 0, false
	}
	return int(v), true
}

// fraction reads a percentage into [0, 1].
func fraction(e *strictyaml.Errors, n *strictyaml.Node, what string) (float64, bool) {
	v, ok := quantity(e, n, units.Percent, what)
	if ok && (v < 0 || v > 100) {
		e.At(n, "%s must be from 0 %% to 100 %%", what)
		return 0, false
	}
	return v / 100, ok
}

// channel units: a channel is declared in the canonical unit of its dimension.
var channelDims = map[string]units.Dimension{}

func init() {
	for d := units.Pressure; d <= units.Power; d++ {
		channelDims[d.Unit()] = d
	}
}

// simSignals are the simulation-only truth signals a sim rig may expose.
var simSignals = []string{"lv_volume", "rv_volume"}

func (c *Config) channels(e *strictyaml.Errors, n *strictyaml.Node) {
	kvs, ok := e.Mapping(n, "channels", nil)
	if !ok {
		return
	}
	for _, kv := range kvs {
		if err := checkName("channel", kv.Key); err != nil {
			e.At(kv.KeyN, "%v", err)
			continue
		}
		fields, ok := e.Mapping(kv.Value, "channel "+kv.Key, []string{"unit", "adc", "slow_adc", "sim", "dut", "model", "tracking", "nominal", "tolerance", "flags"})
		if !ok {
			continue
		}
		var dim units.Dimension
		in := ChannelInput{Tolerance: defaultTolerance}
		var nominalN, flagsN *strictyaml.Node
		sources, unitGiven, flags := 0, false, false
		for _, f := range fields {
			switch f.Key {
			case "unit":
				unitGiven = true
				u, ok := e.Scalar(f.Value, "unit of channel "+kv.Key)
				if !ok {
					continue
				}
				if u == "flags" { // a bit mask, such as the DUT's alarms
					dim = units.None
					flags = true
				} else if dim, ok = channelDims[u]; !ok {
					names := make([]string, 0, len(channelDims))
					for k := range channelDims {
						names = append(names, k)
					}
					slices.Sort(names)
					e.At(f.Value, "channel %s: unit %q is not a canonical unit%s", kv.Key, u, strictyaml.Suggest(u, names))
				}
			case "adc", "slow_adc":
				sources++
				in.Kind = f.Key
				in.Index, _ = integer(e, f.Value, kv.Key+" "+f.Key+" input", 0, map[string]int{"adc": 7, "slow_adc": 3}[f.Key])
			case "sim", "dut": // a signal of the simulation or of the DUT's telemetry
				sources++
				in.Kind = f.Key
				signals := map[string][]string{"sim": simSignals, "dut": dutSignals}[f.Key]
				if s, ok := e.Scalar(f.Value, f.Key+" signal"); ok {
					if !slices.Contains(signals, s) {
						e.At(f.Value, "unknown %s signal %q%s", map[string]string{"sim": "sim", "dut": "DUT"}[f.Key], s, strictyaml.Suggest(s, signals))
					}
					in.Signal = s
				}
			case "model", "tracking": // a hybrid rig's model: checkHybrid checks the signal
				sources++
				in.Kind = f.Key
				in.Signal, _ = e.Scalar(f.Value, f.Key+" signal")
				if f.Key == "tracking" && !slices.Contains(trackingSignals, in.Signal) {
					e.At(f.Value, "unknown tracking signal %q (have %s)", in.Signal, strings.Join(trackingSignals, ", "))
				}
			case "nominal":
				nominalN = f.Value
			case "flags":
				flagsN = f.Value
			case "tolerance":
				if v, ok := fraction(e, f.Value, "tolerance"); ok {
					if v == 0 {
						e.At(f.Value, "tolerance must be above 0 %%")
					}
					in.Tolerance = v
				}
			}
		}
		if dim == units.None && !flags {
			if !unitGiven {
				e.At(kv.Value, "channel %s needs a unit", kv.Key)
			}
			continue
		}
		if sources != 1 {
			e.At(kv.Value, "channel %s needs exactly one input: adc, slow_adc, sim, dut, model or tracking", kv.Key)
			continue
		}
		if in.Kind == "tracking" && dim != units.Percent && dim != units.Pressure {
			e.At(kv.Value, "channel %s: a tracking error is in mmHg (RMS) or %% (of the beat's range)", kv.Key)
			continue
		}
		if want, ok := dutSignalDims[in.Signal]; in.Kind == "dut" && ok && want != dim {
			e.At(kv.Value, "channel %s: the DUT reports %s in %s", kv.Key, in.Signal, unitOrFlags(want))
			continue
		}
		if in.Kind == "adc" || in.Kind == "slow_adc" {
			if nominalN == nil {
				e.At(kv.Value, "channel %s needs a nominal calibration, e.g. nominal: [0 V = 0 %s, 1 V = 250 %s]", kv.Key, dim.Unit(), dim.Unit())
				continue
			}
			in.NominalPoints, in.Nominal = calibrationPoints(e, nominalN, dim, kv.Key)
		}
		for _, o := range c.Inputs {
			if o.Kind == in.Kind && (o.Kind == "adc" || o.Kind == "slow_adc") && o.Index == in.Index {
				e.At(kv.Value, "channel %s uses %s input %d, already used by another channel", kv.Key, in.Kind, in.Index)
			}
		}
		c.Channels = append(c.Channels, daq.Channel{Name: kv.Key, Dim: dim})
		c.Inputs[kv.Key] = in
		if flagsN != nil {
			c.flagChannels(e, kv.Key, flags, flagsN)
		}
	}
	if len(c.Channels) == 0 {
		e.At(n, "a rig needs at least one channel")
	}
}

// flagChannels reads a flags channel's `flags:` (language 1.1): each
// named bit becomes a 0/1 channel PARENT.NAME, set in a frame when the
// bit is set in the parent's value there (for dut.alarms, whenever the DUT
// raised it since the frame before).
func (c *Config) flagChannels(e *strictyaml.Errors, parent string, isFlags bool, n *strictyaml.Node) {
	if !isFlags {
		e.At(n, "channel %s: flags name the bits of a channel of unit flags", parent)
		return
	}
	kvs, ok := e.Mapping(n, "flags of channel "+parent, nil)
	if !ok {
		return
	}
	var seen int
	for _, kv := range kvs {
		name := parent + "." + kv.Key
		if err := checkName("flag", kv.Key); err != nil || strings.Contains(kv.Key, ".") {
			e.At(kv.KeyN, "flag %q: a name is a letter, then letters, digits or _", kv.Key)
			continue
		}
		mask, ok := integer(e, kv.Value, "flag "+kv.Key, 1, 1<<30)
		if !ok {
			continue
		}
		if mask&(mask-1) != 0 {
			e.At(kv.Value, "flag %s: %s is not one bit (0x01, 0x02, 0x04, …)", kv.Key, kv.Value.Value)
			continue
		}
		if seen&mask != 0 {
			e.At(kv.Value, "flag %s: bit %s is already another flag's", kv.Key, kv.Value.Value)
			continue
		}
		if in := c.Inputs[parent]; in.Kind == "dut" && in.Signal == "alarms" {
			// The DUT's alarm bits have their names (VADLINK.md, dut.AlarmKeys).
			if bit, err := dut.ParseAlarmKey(kv.Key); err != nil || int(bit) != mask {
				e.At(kv.KeyN, "flag %s: the DUT's alarm bit %s is %s (its bits: %s)", kv.Key, kv.Value.Value, alarmKeyOf(mask), strings.Join(dut.AlarmKeys(), ", "))
				continue
			}
		}
		seen |= mask
		c.Channels = append(c.Channels, daq.Channel{Name: name, Dim: units.None})
		c.Inputs[name] = ChannelInput{Kind: "flag", Signal: parent, Index: mask}
	}
}

// alarmKeyOf names the DUT's alarm bit mask, or says it has none.
func alarmKeyOf(mask int) string {
	for i, k := range dut.AlarmKeys() {
		if mask == 1<<i {
			return k
		}
	}
	return "no alarm of the DUT's"
}

// checkName refuses a rig or channel name that would break what carries it:
// a record's CSV and terminal lines, InfluxDB's line protocol (where "time"
// is no field), a report's table, the rig's lock. A name is a letter, then
// letters, digits, '_', '.' or '-'.
func checkName(what, name string) error {
	if what == "channel" && name == "time" {
		return fmt.Errorf("channel %q: InfluxDB refuses a field named time", name)
	}
	for i, r := range name {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')) {
			return fmt.Errorf("%s %q: a name is a letter, then letters, digits, _, . or -", what, name)
		}
	}
	if name == "" {
		return fmt.Errorf("%s needs a name", what)
	}
	return nil
}

// calibrationPoints reads ["0 V = 0 mmHg", "1 V = 250 mmHg", ...] and fits
// a polynomial of degree len-1 (at most 3).
func calibrationPoints(e *strictyaml.Errors, n *strictyaml.Node, dim units.Dimension, ch string) ([]daq.Point, daq.Calibration) {
	items, ok := e.Sequence(n, ch+" nominal")
	if !ok {
		return nil, daq.Calibration{}
	}
	var pts []daq.Point
	for _, it := range items {
		s, ok := e.Scalar(it, "calibration point")
		if !ok {
			continue
		}
		l, r, found := strings.Cut(s, "=")
		if !found {
			e.At(it, "calibration point %q must be VOLTS = VALUE, e.g. 1 V = 250 %s", s, dim.Unit())
			continue
		}
		v, err1 := units.ParseAs(strings.TrimSpace(l), units.Voltage)
		x, err2 := units.ParseAs(strings.TrimSpace(r), dim)
		if err := cmpErr(err1, err2); err != nil {
			e.At(it, "calibration point: %v", err)
			continue
		}
		pts = append(pts, daq.Point{Volts: v, Value: x})
	}
	if len(pts) < 2 || len(pts) > 4 {
		e.At(n, "%s nominal calibration needs 2 to 4 points", ch)
		return nil, daq.Calibration{}
	}
	cal, err := daq.Fit(pts, len(pts)-1)
	if err != nil {
		e.At(n, "%s nominal calibration: %v", ch, err)
	} else if flat(pts) {
		e.At(n, "%s nominal calibration is flat: every point reads %s", ch, units.Format(pts[0].Value, dim))
	}
	return pts, cal
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func unitOrFlags(d units.Dimension) string {
	if d == units.None {
		return "flags"
	}
	return d.Unit()
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

// rangeParams are the parameters a rig config's parameters: section may
// give a range, for suggestions.
func rangeParams() []string {
	var names []string
	for _, p := range protocols.ParamTable {
		if p.Range == protocols.RangeParameters {
			names = append(names, p.Name)
		}
	}
	return names
}

// params reads the parameters and their ranges; it returns the entry of
// each, for checks against the hardware.
func (c *Config) params(e *strictyaml.Errors, n, dutN *strictyaml.Node) map[string]strictyaml.KV {
	nodes := map[string]strictyaml.KV{}
	kvs, ok := e.Mapping(n, "parameters", nil)
	if !ok {
		return nodes
	}
	for _, kv := range kvs {
		p, known := protocols.Params[kv.Key]
		if !known || p.Range != protocols.RangeParameters {
			e.At(kv.KeyN, "parameter %q cannot be given a range%s", kv.Key, strictyaml.Suggest(kv.Key, rangeParams()))
			continue
		}
		a, supported := actuations[p.Actuation]
		if !supported {
			e.At(kv.KeyN, "parameter %s is not supported by this build's actuators yet", kv.Key)
			continue
		}
		if a.dut && dutN == nil {
			e.At(kv.KeyN, "parameter %s needs a dut section", kv.Key)
			continue
		}
		if r, ok := rangeOf(e, kv.Value, p.Dim, kv.Key); ok {
			c.Params[kv.Key] = r
			nodes[kv.Key] = kv
		}
	}
	return nodes
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
			if f.Key == "fill" {
				// The loop's circulating volume: part of a preset on a
				// mock loop (a failing heart is a volume-loaded one), set
				// by the simulated bench's fill pump. On a real bench the
				// loop is filled before the run.
				v, ok := quantity(e, f.Value, units.Volume, "fill")
				switch {
				case !ok:
				case c.Backend != "sim" && c.Mode != ModeHybrid: // a hybrid rig fills its model
					e.At(f.KeyN, "preset %s: fill is set by the sim backend or a hybrid rig's model only; fill a real bench before the run", kv.Key)
				case v < 100 || v > 8000:
					// 8 L: above an adult's blood volume (about 5 L), which a
					// circulation with unstressed volumes holds.
					e.At(f.Value, "preset %s: fill must be from 100 ml to 8000 ml", kv.Key)
				default:
					set = append(set, protocols.Setpoint{Param: fillParam, Value: protocols.Value{Num: v, Dim: units.Volume}, Pos: e.Pos(f.KeyN)})
				}
				continue
			}
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

func (c *Config) sim(e *strictyaml.Errors, n *strictyaml.Node) {
	fields, _ := e.Mapping(n, "sim", []string{"emin", "transducers", "preload_line", "chambers"})
	for _, f := range fields {
		switch f.Key {
		case "chambers":
			c.Sim.Chambers = simChambers(e, f.Value)
		case "emin":
			c.Sim.Emin, _ = quantity(e, f.Value, units.Elastance, "sim emin")
			// The LV drive's passive part may be 0; the simulated
			// ventricle's may not.
			if !(c.Sim.Emin > 0) && (c.Backend == "sim" || !(c.Sim.Emin >= 0)) {
				e.At(f.Value, "emin must be above 0 mmHg/ml")
			}
		case "preload_line":
			if v, ok := quantity(e, f.Value, units.Resistance, "sim preload_line"); ok {
				if !(v > 0) {
					e.At(f.Value, "preload_line must be above 0 mmHg·s/ml")
				}
				c.Sim.PreloadLine = v
			}
		case "transducers":
			kvs, _ := e.Mapping(f.Value, "sim transducers", nil)
			for _, kv := range kvs {
				i := c.Channels.Index(kv.Key)
				if i < 0 || c.Inputs[kv.Key].Kind == "sim" {
					e.At(kv.KeyN, "sim transducer for %q, which is not a measured channel", kv.Key)
					continue
				}
				dim := c.Channels[i].Dim
				var t Transducer
				tf, _ := e.Mapping(kv.Value, "transducer "+kv.Key, []string{"offset", "noise"})
				for _, x := range tf {
					v, _ := quantity(e, x.Value, dim, kv.Key+" "+x.Key)
					if x.Key == "offset" {
						t.Offset = v
					} else if v < 0 {
						e.At(x.Value, "noise must not be negative")
					} else {
						t.Noise = v
					}
				}
				c.Sim.Transducers[kv.Key] = t
			}
		}
	}
}

// flat reports whether every point has the same value: a transfer without a
// gain, which reads one value whatever the sensor sees.
func flat(pts []daq.Point) bool {
	for _, p := range pts {
		if p.Value != pts[0].Value {
			return false
		}
	}
	return len(pts) > 0
}
