package main

import (
	"runtime/debug"

	"github.com/mockloop/mockloop/runlog"
)

// buildVersion is mockloop's version as `mockloop version` prints it and
// the manifest records it.
func buildVersion() string { return currentBuild().Version }

// currentBuild is this binary's build, as the manifest records it.
func currentBuild() runlog.Build {
	bi, _ := debug.ReadBuildInfo()
	return runlog.BuildOf(version, bi)
}

// describeBuild is a build as `mockloop version` prints it.
func describeBuild(b runlog.Build) string {
	if b.Release {
		return b.Version
	}
	return b.Version + " (development build: not a tagged release)"
}
