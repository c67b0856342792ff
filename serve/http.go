package serve

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// cookieName is the session cookie POST /api/login sets.
const cookieName = "mockloop_session"

// maxBody bounds a request body: a protocol of up to 1 MiB, JSON-quoted.
const maxBody = 4 << 20

// read wraps a handler that only reads: it needs the read token (or the
// write token) when tokens are configured.
func (s *Server) read(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := s.authorize(w, r)
		if !ok {
			return
		}
		if a.level() == noAccess {
			refuse(w, http.StatusUnauthorized, "a token is needed: Authorization: Bearer TOKEN, or log in")
			return
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
		if needToken {
			a, ok := s.authorize(w, r)
			switch {
			case !ok:
				return
			case a.level() == readAccess:
				httpError(w, http.StatusForbidden, fmt.Sprintf("%s (role %s) cannot change anything", cmp.Or(a.Name, "the read-only token"), a.Role))
				return
			case a.level() == noAccess:
				refuse(w, http.StatusUnauthorized, "a token is needed: Authorization: Bearer TOKEN, or log in")
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), whoKey{}, a))
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		h(w, r)
	}
}

// canWrite reports whether the request may change things.
func (s *Server) canWrite(r *http.Request) bool {
	return s.access(r) == writeAccess
}

// whoKey is the context key of a write request's principal.
type whoKey struct{}

// whoOf is the principal a write request was authorized as (mutation).
func whoOf(r *http.Request) principal {
	p, _ := r.Context().Value(whoKey{}).(principal)
	return p
}

// login answers POST /api/login: a user's name and password, or a valid
// token, becomes a session, whose id the cookie carries, so that the page
// (and its event stream, which cannot send headers) is let in, and every
// action it sends names the person. Guesses are throttled as on every
// path.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token    string `json:"token"`
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	client := clientKey(r.RemoteAddr)
	if !s.throttle.take(w, client) {
		return
	}
	var a principal
	if req.Name != "" {
		a = s.userPrincipal(req.Name, req.Password)
	} else {
		a = s.tokenPrincipal(req.Token)
		a.Via = "bench-view"
	}
	if a.level() == noAccess {
		refuse(w, http.StatusUnauthorized, "wrong name, password or token")
		return
	}
	s.throttle.refund(client)
	setCookie(w, r, s.sessions.create(a), int(sessionTTL.Seconds()))
	writeJSON(w, http.StatusOK, map[string]any{"write": a.level() == writeAccess, "user": a.Name, "role": a.Role})
}

// userPrincipal is the user of the users file whose password is given;
// nobody when the password is wrong, the user unknown or disabled, or the
// file unreadable (said in the log).
func (s *Server) userPrincipal(name, password string) principal {
	if s.cfg.UsersFile == "" {
		return principal{}
	}
	users := s.usersNow()
	if users == nil {
		users = &Users{} // unreadable (said in the log): nobody, after as long
	}
	u, ok := users.Authenticate(name, password)
	if !ok {
		return principal{}
	}
	return principal{Name: u.Name, Role: u.Role, Via: "bench-view", user: true}
}

// logout answers POST /api/logout: the session ends, whoever holds a copy
// of its cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if !readJSON(w, r, &req) {
		return
	}
	if c, err := r.Cookie(cookieName); err == nil {
		s.sessions.end(c.Value)
	}
	clearCookie(w, r)
	writeJSON(w, http.StatusOK, map[string]bool{"logged_out": true})
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
