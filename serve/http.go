package serve

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// cookieName is the session cookie POST /api/login sets.
const cookieName = "mockloop_token"

// maxBody bounds a request body: a protocol of up to 1 MiB, JSON-quoted.
const maxBody = 4 << 20

// read wraps a handler that only reads: it needs the read token (or the
// write token) when tokens are configured.
func (s *Server) read(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token != "" {
			tok := requestToken(r)
			if !equal(tok, s.cfg.Token) && !(s.cfg.ReadToken != "" && equal(tok, s.cfg.ReadToken)) {
				httpError(w, http.StatusUnauthorized, "a token is needed: Authorization: Bearer TOKEN, or log in")
				return
			}
		}
		h(w, r)
	}
}

// mutation wraps a handler that changes something (or, for login, may set
// a credential): a same-origin POST with a JSON body, and — when needToken
// and tokens are configured — the write token.
func (s *Server) mutation(needToken bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
			httpError(w, http.StatusUnsupportedMediaType, "the request body must be JSON (Content-Type: application/json)")
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) {
			httpError(w, http.StatusForbidden, "request from another site refused")
			return
		}
		if needToken && s.cfg.Token != "" {
			switch tok := requestToken(r); {
			case equal(tok, s.cfg.Token):
			case s.cfg.ReadToken != "" && equal(tok, s.cfg.ReadToken):
				httpError(w, http.StatusForbidden, "the read-only token cannot change anything")
				return
			default:
				httpError(w, http.StatusUnauthorized, "a token is needed: Authorization: Bearer TOKEN, or log in")
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		h(w, r)
	}
}

// canWrite reports whether the request may change things.
func (s *Server) canWrite(r *http.Request) bool {
	return s.cfg.Token == "" || equal(requestToken(r), s.cfg.Token)
}

// login answers POST /api/login: a valid token becomes a session cookie,
// so that the page (and its event stream, which cannot send headers)
// carries it.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token string `json:"token"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	write := s.cfg.Token != "" && equal(req.Token, s.cfg.Token)
	if !write && !(s.cfg.ReadToken != "" && equal(req.Token, s.cfg.ReadToken)) {
		time.Sleep(200 * time.Millisecond) // slows guessing a little
		httpError(w, http.StatusUnauthorized, "wrong token")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: req.Token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	writeJSON(w, http.StatusOK, map[string]bool{"write": write})
}

// requestToken is the bearer token of the request, or its session cookie.
func requestToken(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if tok, ok := strings.CutPrefix(a, "Bearer "); ok {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if c, err := r.Cookie(cookieName); err == nil {
		return c.Value
	}
	return ""
}

// equal compares a presented token with a configured one in constant time.
func equal(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin reports whether the Origin header names the host the request
// was sent to.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, host)
}

// loopbackHost reports whether a Host header names this machine by a
// loopback name or address.
func loopbackHost(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	if strings.EqualFold(h, "localhost") || strings.HasSuffix(strings.ToLower(h), ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// IsLoopback reports whether a listen address binds to loopback only.
func IsLoopback(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil || h == "" {
		return false // ":8080" listens on every interface
	}
	return loopbackHost(h)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// readJSON decodes the request body into v; an empty body is {}.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return true
	case errors.As(err, &tooBig):
		httpError(w, http.StatusRequestEntityTooLarge, "request body too large")
	default:
		httpError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
	}
	return false
}

func runFile(runsDir, id, file string) string { return filepath.Join(runsDir, id, file) }

func fileExists(runsDir, id, file string) bool {
	st, err := os.Stat(runFile(runsDir, id, file))
	return err == nil && st.Mode().IsRegular()
}
