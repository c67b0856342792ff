package influx

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/runlog"
)

// testToken is a token that must never reach the run directory or a log.
const testToken = "s3cr3t-T0KEN-do-not-leak"

// fakeInflux is an InfluxDB write endpoint in memory. It keeps one line per
// series and timestamp, as InfluxDB keeps one point, and counts how often a
// point was written again.
type fakeInflux struct {
	*httptest.Server
	mu       sync.Mutex
	status   int           // answer to writes; 0 is 204
	hold     chan struct{} // if set, writes wait until it is closed
	points   map[string]string
	rewrites int
	requests int
	auth     []string
}

func newFakeInflux(t *testing.T) *fakeInflux {
	f := &fakeInflux{points: make(map[string]string)}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeInflux) setStatus(code int) {
	f.mu.Lock()
	f.status = code
	f.mu.Unlock()
}

func (f *fakeInflux) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if hold := f.hold; hold != nil {
		f.mu.Unlock()
		<-hold
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	f.requests++
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	if r.URL.Path != "/api/v2/write" || r.URL.Query().Get("precision") != "ns" || r.URL.Query().Get("bucket") == "" {
		http.Error(w, "bad request "+r.URL.String(), http.StatusNotFound)
		return
	}
	if f.status != 0 {
		http.Error(w, "fake failure", f.status)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		key := seriesAndTime(line)
		if _, ok := f.points[key]; ok {
			f.rewrites++
		}
		f.points[key] = line
	}
	w.WriteHeader(http.StatusNoContent)
}

// seriesAndTime is a line's identity: the series (measurement and tags) and
// the timestamp. Test lines have no escaped spaces in fields' strings
// before the first space, so the first space ends the series.
func seriesAndTime(line string) string {
	series, _, _ := strings.Cut(line, " ")
	return series + "@" + line[strings.LastIndexByte(line, ' ')+1:]
}

// count returns the number of points of a measurement.
func (f *fakeInflux) count(measurement string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k := range f.points {
		if strings.HasPrefix(k, measurement+",") {
			n++
		}
	}
	return n
}

// keys returns the identities of the points of a measurement.
func (f *fakeInflux) keys(measurement string) map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	ks := make(map[string]bool)
	for k := range f.points {
		if strings.HasPrefix(k, measurement+",") {
			ks[k] = true
		}
	}
	return ks
}

// lines returns the lines of a measurement.
func (f *fakeInflux) lines(measurement string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ls []string
	for k, l := range f.points {
		if strings.HasPrefix(k, measurement+",") {
			ls = append(ls, l)
		}
	}
	return ls
}

// sinkRun is a record and a sink of one test run, fed the same blocks.
type sinkRun struct {
	rec  *runlog.Record
	sink *Sink
	blk  *daq.Block
	n    int // frames so far
	logs *bytes.Buffer
}

// newSinkRun creates a record in a temporary runs directory and a sink to
// url for it; adjust changes the sink's config.
func newSinkRun(t testing.TB, url string, adjust func(*SinkConfig)) *sinkRun {
	t.Helper()
	m := testManifest(testRunID)
	rec, err := runlog.Create(t.TempDir(), m, []byte(testProtocol), []byte(testRig), clock.NewVirtual(testEpoch))
	if err != nil {
		t.Fatal(err)
	}
	logs := new(bytes.Buffer)
	var mu sync.Mutex
	cfg := SinkConfig{
		Config: Config{URL: url, Token: testToken, BatchSize: 1000, Timeout: 2 * time.Second,
			RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
			Logf: func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				logs.WriteString(strings.TrimSpace(fmt.Sprintf(format, args...)) + "\n")
			}},
		RunDir: rec.Dir(), RunID: m.RunID, Rig: m.Rig, Layout: m.Layout, Epoch: m.Epoch,
		FlushInterval: 20 * time.Millisecond,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	s, err := NewSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &sinkRun{rec: rec, sink: s, blk: daq.NewBlock(len(m.Layout), 10), logs: logs}
}

