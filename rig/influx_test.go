package rig

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/mockloop/mockloop/influx"
	"github.com/mockloop/mockloop/internal/influxtest"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
)

// TestRunLoggedToInfluxDB runs a protocol on the simulated rig logged to a
// real InfluxDB 1.8.10: the frames in the database are the frames of the
// record, one point each, and each step's mean queried from the database
// equals result.json's.
func TestRunLoggedToInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	cfg := simConfig(t)
	src := header + "  - name: a\n    hold: 20 s\n  - name: b\n    set: {loop.resistance: 1.6 mmHg·s/ml}\n    hold: 20 s\n"
	p, err := protocols.Parse("t.yaml", []byte(src), cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	res, dir, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir(), ProtocolSource: []byte(src),
		Influx: &influx.Config{URL: srv.URL, Bucket: "mockloop"}})
	if err != nil || res.Outcome != runlog.OutcomePass {
		t.Fatalf("run: %v %+v", err, res)
	}
	if res.Influx == nil || !res.Influx.Delivered || res.Influx.SpooledPoints != 0 {
		t.Fatalf("influx delivery %+v", res.Influx)
	}
	r, _ := runlog.Open(dir)
	st, _ := r.Frames(func(time.Duration, []float64) error { return nil })
	if n := srv.CountPoints(t, "frames", res.RunID); n != st.Frames || n != res.Frames {
		t.Errorf("InfluxDB holds %d frame points, the record %d frames, the result %d", n, st.Frames, res.Frames)
	}
	epoch := r.Manifest.Epoch
	for _, s := range res.Steps {
		from := epoch.Add(time.Duration(s.StartS * float64(time.Second)))
		to := epoch.Add(time.Duration(s.EndS * float64(time.Second)))
		// A step holds the frames after its start up to its end; Flux's
		// range is [start, stop) on 1.8 plus its stop instant, so both ends
		// move by 1 ns.
		q := fmt.Sprintf(`from(bucket: "mockloop/autogen")
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "frames" and r.run_id == %q and r._field == "aop")
  |> mean()`, from.Add(time.Nanosecond).Format(time.RFC3339Nano), to.Add(-time.Nanosecond).Format(time.RFC3339Nano), res.RunID)
		rows := srv.Flux(t, q)
		if len(rows) != 1 {
			t.Fatalf("step %s: Flux returned %d rows", s.Path, len(rows))
		}
		got, err := strconv.ParseFloat(rows[0]["_value"], 64)
		want := s.Channels["aop"].Mean
		// the database holds the record's float32 values
		if err != nil || math.Abs(got-want) > 1e-5*math.Abs(want) {
			t.Errorf("step %s: mean aop %.7f by Flux, %.7f in result.json (%v)", s.Path, got, want, err)
		}
	}
	if n := srv.CountPoints(t, "steps", res.RunID); n != int64(len(res.Steps)) {
		t.Errorf("%d step points, %d steps", n, len(res.Steps))
	}
}

// TestThinnedRunLoggedToInfluxDB: a dry run that keeps 1 frame in 10
// sends InfluxDB the frames of its record, no more: the same count, a
// tenth of those it acquired.
func TestThinnedRunLoggedToInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	cfg := simConfig(t)
	src := header + "  - name: a\n    hold: 5 s\n"
	p, err := protocols.Parse("t.yaml", []byte(src), cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir(), ProtocolSource: []byte(src),
		Influx: &influx.Config{URL: srv.URL, Bucket: "mockloop"}, FramesEvery: 10})
	if err != nil || res.Outcome != runlog.OutcomePass || res.Influx == nil || !res.Influx.Delivered {
		t.Fatalf("run: %v %+v", err, res)
	}
	acquired := res.Steps[0].Frames
	if n := srv.CountPoints(t, "frames", res.RunID); n != res.Frames || n < acquired/10 || n > acquired/10+1 {
		t.Errorf("InfluxDB holds %d frame points, the record %d, of %d frames acquired", n, res.Frames, acquired)
	}
}
