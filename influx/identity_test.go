package influx

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/internal/influxtest"
	"github.com/mockloop/mockloop/runlog"
)

// runFields reads the fields of the run's point of MeasurementRuns.
func runFields(t *testing.T, srv *influxtest.Server, runID string) map[string]any {
	t.Helper()
	series := srv.InfluxQL(t, "SELECT * FROM runs WHERE run_id = "+influxtest.Literal(runID))
	if len(series) != 1 || len(series[0].Values) != 1 {
		return nil
	}
	f := map[string]any{}
	for i, c := range series[0].Columns {
		f[c] = series[0].Values[0][i]
	}
	return f
}

// TestRunIdentityPoint: the run's start point carries its identity while
// it runs (state running); the end point, at the same time, adds the
// outcome and closes it without losing the identity; a replay after a
// crash writes both sets of fields, state interrupted.
func TestRunIdentityPoint(t *testing.T) {
	srv := influxtest.Start(t)
	r := newServerRun(t, srv, 0)
	m := r.rec.Manifest()
	r.feed(t, 2000)
	var f map[string]any
	waitFor(t, func() bool { f = runFields(t, srv, r.id); return f != nil })
	checkIdentity(t, f, m, RunStateRunning)
	if f["outcome"] != nil {
		t.Errorf("a running run has an outcome: %v", f["outcome"])
	}

	// A crash now: its copy is recovered and replayed below.
	if err := r.rec.Sync(); err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(t.TempDir(), r.id)
	copyDir(t, r.rec.Dir(), crashed)

	if del := r.close(t, time.Minute); !del.Delivered {
		t.Fatalf("delivery %+v", del)
	}
	f = runFields(t, srv, r.id)
	checkIdentity(t, f, m, RunStateClosed)
	if f["outcome"] != "pass" || f["frames"] != json.Number("2000") || f["delivered"] != true {
		t.Errorf("end fields: %v", f)
	}

	// The crashed copy is another run for InfluxDB only by its place: same
	// id. Delete the point, recover and replay: identity and state
	// interrupted come from the record.
	srv.InfluxQL(t, "DELETE FROM runs WHERE run_id = "+influxtest.Literal(r.id))
	if _, err := runlog.Recover(filepath.Dir(crashed)); err != nil {
		t.Fatal(err)
	}
	if _, left, err := Replay(context.Background(), crashed, Config{URL: srv.URL}); err != nil || left != 0 {
		t.Fatalf("Replay: %d left, %v", left, err)
	}
	f = runFields(t, srv, r.id)
	checkIdentity(t, f, m, RunStateInterrupted)
	if f["outcome"] != "interrupted" {
		t.Errorf("outcome after the replay of a crashed run: %v", f["outcome"])
	}
}

// checkIdentity checks the identity fields of a runs point against the
// manifest, and its state.
func checkIdentity(t *testing.T, f map[string]any, m runlog.Manifest, state string) {
	t.Helper()
	if f == nil {
		t.Fatal("no runs point")
	}
	want := map[string]string{"state": state, "protocol": m.Protocol.Name, "protocol_file": m.Protocol.File,
		"protocol_sha256": m.Protocol.SHA256, "rig_config_sha256": m.RigConfigSHA256, "operator": m.Operator,
		"software_version": m.SoftwareVersion, "clock": string(m.Clock), "started": m.Started.UTC().Format(time.RFC3339Nano),
		"rig": m.Rig, "dut_model": "", "calibration": "[]", "build": ""}
	for k, w := range want {
		if g, ok := f[k].(string); !ok || g != w {
			t.Errorf("%s: field %s = %#v, want %q", state, k, f[k], w)
		}
	}
	if len(m.Protocol.SHA256) != 64 || !strings.Contains(m.Protocol.File, "baseline") {
		t.Errorf("the test manifest lacks its hash or file: %+v", m.Protocol)
	}
	if f["sample_rate_hz"] != json.Number("1000") {
		t.Errorf("sample_rate_hz %v", f["sample_rate_hz"])
	}
}
