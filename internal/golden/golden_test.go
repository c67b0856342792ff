package golden

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB whose failures are recorded, not reported.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Errorf(format string, _ ...any) { r.errs = append(r.errs, format) }
func (r *recorder) Fatalf(format string, _ ...any) {
	r.errs = append(r.errs, format)
	runtime.Goexit()
}

// check runs Check with r on a goroutine of its own, which Fatalf ends.
func check(r *recorder, path string, got []byte) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		Check(r, path, got)
	}()
	<-done
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "x.golden")
	r := &recorder{TB: t}
	check(r, path, []byte("a\n"))
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "-update to create it") {
		t.Errorf("missing file: %q", r.errs)
	}

	*update = true
	Check(t, path, []byte("a\n"))
	*update = false
	if b, err := os.ReadFile(path); err != nil || string(b) != "a\n" {
		t.Fatalf("-update wrote %q, %v", b, err)
	}

	r = &recorder{TB: t}
	check(r, path, []byte("a\n"))
	if len(r.errs) != 0 {
		t.Errorf("equal output failed: %q", r.errs)
	}
	check(r, path, []byte("b\n"))
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "differs from the golden file") {
		t.Errorf("different output: %q", r.errs)
	}
}
