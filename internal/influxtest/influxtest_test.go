package influxtest

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"strings"
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
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL %s: want loopback", s.URL)
	}
	write(t, s, "frames,rig=sim,run_id=r1 aop=80,lvp=10 1000000000\n"+
		"frames,rig=sim,run_id=r1 aop=90 2000000000\n"+
		"frames,rig=sim,run_id=r1 aop=90 2000000000\n"+ // the same point again
		"frames,rig=sim,run_id=r2 aop=1 1000000000\n")
	if n := s.CountPoints(t, "frames", "r1"); n != 2 {
		t.Errorf("CountPoints = %d, want 2", n)
	}
	if m := Float(s.InfluxQL(t, `SELECT MEAN(aop) FROM frames WHERE run_id = 'r1'`), "mean"); m != 85 {
		t.Errorf("mean = %v, want 85", m)
	}
	rows := s.Flux(t, `from(bucket: "mockloop") |> range(start: 0)
  |> filter(fn: (r) => r._measurement == "frames" and r._field == "aop")
  |> group(columns: ["run_id"]) |> sum()`)
	got := map[string]string{}
	for _, r := range rows {
		got[r["run_id"]] = r["_value"]
	}
	if fmt.Sprint(got) != "map[r1:170 r2:1]" {
		t.Errorf("Flux sums %v, want r1 170, r2 1", got)
	}

	s.Stop()
	if s.ping() {
		t.Fatal("answers after Stop")
	}
	s.Stop() // a second Stop does nothing
	url := s.URL
	s.Restart()
	if s.URL != url {
		t.Errorf("URL after Restart %s, want %s", s.URL, url)
	}
	if n := s.CountPoints(t, "frames", "r1"); n != 2 {
		t.Errorf("after Restart: CountPoints = %d, want 2", n)
	}
}

func TestParseFluxCSV(t *testing.T) {
	in := "#datatype,string,long,double\r\n#group,false,false,false\r\n#default,_result,,\r\n" +
		",result,table,_value\r\n,_result,0,1.5\r\n,_result,1,2.5\r\n\r\n" +
		",result,table,_value,run_id\r\n,_result,2,3,r9\r\n\r\n"
	rows, err := ParseFluxCSV([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0]["_value"] != "1.5" || rows[2]["run_id"] != "r9" || rows[2]["table"] != "2" {
		t.Errorf("rows %v", rows)
	}
	if _, err := ParseFluxCSV([]byte(",error,reference\r\n,bad query,897\r\n")); err == nil || !strings.Contains(err.Error(), "bad query") {
		t.Errorf("error table: %v", err)
	}
}

// fakeTB records how Start gave up.
type fakeTB struct {
	testing.TB
	skipped, fatal string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestNoBinary: without influxd a test is skipped, but under CI it fails.
func TestNoBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: Start skips before it looks for the binary")
	}
	t.Setenv("MOCKLOOP_INFLUXD", t.TempDir()+"/no-influxd")
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		f := &fakeTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Start(f)
		}()
		<-done
		switch {
		case ci == "" && (f.skipped == "" || f.fatal != ""):
			t.Errorf("without CI: skipped %q, fatal %q; want a skip", f.skipped, f.fatal)
		case ci != "" && (f.fatal == "" || f.skipped != ""):
			t.Errorf("under CI: skipped %q, fatal %q; want a failure", f.skipped, f.fatal)
		}
	}
}
