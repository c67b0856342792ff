package influx

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/internal/influxtest"
	"github.com/mockloop/mockloop/runlog"
)

// benchFrames is the length of one benchmarked run: 200 s at 1 kHz.
const benchFrames = 200_000

// BenchmarkInfluxSink measures frames per second of 8 channels through the
// record and the sink into a local InfluxDB 1.8 (started for it), each
// iteration a whole run of benchFrames frames in 10-frame blocks, fed as
// fast as the CPU allows (a virtual clock), timed until Close returns:
//
//   - ceiling: the server's own ceiling: the same points, pre-encoded as
//     gzip line protocol in batches of 5,000 before the clock starts, posted
//     one after the other by a minimal writer to /api/v2/write;
//   - up: record + sink with a queue that holds the run, so every frame
//     goes through the queue; delivered to the server;
//   - up-overflow: the same with the default queue (4096 blocks), which a
//     virtual clock overruns: most frames are re-read from the record;
//   - down: the server unreachable; Close's context is already over, so it
//     returns once everything is in the spool (the throughput of spooling).
//
// The server slows down as it fills (compactions), so every iteration of
// up and up-overflow first measures the ceiling afresh, untimed, and ratio
// is the sink's frames/s over those ceilings' points/s; for down, over the
// ceiling measured at the start. Skipped under -short.
//
//	go test -run '^$' -bench InfluxSink -benchtime 5x ./influx
func BenchmarkInfluxSink(b *testing.B) {
	if testing.Short() {
		b.Skip("starts an InfluxDB server")
	}
	srv := influxtest.Start(b)
	first := float64(benchFrames) / ceilingPass(b, srv, false).Seconds() // also warms the server up

	b.Run("ceiling", func(b *testing.B) {
		var elapsed time.Duration
		for b.Loop() {
			elapsed += ceilingPass(b, srv, true)
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N*benchFrames)/elapsed.Seconds(), "frames/s")
	})
	for _, bc := range []struct {
		name   string
		url    string
		queue  int
		closed bool // Close with a context that has ended
	}{
		{"up", srv.URL, benchFrames/10 + 1, false},
		{"up-overflow", srv.URL, 0, false},
		{"down", "http://127.0.0.1:1", benchFrames/10 + 1, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var elapsed, ceiling time.Duration
			var overflow int64
			for b.Loop() {
				if bc.closed {
					ceiling += time.Duration(float64(benchFrames) / first * float64(time.Second))
				} else {
					ceiling += ceilingPass(b, srv, false)
					b.StartTimer()
				}
				d, st, del := sinkPass(b, bc.url, bc.queue, bc.closed)
				elapsed += d
				overflow += st.Overflow
				if !bc.closed && !del.Delivered || bc.closed && del.SpooledPoints != benchFrames {
					b.Fatalf("delivery %+v", del)
				}
			}
			fps := float64(b.N*benchFrames) / elapsed.Seconds()
			b.ReportMetric(fps, "frames/s")
			b.ReportMetric(float64(b.N*benchFrames)/ceiling.Seconds(), "ceiling-frames/s")
			b.ReportMetric(ceiling.Seconds()/elapsed.Seconds(), "ratio")
			b.ReportMetric(float64(overflow)/float64(b.N*benchFrames), "overflow")
		})
	}
}

// benchBlocks returns the benchmark run's frames in 10-frame blocks.
func benchBlocks() []*daq.Block {
	var blocks []*daq.Block
	for i := 0; i < benchFrames; i += 10 {
		blk := daq.NewBlock(len(testLayout), 10)
		for k := i; k < i+10; k++ {
			v := blk.Append(frameTime(k))
			for j := range v {
				v[j] = serverValue(k, j)
			}
		}
		blocks = append(blocks, blk)
	}
	return blocks
}

// sinkPass records and sinks one run and returns the time to its Close.
func sinkPass(b *testing.B, url string, queue int, closed bool) (time.Duration, SinkStats, runlog.InfluxDelivery) {
	b.StopTimer()
	blocks := benchBlocks()
	id := runlog.NewRunID(testEpoch)
	m := testManifest(id)
	rec, err := runlog.Create(b.TempDir(), m, []byte(testProtocol), []byte(testRig), clock.NewReal())
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSink(SinkConfig{Config: Config{URL: url}, RunDir: rec.Dir(), RunID: id, Rig: m.Rig,
		Layout: m.Layout, Epoch: m.Epoch, QueueBlocks: queue})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	if closed {
		cancel()
	}
	defer cancel()
	b.StartTimer()
	start := time.Now()
	for _, blk := range blocks {
		if err := rec.AppendBlock(blk); err != nil {
			b.Fatal(err)
		}
		s.Frames(blk)
	}
	if err := rec.Sync(); err != nil {
		b.Fatal(err)
	}
	res := runlog.Result{Outcome: runlog.OutcomePass, DurationS: 200}
	del, err := s.Close(ctx, &res)
	if err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	b.StopTimer()
	if err := rec.Close(res); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	return d, s.Stats(), del
}

// ceilingPass posts the benchmark run's points, pre-encoded and compressed
// as the sink would (batches of 5,000), one request after the other, and
// returns the time the posts took: what the server takes from one writer.
// The benchmark timer is stopped on return; if timed, it ran during the
// posts.
func ceilingPass(b *testing.B, srv *influxtest.Server, timed bool) time.Duration {
	b.StopTimer()
	id := runlog.NewRunID(testEpoch)
	enc := newLPEncoder(id, "sim", testLayout, nil, testEpoch)
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	var bodies [][]byte
	for _, blk := range benchBlocks() {
		for i := range blk.Len() {
			enc.frame(blk.Times[i], blk.Frame(i))
			if enc.points == DefaultBatchSize {
				var buf bytes.Buffer
				if err := gzipBatch(zw, &buf, enc.buf, int64(enc.points)); err != nil {
					b.Fatal(err)
				}
				bodies = append(bodies, buf.Bytes())
				enc.reset()
			}
		}
	}
	url := srv.URL + "/api/v2/write?bucket=" + influxtest.Database + "&precision=ns"
	client := &http.Client{Timeout: time.Minute}
	defer client.CloseIdleConnections()
	if timed {
		b.StartTimer()
	}
	start := time.Now()
	for _, body := range bodies {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			b.Fatal(fmt.Errorf("ceiling write: %s", resp.Status))
		}
	}
	d := time.Since(start)
	b.StopTimer()
	return d
}
