package influx

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/internal/influxtest"
	"github.com/mockloop/mockloop/runlog"
)

// These tests run the sink against a real InfluxDB 1.8 (internal/influxtest):
// the point counts, sums and means are the server's, through its v2 write
// API, InfluxQL and Flux.

// serverValue is the value of channel j of frame i in the server tests: a
// pressure-like wave, positive, so that a sum over the frames notices a
// point missing or counted twice.
func serverValue(i, j int) float64 {
	return 100 + 10*float64(j) + 20*math.Sin(float64(i)*0.01+float64(j))
}

// stored is what InfluxDB stores for a value: the float64 its float32
// shortest decimal parses to.
func stored(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(float32(v)), 'g', -1, 32), 64)
	return f
}

// serverRun is a run recorded and sunk to a real server.
type serverRun struct {
	id   string
	rec  *runlog.Record
	sink *Sink
	blk  *daq.Block
	n    int
	sum  float64 // of the stored aop values of the frames so far
	logs *syncBuffer
}

// syncBuffer is a log sink safe for the sink's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(&s.b, format+"\n", args...)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newServerRun creates a run with a fresh id and a sink to srv with the
// test token (InfluxDB without authentication ignores it).
func newServerRun(t testing.TB, srv *influxtest.Server, queueBlocks int) *serverRun {
	t.Helper()
	return newServerRunAt(t, srv.URL, queueBlocks)
}

