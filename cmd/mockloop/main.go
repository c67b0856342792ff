package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mockloop/mockloop/configs"
	"github.com/mockloop/mockloop/influx"
	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/reports"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

// Exit codes.
const (
	exitPass    = 0
	exitFail    = 1
	exitAborted = 2
	exitInvalid = 3
	exitInfra   = 4
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], &lossyWriter{f: os.Stdout}, &lossyWriter{f: os.Stderr}))
}

// command is one command of mockloop: its name, its synopsis (one line
// per form, after "mockloop "), and what runs it. commandTable is the one
// list of them: the dispatcher and the usage are both made from it, so a
// command cannot be dispatched yet missing from the usage.
type command struct {
	name     string
	synopsis []string
	run      func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commandTable is a function, not a variable: the commands' own usage
// (newFlagSet) reads it, which would make a variable's initializer a cycle.
func commandTable() []command {
	return []command{
		{"run", []string{
			"run [--rig FILE] [--dut PROFILE] [--runs DIR] [--influx URL] [--realtime] [--operator NAME] [--allow-overdue] [--allow-dev-build REASON] [--allow-other-device REASON] [--resume RUN] [--reason TEXT] [--require-influx] [--answer ID=VALUE]... [--frames every:N] [--quiet] [--json] PROTOCOL.yaml",
			"run --remote URL [--remote-ca FILE] [--out DIR] [--wait D] [--allow-overdue --reason TEXT] [--allow-other-device REASON] [--require-influx] [--frames every:N] [--quiet] [--json] PROTOCOL.yaml | --follow ID",
		}, func(a []string, _ io.Reader, o, e io.Writer) int { return cmdRun(a, o, e) }},
		{"validate", []string{"validate [--rig FILE] [--dut PROFILE] [--allow-other-device REASON] PROTOCOL.yaml"},
			func(a []string, _ io.Reader, o, e io.Writer) int { return cmdValidate(a, o, e) }},
		{"runs", []string{"runs [--runs DIR | --remote URL [--remote-ca FILE]] [--json]"},
			func(a []string, _ io.Reader, o, e io.Writer) int { return cmdRuns(a, o, e) }},
		{"report", []string{"report [--runs DIR] [--format html,pdf,junit,csv] [--out DIR] [--influx URL] [--keyring FILE] [--step PATH] [--from S] [--to S] [--every N] RUN",
			"report --remote URL [--remote-ca FILE] [--out DIR] RUN"},
			func(a []string, _ io.Reader, o, e io.Writer) int { return cmdReport(a, o, e) }},
		{"verify", []string{"verify [--runs DIR] [--keys DIR] [--keyring FILE] RUN"},
			func(a []string, _ io.Reader, o, e io.Writer) int { return cmdVerify(a, o, e) }},
		{"keys", []string{`keys new --name "Full Name" | keys list | keys trust KEYFILE|FINGERPRINT  [--keys DIR] [--keyring FILE]`},
			func(a []string, _ io.Reader, o, e io.Writer) int { return cmdKeys(a, o, e) }},
		{"sign", []string{"sign [--runs DIR] --meaning reviewed|approved [--comment TEXT] [--key FILE | --name NAME [--keys DIR]] [--keyring FILE] RUN"},
			func(a []string, _ io.Reader, o, e io.Writer) int { return cmdSign(a, o, e) }},
		{"sync", []string{"sync [--runs DIR] [--influx URL]"},
			func(a []string, _ io.Reader, o, e io.Writer) int { return cmdSync(a, o, e) }},
		{"serve", []string{"serve [--addr 127.0.0.1:8080] [--rig FILE] [--runs DIR] [--protocols DIR] [--speed N] [--influx URL] [--operator NAME] [--tls-cert FILE --tls-key FILE] [--state DIR] [--users FILE] [--token-file FILE] [--allow-dev-build REASON] | --new-token"},
			func(a []string, _ io.Reader, o, e io.Writer) int { return cmdServe(a, o, e) }},
		{"stop", []string{"stop [--rig FILE] [--estop] --reason TEXT [--operator NAME]"},
			func(a []string, _ io.Reader, o, e io.Writer) int { return cmdStop(a, o, e) }},
		{"users", []string{"users add NAME --role operator|reviewer|admin | list | disable NAME | passwd NAME  [--users FILE]"}, cmdUsers},
		{"audit", []string{"audit [--log FILE]"},
			func(a []string, _ io.Reader, o, e io.Writer) int { return cmdAudit(a, o, e) }},
		{"zero", []string{"zero [--rig FILE] [--channel NAME ...] [--for 2 s] [--operator NAME] [--yes]"}, cmdZero},
		{"calibrate", []string{"calibrate [--rig FILE] --at VALUE --at VALUE ... --reference TEXT [--due DATE] [--for 2 s] [--operator NAME] [--yes] CHANNEL"}, cmdCalibrate},
		{"timing", []string{"timing [--rig FILE] [--for 60s] [--priority N] [--json]"},
			func(a []string, _ io.Reader, o, e io.Writer) int { return cmdTiming(a, o, e) }},
		{"fidelity", []string{"fidelity [--out DIR] [--rig-dir DIR]"},
			func(a []string, _ io.Reader, o, e io.Writer) int { return cmdFidelity(a, o, e) }},
		{"dut-sim", []string{"dut-sim [--profile PROFILE] [--fault SPEC] [--link PATH] [--tick D]"},
			func(a []string, _ io.Reader, o, e io.Writer) int {
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				return cmdDUTSim(ctx, a, o, e)
			}},
		{"version", []string{"version"}, func(_ []string, _ io.Reader, o, _ io.Writer) int {
			fmt.Fprintf(o, "mockloop %s\n", describeBuild(currentBuild()))
			return exitPass
		}},
	}
}

// findCommand returns the command named name, or nil.
func findCommand(name string) *command {
	for _, c := range commandTable() {
		if c.name == name {
			return &c
		}
	}
	return nil
}

// usage is the top-level usage: every command of commandTable.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: mockloop <command> [flags] [args]\n       mockloop <command> --help\n\ncommands:\n")
	for _, c := range commandTable() {
		for _, s := range c.synopsis {
			b.WriteString("  " + s + "\n")
		}
	}
	b.WriteString(`
exit codes: 0 pass, 1 fail, 2 aborted, 3 invalid input, 4 infrastructure error
(verify: 0 intact, 1 not intact or not sealed or a signature invalid, 3 not a run;
sign: 1 the record is not intact or not sealed)
`)
	return b.String()
}

