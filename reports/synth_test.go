package reports

import (
	"math"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/runlog"
)

// synthLayout is the reference rig's channel layout, as the demo run
// records it.
var synthLayout = []runlog.Channel{
	{Name: "lvp", Unit: "mmHg"}, {Name: "aop", Unit: "mmHg"}, {Name: "lap", Unit: "mmHg"},
	{Name: "flow_ao", Unit: "L/min"}, {Name: "flow_dut", Unit: "L/min"},
	{Name: "dut.rpm", Unit: "rpm"}, {Name: "dut.current", Unit: "mA"}, {Name: "dut.alarms", Unit: ""},
	{Name: "temp", Unit: "°C"}, {Name: "lv_volume", Unit: "ml"},
}

// loopState is what a synthetic step sets: heart rate, stroke volume,
// systemic resistance and the pump's speed and flow.
type loopState struct {
	HR      float64 // bpm
	SV      float64 // ml
	R       float64 // mmHg·s/ml
	RPM     float64
	DUTFlow float64 // L/min
}

// cycle is one steady cardiac cycle of a two-element windkessel loop,
// tabulated at the sample rate: synthetic but shaped like the real thing
// (systolic upstroke, dicrotic decay, LV pressure with isovolumic phases),
// so plots, beat statistics and criteria have realistic data.
type cycle struct {
	lvp, aop, qao, vol     []float64
	sys, dia, mean, pp, hr float64
	sv                     float64
}

// newCycle computes the cycle of s at rate Hz.
func newCycle(s loopState, rate float64) *cycle {
	n := int(math.Round(rate * 60 / s.HR))
	dt := 1 / rate
	const C = 1.3 // ml/mmHg
	ej0, ej1 := int(0.06*float64(n)), int(0.36*float64(n))
	tej := float64(ej1-ej0) * dt
	q := make([]float64, n) // ml/s
	for i := ej0; i < ej1; i++ {
		q[i] = s.SV * math.Pi / (2 * tej) * math.Sin(math.Pi*float64(i-ej0)*dt/tej)
	}
	c := &cycle{lvp: make([]float64, n), aop: make([]float64, n), qao: make([]float64, n), vol: make([]float64, n), hr: s.HR, sv: s.SV}
	p := 80.0
	for range 30 { // to steady state
		for i := range n {
			p += (q[i] - p/s.R) / C * dt
			c.aop[i] = p
		}
	}
	c.sys, c.dia = math.Inf(-1), math.Inf(1)
	vol := 140.0
	for i := range n {
		phase := float64(i) / float64(n)
		a := c.aop[i]
		switch {
		case i < ej0: // isovolumic contraction
			c.lvp[i] = 8 + (a-8)*float64(i)/float64(ej0)
		case i < ej1:
			c.lvp[i] = a + 3*math.Sin(math.Pi*float64(i-ej0)/float64(ej1-ej0))
			vol -= q[i] * dt
		case phase < 0.44: // isovolumic relaxation
			f := (phase - 0.36) / 0.08
			c.lvp[i] = c.aop[ej1-1]*(1-f) + 6*f
		default: // filling
			c.lvp[i] = 6 + 4*(phase-0.44)/0.56
			vol += s.SV * dt / (0.56 * float64(n) * dt)
		}
		c.qao[i] = q[i] * 60 / 1000
		c.vol[i] = vol
		c.sys, c.dia = max(c.sys, a), min(c.dia, a)
		c.mean += a / float64(n)
	}
	c.pp = c.sys - c.dia
	return c
}

// noise is a small deterministic pseudo-random source (xorshift), so that
// fixtures are the same every time they are made.
type noise uint64

func (x *noise) next() float64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return float64(*x>>11)/float64(1<<53) - 0.5
}

// synthStep appends the frames of [from, to) at rate Hz in the state s to
// rec in blocks of block frames, and a beat per cycle on aop and lvp. It
// returns the number of frames written. If acc is not nil, the values of
// each channel are added to it, as the engine's step statistics.
func synthStep(rec *runlog.Record, s loopState, rate float64, from, to time.Duration, block int, nz *noise, acc []moments) (int64, error) {
	c := newCycle(s, rate)
	n := len(c.aop)
	w := len(synthLayout)
	b := daq.NewBlock(w, block)
	period := time.Duration(math.Round(float64(time.Second) / rate))
	var frames int64
	k := 0
	cycleStart := from
	for t := from; t < to; t += period {
		v := b.Append(t)
		i := k % n
		phase := float64(i) / float64(n)
		ts := t.Seconds()
		v[0] = c.lvp[i] + 0.3*nz.next()
		v[1] = c.aop[i] + 0.3*nz.next()
		v[2] = 10 + 1.5*math.Sin(2*math.Pi*phase) + 0.2*nz.next()
		v[3] = c.qao[i] + 0.05*nz.next()
		v[4] = s.DUTFlow + 0.3*math.Sin(2*math.Pi*phase+1) + 0.02*nz.next()
		v[5] = s.RPM + 40*nz.next()
		v[6] = 120 + s.RPM/200 + 10*math.Sin(2*math.Pi*phase)
		v[7] = 0
		v[8] = 37 - 0.00001*ts + 0.01*nz.next()
		v[9] = c.vol[i]
		if acc != nil {
			for j, x := range v {
				acc[j].add(float64(float32(x))) // as stored
			}
		}
		k++
		frames++
		if b.Full() {
			if err := rec.AppendBlock(b); err != nil {
				return frames, err
			}
			b.Reset()
		}
		if k%n == 0 { // a cycle ended: its beats
			end := t + period
			sv := c.sv
			for _, ch := range []string{"aop", "lvp"} {
				bt := runlog.Beat{T: end.Seconds(), Start: cycleStart.Seconds(), Channel: ch, HeartRate: c.hr, StrokeVolume: &sv}
				if ch == "aop" {
					bt.Systolic, bt.Diastolic, bt.Mean, bt.PulsePressure = c.sys, c.dia, c.mean, c.pp
				} else {
					bt.Systolic, bt.Diastolic, bt.Mean, bt.PulsePressure = c.sys+3, 6, c.mean*0.45, c.sys-3
				}
				if err := rec.Beat(bt); err != nil {
					return frames, err
				}
			}
			cycleStart = end
		}
	}
	if b.Len() > 0 {
		if err := rec.AppendBlock(b); err != nil {
			return frames, err
		}
	}
	return frames, nil
}
