package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/remote"
	"github.com/mockloop/mockloop/reports"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/serve"
)

// remoteFlags are the flags of a command that can talk to a rig's serve
// instead of the local bench. The credential is never a flag (it would
// show in ps): $MOCKLOOP_API_TOKEN.
type remoteFlags struct {
	fs     *flag.FlagSet
	url    *string
	caFile *string
}

func addRemoteFlags(fs *flag.FlagSet) remoteFlags {
	return remoteFlags{fs: fs,
		url:    fs.String("remote", "", "run against the `URL` of a rig's `mockloop serve` (default $MOCKLOOP_REMOTE); token from $MOCKLOOP_API_TOKEN"),
		caFile: fs.String("remote-ca", "", "trust the server certificate's CA from this PEM `FILE` (or pin its fingerprint in $MOCKLOOP_REMOTE_FINGERPRINT)")}
}

// target is the server's URL, "" for the local bench.
func (r remoteFlags) target() string {
	if *r.url != "" {
		return *r.url
	}
	return os.Getenv("MOCKLOOP_REMOTE")
}

// client makes the client; on a mistake it says why and returns nil.
func (r remoteFlags) client(stderr io.Writer, retrying func(error, time.Duration)) *remote.Client {
	c, err := remote.New(remote.Config{URL: r.target(), Token: os.Getenv("MOCKLOOP_API_TOKEN"),
		Fingerprint: os.Getenv("MOCKLOOP_REMOTE_FINGERPRINT"), CAFile: *r.caFile, Outage: remoteOutage(), Retrying: retrying})
	if err != nil {
		fmt.Fprintf(stderr, "mockloop: %v\n", err)
		return nil
	}
	return c
}

// remoteOutage is how long the server may be unreachable before a remote
// command gives up (exit 4): 10 minutes, or $MOCKLOOP_REMOTE_OUTAGE.
func remoteOutage() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("MOCKLOOP_REMOTE_OUTAGE")); err == nil && d > 0 {
		return d
	}
	return 10 * time.Minute
}

// localOnly are run's flags that name this machine's bench, records or
// person, which a remote run takes from the server and the token.
var localOnly = map[string]string{
	"rig": "the server's rig config is used", "dut": "the server's rig config names the DUT",
	"realtime": "the server sets the pace", "resume": "resume the run at the bench",
	"runs": "the record is kept by the server (--out DIR for its files)", "influx": "the server's InfluxDB is used",
	"operator": "the person is the token's name", "allow-dev-build": "the server's build is checked by serve",
	"answer": "prompts are answered at the rig's bench view (the client shows them)",
}

// remoteRun is what `run --remote` was asked to do.
type remoteRun struct {
	rf             remoteFlags
	out, follow    string
	wait           time.Duration
	requireInflux  bool
	stdout, stderr io.Writer
	client         *remote.Client
	progress       *remote.Progress
}

// newRemoteRun adds run's flags for a remote run to fs.
func newRemoteRun(fs *flag.FlagSet, stdout, stderr io.Writer) *remoteRun {
	rr := &remoteRun{rf: addRemoteFlags(fs), stdout: stdout, stderr: stderr}
	fs.StringVar(&rr.out, "out", "", "--remote: write the run's files to `DIR` (default: a directory named after the run id)")
	fs.StringVar(&rr.follow, "follow", "", "--remote: follow the queue entry or run `ID` instead of queueing a protocol")
	fs.DurationVar(&rr.wait, "wait", 0, "--remote: give up waiting in the queue after `D` (cancel the entry, exit 4)")
	return rr
}

// dispatch runs the command remotely when a server is named, and says
// so (done); a flag parse error, or a remote-only flag without a
// server, is done too, with exit 3.
func (rr *remoteRun) dispatch(fs *flag.FlagSet, pos []string, parseErr error) (code int, done bool) {
	switch {
	case parseErr != nil:
		return exitInvalid, true
	case rr.rf.target() != "":
		return cmdRunRemote(rr, fs, pos), true
	}
	for _, name := range []string{"out", "follow", "wait", "remote-ca"} {
		if explicitFlag(fs, name) {
			fmt.Fprintf(rr.stderr, "mockloop %s: --%s needs --remote URL (or $MOCKLOOP_REMOTE)\n", fs.Name(), name)
			return exitInvalid, true
		}
	}
	return 0, false
}

// flagValue is the value of run's flag name as given (or its default).
func flagValue(fs *flag.FlagSet, name string) string { return fs.Lookup(name).Value.String() }

// explicitValue is flagValue of a flag given on the command line, and ""
// for one left at its default: the server's own then applies.
func explicitValue(fs *flag.FlagSet, name string) string {
	if !explicitFlag(fs, name) {
		return ""
	}
	return flagValue(fs, name)
}