// flagSetMade, when set (by tests), sees every command's flag set as it is
// made, so a test can hold the usage to the flags the command really has.
var flagSetMade func(*flag.FlagSet)

// newFlagSet makes the flag set of command name (the word after
// "mockloop"), its errors and usage on out. Its usage, printed for --help
// and after a flag mistake, is the command's synopsis and every flag;
// commands with a longer text set their own Usage after.
func newFlagSet(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		lead := "usage:"
		if c := findCommand(strings.Fields(name)[0]); c != nil {
			for _, s := range c.synopsis {
				fmt.Fprintf(out, "%s mockloop %s\n", lead, s)
				lead = "      "
			}
		}
		fmt.Fprint(out, "\nflags:\n")
		fs.PrintDefaults()
	}
	if flagSetMade != nil {
		flagSetMade(fs)
	}
	return fs
}

// helpWanted reports whether args ask for a command's usage: -h, -help or
// --help before any "--".
func helpWanted(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

func run(args []string, stdout, stderr io.Writer) int {
	return runIO(args, os.Stdin, stdout, stderr)
}

// runIO dispatches to the command args name. `mockloop CMD --help` runs
// the command with --help alone, its usage on stdout, and exits 0: asking
// for help is not invalid input, and nothing else of the line is acted on.
func runIO(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return exitInvalid
	}
	switch args[0] {
	case "--version":
		args[0] = "version"
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage())
		return exitPass
	}
	c := findCommand(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "mockloop: unknown command %q\n\n%s", args[0], usage())
		return exitInvalid
	}
	if helpWanted(args[1:]) {
		c.run([]string{"--help"}, stdin, stdout, stdout)
		return exitPass
	}
	return c.run(args[1:], stdin, stdout, stderr)
}

// parseInterspersed parses flags that may stand before or after the
// positional arguments ("mockloop run demo.yaml --rig x.yaml").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseArgs parses a command's flags and positional arguments and checks
// their count (want; -1 takes any). On a mistake it prints usage on the flag
// set's output and reports false: the caller exits with exitInvalid.
func parseArgs(fs *flag.FlagSet, args []string, want int, usage string) ([]string, bool) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, false
	}
	if want >= 0 && len(pos) != want {
		fmt.Fprintln(fs.Output(), strings.TrimSuffix(usage, "\n"))
		return nil, false
	}
	return pos, true
}

