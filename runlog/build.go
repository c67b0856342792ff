package runlog

import (
	"regexp"
	"runtime/debug"
	"strings"
)

// releaseTag is a version that names a tag and nothing past it: v1.2.3, or
// v1.2.3-rc.1. `git describe` past a tag (v1.2.3-4-gabc1234), a dirty tree
// (…-dirty, Go's …+dirty) and Go's pseudo-versions of untagged commits
// (v0.0.0-20261120090000-abcdef123456) do not match.
var (
	releaseTag = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-(alpha|beta|rc)\.?[0-9]+)?$`)
	pastTag    = regexp.MustCompile(`-[0-9]+-g[0-9a-f]+$|[0-9]{14}-[0-9a-f]{12}$|[-+]dirty$`)
)

// BuildOf decides what a build is from the version stamped at link time
// (-ldflags "-X main.version=…", the Makefile's `git describe`; "dev"
// unstamped) and the build information Go embeds (bi may be nil). A
// release is a build whose version is a tag and whose tree was not
// modified: a plain `go build` is "dev", a build from a dirty tree is
// never a release whatever its version says.
func BuildOf(stamped string, bi *debug.BuildInfo) Build {
	b := Build{Version: stamped}
	if bi != nil {
		if b.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version // go install …@v1.2.3
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	b.Release = !b.Modified && releaseTag.MatchString(b.Version) && !pastTag.MatchString(b.Version) &&
		!strings.Contains(b.Version, "dirty")
	return b
}
