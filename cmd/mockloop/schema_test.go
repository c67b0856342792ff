package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/influx"
	"github.com/mockloop/mockloop/internal/influxtest"
	"github.com/mockloop/mockloop/internal/schematest"
	"github.com/mockloop/mockloop/runlog"
)

// noCI clears what JobFromEnv reads, so that a test run inside a CI job
// records what the test says.
func noCI(t *testing.T) {
	for _, k := range []string{"GITHUB_RUN_ID", "GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_JOB", "RUNNER_NAME",
		"CI_JOB_ID", "CI_JOB_URL", "CI_JOB_NAME", "CI_RUNNER_DESCRIPTION", "MOCKLOOP_JOB_URL", "MOCKLOOP_INFLUX_URL", "MOCKLOOP_INFLUX_TOKEN"} {
		t.Setenv(k, "")
	}
}

// judgedProtocol writes a 2 s protocol whose one criterion makes the run
// pass, fail or abort.
func judgedProtocol(t *testing.T, dir, name, criterion string) string {
	t.Helper()
	p := filepath.Join(dir, name+".yaml")
	body := "protocol: 1\nname: " + name + "\nsteps:\n  - hold: 2 s\n    criteria: [" + criterion + "]\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// validRecord fails t unless the run's manifest.json and result.json
// validate against the published schemas.
func validRecord(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{"manifest", "result"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := schematest.Validate(schematest.Compile(t, name), b); err != nil {
			t.Errorf("%s/%s.json against %s.schema.json: %v\n%s", filepath.Base(dir), name, name, err, b)
		}
	}
}

// The records of real pass, fail, aborted and interrupted runs follow the
// published schemas, and say which rig on which host ran them for which
// CI job.
func TestRunRecordsFollowSchemas(t *testing.T) {
	chdirRoot(t)
	noCI(t)
	dir := t.TempDir()
	host, _ := os.Hostname()
	for _, tc := range []struct {
		name, criterion string
		code            int
		outcome         runlog.Outcome
		env             map[string]string
		job             *runlog.Job
	}{
		{"pass", "{id: P-1, measure: mean(aop), min: 10 mmHg}", exitPass, runlog.OutcomePass, nil, nil},
		{"fail", "{measure: mean(aop), over: last 1 s, min: 500 mmHg}", exitFail, runlog.OutcomeFail,
			map[string]string{"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "lab/pump", "GITHUB_RUN_ID": "42", "GITHUB_JOB": "hil", "RUNNER_NAME": "rig-sim"},
			&runlog.Job{System: "github", URL: "https://github.com/lab/pump/actions/runs/42", ID: "42", Name: "hil", Runner: "rig-sim"}},
		{"aborted", "{measure: mean(aop), min: 500 mmHg, on_fail: abort}", exitAborted, runlog.OutcomeAborted,
			map[string]string{"CI_JOB_ID": "7", "CI_JOB_URL": "https://gitlab.example/lab/pump/-/jobs/7"},
			&runlog.Job{System: "gitlab", URL: "https://gitlab.example/lab/pump/-/jobs/7", ID: "7"}},
	} {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		runs := filepath.Join(dir, tc.name)
		code, out, errOut := cli(t, "run", "--quiet", "--runs", runs, judgedProtocol(t, dir, tc.name, tc.criterion))
		for k := range tc.env {
			t.Setenv(k, "")
		}
		if code != tc.code {
			t.Fatalf("%s: exit %d, want %d\n%s%s", tc.name, code, tc.code, out, errOut)
		}
		list, err := runlog.List(runs)
		if err != nil || len(list) != 1 {
			t.Fatalf("%s: runs %+v %v", tc.name, list, err)
		}
		validRecord(t, list[0].Dir)
		r, err := runlog.Open(list[0].Dir)
		if err != nil {
			t.Fatal(err)
		}
		res, m := r.Result, r.Manifest
		if res.Outcome != tc.outcome || res.Rig != "sim" || m.Rig != "sim" || res.Host != host || m.Host != host {
			t.Errorf("%s: outcome %s, rig %q/%q, host %q/%q; want %s, sim, %q", tc.name, res.Outcome, res.Rig, m.Rig, res.Host, m.Host, tc.outcome, host)
		}
		if (res.Job == nil) != (tc.job == nil) || res.Job != nil && (*res.Job != *tc.job || *m.Job != *tc.job) {
			t.Errorf("%s: job %+v (manifest %+v), want %+v", tc.name, res.Job, m.Job, tc.job)
		}
		if tc.name == "pass" {
			interrupted(t, runs, list[0].Dir)
		}
	}
}

// interrupted makes the closed run in dir look as a killed process leaves
// it (state running, no result), has the next command recover it, and
// validates what recovery wrote.
func interrupted(t *testing.T, runs, dir string) {
	t.Helper()
	mp := filepath.Join(dir, "manifest.json")
	b, err := os.ReadFile(mp)
	if err != nil {
		t.Fatal(err)
	}
	running := strings.Replace(string(b), `"state": "closed"`, `"state": "running"`, 1)
	if running == string(b) {
		t.Fatalf("manifest format changed: %s", b)
	}
	os.WriteFile(mp, []byte(running), 0o644)
	os.Remove(filepath.Join(dir, "result.json"))
	os.Remove(filepath.Join(dir, "seal.json"))
	if code, out, errOut := cli(t, "runs", "--runs", runs); code != exitPass || !strings.Contains(errOut, "closed it as interrupted") {
		t.Fatalf("runs: exit %d\n%s%s", code, out, errOut)
	}
	validRecord(t, dir)
	if r, err := runlog.Open(dir); err != nil || r.Result.Outcome != runlog.OutcomeInterrupted || r.Manifest.State != runlog.StateInterrupted || r.Result.Rig != "sim" {
		t.Errorf("recovered: %+v %v", r, err)
	}
}

// --require-influx without an InfluxDB URL is invalid input, refused
// before anything moves; with a server that is down, the run goes to its
// end, its points spooled, and exits 4 saying so.
func TestRequireInfluxRefusedOrDown(t *testing.T) {
	chdirRoot(t)
	noCI(t)
	dir := t.TempDir()
	proto := judgedProtocol(t, dir, "p", "{measure: mean(aop), min: 10 mmHg}")
	runs := filepath.Join(dir, "runs")
	code, out, errOut := cli(t, "run", "--quiet", "--require-influx", "--runs", runs, proto)
	if code != exitInvalid || !strings.Contains(errOut, "--require-influx: no InfluxDB URL") {
		t.Errorf("no URL: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(runs); !os.IsNotExist(err) {
		t.Errorf("no URL: %s made (%v)", runs, err)
	}

	code, out, errOut = cli(t, "run", "--quiet", "--require-influx", "--influx", "http://127.0.0.1:1", "--runs", runs, proto)
	if code != exitInfra || !strings.Contains(errOut, "--require-influx: the run's points did not all reach InfluxDB") || !strings.Contains(errOut, "`mockloop sync` replays them") {
		t.Errorf("server down: exit %d, want %d\n%s%s", code, exitInfra, out, errOut)
	}
	list, err := runlog.List(runs)
	if err != nil || len(list) != 1 {
		t.Fatalf("runs %+v %v", list, err)
	}
	validRecord(t, list[0].Dir)
	r, err := runlog.Open(list[0].Dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Result.Influx; r.Result.Outcome != runlog.OutcomePass || d == nil || d.Delivered || d.SpooledPoints < r.Result.Frames || d.Error == "" {
		t.Errorf("server down: outcome %s, influx %+v, %d frames", r.Result.Outcome, d, r.Result.Frames)
	}
	if !influx.HasSpool(list[0].Dir) {
		t.Error("server down: no spool")
	}
}

// --require-influx with InfluxDB up: every frame arrives, exit 0.
func TestRequireInfluxDelivered(t *testing.T) {
	srv := influxtest.Start(t)
	chdirRoot(t)
	noCI(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	code, out, errOut := cli(t, "run", "--quiet", "--require-influx", "--influx", srv.URL, "--runs", runs, judgedProtocol(t, dir, "p", "{measure: mean(aop), min: 10 mmHg}"))
	if code != exitPass || strings.Contains(errOut, "require-influx") {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitPass, out, errOut)
	}
	list, err := runlog.List(runs)
	if err != nil || len(list) != 1 {
		t.Fatalf("runs %+v %v", list, err)
	}
	r, err := runlog.Open(list[0].Dir)
	if err != nil {
		t.Fatal(err)
	}
	validRecord(t, list[0].Dir)
	if d := r.Result.Influx; d == nil || !d.Delivered || d.SpooledPoints != 0 {
		t.Errorf("influx %+v", d)
	}
	if n := srv.CountPoints(t, "frames", r.Manifest.RunID); n != r.Result.Frames {
		t.Errorf("InfluxDB holds %d frames, the record %d", n, r.Result.Frames)
	}
}
