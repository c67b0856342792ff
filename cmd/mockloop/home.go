package main

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
)

// Home is the directory of the bench's people and their keys: the users
// file (users.json), the bench audit log (audit.jsonl) and the signing
// keys. It is $MOCKLOOP_HOME when set, else $XDG_CONFIG_HOME/mockloop,
// else ~/.config/mockloop. Every command that needs it asks here, so
// that the users file and the keys are always found in one place.
func Home() (string, error) {
	if h := os.Getenv("MOCKLOOP_HOME"); h != "" {
		return h, nil
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "mockloop"), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", errors.New("no home directory: set MOCKLOOP_HOME")
	}
	return filepath.Join(h, ".config", "mockloop"), nil
}

// inHome is a file of Home, or "" when there is no home (the caller says
// so where it matters).
func inHome(name string) string {
	h, err := Home()
	if err != nil {
		return ""
	}
	return filepath.Join(h, name)
}

// osUser is the name of the user running the command, the person the
// audit trail records for a command given no --operator: the account's
// name, else $USER.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}
