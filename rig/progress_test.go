package rig

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/protocols"
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
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "\r\x1b[Kstep 1/2 \"a\"  0 s / 2 min 50 s  lvp ") || !strings.Contains(out, " / 2 min 50 s  MAP ") {
		t.Errorf("live progress %q", out)
	}
}

// TestProgressBeatValues: the minute lines show the monitor's values of
// the key beat channel's latest beat (MAP, HR, CO) and the other key
// channels' means over it, each with its unit, and the setpoints in force:
// MAP held at its 65 mmHg target reads about 65, not one raw sample of the
// pulsatile pressure.
func TestProgressBeatValues(t *testing.T) {
	cfg := dutConfig(t)
	src := header + `  - name: supported
    set: {loop.preset: heart_failure, dut.level: P8, loop.target.map: 65 mmHg}
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
		`flow_dut [0-9.]+ L/min, dut\.rpm [0-9]+ rpm; loop\.preset heart_failure, dut\.level P8, target MAP 65 mmHg$`)
	m := re.FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("progress:\n%s\nwant a line matching %s", log.String(), re)
	}
	if v, _ := strconv.ParseFloat(m[1], 64); v < 60 || v > 70 {
		t.Errorf("MAP %v mmHg with its target at 65 mmHg:\n%s", v, log.String())
	}
}
