package serve

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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

// tokenAccess is what a presented token allows, compared in constant time.
func (s *Server) tokenAccess(tok string) access {
	switch {
	case s.cfg.Token != "" && equal(tok, s.cfg.Token):
		return writeAccess
	case s.cfg.ReadToken != "" && equal(tok, s.cfg.ReadToken):
		return readAccess
	}
	return noAccess
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

// access is what the request's credentials allow, unthrottled: every
// access when no token is configured; else its bearer token's, or its
// session's.
func (s *Server) access(r *http.Request) access {
	if s.cfg.Token == "" {
		return writeAccess
	}
	if a := r.Header.Get("Authorization"); a != "" {
		tok, ok := strings.CutPrefix(a, "Bearer ")
		if !ok {
			return noAccess
		}
		return s.tokenAccess(strings.TrimSpace(tok))
	}
	if c, err := r.Cookie(cookieName); err == nil {
		return s.sessions.lookup(c.Value)
	}
	return noAccess
}

// authorize is access behind the throttle: a client whose wrong
// credentials have used up its allowance is answered 429 here, without
// its credential being looked at (ok false); a wrong credential is
// answered 401 (ok false, and a stale session cookie cleared, so that a
// page that outlived its session stops spending the allowance). With ok
// true the caller checks the access is enough.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (a access, ok bool) {
	if s.cfg.Token == "" {
		return writeAccess, true
	}
	if !presented(r) {
		return noAccess, true
	}
	client := clientKey(r.RemoteAddr)
	if !s.throttle.take(w, client) {
		return noAccess, false
	}
	if a = s.access(r); a == noAccess {
		if r.Header.Get("Authorization") == "" {
			clearCookie(w, r)
		}
		refuse(w, http.StatusUnauthorized, "wrong token or expired session: Authorization: Bearer TOKEN, or log in")
		return noAccess, false
	}
	s.throttle.refund(client)
	return a, true
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
	write   bool
	expires time.Time
}

// create makes a session and returns its id.
func (ss *sessions) create(write bool) string {
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
	ss.m[sha256.Sum256([]byte(id))] = session{write: write, expires: now.Add(sessionTTL)}
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

// lookup is what a session id allows: nothing when it is unknown or expired.
func (ss *sessions) lookup(id string) access {
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	v, ok := ss.m[k]
	switch {
	case !ok:
		return noAccess
	case time.Now().After(v.expires):
		delete(ss.m, k)
		return noAccess
	case v.write:
		return writeAccess
	}
	return readAccess
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