// loadRig reads the rig config; the default rig comes from the binary when
// the working directory has no configs/ (e.g. an installed binary).
func loadRig(file string, explicit bool) (*rig.Config, error) {
	if !explicit {
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			data, err := configs.FS.ReadFile("rigs/sim.yaml")
			if err != nil {
				return nil, err
			}
			cfg, err := rig.ParseConfig(file+" (embedded)", data)
			if cfg != nil {
				cfg.FS = configs.FS
			}
			return cfg, err
		}
	}
	return rig.LoadConfig(file)
}

// loadProtocol reads a protocol and checks it against the rig. The file,
// given or a record's protocol.yaml (run --resume), must be a regular file
// of a bounded size: a FIFO or /dev/zero is refused, not waited on.
// otherDevice lets a protocol written for another DUT through (its
// requires dut; --allow-other-device), for the run to record as a deviation.
func loadProtocol(cfg *rig.Config, file string, otherDevice bool) (*protocols.Protocol, []byte, error) {
	data, err := protocols.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	info := cfg.Info()
	info.OtherDevice = otherDevice
	p, err := protocols.Parse(file, data, info)
	return p, data, err
}

// rigOption is a command's --rig flag, and its --dut flag when the
// command has one (withDUT).
type rigOption struct {
	fs   *flag.FlagSet
	file *string
	dut  *string
}

// withDUT adds --dut: the DUT profile in place of the rig config's, which
// load checks like the rig config (exit 3 when it does not fit the rig).
func (o rigOption) withDUT() rigOption {
	o.dut = o.fs.String("dut", "", "DUT `PROFILE`: a shipped profile's name (impella-cp) or a file, in place of the rig config's dut.profile")
	return o
}

func rigFlag(fs *flag.FlagSet) rigOption {
	return rigOption{fs: fs, file: fs.String("rig", configs.DefaultRig, "rig config `FILE`")}
}

// load reads the rig config the flag names, or the default (see loadRig),
// and checks its calibration file: a mistake in either is the operator's
// to fix before anything starts (exit 3), found by validate as by run. On
// an error it says why on the flag set's output and returns nil.
func (o rigOption) load() *rig.Config {
	cfg, err := loadRig(*o.file, explicitFlag(o.fs, "rig"))
	if err == nil && o.dut != nil && *o.dut != "" {
		err = cfg.SetDUTProfile(*o.dut)
	}
	if err == nil {
		_, err = cfg.LoadCalibrations()
	}
	if err != nil {
		fmt.Fprintln(o.fs.Output(), termtext.EscapeLines(err.Error()))
		return nil
	}
	return cfg
}

