package rig

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/units"
)

// progress reports a run as it goes. On a terminal it redraws one status
// line — step i/N, run time elapsed and planned, the latest values — at
// most five times a second of wall time; elsewhere (CI, systemd) it writes
// one line per top-level step and one per minute of run time, so a log of
// a day-long run stays readable and each line can be grepped alone.
//
// The values are what an operator reads off a bench monitor, not one raw
// sample of a pulsatile signal ("aop 49" while MAP is held at 65): the
// latest beat of the rig's key beat channel (MAP, HR, and CO from the flow
// its detector integrates), the other key progress channels averaged over
// that beat, each with its unit, and the setpoints in force.
type progress struct {
	w        io.Writer
	live     bool
	wall     clock.Clock // throttles redraws; never the run's clock
	lastDraw time.Duration
	ticks    int
	planned  time.Duration
	step     string
	nextLog  time.Duration
	drawn    bool

	// beat is the latest beat of the key beat channel (haveBeat: one
	// came), ended at run time beatAt; beatKey is that channel's mean since.
	beat     daq.Beat
	beatAt   time.Duration
	haveBeat bool
	beatKey  *progressKey
	// keys are the key progress channels shown as their mean over the
	// latest beat: sum and n accumulate the frames since it, mean holds
	// the last beat's (NaN: none yet).
	keys      []progressKey
	params    map[string]protocols.Value // the engine's setpoints in force
	setpoints []string                   // the parameters the protocol sets, in order
}

// progressKey is one channel of the progress line shown as its mean.
type progressKey struct {
	col       int
	name      string
	dim       units.Dimension
	sum, mean float64
	n         int
}

// redraw is the least wall time between two redraws of the live line.
const redraw = 200 * time.Millisecond

func newProgress(w io.Writer, live bool, p *protocols.Protocol, e *engine) *progress {
	if w == nil {
		return nil
	}
	pr := &progress{w: w, live: live, wall: clock.NewReal(), planned: planned(p.Steps), nextLog: time.Minute, lastDraw: -redraw,
		params: e.params, setpoints: setParams(p.Steps, nil)}
	// The beat channel and the flow its detector integrates are shown as
	// MAP, HR and CO; the other key channels as their means.
	shown := map[int]bool{}
	if len(e.beats) > 0 && e.beats[0].record {
		j := e.beats[0].p
		shown[j] = true
		pr.beatKey = &progressKey{col: j, name: termtext.Escape(e.layout[j].Name), dim: e.layout[j].Dim, mean: math.NaN()}
		if e.beats[0].f >= 0 {
			shown[e.beats[0].f] = true
		}
	}
	for _, k := range e.cfg.Keys.Progress {
		if j := e.layout.Index(k); j >= 0 && !shown[j] {
			shown[j] = true
			pr.keys = append(pr.keys, progressKey{col: j, name: termtext.Escape(k), dim: e.layout[j].Dim, mean: math.NaN()})
		}
	}
	return pr
}

