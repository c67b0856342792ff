package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// maxPassphrase bounds a passphrase read from the terminal.
const maxPassphrase = 1024

// readPassphrase returns the passphrase of a signing key: from
// $MOCKLOOP_PASSPHRASE if set (tests, scripts), else asked on the terminal
// without echo — twice when confirm is set (a new key: a typo would lock
// the key for good). Without a terminal and without the variable it fails
// rather than read a secret from a pipe.
func readPassphrase(prompt string, confirm bool) (string, error) {
	if p, ok := os.LookupEnv("MOCKLOOP_PASSPHRASE"); ok {
		return p, nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errors.New("no terminal to ask the passphrase on: set MOCKLOOP_PASSPHRASE")
	}
	defer tty.Close()
	p, err := askNoEcho(tty, prompt)
	if err != nil || !confirm {
		return p, err
	}
	again, err := askNoEcho(tty, "again: ")
	if err != nil {
		return "", err
	}
	if again != p {
		return "", errors.New("the passphrases differ")
	}
	return p, nil
}

// askNoEcho prints prompt on tty and reads one line with echo off,
// restoring the terminal's state after.
func askNoEcho(tty *os.File, prompt string) (string, error) {
	fd := int(tty.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ECHONL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	fmt.Fprint(tty, prompt)
	line, err := bufio.NewReader(io.LimitReader(tty, maxPassphrase)).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}
