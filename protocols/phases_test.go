package protocols

import (
	"math"
	"testing"

	"github.com/mockloop/mockloop/units"
)

// TestBeatPhaseAggregatesParse: end_diastolic, end_systolic, dp_dt_max and
// dp_dt_min of language 1.1 parse on a beat channel and on any other
// channel with a dimension (lv_volume: EDV), with limits in the channel's
// unit (per second for the derivatives), and a beat aggregate wrapped in a
// statistic over beats keeps both.
func TestBeatPhaseAggregatesParse(t *testing.T) {
	rig := benchRig()
	rig.Channels["lv_volume"] = units.Volume
	src := `protocol: 1
name: phases
steps:
  - hold: 30 s
    criteria:
      - {measure: end_diastolic(lvp), max: 20 mmHg}
      - {measure: end_diastolic(lv_volume), between: [100 ml, 180 ml]}
      - {measure: end_systolic(lv_volume), max: 80 ml}
      - {measure: dp_dt_max(lvp), min: 1000 mmHg/s}
      - {measure: dp_dt_min(lvp), max: -1000 mmHg/s}
      - {measure: min(map(aop)), min: 60 mmHg}
      - {measure: p95(dp_dt_max(lvp)), max: 3 kPa/s}
  - until:
      condition: max(end_diastolic(lvp), 10 s) < 25 mmHg
      timeout: 1 min
`
	p, err := Parse("phases.yaml", []byte(src), rig)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		agg, ch, stat string
		dim           units.Dimension
		lo, hi        float64
	}{
		{"end_diastolic", "lvp", "", units.Pressure, -inf, 20},
		{"end_diastolic", "lv_volume", "", units.Volume, 100, 180},
		{"end_systolic", "lv_volume", "", units.Volume, -inf, 80},
		{"dp_dt_max", "lvp", "", units.Pressure, 1000, inf},
		{"dp_dt_min", "lvp", "", units.Pressure, -inf, -1000},
		{"map", "aop", "min", units.Pressure, 60, inf},
		{"dp_dt_max", "lvp", "p95", units.Pressure, -inf, 3 * 7.50061683},
	}
	for i, c := range p.Steps[0].Criteria {
		w := want[i]
		m := c.Measure
		d, err := m.ResultDim(rig.Channels[m.Channel])
		if m.Agg != w.agg || m.Channel != w.ch || m.Stat != w.stat || err != nil || d != w.dim || !m.IsBeat() ||
			!near(c.Bound.Lo, w.lo) || !near(c.Bound.Hi, w.hi) {
			t.Errorf("criterion %d %s: %+v %+v (dim %v %v), want %+v", i, m.Text, m, c.Bound, d, err, w)
		}
	}
	if m := p.Steps[1].Until.Cond.Measure; m.Stat != "max" || m.Agg != "end_diastolic" || m.Window.Seconds() != 10 {
		t.Errorf("until measure %+v", m)
	}
}

var inf = math.Inf(1)

func near(a, b float64) bool { return a == b || math.Abs(a-b) <= 1e-6*math.Abs(b) }
