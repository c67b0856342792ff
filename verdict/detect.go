package verdict

import (
	"math"
	"slices"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
)

// detectSpec is a beat detector the engine ran and did not record (rig's
// beatSpecs): beats timed on pressure column p, integrating flow column f
// (-1: none), read on column x. Phase measures (end_diastolic(lvp)) are
// read on the measure's channel, timed by itself if it is a beat channel
// (with the primary flow, as the recorded beats) or else by the rig's
// cycle channel; a flow other than the primary one is integrated over the
// beats of the first beat channel.
type detectSpec struct {
	timing  string
	p, f, x int
}

// detectSpec is where the beats of measure m are found again, or why
// they cannot be (the rig config copy does not say its beat channels).
func (w *walk) detectSpec(m protocols.Measure, why string) (*detectSpec, string) {
	col := func(name string) int {
		return slices.IndexFunc(w.layout, func(c runlog.Channel) bool { return c.Name == name })
	}
	if w.firstBeat == "" || col(m.Channel) < 0 {
		return nil, why
	}
	switch {
	case m.Agg == "stroke_volume":
		return &detectSpec{timing: w.firstBeat, p: col(w.firstBeat), f: col(m.Channel), x: col(m.Channel)}, ""
	case slices.Contains(w.beatChans, m.Channel):
		return &detectSpec{timing: m.Channel, p: col(m.Channel), f: col(w.flow), x: col(m.Channel)}, ""
	case col(w.cycle) >= 0:
		return &detectSpec{timing: w.cycle, p: col(w.cycle), f: -1, x: col(m.Channel)}, ""
	}
	return nil, why
}

// detector is one detector run again over the record's frames, and the
// jobs its beats feed.
type detector struct {
	spec detectSpec
	det  *daq.BeatDetector
	jobs *sweep
	max  float64 // largest magnitude of column x: the scale of its tolerance
}

// detectors builds one detector per distinct spec of the judged jobs.
func (w *walk) detectors() []*detector {
	var ds []*detector
	byspec := map[detectSpec][]*job{}
	var order []detectSpec
	for _, jd := range w.judged {
		for _, j := range jd.jobs {
			if s := j.redetect; s != nil {
				if _, ok := byspec[*s]; !ok {
					order = append(order, *s)
				}
				byspec[*s] = append(byspec[*s], j)
			}
		}
	}
	for _, s := range order {
		ds = append(ds, &detector{spec: s, det: daq.NewBeatDetector(s.timing, w.rate), jobs: newSweep(byspec[s])})
	}
	return ds
}

// detect feeds a frame to the detectors, as the engine's detectBeats did;
// a resumed run's engine started its detectors afresh.
func (w *walk) detect(ds []*detector, t time.Duration, v []float64) {
	if len(w.resumes) > 0 && t > w.resumes[0] {
		w.resumes = w.resumes[1:]
		for _, d := range ds {
			d.det = daq.NewBeatDetector(d.spec.timing, w.rate)
		}
	}
	for _, d := range ds {
		s := d.spec
		q := math.NaN()
		if s.f >= 0 {
			q = v[s.f]
		}
		d.max = max(d.max, math.Abs(v[s.x]))
		b, ok := d.det.AddValue(t, v[s.p], q, v[s.x])
		if !ok || Paused(w.pauses, b.End) { // as the engine: a paused beat counts for no step
			continue
		}
		for _, j := range d.jobs.at(t) {
			bv, _ := b.Value(j.acc.C.Measure.Agg)
			j.acc.Beat(b.End, bv)
			j.scale = d.max
		}
	}
}

// redetectTolerance is how far a measure of beats found again on the
// float32 frames may lie from the engine's: FrameTolerance of the largest
// magnitude of the channel read, per second of the 20 ms least-squares
// slope for dp/dt (3/20 ms), over the longest beat (2.5 s, in ml from
// L/min) for a stroke volume.
func redetectTolerance(agg string, scale float64) float64 {
	switch agg {
	case "dp_dt_max", "dp_dt_min":
		scale *= 3 / 0.020
	case "stroke_volume":
		scale *= 2.5 * 1000 / 60
	}
	return FrameTolerance * scale
}
