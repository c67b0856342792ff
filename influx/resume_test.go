package influx

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/internal/influxtest"
	"github.com/mockloop/mockloop/runlog"
)

// A run killed while InfluxDB was down and then resumed without `mockloop
// sync` first: the resumed part's sink carries over what the first part
// still owed. Before, it overwrote spool/state.json, and result.json said
// delivered while 129,726 of 1,474,280 frames never reached InfluxDB.
func TestResumeCarriesOverWhatInfluxDBIsOwed(t *testing.T) {
	srv := influxtest.Start(t)
	srv.Stop() // the first part delivers nothing
	first := newServerRun(t, srv, 0)
	first.rec.Event(runlog.Event{Kind: runlog.KindRunStart})
	first.sink.Event(runlog.Event{Kind: runlog.KindRunStart})
	first.feed(t, 3000)
	if err := first.rec.Sync(); err != nil {
		t.Fatal(err)
	}
	// SIGKILL: what is on disk now is all there is.
	crashed := filepath.Join(t.TempDir(), first.id)
	copyDir(t, first.rec.Dir(), crashed)
	t.Cleanup(func() { first.close(t, time.Second) })
	srv.Restart()

	if _, err := runlog.Recover(filepath.Dir(crashed)); err != nil {
		t.Fatal(err)
	}
	rec, _, err := runlog.Reopen(crashed, clock.NewReal())
	if err != nil {
		t.Fatal(err)
	}
	m := rec.Manifest()
	sink, err := NewSink(SinkConfig{Config: Config{URL: srv.URL, Token: testToken, RetryMin: 50 * time.Millisecond},
		RunDir: crashed, RunID: m.RunID, Rig: m.Rig, Layout: m.Layout, Epoch: m.Epoch})
	if err != nil {
		t.Fatal(err)
	}
	second := &serverRun{id: first.id, rec: rec, sink: sink, blk: daq.NewBlock(len(m.Layout), 10), n: first.n, sum: first.sum, logs: first.logs}
	second.feed(t, 3000)
	d := second.close(t, time.Minute)

	frames := srv.CountPoints(t, MeasurementFrames, first.id)
	if d.Delivered && frames != 6000 {
		t.Fatalf("result says delivered with %d of 6000 frames in InfluxDB", frames)
	}
	if d.Delivered {
		t.Fatal("delivered, but the first part's events were never written")
	}
	if frames != 6000 {
		t.Errorf("after the resumed part: %d frames in InfluxDB, want 6000 (the first part's re-read from the record)", frames)
	}
	if _, left, err := Replay(context.Background(), crashed, Config{URL: srv.URL, Token: testToken}); err != nil || left != 0 {
		t.Fatalf("sync: %d left, %v", left, err)
	}
	second.checkExactlyOnce(t, srv)
	if n := srv.CountPoints(t, MeasurementEvents, first.id); n < 2 {
		t.Errorf("%d event points, want the first part's run.start and run.interrupted at least", n)
	}
	run, err := runlog.Open(crashed)
	if err != nil {
		t.Fatal(err)
	}
	if run.Influx() == nil || !run.Influx().Delivered {
		t.Errorf("after sync: influx %+v, want delivered", run.Influx())
	}
}

// InfluxDB is never ahead of the record: before the sink sends a batch, the
// record writes the frames it holds in memory to its files (Written), so a
// process killed after a batch was acknowledged still has those frames on
// disk. Before, the frames the record had buffered (up to 64 KiB) could be
// in InfluxDB and lost from the record by a SIGKILL.
func TestInfluxDBNeverAheadOfTheRecord(t *testing.T) {
	srv := influxtest.Start(t)
	id := runlog.NewRunID(testEpoch)
	m := testManifest(id)
	rec, err := runlog.Create(t.TempDir(), m, []byte(testProtocol), []byte(testRig), clock.NewReal())
	if err != nil {
		t.Fatal(err)
	}
	sink, err := NewSink(SinkConfig{Config: Config{URL: srv.URL, Token: testToken},
		RunDir: rec.Dir(), RunID: id, Rig: m.Rig, Layout: m.Layout, Epoch: m.Epoch, Written: rec.Flush})
	if err != nil {
		t.Fatal(err)
	}
	r := &serverRun{id: id, rec: rec, sink: sink, blk: daq.NewBlock(len(m.Layout), 10), logs: new(syncBuffer)}
	r.feed(t, 1000) // 36 kB: within the record's buffer, not yet synced
	waitFor(t, func() bool { return srv.CountPoints(t, MeasurementFrames, id) == 1000 })
	// SIGKILL now: only what reached the files is left.
	run, err := runlog.Open(rec.Dir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := run.Frames(nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != 1000 {
		t.Errorf("InfluxDB acknowledged 1000 frames, the record's files hold %d", st.Frames)
	}
	r.close(t, time.Minute)
}
