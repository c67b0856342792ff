package rig

import (
	"bytes"
	"context"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/units"
)

func TestPlannedDuration(t *testing.T) {
	cfg := simConfig(t)
	src := header + `
  - hold: 30 s
  - ramp: {loop.heart_rate: {to: 90 bpm, over: 10 s}}
    hold: 20 s
  - until: {condition: mean(aop) > 10 mmHg, timeout: 2 min}
  - sweep: {loop.heart_rate: [60 bpm, 80 bpm, 100 bpm]}
    steps: [{hold: 10 s}, {hold: 5 s}]
  - repeat: {count: 4}
    steps: [{hold: 1 min}]
  - repeat: {for: 12 h}
    steps: [{hold: 10 min}]
`
	p, err := protocols.Parse("p.yaml", []byte(src), cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	want := 30*time.Second + 30*time.Second + 2*time.Minute + 45*time.Second + 4*time.Minute + 12*time.Hour
	if got := planned(p.Steps); got != want {
		t.Errorf("planned %v, want %v", got, want)
	}
}

func TestProgressLines(t *testing.T) {
	cfg := simConfig(t)
	src := header + "  - name: a\n    hold: 90 s\n  - name: b\n    hold: 80 s\n"
	p, _ := protocols.Parse("p.yaml", []byte(src), cfg.Info())
	var log bytes.Buffer
	res, _, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir(), Log: &log})
	if err != nil || res.Outcome != "pass" {
		t.Fatal(err, res)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	want := []string{`step 1/2 "a" at 0 s`, `1 min of 2 min 50 s: step 1/2 "a", MAP `, `step 2/2 "b" at 1 min 30 s`, `2 min of 2 min 50 s: step 2/2 "b", MAP `}
	if len(lines) != len(want) {
		t.Fatalf("progress:\n%s", log.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d %q, want prefix %q", i, lines[i], w)
		}
	}
	// live: a status line redrawn in place, never a newline of its own
	var live bytes.Buffer
	res, _, err = Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir(), Log: &live, Live: true})
	if err != nil || res.Outcome != "pass" {
		t.Fatal(err, res)
	}
	out := live.String()
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "\r\x1b[Kstep 1/2 \"a\"  0 s / 2 min 50 s  no beat yet, aop ") || !strings.Contains(out, " / 2 min 50 s  MAP ") {
		t.Errorf("live progress %q", out)
	}
}

// TestProgressBeatValues: the minute lines show the monitor's values of
// the key beat channel's latest beat (MAP, HR, CO) and the other key
// channels' means over it, each with its unit, and the setpoints in force:
// MAP held at its 85 mmHg target reads about 85, not one raw sample of the
// pulsatile pressure.
func TestProgressBeatValues(t *testing.T) {
	cfg := dutConfig(t)
	src := header + `  - name: supported
    set: {loop.preset: healthy, dut.level: P2, loop.target.map: 85 mmHg}
    hold: 2 min
`
	p, err := protocols.Parse("p.yaml", []byte(src), cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	res, _, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir(), Log: &log})
	if err != nil || res.Outcome != "pass" {
		t.Fatal(err, res)
	}
	re := regexp.MustCompile(`(?m)^2 min of 2 min: step 1/1 "supported", MAP ([0-9.]+) mmHg, HR [0-9.]+ bpm, CO [0-9.]+ L/min, lvp [0-9.]+ mmHg, ` +
		`flow_dut [0-9.]+ L/min, dut\.rpm [0-9]+ rpm; loop\.preset healthy, dut\.level P2, target MAP 85 mmHg$`)
	m := re.FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("progress:\n%s\nwant a line matching %s", log.String(), re)
	}
	if v, _ := strconv.ParseFloat(m[1], 64); v < 80 || v > 90 {
		t.Errorf("MAP %v mmHg with its target at 85 mmHg:\n%s", v, log.String())
	}
}

// TestProgressStaleBeat: a beat older than staleBeat is not shown as the
// loop's state: after a transient the detector can lose the beat for
// tens of seconds (the demo's afterload step), and the line then says so
// and shows the beat channel's and the key channels' means since.
func TestProgressStaleBeat(t *testing.T) {
	var log bytes.Buffer
	p := &progress{w: &log, nextLog: time.Minute, params: map[string]protocols.Value{},
		beatKey: &progressKey{col: 0, name: "aop", dim: units.Pressure, mean: math.NaN()},
		keys:    []progressKey{{col: 1, name: "flow_dut", dim: units.Flow, mean: math.NaN()}}}
	if got := p.values(0, ", "); got != "no beat yet" {
		t.Errorf("before any frame: %q", got)
	}
	at := time.Duration(0)
	for ; at < 9*time.Second; at += 10 * time.Millisecond {
		p.frame(at, []float64{100, 1})
	}
	p.beatDone(daq.Beat{Mean: 95, HeartRate: 75, StrokeVolume: 70}, at)
	if got, want := p.values(at+staleBeat, ", "), "MAP 95 mmHg, HR 75 bpm, CO 5.25 L/min, flow_dut 1 L/min"; got != want {
		t.Errorf("fresh beat: %q, want %q", got, want)
	}
	for ; at <= time.Minute; at += 10 * time.Millisecond {
		p.frame(at, []float64{150, 2})
	}
	if want := "1 min of 0 s: , no beat for 51 s, aop 150 mmHg, flow_dut 2 L/min\n"; log.String() != want {
		t.Errorf("stale beat: %q, want %q", log.String(), want)
	}
}
