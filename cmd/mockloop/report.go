package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mockloop/mockloop/reports"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

const reportUsage = `usage: mockloop report [--runs DIR | --influx URL] [--format html,pdf,junit,csv] [--out DIR]
                       [--step PATH] [--from S] [--to S] [--every N] RUN

Makes the reports of a run again — passed, failed, aborted or interrupted —
from its record. RUN is a run id (or a unique prefix of one) in --runs, or a
run directory. The record is verified against its seal first (as by
mockloop verify): one that fails is reported all the same, every page
saying INTEGRITY FAILED, and the command exits 1. Files go to the run
directory unless --out: report.html,
report.pdf, junit.xml and, with html or pdf, criteria.csv (every evaluation
of every criterion: the reports summarise a loop's iterations); with csv,
criteria.csv, frames.csv and, if the run has beats, beats.csv. --step, --from, --to and --every select the frames of
frames.csv (and, but for --every, the beats of beats.csv); times are seconds
on the run clock (12.5) or durations (90s, 1h30m).

With --remote URL (or $MOCKLOOP_REMOTE) the run is on the server of a rig
(mockloop serve): its reports and its result.json and manifest.json are
downloaded as the server made them into --out, by default a directory named
after the run id; RUN is a run id or a unique prefix of one there. The token
comes from MOCKLOOP_API_TOKEN.

With --influx, or when the record is not in --runs and MOCKLOOP_INFLUX_URL
is set, the reports are made from the run's points in InfluxDB instead: RUN
is then a full run id, and the files go to --out, by default a directory
named after the run id in the current directory. The bucket and token come
from MOCKLOOP_INFLUX_BUCKET (default mockloop) and MOCKLOOP_INFLUX_TOKEN.
InfluxDB has the criteria, step statistics, outcome, events, beats and
frames, and the run's identity from its start point (protocol and rig
config hashes, software version, operator, device under test, calibration
records), not the rest of the record (the protocol's description and
requirements catalogue; the identity of a run logged by an older mockloop,
without a start point): the reports say "not available from InfluxDB" there.

flags:
`

// cmdReport implements `mockloop report`. It exits 0 when every file was
// written, 1 when they were but the record fails verification against its
// seal (the reports say INTEGRITY FAILED), 3 on invalid input (flags, an unknown run, a selection the run
// cannot meet) and 4 when the record cannot be read or a file not written.
func cmdReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("report", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, reportUsage)
		fs.PrintDefaults()
	}
	runsDir := fs.String("runs", "runs", "directory of run records")
	format := fs.String("format", strings.Join(reports.DefaultFormats, ","), "comma-separated `LIST` of formats: html, pdf, junit, csv")
	out := fs.String("out", "", "write the files to `DIR` instead of the run directory")
	step := fs.String("step", "", "csv: only the frames and beats of the step at `PATH` (e.g. 3.2)")
	from := fs.String("from", "", "csv: only from run time `S`")
	to := fs.String("to", "", "csv: only up to (not including) run time `S`")
	every := fs.Int("every", 0, "csv: only every `N`-th frame")
	influxURL := fs.String("influx", "", "make the reports from the run's points in InfluxDB at `URL`")
	keyring := fs.String("keyring", inHome("keyring.json"), "keyring of trusted signing keys `FILE`")
	rf := addRemoteFlags(fs)
	pos, ok := parseArgs(fs, args, 1, "usage: mockloop report [--runs DIR] [--format LIST] [--out DIR] [--influx URL | --remote URL] RUN")
	if !ok {
		return exitInvalid
	}
	if rf.target() != "" {
		return cmdReportRemote(rf, pos[0], *out, stdout, stderr)
	}
	formats, err := reports.ParseFormats(*format)
	if err != nil {
		fmt.Fprintf(stderr, "mockloop report: %v\n", err)
		return exitInvalid
	}
	sel := reports.Selection{Step: *step, Every: *every}
	for _, t := range []struct {
		flag, text string
		d          *time.Duration
	}{{"from", *from, &sel.From}, {"to", *to, &sel.To}} {
		if t.text == "" {
			continue
		}
		if *t.d, err = parseRunTime(t.text); err != nil {
			fmt.Fprintf(stderr, "mockloop report: --%s %q: %v\n", t.flag, t.text, err)
			return exitInvalid
		}
	}
	if !sel.IsZero() && !slices.Contains(formats, reports.FormatCSV) {
		fmt.Fprintln(stderr, "mockloop report: --step, --from, --to and --every select frames for csv; add csv to --format")
		return exitInvalid
	}
	var files []string
	if *influxURL != "" {
		files, err = reportFromInflux(*influxURL, pos[0], reports.Options{Formats: formats, OutDir: *out, Frames: sel})
	} else {
		dir, ferr := findRun(*runsDir, pos[0])
		if ferr != nil {
			// The record is not here: InfluxDB may have the run.
			if env := os.Getenv("MOCKLOOP_INFLUX_URL"); env != "" && runlog.ValidRunID(pos[0]) {
				fmt.Fprintf(stderr, "mockloop report: %v; making the reports from InfluxDB ($MOCKLOOP_INFLUX_URL)\n", ferr)
				files, err = reportFromInflux(env, pos[0], reports.Options{Formats: formats, OutDir: *out, Frames: sel})
			} else {
				fmt.Fprintf(stderr, "mockloop report: %v\n", ferr)
				return exitInvalid
			}
		} else {
			files, err = reports.Generate(dir, reports.Options{Formats: formats, OutDir: *out, Frames: sel, Trusted: keyringTrust(*keyring, stderr)})
		}
	}
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mockloop report: %v\n", err)
		if errors.Is(err, reports.ErrSelection) || errors.Is(err, reports.ErrNotInInflux) || errors.Is(err, errRunID) {
			return exitInvalid
		}
		if errors.Is(err, reports.ErrIntegrity) { // written, saying so on every page
			return exitFail
		}
		return exitInfra
	}
	return exitPass
}

