package reports

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mockloop/mockloop/internal/flock"
)

// A report killed while writing frames.csv left .frames.csv.tmp-* forever;
// the next report removes such files (nobody holds their lock) and leaves
// those of a report another process is making.
func TestKilledReportTempFilesRemoved(t *testing.T) {
	out := t.TempDir()
	stale := filepath.Join(out, ".frames.csv.tmp-111")
	if err := os.WriteFile(stale, []byte("time_s,aop\n1,"), 0o644); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(out, ".frames.csv.tmp-222")
	f, err := os.Create(live)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ok, err := flock.Lock(f); !ok {
		t.Fatal(err)
	}
	if _, err := Generate(fixtureRun(t, "pass"), Options{Formats: []string{FormatCSV}, OutDir: out}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a killed report's temporary file is still there: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the temporary file of a report being made was removed: %v", err)
	}
}

// writeFileAtomic leaves no temporary file on any way out: an error of the
// writer, or a panic in it.
func TestReportTempFileRemovedOnEveryExit(t *testing.T) {
	out := t.TempDir()
	path := filepath.Join(out, FramesCSVFile)
	if err := writeFileAtomic(path, func(io.Writer) error { return errors.New("cancelled") }); err == nil {
		t.Fatal("no error")
	}
	func() {
		defer func() { _ = recover() }()
		writeFileAtomic(path, func(io.Writer) error { panic("in the writer") })
	}()
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
