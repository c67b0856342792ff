package serve

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/mockloop/mockloop/runlog"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// MinTokenLen is the shortest token the bench view accepts. Off loopback
// the token is all that stands between the lab network and the pump, and
// the throttle only slows guessing down: 32 characters of a random token
// (NewToken) leave nothing to guess.
const MinTokenLen = 32

// NewToken returns a fresh random token: 32 random bytes, base64url (43
// characters), what `mockloop serve --new-token` prints.
func NewToken() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

// CheckToken says why a token is too weak to guard the bench; nil when it
// will do (or is not set).
func CheckToken(tok string) error {
	if tok != "" && len(tok) < MinTokenLen {
		return fmt.Errorf("is %d characters long; at least %d are needed (`mockloop serve --new-token` prints one)", len(tok), MinTokenLen)
	}
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return b
}

// access is what a request's credentials allow.
type access int

const (
	noAccess access = iota
	readAccess
	writeAccess
)

// principal is who a request comes from: a user of the users file, a
// named token (CI), or — when the view has no credentials configured —
// the person at the loopback screen, unnamed. Its role says what it may
// do; Via how it came (bench-view: a login, api: a token).
type principal struct {
	Name, Role, Via string
	user            bool // a user of the users file (not a token)
}

// level is what the principal may do.
func (p principal) level() access {
	switch {
	case roleWrites(p.Role):
		return writeAccess
	case p.Role == RoleReviewer:
		return readAccess
	}
	return noAccess
}

// Token is a named API token, for CI: runs it starts or stops name it as
// the person (By), with its role.
type Token struct {
	Name, Secret, Role string
}

// setupAuth gathers the credentials the server accepts: its tokens (the
// MOCKLOOP_API_TOKEN of older scripts is the operator token "token", its
// read token the reviewer token "read-token") and its users file.
func (s *Server) setupAuth() error {
	s.tokens = slices.Clone(s.cfg.Tokens)
	if s.cfg.Token != "" {
		s.tokens = append(s.tokens, Token{Name: "token", Secret: s.cfg.Token, Role: RoleOperator})
	}
	if s.cfg.ReadToken != "" {
		s.tokens = append(s.tokens, Token{Name: "read-token", Secret: s.cfg.ReadToken, Role: RoleReviewer})
	}
	names := map[string]bool{}
	for _, t := range s.tokens {
		switch {
		case t.Secret == "":
			return fmt.Errorf("token %s is empty", t.Name)
		case !validName.MatchString(t.Name) || names[t.Name]:
			return fmt.Errorf("token name %q: a name of letters, digits, . _ @ -, each token its own", t.Name)
		case !slices.Contains(Roles, t.Role):
			return fmt.Errorf("token %s: role %q: one of %s", t.Name, t.Role, strings.Join(Roles, ", "))
		}
		if err := CheckToken(t.Secret); err != nil {
			return fmt.Errorf("token %s %w", t.Name, err)
		}
		names[t.Name] = true
	}
	s.authOn = len(s.tokens) > 0
	if s.cfg.UsersFile != "" {
		_, err := ReadUsers(s.cfg.UsersFile)
		switch {
		case err == nil:
			s.authOn = true
		case !errors.Is(err, ErrNoUsers):
			return err
		}
	}
	return nil
}

// tokenPrincipal is the token presented, compared in constant time with
// every token configured.
func (s *Server) tokenPrincipal(tok string) principal {
	var p principal
	for _, t := range s.tokens {
		if equal(tok, t.Secret) {
			p = principal{Name: t.Name, Role: t.Role, Via: "api"}
		}
	}
	return p
}

