package signing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mockloop/mockloop/internal/durable"
	"github.com/mockloop/mockloop/runlog"
)

// keyringVersion is the version of keyring.json's format.
const keyringVersion = 1

// maxKeyring bounds what a reader takes from a keyring: some ten thousand
// keys.
const maxKeyring = 4 << 20

// Keyring is keyring.json: the public keys an administrator trusts, each
// with the name of the person it belongs to. Verification accepts a
// signature only by a key in it: a signature carries its public key, which
// proves who made the signature only once someone vouched for the key.
type Keyring struct {
	Version int          `json:"version"`
	Keys    []TrustedKey `json:"keys"`
}

// TrustedKey is one key of a keyring.
type TrustedKey struct {
	Name      string            `json:"name"`
	PublicKey ed25519.PublicKey `json:"public_key"` // base64
}

// Trusted reports whether the key with fingerprint fp is in the keyring.
func (kr *Keyring) Trusted(fp string) bool {
	for _, k := range kr.Keys {
		if runlog.KeyFingerprint(k.PublicKey) == fp {
			return true
		}
	}
	return false
}

// Add adds the key pub of name; false if it was there already.
func (kr *Keyring) Add(name string, pub ed25519.PublicKey) bool {
	if kr.Trusted(runlog.KeyFingerprint(pub)) {
		return false
	}
	kr.Keys = append(kr.Keys, TrustedKey{Name: name, PublicKey: pub})
	return true
}

// ParseKeyring decodes keyring.json and checks every key.
func ParseKeyring(b []byte) (*Keyring, error) {
	var kr Keyring
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kr); err != nil {
		return nil, fmt.Errorf("not a keyring: %w", err)
	}
	if kr.Version != keyringVersion {
		return nil, fmt.Errorf("keyring version %d, want %d", kr.Version, keyringVersion)
	}
	for i, k := range kr.Keys {
		if len(k.PublicKey) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("keys[%d].public_key: %d bytes, want %d", i, len(k.PublicKey), ed25519.PublicKeySize)
		}
		if err := runlog.CheckSignerName(k.Name); err != nil {
			return nil, fmt.Errorf("keys[%d].name: %w", i, err)
		}
	}
	return &kr, nil
}

// ReadKeyring reads the keyring at path, with a size bound; a keyring
// that does not exist is empty (nobody trusted yet).
func ReadKeyring(path string) (*Keyring, error) {
	b, err := runlog.ReadFile(path, maxKeyring)
	if errors.Is(err, fs.ErrNotExist) {
		return &Keyring{Version: keyringVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	kr, err := ParseKeyring(b)
	if err != nil {
		return nil, fmt.Errorf("signing: %s: %w", path, err)
	}
	return kr, nil
}

// Write replaces the keyring at path atomically (its directory created if
// absent). It holds public keys only: readable by all, 0644.
func (kr *Keyring) Write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	kr.Version = keyringVersion
	b, _ := json.MarshalIndent(kr, "", "  ")
	if err := durable.WriteFileMode(filepath.Dir(path), filepath.Base(path), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	return nil
}
