package signing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testKey is a key made once for the package's tests: argon2id at its
// real parameters costs about a second under qemu.
var testKey = func() *KeyFile {
	k, err := NewKey("R. Reviewer", "correct horse")
	if err != nil {
		panic(err)
	}
	return k
}()

func TestKeyUnlocksWithItsPassphraseOnly(t *testing.T) {
	priv, err := testKey.Unlock("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), testKey.PublicKey) {
		t.Error("unlocked key is not the file's")
	}
	if _, err := testKey.Unlock("correct horse "); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: %v", err)
	}
}

// The parameters stated in the doc (RFC 9106's second recommended option)
// are the ones new keys carry.
func TestNewKeyUsesRFC9106Parameters(t *testing.T) {
	p := testKey.KDF
	if p.Alg != "argon2id" || p.Time != 3 || p.MemoryKiB != 64<<10 || p.Threads != 4 || len(p.Salt) != 16 {
		t.Errorf("kdf %+v", p)
	}
}

// The name, the public key and the KDF are bound to the ciphertext: a key
// file renamed to someone else does not unlock.
func TestKeyFileFieldEditedDoesNotUnlock(t *testing.T) {
	k := *testKey
	k.Name = "Q. Auditor"
	if _, err := k.Unlock("correct horse"); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("renamed key unlocked: %v", err)
	}
	k = *testKey
	k.KDF.Time = 2
	if _, err := k.Unlock("correct horse"); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("key with its KDF edited unlocked: %v", err)
	}
}

func TestKeyFileWrittenOwnerOnlyAndReadBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	p, err := testKey.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v mode %v", err, fi.Mode())
	}
	if _, err := testKey.Write(dir); err == nil {
		t.Error("a key file was replaced")
	}
	keys, paths, err := Keys(dir)
	if err != nil || len(keys) != 1 || paths[0] != p || keys[0].Fingerprint() != testKey.Fingerprint() {
		t.Errorf("keys %v %v %v", keys, paths, err)
	}
	if !strings.HasPrefix(filepath.Base(p), "r-reviewer-") {
		t.Errorf("file name %s", p)
	}
}

// An edited key file gives an error naming the field, never a panic.
func TestKeyFileEditedClearError(t *testing.T) {
	good, _ := json.Marshal(testKey)
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	kdf := func(k string, v any) func(m map[string]any) {
		return func(m map[string]any) { m["kdf"].(map[string]any)[k] = v }
	}
	for _, c := range []struct {
		b    []byte
		want string
	}{
		{[]byte("not json"), "not a key file"},
		{good[:len(good)/2], "not a key file"},
		{edit(func(m map[string]any) { m["version"] = 2 }), "version 2"},
		{edit(func(m map[string]any) { m["public_key"] = "AAAA" }), "public_key: 3 bytes"},
		{edit(func(m map[string]any) { m["public_key"] = "!!" }), "not a key file"},
		{edit(func(m map[string]any) { m["name"] = "" }), "name: empty"},
		{edit(func(m map[string]any) { m["name"] = "A\x1b[2J" }), "control characters"},
		{edit(func(m map[string]any) { m["extra"] = 1 }), "unknown field"},
		{edit(kdf("alg", "scrypt")), "kdf.alg"},
		{edit(kdf("memory_kib", 1<<30)), "kdf.memory_kib"},
		{edit(kdf("time", 0)), "kdf.time"},
		{edit(kdf("threads", 0)), "kdf.threads"},
		{edit(kdf("salt", "AAAA")), "kdf.salt"},
		{edit(func(m map[string]any) { m["nonce"] = "AAAA" }), "nonce: 3 bytes"},
		{edit(func(m map[string]any) { m["ciphertext"] = "AAAA" }), "ciphertext: 3 bytes"},
	} {
		_, err := ParseKeyFile(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.60s: error %v, want %q", c.b, err, c.want)
		}
	}
	if _, err := ParseKeyFile(good); err != nil {
		t.Errorf("good key file: %v", err)
	}
}

func TestReadKeyFileBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.key")
	os.WriteFile(p, bytes.Repeat([]byte(" "), maxKeyFile+1), 0o600)
	if _, err := ReadKeyFile(p); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("oversized key file: %v", err)
	}
}

func FuzzParseKeyFile(f *testing.F) {
	good, _ := json.Marshal(testKey)
	f.Add(good)
	f.Add([]byte(`{"version":1,"kdf":{"memory_kib":4294967295}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKeyFile(b)
		if err != nil {
			return
		}
		if k.KDF.MemoryKiB > maxKDFMemory || k.KDF.Time > maxKDFTime || len(k.PublicKey) != ed25519.PublicKeySize {
			t.Errorf("accepted %+v", k.KDF)
		}
	})
}

func TestKeyringTrustsWhatWasAdded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "home", "keyring.json")
	kr, err := ReadKeyring(p)
	if err != nil || len(kr.Keys) != 0 {
		t.Fatalf("absent keyring: %v %v", kr, err)
	}
	if kr.Trusted(testKey.Fingerprint()) || !kr.Add(testKey.Name, testKey.PublicKey) || kr.Add(testKey.Name, testKey.PublicKey) {
		t.Fatal("add")
	}
	if err := kr.Write(p); err != nil {
		t.Fatal(err)
	}
	kr, err = ReadKeyring(p)
	if err != nil || !kr.Trusted(testKey.Fingerprint()) || kr.Trusted("SHA256:other") {
		t.Errorf("read back: %+v %v", kr, err)
	}
	for _, bad := range []string{`{"version":1,"keys":[{"name":"X","public_key":"AAAA"}]}`, `{"version":2}`, `[`, `{"version":1,"keys":[{"name":"","public_key":"` + strings.Repeat("A", 43) + `="}]}`} {
		if _, err := ParseKeyring([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func FuzzParseKeyring(f *testing.F) {
	f.Add([]byte(`{"version":1,"keys":[{"name":"A","public_key":"` + strings.Repeat("A", 43) + `="}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		kr, err := ParseKeyring(b)
		if err != nil {
			return
		}
		for _, k := range kr.Keys {
			if len(k.PublicKey) != ed25519.PublicKeySize || k.Name == "" {
				t.Errorf("accepted %+v", k)
			}
		}
	})
}