// equal compares a presented token with a configured one in constant time,
// their lengths included (the comparison is of their SHA-256 digests).
func equal(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return got != "" && subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// presented reports whether the request carries a credential, right or
// wrong: a bearer token or a session cookie. A request with none is not a
// guess and is not throttled (the page asks for its status before login).
func presented(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	_, err := r.Cookie(cookieName)
	return err == nil
}

// who is whom the request's credentials name, unthrottled: the unnamed
// admin at the screen when no credentials are configured; else its bearer
// token's, or its session's (no role when none).
func (s *Server) who(r *http.Request) principal {
	if !s.authOn {
		return principal{Role: RoleAdmin, Via: "bench-view"}
	}
	if a := r.Header.Get("Authorization"); a != "" {
		tok, ok := strings.CutPrefix(a, "Bearer ")
		if !ok {
			return principal{}
		}
		return s.tokenPrincipal(strings.TrimSpace(tok))
	}
	if c, err := r.Cookie(cookieName); err == nil {
		p := s.sessions.lookup(c.Value)
		if p.user && !s.stillActive(p) {
			s.sessions.end(c.Value)
			return principal{}
		}
		return p
	}
	return principal{}
}

// stillActive reports whether a logged-in user is still in the users
// file with the same role and not disabled: `users disable` ends the
// sessions a person holds at their next request, not 12 hours later. The
// file is read again only when it changed.
func (s *Server) stillActive(p principal) bool {
	u := s.usersNow()
	x := (*User)(nil)
	if u != nil {
		x = u.Find(p.Name)
	}
	return x != nil && !x.Disabled && x.Role == p.Role
}

// usersNow is the users file as it is now (nil when unreadable), cached by
// its modification time and size.
func (s *Server) usersNow() *Users {
	fi, err := os.Stat(s.cfg.UsersFile)
	if err != nil {
		return nil
	}
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	if s.usersAt.mod.Equal(fi.ModTime()) && s.usersAt.size == fi.Size() && s.users != nil {
		return s.users
	}
	u, err := ReadUsers(s.cfg.UsersFile)
	if err != nil {
		s.logf("serve: %v", err)
		return nil
	}
	s.users, s.usersAt.mod, s.usersAt.size = u, fi.ModTime(), fi.Size()
	return u
}

// access is what the request's credentials allow, unthrottled.
func (s *Server) access(r *http.Request) access { return s.who(r).level() }

// authorize is access behind the throttle: a client whose wrong
// credentials have used up its allowance is answered 429 here, without
// its credential being looked at (ok false); a wrong credential is
// answered 401 (ok false, and a stale session cookie cleared, so that a
// page that outlived its session stops spending the allowance). With ok
// true the caller checks the access is enough.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (p principal, ok bool) {
	if !s.authOn {
		return s.who(r), true
	}
	if !presented(r) {
		return principal{}, true
	}
	client := clientKey(r.RemoteAddr)
	if !s.throttle.take(w, client) {
		return principal{}, false
	}
	if p = s.who(r); p.level() == noAccess {
		if r.Header.Get("Authorization") == "" {
			clearCookie(w, r)
		}
		refuse(w, http.StatusUnauthorized, "wrong token or expired session: Authorization: Bearer TOKEN, or log in")
		return principal{}, false
	}
	s.throttle.refund(client)
	return p, true
}

// refuse answers a request that failed authentication and closes its
// connection: a client that is refused holds no connection afterwards.
func refuse(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Connection", "close")
	httpError(w, status, msg)
}

// sessionTTL is how long a login lasts: a working day at the bench.
const sessionTTL = 12 * time.Hour

// maxSessions bounds the sessions kept: a bench has a handful of screens.
const maxSessions = 256

// sessions are the logins of the page. The cookie holds a random session
// id, not the token: a cookie that leaks (a shared browser, a log) ends
// with its session or a logout, and never tells the token. The ids are
// kept hashed, so that the map lookup's timing says nothing of them.
type sessions struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]session
}

type session struct {
	who     principal
	expires time.Time
}

// create makes a session of who and returns its id.
func (ss *sessions) create(who principal) string {
	id := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	now := time.Now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[[sha256.Size]byte]session{}
	}
	if len(ss.m) >= maxSessions {
		ss.evictLocked(now)
	}
	ss.m[sha256.Sum256([]byte(id))] = session{who: who, expires: now.Add(sessionTTL)}
	return id
}

// evictLocked drops the expired sessions, and the one ending soonest if
// none has.
func (ss *sessions) evictLocked(now time.Time) {
	var oldest [sha256.Size]byte
	var first time.Time
	for k, v := range ss.m {
		if now.After(v.expires) {
			delete(ss.m, k)
		} else if first.IsZero() || v.expires.Before(first) {
			oldest, first = k, v.expires
		}
	}
	if len(ss.m) >= maxSessions {
		delete(ss.m, oldest)
	}
}

// lookup is whose session an id is: nobody when it is unknown or expired.
func (ss *sessions) lookup(id string) principal {
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	v, ok := ss.m[k]
	switch {
	case !ok:
		return principal{}
	case time.Now().After(v.expires):
		delete(ss.m, k)
		return principal{}
	}
	return v.who
}

// end ends a session.
func (ss *sessions) end(id string) {
	ss.mu.Lock()
	delete(ss.m, sha256.Sum256([]byte(id)))
	ss.mu.Unlock()
}

