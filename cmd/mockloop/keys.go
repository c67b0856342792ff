package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/signing"
)

const keysUsage = `usage: mockloop keys new --name "Full Name" [--keys DIR]
       mockloop keys list [--keys DIR] [--keyring FILE]
       mockloop keys trust [--keys DIR] [--keyring FILE] KEYFILE|FINGERPRINT

new makes a person's Ed25519 signing key, its private part encrypted under
a passphrase (asked twice on the terminal, or $MOCKLOOP_PASSPHRASE), in
DIR (default $MOCKLOOP_HOME/keys; MOCKLOOP_HOME defaults to
$XDG_CONFIG_HOME/mockloop, else ~/.config/mockloop), readable by its owner
only. list prints each key's name, fingerprint and whether the keyring
trusts it. trust (an administrator's act) adds a key to the keyring
(default $MOCKLOOP_HOME/keyring.json): a key file, only its public part
read, or the fingerprint of a key in DIR. verify accepts signatures only
by keys in the keyring.

exit codes: 0 done, 3 invalid input, 4 a file could not be written

flags:
`

// keyFlags are the flags of the commands that find keys and the keyring.
type keyFlags struct{ keys, keyring *string }

// addKeyFlags adds --keys and --keyring to fs.
func addKeyFlags(fs *flag.FlagSet) keyFlags {
	return keyFlags{
		keys:    fs.String("keys", inHome("keys"), "directory of signing keys `DIR`"),
		keyring: fs.String("keyring", inHome("keyring.json"), "keyring of trusted keys `FILE`"),
	}
}

// cmdKeys implements `mockloop keys new|list|trust`.
func cmdKeys(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("keys", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, keysUsage)
		fs.PrintDefaults()
	}
	kf := addKeyFlags(fs)
	name := fs.String("name", "", "new: the signer's printed `NAME`, as signatures show it")
	pos, ok := parseArgs(fs, args, -1, keysUsage)
	if !ok {
		return exitInvalid
	}
	sub := ""
	if len(pos) > 0 {
		sub = pos[0]
	}
	var err error
	code := exitInvalid
	switch {
	case sub == "new" && len(pos) == 1:
		code, err = keysNew(kf, *name, stdout)
	case sub == "list" && len(pos) == 1:
		code, err = keysList(kf, stdout)
	case sub == "trust" && len(pos) == 2:
		code, err = keysTrust(kf, pos[1], stdout)
	default:
		fs.Usage()
		return exitInvalid
	}
	if err != nil {
		fmt.Fprintf(stderr, "mockloop keys %s: %v\n", sub, err)
	}
	return code
}

// keysNew is `keys new`.
func keysNew(kf keyFlags, name string, stdout io.Writer) (int, error) {
	if name == "" {
		return exitInvalid, errors.New(`give --name "Full Name": the printed name signatures show`)
	}
	pass, err := readPassphrase("passphrase for the new key of "+termtext.Escape(name)+": ", true)
	if err != nil {
		return exitInvalid, err
	}
	k, err := signing.NewKey(name, pass)
	if err != nil {
		return exitInvalid, err
	}
	p, err := k.Write(*kf.keys)
	if err != nil {
		return exitInfra, err
	}
	fmt.Fprintf(stdout, "%s\t%s\t%s\n", termtext.Escape(k.Name), k.Fingerprint(), p)
	fmt.Fprintf(stdout, "an administrator makes verify accept it with: mockloop keys trust %s\n", k.Fingerprint())
	return exitPass, nil
}

// keysList is `keys list`.
func keysList(kf keyFlags, stdout io.Writer) (int, error) {
	keys, paths, err := signing.Keys(*kf.keys)
	if err != nil {
		return exitInvalid, err
	}
	kr, err := signing.ReadKeyring(*kf.keyring)
	if err != nil {
		return exitInvalid, err
	}
	for i, k := range keys {
		trust := "not trusted"
		if kr.Trusted(k.Fingerprint()) {
			trust = "trusted"
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", termtext.Escape(k.Name), k.Fingerprint(), trust, paths[i])
	}
	if len(keys) == 0 {
		fmt.Fprintf(stdout, "no keys in %s\n", *kf.keys)
	}
	return exitPass, nil
}

// keysTrust is `keys trust`: arg is a key file or the fingerprint of a key
// in the keys directory.
func keysTrust(kf keyFlags, arg string, stdout io.Writer) (int, error) {
	var key *signing.KeyFile
	if _, err := os.Stat(arg); err == nil {
		if key, err = signing.ReadKeyFile(arg); err != nil {
			return exitInvalid, err
		}
	} else {
		keys, _, err := signing.Keys(*kf.keys)
		if err != nil {
			return exitInvalid, err
		}
		fp := "SHA256:" + strings.TrimPrefix(arg, "SHA256:")
		for _, k := range keys {
			if k.Fingerprint() == fp {
				key = k
			}
		}
		if key == nil {
			return exitInvalid, fmt.Errorf("%s: no such file, and no key with that fingerprint in %s", arg, *kf.keys)
		}
	}
	kr, err := signing.ReadKeyring(*kf.keyring)
	if err != nil {
		return exitInvalid, err
	}
	if !kr.Add(key.Name, key.PublicKey) {
		fmt.Fprintf(stdout, "already trusted: %s\t%s\n", termtext.Escape(key.Name), key.Fingerprint())
		return exitPass, nil
	}
	if err := kr.Write(*kf.keyring); err != nil {
		return exitInfra, err
	}
	fmt.Fprintf(stdout, "trusted: %s\t%s\tin %s\n", termtext.Escape(key.Name), key.Fingerprint(), *kf.keyring)
	return exitPass, nil
}
