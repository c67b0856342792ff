package serve

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/mockloop/mockloop/internal/durable"
	"github.com/mockloop/mockloop/runlog"
)

// The roles of the bench view's people: an operator may start, pause,
// resume, stop and e-stop runs; a reviewer reads only (status, history,
// reports); an admin may do all an operator may.
const (
	RoleOperator = "operator"
	RoleReviewer = "reviewer"
	RoleAdmin    = "admin"
)

// Roles are the roles, in the order the help lists them.
var Roles = []string{RoleOperator, RoleReviewer, RoleAdmin}

// roleWrites reports whether a role may change anything.
func roleWrites(role string) bool { return role == RoleOperator || role == RoleAdmin }

// User is one person of the users file. The password is kept only as its
// argon2id hash, in the PHC string format
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash), so that its parameters go
// with it and a later, stronger setting leaves older hashes readable.
type User struct {
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	Hash     string    `json:"hash"`
	Disabled bool      `json:"disabled,omitempty"`
	Created  time.Time `json:"created,omitzero"`
}

// Users is the users file: who may log in to the bench view, with which
// role. It is JSON, mode 0600, written atomically (durable.WriteFileMode).
type Users struct {
	Users []User `json:"users"`
}

// The argon2id parameters of new hashes: OWASP's Password Storage Cheat
// Sheet's first choice (m = 19 MiB, t = 2, p = 1), which RFC 9106 §4
// allows for memory-constrained hosts (its own second recommendation is
// 64 MiB, t = 3, p = 4; a Raspberry Pi running a 1 kHz loop keeps its
// memory). A 16-byte salt and a 32-byte tag, as RFC 9106 recommends.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on the parameters of a hash read from a file, which anyone who
// can edit it chooses: verifying must neither exhaust memory nor hang.
const (
	maxArgonMemory  = 256 * 1024 // KiB
	maxArgonTime    = 16
	maxArgonThreads = 16
)

// MinPasswordLen is the shortest password accepted (NIST SP 800-63B
// §5.1.1.2 asks for at least 8; a bench shared by a team gets more).
const MinPasswordLen = 10

// maxPasswordLen bounds what is hashed.
const maxPasswordLen = 1024

// maxUsersFile bounds the users file read: a few hundred people fit in
// a small fraction of it.
const maxUsersFile = 4 << 20

// validName is a user's name: what a login form takes and a record shows.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// ErrNoUsers is the error of ReadUsers when the file does not exist.
var ErrNoUsers = errors.New("no users file")

// ReadUsers reads the users file at path; errors.Is(err, ErrNoUsers) when
// there is none.
func ReadUsers(path string) (*Users, error) {
	b, err := runlog.ReadFile(path, maxUsersFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoUsers)
	}
	if err != nil {
		return nil, err
	}
	return ParseUsers(path, b)
}

// ParseUsers parses a users file's content; name is the file's, for the
// errors (name:line:col: ...).
func ParseUsers(name string, b []byte) (*Users, error) {
	var u Users
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return nil, fmt.Errorf("%s:%s: %w", name, jsonPos(b, err), err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more than one JSON value", name)
	}
	seen := map[string]bool{}
	for i, x := range u.Users {
		where := fmt.Sprintf("%s: users[%d]", name, i)
		switch {
		case !validName.MatchString(x.Name):
			return nil, fmt.Errorf("%s: name %q: 1 to 64 letters, digits, . _ @ -, starting with a letter or digit", where, x.Name)
		case seen[strings.ToLower(x.Name)]:
			return nil, fmt.Errorf("%s: %s appears twice", where, x.Name)
		case !slices.Contains(Roles, x.Role):
			return nil, fmt.Errorf("%s (%s): role %q: one of %s", where, x.Name, x.Role, strings.Join(Roles, ", "))
		}
		if _, _, err := parseHash(x.Hash); err != nil {
			return nil, fmt.Errorf("%s (%s): hash: %w", where, x.Name, err)
		}
		seen[strings.ToLower(x.Name)] = true
	}
	return &u, nil
}

