package main

import (
	"os"
	"path/filepath"
)

// mockloopHome is the directory of a person's and a bench's mockloop state
// outside the runs (signing keys, the keyring of trusted keys, users):
// $MOCKLOOP_HOME, else $XDG_CONFIG_HOME/mockloop, else ~/.config/mockloop
// (the XDG Base Directory default).
func mockloopHome() string {
	if h := os.Getenv("MOCKLOOP_HOME"); h != "" {
		return h
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "mockloop")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "." // no home at all (a bare service account): the working directory
	}
	return filepath.Join(home, ".config", "mockloop")
}