// cmdRunRemote is `mockloop run --remote URL`: the run is queued on the
// server's rig and followed to its end; its files come to --out (default:
// a directory named after the run id in the current directory, as
// `report --influx` does) and the command exits with the run's code. An
// interrupt stops the following only: the run goes on, and the command
// says how to follow it again (exit 2).
func cmdRunRemote(rr *remoteRun, fs *flag.FlagSet, pos []string) int {
	for name, why := range localOnly {
		if explicitFlag(fs, name) {
			fmt.Fprintf(rr.stderr, "mockloop run --remote: --%s makes no sense remotely: %s\n", name, why)
			return exitInvalid
		}
	}
	switch {
	case rr.follow != "" && len(pos) != 0:
		fmt.Fprintln(rr.stderr, "mockloop run --remote: --follow ID takes no protocol: the entry has its own")
		return exitInvalid
	case rr.follow == "" && len(pos) != 1:
		fmt.Fprintln(rr.stderr, "usage: mockloop run --remote URL [--out DIR] [--wait D] [flags] PROTOCOL.yaml | --follow ID")
		return exitInvalid
	case rr.wait < 0:
		fmt.Fprintln(rr.stderr, "mockloop run --remote: --wait is negative")
		return exitInvalid
	}
	rr.progress = &remote.Progress{W: rr.stderr}
	if flagValue(fs, "quiet") == "true" {
		rr.progress.W = nil
	}
	rr.client = rr.rf.client(rr.stderr, func(err error, wait time.Duration) {
		fmt.Fprintf(rr.stderr, "mockloop: %s; reconnecting in %s\n", termtext.Escape(err.Error()), wait)
	})
	if rr.client == nil {
		return exitInvalid
	}
	ctx, stop := signal.NotifyContext(context.Background(), endSignals...)
	defer stop()
	id := rr.follow
	if id == "" {
		var code int
		if id, code = rr.submit(ctx, fs, pos[0]); id == "" {
			return code
		}
	}
	rr.requireInflux = flagValue(fs, "require-influx") == "true"
	return rr.followToEnd(ctx, id, flagValue(fs, "json") == "true")
}

// submit reads the protocol and queues it; "" and the exit code when
// that fails.
func (rr *remoteRun) submit(ctx context.Context, fs *flag.FlagSet, file string) (string, int) {
	src, err := protocols.ReadFile(file)
	if err != nil {
		fmt.Fprintf(rr.stderr, "mockloop: %s\n", termtext.EscapeLines(err.Error()))
		return "", exitInvalid
	}
	e, err := rr.client.Submit(ctx, remote.StartRequest{Name: filepath.Base(file), Source: string(src),
		AllowOverdue: flagValue(fs, "allow-overdue") == "true", Reason: flagValue(fs, "reason"), AllowOtherDevice: flagValue(fs, "allow-other-device"),
		Operator: osUser(), Job: runlog.JobFromEnv(os.Getenv), Frames: explicitValue(fs, "frames")})
	var se *remote.StatusError
	switch {
	case errors.As(err, &se) && len(se.Problems) > 0:
		for _, p := range se.Problems {
			fmt.Fprintln(rr.stderr, termtext.Escape(p.Text))
		}
		fmt.Fprintf(rr.stderr, "%d error(s)\n", len(se.Problems))
		return "", exitInvalid
	case errors.As(err, &se) && (se.Status == http.StatusServiceUnavailable || se.Status >= 500):
		fmt.Fprintf(rr.stderr, "mockloop: %s\n", termtext.Escape(err.Error()))
		return "", exitInfra
	case errors.As(err, &se):
		fmt.Fprintf(rr.stderr, "mockloop: %s\n", termtext.Escape(err.Error()))
		return "", exitInvalid
	case err != nil:
		fmt.Fprintf(rr.stderr, "mockloop: %s\n", termtext.Escape(err.Error()))
		return "", exitInfra
	}
	fmt.Fprintf(rr.stderr, "queued %s on %s (follow it: mockloop run --remote %s --follow %s)\n",
		termtext.Escape(e.ID), rr.client.URL(), rr.client.URL(), termtext.Escape(e.ID))
	return e.ID, 0
}

// followToEnd follows the entry, then fetches the run's files and prints
// its summary.
func (rr *remoteRun) followToEnd(ctx context.Context, id string, asJSON bool) int {
	e, err := rr.client.Follow(ctx, id, remote.FollowOptions{Wait: rr.wait, Observe: rr.progress.Observe})
	var se *remote.StatusError
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(rr.stderr, "mockloop: stopped following; the run goes on at %s. Follow it: mockloop run --remote %s --follow %s\n",
			rr.client.URL(), rr.client.URL(), termtext.Escape(id))
		return exitAborted
	case errors.Is(err, remote.ErrWaitExpired):
		return rr.giveUp(e)
	case errors.As(err, &se) && se.Status == http.StatusNotFound:
		var found bool
		if e, found = rr.closedRun(ctx, id); !found {
			fmt.Fprintf(rr.stderr, "mockloop: %s\n", termtext.Escape(se.Msg))
			return exitInvalid
		}
	case err != nil:
		fmt.Fprintf(rr.stderr, "mockloop: %s (the run goes on; follow it: mockloop run --remote %s --follow %s)\n",
			termtext.Escape(err.Error()), rr.client.URL(), termtext.Escape(id))
		return exitInfra
	}
	switch e.State {
	case serve.EntryCancelled:
		fmt.Fprintf(rr.stderr, "mockloop: entry %s was %s\n", termtext.Escape(e.ID), termtext.Escape(e.Error))
		return exitInfra
	case serve.EntryFailed:
		fmt.Fprintf(rr.stderr, "mockloop: the run could not start: %s\n", termtext.EscapeLines(e.Error))
		if e.ExitCode != nil {
			return *e.ExitCode
		}
		return exitInfra
	}
	return rr.fetch(ctx, e, asJSON)
}

