package reports

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mockloop/mockloop/influx"
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

// kept is the value f of field j from InfluxDB as the record keeps it: to
// the bit for a field the start point says is exact, else rounded to
// float32 (InfluxDB holds the shortest decimal of the float32, whose
// float64 need not be the record's; every field of a run logged before
// the record kept values to the bit).
func (s *influxRun) kept(j int, f float64) float64 {
	if j < len(s.exact) && s.exact[j] {
		return f
	}
	return float64(float32(f))
}

// frames calls fn with every frame of the run in from < t ≤ to (see
// timeRange), in time order, with its time on the run clock in ns and its
// values in layout order, streamed from InfluxDB. A channel the frame has
// no value of (NaN or ±Inf in the record) is NaN. Values are as the record
// keeps them (kept). v is reused.
func (s *influxRun) frames(ctx context.Context, from, to int64, fn func(t int64, v []float64) error) error {
	if len(s.fields) == 0 {
		return nil
	}
	stmt := "SELECT " + s.fieldList() + " FROM " + s.q.from(influx.MeasurementFrames) + " WHERE " + s.where + s.timeRange(from, to)
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
						v[j] = s.kept(j, f)
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
	head := fmt.Sprintf("SELECT %s FROM %s WHERE %s", s.fieldList(), s.q.from(influx.MeasurementFrames), s.where)
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

// eachBeat calls fn with every beat of the run that has a channel, in time
// order, and counts those that have none. b is reused.
func (s *influxRun) eachBeat(ctx context.Context, fn func(b *runlog.Beat) error) (malformed int, err error) {
	stmt := "SELECT * FROM " + s.q.from(influx.MeasurementBeats) + " WHERE " + s.where
	var b runlog.Beat
	err = s.q.run(ctx, stmt, func(sr *influxSeries) error {
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
			b = runlog.Beat{T: influx.RunSeconds(ts - s.epoch)}
			if i := ci["channel"]; i >= 0 && i < len(row) {
				b.Channel = influx.TagValue(qString(row[i]))
			}
			if b.Channel == "" {
				malformed++
				continue
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
	return malformed, err
}
