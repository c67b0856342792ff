package influxtest

import (
	"bytes"
	"net/http"
	"testing"
	"time"
)

// write posts line protocol to the server's v2 write API, as the sink does.
func write(t *testing.T, s *Server, lp string) {
	t.Helper()
	resp, err := http.Post(s.URL+"/api/v2/write?bucket="+Database+"&precision=ns", "text/plain", bytes.NewBufferString(lp))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write: %s", resp.Status)
	}
}

func TestServer(t *testing.T) {
	start := time.Now()
	s := Start(t)
	t.Logf("started in %v at %s", time.Since(start), s.URL)
	write(t, s, "frames,rig=sim,run_id=r1 aop=80,lvp=10 1000000000\nframes,rig=sim,run_id=r1 aop=90 2000000000\nframes,rig=sim,run_id=r2 aop=1 1000000000\n")
	if n := s.CountPoints(t, "frames", "r1"); n != 2 {
		t.Errorf("CountPoints = %d, want 2", n)
	}
	if m := Float(s.InfluxQL(t, `SELECT MEAN(aop) FROM frames WHERE run_id = 'r1'`), "mean"); m != 85 {
		t.Errorf("mean = %v, want 85", m)
	}
	rows := s.Flux(t, `from(bucket: "mockloop") |> range(start: 0) |> filter(fn: (r) => r._measurement == "frames" and r._field == "aop") |> group(columns: ["run_id"]) |> sum()`)
	t.Logf("%v", rows)

	s.Stop()
	if s.ping() {
		t.Fatal("answers after Stop")
	}
	t0 := time.Now()
	s.Restart()
	t.Logf("restarted in %v", time.Since(t0))
	if n := s.CountPoints(t, "frames", "r1"); n != 2 {
		t.Errorf("after restart: CountPoints = %d, want 2", n)
	}
}
