package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
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

// parityProtocol is a short protocol with what a report from InfluxDB must
// reproduce: frame and beat aggregates, windows ("over: last"), a failing
// criterion, a warning, a criterion without a requirement id, and a
// repeated step (numbered test cases).
const parityProtocol = `protocol: 1
name: influx-parity
description: Criteria on frames and beats, one failing, and a repeated step
requirements:
  R-1: Mean aortic pressure at rest
  R-2: Beats at rest
  R-3: A criterion that fails
  R-4: LV pressure under afterload
steps:
  - name: baseline
    set:
      loop.preset: healthy
    hold: 4 s
    criteria:
      - {id: R-1, measure: mean(aop), over: last 2 s, between: [40 mmHg, 160 mmHg]}
      - {id: R-2, measure: map(aop), over: last 2 s, between: [40 mmHg, 160 mmHg]}
      - {id: R-2, name: heart rate, measure: heart_rate(aop), min: 30 bpm}
      - {id: R-3, measure: mean(flow_ao), max: 0.5 L/min}
  - name: afterload
    set:
      loop.resistance: 2 mmHg·s/ml
    hold: 2 s
    criteria:
      - {id: R-4, measure: max(lvp), max: 250 mmHg}
      - {name: spread, measure: std(aop), over: last 1 s, max: 0.001 mmHg, on_fail: warn}
  - name: repeated
    repeat: {count: 2}
    steps:
      - name: hold
        hold: 1 s
        criteria:
          - {id: R-1, measure: mean(aop), between: [40 mmHg, 160 mmHg]}
`

// invariantProtocol has an always-invariant that fails: the engine does
// not log its result as a criterion event.
const invariantProtocol = `protocol: 1
name: influx-invariant
requirements:
  I-1: Aortic pressure stays below 10 mmHg (it does not)
  I-2: Mean aortic pressure
always:
  - {id: I-1, channel: aop, max: 10 mmHg}
steps:
  - name: only
    set:
      loop.preset: healthy
    hold: 1 s
    criteria:
      - {id: I-2, measure: mean(aop), between: [40 mmHg, 160 mmHg]}
`

// influxRigRun runs a protocol on the simulated rig, logged to the server,
// and returns its run directory and id.
func influxRigRun(t *testing.T, srv *influxtest.Server, src string) (dir, runID string) {
	t.Helper()
	cfg, err := rig.LoadConfig("../configs/rigs/sim-loop-only.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := protocols.Parse("parity.yaml", []byte(src), cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	res, dir, err := rig.Run(context.Background(), cfg, p, rig.Options{RunsDir: t.TempDir(), ProtocolSource: []byte(src),
		ProtocolFile: "protocols/parity.yaml", Operator: "ci-bot", Version: "v0.0.0-test", Job: &runlog.Job{System: "github", URL: "https://github.com/o/r/actions/runs/1", ID: "1"},
		Build: &runlog.Build{Version: "v0.0.0-test", Revision: "7ee26cd"}, Influx: &influx.Config{URL: srv.URL, Bucket: influxtest.Database}})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Influx == nil || !res.Influx.Delivered {
		t.Fatalf("run not delivered to InfluxDB: %+v", res.Influx)
	}
	return dir, res.RunID
}

