package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/units"
)

// MaxRPM is the highest speed a profile may give: VADLINK's SPEED takes
// 0..60000 rpm.
const MaxRPM = 60000

// Profile is one device model, decoded and checked. The units of the plain
// numbers are those of the pump's equations (sim.PumpParams):
//
//	L·dQ/dt = P_inlet − P_outlet + Beta·ω² − R·Q − K·|Q|·Q − Rsuc·Q
//	I = Idle + Speed·k² + Flow·k·Qf,  U = BackEMF·k + Winding·I
//
// with Q in ml/s, ω in rpm, k in thousands of rpm and Qf in L/min.
type Profile struct {
	Name   string `json:"name"`   // the file's base name without .yaml: impella-cp
	File   string `json:"-"`      // where it was read from
	SHA256 string `json:"sha256"` // lower-case hex SHA-256 of the file's bytes
	Model  string `json:"model"`  // what HELLO reports as model=
	Device string `json:"device"` // the device it stands for, for people
	// Inlet and Outlet are the nodes of the circulation the pump takes
	// blood from and gives it to (lv → aorta; the RP ra → pa).
	Inlet  string  `json:"inlet"`
	Outlet string  `json:"outlet"`
	Levels [10]int `json:"levels"`  // target rpm of P0..P9
	MaxRPM int     `json:"max_rpm"` // the highest speed the controller accepts (SPEED)
	HQ     HQ      `json:"hq"`
	Motor  Motor   `json:"motor"`
	// PurgemmHg is the purge pressure the purge system holds.
	PurgemmHg float64 `json:"purge_mmhg"`
	Alarms    Alarms  `json:"alarms"`
}

// HQ are the hydraulic constants: the head coefficient Beta (mmHg/rpm²),
// the viscous resistance R (mmHg·s/ml), the quadratic loss K
// (mmHg·s²/ml²) and the inertance L (mmHg·s²/ml).
type HQ struct {
	Beta float64 `json:"beta"`
	R    float64 `json:"r"`
	K    float64 `json:"k"`
	L    float64 `json:"l"`
}

// Motor is the motor current model: IdlemA (mA), SpeedmA (mA per
// (1000 rpm)²), FlowmA (mA per 1000 rpm · L/min), BackEMF (V per
// 1000 rpm) and Winding (Ω).
type Motor struct {
	IdlemA  float64 `json:"idle_ma"`
	SpeedmA float64 `json:"speed_ma"`
	FlowmA  float64 `json:"flow_ma"`
	BackEMF float64 `json:"back_emf"`
	Winding float64 `json:"winding"`
}

// Alarms are the alarms the controller raises from its sensors and their
// thresholds. The host-link watchdog (0x20) is VADLINK's own and always
// raised; Raises lists the others.
type Alarms struct {
	Raises dut.Alarms `json:"raises"`
	// SuctionBelowmmHg is the inlet pressure below which the suction
	// resistance engages (SuctionGain, s/ml, per mmHg below) and the
	// suction alarm rises; it stays shown for SuctionLatch after.
	SuctionBelowmmHg  float64       `json:"suction_below_mmhg"`
	SuctionGain       float64       `json:"suction_gain"`
	SuctionLatch      time.Duration `json:"suction_latch"`
	OvercurrentmA     float64       `json:"overcurrent_ma"`
	PurgeLowmmHg      float64       `json:"purge_low_mmhg"`
	PurgeHighmmHg     float64       `json:"purge_high_mmhg"`
	SpeedDeviationRPM float64       `json:"speed_deviation_rpm"`
}

// Parse decodes and checks the profile in data, read from file, and
// reports every mistake at its position.
func Parse(file string, data []byte) (*Profile, error) {
	root, err := strictyaml.Parse(file, data)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	p := &Profile{Name: strings.TrimSuffix(filepath.Base(file), ".yaml"), File: file, SHA256: hex.EncodeToString(sum[:])}
	d := &decoder{e: &strictyaml.Errors{File: file}}
	kvs, ok := d.e.Mapping(root, "DUT profile", sectionKeys)
	if !ok {
		return nil, d.e.List.Err()
	}
	for _, k := range sectionKeys {
		n := field(kvs, k)
		if n == nil {
			d.e.At(root, "DUT profile: missing key %q", k)
			continue
		}
		d.section(p, k, n)
	}
	if err := d.e.List.Err(); err != nil {
		return nil, err
	}
	d.check(p, root)
	return p, d.e.List.Err()
}

// sectionKeys are the keys of a profile, all required.
var sectionKeys = []string{"model", "device", "placement", "levels", "max_speed", "hq", "motor", "purge", "alarms"}

