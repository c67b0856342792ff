package serve

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/runlog"
)

// A start request's frames is checked as `mockloop run --frames` is: bad
// syntax 400, on a server that runs on the wall clock 422, each before
// anything is queued; on virtual time the run keeps 1 frame in N.
func TestStartWithFrames(t *testing.T) {
	wall := newTestServer(t, 1, nil)
	for _, tc := range []struct {
		ts   *testServer
		body string
		code int
		want string
	}{
		{wall, `{"protocol":"short.yaml","frames":"every:0"}`, http.StatusBadRequest, `frames \"every:0\": N must be a whole number from 1`},
		{wall, `{"protocol":"short.yaml","frames":"1/10"}`, http.StatusBadRequest, "want every:N"},
		{wall, `{"protocol":"short.yaml","frames":"every:10"}`, http.StatusUnprocessableEntity, "for dry runs on virtual time only, and the run is on the wall clock"},
	} {
		code, m := tc.ts.call(t, "POST", "/api/runs", tc.body)
		errs, _ := json.Marshal(m["errors"])
		if code != tc.code || !strings.Contains(string(errs), tc.want) {
			t.Errorf("%s: %d %s, want %d saying %q", tc.body, code, errs, tc.code, tc.want)
		}
	}
	if sums, _ := runlog.List(wall.runsDir); len(sums) != 0 {
		t.Errorf("%d runs started by refused requests", len(sums))
	}
	paced := newTestServer(t, 50, nil)
	code, e := paced.call(t, "POST", "/api/runs", `{"protocol":"short.yaml","frames":"every:10"}`)
	if code != http.StatusAccepted || e["run_id"] == nil {
		t.Fatalf("start every:10 at 50×: %d %v", code, e)
	}
	id := e["run_id"].(string)
	res := paced.waitIdle(t, id)
	r, err := runlog.Open(filepath.Join(paced.runsDir, id))
	var acquired int64
	for _, s := range res.Steps {
		acquired += s.Frames
	}
	// about a tenth (the frames between steps belong to none)
	if err != nil || r.Manifest.FramesKeptEvery != 10 || res.Frames < acquired/12 || res.Frames > acquired/8 {
		t.Errorf("record %v: frames_kept_every %d, %d frames recorded of the steps' %d", err, r.Manifest.FramesKeptEvery, res.Frames, acquired)
	}
}
