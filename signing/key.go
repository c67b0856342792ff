package signing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/mockloop/mockloop/internal/durable"
	"github.com/mockloop/mockloop/runlog"
)

// keyVersion is the version of a key file's format.
const keyVersion = 1

// maxKeyFile bounds what a reader takes from a key file (about 400 bytes).
const maxKeyFile = 64 << 10

// The argon2id parameters of new keys: RFC 9106, section 4, the second
// recommended option (t=3 passes, 64 MiB, 4 lanes), for memory-constrained
// machines such as the bench's Pi. 16 bytes of salt, as the RFC
// recommends.
const (
	kdfTime    = 3
	kdfMemory  = 64 << 10 // KiB
	kdfThreads = 4
	saltLen    = 16
)

// Bounds a key file's KDF parameters must keep: an edited file must not
// make unlocking take gigabytes or hours.
const (
	maxKDFTime    = 16
	minKDFMemory  = 8 << 10   // KiB
	maxKDFMemory  = 512 << 10 // KiB
	maxKDFThreads = 16
)

// ErrWrongPassphrase is returned by Unlock when the passphrase does not
// open the key (or the file's protected fields were altered: the AEAD
// cannot tell which).
var ErrWrongPassphrase = errors.New("wrong passphrase, or the key file was altered")

// KDF are the argon2id parameters a key file's passphrase is stretched
// with (RFC 9106).
type KDF struct {
	Alg       string `json:"alg"`        // "argon2id"
	Time      uint32 `json:"time"`       // passes
	MemoryKiB uint32 `json:"memory_kib"` // KiB
	Threads   uint8  `json:"threads"`    // lanes
	Salt      []byte `json:"salt"`       // base64, saltLen bytes
}

// KeyFile is a person's signing key on disk: the Ed25519 private key's
// seed, sealed with XChaCha20-Poly1305 under a key argon2id derives from
// the passphrase. Name, public key and KDF are authenticated with it (the
// AEAD's additional data), so editing any of them makes Unlock fail.
type KeyFile struct {
	Version    int               `json:"version"`
	Name       string            `json:"name"`       // the signer's printed name
	PublicKey  ed25519.PublicKey `json:"public_key"` // base64
	KDF        KDF               `json:"kdf"`
	Nonce      []byte            `json:"nonce"`      // base64, 24 bytes
	Ciphertext []byte            `json:"ciphertext"` // base64: the 32-byte seed and the 16-byte tag
}

// NewKey makes a signing key for name protected by passphrase.
func NewKey(name, passphrase string) (*KeyFile, error) {
	if err := runlog.CheckSignerName(name); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	if passphrase == "" {
		return nil, errors.New("signing: empty passphrase")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	k := &KeyFile{Version: keyVersion, Name: name, PublicKey: pub,
		KDF:   KDF{Alg: "argon2id", Time: kdfTime, MemoryKiB: kdfMemory, Threads: kdfThreads, Salt: make([]byte, saltLen)},
		Nonce: make([]byte, chacha20poly1305.NonceSizeX)}
	rand.Read(k.KDF.Salt) // never fails (crypto/rand)
	rand.Read(k.Nonce)
	aead, _ := chacha20poly1305.NewX(k.derive(passphrase)) // a 32-byte key: cannot fail
	k.Ciphertext = aead.Seal(nil, k.Nonce, priv.Seed(), k.additional())
	return k, nil
}

// derive stretches passphrase into the AEAD's key with k's parameters.
func (k *KeyFile) derive(passphrase string) []byte {
	return argon2.IDKey([]byte(passphrase), k.KDF.Salt, k.KDF.Time, k.KDF.MemoryKiB, k.KDF.Threads, chacha20poly1305.KeySize)
}

// additional is the AEAD's additional data: the file's fields but the
// ciphertext, so that none can be changed without Unlock noticing.
func (k *KeyFile) additional() []byte {
	c := *k
	c.Ciphertext = nil
	b, _ := json.Marshal(c) // strings, numbers and bytes: cannot fail
	return b
}

// Unlock opens the private key with passphrase.
func (k *KeyFile) Unlock(passphrase string) (ed25519.PrivateKey, error) {
	aead, _ := chacha20poly1305.NewX(k.derive(passphrase))
	seed, err := aead.Open(nil, k.Nonce, k.Ciphertext, k.additional())
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), k.PublicKey) {
		return nil, errors.New("signing: the key file's public key is not its private key's")
	}
	return priv, nil
}

