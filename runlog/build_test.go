package runlog

import (
	"runtime/debug"
	"testing"
)

// What a release is: a version that is a tag, from a tree not modified.
// A plain `go build` ("dev"), a commit past a tag, a dirty tree (in the
// version or in Go's vcs.modified), and Go's pseudo-versions are
// development builds.
func TestReleaseIsATaggedCleanBuild(t *testing.T) {
	bi := func(main string, kv ...string) *debug.BuildInfo {
		b := &debug.BuildInfo{Main: debug.Module{Path: "github.com/mockloop/mockloop", Version: main}}
		for i := 0; i+1 < len(kv); i += 2 {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return b
	}
	clean := []string{"vcs.revision", "1a2b3c4d", "vcs.time", "2026-12-01T10:00:00Z", "vcs.modified", "false"}
	dirty := []string{"vcs.revision", "1a2b3c4d", "vcs.modified", "true"}
	for _, tc := range []struct {
		name, stamped string
		bi            *debug.BuildInfo
		version       string
		release       bool
	}{
		{"plain go build", "dev", bi("(devel)", clean...), "dev", false},
		{"no build info", "dev", nil, "dev", false},
		{"make build on a tag", "v1.4.0", bi("(devel)", clean...), "v1.4.0", true},
		{"release candidate tag", "v1.4.0-rc.1", bi("(devel)", clean...), "v1.4.0-rc.1", true},
		{"make build past a tag", "v1.4.0-3-g1a2b3c4", bi("(devel)", clean...), "v1.4.0-3-g1a2b3c4", false},
		{"make build, dirty tree", "v1.4.0-dirty", bi("(devel)", clean...), "v1.4.0-dirty", false},
		{"tag but vcs.modified", "v1.4.0", bi("(devel)", dirty...), "v1.4.0", false},
		{"untagged repository", "1a2b3c4", bi("(devel)", clean...), "1a2b3c4", false},
		{"go install @tag", "dev", bi("v1.4.0"), "v1.4.0", true},
		{"go install @commit", "dev", bi("v1.4.1-0.20261201100000-1a2b3c4d5e6f"), "v1.4.1-0.20261201100000-1a2b3c4d5e6f", false},
		{"go build, Go's dirty stamp", "dev", bi("v1.4.0+dirty"), "v1.4.0+dirty", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := BuildOf(tc.stamped, tc.bi)
			if b.Version != tc.version || b.Release != tc.release {
				t.Errorf("BuildOf(%q) = %s release %v, want %s release %v", tc.stamped, b.Version, b.Release, tc.version, tc.release)
			}
		})
	}
}
