package main

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/runlog"
)

// --answer is checked against the protocol's prompts before anything
// moves: an unknown id or a refused answer exits 3 and makes no run; a
// valid one answers its prompt, recorded as given on the command line.
func TestRunAnswerFlag(t *testing.T) {
	chdirRoot(t)
	dir := t.TempDir()
	proto := filepath.Join(dir, "p.yaml")
	os.WriteFile(proto, []byte(`protocol: 1
name: ask
steps:
  - name: leak check
    prompt: {id: leak-check, message: "Dry?", choices: [yes, no], expect: yes}
    hold: 1 s
  - name: cuff
    prompt: {id: cuff, message: "Cuff?", input: number, unit: mmHg}
    hold: 1 s
`), 0o644)
	runs := filepath.Join(dir, "runs")
	for _, bad := range [][]string{{"--answer", "nope=yes"}, {"--answer", "leak-check=maybe"}, {"--answer", "cuff=2 L/min"}, {"--answer", "leak-check"}} {
		code, _, errOut := cli(t, append(append([]string{"run", "--runs", runs}, bad...), proto)...)
		if code != exitInvalid || errOut == "" {
			t.Errorf("run %v: exit %d %q, want 3 saying why", bad, code, errOut)
		}
	}
	if list, _ := runlog.List(runs); len(list) != 0 {
		t.Fatalf("refused answers made %d runs", len(list))
	}
	code, out, errOut := cli(t, "run", "--runs", runs, "--quiet", "--answer", "leak-check=yes", "--answer", "cuff=82", proto)
	if code != exitPass {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	list, _ := runlog.List(runs)
	r, _ := runlog.Open(list[0].Dir)
	evs, _ := r.ReadEvents()
	var got []string
	for _, ev := range evs {
		var d runlog.OperatorData
		if ev.Kind == runlog.KindOperator && ev.Decode(&d) == nil && d.Action == runlog.ActionPromptAnswer {
			got = append(got, d.New+" via "+d.Via)
		}
	}
	if strings.Join(got, ", ") != "yes via cli, 82 mmHg via cli" {
		t.Errorf("answers recorded: %v", got)
	}
}

// A terminal's answer is one line, bounded: a longer one is refused whole.
func TestReadLineBounded(t *testing.T) {
	in := bufio.NewReaderSize(strings.NewReader("yes\r\n"+strings.Repeat("x", 10_000)+"\nno\n"), 16)
	if s, err := readLine(in, 200); s != "yes" || err != nil {
		t.Errorf("first line %q %v", s, err)
	}
	if _, err := readLine(in, 200); !errors.Is(err, errLongLine) {
		t.Errorf("long line: %v, want refused", err)
	}
	if s, err := readLine(in, 200); s != "no" || err != nil {
		t.Errorf("line after the long one %q %v", s, err)
	}
}
