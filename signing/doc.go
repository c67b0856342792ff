// Package signing holds the people's signing keys and the keyring that
// says whose keys are trusted: the parts of electronic signatures (21 CFR
// 11.50, 11.70, 11.200) that are not the record's. The signatures
// themselves, their file in the run directory and their check, are
// runlog's (runlog.Sign, runlog.Verify), so that verifying a record needs
// no key file and no passphrase.
//
// # Design
//
// A person's key is an Ed25519 key pair (crypto/ed25519). Its key file
// (KeyFile, JSON, mode 0600, written atomically) holds the printed name,
// the public key, the KDF parameters and salt, the nonce, and the private
// key's 32-byte seed sealed with XChaCha20-Poly1305 under a key that
// argon2id derives from the passphrase (RFC 9106, section 4, the second
// recommended option: 3 passes over 64 MiB with 4 lanes, 16 bytes of
// salt; a memory-hard derivation makes guessing the passphrase of a
// stolen file slow). Name, public key and parameters are the AEAD's
// additional data, so an edit to any of them makes Unlock fail. Signing
// takes both components of 11.200: the key file (something held) and the
// passphrase (something known); neither alone signs.
//
// A signature carries its public key, so anyone can make a key named
// "Q. Auditor" and sign with it. Trust is therefore a separate act: an
// administrator adds a person's public key to the keyring (keyring.json,
// Keyring), and verification reports a signature by any other key as
// signed by an untrusted key (runlog.Verification.Distrust).
//
// Files read are bounded (runlog.ReadFile) and every field is checked on
// parse, KDF parameters included (at most 512 MiB and 16 passes), so an
// edited file gives an error, never a panic or an unbounded unlock.
//
// # Imports
//
// Of the project, signing imports runlog (bounded reads, fingerprints,
// the rules for printed names) and internal/durable (atomic writes);
// beyond the standard library, golang.org/x/crypto's argon2 and
// chacha20poly1305.
package signing