// TestInfluxReport makes one run on the simulated rig logged to a real
// InfluxDB 1.8 and checks that the report made from InfluxDB says what the
// one made from the run record says: the same criteria, step statistics,
// outcome and frames, beat statistics and events; the criteria table,
// summary, beat and event sections and the JUnit test cases byte for byte;
// criteria.csv, beats.csv and frames.csv (per channel) the same; plots
// alike. What InfluxDB does not hold is marked, never filled in; what it
// cannot reproduce (always-invariants) is left out and said so.
func TestInfluxReport(t *testing.T) {
	srv := influxtest.Start(t)
	ctx := context.Background()
	cfg := influx.Config{URL: srv.URL, Bucket: influxtest.Database}
	dir, runID := influxRigRun(t, srv, parityProtocol)

	rec, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ifx, err := LoadInflux(ctx, cfg, runID)
	if err != nil {
		t.Fatal(err)
	}
	gen := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	rec.Generated, ifx.Generated = gen, gen

	t.Run("criteria", func(t *testing.T) {
		want, got := rec.run.Result.Criteria, ifx.run.Result.Criteria
		if len(want) != 8 || len(got) != len(want) {
			t.Fatalf("%d criteria from InfluxDB, %d from the record (want 8)", len(got), len(want))
		}
		verdicts := map[runlog.Verdict]int{}
		for i := range want {
			w, g := want[i], got[i]
			verdicts[w.Verdict]++
			if g.ID != w.ID || g.Name != w.Name || g.Step != w.Step || g.StepName != w.StepName || g.Measure != w.Measure ||
				g.Over != w.Over || g.Unit != w.Unit || g.Limits != w.Limits || g.Verdict != w.Verdict || g.Pass != w.Pass ||
				g.OnFail != w.OnFail || g.Reason != w.Reason || !closePtr(g.Value, w.Value) || !closePtr(g.Lo, w.Lo) || !closePtr(g.Hi, w.Hi) {
				t.Errorf("criterion %d:\n influx %+v\n record %+v", i+1, g, w)
			}
		}
		if verdicts[runlog.VerdictFail] != 1 || verdicts[runlog.VerdictWarn] != 1 || verdicts[runlog.VerdictPass] != 6 {
			t.Errorf("verdicts %v, want 6 pass, 1 fail, 1 warn", verdicts)
		}
	})

	t.Run("steps", func(t *testing.T) {
		if len(ifx.steps) != len(rec.steps) || len(rec.steps) != 5 {
			t.Fatalf("%d steps from InfluxDB, %d from the record (want 5)", len(ifx.steps), len(rec.steps))
		}
		for i := range rec.steps {
			w, g := rec.steps[i], ifx.steps[i]
			if g.Path != w.Path || g.Name != w.Name || g.StartS != w.StartS || g.EndS != w.EndS || g.Frames != w.Frames || g.Outcome != w.Outcome {
				t.Errorf("step %d: influx %+v, record %+v", i, g, w)
			}
			if len(g.Stats) != len(w.Stats) || len(w.Stats) == 0 {
				t.Errorf("step %s: %d channels from InfluxDB, %d from the record", w.Path, len(g.Stats), len(w.Stats))
			}
			for ch, ws := range w.Stats {
				gs, ok := g.Stats[ch]
				if !ok || gs.N != ws.N || gs.Unit != ws.Unit || !closeTo(gs.Mean, ws.Mean) || !closeTo(gs.Min, ws.Min) ||
					!closeTo(gs.Max, ws.Max) || !closeTo(gs.Std, ws.Std) {
					t.Errorf("step %s %s: influx %+v, record %+v", w.Path, ch, gs, ws)
				}
			}
		}
		// The statistics table is the record's once in the record's channel order.
		layout := rec.run.Manifest.Layout
		if g, w := stepStats(ifx.steps, layout), stepStats(rec.steps, layout); !equalJSON(g, w) {
			t.Errorf("step statistics table differs:\n influx %+v\n record %+v", g, w)
		}
	})

	t.Run("outcome and frames", func(t *testing.T) {
		w, g := rec.run.Result, ifx.run.Result
		if g.Outcome != runlog.OutcomeFail || g.Outcome != w.Outcome || g.AbortReason != w.AbortReason || g.Frames != w.Frames ||
			g.DurationS != w.DurationS {
			t.Errorf("influx %s %q %d frames %v s; record %s %q %d frames %v s", g.Outcome, g.AbortReason, g.Frames, g.DurationS,
				w.Outcome, w.AbortReason, w.Frames, w.DurationS)
		}
		if ifx.frames.Frames != rec.frames.Frames || rec.frames.Frames != w.Frames {
			t.Errorf("InfluxDB holds %d frames, the record %d, its result says %d", ifx.frames.Frames, rec.frames.Frames, w.Frames)
		}
		wm, gm := rec.run.Manifest, ifx.run.Manifest
		if !gm.Epoch.Equal(wm.Epoch) || !gm.Ended.Equal(wm.Ended) || gm.Rig != wm.Rig || gm.Protocol.Name != wm.Protocol.Name ||
			gm.Clock != wm.Clock || gm.SampleRateHz != wm.SampleRateHz || gm.State != wm.State {
			t.Errorf("manifest: influx %+v\n record %+v", gm, wm)
		}
		if ifx.firstT != rec.firstT || ifx.lastT != rec.lastT {
			t.Errorf("frames from %d to %d ns in InfluxDB, %d to %d in the record", ifx.firstT, ifx.lastT, rec.firstT, rec.lastT)
		}
	})

	t.Run("beats and events", func(t *testing.T) {
		if rec.beats == nil || rec.beats.Beats == 0 {
			t.Fatal("the record has no beats")
		}
		if !equalJSON(ifx.beats, rec.beats) {
			t.Errorf("beat statistics:\n influx %+v\n record %+v", ifx.beats, rec.beats)
		}
		if !equalJSON(ifx.events, rec.events) {
			t.Errorf("events:\n influx %+v\n record %+v", ifx.events, rec.events)
		}
	})

	t.Run("rendered sections", func(t *testing.T) {
		for _, name := range []string{"criteria", "outcome", "beats", "events"} {
			var g, w bytes.Buffer
			if err := ifx.writeHTMLSection(&g, name); err != nil {
				t.Fatal(err)
			}
			if err := rec.writeHTMLSection(&w, name); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(g.Bytes(), w.Bytes()) {
				t.Errorf("HTML section %s differs:\n--- influx\n%s\n--- record\n%s", name, g.Bytes(), w.Bytes())
			}
		}
		var g, w bytes.Buffer
		if err := ifx.WriteCriteriaCSV(&g); err != nil {
			t.Fatal(err)
		}
		if err := rec.WriteCriteriaCSV(&w); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g.Bytes(), w.Bytes()) {
			t.Errorf("criteria.csv differs:\n--- influx\n%s\n--- record\n%s", g.Bytes(), w.Bytes())
		}
	})

	t.Run("junit", func(t *testing.T) {
		var g, w bytes.Buffer
		if err := ifx.WriteJUnit(&g); err != nil {
			t.Fatal(err)
		}
		if err := rec.WriteJUnit(&w); err != nil {
			t.Fatal(err)
		}
		// The suite and its test cases are the same; of the properties, those
		// InfluxDB has are equal and the others are marked as missing.
		gb, gp := junitProps(g.String())
		wb, wp := junitProps(w.String())
		if gb != wb {
			t.Errorf("JUnit differs but for the properties:\n--- influx\n%s\n--- record\n%s", gb, wb)
		}
		// The identity comes from the run's start point.
		for _, k := range []string{"run_id", "outcome", "protocol", "rig", "clock", "started", "ended", "frames",
			"protocol_file", "protocol_sha256", "rig_config_sha256", "software_version", "operator"} {
			if gp[k] == "" || gp[k] != wp[k] || gp[k] == NotInInflux {
				t.Errorf("property %s: %q from InfluxDB, %q from the record", k, gp[k], wp[k])
			}
		}
		if gp["dut_model"] != wp["dut_model"] {
			t.Errorf("property dut_model: %q from InfluxDB, %q from the record", gp["dut_model"], wp["dut_model"])
		}
		if !strings.Contains(wb, `classname="step 3-1/hold"`) || !strings.Contains(wb, `<property name="iterations" value="2">`) || !strings.Contains(wb, `type="fail"`) {
			t.Errorf("the JUnit lacks a repeated or failed test case:\n%s", wb)
		}
	})

	t.Run("traceability", func(t *testing.T) {
		w, g := rec.trace, ifx.trace
		if len(g.Reqs) != len(w.Reqs) || len(g.Untraced) != len(w.Untraced) || len(g.Unknown) != 0 || g.NoCatalogue || g.Flags != w.Flags {
			t.Fatalf("traceability:\n influx %+v\n record %+v", g, w)
		}
		for i := range w.Reqs {
			if g.Reqs[i].ID != w.Reqs[i].ID || g.Reqs[i].Status != w.Reqs[i].Status || !equalJSON(g.Reqs[i].Criteria, w.Reqs[i].Criteria) {
				t.Errorf("requirement %d: influx %+v, record %+v", i, g.Reqs[i], w.Reqs[i])
			}
			if !strings.Contains(g.Reqs[i].Text, NotInInflux) {
				t.Errorf("requirement %s: text %q from InfluxDB", g.Reqs[i].ID, g.Reqs[i].Text)
			}
		}
	})

	t.Run("plots", func(t *testing.T) {
		if len(ifx.trends) != len(rec.trends) || len(ifx.waves) != len(rec.waves) || len(rec.waves) == 0 {
			t.Fatalf("%d trends, %d waveforms from InfluxDB; %d, %d from the record", len(ifx.trends), len(ifx.waves), len(rec.trends), len(rec.waves))
		}
		for _, w := range rec.trends { // the order of the plots of other units follows the channel order
			i := slices.IndexFunc(ifx.trends, func(f *figure) bool { return f.Title == w.Title })
			if i < 0 {
				t.Errorf("no trend %q from InfluxDB", w.Title)
				continue
			}
			sameFigure(t, ifx.trends[i], w)
		}
		for i := range rec.waves {
			if ifx.waves[i].Title != rec.waves[i].Title || len(ifx.waves[i].Figures) != len(rec.waves[i].Figures) {
				t.Fatalf("waveform %d: %q from InfluxDB, %q from the record", i, ifx.waves[i].Title, rec.waves[i].Title)
			}
			for j := range rec.waves[i].Figures {
				sameFigure(t, ifx.waves[i].Figures[j], rec.waves[i].Figures[j])
			}
		}
		if ifx.tNote != rec.tNote || ifx.wNote != rec.wNote {
			t.Errorf("plot notes: %q %q from InfluxDB, %q %q from the record", ifx.tNote, ifx.wNote, rec.tNote, rec.wNote)
		}
	})

	t.Run("marked as from InfluxDB", func(t *testing.T) {
		var b bytes.Buffer
		if err := ifx.writeHTMLSection(&b, "identity"); err != nil {
			t.Fatal(err)
		}
		wm := rec.run.Manifest
		for _, want := range []string{"Protocol SHA-256", "Operator", wm.Protocol.SHA256, wm.RigConfigSHA256, wm.Operator} {
			if want == "" || !strings.Contains(b.String(), want) {
				t.Errorf("identity lacks %q:\n%s", want, b.String())
			}
		}
		var w bytes.Buffer
		if err := rec.writeHTMLSection(&w, "identity"); err != nil {
			t.Fatal(err)
		}
		// Only the protocol's description is not there (the record's is).
		if n := strings.Count(b.String(), NotInInflux); n > 1 {
			t.Errorf("identity says %q %d times:\n%s", NotInInflux, n, b.String())
		}
		gm := ifx.run.Manifest
		if !equalJSON(gm.Calibration, wm.Calibration) || !equalJSON(gm.DUT, wm.DUT) || !equalJSON(gm.DUTProfile, wm.DUTProfile) ||
			!equalJSON(gm.Build, wm.Build) || wm.Build == nil || !equalJSON(gm.Job, wm.Job) || wm.Job == nil || gm.Host != wm.Host || wm.Host == "" || devBuildNotice(&gm) != devBuildNotice(&wm) ||
			gm.SoftwareVersion != wm.SoftwareVersion || !gm.Started.Equal(wm.Started) || gm.Protocol.File != wm.Protocol.File {
			t.Errorf("identity: influx %+v\n record %+v", gm, wm)
		}
		notes := strings.Join(ifx.notes, "\n")
		for _, want := range []string{"made from InfluxDB", "requirement ids only", "alphabetically", "that of its start point"} {
			if !strings.Contains(notes, want) {
				t.Errorf("the notes do not say %q:\n%s", want, notes)
			}
		}
		if strings.Contains(notes, "summary point") {
			t.Errorf("the notes miss a summary point that is there:\n%s", notes)
		}
		// A signed document must not claim what was not done: no checksum
		// of the record was verified, and it was not made from the record.
		var html bytes.Buffer
		if err := ifx.WriteHTML(&html); err != nil {
			t.Fatal(err)
		}
		page := html.String()
		if strings.Contains(page, "its checksum verified") || strings.Contains(page, "from the run record by") ||
			!strings.Contains(page, "from InfluxDB by mockloop") || !strings.Contains(page, "not checked: this report was made from InfluxDB") {
			t.Error("the InfluxDB report claims the run record's integrity, or does not say where it comes from")
		}
	})

	t.Run("generate", func(t *testing.T) {
		out := t.TempDir()
		files, err := GenerateInflux(ctx, cfg, runID, Options{Formats: []string{"html", "pdf", "junit", "csv"}, OutDir: out, Generated: gen})
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != 6 {
			t.Errorf("files %v", files)
		}
		recOut := t.TempDir()
		if _, err := Generate(dir, Options{Formats: []string{"csv", "junit"}, OutDir: recOut, Generated: gen}); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{BeatsCSVFile, CriteriaCSVFile} {
			g, _ := os.ReadFile(filepath.Join(out, f))
			w, _ := os.ReadFile(filepath.Join(recOut, f))
			if !bytes.Equal(g, w) || len(w) == 0 {
				t.Errorf("%s differs:\n--- influx\n%.2000s\n--- record\n%.2000s", f, g, w)
			}
		}
		g, w := readCSVColumns(t, filepath.Join(out, FramesCSVFile)), readCSVColumns(t, filepath.Join(recOut, FramesCSVFile))
		if len(g) != len(w) || len(w["t [s]"]) != int(rec.frames.Frames) {
			t.Fatalf("frames.csv: columns %d from InfluxDB, %d from the record; %d rows", len(g), len(w), len(w["t [s]"]))
		}
		for name, col := range w {
			if !slices.Equal(g[name], col) {
				t.Errorf("frames.csv column %s differs", name)
			}
		}
		html, err := os.ReadFile(filepath.Join(out, HTMLFile))
		if err != nil || !bytes.Contains(html, []byte("made from InfluxDB")) || bytes.Contains(html, []byte("<script")) {
			t.Errorf("report.html (%v) does not say it is from InfluxDB", err)
		}
		if pdf, err := os.ReadFile(filepath.Join(out, PDFFile)); err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			t.Errorf("report.pdf: %v", err)
		}

		// A selection: one step's frames, every 10th.
		sel := Selection{Step: "2", Every: 10}
		selOut := t.TempDir()
		if _, err := GenerateInflux(ctx, cfg, runID, Options{Formats: []string{"csv"}, OutDir: selOut, Frames: sel}); err != nil {
			t.Fatal(err)
		}
		var recSel bytes.Buffer
		if err := rec.WriteFramesCSV(&recSel, sel); err != nil {
			t.Fatal(err)
		}
		recFile := filepath.Join(t.TempDir(), "sel.csv")
		os.WriteFile(recFile, recSel.Bytes(), 0o644)
		g, w = readCSVColumns(t, filepath.Join(selOut, FramesCSVFile)), readCSVColumns(t, recFile)
		if n := len(w["t [s]"]); n != 200 || !slices.Equal(g["t [s]"], w["t [s]"]) || !slices.Equal(g["aop [mmHg]"], w["aop [mmHg]"]) {
			t.Errorf("selected frames: %d rows from the record, %d from InfluxDB", n, len(g["t [s]"]))
		}
		if _, err := GenerateInflux(ctx, cfg, runID, Options{Formats: []string{"csv"}, OutDir: selOut, Frames: Selection{Step: "9"}}); !errors.Is(err, ErrSelection) {
			t.Errorf("a step the run does not have: %v", err)
		}
	})

	t.Run("no run", func(t *testing.T) {
		other := runlog.NewRunID(time.Now())
		if _, err := LoadInflux(ctx, cfg, other); !errors.Is(err, ErrNotInInflux) {
			t.Errorf("a run InfluxDB does not have: %v", err)
		}
		if _, err := LoadInflux(ctx, cfg, "../x"); err == nil {
			t.Error("an invalid run id was taken")
		}
		if _, err := LoadInflux(ctx, influx.Config{URL: srv.URL, Bucket: "nodb"}, runID); err == nil || errors.Is(err, ErrNotInInflux) {
			t.Errorf("a missing database: %v", err)
		}
		if _, err := GenerateInflux(ctx, cfg, runID, Options{}); err == nil {
			t.Error("no output directory was taken")
		}
	})

	t.Run("bucket with retention policy", func(t *testing.T) {
		r, err := LoadInflux(ctx, influx.Config{URL: srv.URL, Bucket: influxtest.Database + "/autogen"}, runID)
		if err != nil {
			t.Fatal(err)
		}
		if !equalJSON(r.run.Result.Criteria, ifx.run.Result.Criteria) || r.frames.Frames != ifx.frames.Frames || len(r.trends) != len(ifx.trends) {
			t.Errorf("read from %s/autogen: %d criteria, %d frames", influxtest.Database, len(r.run.Result.Criteria), r.frames.Frames)
		}
	})

	// What InfluxDB cannot reproduce: the results of always-invariants. The
	// criteria from InfluxDB are the record's without them, and the report
	// says why the run failed.
	t.Run("always invariants", func(t *testing.T) {
		dir, runID := influxRigRun(t, srv, invariantProtocol)
		rec, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		ifx, err := LoadInflux(ctx, influx.Config{URL: srv.URL}, runID)
		if err != nil {
			t.Fatal(err)
		}
		// The engine logs invariant results as criterion events: InfluxDB
		// has them all, and says nothing is missing.
		if len(rec.run.Result.Criteria) != 2 || !equalJSON(ifx.run.Result.Criteria, rec.run.Result.Criteria) {
			t.Errorf("criteria from InfluxDB %+v, from the record %+v", ifx.run.Result.Criteria, rec.run.Result.Criteria)
		}
		if ifx.run.Result.Outcome != runlog.OutcomeFail || rec.run.Result.Outcome != runlog.OutcomeFail {
			t.Errorf("outcome %s from InfluxDB, %s from the record", ifx.run.Result.Outcome, rec.run.Result.Outcome)
		}
		if notes := strings.Join(ifx.notes, "\n"); strings.Contains(notes, "`always` invariant") {
			t.Errorf("the notes say invariants are missing, though they are there:\n%s", notes)
		}
	})

	// Last, as it changes the data: without the summary point (not all
	// points have arrived), the run.end event stands in for it.
	t.Run("no summary point", func(t *testing.T) {
		srv.InfluxQL(t, "DELETE FROM runs WHERE run_id = "+influxtest.Literal(runID))
		r, err := LoadInflux(ctx, cfg, runID)
		if err != nil {
			t.Fatal(err)
		}
		w, g := rec.run.Result, r.run.Result
		if g == nil || g.Outcome != w.Outcome || g.Frames != w.Frames || !closeTo(g.DurationS, w.DurationS) || len(g.Criteria) != len(w.Criteria) {
			t.Fatalf("without the summary point: %+v", g)
		}
		if !r.run.Manifest.Epoch.Equal(rec.run.Manifest.Epoch) {
			t.Errorf("epoch %v from the step points, %v in the record", r.run.Manifest.Epoch, rec.run.Manifest.Epoch)
		}
		if g.Influx != nil || !strings.Contains(strings.Join(r.notes, "\n"), "no summary point") {
			t.Errorf("the report does not say the summary point is missing: %+v %q", g.Influx, r.notes)
		}
	})

	// A run logged by an older mockloop: its summary point has no state
	// and no identity. The report says so, never guessing.
	t.Run("old-style run", func(t *testing.T) {
		srv.InfluxQL(t, "DELETE FROM runs WHERE run_id = "+influxtest.Literal(runID))
		w := rec.run.Result
		lp := fmt.Sprintf("runs,rig=%s,run_id=%s frames=%di,delivered=true,outcome=%q,duration_s=%v %d\n", rec.run.Manifest.Rig, runID,
			w.Frames, w.Outcome, w.DurationS, rec.run.Manifest.Epoch.UnixNano())
		resp, err := http.Post(srv.URL+"/write?db="+influxtest.Database, "text/plain", strings.NewReader(lp))
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("write %q: %v %v", lp, resp, err)
		}
		resp.Body.Close()
		r, err := LoadInflux(ctx, cfg, runID)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := r.writeHTMLSection(&b, "identity"); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(b.String(), NotInInflux); n < 10 || !strings.Contains(b.String(), "all channels") {
			t.Errorf("identity of an old-style run says %q %d times:\n%s", NotInInflux, n, b.String())
		}
		var j bytes.Buffer
		if err := r.WriteJUnit(&j); err != nil {
			t.Fatal(err)
		}
		_, gp := junitProps(j.String())
		for _, k := range []string{"protocol_file", "protocol_sha256", "rig_config_sha256", "software_version", "operator", "dut_model"} {
			if gp[k] != NotInInflux {
				t.Errorf("property %s of an old-style run is %q, want %q", k, gp[k], NotInInflux)
			}
		}
		if notes := strings.Join(r.notes, "\n"); !strings.Contains(notes, "did not write a start point") {
			t.Errorf("the notes do not say the identity is missing:\n%s", notes)
		}
		if r.run.Result == nil || r.run.Result.Outcome != w.Outcome {
			t.Errorf("old-style summary point not read: %+v", r.run.Result)
		}
	})
}

