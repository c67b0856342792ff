package reports

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/mockloop/mockloop/influx"
	"github.com/mockloop/mockloop/runlog"
)

// The InfluxDB source is a summarizer: InfluxQL's aggregates reduce the
// frames on the server, so that a report of a long run does not stream
// every frame (see summarizer).

// aggregate runs an aggregate query over the run's frames in from < t ≤ to
// (see timeRange): for each field, each of the InfluxQL functions fns.
// With every > 0 it groups by columns of that width starting at from; fn
// gets each non-empty column's start (run clock, ns) and the values, at
// [field][function], NaN where there is none.
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
	stmt := "SELECT " + strings.Join(sel, ",") + " FROM " + s.q.from(influx.MeasurementFrames) + " WHERE " + s.where + s.timeRange(from, to)
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

// trend fills env from InfluxDB's minimum, maximum, mean and count of each
// channel per column of env. Extremes are the record's values (kept).
func (s *influxRun) trend(ctx context.Context, env *envelope) error {
	w := len(env.cols)
	return s.aggregate(ctx, []string{"MIN", "MAX", "MEAN", "COUNT"}, env.t0, env.t0+int64(env.n)*env.dt, env.dt,
		func(t int64, v [][]float64) error {
			c := int((t - env.t0) / env.dt)
			if c < 0 || c >= env.n {
				return nil
			}
			var frames int64
			for j := range w {
				n := int64(v[j][3])
				if n <= 0 || math.IsNaN(v[j][0]) {
					continue
				}
				k := c*w + j
				lo, hi := s.kept(j, v[j][0]), s.kept(j, v[j][1])
				env.lo[k], env.hi[k], env.loT[k], env.hiT[k] = lo, hi, t, t
				env.sum[k], env.cnt[k] = v[j][2]*float64(n), n
				frames = max(frames, n)
			}
			env.frames += frames
			env.last = max(env.last, c)
			return nil
		})
}

// stepStats sets the statistics of the channels from InfluxDB's count,
// mean, minimum, maximum and standard deviation over the frames of from <
// t ≤ to.
func (s *influxRun) stepStats(ctx context.Context, layout []runlog.Channel, from, to int64, stats []runlog.ChannelStats) (int64, error) {
	var frames int64
	err := s.aggregate(ctx, []string{"COUNT", "MEAN", "MIN", "MAX", "STDDEV"}, from, to, 0, func(_ int64, v [][]float64) error {
		for j, c := range layout {
			n := int64(v[j][0])
			if n <= 0 {
				continue
			}
			sd := 0.0 // InfluxDB's STDDEV is the sample's; the record's the population's
			if n > 1 && !math.IsNaN(v[j][4]) {
				sd = v[j][4] * math.Sqrt(float64(n-1)/float64(n))
			}
			lo, hi := s.kept(j, v[j][2]), s.kept(j, v[j][3])
			stats[j] = runlog.ChannelStats{Unit: c.Unit, N: n, Mean: v[j][1], Min: lo, Max: hi, Std: sd}
			frames = max(frames, n)
		}
		return nil
	})
	return frames, err
}
