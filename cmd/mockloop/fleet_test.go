package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// fleetFiles are the CI examples of the fleet recipe (README.md, "Fleets
// of rigs").
var fleetFiles = []string{"../../configs/ci/github-actions.yml", "../../configs/ci/gitlab-ci.yml"}

// mockloopCall finds a mockloop command line: the command word after
// "mockloop " at the start of a shell command.
var mockloopCall = regexp.MustCompile(`(?:^|[\s;&|(])mockloop\s+([a-z][a-z-]*)([^\n]*)`)

// commandLines returns the mockloop command lines in text, with shell line
// continuations and YAML's folded lines joined.
func commandLines(text string) [][2]string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	var out [][2]string
	for _, m := range mockloopCall.FindAllStringSubmatch(text, -1) {
		args := m[2]
		if i := strings.IndexAny(args, "|;#)`"); i >= 0 {
			args = args[:i]
		}
		out = append(out, [2]string{m[1], args})
	}
	return out
}

// shellCommands collects the shell commands of a CI file: the values of
// GitHub's run keys and the items of GitLab's script lists (a folded
// block, ">-", is one command line).
func shellCommands(node *yaml.Node, out *[]string) {
	if node.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i].Value, node.Content[i+1]
			switch {
			case k == "run" && v.Kind == yaml.ScalarNode:
				*out = append(*out, v.Value)
			case k == "script" && v.Kind == yaml.SequenceNode:
				for _, c := range v.Content {
					*out = append(*out, c.Value)
				}
			}
		}
	}
	for _, c := range node.Content {
		shellCommands(c, out)
	}
}

// fencedBlocks returns the text of the fenced code blocks of Markdown.
func fencedBlocks(md string) []string {
	var blocks []string
	parts := strings.Split(md, "```")
	for i := 1; i < len(parts); i += 2 {
		blocks = append(blocks, parts[i])
	}
	return blocks
}

// checkCommandLine checks that mockloop knows the command and each
// --flag of the line: its help lists them.
func checkCommandLine(t *testing.T, where, cmd, args string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	run([]string{cmd, "-h"}, &stdout, &stderr)
	help := stdout.String() + stderr.String()
	if strings.Contains(help, "unknown command") {
		t.Errorf("%s: mockloop %s: unknown command", where, cmd)
		return
	}
	for _, f := range strings.Fields(args) {
		name, ok := strings.CutPrefix(f, "--")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(name) + `\b`).MatchString(help) {
			t.Errorf("%s: mockloop %s: unknown flag --%s", where, cmd, name)
		}
	}
}

// TestFleetRecipe: the CI examples are valid YAML of the shape their CI
// system reads, and every mockloop command line in them and in README.md's
// "Fleets of rigs" uses commands and flags mockloop has.
func TestFleetRecipe(t *testing.T) {
	seen := 0
	for _, file := range fleetFiles {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: not YAML: %v", file, err)
		}
		var m map[string]any
		if err := doc.Decode(&m); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		switch {
		case strings.Contains(file, "github"):
			jobs, _ := m["jobs"].(map[string]any)
			if len(jobs) == 0 || m["on"] == nil {
				t.Errorf("%s: no jobs or no trigger", file)
			}
			self, _ := jobs["bench-1"].(map[string]any)
			if labels, _ := self["runs-on"].([]any); len(labels) == 0 || labels[len(labels)-1] != "rig-bench-1" || labels[0] != "self-hosted" {
				t.Errorf("%s: bench-1 does not run on the rig's self-hosted runner: %v", file, self["runs-on"])
			}
		default:
			job, _ := m["bench-1"].(map[string]any)
			tags, _ := job["tags"].([]any)
			arts, _ := job["artifacts"].(map[string]any)
			reports, _ := arts["reports"].(map[string]any)
			if len(tags) != 1 || tags[0] != "rig-bench-1" || reports["junit"] == nil {
				t.Errorf("%s: bench-1 has tags %v, artifacts %v", file, job["tags"], arts)
			}
		}
		var cmds []string
		shellCommands(&doc, &cmds)
		for _, s := range cmds {
			for _, c := range commandLines(s) {
				checkCommandLine(t, file, c[0], c[1])
				seen++
			}
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Fleets of rigs\n")
	if !ok {
		t.Fatal(`README.md has no section "Fleets of rigs"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, block := range fencedBlocks(section) {
		for _, c := range commandLines(block) {
			checkCommandLine(t, "README.md", c[0], c[1])
			seen++
		}
	}
	if seen < 7 {
		t.Errorf("%d mockloop command lines found, want the recipe's 7 at least", seen)
	}
}