// errRunID is a RUN that is not a full run id where one is needed.
var errRunID = errors.New("want a full run id (e.g. 20261120T231502Z-7f3a9c) to read a run from InfluxDB")

// reportFromInflux makes the reports of the run with id runID from its
// points in InfluxDB at url (bucket and token as for `mockloop run`), into
// opt.OutDir or, by default, a directory named after the run in the current
// directory: the record, and so its directory, is not on this machine. An
// interrupt stops the queries.
func reportFromInflux(url, runID string, opt reports.Options) ([]string, error) {
	if !runlog.ValidRunID(runID) {
		return nil, fmt.Errorf("%q: %w", runID, errRunID)
	}
	if opt.OutDir == "" {
		opt.OutDir = runID
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return reports.GenerateInflux(ctx, influxConfig(url, rig.InfluxConfig{}), runID, opt)
}

// findRun resolves RUN: a run directory (a path to a directory with a
// manifest), a run id in runsDir, or a prefix of exactly one run id there.
func findRun(runsDir, run string) (string, error) {
	isRun := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "manifest.json"))
		return err == nil
	}
	if strings.ContainsRune(run, filepath.Separator) || run == "." || run == ".." {
		if isRun(run) {
			return run, nil
		}
		return "", fmt.Errorf("%s is not a run directory (no manifest.json)", run)
	}
	if dir := filepath.Join(runsDir, run); isRun(dir) {
		return dir, nil
	}
	if isRun(run) {
		return run, nil
	}
	sums, err := runlog.List(runsDir)
	if err != nil && len(sums) == 0 {
		return "", err
	}
	var match []string
	for _, s := range sums {
		if strings.HasPrefix(s.RunID, run) {
			match = append(match, s.RunID)
		}
	}
	switch len(match) {
	case 0:
		return "", fmt.Errorf("no run %q in %s", run, runsDir)
	case 1:
		return filepath.Join(runsDir, match[0]), nil
	}
	return "", fmt.Errorf("%q matches %d runs in %s: %s", run, len(match), runsDir, strings.Join(match, ", "))
}

// parseRunTime parses a run-clock time: seconds ("12.5", "12.5 s") or a
// Go duration ("90s", "1h30m").
func parseRunTime(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimSpace(strings.TrimSuffix(t, "s"))
	if v, err := strconv.ParseFloat(num, 64); err == nil {
		if v < 0 || v > 1e9 {
			return 0, errors.New("out of range")
		}
		return time.Duration(math.Round(v * float64(time.Second))), nil
	}
	d, err := time.ParseDuration(strings.ReplaceAll(t, " ", ""))
	if err != nil {
		return 0, errors.New("want seconds (12.5) or a duration (90s, 1h30m)")
	}
	if d < 0 {
		return 0, errors.New("negative")
	}
	return d, nil
}
