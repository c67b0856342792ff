package reports

import (
	"os"
	"os/exec"
	"testing"
)

// needTool returns the path of an external checker (xmllint, chromium,
// qpdf, pdftotext), or skips the test when it is not installed — unless
// the test runs in CI (CI set), where a missing checker is a failure: the
// check must not silently not happen there.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " not installed (Debian package " + pkg + ")"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
