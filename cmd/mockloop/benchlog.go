package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/runlog"
)

const auditUsage = `usage: mockloop audit [--log FILE]

Prints the bench audit log — the operator actions outside any run: users
added, disabled or given a new password, zeros and calibrations, with who,
when, how and old → new — and checks its chain: each line carries the
SHA-256 of the line before, so a line edited, removed or reordered is named.
(Lines cut from the end leave a shorter chain that still holds: compare the
count with a copy kept elsewhere.)

exit codes: 0 the chain holds, 1 it is broken, 3 no log (or bad usage)

flags:
`

// cmdAudit implements `mockloop audit`.
func cmdAudit(args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("audit", stderr)
	flags.Usage = func() {
		fmt.Fprint(stderr, auditUsage)
		flags.PrintDefaults()
	}
	path := flags.String("log", inHome(benchLogName), "the bench audit log `FILE` (default $MOCKLOOP_HOME/audit.jsonl)")
	if _, ok := parseArgs(flags, args, 0, "usage: mockloop audit [--log FILE]"); !ok {
		return exitInvalid
	}
	entries, err := runlog.ReadBenchLog(*path)
	for _, e := range entries {
		fmt.Fprintln(stdout, termtext.Escape(benchLogLine(e)))
	}
	switch {
	case errors.Is(err, fs.ErrNotExist) && entries == nil:
		fmt.Fprintf(stderr, "mockloop audit: %v\n", err)
		return exitInvalid
	case err != nil:
		fmt.Fprintf(stderr, "mockloop audit: %v\n", termtext.Escape(err.Error()))
		return exitFail
	}
	fmt.Fprintf(stdout, "%d entries, the chain holds\n", len(entries))
	return exitPass
}

// benchLogLine is one entry as `mockloop audit` prints it.
func benchLogLine(e runlog.BenchLogEntry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s", e.At.UTC().Format(time.RFC3339), cmp.Or(e.By, "-"))
	if e.Role != "" {
		fmt.Fprintf(&b, " (%s)", e.Role)
	}
	fmt.Fprintf(&b, " via %s: %s %s", cmp.Or(e.Via, "-"), e.Action, e.Subject)
	if e.Old != "" || e.New != "" {
		fmt.Fprintf(&b, ", %s → %s", cmp.Or(e.Old, "-"), cmp.Or(e.New, "-"))
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	return b.String()
}
