package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/influx"
	"github.com/mockloop/mockloop/runlog"
)

// spooledRun makes a closed run under runs whose InfluxDB server was down
// throughout: all its points are in its spool.
func spooledRun(t *testing.T, runs string) string {
	t.Helper()
	epoch := time.Date(2026, 11, 20, 23, 15, 2, 0, time.UTC)
	rec, m := newRecord(t, runs, epoch)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	sink, err := influx.NewSink(influx.SinkConfig{Config: influx.Config{URL: down.URL},
		RunDir: rec.Dir(), RunID: m.RunID, Rig: m.Rig, Layout: m.Layout, Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	b := daq.NewBlock(1, 10)
	for i := range 1000 {
		b.Append(time.Duration(i) * time.Millisecond)[0] = 80
		if b.Full() {
			rec.AppendBlock(b)
			sink.Frames(b)
			b.Reset()
		}
	}
	rec.Sync()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res := runlog.Result{Outcome: runlog.OutcomePass, DurationS: 1}
	if _, err := sink.Close(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(res); err != nil {
		t.Fatal(err)
	}
	return m.RunID
}

// newRecord creates the record of a run of one channel under runs,
// started at epoch.
func newRecord(t *testing.T, runs string, epoch time.Time) (*runlog.Record, runlog.Manifest) {
	t.Helper()
	m := runlog.Manifest{RunID: runlog.NewRunID(epoch), Rig: "sim", Layout: []runlog.Channel{{Name: "aop", Unit: "mmHg"}},
		SampleRateHz: 1000, Clock: runlog.ClockVirtual, Epoch: epoch}
	rec, err := runlog.Create(runs, m, []byte("name: p\n"), []byte("name: sim\n"), clock.NewVirtual(epoch))
	if err != nil {
		t.Fatal(err)
	}
	return rec, m
}

func TestSync(t *testing.T) {
	const token = "sync-test-token-never-printed"
	t.Setenv("MOCKLOOP_INFLUX_URL", "")
	t.Setenv("MOCKLOOP_INFLUX_TOKEN", token)
	runs := t.TempDir()
	id := spooledRun(t, runs)

	var o, e bytes.Buffer
	if code := cmdSync([]string{"--runs", runs}, &o, &e); code != exitInvalid {
		t.Errorf("without a URL: exit %d, want %d", code, exitInvalid)
	}

	var ok atomic.Bool
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		if !ok.Load() {
			http.Error(w, "still down", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	o.Reset()
	e.Reset()
	if code := cmdSync([]string{"--runs", runs, "--influx", srv.URL}, &o, &e); code != exitInfra {
		t.Errorf("server down: exit %d, want %d\n%s%s", code, exitInfra, o.String(), e.String())
	}
	if want := id + ": replayed 0 points, 1000 left"; !strings.Contains(o.String(), want) {
		t.Errorf("server down: output %q, want %q", o.String(), want)
	}

	ok.Store(true)
	o.Reset()
	e.Reset()
	t.Setenv("MOCKLOOP_INFLUX_URL", srv.URL)
	if code := cmdSync([]string{"--runs", runs}, &o, &e); code != exitPass {
		t.Errorf("server up: exit %d, want %d\n%s%s", code, exitPass, o.String(), e.String())
	}
	if want := id + ": replayed 1000 points, 0 left, delivered"; !strings.Contains(o.String(), want) {
		t.Errorf("server up: output %q, want %q", o.String(), want)
	}
	if a, _ := auth.Load().(string); a != "Token "+token {
		t.Errorf("Authorization %q", a)
	}
	if strings.Contains(o.String()+e.String(), token) {
		t.Error("token printed")
	}

	o.Reset()
	if code := cmdSync([]string{"--runs", runs}, &o, &e); code != exitPass || !strings.Contains(o.String(), "nothing to sync") {
		t.Errorf("again: exit %d, output %q", code, o.String())
	}
	run, err := runlog.Open(runs + "/" + id)
	if err != nil {
		t.Fatal(err)
	}
	if d := run.Influx(); d == nil || !d.Delivered {
		t.Errorf("result.json influx %+v", d)
	}
}

// `mockloop sync` while a run is being written skips that run with a
// message and exits 0 for the rest; before, it exited 4.
func TestSyncDuringLiveRunSkipsIt(t *testing.T) {
	t.Setenv("MOCKLOOP_INFLUX_TOKEN", "")
	runs := t.TempDir()
	spooledRun(t, runs)
	epoch := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	live, m := newRecord(t, runs, epoch)
	defer live.Close(runlog.Result{Outcome: runlog.OutcomePass})
	sink, err := influx.NewSink(influx.SinkConfig{Config: influx.Config{URL: "http://127.0.0.1:1"},
		RunDir: live.Dir(), RunID: m.RunID, Rig: m.Rig, Layout: m.Layout, Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		sink.Close(ctx, nil)
	}()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	var o, e bytes.Buffer
	if code := cmdSync([]string{"--runs", runs, "--influx", srv.URL}, &o, &e); code != exitPass {
		t.Errorf("exit %d, want %d\n%s%s", code, exitPass, o.String(), e.String())
	}
	if want := m.RunID + ": skipped: still being written"; !strings.Contains(o.String(), want) {
		t.Errorf("output %q, want %q", o.String(), want)
	}
	if !strings.Contains(o.String(), "0 left, delivered") {
		t.Errorf("output %q: the closed run was not synced", o.String())
	}
}