// newServerRunAt is newServerRun for the server at url.
func newServerRunAt(t testing.TB, url string, queueBlocks int) *serverRun {
	t.Helper()
	id := runlog.NewRunID(testEpoch)
	m := testManifest(id)
	rec, err := runlog.Create(t.TempDir(), m, []byte(testProtocol), []byte(testRig), clock.NewReal())
	if err != nil {
		t.Fatal(err)
	}
	logs := new(syncBuffer)
	s, err := NewSink(SinkConfig{
		Config: Config{URL: url, Token: testToken, Timeout: 5 * time.Second,
			RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond, Logf: logs.logf},
		RunDir: rec.Dir(), RunID: id, Rig: m.Rig, Layout: m.Layout, Epoch: m.Epoch, QueueBlocks: queueBlocks,
		Manifest: new(rec.Manifest()),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &serverRun{id: id, rec: rec, sink: s, blk: daq.NewBlock(len(m.Layout), 10), logs: logs}
}

// feed appends n frames in 10-frame blocks to the record and the sink.
func (r *serverRun) feed(t testing.TB, n int) {
	t.Helper()
	for end := r.n + n; r.n < end; {
		k := min(10, end-r.n)
		r.blk.Reset()
		for i := r.n; i < r.n+k; i++ {
			v := r.blk.Append(frameTime(i))
			for j := range v {
				v[j] = serverValue(i, j)
			}
			r.sum += stored(v[1])
		}
		if err := r.rec.AppendBlock(r.blk); err != nil {
			t.Fatal(err)
		}
		r.sink.Frames(r.blk)
		r.n += k
	}
}

// close syncs the record, closes the sink within d and the record.
func (r *serverRun) close(t testing.TB, d time.Duration, steps ...runlog.StepResult) runlog.InfluxDelivery {
	t.Helper()
	if err := r.rec.Sync(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	res := runlog.Result{Outcome: runlog.OutcomePass, DurationS: frameTime(r.n).Seconds(), Steps: steps}
	del, err := r.sink.Close(ctx, &res)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.rec.Close(res); err != nil {
		t.Fatal(err)
	}
	return del
}

// checkExactlyOnce checks that the server holds every frame of the run
// once: the count of points and the sum of a field over them.
func (r *serverRun) checkExactlyOnce(t *testing.T, srv *influxtest.Server) {
	t.Helper()
	if n := srv.CountPoints(t, MeasurementFrames, r.id); n != int64(r.n) {
		t.Errorf("%d frame points in InfluxDB, want %d", n, r.n)
	}
	sum := influxtest.Float(srv.InfluxQL(t, fmt.Sprintf(`SELECT SUM(aop) FROM frames WHERE run_id = %s`, influxtest.Literal(r.id))), "sum")
	if math.Abs(sum-r.sum) > 1e-9*r.sum {
		t.Errorf("sum of aop in InfluxDB %.6f, want %.6f", sum, r.sum)
	}
	if n := srv.CountPoints(t, MeasurementRuns, r.id); n != 1 {
		t.Errorf("%d runs points, want 1", n)
	}
}

// checkClean checks that the spool is gone and the token is nowhere: not
// in the run directory, the sink's log or the server's log.
func (r *serverRun) checkClean(t *testing.T, srv *influxtest.Server) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(r.rec.Dir(), spoolDirName)); !os.IsNotExist(err) {
		t.Errorf("spool still there: %v", err)
	}
	serverLog, err := os.ReadFile(filepath.Join(srv.Dir, "influxd.log"))
	if err != nil {
		t.Fatal(err)
	}
	checkNoToken(t, r.rec.Dir(), r.logs.String()+string(serverLog))
}

func TestInfluxDBServer(t *testing.T) {
	srv := influxtest.Start(t)

	// Every frame written through record and sink is one point, and the
	// server's per-step means are those of the record's frames.
	t.Run("count and step means", func(t *testing.T) {
		r := newServerRun(t, srv, 0)
		const frames, perStep = 300_000, 100_000
		var steps []runlog.StepResult
		for k := range frames / perStep {
			r.feed(t, perStep)
			steps = append(steps, runlog.StepResult{Index: k, Path: strconv.Itoa(k + 1), Name: fmt.Sprintf("step %d", k+1),
				StartS: frameTime(k * perStep).Seconds(), EndS: frameTime((k + 1) * perStep).Seconds(), Frames: perStep, Outcome: runlog.OutcomePass})
		}
		// Step statistics as the engine computes them: from the frames.
		run, err := runlog.Open(r.rec.Dir())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.rec.Sync(); err != nil {
			t.Fatal(err)
		}
		sums := make([]float64, len(steps))
		if _, err := run.Frames(func(ts time.Duration, v []float64) error {
			for k, s := range steps {
				if secondsNs(s.StartS) <= int64(ts) && int64(ts) < secondsNs(s.EndS) {
					sums[k] += v[1]
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for k := range steps {
			steps[k].Channels = map[string]runlog.ChannelStats{"aop": {Unit: "mmHg", N: perStep, Mean: sums[k] / perStep, Min: 80, Max: 140, Std: 14}}
			r.sink.Step(steps[k])
		}
		start := time.Now()
		del := r.close(t, time.Minute, steps...)
		t.Logf("%d frames; Close delivered in %v; overflow %d frames", frames, time.Since(start), r.sink.Stats().Overflow)
		if !del.Delivered || del.SpooledPoints != 0 {
			t.Fatalf("delivery %+v", del)
		}
		r.checkExactlyOnce(t, srv)
		for _, s := range steps {
			// The per-step mean over the step's frames, start included and
			// end excluded, as reports query it (InfluxQL). Flux on 1.8 is
			// not used for frames: under load it answered a mean that
			// differed from the stored points' (count and sum exact).
			want := s.Channels["aop"].Mean
			got := influxtest.Float(srv.InfluxQL(t, fmt.Sprintf(`SELECT MEAN(aop) FROM frames WHERE run_id = %s AND time >= %d AND time < %d`,
				influxtest.Literal(r.id), testEpoch.Add(time.Duration(secondsNs(s.StartS))).UnixNano(),
				testEpoch.Add(time.Duration(secondsNs(s.EndS))).UnixNano())), "mean")
			if math.Abs(got-want) > 1e-7*want {
				t.Errorf("step %s: InfluxDB mean of aop %.9f, mean of the record's frames %.9f", s.Path, got, want)
			}
			rows := srv.Flux(t, fmt.Sprintf(`from(bucket: %q) |> range(start: 0)
  |> filter(fn: (r) => r._measurement == "steps" and r.run_id == %q and r.step == %q and r._field == "aop_mean")`,
				influxtest.Database, r.id, s.Path))
			if len(rows) != 1 || rows[0]["_value"] != strconv.FormatFloat(want, 'f', -1, 64) && !closeTo(rows[0]["_value"], want) {
				t.Errorf("step %s: steps.aop_mean %v, want %v", s.Path, rows, want)
			}
		}
		r.checkClean(t, srv)
	})

	// The server goes away for longer than the client library's retry
	// buffer would hold (50,000 points), comes back, and Close delivers
	// everything once.
	t.Run("outage during the run", func(t *testing.T) {
		// A queue that holds the whole run, so that every frame of the
		// outage goes through the spool, none through a gap.
		r := newServerRun(t, srv, 25_000)
		r.feed(t, 50_000)
		waitFor(t, func() bool { return srv.CountPoints(t, MeasurementFrames, r.id) == 50_000 })
		srv.Stop()
		r.feed(t, 120_000)
		waitFor(t, func() bool { return spooledPoints(t, r.rec.Dir()) == 120_000 })
		files := len(spoolFiles(t, r.rec.Dir()))
		srv.Restart()
		r.feed(t, 30_000)
		del := r.close(t, 2*time.Minute)
		t.Logf("120000 points in %d spooled batches during the outage; overflow %d frames; delivery %+v", files, r.sink.Stats().Overflow, del)
		if !del.Delivered || r.sink.Stats().Overflow != 0 {
			t.Fatalf("delivery %+v, stats %+v", del, r.sink.Stats())
		}
		if !strings.Contains(r.logs.String(), "spooling") || !strings.Contains(r.logs.String(), "server is back") {
			t.Errorf("outage not logged:\n%s", r.logs)
		}
		r.checkExactlyOnce(t, srv)
		r.checkClean(t, srv)
	})

	// The server is down when the run ends: Close reports what is spooled,
	// result.json says so, and Replay (mockloop sync) delivers it later.
	t.Run("outage at the end, replay", func(t *testing.T) {
		r := newServerRun(t, srv, 25_000)
		r.feed(t, 40_000)
		waitFor(t, func() bool { return srv.CountPoints(t, MeasurementFrames, r.id) == 40_000 })
		srv.Stop()
		r.feed(t, 60_000)
		del := r.close(t, time.Second)
		if del.Delivered || del.SpooledPoints != 60_000 || del.Error == "" {
			t.Fatalf("delivery %+v, want 60000 points spooled and an error", del)
		}
		if len(spoolFiles(t, r.rec.Dir())) == 0 {
			t.Fatal("no spool files")
		}
		srv.Restart()
		n, left, err := Replay(context.Background(), r.rec.Dir(), Config{URL: srv.URL, Token: testToken})
		if err != nil || left != 0 || n != del.SpooledPoints {
			t.Fatalf("Replay = %d, %d, %v; want %d, 0", n, left, err, del.SpooledPoints)
		}
		run, err := runlog.Open(r.rec.Dir())
		if err != nil {
			t.Fatal(err)
		}
		if d := run.Influx(); d == nil || !d.Delivered || d.SpooledPoints != 0 {
			t.Errorf("result.json influx %+v", d)
		}
		r.checkExactlyOnce(t, srv)
		r.checkClean(t, srv)
	})
}

// spooledPoints returns the points in the spool's batches.
func spooledPoints(t testing.TB, runDir string) int64 {
	t.Helper()
	var n int64
	for _, f := range spoolFiles(t, runDir) {
		k, err := spoolPoints(f)
		if err != nil {
			t.Fatal(err)
		}
		n += k
	}
	return n
}

// closeTo reports whether the decimal s is want to 15 digits.
func closeTo(s string, want float64) bool {
	got, err := strconv.ParseFloat(s, 64)
	return err == nil && math.Abs(got-want) <= 1e-15*math.Abs(want)
}