// Fingerprint is the key's fingerprint (runlog.KeyFingerprint).
func (k *KeyFile) Fingerprint() string { return runlog.KeyFingerprint(k.PublicKey) }

// ParseKeyFile decodes a key file and checks every field, so that a file
// edited or damaged gives an error naming what is wrong, never a panic
// or an unlock that costs unbounded memory.
func ParseKeyFile(b []byte) (*KeyFile, error) {
	var k KeyFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&k); err != nil {
		return nil, fmt.Errorf("not a key file: %w", err)
	}
	p := k.KDF
	switch {
	case k.Version != keyVersion:
		return nil, fmt.Errorf("key file version %d, want %d", k.Version, keyVersion)
	case len(k.PublicKey) != ed25519.PublicKeySize:
		return nil, fmt.Errorf("public_key: %d bytes, want %d", len(k.PublicKey), ed25519.PublicKeySize)
	case p.Alg != "argon2id":
		return nil, fmt.Errorf("kdf.alg %q, want argon2id", p.Alg)
	case p.Time < 1 || p.Time > maxKDFTime:
		return nil, fmt.Errorf("kdf.time %d, want 1 to %d", p.Time, maxKDFTime)
	case p.MemoryKiB < minKDFMemory || p.MemoryKiB > maxKDFMemory:
		return nil, fmt.Errorf("kdf.memory_kib %d, want %d to %d", p.MemoryKiB, minKDFMemory, maxKDFMemory)
	case p.Threads < 1 || p.Threads > maxKDFThreads:
		return nil, fmt.Errorf("kdf.threads %d, want 1 to %d", p.Threads, maxKDFThreads)
	case len(p.Salt) < saltLen:
		return nil, fmt.Errorf("kdf.salt: %d bytes, want at least %d", len(p.Salt), saltLen)
	case len(k.Nonce) != chacha20poly1305.NonceSizeX:
		return nil, fmt.Errorf("nonce: %d bytes, want %d", len(k.Nonce), chacha20poly1305.NonceSizeX)
	case len(k.Ciphertext) != ed25519.SeedSize+chacha20poly1305.Overhead:
		return nil, fmt.Errorf("ciphertext: %d bytes, want %d", len(k.Ciphertext), ed25519.SeedSize+chacha20poly1305.Overhead)
	}
	if err := runlog.CheckSignerName(k.Name); err != nil {
		return nil, fmt.Errorf("name: %w", err)
	}
	return &k, nil
}

// ReadKeyFile reads and parses the key file at path, with a size bound.
func ReadKeyFile(path string) (*KeyFile, error) {
	b, err := runlog.ReadFile(path, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	k, err := ParseKeyFile(b)
	if err != nil {
		return nil, fmt.Errorf("signing: %s: %w", path, err)
	}
	return k, nil
}

// Write writes k into dir (created 0700 if absent), named after its name
// and fingerprint, atomically and readable by its owner only (0600), and
// returns its path. An existing file is never replaced.
func (k *KeyFile) Write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	b, _ := json.MarshalIndent(k, "", "  ")
	name := fileName(k.Name, k.Fingerprint()) + ".key"
	p := filepath.Join(dir, name)
	if _, err := os.Lstat(p); err == nil {
		return "", fmt.Errorf("signing: %s exists", p)
	}
	if err := durable.WriteFileMode(dir, name, append(b, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return p, nil
}

// fileName makes a file name of a person's name and a key fingerprint:
// letters and digits of the name, lower case, and 8 characters of the
// fingerprint to tell two keys of one person apart.
func fileName(name, fp string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	fp = strings.NewReplacer("/", "", "+", "").Replace(strings.TrimPrefix(fp, "SHA256:"))
	return strings.Trim(b.String(), "-") + "-" + fp[:8]
}

// Keys reads every key file (*.key) in dir, in file name order, and returns
// them with their paths; a file that
// does not parse is an error naming it.
func Keys(dir string) ([]*KeyFile, []string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.key"))
	if err != nil {
		return nil, nil, err
	}
	var keys []*KeyFile
	for _, p := range paths {
		k, err := ReadKeyFile(p)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
	}
	return keys, paths, nil
}
