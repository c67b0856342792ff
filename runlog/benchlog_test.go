package runlog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchLogIsHashChained: each entry of the bench audit log carries the
// SHA-256 of the line before; it reads back whole, and an edited,
// removed or reordered line is named.
func TestBenchLogIsHashChained(t *testing.T) {
	path := filepath.Join(t.TempDir(), "home", "audit.jsonl")
	for _, who := range []string{"alice", "bob", "carol"} {
		if err := AppendBenchLog(path, BenchLogEntry{OperatorData: OperatorData{Action: "user.add", By: who}, Subject: who + "2"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadBenchLog(path)
	if err != nil || len(got) != 3 || got[0].Prev != "" || got[2].By != "carol" || got[1].Prev == "" {
		t.Fatalf("read back: %v %+v", err, got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	for name, edited := range map[string]string{
		"edited":    strings.Replace(string(b), `"by":"bob"`, `"by":"eve"`, 1),
		"removed":   lines[0] + lines[2],
		"reordered": lines[1] + lines[0] + lines[2],
	} {
		os.WriteFile(path, []byte(edited), 0o600)
		if _, err := ReadBenchLog(path); err == nil || !strings.Contains(err.Error(), "chain is broken") {
			t.Errorf("%s line: %v, want the chain broken", name, err)
		}
	}
}

// FuzzReadBenchLog: whatever the bench audit log holds (anyone with the
// account can write it), reading it neither panics nor reads a line past
// its bound, and what it returns before an error is a chain that holds.
func FuzzReadBenchLog(f *testing.F) {
	f.Add([]byte(`{"prev":"","action":"user.add","by":"alice","subject":"bob"}` + "\n"))
	f.Add([]byte(`{"prev":"x"}` + "\n" + `{"prev":""}`))
	f.Add([]byte(strings.Repeat("a", 70<<10) + "\n"))
	f.Add([]byte("\n\n{}\n"))
	path := filepath.Join(f.TempDir(), "audit.jsonl")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadBenchLog(path)
		if err == nil && len(got) > bytes.Count(b, []byte("\n"))+1 {
			t.Errorf("%d entries from %d lines", len(got), bytes.Count(b, []byte("\n"))+1)
		}
		if len(got) > 0 && got[0].Prev != "" {
			t.Errorf("first entry chained to %q", got[0].Prev)
		}
	})
}
