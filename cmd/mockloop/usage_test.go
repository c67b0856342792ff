package main

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
)

// TestEveryCommandHelp: `mockloop CMD --help` and `-h` print the command's
// usage on stdout and exit 0, naming each flag its flag set has; the
// top-level usage names every command of the dispatcher, and its synopsis
// of each command names each of the command's flags (--operator included
// where it applies). Not parallel: it watches flag sets as they are made.
func TestEveryCommandHelp(t *testing.T) {
	var made []*flag.FlagSet
	flagSetMade = func(fs *flag.FlagSet) { made = append(made, fs) }
	defer func() { flagSetMade = nil }()
	var top bytes.Buffer
	if code := run([]string{"--help"}, &top, &top); code != exitPass {
		t.Fatalf("mockloop --help: exit %d", code)
	}
	for _, c := range commandTable() {
		if !strings.Contains(top.String(), "\n  "+c.name+" ") && !strings.Contains(top.String(), "\n  "+c.name+"\n") {
			t.Errorf("top-level usage lacks command %s", c.name)
		}
		synopsis := strings.Join(c.synopsis, "\n")
		for _, h := range []string{"--help", "-h"} {
			made = nil
			var stdout, stderr bytes.Buffer
			if code := run([]string{c.name, h}, &stdout, &stderr); code != exitPass {
				t.Errorf("%s %s: exit %d, want 0", c.name, h, code)
			}
			if c.name != "version" && !strings.Contains(stdout.String(), "mockloop "+c.name) {
				t.Errorf("%s %s: stdout %q lacks the command's usage", c.name, h, stdout.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("%s %s: stderr %q, want the usage on stdout only", c.name, h, stderr.String())
			}
			for _, fs := range made {
				fs.VisitAll(func(f *flag.Flag) {
					if !strings.Contains(stdout.String(), "-"+f.Name+" ") && !strings.Contains(stdout.String(), "-"+f.Name+"\n") {
						t.Errorf("%s %s: usage lacks flag -%s", c.name, h, f.Name)
					}
					if h == "--help" && !strings.Contains(synopsis, "--"+f.Name) {
						t.Errorf("top-level usage of %s lacks --%s", c.name, f.Name)
					}
				})
			}
		}
	}
}

// TestUsageBadCommand: an unknown command and no command are invalid
// input, with the usage on stderr.
func TestUsageBadCommand(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitInvalid || !strings.Contains(stderr.String(), "  dut-sim ") {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}

// TestReadmeCommandLine: README.md's "Command line" block is the usage's
// list of commands, line for line.
func TestReadmeCommandLine(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, _ := strings.Cut(string(readme), "## Command line\n\n```\n")
	block, _, _ = strings.Cut(block, "```\n")
	var want strings.Builder
	for _, c := range commandTable() {
		for _, s := range c.synopsis {
			want.WriteString("mockloop " + s + "\n")
		}
	}
	if block != want.String() {
		t.Errorf("README.md's command line block:\n%s\nwant:\n%s", block, want.String())
	}
}
