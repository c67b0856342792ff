package serve

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests' tokens: long enough to be accepted.
const (
	writeToken = "write-secret-0123456789abcdefghijklmnop"
	readToken  = "read-secret-0123456789abcdefghijklmnopq"
)

// TestOneCharacterTokenRefused: a token shorter than 32 characters is
// refused at start, and NewToken makes tokens that are accepted.
func TestOneCharacterTokenRefused(t *testing.T) {
	cfg := newServer(t, 5, nil).cfg
	for _, tc := range []struct{ token, read string }{{"x", ""}, {writeToken, "r"}, {writeToken[:MinTokenLen-1], ""}} {
		c := cfg
		c.Token, c.ReadToken = tc.token, tc.read
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), "at least 32 are needed") {
			t.Errorf("token %q, read token %q: %v", tc.token, tc.read, err)
		}
	}
	a, b := NewToken(), NewToken()
	if len(a) < MinTokenLen || a == b || CheckToken(a) != nil {
		t.Errorf("NewToken: %q, %q", a, b)
	}
	c := cfg
	c.Token = a
	if _, err := New(c); err != nil {
		t.Errorf("a new token: %v", err)
	}
}

// clientFrom is an HTTP client whose connections come from the loopback
// address ip (127.0.0.0/8 is all loopback): another client address to the
// throttle.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func get(t *testing.T, c *http.Client, url string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestBearerGuessesThrottledOnEveryPath: wrong bearer tokens on a GET
// (not only /api/login), as fast as 8 clients can send them for 2 s (the
// issue's attack), get a handful of guesses looked at — the burst
// allowance, then one a second — and the rest answered 429 with
// Retry-After, unlooked at; login and cookie guesses alike. A
// client that knows the token, from another address, is not slowed.
func TestBearerGuessesThrottledOnEveryPath(t *testing.T) {
	ts := newTestServer(t, 5, func(c *Config) { c.Loopback, c.Token, c.ReadToken = false, writeToken, readToken })
	const attack, workers = 2 * time.Second, 8
	var mu sync.Mutex
	codes := map[int]int{}
	retryAfter := true
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			c := clientFrom("127.0.0.1")
			for i := 0; time.Since(start) < attack; i++ {
				req, _ := http.NewRequest("GET", ts.url+"/api/status", nil)
				req.Header.Set("Authorization", "Bearer guess-"+strings.Repeat("x", i%40))
				resp, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
					retryAfter = false
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	evaluated, refused := ts.throttle.evaluated.Load(), ts.throttle.refused.Load()
	allowed := throttleBurst + int64(elapsed.Seconds()*throttleRate) + 1
	t.Logf("%d wrong bearer guesses on GET /api/status in %.2f s: %d looked at (allowance %d), %d refused with 429 unlooked at (%.0f/s)",
		evaluated+refused, elapsed.Seconds(), evaluated, allowed, refused, float64(refused)/elapsed.Seconds())
	if evaluated > allowed || int64(codes[401]) != evaluated || int64(codes[429]) != refused || refused == 0 {
		t.Errorf("looked at %d (allowed %d), refused %d; answers %v", evaluated, allowed, refused, codes)
	}
	if !retryAfter {
		t.Error("a 429 without Retry-After")
	}
	// Login and session cookies are throttled alike (each from an address
	// of its own, whose allowance is whole).
	loginGuess := func(c *http.Client) (*http.Response, error) {
		req, _ := http.NewRequest("POST", ts.url+"/api/login", strings.NewReader(`{"token":"guess"}`))
		req.Header.Set("Content-Type", "application/json")
		return c.Do(req)
	}
	cookieGuess := func(c *http.Client) (*http.Response, error) {
		req, _ := http.NewRequest("GET", ts.url+"/api/runs", nil)
		req.Header.Set("Cookie", cookieName+"=guess")
		return c.Do(req)
	}
	for from, guess := range map[string]func(*http.Client) (*http.Response, error){"127.0.0.4": loginGuess, "127.0.0.5": cookieGuess} {
		c, start, codes := clientFrom(from), time.Now(), map[int]int{}
		for range 4 * throttleBurst {
			resp, err := guess(c)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			codes[resp.StatusCode]++
		}
		if allowed := throttleBurst + int(time.Since(start).Seconds()*throttleRate) + 1; codes[401] > allowed || codes[429] == 0 {
			t.Errorf("guesses from %s: %v, allowed %d", from, codes, allowed)
		}
	}
	// Another address with the token: every request served.
	good := clientFrom("127.0.0.2")
	for i := range 3 * throttleBurst {
		if resp := get(t, good, ts.url+"/api/status", "Authorization", "Bearer "+readToken); resp.StatusCode != 200 {
			t.Fatalf("request %d with the token: %d", i, resp.StatusCode)
		}
	}
}

// TestCookieHoldsSessionNotToken: a login's cookie holds a random session
// id, not the token, with an expiry, HttpOnly and SameSite=Strict (and
// Secure over TLS: TestTLSFingerprintPinned); a logout ends the session
// for every copy of the cookie, and a stale cookie is cleared.
func TestCookieHoldsSessionNotToken(t *testing.T) {
	ts := newTestServer(t, 5, func(c *Config) { c.Loopback, c.Token = false, writeToken })
	cookie := login(t, http.DefaultClient, ts.url, writeToken)
	if strings.Contains(cookie.Value, writeToken) || len(cookie.Value) < 40 || cookie.MaxAge <= 0 ||
		!cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure {
		t.Fatalf("cookie %+v", cookie)
	}
	if again := login(t, http.DefaultClient, ts.url, writeToken); again.Value == cookie.Value {
		t.Error("two logins, one session id")
	}
	hdr := []string{"Cookie", cookieName + "=" + cookie.Value}
	if code, _ := ts.call(t, "GET", "/api/status", "", hdr...); code != 200 {
		t.Fatalf("status with the session: %d", code)
	}
	if code, _ := ts.call(t, "POST", "/api/logout", "{}", hdr...); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	req, _ := http.NewRequest("GET", ts.url+"/api/status", nil)
	req.Header.Set("Cookie", hdr[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cleared := len(resp.Cookies()) == 1 && resp.Cookies()[0].MaxAge < 0
	if resp.StatusCode != http.StatusUnauthorized || !cleared {
		t.Errorf("the session after logout: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
}

// login logs in with token and returns the session cookie.
func login(t *testing.T, c *http.Client, url, token string) *http.Cookie {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/api/login", strings.NewReader(`{"token":"`+token+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName && resp.StatusCode == 200 {
			return ck
		}
	}
	t.Fatalf("login: %d, no cookie", resp.StatusCode)
	return nil
}

// FuzzAccess: no Authorization or Cookie header lets a request in unless
// it carries the token itself.
func FuzzAccess(f *testing.F) {
	s := &Server{cfg: Config{Token: writeToken, ReadToken: readToken}}
	if err := s.setupAuth(); err != nil {
		f.Fatal(err)
	}
	f.Add("Bearer "+writeToken, "")
	f.Add("Bearer "+writeToken[:20], cookieName+"=x")
	f.Add("", cookieName+"="+writeToken)
	f.Add("bearer  "+readToken+" ", "")
	f.Fuzz(func(t *testing.T, authz, cookie string) {
		r, _ := http.NewRequest("GET", "/api/status", nil)
		r.Header.Set("Authorization", authz)
		r.Header.Set("Cookie", cookie)
		a := s.access(r)
		has := func(tok string) bool { return authz != "" && strings.Contains(authz, tok) }
		if (a == writeAccess && !has(writeToken)) || (a == readAccess && !has(readToken)) {
			t.Errorf("Authorization %q, Cookie %q: access %d", authz, cookie, a)
		}
	})
}
