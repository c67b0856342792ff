//go:build !linux

package main

import (
	"errors"
	"os"
)

// readNoEcho is not done on this system: MOCKLOOP_PASSWORD gives the
// password instead.
func readNoEcho(*os.File) (string, error) {
	return "", errors.New("reading a password from the terminal is done on Linux only; set MOCKLOOP_PASSWORD")
}