func field(kvs []strictyaml.KV, key string) *strictyaml.Node {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

// decoder collects the mistakes of one profile file.
type decoder struct{ e *strictyaml.Errors }

// section decodes the top-level key k.
func (d *decoder) section(p *Profile, k string, n *strictyaml.Node) {
	switch k {
	case "model":
		p.Model = d.name(n, "model", modelRE, "letters, digits, '.', '_' and '-', at most 32")
	case "device":
		p.Device, _ = d.e.Scalar(n, "device")
	case "placement":
		d.fields(n, "placement", []spec{
			{key: "inlet", str: &p.Inlet}, {key: "outlet", str: &p.Outlet}})
	case "levels":
		d.levels(p, n)
	case "max_speed":
		if v, ok := d.quantity(n, units.Speed, "max_speed"); ok {
			p.MaxRPM = d.rpm(n, v, "max_speed")
		}
	case "hq":
		d.fields(n, "hq", []spec{
			{key: "beta", num: &p.HQ.Beta}, {key: "resistance", num: &p.HQ.R, dim: units.Resistance},
			{key: "loss", num: &p.HQ.K}, {key: "inertance", num: &p.HQ.L}})
	case "motor":
		m := &p.Motor
		d.fields(n, "motor", []spec{
			{key: "idle", num: &m.IdlemA, dim: units.Current}, {key: "speed", num: &m.SpeedmA},
			{key: "flow", num: &m.FlowmA}, {key: "back_emf", num: &m.BackEMF}, {key: "winding", num: &m.Winding}})
	case "purge":
		d.fields(n, "purge", []spec{{key: "pressure", num: &p.PurgemmHg, dim: units.Pressure}})
	case "alarms":
		d.alarms(&p.Alarms, n)
	}
}

// modelRE is what HELLO's model= may be: one token of a VADLINK frame.
var (
	modelRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)
	nodeRE  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
)

// name decodes a scalar that must match re.
func (d *decoder) name(n *strictyaml.Node, what string, re *regexp.Regexp, rule string) string {
	s, ok := d.e.Scalar(n, what)
	if ok && !re.MatchString(s) {
		d.e.At(n, "%s %q: must be %s", what, s, rule)
	}
	return s
}

// spec is one key of a mapping: a string (str), or a number (num) that
// is a quantity of dim, or a plain number when dim is units.None.
type spec struct {
	key string
	str *string
	num *float64
	dim units.Dimension
	raw **strictyaml.Node // the node itself, for a key decoded apart
}

// fields decodes mapping n, whose keys are all required.
func (d *decoder) fields(n *strictyaml.Node, what string, specs []spec) {
	keys := make([]string, len(specs))
	for i, s := range specs {
		keys[i] = s.key
	}
	kvs, ok := d.e.Mapping(n, what, keys)
	if !ok {
		return
	}
	for _, s := range specs {
		v := field(kvs, s.key)
		switch {
		case v == nil:
			d.e.At(n, "%s: missing key %q", what, s.key)
		case s.raw != nil:
			*s.raw = v
		case s.str != nil:
			*s.str = d.name(v, what+" "+s.key, nodeRE, "a node name (lower-case letters, digits, '_')")
		case s.dim == units.None:
			*s.num, _ = d.number(v, what+" "+s.key)
		default:
			*s.num, _ = d.quantity(v, s.dim, what+" "+s.key)
		}
	}
}

// number decodes a plain finite number ≥ 0.
func (d *decoder) number(n *strictyaml.Node, what string) (float64, bool) {
	s, ok := d.e.Scalar(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		d.e.At(n, "%s must be a finite number ≥ 0, got %q", what, s)
		return 0, false
	}
	return v, true
}

// quantity decodes a finite quantity ≥ 0 of dimension dim.
func (d *decoder) quantity(n *strictyaml.Node, dim units.Dimension, what string) (float64, bool) {
	s, ok := d.e.Scalar(n, what)
	if !ok {
		return 0, false
	}
	v, err := units.ParseAs(s, dim)
	if err != nil {
		d.e.At(n, "%s: %v", what, err)
		return 0, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		d.e.At(n, "%s must be finite and ≥ 0, got %q", what, s)
		return 0, false
	}
	return v, true
}

// rpm checks a speed is a whole number of rpm up to MaxRPM.
func (d *decoder) rpm(n *strictyaml.Node, v float64, what string) int {
	if v != math.Trunc(v) || v > MaxRPM {
		d.e.At(n, "%s must be a whole number of rpm from 0 to %d", what, MaxRPM)
		return 0
	}
	return int(v)
}

