package reports

import "github.com/mockloop/mockloop/runlog"

// devBuildNotice is what every report of a run made by a development
// build says (every PDF page's header, the HTML's top, a JUnit property);
// "" for a release build. A record made before builds were recorded is a
// development build only if its version says "dev" (an unstamped `go
// build`): its other versions cannot be told apart from releases now.
func devBuildNotice(m *runlog.Manifest) string {
	switch {
	case m.Build != nil && !m.Build.Release:
		return "DEVELOPMENT BUILD " + m.Build.Version + " — not for design-history evidence"
	case m.Build == nil && m.SoftwareVersion == "dev":
		return "DEVELOPMENT BUILD dev — not for design-history evidence"
	}
	return ""
}

// buildRow is the identity table's row of the build, when recorded.
func buildRow(m *runlog.Manifest) (kv, bool) {
	b := m.Build
	if b == nil {
		return kv{}, false
	}
	v := "release " + b.Version
	if !b.Release {
		v = "development build " + b.Version + " (not a tagged release)"
	}
	if b.Revision != "" {
		v += "; revision " + b.Revision
		if b.Modified {
			v += " with uncommitted changes"
		}
	}
	if b.Time != "" {
		v += "; committed " + b.Time
	}
	return kv{K: "Build", V: v, Flag: !b.Release}, true
}