// jsonPos is the line:col of a JSON decoding error in b, "1:1" when it
// has no offset.
func jsonPos(b []byte, err error) string {
	var off int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	off = min(max(off, 0), int64(len(b)))
	before := b[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return fmt.Sprintf("%d:%d", line, col)
}

// Write writes the users file to path atomically, mode 0600, making its
// directory (0700) if need be.
func (u *Users) Write(path string) error {
	b, err := json.MarshalIndent(u, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return durable.WriteFileMode(dir, filepath.Base(path), append(b, '\n'), 0o600)
}

// Find is the user called name (case-insensitive), or nil.
func (u *Users) Find(name string) *User {
	for i := range u.Users {
		if strings.EqualFold(u.Users[i].Name, name) {
			return &u.Users[i]
		}
	}
	return nil
}

// Add adds a user with a role and a password.
func (u *Users) Add(name, role, password string) error {
	switch {
	case !validName.MatchString(name):
		return fmt.Errorf("name %q: 1 to 64 letters, digits, . _ @ -, starting with a letter or digit", name)
	case u.Find(name) != nil:
		return fmt.Errorf("a user %s exists already (users passwd changes a password)", name)
	case !slices.Contains(Roles, role):
		return fmt.Errorf("role %q: one of %s", role, strings.Join(Roles, ", "))
	}
	h, err := HashPassword(password)
	if err != nil {
		return err
	}
	u.Users = append(u.Users, User{Name: name, Role: role, Hash: h, Created: time.Now().UTC().Truncate(time.Second)})
	return nil
}

// HashPassword hashes a password with argon2id and a fresh salt, in the
// PHC string format; it refuses a password too short or too long.
func HashPassword(password string) (string, error) {
	if n := utf8.RuneCountInString(password); n < MinPasswordLen || len(password) > maxPasswordLen {
		return "", fmt.Errorf("a password has %d to %d characters", MinPasswordLen, maxPasswordLen)
	}
	salt := randomBytes(argonSaltLen)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var b64 = base64.RawStdEncoding

// argonParams are the parameters of a stored hash.
type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
}

// parseHash reads a PHC argon2id string, its parameters bounded.
func parseHash(h string) (argonParams, []byte, error) {
	var p argonParams
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, errors.New("not an argon2id hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash)")
	}
	var threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &threads); err != nil || n != 3 ||
		fmt.Sprintf("m=%d,t=%d,p=%d", p.memory, p.time, threads) != parts[3] {
		return p, nil, fmt.Errorf("parameters %q: want m=KiB,t=passes,p=lanes", parts[3])
	}
	if p.memory < 8*threads || p.memory > maxArgonMemory || p.time < 1 || p.time > maxArgonTime || threads < 1 || threads > maxArgonThreads {
		return p, nil, fmt.Errorf("parameters %q out of bounds (m ≤ %d KiB, t ≤ %d, p ≤ %d)", parts[3], maxArgonMemory, maxArgonTime, maxArgonThreads)
	}
	p.threads = uint8(threads)
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err := errors.Join(err1, err2); err != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return p, nil, errors.New("salt or hash is not base64 of the right length")
	}
	p.salt = salt
	return p, key, nil
}

// checkPassword reports whether password matches the stored hash h, in
// constant time for a given hash.
func checkPassword(h, password string) bool {
	p, key, err := parseHash(h)
	if err != nil || len(password) > maxPasswordLen {
		return false
	}
	got := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

// dummyHash is hashed against when the name is unknown or disabled, so
// that a login takes as long whether the name exists or not.
// Made on first use: every command of the binary links this package.
var dummyHash = sync.OnceValue(func() string { h, _ := HashPassword("not a password of anyone"); return h })

// Authenticate is the user called name if password is theirs and they
// are not disabled.
func (u *Users) Authenticate(name, password string) (User, bool) {
	x := u.Find(name)
	if x == nil || x.Disabled {
		checkPassword(dummyHash(), password)
		return User{}, false
	}
	if !checkPassword(x.Hash, password) {
		return User{}, false
	}
	return *x, true
}