// setParams appends the parameters steps set, ramp or sweep, each once, in
// the order the protocol first names them; dut.clear is an act, not a
// setting in force.
func setParams(steps []*protocols.Step, names []string) []string {
	add := func(name string) {
		if name != "dut.clear" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for _, s := range steps {
		for _, sp := range s.Set {
			add(sp.Param)
		}
		for _, r := range s.Ramp {
			add(r.Param)
		}
		if s.Sweep != nil {
			for _, name := range s.Sweep.Params {
				add(name)
			}
		}
		names = setParams(s.Steps, names)
	}
	return names
}

// planned is the protocol's duration as written: until steps count with
// their timeout, so it is an upper bound for them.
func planned(steps []*protocols.Step) time.Duration {
	var d time.Duration
	for _, s := range steps {
		var ramp time.Duration
		for _, r := range s.Ramp {
			ramp = max(ramp, r.Over)
		}
		body := s.Hold
		switch {
		case s.Until != nil:
			body = s.Until.Timeout
		case s.Sweep != nil:
			body = time.Duration(len(s.Sweep.Iterations())) * planned(s.Steps)
		case s.Repeat != nil && s.Repeat.Count > 0:
			body = time.Duration(s.Repeat.Count) * planned(s.Steps)
		case s.Repeat != nil:
			body = s.Repeat.For
		case len(s.Steps) > 0:
			body = planned(s.Steps)
		}
		d += ramp + body
	}
	return d
}

// stepStarted notes a new top-level step.
func (p *progress) stepStarted(path string, total int, title string, at time.Duration) {
	if p == nil {
		return
	}
	p.step = fmt.Sprintf("step %s/%d %q", path, total, title)
	if p.live {
		p.clear()
	}
	fmt.Fprintf(p.w, "%s at %s\n", p.step, units.FormatDuration(at))
}

// staleBeat is how long after the latest beat the line stops showing it:
// a beat detector that lost the beat (a transient) must not leave the
// line showing the pressure of before it.
const staleBeat = 5 * time.Second

// beatDone takes a finished beat of the key beat channel, which ended at
// run time at: the values the line shows until the next.
func (p *progress) beatDone(b daq.Beat, at time.Duration) {
	if p == nil {
		return
	}
	p.beat, p.beatAt, p.haveBeat = b, at, true
	for i := range p.keys {
		p.keys[i].endBeat()
	}
	p.beatKey.endBeat()
}

// endBeat makes the frames since the last beat the mean shown.
func (k *progressKey) endBeat() {
	if k.n > 0 {
		k.mean = k.sum / float64(k.n)
	}
	k.sum, k.n = 0, 0
}

// add accumulates a frame's value; NaN (no reading yet) is left out.
func (k *progressKey) add(frame []float64) {
	if v := frame[k.col]; !math.IsNaN(v) && !math.IsInf(v, 0) {
		k.sum += v
		k.n++
	}
}

// value is the mean shown: the last beat's or, before the first beat or
// with the beats stale, the frames' since (NaN: none).
func (k *progressKey) value(stale bool) float64 {
	if (stale || math.IsNaN(k.mean)) && k.n > 0 {
		return k.sum / float64(k.n)
	}
	return k.mean
}

// frame is called for every frame; it must stay cheap.
func (p *progress) frame(at time.Duration, frame []float64) {
	if p == nil {
		return
	}
	for i := range p.keys {
		p.keys[i].add(frame)
	}
	if p.beatKey != nil {
		p.beatKey.add(frame)
	}
	if !p.live {
		if at >= p.nextLog {
			p.nextLog += time.Minute
			fmt.Fprintf(p.w, "%s of %s: %s, %s\n", units.FormatDuration(at.Truncate(time.Second)), units.FormatDuration(p.planned), p.step, p.values(at, ", "))
		}
		return
	}
	if p.ticks++; p.ticks&255 != 0 {
		return
	}
	if now := p.wall.Now(); now-p.lastDraw >= redraw {
		p.lastDraw = now
		fmt.Fprintf(p.w, "\r\x1b[K%s  %s / %s  %s", p.step, units.FormatDuration(at.Truncate(time.Second)), units.FormatDuration(p.planned), p.values(at, "  "))
		p.drawn = true
	}
}

// values are the line's values at run time at, sep between them: the
// latest beat's MAP, HR and CO, the key channels' means over it (before the
// first beat, over the frames so far), then the setpoints in force. With
// no beat for staleBeat, the beat channel's mean since its last beat
// stands in for MAP, saying so.
func (p *progress) values(at time.Duration, sep string) string {
	var parts []string
	stale := !p.haveBeat || at-p.beatAt > staleBeat
	switch {
	case !stale:
		parts = append(parts, "MAP "+shown(p.beat.Mean, units.Pressure), "HR "+shown(p.beat.HeartRate, units.Rate))
		if co := p.beat.StrokeVolume * p.beat.HeartRate / 1000; !math.IsNaN(co) {
			parts = append(parts, "CO "+shown(co, units.Flow))
		}
	case p.beatKey != nil:
		since := "no beat yet"
		if p.haveBeat {
			since = "no beat for " + units.FormatDuration((at - p.beatAt).Truncate(time.Second))
		}
		if p.beatKey.n > 0 {
			since += ", " + p.beatKey.name + " " + shown(p.beatKey.sum/float64(p.beatKey.n), p.beatKey.dim)
		}
		parts = append(parts, since)
	}
	for _, k := range p.keys {
		if v := k.value(stale); !math.IsNaN(v) {
			parts = append(parts, k.name+" "+shown(v, k.dim))
		}
	}
	line := strings.Join(parts, sep)
	if sp := p.inForce(); sp != "" {
		line += "; " + sp
	}
	return line
}

// inForce is the setpoints in force of the parameters the protocol sets,
// e.g. "dut.level P8, loop.preset heart_failure, target MAP 65 mmHg";
// targets switched off are left out.
func (p *progress) inForce() string {
	var parts []string
	for _, name := range p.setpoints {
		v, ok := p.params[name]
		if !ok || v.Off {
			continue
		}
		label := name
		if t, isTarget := strings.CutPrefix(name, "loop.target."); isTarget {
			label = "target " + strings.ToUpper(t)
		}
		s := v.Word
		if s == "" {
			s = shown(v.Num, v.Dim)
		}
		parts = append(parts, termtext.Escape(label+" "+s))
	}
	return strings.Join(parts, ", ")
}

// shown is v with its unit, to three significant digits: a monitor's
// reading, not the record's value.
func shown(v float64, d units.Dimension) string {
	if v != 0 && !math.IsNaN(v) && !math.IsInf(v, 0) {
		scale := math.Pow(10, math.Floor(math.Log10(math.Abs(v)))-2)
		v = math.Round(v/scale) * scale
	}
	return units.Format(v, d)
}

func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// line writes a line of its own (an abort, the end). It is escaped
// (termtext): an abort reason quotes a protocol's criterion or a device's
// alarm text, which must not reach the terminal as control characters.
func (p *progress) line(format string, args ...any) {
	if p == nil {
		return
	}
	if p.live {
		p.clear()
	}
	fmt.Fprintln(p.w, termtext.Escape(fmt.Sprintf(format, args...)))
}
