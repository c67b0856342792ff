package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// Need returns the path of the program name, or skips the test when it is
// not installed — unless the test runs in CI (CI set), where a missing
// program is a failure: a check must not silently not happen there.
func Need(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " not installed (Debian package " + debianPackage + "; make test-deps installs it)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
