package influxtest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Database is the database Start creates: the default bucket of mockloop
// ("mockloop" on 1.8 is that database with its default retention policy).
const Database = "mockloop"

// Timeouts of the server's life cycle.
const (
	startTimeout = 60 * time.Second // until /ping answers
	stopTimeout  = 20 * time.Second // from SIGTERM until it is killed
)

// Server is a running (or stopped) private InfluxDB server.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:<port>; it stays the
	// same across Stop and Restart.
	URL string
	// Dir holds the server's config, log and data.
	Dir string

	t      testing.TB
	bin    string
	config string
	log    string
	port   int
	http   *http.Client

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// Binary returns the path of the influxd binary to use: $MOCKLOOP_INFLUXD
// if set, else .cache/bin/influxd in the module root (the directory with
// go.mod, found by walking up from the working directory). It fails if the
// file does not exist.
func Binary() (string, error) {
	if p := os.Getenv("MOCKLOOP_INFLUXD"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("influxtest: $MOCKLOOP_INFLUXD: %w", err)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("influxtest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("influxtest: no go.mod above the working directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, ".cache", "bin", "influxd")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("influxtest: %w", err)
	}
	return p, nil
}

// Start starts a new server for the test, waits until it answers and
// creates Database. It is stopped by t's cleanup. Without a binary (see
// Binary) the test is skipped, or fails when $CI is set. With -short, as
// `make test-arm` runs the suite under emulation, the test is skipped: the
// server is a native program, and `make test` runs these tests natively.
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: starts an InfluxDB server")
	}
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("influxd not built (CI must not skip): %v", err)
		}
		t.Skipf("influxd not built: run make influxd (%v)", err)
	}
	s := &Server{
		t:    t,
		bin:  bin,
		Dir:  t.TempDir(), // before Cleanup(Stop): cleanups run last first
		http: &http.Client{Timeout: 60 * time.Second},
	}
	s.config = filepath.Join(s.Dir, "influxdb.conf")
	s.log = filepath.Join(s.Dir, "influxd.log")
	t.Cleanup(func() {
		if t.Failed() {
			s.logTail()
		}
		s.Stop()
	})
	// A free port found by listening may be taken again before influxd
	// binds it; try a few.
	for attempt := 1; ; attempt++ {
		if err := s.writeConfig(); err != nil {
			t.Fatal(err)
		}
		err := s.start()
		if err == nil {
			break
		}
		if attempt == 3 {
			s.logTail()
			t.Fatalf("influxtest: start: %v", err)
		}
	}
	if _, err := s.post("/query", url.Values{"q": {"CREATE DATABASE " + Database}}); err != nil {
		t.Fatalf("influxtest: create database: %v", err)
	}
	return s
}

// configTemplate is the server's config: loopback only, no usage
// reporting, no self-monitoring database, Flux on, and quiet logs. Paths and
// ports are filled in.
const configTemplate = `reporting-disabled = true
bind-address = "127.0.0.1:%d"

[meta]
  dir = %s
  logging-enabled = false

[data]
  dir = %s
  wal-dir = %s
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  log-enabled = false
  suppress-write-log = true
  flux-enabled = true
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
`

// writeConfig picks two free loopback ports (HTTP, RPC) and writes the
// config with them.
func (s *Server) writeConfig() error {
	httpPort, err := freePort()
	if err != nil {
		return err
	}
	rpcPort, err := freePort()
	if err != nil {
		return err
	}
	q := func(name string) string { return strconv.Quote(filepath.Join(s.Dir, name)) }
	conf := fmt.Sprintf(configTemplate, rpcPort, q("meta"), q("data"), q("wal"), httpPort)
	s.port = httpPort
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	return os.WriteFile(s.config, []byte(conf), 0o644)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("influxtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs influxd with the config and waits until /ping answers.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("already running")
	}
	logf, err := os.OpenFile(s.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "run", "-config", s.config)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = serverEnv()
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("influxd exited during start-up (%v); see %s", cmd.ProcessState, s.log)
		default:
		}
		if s.ping() {
			return nil
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			return fmt.Errorf("influxd did not answer /ping within %v; see %s", startTimeout, s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serverEnv is the test's environment without INFLUXDB_* variables, which
// influxd would take as config overrides (a developer's own server settings
// must not leak into the test server).
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INFLUXDB_") {
			env = append(env, kv)
		}
	}
	return env
}

// ping reports whether the server answers /ping.
func (s *Server) ping() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(s.URL + "/ping")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusNoContent
}

// Stop stops the server: SIGTERM, then SIGKILL if it has not exited within
// 20 s. Its data stays for Restart. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		s.t.Logf("influxtest: influxd did not stop within %v of SIGTERM; killing it", stopTimeout)
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Restart starts a stopped server again, on the same port and with the same
// data, and waits until it answers: the end of a simulated outage. If it
// cannot, it fails the test Start was given and ends the calling goroutine,
// which may be that of a subtest (Fatalf may not be called there on the
// parent).
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.logTail()
		s.t.Errorf("influxtest: restart: %v", err)
		runtime.Goexit()
	}
}

