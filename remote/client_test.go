package remote

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mockloop/mockloop/serve"
)

// TestNewRefusesUnsafeConfigs: a token is never sent in clear off
// loopback; a fingerprint must be a SHA-256; a URL must be a server's.
func TestNewRefusesUnsafeConfigs(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{URL: "http://rig3.lab:8080", Token: "t"}, "would send the token in clear"},
		{Config{URL: "ftp://rig3.lab"}, "is not a server URL"},
		{Config{URL: "https://user:pw@rig3.lab"}, "is not a server URL"},
		{Config{URL: "https://rig3.lab", Fingerprint: "AB:CD"}, "want the SHA-256"},
		{Config{URL: "https://rig3.lab", Fingerprint: strings.Repeat("AB", 32), CAFile: "x.pem"}, "not both"},
		{Config{URL: "https://rig3.lab", CAFile: "/nonexistent.pem"}, "CA file"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := New(Config{URL: "http://127.0.0.1:8080/", Token: "t"}); err != nil {
		t.Errorf("loopback http: %v", err)
	}
}

// TestFingerprintPinning: the pinned certificate is accepted, another
// refused before any request is sent.
func TestFingerprintPinning(t *testing.T) {
	var auth atomic.Value
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	fp := serve.Fingerprint(srv.Certificate().Raw)
	c, err := New(Config{URL: srv.URL, Token: "secret", Fingerprint: strings.ToLower(fp)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Runs(context.Background()); err != nil || auth.Load() != "Bearer secret" {
		t.Fatalf("pinned: %v, %v", err, auth.Load())
	}
	auth.Store("")
	other := strings.Repeat("00:", 31) + "00"
	c, _ = New(Config{URL: srv.URL, Token: "secret", Fingerprint: other, Outage: time.Millisecond})
	if _, err := c.Runs(context.Background()); err == nil || !strings.Contains(err.Error(), "not the pinned one") || auth.Load() != "" {
		t.Errorf("another certificate: %v (token seen: %q)", err, auth.Load())
	}
	c, _ = New(Config{URL: srv.URL, Outage: time.Millisecond}) // system roots: a test certificate is not trusted
	if _, err := c.Runs(context.Background()); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
}

// TestBoundedAnswersAndOutage: an answer larger than the bound is an
// error, not a memory exhaustion; a server that stays down ends a call
// with ErrUnreachable after the outage bound; a 4xx is not retried.
func TestBoundedAnswersAndOutage(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/api/runs":
			w.Write([]byte("[" + strings.Repeat(" ", maxJSON) + "]"))
		case "/api/queue/down":
			http.Error(w, `{"error":"restarting"}`, http.StatusBadGateway)
		default:
			http.Error(w, `{"error":"no queue entry"}`, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	c, _ := New(Config{URL: srv.URL, Outage: 1500 * time.Millisecond})
	if _, err := c.Runs(context.Background()); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("large answer: %v", err)
	}
	calls.Store(0)
	_, err := c.Entry(context.Background(), "down")
	if !errors.Is(err, ErrUnreachable) || calls.Load() < 2 {
		t.Errorf("down: %v after %d calls", err, calls.Load())
	}
	calls.Store(0)
	_, err = c.Entry(context.Background(), "gone")
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 404 || se.Msg != "no queue entry" || calls.Load() != 1 {
		t.Errorf("404: %v after %d calls", err, calls.Load())
	}
}
