package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mockloop/mockloop/influx"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

const syncUsage = `usage: mockloop sync [--runs DIR] [--influx URL]

Replays to InfluxDB what runs under DIR could not deliver while they ran
(their spool), oldest first, and records the outcome in each run's
delivery.json (not sealed: the record and its signatures stay as they were).
The bucket, org and token come from MOCKLOOP_INFLUX_BUCKET
(default mockloop), MOCKLOOP_INFLUX_ORG and MOCKLOOP_INFLUX_TOKEN.

Batches the server refused as invalid stay in <run>/spool/rejected; move
them back into <run>/spool to try them again.

Runs still being written by a live process are skipped with a message:
their own sink is delivering them.

exit codes: 0 everything delivered (live runs skipped), 3 invalid flags,
4 something is left
`

// cmdSync is `mockloop sync`: it runs influx.Replay on every run with a
// spool and prints, per run, the points replayed and the points left. It
// exits 0 when nothing is left anywhere but in live runs, which it skips
// (their sink delivers them), 4 when something is (the server is down, a
// batch was refused).
func cmdSync(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sync", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, syncUsage) }
	runsDir := fs.String("runs", "runs", "directory of run records")
	influxURL := fs.String("influx", "", "InfluxDB `URL` (default $MOCKLOOP_INFLUX_URL)")
	if _, ok := parseArgs(fs, args, 0, syncUsage); !ok {
		return exitInvalid
	}
	cfg := influxConfig(*influxURL, rig.InfluxConfig{})
	if cfg.URL == "" {
		fmt.Fprintln(stderr, "mockloop sync: no InfluxDB: give --influx URL or set MOCKLOOP_INFLUX_URL")
		return exitInvalid
	}

	recoverRuns(*runsDir, stderr)
	list, err := runlog.List(*runsDir)
	if err != nil {
		fmt.Fprintf(stderr, "mockloop sync: %v\n", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	code := exitPass
	if err != nil {
		code = exitInfra
	}
	synced := 0
	for _, r := range list {
		if !influx.HasSpool(r.Dir) {
			continue
		}
		synced++
		replayed, left, err := influx.Replay(ctx, r.Dir, cfg)
		switch {
		case errors.Is(err, runlog.ErrRunLocked):
			// A live run delivers its own points; its spool is its sink's.
			fmt.Fprintf(stdout, "%s: skipped: still being written by a live process; its own sink delivers it, sync what it leaves after it ends\n", r.RunID)
		case err != nil:
			fmt.Fprintf(stdout, "%s: replayed %d points, %d left: %v\n", r.RunID, replayed, left, err)
			code = exitInfra
		case left > 0 || influx.HasSpool(r.Dir):
			why := ""
			if run, err := runlog.Open(r.Dir); err == nil && run.Influx() != nil && run.Influx().Error != "" {
				why = ": " + run.Influx().Error
			}
			fmt.Fprintf(stdout, "%s: replayed %d points, %d left%s\n", r.RunID, replayed, left, why)
			code = exitInfra
		default:
			fmt.Fprintf(stdout, "%s: replayed %d points, 0 left, delivered\n", r.RunID, replayed)
		}
	}
	if synced == 0 {
		fmt.Fprintf(stdout, "nothing to sync in %s\n", *runsDir)
	}
	return code
}

// influxConfig is where runs are logged (DESIGN.md, CLI defaults): the URL
// from the --influx flag, else $MOCKLOOP_INFLUX_URL, else the rig config;
// bucket and org from $MOCKLOOP_INFLUX_BUCKET and $MOCKLOOP_INFLUX_ORG, else
// the rig config (the bucket defaults to mockloop); the token only from
// $MOCKLOOP_INFLUX_TOKEN, never from a file. An empty URL means no InfluxDB.
func influxConfig(flagURL string, rigCfg rig.InfluxConfig) influx.Config {
	or := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	return influx.Config{
		URL:    or(flagURL, os.Getenv("MOCKLOOP_INFLUX_URL"), rigCfg.URL),
		Org:    or(os.Getenv("MOCKLOOP_INFLUX_ORG"), rigCfg.Org),
		Bucket: or(os.Getenv("MOCKLOOP_INFLUX_BUCKET"), rigCfg.Bucket, influx.DefaultBucket),
		Token:  os.Getenv("MOCKLOOP_INFLUX_TOKEN"),
	}
}