// logTail logs the end of the server's log, for a failed test.
func (s *Server) logTail() {
	b, err := os.ReadFile(s.log)
	if err != nil || len(b) == 0 {
		return
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	s.t.Logf("influxd log (%s), last bytes:\n%s", s.log, b)
}

// post POSTs a form-less request with query parameters to path and returns
// the body of a 2xx answer.
func (s *Server) post(path string, q url.Values) ([]byte, error) {
	resp, err := s.http.Post(s.URL+path+"?"+q.Encode(), "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: %s: %s", path, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// Series is one series of an InfluxQL result.
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	// Values are the rows; numbers are json.Number, times integer
	// nanoseconds since the Unix epoch.
	Values [][]any `json:"values"`
}

// InfluxQL runs an InfluxQL query on Database and returns the series of its
// first statement; an error in the answer fails the test.
func (s *Server) InfluxQL(t testing.TB, q string) []Series {
	t.Helper()
	body, err := s.post("/query", url.Values{"db": {Database}, "q": {q}, "epoch": {"ns"}})
	if err != nil {
		t.Fatalf("influxtest: %s: %v", q, err)
	}
	var r struct {
		Results []struct {
			Series []Series `json:"series"`
			Error  string   `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("influxtest: %s: %v", q, err)
	}
	if r.Error != "" {
		t.Fatalf("influxtest: %s: %s", q, r.Error)
	}
	if len(r.Results) == 0 {
		return nil
	}
	if r.Results[0].Error != "" {
		t.Fatalf("influxtest: %s: %s", q, r.Results[0].Error)
	}
	return r.Results[0].Series
}

// Float returns the value in row 0, column col of the first series as a
// float64, or NaN if there is none: the shape of an aggregate query's
// answer.
func Float(series []Series, col string) float64 {
	if len(series) == 0 || len(series[0].Values) == 0 {
		return math.NaN()
	}
	for i, c := range series[0].Columns {
		if c == col {
			if n, ok := series[0].Values[0][i].(json.Number); ok {
				f, err := n.Float64()
				if err == nil {
					return f
				}
			}
		}
	}
	return math.NaN()
}

// CountPoints returns the number of points of a measurement with tag run_id
// = runID: the largest COUNT over its fields, since InfluxQL counts field
// values, and a point need not have all fields.
func (s *Server) CountPoints(t testing.TB, measurement, runID string) int64 {
	t.Helper()
	series := s.InfluxQL(t, fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE run_id = %s`, Ident(measurement), Literal(runID)))
	var n int64
	for _, sr := range series {
		for _, row := range sr.Values {
			for i, c := range sr.Columns {
				if !strings.HasPrefix(c, "count_") {
					continue
				}
				if v, ok := row[i].(json.Number); ok {
					if k, err := v.Int64(); err == nil && k > n {
						n = k
					}
				}
			}
		}
	}
	return n
}

// Ident quotes an InfluxQL identifier (measurement, field or tag name).
func Ident(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Literal quotes an InfluxQL string literal.
func Literal(s string) string {
	return `'` + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + `'`
}

// Flux runs a Flux query (POST /api/v2/query, CSV answer) and returns its
// rows, each a map from column name to the value as text; the rows of all
// result tables are concatenated. An error fails the test.
func (s *Server) Flux(t testing.TB, query string) []map[string]string {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "type": "flux"})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v2/query", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/csv")
	resp, err := s.http.Do(req)
	if err != nil {
		t.Fatalf("influxtest: flux: %v", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("influxtest: flux: %v", err)
	}
	if resp.StatusCode/100 != 2 {
		t.Fatalf("influxtest: flux: %s: %s\nquery:\n%s", resp.Status, bytes.TrimSpace(out), query)
	}
	rows, err := ParseFluxCSV(out)
	if err != nil {
		t.Fatalf("influxtest: flux: %v\nquery:\n%s", err, query)
	}
	return rows
}

// ParseFluxCSV parses a Flux query's CSV answer: tables separated by blank
// lines, each with a header row; annotation rows (#datatype, ...) are
// skipped. An error table (columns "error" and "reference") is returned as
// an error.
func ParseFluxCSV(b []byte) ([]map[string]string, error) {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	var rows []map[string]string
	for _, table := range bytes.Split(b, []byte("\n\n")) {
		var lines [][]byte
		for l := range bytes.Lines(table) {
			if len(bytes.TrimSpace(l)) == 0 || l[0] == '#' {
				continue
			}
			lines = append(lines, l)
		}
		if len(lines) == 0 {
			continue
		}
		r := csv.NewReader(bytes.NewReader(bytes.Join(lines, nil)))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			return nil, err
		}
		header := recs[0]
		for _, rec := range recs[1:] {
			row := make(map[string]string, len(header))
			for i, h := range header {
				if h != "" && i < len(rec) {
					row[h] = rec[i]
				}
			}
			if msg, ok := row["error"]; ok {
				if _, ok := row["reference"]; ok {
					return nil, fmt.Errorf("flux error: %s", msg)
				}
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}
