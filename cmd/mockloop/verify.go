package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/signing"
)

const verifyUsage = `usage: mockloop verify [--runs DIR] RUN

Checks a closed run's record against its seal (seal.json, written when the
run closed): recomputes the hash of every file it wrote and says, one line
per file, whether it is as sealed or how it differs — a file edited, added,
missing, segments out of order, the line of events.jsonl or beats.jsonl
that differs, and "frames: 1 in N kept" for a dry run that kept one frame
in N (run --frames every:N). RUN is a run id (or a unique prefix of one) in --runs, or a
run directory. Each electronic signature (mockloop sign) is checked and
printed: signer, meaning, time, key fingerprint, valid or why not — the
record changed after it was signed, it belongs to another run, a bad
signature, or a key not in the keyring (mockloop keys trust).

The seal is a SHA-256 chain without a key: it shows any change made after
the run closed by someone who did not seal the record again. What binds a
record to a person, so that a record edited and sealed again fails, is a
signature.

exit codes: 0 intact (and every signature valid), 1 not intact, not sealed
or a signature invalid, 3 not a run (or bad usage)

flags:
`

// cmdVerify implements `mockloop verify`.
func cmdVerify(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("verify", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, verifyUsage)
		fs.PrintDefaults()
	}
	runsDir := fs.String("runs", "runs", "directory of run records")
	kf := addKeyFlags(fs)
	pos, ok := parseArgs(fs, args, 1, "usage: mockloop verify [--runs DIR] [--keyring FILE] RUN")
	if !ok {
		return exitInvalid
	}
	dir, err := findRun(*runsDir, pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "mockloop verify: %v\n", err)
		return exitInvalid
	}
	v, err := runlog.Verify(dir)
	if err != nil {
		fmt.Fprintf(stderr, "mockloop verify: %v\n", err)
		if errors.Is(err, runlog.ErrNotRun) {
			return exitInvalid
		}
		return exitFail // a file of the record cannot be read: it cannot be shown intact
	}
	kr, err := signing.ReadKeyring(*kf.keyring)
	if err != nil {
		fmt.Fprintf(stderr, "mockloop verify: %v\n", err)
		return exitInvalid
	}
	v.Distrust(kr.Trusted)
	printVerification(stdout, dir, v)
	if !v.Intact() {
		return exitFail
	}
	return exitPass
}

// printVerification writes one line per problem of the record as a whole,
// one per file, and the verdict.
func printVerification(w io.Writer, dir string, v *runlog.Verification) {
	// Names come from seal.json too: escaped, one line each.
	for _, p := range v.Problems {
		fmt.Fprintln(w, termtext.Escape(p))
	}
	for _, f := range v.Files {
		what := "intact"
		if f.Problem != "" {
			what = f.Problem
		}
		fmt.Fprintln(w, termtext.Escape(f.Name+": "+what))
	}
	if run, err := runlog.Open(dir); err == nil && run.Manifest.KeptEvery() > 1 {
		// not a problem: said so that nobody takes the record for every frame
		fmt.Fprintf(w, "frames: 1 in %d kept (dry run, --frames every:%d)\n", run.Manifest.KeptEvery(), run.Manifest.KeptEvery())
	}
	printSignatures(w, v)
	switch {
	case len(v.SignatureFailures()) > 0 && len(v.Failures()) == len(v.SignatureFailures()):
		fmt.Fprintf(w, "%s: record intact, SIGNATURE INVALID\n", dir)
	case v.Intact():
		fmt.Fprintf(w, "%s: intact, sealed by %s, seal %s\n", dir, v.Seal.SealedBy, v.Seal.Hash)
	default:
		fmt.Fprintf(w, "%s: NOT INTACT\n", dir)
	}
}