// levels decodes the level table: ten speeds, P0 to P9.
func (d *decoder) levels(p *Profile, n *strictyaml.Node) {
	items, ok := d.e.Sequence(n, "levels")
	if !ok {
		return
	}
	if len(items) != len(p.Levels) {
		d.e.At(n, "levels must list %d speeds, P0 to P9; got %d", len(p.Levels), len(items))
		return
	}
	for i, it := range items {
		what := "level P" + strconv.Itoa(i)
		if v, ok := d.quantity(it, units.Speed, what); ok {
			p.Levels[i] = d.rpm(it, v, what)
		}
	}
}

// alarms decodes the alarms section.
func (d *decoder) alarms(a *Alarms, n *strictyaml.Node) {
	var latch float64
	var raises *strictyaml.Node
	d.fields(n, "alarms", []spec{
		{key: "suction_below", num: &a.SuctionBelowmmHg, dim: units.Pressure},
		{key: "suction_gain", num: &a.SuctionGain},
		{key: "suction_latch", num: &latch, dim: units.Time},
		{key: "overcurrent", num: &a.OvercurrentmA, dim: units.Current},
		{key: "purge_low", num: &a.PurgeLowmmHg, dim: units.Pressure},
		{key: "purge_high", num: &a.PurgeHighmmHg, dim: units.Pressure},
		{key: "speed_deviation", num: &a.SpeedDeviationRPM, dim: units.Speed},
		{key: "raises", raw: &raises},
	})
	a.SuctionLatch = units.Seconds(min(latch, 3600))
	if raises != nil {
		a.Raises = d.raises(raises)
	}
}

// raises decodes alarms.raises, the names of the alarms the device raises
// from its sensors.
func (d *decoder) raises(n *strictyaml.Node) dut.Alarms {
	items, ok := d.e.Sequence(n, "alarms raises")
	if !ok {
		return 0
	}
	var mask dut.Alarms
	for _, it := range items {
		s, ok := d.e.Scalar(it, "alarm")
		if !ok {
			continue
		}
		a, err := dut.ParseAlarmKey(s)
		switch {
		case err != nil:
			d.e.At(it, "alarms raises: unknown alarm %q%s", s, strictyaml.Suggest(s, dut.AlarmKeys()))
		case a == dut.AlarmHostLinkLost:
			d.e.At(it, "alarms raises: host_link_lost is VADLINK's watchdog, raised by every device; list only the alarms of its sensors")
		case mask&a != 0:
			d.e.At(it, "alarms raises: %s listed twice", s)
		}
		mask |= a
	}
	return mask
}

// check are the checks across keys, once every key decoded.
func (d *decoder) check(p *Profile, root *strictyaml.Node) {
	switch {
	case p.Inlet == p.Outlet:
		d.e.At(root, "placement: inlet and outlet are both %s", p.Inlet)
	case p.Levels[0] != 0:
		d.e.At(root, "levels: P0 must be 0 rpm (the pump stopped), got %d", p.Levels[0])
	case p.HQ.Beta <= 0 || p.HQ.R <= 0 || p.HQ.L <= 0:
		d.e.At(root, "hq: beta, resistance and inertance must be > 0")
	case p.Alarms.PurgeLowmmHg >= p.Alarms.PurgeHighmmHg:
		d.e.At(root, "alarms: purge_low %g mmHg must be below purge_high %g mmHg", p.Alarms.PurgeLowmmHg, p.Alarms.PurgeHighmmHg)
	case p.Alarms.OvercurrentmA == 0 || p.Alarms.SpeedDeviationRPM == 0 || p.Alarms.PurgeLowmmHg == 0:
		d.e.At(root, "alarms: overcurrent, purge_low and speed_deviation must be > 0")
	}
	for i := 1; i < len(p.Levels); i++ {
		if p.Levels[i] < p.Levels[i-1] {
			d.e.At(root, "levels: P%d (%d rpm) is below P%d (%d rpm); levels rise", i, p.Levels[i], i-1, p.Levels[i-1])
		}
	}
	if p.Levels[9] > p.MaxRPM {
		d.e.At(root, "levels: P9 (%d rpm) is above max_speed (%d rpm)", p.Levels[9], p.MaxRPM)
	}
}

// Fits reports why the profile cannot sit between inlet and outlet, or ""
// if it can: a pump is placed where its inlet and outlet are.
func (p *Profile) Fits(inlet, outlet string) string {
	if p.Inlet == inlet && p.Outlet == outlet {
		return ""
	}
	return fmt.Sprintf("DUT profile %s pumps %s → %s; this rig's pump sits %s → %s", p.Name, p.Inlet, p.Outlet, inlet, outlet)
}
