package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/influx"
	"github.com/mockloop/mockloop/internal/influxtest"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

// panelProtocol is a short run on the simulated rig with its pump: two
// steps, criteria with and without a requirement id, beats, the DUT's
// telemetry.
const panelProtocol = `protocol: 1
name: grafana-panels
requirements:
  G-1: Mean aortic pressure at rest
steps:
  - name: baseline
    set:
      loop.preset: healthy
      dut.level: P2
    hold: 6 s
    criteria:
      - {id: G-1, measure: mean(aop), over: last 3 s, between: [40 mmHg, 160 mmHg]}
  - name: afterload
    set:
      loop.resistance: 2 mmHg·s/ml
    hold: 4 s
    criteria:
      - {name: LV pressure, measure: max(lvp), max: 250 mmHg}
`

// optionalColumns may be null in every row of a passing run.
var optionalColumns = map[string]bool{"abort_reason": true}

// macros are the values Grafana substitutes into a query.
type macros struct {
	from, to int64  // the time range, ns (Grafana sends ms)
	interval string // $__interval
	rig      string
	runID    string
	exactTo  bool // from < time <= to, as a step's frames are
}

// expand substitutes the macros as Grafana does for InfluxQL: $timeFilter
// is the time range in ms, $__interval a duration, $rig inside a regex
// escaped (all: ".*"), $run_id as it is.
func (m macros) expand(q string) string {
	tf := fmt.Sprintf("time >= %dms and time <= %dms", m.from/1e6, m.to/1e6)
	if m.exactTo {
		tf = fmt.Sprintf("time > %d and time <= %d", m.from, m.to)
	}
	r := strings.NewReplacer("$timeFilter", tf, "$__interval", m.interval, "${rig}", regexp.QuoteMeta(m.rig),
		"$rig", regexp.QuoteMeta(m.rig), "${run_id}", m.runID, "$run_id", m.runID)
	return r.Replace(q)
}

