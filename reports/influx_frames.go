package reports

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/mockloop/mockloop/runlog"
)

// rateFrames is how many of the first frames the sample rate is taken from.
const rateFrames = 1000

// fieldList is the SELECT list of the frames' fields, in layout order.
func (s *influxRun) fieldList() string {
	quoted := make([]string, len(s.fields))
	for i, f := range s.fields {
		quoted[i] = ident(f)
	}
	return strings.Join(quoted, ",")
}

// timeRange is the InfluxQL condition for run times from < t ≤ to (ns on
// the run clock), the bounds of steps; from 0 takes t = 0 too, and to ≤ from
// means no upper bound.
func (s *influxRun) timeRange(from, to int64) string {
	c := fmt.Sprintf(" AND time > %d", s.epoch+from)
	if from == 0 {
		c = fmt.Sprintf(" AND time >= %d", s.epoch)
	}
	if to > from {
		c += fmt.Sprintf(" AND time <= %d", s.epoch+to)
	}
	return c
}

// frames calls fn with every frame of the run in from < t ≤ to (see
// timeRange), in time order, with its time on the run clock in ns and its
// values in layout order, streamed from InfluxDB. A channel the frame has
// no value of (NaN or ±Inf in the record) is NaN. Values are rounded to
// float32, as the record keeps them: InfluxDB holds the shortest decimal
// of the float32, whose float64 need not be the record's. v is reused.
func (s *influxRun) frames(ctx context.Context, from, to int64, fn func(t int64, v []float64) error) error {
	if len(s.fields) == 0 {
		return nil
	}
	stmt := "SELECT " + s.fieldList() + " FROM " + s.q.from(runlog.MeasurementFrames) + " WHERE " + s.where + s.timeRange(from, to)
	v := make([]float64, len(s.fields))
	return s.q.run(ctx, stmt, func(sr *influxSeries) error {
		idx := make([]int, len(s.fields))
		for j, f := range s.fields {
			idx[j] = sr.col(f)
		}
		for _, row := range sr.Values {
			ts, err := qTime(sr, row)
			if err != nil {
				return err
			}
			for j, i := range idx {
				v[j] = math.NaN()
				if i >= 0 && i < len(row) {
					if f, ok := qFloat(row[i]); ok {
						v[j] = float64(float32(f))
					}
				}
			}
			if err := fn(ts-s.epoch, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// frameSpan returns the times of the first and last frame (ns on the run
// clock) and the sample rate: the median interval of the first frames,
// rounded to a whole number of hertz when that is as good as exact (the
// nominal rate is in the rig config, not in InfluxDB).
func (s *influxRun) frameSpan(ctx context.Context) (first, last int64, rate float64, err error) {
	first = -1
	var ts []int64
	head := fmt.Sprintf("SELECT %s FROM %s WHERE %s", s.fieldList(), s.q.from(runlog.MeasurementFrames), s.where)
	err = s.q.run(ctx, head+fmt.Sprintf(" ORDER BY time ASC LIMIT %d", rateFrames+1), func(sr *influxSeries) error {
		for _, row := range sr.Values {
			t, err := qTime(sr, row)
			if err != nil {
				return err
			}
			ts = append(ts, t-s.epoch)
		}
		return nil
	})
	if err != nil {
		return 0, 0, 0, err
	}
	if len(ts) == 0 {
		return -1, 0, 0, nil
	}
	first = ts[0]
	err = s.q.run(ctx, head+" ORDER BY time DESC LIMIT 1", func(sr *influxSeries) error {
		for _, row := range sr.Values {
			t, err := qTime(sr, row)
			if err != nil {
				return err
			}
			last = t - s.epoch
		}
		return nil
	})
	if err != nil {
		return 0, 0, 0, err
	}
	if len(ts) > 1 {
		d := make([]int64, len(ts)-1)
		for i := range d {
			d[i] = ts[i+1] - ts[i]
		}
		slices.Sort(d)
		if med := d[len(d)/2]; med > 0 {
			rate = 1e9 / float64(med)
			if r := math.Round(rate); math.Abs(rate-r) <= 1e-6*rate {
				rate = r
			}
		}
	}
	return first, last, rate, nil
}

// aggregate runs an aggregate query over the run's frames in from ≤ t < to
// (ns on the run clock): for each field, each of the InfluxQL functions
// fns. With every > 0 it groups by columns of that width starting at from;
// fn gets each non-empty column's start (run clock, ns) and the values,
// at [field][function], NaN where there is none.
func (s *influxRun) aggregate(ctx context.Context, fns []string, from, to, every int64, fn func(t int64, v [][]float64) error) error {
	if len(s.fields) == 0 {
		return nil
	}
	var sel []string
	for j, f := range s.fields {
		for k, a := range fns {
			sel = append(sel, fmt.Sprintf("%s(%s) AS %s", a, ident(f), ident(fmt.Sprintf("a%d_%d", j, k))))
		}
	}
	stmt := "SELECT " + strings.Join(sel, ",") + " FROM " + s.q.from(runlog.MeasurementFrames) + " WHERE " + s.where + s.timeRange(from, to)
	if every > 0 {
		off := ((s.epoch+from)%every + every) % every
		stmt += fmt.Sprintf(" GROUP BY time(%dns, %dns) fill(none)", every, off)
	}
	v := make([][]float64, len(s.fields))
	for j := range v {
		v[j] = make([]float64, len(fns))
	}
	return s.q.run(ctx, stmt, func(sr *influxSeries) error {
		idx := make([][]int, len(s.fields))
		for j := range s.fields {
			idx[j] = make([]int, len(fns))
			for k := range fns {
				idx[j][k] = sr.col(fmt.Sprintf("a%d_%d", j, k))
			}
		}
		for _, row := range sr.Values {
			ts, err := qTime(sr, row)
			if err != nil {
				return err
			}
			for j := range v {
				for k, i := range idx[j] {
					v[j][k] = math.NaN()
					if i >= 0 && i < len(row) {
						if f, ok := qFloat(row[i]); ok {
							v[j][k] = f
						}
					}
				}
			}
			if err := fn(ts-s.epoch, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// scanFrames is Report.scanFrames for a run in InfluxDB: the trend
// envelope of every channel from InfluxDB's minimum, maximum, mean and
// count per column (the server reduces the frames; the columns are the
// ones Load's envelope ends up with), the waveforms of the ends of steps
// from the frames themselves, and the statistics of steps that have none
// from InfluxDB's aggregates.
func (s *influxRun) scanFrames(ctx context.Context, r *Report, durS float64) error {
	layout := r.run.Manifest.Layout
	trend := newTrend(len(layout), durS)
	if r.firstT >= 0 {
		for r.lastT >= trend.t0+int64(trend.n)*trend.dt {
			trend.double() // as Load's envelope grows when a frame falls past it
		}
		w := len(trend.cols)
		err := s.aggregate(ctx, []string{"MIN", "MAX", "MEAN", "COUNT"}, trend.t0, trend.t0+int64(trend.n)*trend.dt, trend.dt,
			func(t int64, v [][]float64) error {
				c := int((t - trend.t0) / trend.dt)
				if c < 0 || c >= trend.n {
					return nil
				}
				var frames int64
				for j := range w {
					n := int64(v[j][3])
					if n <= 0 || math.IsNaN(v[j][0]) {
						continue
					}
					k := c*w + j
					lo, hi := float64(float32(v[j][0])), float64(float32(v[j][1])) // the record's values (see frames)
					trend.lo[k], trend.hi[k], trend.loT[k], trend.hiT[k] = lo, hi, t, t
					trend.sum[k], trend.cnt[k] = v[j][2]*float64(n), n
					frames = max(frames, n)
				}
				trend.frames += frames
				trend.last = max(trend.last, c)
				return nil
			})
		if err != nil {
			return err
		}
	}

	// Waveforms, as Load makes them, from the frames of their windows.
	var hemoCols []int
	for _, g := range hemodynamic(channelGroups(layout)) {
		hemoCols = append(hemoCols, g.Cols...)
	}
	idx, note := pickWaveSteps(r.steps)
	r.wNote = note
	for _, i := range idx {
		st := &r.steps[i]
		lo, hi := max(st.StartS, st.EndS-waveSpanS), st.EndS
		dt := int64(math.Ceil((hi - lo) * 1e9 / waveCols))
		w := waveView{step: i, lo: lo, hi: hi, env: newEnvelope(hemoCols, waveCols, durationOf(lo), dt, false)}
		if r.firstT >= 0 {
			err := s.frames(ctx, durationOf(lo), durationOf(hi), func(t int64, v []float64) error {
				w.env.add(t, v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		r.waves = append(r.waves, w)
	}

	// Statistics the steps do not have (no step.end result arrived).
	fns := []string{"COUNT", "MEAN", "MIN", "MAX", "STDDEV"}
	for i := range r.steps {
		st := &r.steps[i]
		if st.Stats != nil {
			continue
		}
		st.Stats, st.computed = map[string]runlog.ChannelStats{}, true
		for _, c := range layout {
			st.Stats[c.Name] = (&moments{}).channelStats(c.Unit)
		}
		var frames int64
		from, to := durationOf(st.StartS), durationOf(st.EndS)
		if r.firstT >= 0 && to > from {
			err := s.aggregate(ctx, fns, from, to, 0, func(_ int64, v [][]float64) error {
				for j, c := range layout {
					n := int64(v[j][0])
					if n <= 0 {
						continue
					}
					sd := 0.0 // InfluxDB's STDDEV is the sample's; the record's the population's
					if n > 1 && !math.IsNaN(v[j][4]) {
						sd = v[j][4] * math.Sqrt(float64(n-1)/float64(n))
					}
					lo, hi := float64(float32(v[j][2])), float64(float32(v[j][3]))
					st.Stats[c.Name] = runlog.ChannelStats{Unit: c.Unit, N: n, Mean: v[j][1], Min: lo, Max: hi, Std: sd}
					frames = max(frames, n)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if st.Frames == 0 {
			st.Frames = frames
		}
	}
	r.plots(trend)
	return nil
}

// beats computes the beat statistics from the run's beats in InfluxDB as
// readBeats does from beats.jsonl: per channel and step (executions
// pooled) and over the whole run. Every run the engine makes has a beats
// file, empty when no beat was detected, so the view is never nil.
func (s *influxRun) beats(ctx context.Context, steps []stepExec, layout []runlog.Channel) (*beatsView, error) {
	t := newBeatTable(steps)
	if err := s.eachBeat(ctx, func(b *runlog.Beat) error { t.add(b); return nil }); err != nil {
		return nil, err
	}
	return t.finish(layout), nil
}

// eachBeat calls fn with every beat of the run, in time order. b is
// reused.
func (s *influxRun) eachBeat(ctx context.Context, fn func(b *runlog.Beat) error) error {
	stmt := "SELECT * FROM " + s.q.from(runlog.MeasurementBeats) + " WHERE " + s.where
	var b runlog.Beat
	return s.q.run(ctx, stmt, func(sr *influxSeries) error {
		ci := map[string]int{}
		for _, c := range []string{"channel", "systolic", "diastolic", "mean", "pulse_pressure", "heart_rate", "stroke_volume"} {
			ci[c] = sr.col(c)
		}
		num := func(row []any, name string) float64 { // NaN: none, as runlog.Beat reads it
			if i := ci[name]; i >= 0 && i < len(row) {
				if f, ok := qFloat(row[i]); ok {
					return f
				}
			}
			return math.NaN()
		}
		for _, row := range sr.Values {
			ts, err := qTime(sr, row)
			if err != nil {
				return err
			}
			b = runlog.Beat{T: runSeconds(ts - s.epoch)}
			if i := ci["channel"]; i >= 0 && i < len(row) {
				if b.Channel = qString(row[i]); b.Channel == "-" { // the sink's stand-in for none
					b.Channel = ""
				}
			}
			b.Systolic, b.Diastolic, b.Mean = num(row, "systolic"), num(row, "diastolic"), num(row, "mean")
			b.PulsePressure, b.HeartRate = num(row, "pulse_pressure"), num(row, "heart_rate")
			if sv := num(row, "stroke_volume"); !math.IsNaN(sv) {
				b.StrokeVolume = &sv
			}
			if err := fn(&b); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeFramesCSV is Report.WriteFramesCSV with the frames read from
// InfluxDB; the columns are in the report's (alphabetical) channel order.
func (s *influxRun) writeFramesCSV(ctx context.Context, r *Report, w io.Writer, sel Selection) error {
	return r.framesCSV(w, sel, func(from, to int64, fn func(t int64, v []float64) error) error {
		return s.frames(ctx, from, to, fn)
	})
}

// writeBeatsCSV is Report.WriteBeatsCSV with the beats read from InfluxDB.
func (s *influxRun) writeBeatsCSV(ctx context.Context, r *Report, w io.Writer, sel Selection) error {
	return r.beatsCSV(w, sel, func(fn func(*runlog.Beat) error) error { return s.eachBeat(ctx, fn) })
}
