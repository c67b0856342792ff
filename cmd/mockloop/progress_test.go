package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// progressProtocol is two steps, 2 min 10 s of run time: two step lines
// and two minute lines in a log.
const progressProtocol = `protocol: 1
name: progress
steps:
  - name: supported
    set: {loop.preset: heart_failure, dut.level: P8}
    hold: 70 s
  - name: stopped
    set: {dut.level: P0}
    hold: 60 s
`

// runProgress runs progressProtocol with stderr on w (closed after), and
// returns what r read of it and the exit code.
func runProgress(t *testing.T, w *os.File, r io.Reader) (string, int) {
	t.Helper()
	proto := filepath.Join(t.TempDir(), "progress.yaml")
	if err := os.WriteFile(proto, []byte(progressProtocol), 0o644); err != nil {
		t.Fatal(err)
	}
	read := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, r) // until w closes (a pty's master reads EIO then)
		read <- b.String()
	}()
	var stdout bytes.Buffer
	code := run([]string{"run", "--runs", t.TempDir(), proto}, &stdout, &lossyWriter{f: w})
	_ = w.Close()
	return <-read, code
}

// TestProgressWithoutTerminal: with stderr on a pipe (a CI log) progress is
// one complete line per step start and one per minute of run time, no
// live line's carriage returns or escapes, each line greppable alone with
// the step, the beat values with units and the setpoints in force.
func TestProgressWithoutTerminal(t *testing.T) {
	chdirRoot(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, code := runProgress(t, w, r)
	if code != exitPass {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if strings.ContainsAny(out, "\r\x1b") {
		t.Errorf("progress in a log has a live line's \\r or escapes: %q", out)
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^step 1/2 "supported" at 0 s$`),
		regexp.MustCompile(`^1 min of 2 min 10 s: step 1/2 "supported", MAP [0-9.]+ mmHg, HR [0-9.]+ bpm, CO [0-9.]+ L/min, lvp [0-9.]+ mmHg, flow_dut [0-9.]+ L/min, dut\.rpm [0-9]+ rpm; loop\.preset heart_failure, dut\.level P8$`),
		regexp.MustCompile(`^step 2/2 "stopped" at 1 min 10 s$`),
		regexp.MustCompile(`^2 min of 2 min 10 s: step 2/2 "stopped", MAP [0-9.]+ mmHg, .*; loop\.preset heart_failure, dut\.level P0$`),
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d %q, want %s", i+1, lines[i], re)
		}
	}
}

// TestProgressOnTerminal: with stderr on a terminal (a pty) progress is
// the live line, redrawn in place with \r, its step lines apart.
func TestProgressOnTerminal(t *testing.T) {
	chdirRoot(t)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	out, code := runProgress(t, tty, ptmx)
	if code != exitPass {
		t.Fatalf("exit %d:\n%q", code, out)
	}
	if !strings.Contains(out, "\r\x1b[Kstep 1/2 \"supported\"  0 s / 2 min 10 s  ") || !strings.Contains(out, " / 2 min 10 s  MAP ") {
		t.Errorf("no live line on a terminal: %q", out)
	}
	if strings.Contains(out, "1 min of 2 min 10 s:") {
		t.Errorf("a terminal got the log's minute lines: %q", out)
	}
	if !strings.Contains(out, "step 2/2 \"stopped\" at 1 min 10 s") {
		t.Errorf("no step line on a terminal: %q", out)
	}
}
