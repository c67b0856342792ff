package rig

import (
	"cmp"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// ErrDevBuild is wrapped by the error of a run refused because a
// development build would drive a hardware rig.
var ErrDevBuild = errors.New("development build")

// devBuildDeviation decides whether the build in opts may drive cfg's rig.
// A development build (not a tagged release: runlog.Build) may drive the
// simulated rig freely — its runs are no design-history evidence, and its
// reports say so — but a hardware rig only with opts.AllowDevBuild, the
// operator's reason; the run then records that departure as a deviation,
// the returned entry. Without opts.Build (a library caller, not the CLI)
// nothing is checked.
func devBuildDeviation(cfg *Config, opts Options) (*runlog.OperatorData, error) {
	b := opts.Build
	if b == nil || b.Release || cfg.Backend == "sim" {
		return nil, nil
	}
	if opts.AllowDevBuild == "" {
		return nil, fmt.Errorf("rig: %w %s: rig %s is hardware, and a build that is not a tagged release makes no evidence for a design history file; "+
			"run a release build (make build on a tagged, clean tree), or give --allow-dev-build REASON (recorded as a deviation)", ErrDevBuild, b.Version, cfg.Name)
	}
	return &runlog.OperatorData{Action: runlog.ActionAllowDevBuild, At: time.Now().UTC(), By: opts.Operator, Via: cmp.Or(opts.Via, "cli"),
		Reason: opts.AllowDevBuild, New: b.Version, Deviation: true}, nil
}

// CheckBuild refuses a development build b on cfg's hardware rig without
// a reason to allow it, as a run would: for `mockloop serve`, which
// refuses at start-up what every run it starts would refuse.
func CheckBuild(cfg *Config, b *runlog.Build, allowDevBuild string) error {
	_, err := devBuildDeviation(cfg, Options{Build: b, AllowDevBuild: allowDevBuild})
	return err
}

// buildOf is the build the manifest records: opts.Build, else the one
// running, named by opts.Version (the bench view's runs, which give no
// Build to check): its reports say so if it is no release.
func buildOf(opts Options) *runlog.Build {
	if opts.Build != nil {
		return opts.Build
	}
	bi, _ := debug.ReadBuildInfo()
	b := runlog.BuildOf(opts.Version, bi)
	return &b
}