// answer is the series of one statement's answer.
type answer []struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// query runs an InfluxQL statement over HTTP as Grafana's datasource does
// (POST /query, db, epoch).
func query(t *testing.T, srv *influxtest.Server, q string) (answer, error) {
	t.Helper()
	form := url.Values{"db": {influxtest.Database}, "q": {q}, "epoch": {"ms"}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	var r struct {
		Results []struct {
			Series answer `json:"series"`
			Error  string `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w: %.200s", resp.Status, err, body)
	}
	if r.Error != "" {
		return nil, fmt.Errorf("%s", r.Error)
	}
	if len(r.Results) != 1 {
		return nil, fmt.Errorf("%d results, want 1", len(r.Results))
	}
	if r.Results[0].Error != "" {
		return nil, fmt.Errorf("%s", r.Results[0].Error)
	}
	return r.Results[0].Series, nil
}

// names are the names a query's answer offers a panel: its columns (time
// as Grafana calls it, Time) and the tags of its series.
func (a answer) names() map[string]bool {
	n := map[string]bool{}
	for _, s := range a {
		for _, c := range s.Columns {
			if c == "time" {
				c = "Time"
			}
			n[c] = true
		}
		for k := range s.Tags {
			n[k] = true
		}
	}
	return n
}

// column returns the non-null values of a column over all series.
func (a answer) column(name string) []any {
	var vs []any
	for _, s := range a {
		i := slices.Index(s.Columns, name)
		if i < 0 {
			continue
		}
		for _, row := range s.Values {
			if i < len(row) && row[i] != nil {
				vs = append(vs, row[i])
			}
		}
	}
	return vs
}

// selectItem matches an item of a SELECT list: a function or a quoted
// field, and its alias.
var selectItem = regexp.MustCompile(`^(?:(\w+)\((?:"[^"]+")?\)|"([^"]+)")(?: AS "([^"]+)")?$`)

// selected returns the column names a SELECT statement asks for, in order.
func selected(t *testing.T, q string) []string {
	t.Helper()
	list, _, ok := strings.Cut(strings.TrimPrefix(q, "SELECT "), " FROM ")
	if !ok {
		t.Fatalf("no FROM in %q", q)
	}
	var cols []string
	for _, item := range strings.Split(list, ", ") {
		m := selectItem.FindStringSubmatch(strings.TrimSpace(item))
		if m == nil {
			t.Fatalf("select item %q of %q: not understood", item, q)
		}
		cols = append(cols, cmpOr(m[3], m[2], m[1]))
	}
	return cols
}

func cmpOr(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// panelRun runs panelProtocol on the simulated rig, logged to srv, and
// returns its result, manifest and the time of its last event.
func panelRun(t *testing.T, srv *influxtest.Server) (*runlog.Result, runlog.Manifest, time.Time) {
	t.Helper()
	cfg, err := rig.LoadConfig("../rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := protocols.Parse("grafana-panels.yaml", []byte(panelProtocol), cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	res, dir, err := rig.Run(context.Background(), cfg, p, rig.Options{RunsDir: t.TempDir(), ProtocolSource: []byte(panelProtocol),
		ProtocolFile: "grafana-panels.yaml", Operator: "ci", Version: "v0.0.0-test",
		Influx: &influx.Config{URL: srv.URL, Bucket: influxtest.Database}})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Influx == nil || !res.Influx.Delivered {
		t.Fatalf("run not delivered to InfluxDB: %+v", res.Influx)
	}
	run, err := runlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := run.ReadEvents()
	if err != nil || len(evs) == 0 {
		t.Fatalf("%d events: %v", len(evs), err)
	}
	// The run's points end with its last event (run.end, after the safe
	// state is reached), which may come after its duration.
	last := run.Manifest.Epoch.Add(time.Duration(evs[len(evs)-1].T * 1e9))
	return res, run.Manifest, last
}

// TestDashboardQueries: after a real run on the simulated rig delivered to
// a real InfluxDB 1.8, every query of both dashboards — template
// variables, panels, annotations — with Grafana's macros substituted
// returns what its panel shows: rows, the columns it selects with a value
// in some row, the fields its overrides and transformations name, and
// JSON its extractFields paths find. The waveform's mean over each step
// is the step's mean of the record.
func TestDashboardQueries(t *testing.T) {
	srv := influxtest.Start(t)
	res, m, last := panelRun(t, srv)
	if len(res.Steps) != 2 || len(res.Criteria) != 2 {
		t.Fatalf("%d steps, %d criteria", len(res.Steps), len(res.Criteria))
	}
	mac := macros{from: m.Epoch.Add(-time.Second).UnixNano(), to: last.Add(time.Second).UnixNano(),
		interval: "1s", rig: m.Rig, runID: m.RunID}
	for _, file := range dashboardFiles {
		d, _ := loadDashboard(t, file)
		t.Run(d.Title, func(t *testing.T) {
			for _, v := range d.Templating.List {
				if v.Type != "query" {
					continue
				}
				q := mac.expand(v.Query.(string))
				a, err := query(t, srv, q)
				want := map[string]string{"rig": m.Rig, "run_id": m.RunID}[v.Name]
				if err != nil || !slices.Contains(a.column("value"), any(want)) {
					t.Errorf("variable %s: %s: %v; values %v, want %q among them", v.Name, q, err, a.column("value"), want)
				}
			}
			for _, an := range d.Annotations.List {
				checkAnnotation(t, srv, mac, an)
			}
			for _, p := range d.allPanels() {
				for _, tg := range p.Targets {
					checkPanel(t, srv, mac, p, tg)
				}
			}
		})
	}
	t.Run("waveform mean per step", func(t *testing.T) {
		d, _ := loadDashboard(t, "dashboards/run.json")
		i := slices.IndexFunc(d.allPanels(), func(p panel) bool { return p.Title == "Left heart pressures" })
		if i < 0 {
			t.Fatal("no panel Left heart pressures")
		}
		q := d.allPanels()[i].Targets[0].Query
		for _, s := range res.Steps {
			step := mac
			step.from = m.Epoch.Add(time.Duration(s.StartS * 1e9)).UnixNano()
			step.to = m.Epoch.Add(time.Duration(s.EndS * 1e9)).UnixNano()
			step.interval, step.exactTo = "1ms", true // a bucket per frame
			a, err := query(t, srv, step.expand(q))
			if err != nil {
				t.Fatal(err)
			}
			vs := a.column("aop")
			var sum float64
			for _, v := range vs {
				f, _ := v.(json.Number).Float64()
				sum += f
			}
			want := s.Channels["aop"]
			mean := sum / float64(len(vs))
			t.Logf("step %s: %d frames in the panel's answer, mean aop %.6f; the record's %d frames, %.6f", s.Path, len(vs), mean, want.N, want.Mean)
			if math.Abs(mean-want.Mean) > 1e-6*math.Abs(want.Mean) || int64(len(vs)) != want.N {
				t.Errorf("step %s: the waveform panel's aop has %d values, mean %.6f; the step's stats %d frames, mean %.6f",
					s.Path, len(vs), mean, want.N, want.Mean)
			}
		}
	})
}

// checkPanel runs one query of a panel and checks its answer against what
// the panel names.
func checkPanel(t *testing.T, srv *influxtest.Server, mac macros, p panel, tg target) {
	t.Helper()
	q := mac.expand(tg.Query)
	a, err := query(t, srv, q)
	if err != nil {
		t.Errorf("panel %q: %s: %v", p.Title, q, err)
		return
	}
	rows := 0
	for _, s := range a {
		rows += len(s.Values)
	}
	if rows == 0 {
		t.Errorf("panel %q returns nothing: %s", p.Title, q)
		return
	}
	names := a.names()
	for _, c := range selected(t, tg.Query) {
		if !names[c] {
			t.Errorf("panel %q: no column %s in the answer (columns %v): %s", p.Title, c, names, q)
		} else if !optionalColumns[c] && len(a.column(c)) == 0 {
			t.Errorf("panel %q: column %s has no value: %s", p.Title, c, q)
		}
	}
	var named []string // fields the panel's config and transformations name
	for _, o := range p.FieldConfig.Overrides {
		if o.Matcher.ID == "byName" {
			named = append(named, o.Matcher.Options)
		}
	}
	extracted := map[string]bool{}
	for _, tr := range p.Transformations {
		o := tr.Options
		for k := range o.IndexByName {
			named = append(named, k)
		}
		for k := range o.RenameByName {
			named = append(named, k)
		}
		for k := range o.ExcludeByName {
			named = append(named, k)
		}
		for _, s := range o.Sort {
			named = append(named, s.Field)
		}
		if tr.ID == "extractFields" {
			named = append(named, o.Source)
			for _, jp := range o.JSONPaths {
				extracted[jp.Alias] = true
				checkJSONPath(t, p.Title, a.column(o.Source), jp.Path)
			}
		}
	}
	for _, n := range named {
		if !names[n] && !extracted[n] {
			t.Errorf("panel %q names field %s, which its query does not return (%v): %s", p.Title, n, names, q)
		}
	}
}

// checkJSONPath checks that a dotted path finds a value in the JSON of
// some of the values (all, for the keys every criterion result has).
func checkJSONPath(t *testing.T, title string, values []any, path string) {
	t.Helper()
	found := 0
	for _, v := range values {
		s, _ := v.(string)
		var doc any
		if err := json.Unmarshal([]byte(s), &doc); err != nil {
			t.Errorf("panel %q: %q is not JSON: %v", title, s, err)
			return
		}
		for _, k := range strings.Split(path, ".") {
			obj, _ := doc.(map[string]any)
			doc = obj[k]
		}
		if doc != nil {
			found++
		}
	}
	always := map[string]bool{"result.measure": true, "result.value": true, "result.unit": true, "result.limits": true,
		"result.verdict": true, "result.step": true}
	if found == 0 || always[path] && found != len(values) {
		t.Errorf("panel %q: JSON path %s found in %d of %d values", title, path, found, len(values))
	}
}

// checkAnnotation runs an annotation's query: it must return events with
// the columns its text and tags come from.
func checkAnnotation(t *testing.T, srv *influxtest.Server, mac macros, an annotation) {
	t.Helper()
	raw := cmpOr(an.Target.Query, an.Query)
	if an.Query != "" && an.Target.Query != "" && an.Query != an.Target.Query {
		t.Errorf("annotation %q: two different queries", an.Name)
	}
	q := mac.expand(raw)
	a, err := query(t, srv, q)
	if err != nil || len(a.column("time")) == 0 {
		t.Errorf("annotation %q: %s: %v, %d events", an.Name, q, err, len(a.column("time")))
		return
	}
	names := a.names()
	cols := append([]string{an.TextColumn}, strings.Split(an.TagsColumn, ",")...)
	for _, c := range cols {
		if c != "" && !names[c] {
			t.Errorf("annotation %q: no column %s (%v)", an.Name, c, names)
		}
	}
	if kinds := a.column("kind"); !slices.Contains(kinds, any(runlog.KindStepStart)) || !slices.Contains(kinds, any(runlog.KindRunEnd)) {
		t.Errorf("annotation %q: the events lack step.start or run.end: %v", an.Name, kinds)
	}
}
