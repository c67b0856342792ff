package testtool

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB whose Skip and Fatal are recorded.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Fatal(args ...any) { r.failed = fmt.Sprint(args...); runtime.Goexit() }

func need(t *testing.T, name string) (path string, r *recorder) {
	r = &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		path = Need(r, name, "pkg-"+name)
	}()
	<-done
	return path, r
}

func TestNeed(t *testing.T) {
	t.Setenv("CI", "")
	if p, r := need(t, "sh"); !strings.HasSuffix(p, "/sh") || r.skipped != "" || r.failed != "" {
		t.Errorf("sh: %q, %+v", p, r)
	}
	const missing = "mockloop-no-such-program"
	if _, r := need(t, missing); r.failed != "" || !strings.Contains(r.skipped, missing+" not installed (Debian package pkg-"+missing) {
		t.Errorf("missing outside CI: skipped %q, failed %q", r.skipped, r.failed)
	}
	t.Setenv("CI", "true")
	if _, r := need(t, missing); r.skipped != "" || !strings.Contains(r.failed, missing+" not installed") {
		t.Errorf("missing in CI: skipped %q, failed %q", r.skipped, r.failed)
	}
}
