package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/units"
)

// latencyJSON is one loop's figures in `mockloop timing --json`.
type latencyJSON struct {
	P50    float64 `json:"p50_us"`
	P99    float64 `json:"p99_us"`
	P999   float64 `json:"p999_us"`
	Max    float64 `json:"max_us"`
	Missed int64   `json:"missed"`
	Cycles int64   `json:"cycles"`
}

func latencyOf(l rig.Latencies) latencyJSON {
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	return latencyJSON{us(l.P50), us(l.P99), us(l.P999), us(l.Max), l.Missed, l.Cycles}
}

// cmdTiming qualifies the bench computer: exit 0 when it meets the goal
// (loop p99 ≤ 1.2 × bare p99, no missed cycle per 10⁶), 1 when not.
func cmdTiming(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("timing", stderr)
	rigArg := rigFlag(fs)
	span := fs.String("for", "60 s", "how long each loop is measured")
	prio := fs.Int("priority", -1, "SCHED_FIFO priority, 0 for normal scheduling (default: the rig config's)")
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	if _, ok := parseArgs(fs, args, 0, "usage: mockloop timing [--rig FILE] [--for 60s] [--priority N] [--json]"); !ok {
		return exitInvalid
	}
	d, err := units.ParseDuration(*span)
	if err != nil || d <= 0 {
		fmt.Fprintf(stderr, "mockloop: --for %q: a positive duration, e.g. 60 s\n", *span)
		return exitInvalid
	}
	if *prio > 99 {
		fmt.Fprintf(stderr, "mockloop: --priority %d: 0 to 99\n", *prio)
		return exitInvalid
	}
	cfg := rigArg.load()
	if cfg == nil {
		return exitInvalid
	}
	if *prio < 0 {
		*prio = cfg.Realtime.Priority
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := rig.Timing(ctx, cfg, d, *prio)
	if err != nil {
		fmt.Fprintf(stderr, "mockloop: timing: %v\n", err)
		return exitInfra
	}
	if len(res.Realtime.Refused) > 0 {
		fmt.Fprintf(stderr, "mockloop: real time: %s\n", res.Realtime)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			Loop     latencyJSON `json:"loop"`
			Bare     latencyJSON `json:"bare"`
			Priority string      `json:"priority"`
			Ratio    float64     `json:"loop_bare_p99"`
			Meets    bool        `json:"meets_goal"`
		}{latencyOf(res.Loop), latencyOf(res.Bare), res.Realtime.String(), res.Ratio(), res.MeetsGoal()})
	} else {
		fmt.Fprint(stdout, res)
	}
	if !res.MeetsGoal() {
		return exitFail
	}
	return exitPass
}