func explicitFlag(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", stderr)
	rigArg := rigFlag(fs).withDUT()
	otherDevice := fs.String("allow-other-device", "", "accept a protocol written for another DUT, as run would with the same flag")
	pos, ok := parseArgs(fs, args, 1, "usage: mockloop validate [--rig FILE] [--dut PROFILE] [--allow-other-device REASON] PROTOCOL.yaml")
	if !ok {
		return exitInvalid
	}
	cfg := rigArg.load()
	if cfg == nil {
		return exitInvalid
	}
	p, _, err := loadProtocol(cfg, pos[0], *otherDevice != "")
	if err != nil {
		fmt.Fprintln(stderr, termtext.EscapeLines(err.Error()))
		var list protocols.ErrorList
		if errors.As(err, &list) {
			fmt.Fprintf(stderr, "%d error(s)\n", len(list))
		}
		return exitInvalid
	}
	n := p.StepCount()
	fmt.Fprintf(stdout, "%s: protocol %s is valid for rig %s (%d step%s)\n", pos[0], p.Name, cfg.Name, n, map[bool]string{true: "s"}[n != 1])
	return exitPass
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", stderr)
	rigArg := rigFlag(fs).withDUT()
	runsDir := fs.String("runs", "runs", "directory of run records")
	influxURL := fs.String("influx", "", "InfluxDB `URL` (default $MOCKLOOP_INFLUX_URL; none: run record only)")
	realtime := fs.Bool("realtime", false, "run a simulated rig on the wall clock instead of virtual time")
	quiet := fs.Bool("quiet", false, "no progress lines")
	asJSON := fs.Bool("json", false, "print the result JSON on stdout instead of the summary")
	operator := fs.String("operator", osUser(), "operator recorded in the run, the person of its audit trail")
	allowOverdue := fs.Bool("allow-overdue", false, "run despite calibrations past their due date (a deviation: needs --reason)")
	allowDevBuild := fs.String("allow-dev-build", "", "run a hardware rig with a development build, for the `REASON` given (a deviation, recorded in the run)")
	reason := fs.String("reason", "", "why the run departs from the protocol (--allow-overdue with an overdue calibration, --resume): recorded as the deviation's justification")
	otherDevice := fs.String("allow-other-device", "", "run a protocol written for another DUT (its requires dut) on this rig's, for the `REASON` given (a deviation, recorded in the run)")
	resume := fs.String("resume", "", "continue the interrupted `RUN` (id or directory) after its last completed step, in the same record")
	requireInflux := fs.Bool("require-influx", false, "exit 4 unless every point of the run reached InfluxDB (for a job that promises a dashboard; needs an InfluxDB URL)")
	frames := fs.String("frames", "every:1", "dry runs on virtual time: keep one frame in N (`every:N`) in the record and InfluxDB, as the manifest, the reports and the JUnit say; every frame is still supervised, measured and judged")
	answers := answerFlags{}
	fs.Var(answers, "answer", "answer the protocol's prompt `ID=VALUE` before it asks (repeatable); without a terminal a prompt takes this, then its default, else fails its step")
	rr := newRemoteRun(fs, stdout, stderr)
	pos, err := parseInterspersed(fs, args)
	if code, done := rr.dispatch(fs, pos, err); done {
		return code
	}
	resumeDir, pos := resumeRun(*resume, *runsDir, pos, stderr)
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: mockloop run [flags] PROTOCOL.yaml")
		return exitInvalid
	}
	framesEvery, err := rig.ParseFrames(*frames)
	if err != nil {
		fmt.Fprintf(stderr, "mockloop: --%s\n", termtext.EscapeLines(err.Error()))
		return exitInvalid
	}
	cfg := rigArg.load()
	if cfg == nil {
		return exitInvalid
	}
	p, src, err := loadProtocol(cfg, pos[0], *otherDevice != "")
	if err != nil {
		fmt.Fprintln(stderr, termtext.EscapeLines(err.Error()))
		return exitInvalid
	}
	given, err := p.CheckAnswers(answers)
	if err != nil {
		fmt.Fprintln(stderr, termtext.EscapeLines(err.Error()))
		return exitInvalid
	}
	influxCfg, ok := runInflux(*influxURL, cfg, *requireInflux, stderr)
	if !ok {
		return exitInvalid
	}

	recoverRuns(*runsDir, stderr)

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	defer cancelOnEndSignal(cancel, *operator)()

	var progress io.Writer = stderr
	if *quiet {
		progress = nil
	}
	build := currentBuild()
	res, dir, err := rig.Run(ctx, cfg, p, rig.Options{RunsDir: *runsDir, Realtime: *realtime, Version: buildVersion(), Build: &build, AllowDevBuild: *allowDevBuild, AllowOtherDevice: *otherDevice,
		Operator: *operator, Via: "cli", Reason: *reason, ProtocolFile: pos[0], ProtocolSource: src, Log: progress, Live: isTerminal(stderr), AllowOverdue: *allowOverdue, Influx: influxCfg, Resume: resumeDir, Warn: stderr,
		Job: runlog.JobFromEnv(os.Getenv), Answers: given, Prompts: terminalPrompts(os.Stdin, stderr, *operator), FramesEvery: framesEvery})
	if res == nil {
		fmt.Fprintf(stderr, "mockloop: %s\n", termtext.EscapeLines(err.Error()))
		if errors.Is(err, rig.ErrCannotResume) || errors.Is(err, rig.ErrDevBuild) || errors.Is(err, rig.ErrNoReason) || errors.Is(err, rig.ErrOtherDevice) || errors.Is(err, rig.ErrFrames) {
			return exitInvalid
		}
		return exitInfra
	}
	// The reports a quality engineer signs, made from the record just closed.
	// Made after the record is closed and sealed: they verify it first.
	if rerr := reports.WriteAll(dir); errors.Is(rerr, reports.ErrIntegrity) {
		fmt.Fprintf(stderr, "mockloop: reports: %v (`mockloop verify %s` says what differs)\n", rerr, res.RunID)
	} else if rerr != nil {
		fmt.Fprintf(stderr, "mockloop: reports: %v (the run record is complete; `mockloop report %s` retries)\n", rerr, res.RunID)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		_ = reports.Summary(stdout, res, p.Name, cfg.Keys.Summary)
		if framesEvery > 1 {
			fmt.Fprintf(stdout, "\nframes: 1 in %d kept in the record (dry run, --frames every:%d)", framesEvery, framesEvery)
		}
		fmt.Fprintf(stdout, "\nrecord: %s\n", dir)
	}
	return runExit(res, err, *requireInflux, stderr)
}

