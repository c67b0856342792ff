package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/serve"
)

const usersUsage = `usage: mockloop users add NAME --role operator|reviewer|admin [--users FILE]
       mockloop users list [--users FILE]
       mockloop users disable NAME [--users FILE]
       mockloop users passwd NAME [--users FILE]
(the password from the terminal, asked twice, or from MOCKLOOP_PASSWORD)`

// The actions of the bench audit log for the users file.
const (
	actionUserAdd     = "user.add"
	actionUserDisable = "user.disable"
	actionUserPasswd  = "user.passwd"
)

// cmdUsers manages the people of the bench view: the users file, and an
// entry in the bench audit log for every change, naming who made it.
func cmdUsers(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	sub := "" // add, list, disable, passwd; none before a flag (--help)
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := newFlagSet(strings.TrimSpace("users "+sub), stderr)
	file := fs.String("users", inHome("users.json"), "the users `FILE` (default $MOCKLOOP_HOME/users.json)")
	role := fs.String("role", "", "the new user's role: "+strings.Join(serve.Roles, ", "))
	want := 1
	if sub == "list" {
		want = 0
	}
	pos, ok := parseArgs(fs, args, want, usersUsage)
	if !ok || sub == "" {
		if ok {
			fmt.Fprintln(stderr, usersUsage)
		}
		return exitInvalid
	}
	if *file == "" {
		fmt.Fprintln(stderr, "mockloop: users: no home directory: set MOCKLOOP_HOME or give --users FILE")
		return exitInvalid
	}
	users, err := serve.ReadUsers(*file)
	if errors.Is(err, serve.ErrNoUsers) && sub == "add" {
		users, err = &serve.Users{}, nil
	}
	if err != nil {
		fmt.Fprintf(stderr, "mockloop: users: %s\n", termtext.EscapeLines(err.Error()))
		return exitInvalid
	}
	if sub == "list" {
		listUsers(users, stdout)
		return exitPass
	}
	action, err := changeUser(users, sub, pos[0], *role, stdin, stderr)
	if err == nil {
		err = users.Write(*file)
	}
	if err == nil {
		err = runlog.AppendBenchLog(benchLogPath(*file), runlog.BenchLogEntry{Subject: pos[0],
			OperatorData: runlog.OperatorData{Action: action, At: time.Now().UTC(), By: osUser(), Via: "cli", New: changed(action, *role)}})
	}
	if err != nil {
		fmt.Fprintf(stderr, "mockloop: users %s: %s\n", sub, termtext.EscapeLines(err.Error()))
		return exitInvalid
	}
	fmt.Fprintf(stdout, "mockloop: users %s %s: done (%s)\n", sub, pos[0], *file)
	return exitPass
}

// changed is the New of a users change's audit entry: the role given,
// never a password or its hash.
func changed(action, role string) string {
	switch action {
	case actionUserAdd:
		return "role " + role
	case actionUserDisable:
		return "disabled"
	}
	return "password changed"
}

// benchLogName is the bench audit log's file name, in Home: where zero,
// calibrate and `mockloop audit` find it.
const benchLogName = "audit.jsonl"

// benchLogPath is the bench audit log beside the users file (by
// default, in Home).
func benchLogPath(usersFile string) string {
	return filepath.Join(filepath.Dir(usersFile), benchLogName)
}

// changeUser applies add, disable or passwd to name; it returns the
// bench audit log's action.
func changeUser(users *serve.Users, cmd, name, role string, stdin io.Reader, stderr io.Writer) (string, error) {
	switch cmd {
	case "add":
		pw, err := newPassword(stdin, stderr, name)
		if err != nil {
			return "", err
		}
		return actionUserAdd, users.Add(name, role, pw)
	case "disable":
		u := users.Find(name)
		if u == nil {
			return "", fmt.Errorf("no user %s", name)
		}
		u.Disabled = true
		return actionUserDisable, nil
	case "passwd":
		u := users.Find(name)
		if u == nil {
			return "", fmt.Errorf("no user %s", name)
		}
		pw, err := newPassword(stdin, stderr, name)
		if err != nil {
			return "", err
		}
		u.Hash, err = serve.HashPassword(pw)
		return actionUserPasswd, err
	}
	return "", fmt.Errorf("no users command %q: add, list, disable or passwd", cmd)
}

// listUsers prints the users, never their hashes.
func listUsers(users *serve.Users, stdout io.Writer) {
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tCREATED")
	for _, u := range users.Users {
		state := "active"
		if u.Disabled {
			state = "disabled"
		}
		created := ""
		if !u.Created.IsZero() {
			created = u.Created.Format(time.DateOnly)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, state, created)
	}
	tw.Flush()
}

// newPassword is the new password of name: MOCKLOOP_PASSWORD (tests,
// provisioning scripts), else typed twice on the terminal without echo.
// It is never printed or logged.
func newPassword(stdin io.Reader, stderr io.Writer, name string) (string, error) {
	if pw, ok := os.LookupEnv("MOCKLOOP_PASSWORD"); ok {
		return pw, nil
	}
	f, ok := stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return "", errors.New("no terminal to ask the password on: set MOCKLOOP_PASSWORD")
	}
	fmt.Fprintf(stderr, "password for %s: ", name)
	pw, err := readNoEcho(f)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(stderr, "again: ")
	again, err := readNoEcho(f)
	fmt.Fprintln(stderr)
	switch {
	case err != nil:
		return "", err
	case pw != again:
		return "", errors.New("the two passwords differ")
	}
	return pw, nil
}

// readLineFrom reads one line from r, a byte at a time (nothing past it
// is consumed), at most 1 KiB; without its line ending.
func readLineFrom(r io.Reader) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for len(b) <= 1024 {
		n, err := r.Read(one)
		if n == 1 && one[0] == '\n' {
			return strings.TrimSuffix(string(b), "\r"), nil
		}
		b = append(b, one[:n]...)
		if err != nil {
			return "", err
		}
	}
	return "", errors.New("line longer than 1 KiB")
}