// junitProps splits a JUnit document into its text without the suite's
// <properties> (the first) and those properties.
func junitProps(doc string) (string, map[string]string) {
	props := map[string]string{}
	loc := regexp.MustCompile(`(?s)<properties>.*?</properties>`).FindStringIndex(doc)
	if loc == nil {
		return doc, props
	}
	for _, m := range regexp.MustCompile(`<property name="([^"]*)" value="([^"]*)"></property>`).FindAllStringSubmatch(doc[loc[0]:loc[1]], -1) {
		props[m[1]] = m[2]
	}
	return doc[:loc[0]] + doc[loc[1]:], props
}

// readCSVColumns reads a CSV file into its columns by header.
func readCSVColumns(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	cols := map[string][]string{}
	for _, rec := range recs[1:] {
		for i, h := range recs[0] {
			cols[h] = append(cols[h], rec[i])
		}
	}
	return cols
}

// sameFigure checks that two figures show the same data: the same series
// by channel name (their order and colour follow the channel order, which
// differs) with the same bands and points; the means of a trend within
// 1e-6, since InfluxDB averages the decimals of the frames' float32 values,
// not the float32 values themselves.
func sameFigure(t *testing.T, g, w *figure) {
	t.Helper()
	if g.Title != w.Title || g.X0 != w.X0 || g.X1 != w.X1 || len(g.Series) != len(w.Series) {
		t.Errorf("figure %q: x %v–%v, %d series from InfluxDB; %q: %v–%v, %d series from the record",
			g.Title, g.X0, g.X1, len(g.Series), w.Title, w.X0, w.X1, len(w.Series))
		return
	}
	for _, ws := range w.Series {
		i := slices.IndexFunc(g.Series, func(s series) bool { return s.Name == ws.Name })
		if i < 0 {
			t.Errorf("figure %q: no series %s from InfluxDB", w.Title, ws.Name)
			continue
		}
		gs := g.Series[i]
		if !equalJSON(gs.Bands, ws.Bands) {
			t.Errorf("figure %q, %s: bands differ", w.Title, ws.Name)
		}
		if len(gs.Lines) != len(ws.Lines) {
			t.Errorf("figure %q, %s: %d lines from InfluxDB, %d from the record", w.Title, ws.Name, len(gs.Lines), len(ws.Lines))
			continue
		}
		for j := range ws.Lines {
			if len(gs.Lines[j]) != len(ws.Lines[j]) {
				t.Errorf("figure %q, %s: line %d has %d points from InfluxDB, %d from the record", w.Title, ws.Name, j, len(gs.Lines[j]), len(ws.Lines[j]))
				continue
			}
			for k, p := range ws.Lines[j] {
				if q := gs.Lines[j][k]; q.X != p.X || math.Abs(q.Y-p.Y) > 1e-6*max(1, math.Abs(p.Y)) {
					t.Errorf("figure %q, %s: point %d is %v from InfluxDB, %v from the record", w.Title, ws.Name, k, q, p)
					break
				}
			}
		}
	}
}

// closeTo reports whether two statistics agree to within the rounding of
// summing in another order (InfluxDB's aggregates), NaN equal to NaN.
func closeTo(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b))
}

// closePtr is closeTo for values that may be absent.
func closePtr(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return closeTo(*a, *b)
}

// equalJSON reports whether two values have the same JSON: a deep
// comparison that follows pointers to values, not addresses.
func equalJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