// resumeRun is the directory of the run --resume names (an id in
// runsDir, or a directory), with its runs recovered, and the protocol to
// run: pos, or the run's own copy; "" and pos without --resume.
func resumeRun(resume, runsDir string, pos []string, stderr io.Writer) (string, []string) {
	if resume == "" {
		return "", pos
	}
	dir := resume
	if _, err := os.Stat(dir); err != nil {
		dir = filepath.Join(runsDir, resume)
	}
	recoverRuns(filepath.Dir(dir), stderr)
	if len(pos) == 0 { // the protocol the run was started with
		pos = []string{filepath.Join(dir, "protocol.yaml")}
	}
	return dir, pos
}

// runInflux is the InfluxDB a run logs to (nil: none), from --influx,
// $MOCKLOOP_INFLUX_URL or the rig config; false, said on stderr, for
// --require-influx without one.
func runInflux(url string, cfg *rig.Config, require bool, stderr io.Writer) (*influx.Config, bool) {
	if c := influxConfig(url, cfg.Influx); c.URL != "" {
		return &c, true
	}
	if require {
		fmt.Fprintln(stderr, "mockloop: --require-influx: no InfluxDB URL (--influx, $MOCKLOOP_INFLUX_URL or the rig config's influx.url)")
		return nil, false
	}
	return nil, true
}

// runExit is the exit code of a run that ended with res (and err, from
// closing its record), saying on stderr what InfluxDB did not take. With
// requireInflux a run whose points did not all arrive is an infrastructure
// error whatever its outcome: the job promised a dashboard that lacks it.
func runExit(res *runlog.Result, err error, requireInflux bool, stderr io.Writer) int {
	if res.Influx != nil && !res.Influx.Delivered {
		fmt.Fprintf(stderr, "mockloop: InfluxDB: %d points spooled, not yet delivered; `mockloop sync` replays them\n", res.Influx.SpooledPoints)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mockloop: %s\n", termtext.EscapeLines(err.Error()))
		return exitInfra
	}
	return outcomeExit(res, requireInflux, stderr)
}

// outcomeExit is the exit code of a run's result, local or remote: its
// outcome's, or exitInfra when requireInflux and its points did not all
// reach InfluxDB (the server's, for a remote run).
func outcomeExit(res *runlog.Result, requireInflux bool, stderr io.Writer) int {
	if requireInflux && (res.Influx == nil || !res.Influx.Delivered) {
		why := "no InfluxDB sink"
		if res.Influx != nil && res.Influx.Error != "" {
			why = "last error: " + res.Influx.Error
		} else if res.Influx != nil {
			why = "not all delivered"
		}
		fmt.Fprintf(stderr, "mockloop: --require-influx: the run's points did not all reach InfluxDB (%s); outcome %s, the record is complete; exit 4\n", termtext.EscapeLines(why), res.Outcome)
		return exitInfra
	}
	return res.Outcome.ExitCode()
}

// recoverRuns closes the records of runs whose process died (state
// "running", lock not held), keeping all they hold, and says what each was
// closed as: "interrupted", or the outcome its result already held (the
// process died after writing it).
func recoverRuns(runsDir string, stderr io.Writer) {
	closed, err := runlog.Recover(runsDir)
	for _, id := range closed {
		outcome := "it"
		if r, err := runlog.Open(filepath.Join(runsDir, id)); err == nil {
			outcome = "it as " + string(r.Manifest.Outcome)
		}
		fmt.Fprintf(stderr, "mockloop: run %s was left running by a process that died; closed %s\n", id, outcome)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mockloop: recovering interrupted runs: %v\n", err)
	}
}

// isTerminal reports whether w is a terminal, where progress is a live line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if lw, isLossy := w.(*lossyWriter); isLossy {
		f, ok = lw.f, true
	}
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