// setCookie sets the session cookie; Secure whenever the request came over
// TLS, so that the browser never sends it in clear.
func setCookie(w http.ResponseWriter, r *http.Request, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

func clearCookie(w http.ResponseWriter, r *http.Request) { setCookie(w, r, "", -1) }

// The throttle lets each client address a burst of throttleBurst failed
// authentications, then one per 1/throttleRate seconds.
const (
	throttleBurst = 5
	throttleRate  = 1.0 // per second
	// maxClients bounds the addresses tracked; past it, the addresses
	// not yet seen share one allowance.
	maxClients = 4096
)

// throttle slows down guessing: a token bucket per client address that
// every attempt with a credential draws from, and a successful one gives
// back. Drawing before the credential is looked at holds even for a
// burst of parallel guesses; an empty bucket is answered 429 with
// Retry-After, the credential unlooked at.
type throttle struct {
	mu      sync.Mutex
	clients map[string]*bucket
	// evaluated counts the credentials looked at, refused those turned
	// away unlooked at (what the tests and the figures read).
	evaluated, refused atomic.Int64
}

type bucket struct {
	tokens float64
	at     time.Time
}

// level is the bucket's content at now.
func (b *bucket) level(now time.Time) float64 {
	return math.Min(throttleBurst, b.tokens+now.Sub(b.at).Seconds()*throttleRate)
}

// take draws one attempt for client, or answers 429 and returns false.
func (t *throttle) take(w http.ResponseWriter, client string) bool {
	now := time.Now()
	t.mu.Lock()
	b := t.bucketLocked(client, now)
	b.tokens, b.at = b.level(now), now
	ok := b.tokens >= 1
	if ok {
		b.tokens--
	}
	wait := math.Ceil((1 - b.tokens) / throttleRate)
	t.mu.Unlock()
	if !ok {
		t.refused.Add(1)
		w.Header().Set("Retry-After", strconv.Itoa(int(max(wait, 1))))
		refuse(w, http.StatusTooManyRequests, "too many failed attempts from this address; try again later")
		return false
	}
	t.evaluated.Add(1)
	return true
}

// refund gives a successful attempt back: a client that knows the token
// is never slowed down by its own requests.
func (t *throttle) refund(client string) {
	t.mu.Lock()
	if b := t.clients[client]; b != nil {
		b.tokens = math.Min(throttleBurst, b.tokens+1)
	}
	t.mu.Unlock()
}

// bucketLocked is client's bucket, made full when new.
func (t *throttle) bucketLocked(client string, now time.Time) *bucket {
	if b := t.clients[client]; b != nil {
		return b
	}
	if t.clients == nil {
		t.clients = map[string]*bucket{}
	}
	if len(t.clients) >= maxClients {
		for k, b := range t.clients { // forget who has nothing left to refill
			if b.level(now) >= throttleBurst {
				delete(t.clients, k)
			}
		}
		if len(t.clients) >= maxClients {
			client = "overflow"
			if b := t.clients[client]; b != nil {
				return b
			}
		}
	}
	b := &bucket{tokens: throttleBurst, at: now}
	t.clients[client] = b
	return b
}

// clientKey is the address a throttle bucket belongs to: the peer's IP
// (a proxy's headers are not believed), an IPv6 one by its /64, which one
// machine may hold whole.
func clientKey(remoteAddr string) string {
	h, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		h = remoteAddr
	}
	ip := net.ParseIP(h)
	if ip == nil {
		return h
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// actor is the audit trail's who of a write request (mutation): the
// user's or token's name and role, how it came, and the reason given.
// Without credentials configured the person is the server's --operator,
// unnamed by any login.
func (s *Server) actor(r *http.Request, reason string) runlog.OperatorData {
	p := whoOf(r)
	d := runlog.OperatorData{At: time.Now().UTC(), By: p.Name, Via: p.Via, Reason: strings.TrimSpace(reason)}
	if s.authOn {
		d.Role = p.Role
	} else {
		d.By = cmp.Or(s.cfg.Operator, "the bench view")
	}
	return d
}

// maxReason bounds a reason, which goes into the run's record.
const maxReason = 500

// checkReason says what is wrong with the reason given for a control
// action ("" if nothing): a pause and a stop depart from the protocol as
// written and need one (an e-stop does not wait for words).
func checkReason(action, reason string) string {
	reason = strings.TrimSpace(reason)
	switch {
	case utf8.RuneCountInString(reason) > maxReason || strings.IndexFunc(reason, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return fmt.Sprintf("reason: at most %d printable characters", maxReason)
	case reason == "" && (action == "pause" || action == "stop"):
		return fmt.Sprintf("a reason is needed to %s a run: it departs from the protocol as written ({\"reason\": \"...\"})", action)
	}
	return ""
}
