package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/runlog"
)

// cmdRuns lists the run records, oldest first: a table with a header for
// people, or (--json) an array of runlog.Summary for scripts, whose keys
// are always present.
func cmdRuns(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("runs", stderr)
	runsDir := fs.String("runs", "runs", "directory of run records")
	asJSON := fs.Bool("json", false, "print the runs as a JSON array")
	rf := addRemoteFlags(fs)
	if _, ok := parseArgs(fs, args, 0, "usage: mockloop runs [--runs DIR | --remote URL] [--json]"); !ok {
		return exitInvalid
	}
	if rf.target() != "" {
		return cmdRunsRemote(rf, *asJSON, stdout, stderr)
	}
	recoverRuns(*runsDir, stderr)
	list, err := runlog.List(*runsDir)
	if err != nil {
		fmt.Fprintln(stderr, termtext.EscapeLines(err.Error()))
		if len(list) == 0 {
			return exitInfra
		}
	}
	printRuns(stdout, list, *asJSON)
	return exitPass
}

// printRuns prints run summaries as `runs` does, for local and remote
// lists alike. Times are UTC; a run without an end shows "-".
func printRuns(w io.Writer, list []runlog.Summary, asJSON bool) {
	if asJSON {
		if list == nil {
			list = []runlog.Summary{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(list)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN ID\tSTARTED (UTC)\tDURATION\tSTATE\tOUTCOME\tPROTOCOL\tRIG\tOPERATOR")
	for _, r := range list {
		dur := "-"
		if r.Ended != nil {
			dur = r.Ended.Sub(r.Started).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", termtext.Escape(r.RunID), r.Started.UTC().Format("2006-01-02 15:04:05"), dur,
			termtext.Escape(string(r.State)), termtext.Escape(cmp.Or(string(r.Outcome), "-")), termtext.Escape(r.Protocol),
			termtext.Escape(r.Rig), termtext.Escape(cmp.Or(r.Operator, "-")))
	}
	_ = tw.Flush()
}