// feed appends n frames (in blocks of 10) to the record and the sink.
func (r *sinkRun) feed(t testing.TB, n int) {
	t.Helper()
	for end := r.n + n; r.n < end; {
		k := min(10, end-r.n)
		fillBlock(r.blk, r.n, k)
		if err := r.rec.AppendBlock(r.blk); err != nil {
			t.Fatal(err)
		}
		r.sink.Frames(r.blk)
		r.n += k
	}
}

// close syncs the record, closes the sink within d, then the record.
func (r *sinkRun) close(t testing.TB, d time.Duration) (runlog.InfluxDelivery, runlog.Result) {
	t.Helper()
	if err := r.rec.Sync(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	res := runlog.Result{Outcome: runlog.OutcomePass, DurationS: frameTime(r.n).Seconds()}
	del, err := r.sink.Close(ctx, &res)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.rec.Close(res); err != nil {
		t.Fatal(err)
	}
	return del, res
}

// spoolFiles returns the batch files in the run's spool.
func spoolFiles(t testing.TB, runDir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(runDir, spoolDirName, "*"+spoolExt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkNoToken fails if the token is in any file under dir or in logs.
func checkNoToken(t testing.TB, dir string, logs string) {
	t.Helper()
	if strings.Contains(logs, testToken) {
		t.Errorf("token in the logs")
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(testToken)) {
			t.Errorf("token in %s", p)
		}
		if strings.HasSuffix(p, spoolExt) {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err == nil {
				if u, err := io.ReadAll(zr); err == nil && bytes.Contains(u, []byte(testToken)) {
					t.Errorf("token in %s (compressed)", p)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLineProtocol(t *testing.T) {
	layout := []runlog.Channel{{Name: "aop", Unit: "mmHg"}, {Name: "q ao,x=1", Unit: "L/min"}}
	e := newLPEncoder(testRunID, "bench 1", layout, nil, time.Unix(1, 0))
	if !e.frame(2*time.Millisecond, []float64{80.123456789, 1e-7}) {
		t.Fatal("frame with values not encoded")
	}
	if e.frame(3*time.Millisecond, []float64{math.NaN(), math.Inf(1)}) {
		t.Error("frame without a finite value encoded")
	}
	e.frame(4*time.Millisecond, []float64{math.NaN(), 2.5})
	e.event(runlog.Event{T: 1.5, Kind: "criterion", Step: "2", Msg: `mean "aop" \ ok` + "\nnext", Data: []byte(`{"n":1,"v":null}`)}) // event data is JSON (Event.Data)
	e.event(runlog.Event{T: 1.5, Kind: "criterion", Msg: "second at the same time"})
	e.event(runlog.Event{T: 1.5, Kind: "setpoint", Msg: "other series"})
	sv := 70.5
	e.beat(runlog.Beat{T: 2, Channel: "aop", Systolic: 120, Diastolic: 80, Mean: 93.3, PulsePressure: 40, HeartRate: 75, StrokeVolume: &sv})
	e.step(runlog.StepResult{Index: 0, Path: "1", Name: "baseline", StartS: 0.5, EndS: 10, Frames: 9500, Outcome: runlog.OutcomePass,
		Channels: map[string]runlog.ChannelStats{"aop": {N: 9500, Mean: 93, Min: 80, Max: 120, Std: math.NaN()}}}, layout)
	e.run(&runlog.Result{Outcome: runlog.OutcomeAborted, AbortReason: "safety trip", DurationS: 10}, 9500, false, nil)
	want := `frames,rig=bench\ 1,run_id=20261120T231502Z-7f3a9c aop=80.12346,q\ ao\,x\=1=1e-07 1002000000
frames,rig=bench\ 1,run_id=20261120T231502Z-7f3a9c q\ ao\,x\=1=2.5 1004000000
events,kind=criterion,rig=bench\ 1,run_id=20261120T231502Z-7f3a9c seq=0i,msg="mean \"aop\" \\ ok\nnext",step="2",data="{\"n\":1,\"v\":null}" 2500000000
events,kind=criterion,rig=bench\ 1,run_id=20261120T231502Z-7f3a9c seq=1i,msg="second at the same time" 2500000001
events,kind=setpoint,rig=bench\ 1,run_id=20261120T231502Z-7f3a9c seq=2i,msg="other series" 2500000000
beats,channel=aop,rig=bench\ 1,run_id=20261120T231502Z-7f3a9c systolic=120,diastolic=80,mean=93.3,pulse_pressure=40,heart_rate=75,stroke_volume=70.5 3000000000
steps,rig=bench\ 1,run_id=20261120T231502Z-7f3a9c,step=1 index=0i,frames=9500i,name="baseline",outcome="pass",start_s=0.5,end_s=10,aop_mean=93,aop_min=80,aop_max=120 1500000000
runs,rig=bench\ 1,run_id=20261120T231502Z-7f3a9c frames=9500i,delivered=false,state="closed",outcome="aborted",abort_reason="safety trip",duration_s=10 1000000000
`
	if got := string(e.buf); got != want {
		t.Errorf("line protocol:\n%s\nwant:\n%s", got, want)
	}
	if e.points != 8 {
		t.Errorf("points = %d, want 8", e.points)
	}

	e.reset()
	m := runlog.Manifest{Protocol: runlog.ProtocolRef{Name: `base "line"`, File: "p.yaml", SHA256: "ab"}, RigConfigSHA256: "cd",
		SoftwareVersion: "v1", Build: &runlog.Build{Version: "v1", Release: true}, Operator: "ci", Host: "pi-7", Job: &runlog.Job{System: "gitlab", URL: "https://ci/j/9"},
		DUT: &runlog.DUTIdentity{Model: "X", Serial: "7", FW: "1.2"}, DUTProfile: &runlog.DUTProfile{Name: "impella-cp", SHA256: "ef"}, Clock: runlog.ClockVirtual, SampleRateHz: 1000,
		Calibration: []runlog.Calibration{{Channel: "aop", Date: "2026-11-02"}}, Started: time.Unix(1, 5).UTC(),
		Layout: layout, Coding: []runlog.ColumnCoding{{Kind: runlog.CodingADC, LSB: 1e-6, Coeffs: []float64{0, 250}}, {Kind: runlog.CodingF32}}}
	e.runStart(&m)
	want = `runs,rig=bench\ 1,run_id=20261120T231502Z-7f3a9c state="running",protocol="base \"line\"",protocol_file="p.yaml",protocol_sha256="ab",rig_config_sha256="cd",software_version="v1",build="{\"version\":\"v1\",\"revision\":null,\"time\":null,\"modified\":false,\"release\":true}",operator="ci",host="pi-7",job="{\"system\":\"gitlab\",\"url\":\"https://ci/j/9\",\"id\":null,\"name\":null,\"runner\":null}",dut_model="X",dut_serial="7",dut_fw="1.2",dut_profile="impella-cp",dut_profile_sha256="ef",clock="virtual",calibration="[{\"channel\":\"aop\",\"method\":null,\"date\":\"2026-11-02\",\"due\":null,\"reference\":null,\"fields\":null}]",exact_channels="aop",started="1970-01-01T00:00:01.000000005Z",sample_rate_hz=1000 1000000000
`
	if got := string(e.buf); got != want || e.points != 1 {
		t.Errorf("start point (%d):\n%s\nwant:\n%s", e.points, got, want)
	}
}

// TestLineProtocolKeepsWhatTheRecordKeeps: a column the record keeps to the
// bit (a converter's code, an integer) is written as its float64, any
// other as its float32 rounding in float32's shortest digits, so a frame
// re-read from the record is the same point.
func TestLineProtocolKeepsWhatTheRecordKeeps(t *testing.T) {
	layout := []runlog.Channel{{Name: "aop"}, {Name: "rpm"}, {Name: "lv_volume"}}
	coding := []runlog.ColumnCoding{{Kind: runlog.CodingADC, LSB: 1e-6, Coeffs: []float64{0, 250}}, {Kind: runlog.CodingInt}, {Kind: runlog.CodingF32}}
	e := newLPEncoder(testRunID, "", layout, coding, time.Unix(0, 0))
	e.frame(0, []float64{80.123456789012, 31500, 120.123456789012})
	want := "frames,run_id=" + testRunID + " aop=80.123456789012,rpm=31500,lv_volume=120.12346 0\n"
	if got := string(e.buf); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSinkConfigErrors(t *testing.T) {
	dir := t.TempDir()
	good := SinkConfig{Config: Config{URL: "http://127.0.0.1:1"}, RunDir: dir, RunID: testRunID,
		Layout: testLayout, Epoch: testEpoch}
	for name, bad := range map[string]func(*SinkConfig){
		"url":      func(c *SinkConfig) { c.URL = "localhost:8086" },
		"run dir":  func(c *SinkConfig) { c.RunDir = "" },
		"run id":   func(c *SinkConfig) { c.RunID = "../x" },
		"layout":   func(c *SinkConfig) { c.Layout = nil },
		"time":     func(c *SinkConfig) { c.Layout = []runlog.Channel{{Name: "time"}} },
		"twice":    func(c *SinkConfig) { c.Layout = []runlog.Channel{{Name: "a"}, {Name: "a"}} },
		"no epoch": func(c *SinkConfig) { c.Epoch = time.Time{} },
	} {
		cfg := good
		bad(&cfg)
		if s, err := NewSink(cfg); err == nil {
			s.Close(context.Background(), nil)
			t.Errorf("%s: no error", name)
		}
	}
}

// TestSinkDelivers: every frame, event, beat and step reaches the server
// once, the summary last, and a delivered run leaves no spool.
func TestSinkDelivers(t *testing.T) {
	f := newFakeInflux(t)
	r := newSinkRun(t, f.URL, nil)
	r.sink.Event(runlog.Event{T: 0, Kind: runlog.KindRunStart})
	r.feed(t, 5000)
	r.sink.Beat(runlog.Beat{T: 1, Channel: "aop", Systolic: 120, Diastolic: 80, Mean: 95, PulsePressure: 40, HeartRate: 60})
	r.sink.Step(runlog.StepResult{Path: "1", Name: "s", EndS: 5, Outcome: runlog.OutcomePass})
	r.sink.Event(runlog.Event{T: 5, Kind: runlog.KindRunEnd})
	del, res := r.close(t, time.Minute)
	if !del.Delivered || del.SpooledPoints != 0 || del.Error != "" {
		t.Errorf("delivery %+v, want delivered", del)
	}
	if res.Influx == nil || *res.Influx != del {
		t.Errorf("result's influx %v, want %v", res.Influx, del)
	}
	for m, want := range map[string]int{"frames": 5000, "events": 2, "beats": 1, "steps": 1, "runs": 1} {
		if n := f.count(m); n != want {
			t.Errorf("%d %s points, want %d", n, m, want)
		}
	}
	if f.rewrites != 0 {
		t.Errorf("%d points written twice", f.rewrites)
	}
	if _, err := os.Stat(filepath.Join(r.rec.Dir(), spoolDirName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("spool left after delivery: %v", err)
	}
	for _, a := range f.auth {
		if a != "Token "+testToken {
			t.Fatalf("Authorization %q", a)
		}
	}
	checkNoToken(t, r.rec.Dir(), r.logs.String())
}

// TestSinkFramesNoAlloc: the sampling path allocates nothing once the queue
// slots have been used.
func TestSinkFramesNoAlloc(t *testing.T) {
	f := newFakeInflux(t)
	r := newSinkRun(t, f.URL, func(c *SinkConfig) { c.QueueBlocks = 8 })
	blk := fillBlock(daq.NewBlock(len(testLayout), 10), 0, 10)
	for range 100 {
		r.sink.Frames(blk)
		time.Sleep(time.Millisecond)
	}
	if a := testing.AllocsPerRun(1000, func() { r.sink.Frames(blk) }); a != 0 {
		t.Errorf("Frames allocates %v times per call", a)
	}
	r.close(t, time.Minute)
}

// TestSinkOverflowRereadsRecord: frames the queue had no room for are
// re-read from the record; every frame arrives once in effect.
func TestSinkOverflowRereadsRecord(t *testing.T) {
	f := newFakeInflux(t)
	f.setStatus(http.StatusServiceUnavailable) // hold the sender up...
	r := newSinkRun(t, f.URL, func(c *SinkConfig) { c.QueueBlocks = 4; c.BatchSize = 100 })
	r.feed(t, 20000)
	st := r.sink.Stats()
	if st.Overflow == 0 {
		t.Fatalf("no overflow with a queue of 4 blocks: %+v", st)
	}
	f.setStatus(0) // ...and let it go
	del, _ := r.close(t, time.Minute)
	if !del.Delivered {
		t.Fatalf("delivery %+v", del)
	}
	if n := f.count("frames"); n != 20000 {
		t.Errorf("%d frame points, want 20000 (%d overflowed)", n, st.Overflow)
	}
	checkFramePoints(t, f)
}

// TestCloseOutOfTime: a Close whose context is over spools what it holds,
// leaves the gaps to Replay in the state, and reports both; Replay then
// delivers every frame.
func TestCloseOutOfTime(t *testing.T) {
	f := newFakeInflux(t)
	hold := make(chan struct{})
	f.hold = hold
	r := newSinkRun(t, f.URL, func(c *SinkConfig) { c.QueueBlocks = 4; c.BatchSize = 100 })
	r.feed(t, 5000)
	overflow := r.sink.Stats().Overflow
	if overflow == 0 {
		t.Fatal("no overflow")
	}
	if err := r.rec.Sync(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	go func() { time.Sleep(50 * time.Millisecond); close(hold) }() // the hanging write ends
	res := runlog.Result{Outcome: runlog.OutcomePass, DurationS: 5}
	del, err := r.sink.Close(ctx, &res)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.rec.Close(res); err != nil {
		t.Fatal(err)
	}
	st, err := readState(filepath.Join(r.rec.Dir(), spoolDirName))
	if err != nil || len(st.Gaps) == 0 {
		t.Fatalf("state %+v, %v; want gaps", st, err)
	}
	var owed int64
	for _, g := range st.Gaps {
		owed += g.Frames
	}
	// The closing context was cancelled before Close, but the encoder may
	// still have re-read a gap or two before it saw that: what it re-read
	// is spooled, the rest stays owed. Either way every point is accounted for.
	if del.Delivered || owed == 0 || owed > overflow || del.SpooledPoints != owed+spooledPoints(t, r.rec.Dir()) {
		t.Fatalf("delivery %+v; %d frames owed in gaps (%d overflowed), %d spooled", del, owed, overflow, spooledPoints(t, r.rec.Dir()))
	}
	f.mu.Lock()
	f.hold = nil
	f.mu.Unlock()
	if _, left, err := Replay(context.Background(), r.rec.Dir(), Config{URL: f.URL}); err != nil || left != 0 {
		t.Fatalf("Replay: %d left, %v", left, err)
	}
	if n := f.count("frames"); n != 5000 {
		t.Errorf("%d frame points, want 5000", n)
	}
	checkFramePoints(t, f)
}

// TestSinkRereadsGapsDuringRun: a gap is re-read from the record while the
// run goes on, once the record is past it, not only at Close.
func TestSinkRereadsGapsDuringRun(t *testing.T) {
	f := newFakeInflux(t)
	hold := make(chan struct{})
	f.hold = hold // the first write hangs: the sender stalls, the queue fills
	r := newSinkRun(t, f.URL, func(c *SinkConfig) { c.QueueBlocks = 4; c.BatchSize = 100 })
	r.feed(t, 3000)
	if r.sink.Stats().Overflow == 0 {
		t.Fatal("no overflow")
	}
	f.mu.Lock()
	f.hold = nil
	f.mu.Unlock()
	close(hold)
	// Go on, slowly enough for the queue mostly, past the gap by more
	// than gapSettle; the frames of the gap arrive before Close.
	for range 300 {
		r.feed(t, 10)
		time.Sleep(time.Millisecond)
	}
	early := func() int {
		n := 0
		for k := range f.keys("frames") {
			ts, _ := strconv.ParseInt(k[strings.LastIndexByte(k, '@')+1:], 10, 64)
			if ts < testEpoch.UnixNano()+int64(frameTime(3000)) {
				n++
			}
		}
		return n
	}
	waitFor(t, func() bool { return early() == 3000 })
	checkFramePoints(t, f)
	if del, _ := r.close(t, time.Minute); !del.Delivered {
		t.Errorf("delivery %+v", del)
	}
}

// checkFramePoints checks that every frame point of the fake has the aop
// value of fillBlock's frame at its time, rounded to float32 as the record
// keeps it.
func checkFramePoints(t *testing.T, f *fakeInflux) {
	t.Helper()
	byTime := make(map[int64]int)
	for i := range 100000 {
		byTime[testEpoch.UnixNano()+int64(frameTime(i))] = i
	}
	for _, l := range f.lines("frames") {
		ts, _ := strconv.ParseInt(l[strings.LastIndexByte(l, ' ')+1:], 10, 64)
		i, ok := byTime[ts]
		if !ok {
			t.Fatalf("point at unknown time: %s", l)
		}
		_, v, _ := strings.Cut(l, ",aop=")
		v, _, _ = strings.Cut(v, ",")
		if want := strconv.FormatFloat(float64(float32(testValue(i, 1))), 'g', -1, 32); v != want {
			t.Fatalf("frame %d: aop=%s, want %s", i, v, want)
		}
	}
}

// TestSinkOutageSpoolsThenReplay: while the server is down batches are
// spooled, in order; Close with a short deadline reports them; Replay
// delivers them later, updates result.json and removes the spool.
func TestSinkOutageSpoolsThenReplay(t *testing.T) {
	f := newFakeInflux(t)
	r := newSinkRun(t, f.URL, nil)
	r.feed(t, 3000)
	waitFor(t, func() bool { return f.count("frames") == 3000 })
	f.setStatus(http.StatusServiceUnavailable)
	r.feed(t, 7000)
	waitFor(t, func() bool { return len(spoolFiles(t, r.rec.Dir())) > 0 })
	del, _ := r.close(t, 300*time.Millisecond)
	if del.Delivered || del.SpooledPoints != 7000 || !strings.Contains(del.Error, "503") {
		t.Fatalf("delivery %+v, want 7000 points spooled and the 503", del)
	}
	run, err := runlog.Open(r.rec.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if run.Influx() == nil || run.Influx().SpooledPoints != 7000 {
		t.Fatalf("result.json influx %+v", run.Influx())
	}
	st, err := readState(filepath.Join(r.rec.Dir(), spoolDirName))
	if err != nil || !st.Complete || len(st.Gaps) != 0 {
		t.Fatalf("state %+v, %v", st, err)
	}

	cfg := Config{URL: f.URL, Token: testToken}
	if n, left, err := Replay(context.Background(), r.rec.Dir(), cfg); err != nil || n != 0 || left != 7000 {
		t.Fatalf("Replay while down = %d, %d, %v; want 0, 7000", n, left, err)
	}
	f.setStatus(0)
	n, left, err := Replay(context.Background(), r.rec.Dir(), cfg)
	if err != nil || n != 7000 || left != 0 {
		t.Fatalf("Replay = %d, %d, %v; want 7000, 0", n, left, err)
	}
	if c := f.count("frames"); c != 10000 {
		t.Errorf("%d frame points, want 10000", c)
	}
	if c := f.count("runs"); c != 1 {
		t.Errorf("%d runs points, want 1", c)
	}
	run, _ = runlog.Open(r.rec.Dir())
	if d := run.Influx(); d == nil || !d.Delivered || d.SpooledPoints != 0 || d.Error != "" {
		t.Errorf("result.json influx after replay %+v", d)
	}
	if _, err := os.Stat(filepath.Join(r.rec.Dir(), spoolDirName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("spool left after replay: %v", err)
	}
	checkNoToken(t, r.rec.Dir(), r.logs.String())
}

// TestSinkRejected: a batch the server refuses is kept aside and reported,
// not retried forever and not counted as delivered.
func TestSinkRejected(t *testing.T) {
	f := newFakeInflux(t)
	f.setStatus(http.StatusBadRequest)
	r := newSinkRun(t, f.URL, func(c *SinkConfig) { c.FlushInterval = time.Hour }) // only full batches
	r.feed(t, 2000)
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.requests >= 2 })
	f.setStatus(0)
	r.feed(t, 500)
	del, _ := r.close(t, 5*time.Second)
	if del.Delivered || del.SpooledPoints != 2000 || !strings.Contains(del.Error, "refused") {
		t.Fatalf("delivery %+v", del)
	}
	if n := f.count("frames"); n != 500 {
		t.Errorf("%d frame points, want 500", n)
	}
	rej, _ := filepath.Glob(filepath.Join(r.rec.Dir(), spoolDirName, rejectedDir, "*"+spoolExt))
	if len(rej) != 2 {
		t.Errorf("rejected batches %v, want 2", rej)
	}
	if f.count("runs") != 1 {
		t.Errorf("no summary point")
	}
}

// TestReplayAfterCrash: the disk as a crash leaves it — a run still
// "running", a sink that never closed — holds enough for Replay to write
// everything again from the record: frames, events and beats.
func TestReplayAfterCrash(t *testing.T) {
	f := newFakeInflux(t)
	r := newSinkRun(t, f.URL, nil)
	for _, e := range []runlog.Event{{T: 0, Kind: runlog.KindRunStart}, {T: 4, Kind: "criterion", Msg: "a"}, {T: 4, Kind: "criterion", Msg: "b"}} {
		r.rec.Event(e)
		r.sink.Event(e)
	}
	r.feed(t, 4000)
	sv := 60.0
	r.rec.Beat(runlog.Beat{T: 1, Channel: "aop", Systolic: 120, StrokeVolume: &sv})
	waitFor(t, func() bool { return f.count("frames") > 0 })
	if err := r.rec.Sync(); err != nil {
		t.Fatal(err)
	}
	// The power fails: what is on disk now is all there is.
	crashed := filepath.Join(t.TempDir(), testRunID)
	copyDir(t, r.rec.Dir(), crashed)
	defer r.close(t, 5*time.Second)

	if _, err := runlog.Recover(filepath.Dir(crashed)); err != nil {
		t.Fatal(err)
	}
	g := newFakeInflux(t)
	n, left, err := Replay(context.Background(), crashed, Config{URL: g.URL})
	if err != nil || left != 0 || n == 0 {
		t.Fatalf("Replay = %d, %d, %v", n, left, err)
	}
	// Frames the state says were delivered before the crash are not sent
	// again; the others are.
	delivered := f.keys("frames")
	union := g.keys("frames")
	for k := range delivered {
		union[k] = true
	}
	if len(union) != 4000 || len(g.keys("frames")) == 0 {
		t.Errorf("%d frame points before the crash, %d replayed, %d together; want 4000 together", len(delivered), g.count("frames"), len(union))
	}
	if c := g.count("events"); c != 4 { // 3 + run.interrupted
		t.Errorf("%d event points, want 4: %v", c, g.lines("events"))
	}
	if c := g.count("beats"); c != 1 {
		t.Errorf("%d beat points, want 1", c)
	}
	if c := g.count("runs"); c != 1 {
		t.Errorf("%d runs points, want 1", c)
	}
	run, _ := runlog.Open(crashed)
	if run.Result.Outcome != runlog.OutcomeInterrupted || run.Influx() == nil || !run.Influx().Delivered {
		t.Errorf("result %+v influx %+v", run.Result, run.Influx())
	}
	// What the live sink wrote and what the replay wrote are the same points.
	for _, l := range g.lines("events") {
		if !strings.Contains(l, "run.interrupted") && !slicesContains(f.lines("events"), l) {
			t.Errorf("replayed event %q differs from the live one", l)
		}
	}
}

func slicesContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// copyDir copies the regular files of a directory tree.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to a minute: what it waits for (a server's
// answer, a re-read) takes milliseconds on an idle machine and seconds on
// one the suite and `make test-stress` load; how long is not the test's
// concern.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
