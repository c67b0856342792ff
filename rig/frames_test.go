package rig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/verdict"
)

func TestParseFrames(t *testing.T) {
	for in, want := range map[string]int{"every:10": 10, "every:1": 1, " every:250 ": 250} {
		if got, err := ParseFrames(in); err != nil || got != want {
			t.Errorf("ParseFrames(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10", "all", "every:", "every:0", "every:-3", "every:x", "every:1.5", "every: 10", "Every:10", "every:99999999999999999999"} {
		if n, err := ParseFrames(in); err == nil || !errors.Is(err, ErrFrames) || !strings.Contains(err.Error(), "every:") {
			t.Errorf("ParseFrames(%q) = %d, %v; want a refusal naming the syntax", in, n, err)
		}
	}
}

// Only a dry run on virtual time may leave frames out of its record.
func TestCheckFramesRefusesTheWallClock(t *testing.T) {
	sim := simConfig(t)
	hw := *sim
	hw.Backend = "hardware"
	for _, tc := range []struct {
		name string
		cfg  *Config
		opts Options
		want string // "" for allowed
	}{
		{"virtual", sim, Options{FramesEvery: 10}, ""},
		{"all frames on the wall clock", sim, Options{FramesEvery: 1, Realtime: true}, ""},
		{"unset on hardware", &hw, Options{}, ""},
		{"realtime", sim, Options{FramesEvery: 10, Realtime: true}, "the run is on the wall clock (--realtime)"},
		{"hardware", &hw, Options{FramesEvery: 2}, "rig sim-loop-only is hardware"},
		{"resume", sim, Options{FramesEvery: 10, Resume: "runs/x"}, "a resumed run goes on keeping what its record kept"},
	} {
		err := CheckFrames(tc.cfg, tc.opts)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (!errors.Is(err, ErrFrames) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want ErrFrames saying %q", tc.name, err, tc.want)
		}
	}
}

// framesProtocol measures over frames (mean, max, std, relative to an
// earlier step, an invariant) and over beats (map), over two steps.
const framesProtocol = header + `  - name: rest
    set: {loop.preset: healthy}
    hold: 4 s
    criteria:
      - {id: F-1, measure: mean(aop), over: last 2 s, min: 50 mmHg}
      - {id: F-2, measure: max(lvp), max: 250 mmHg}
      - {id: F-3, measure: map(aop), min: 50 mmHg}
  - name: afterload
    set: {loop.resistance: 2 mmHg·s/ml}
    hold: 3 s
    criteria:
      - {id: F-4, measure: std(flow_ao), max: 100 L/min}
      - {id: F-5, measure: mean(aop), min: 500 mmHg, on_fail: warn}
      - {id: F-7, measure: mean(aop), relative_to: rest, between: [-50 %, +200 %]}
always:
  - {id: F-6, channel: aop, max: 300 mmHg}
`

// runKept runs framesProtocol on the loop-only rig keeping one frame in
// every, from a fixed epoch, and opens its record.
func runKept(t *testing.T, every int) (*runlog.Result, *runlog.Run) {
	t.Helper()
	cfg := simConfig(t)
	p, err := protocols.Parse("frames.yaml", []byte(framesProtocol), cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	res, dir, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir(), ProtocolFile: "frames.yaml",
		ProtocolSource: []byte(framesProtocol), Version: "test", Epoch: epoch, FramesEvery: every})
	if err != nil {
		t.Fatalf("every:%d: %v", every, err)
	}
	run, err := runlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return res, run
}

// TestFramesEveryKeepsOneInN: a run that keeps 1 frame in N records the
// full run's frames at indices 0, N, 2N, … (values and times), says N in
// its manifest, and judges every criterion as the run that kept them all:
// the same values, steps and statistics, computed over every frame. Its
// record verifies, and its criteria recomputed from it agree with
// result.json.
func TestFramesEveryKeepsOneInN(t *testing.T) {
	allRes, allRun := runKept(t, 1)
	var allT []time.Duration
	var allV [][]float64
	if _, err := allRun.Frames(func(t time.Duration, v []float64) error {
		allT, allV = append(allT, t), append(allV, append([]float64(nil), v...))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if allRun.Manifest.FramesKeptEvery != 1 || allRes.Frames != int64(len(allT)) || len(allT) < 7000 {
		t.Fatalf("every:1: manifest says %d, %d frames in the result, %d read", allRun.Manifest.FramesKeptEvery, allRes.Frames, len(allT))
	}
	for _, every := range []int{10, 7} {
		res, run := runKept(t, every)
		if got := run.Manifest.FramesKeptEvery; got != every || run.Manifest.KeptEvery() != every {
			t.Errorf("every:%d: manifest frames_kept_every %d", every, got)
		}
		want := (len(allT) + every - 1) / every
		if res.Frames != int64(want) {
			t.Errorf("every:%d: %d frames in the record, want %d of %d", every, res.Frames, want, len(allT))
		}
		i := 0
		st, err := run.Frames(func(tt time.Duration, v []float64) error {
			if k := i * every; k >= len(allT) || tt != allT[k] || !reflect.DeepEqual(v, allV[k]) {
				t.Fatalf("every:%d: kept frame %d at %v is not the full run's frame %d", every, i, tt, k)
			}
			i++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// kept frames fill whole records (10 frames of 10 ms at 1 kHz), as a
		// full run's do, but for those cut short by an event
		if st.Records > int64(want)/8 {
			t.Errorf("every:%d: %d frames in %d records: the framing costs more per frame than in a full record", every, want, st.Records)
		}
		if i != want {
			t.Errorf("every:%d: read %d frames, want %d", every, i, want)
		}
		if !reflect.DeepEqual(res.Criteria, allRes.Criteria) || res.Outcome != allRes.Outcome {
			t.Errorf("every:%d: criteria differ from every:1:\n%+v\n%+v", every, res.Criteria, allRes.Criteria)
		}
		if !reflect.DeepEqual(res.Steps, allRes.Steps) {
			t.Errorf("every:%d: steps (frames acquired, statistics) differ from every:1:\n%+v\n%+v", every, res.Steps, allRes.Steps)
		}
		if v, err := runlog.Verify(run.Dir); err != nil || !v.Intact() {
			t.Errorf("every:%d: verify: %v %v", every, err, v.Failures())
		}
		rc, err := verdict.Recompute(run.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if d := rc.Compare(res); len(d) > 0 {
			t.Errorf("every:%d: recomputed criteria differ: %v", every, d)
		}
	}
}

// A run that kept 1 frame in N cannot be resumed: its invariants over
// the whole run cannot be restored from the frames it kept.
func TestResumeOfAThinnedRunIsRefused(t *testing.T) {
	_, run := runKept(t, 10)
	markInterrupted(t, run.Dir)
	sum := sha256.Sum256([]byte(framesProtocol))
	_, err := planResume(run.Dir, simConfig(t), []byte(framesProtocol), hex.EncodeToString(sum[:]))
	if !errors.Is(err, ErrCannotResume) || !strings.Contains(err.Error(), "kept 1 frame in 10") {
		t.Errorf("resume of an every:10 run: %v", err)
	}
}

// FuzzParseFrames feeds arbitrary text as --frames and a start request's
// frames: a refusal naming the syntax, or an N from 1 that the text
// states as every:N — never a panic.
func FuzzParseFrames(f *testing.F) {
	for _, s := range []string{"every:10", "every:1", "every:0", "every:-1", "every:", "10", "every:1e3", "every:+5", "every:0x10", " every:7\n", "every:9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseFrames(s)
		if err != nil {
			if n != 0 || !errors.Is(err, ErrFrames) || !strings.Contains(err.Error(), "every:") {
				t.Fatalf("ParseFrames(%q) = %d, %v", s, n, err)
			}
			return
		}
		if n < 1 {
			t.Fatalf("ParseFrames(%q) = %d", s, n)
		}
		if again, err := ParseFrames("every:" + strconv.Itoa(n)); err != nil || again != n {
			t.Fatalf("every:%d reads back as %d, %v", n, again, err)
		}
	})
}