// closedRun is a run the queue has forgotten (the server restarted, or
// it ended long ago) as an ended entry, when id is the id of a closed
// run on the server.
func (rr *remoteRun) closedRun(ctx context.Context, id string) (remote.Entry, bool) {
	var e remote.Entry
	if !runlog.ValidRunID(id) {
		return e, false
	}
	list, err := rr.client.Runs(ctx)
	for _, s := range list {
		if err == nil && s.RunID == id && s.State == runlog.StateClosed && s.Outcome != "" {
			e.ID, e.State, e.Protocol, e.RunID, e.Outcome = id, serve.EntryDone, s.Protocol, &s.RunID, &s.Outcome
			return e, true
		}
	}
	return e, false
}

// giveUp cancels an entry that waited longer than --wait.
func (rr *remoteRun) giveUp(e remote.Entry) int {
	reason := fmt.Sprintf("gave up waiting after %s (--wait)", rr.wait)
	if err := rr.client.Cancel(context.Background(), e.ID, reason); err != nil {
		fmt.Fprintf(rr.stderr, "mockloop: %s; cancelling entry %s: %s\n", reason, termtext.Escape(e.ID), termtext.Escape(err.Error()))
		return exitInfra
	}
	fmt.Fprintf(rr.stderr, "mockloop: %s: entry %s cancelled\n", reason, termtext.Escape(e.ID))
	return exitInfra
}

// fetch downloads an ended run's files into --out, prints its summary and
// returns its exit code.
func (rr *remoteRun) fetch(ctx context.Context, e remote.Entry, asJSON bool) int {
	runID := *e.RunID
	out := cmp.Or(rr.out, runID)
	res, data, err := rr.client.FetchRun(ctx, runID, out)
	if err != nil {
		fmt.Fprintf(rr.stderr, "mockloop: run %s ended %s, but: %s\n", runID, *e.Outcome, termtext.Escape(err.Error()))
		return exitInfra
	}
	if asJSON {
		_, _ = rr.stdout.Write(data)
	} else {
		_ = reports.Summary(rr.stdout, res, e.Protocol, nil)
		fmt.Fprintf(rr.stdout, "\nrecord: %s on %s\nfiles: %s\n", runID, rr.client.URL(), out)
	}
	return outcomeExit(res, rr.requireInflux, rr.stderr)
}

// cmdRunsRemote is `mockloop runs --remote URL`: the server's records,
// printed as the local ones are.
func cmdRunsRemote(rf remoteFlags, asJSON bool, stdout, stderr io.Writer) int {
	c := rf.client(stderr, nil)
	if c == nil {
		return exitInvalid
	}
	list, err := c.Runs(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "mockloop runs: %s\n", termtext.Escape(err.Error()))
		return remoteExit(err)
	}
	printRuns(stdout, list, asJSON)
	return exitPass
}

// cmdReportRemote is `mockloop report --remote URL [--out DIR] RUN`: the
// run's reports and record files (RUN a run id or a unique prefix of one
// on the server) into DIR, by default a directory named after the run id.
func cmdReportRemote(rf remoteFlags, run, out string, stdout, stderr io.Writer) int {
	c := rf.client(stderr, nil)
	if c == nil {
		return exitInvalid
	}
	ctx := context.Background()
	list, err := c.Runs(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "mockloop report: %s\n", termtext.Escape(err.Error()))
		return remoteExit(err)
	}
	var match []string
	for _, s := range list {
		if s.RunID == run {
			match = []string{run}
			break
		}
		if strings.HasPrefix(s.RunID, run) {
			match = append(match, s.RunID)
		}
	}
	if len(match) != 1 {
		fmt.Fprintf(stderr, "mockloop report: %q matches %d runs on %s\n", run, len(match), c.URL())
		return exitInvalid
	}
	out = cmp.Or(out, match[0])
	for _, f := range remote.RunFiles {
		p, err := c.Download(ctx, match[0], f, out)
		if err == nil {
			fmt.Fprintln(stdout, p)
			continue
		}
		if remote.MissingOptional(f, err) {
			continue
		}
		fmt.Fprintf(stderr, "mockloop report: %s: %s\n", f, termtext.Escape(err.Error()))
		return exitInfra
	}
	return exitPass
}

// remoteExit is the exit code of a failed call: the server refusing the
// request (credentials, a bad id) is the caller's to fix (3); anything
// else is infrastructure (4).
func remoteExit(err error) int {
	var se *remote.StatusError
	if errors.As(err, &se) && se.Status < 500 && se.Status != http.StatusTooManyRequests {
		return exitInvalid
	}
	return exitInfra
}
