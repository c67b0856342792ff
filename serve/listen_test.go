package serve

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serveOn serves s with its own http.Server (tweak may shorten its
// limits) on a listener of lc.
func serveOn(t *testing.T, s *Server, lc ListenConfig, tweak func(*http.Server)) *Listener {
	t.Helper()
	ln, err := Listen(lc)
	if err != nil {
		t.Fatal(err)
	}
	hs := s.HTTPServer()
	if tweak != nil {
		tweak(hs)
	}
	go hs.Serve(ln)
	t.Cleanup(func() {
		s.Close()
		hs.Close()
	})
	return ln
}

// floodConn opens a connection from the loopback address from that then
// idles: kind 0 sends nothing, 1 half a request header, 2 a request
// without credentials, 3 one with a wrong token, 4 a request for the page
// (which needs none).
func floodConn(t *testing.T, from, addr string, kind int) net.Conn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	req := map[int]string{
		1: "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n",
		2: "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
		3: "GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer guess\r\n\r\n",
		4: "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
	}[kind]
	if req != "" {
		// Written to the kernel's buffer even while the connection
		// waits in the listen queue.
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestIdleConnectionFloodCappedAndClosed: 500 idle connections from 20
// addresses — silent, half a header, unauthenticated, refused, or after a
// page — cost the server at most DefaultMaxConns at once, each is closed
// by the server after ReadHeaderTimeout or IdleTimeout (or at once after a
// refusal), and a client with the token is served meanwhile. Before, an
// idle connection after a request was held for ever.
func TestIdleConnectionFloodCappedAndClosed(t *testing.T) {
	s := newServer(t, 5, func(c *Config) { c.Loopback, c.Token = false, writeToken })
	ln := serveOn(t, s, ListenConfig{Addr: "127.0.0.1:0"}, nil) // the production limits
	addr := ln.Addr().String()
	const flood = 500
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	var maxHeld, peakMem atomic.Int64
	stop := make(chan struct{})
	go func() { // watch what the server holds
		for {
			if h := int64(ln.Held()); h > maxHeld.Load() {
				maxHeld.Store(h)
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peakMem.Store(int64(m.HeapInuse+m.StackInuse) - int64(before.HeapInuse+before.StackInuse))
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	var notClosed atomic.Int64
	var lastClose atomic.Int64
	for i := range flood {
		c := floodConn(t, fmt.Sprintf("127.0.0.%d", 10+i%20), addr, i/20%5)
		wg.Go(func() {
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Minute)) // a hang guard, not a bound
			var err error
			for buf := make([]byte, 64); err == nil; {
				_, err = c.Read(buf)
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				notClosed.Add(1)
			}
			lastClose.Store(int64(time.Since(start)))
		})
	}
	good := clientFrom("127.0.0.2") // not the address the flood's guesses used up
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/status", nil)
	req.Header.Set("Authorization", "Bearer "+writeToken)
	resp, err := good.Do(req)
	if err != nil {
		t.Fatalf("a client with the token during the flood: %v", err)
	}
	resp.Body.Close()
	served := time.Since(start)
	good.CloseIdleConnections()
	wg.Wait()
	close(stop)
	for deadline := time.Now().Add(time.Minute); ln.Held() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d idle connections: the server held at most %d at once (cap %d; +%.1f MB heap and stacks of the test process, its 500 clients included), "+
		"closed each after %v without a header or %v idle, all closed %.1f s after the flood began; "+
		"a client with the token was served after %.1f s (status %d)",
		flood, maxHeld.Load(), DefaultMaxConns, float64(peakMem.Load())/1e6, ReadHeaderTimeout, IdleTimeout,
		time.Duration(lastClose.Load()).Seconds(), served.Seconds(), resp.StatusCode)
	if maxHeld.Load() > DefaultMaxConns || notClosed.Load() > 0 || ln.Held() != 0 || resp.StatusCode != 200 {
		t.Errorf("held at most %d (cap %d), %d never closed, %d still held, the good client got %d",
			maxHeld.Load(), DefaultMaxConns, notClosed.Load(), ln.Held(), resp.StatusCode)
	}
}

// TestOneAddressHoldsAtMost32Connections: one machine's flood is held to
// MaxConnsPerClient connections, its others closed at once, and a client
// from another address is served at once, not after the flood's timeouts.
func TestOneAddressHoldsAtMost32Connections(t *testing.T) {
	s := newServer(t, 5, nil)
	ln := serveOn(t, s, ListenConfig{Addr: "127.0.0.1:0"}, func(hs *http.Server) { hs.ReadHeaderTimeout = time.Hour })
	const flood = 100
	closed := make(chan struct{}, flood)
	for range flood {
		c := floodConn(t, "127.0.0.3", ln.Addr().String(), 0)
		t.Cleanup(func() { c.Close() })
		go func() {
			c.SetReadDeadline(time.Now().Add(time.Hour)) // held ones stay until the test ends
			if _, err := c.Read(make([]byte, 1)); err == io.EOF {
				closed <- struct{}{}
			}
		}()
	}
	for range flood - MaxConnsPerClient {
		select {
		case <-closed:
		case <-time.After(time.Minute): // a hang guard
			t.Fatalf("the connections past the address's share were not closed; held %d", ln.Held())
		}
	}
	if resp := get(t, clientFrom("127.0.0.2"), ln.URL()+"api/status"); resp.StatusCode != 200 {
		t.Errorf("another address: %d", resp.StatusCode)
	}
	if h := ln.Held(); h > MaxConnsPerClient+1 {
		t.Errorf("held %d connections, %d of one address", h, MaxConnsPerClient)
	}
	select {
	case <-closed:
		t.Error("a connection within the address's share was closed")
	default:
	}
}

// TestLiveStreamOutlivesReadTimeout: the server's read and write timeouts
// do not end the live stream, which a page keeps open for a whole run
// (net/http lifts the read deadline once a GET's handler runs; writeEvent
// moves the write deadline on with each event).
func TestLiveStreamOutlivesReadTimeout(t *testing.T) {
	s := newServer(t, 5, nil)
	const limit = time.Second
	ln := serveOn(t, s, ListenConfig{Addr: "127.0.0.1:0"}, func(hs *http.Server) { hs.ReadTimeout, hs.WriteTimeout = limit, limit })
	resp, err := http.Post(ln.URL()+"api/runs", "application/json", strings.NewReader(`{"protocol":"long.yaml"}`))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start: %v %v", resp, err)
	}
	resp.Body.Close()
	c := &http.Client{Timeout: time.Minute}
	resp, err = c.Get(ln.URL() + "api/live")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == "event: frames" && time.Since(start) > 3*limit {
			return // still streaming well past both timeouts
		}
	}
	t.Fatalf("the stream ended after %v: %v", time.Since(start), sc.Err())
}

// pinned is a TLS client that trusts only the certificate of fingerprint.
func pinned(fingerprint string) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // the fingerprint is checked instead
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || Fingerprint(raw[0]) != fingerprint {
				return errors.New("not the pinned certificate")
			}
			return nil
		}}}}
}

// TestTLSFingerprintPinned: with a certificate the server speaks TLS only;
// a client pinning its printed fingerprint gets in and a login's cookie
// is Secure; a client pinning another certificate, or speaking plain
// HTTP, gets nothing.
func TestTLSFingerprintPinned(t *testing.T) {
	dir := t.TempDir()
	cert, err := makeCert([]string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := keepCert(dir, cert); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, 5, func(c *Config) { c.Token = writeToken })
	ln := serveOn(t, s, ListenConfig{Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, certFile), KeyFile: filepath.Join(dir, keyFile)}, nil)
	if !strings.HasPrefix(ln.URL(), "https://") || ln.Fingerprint != Fingerprint(cert.Certificate[0]) {
		t.Fatalf("URL %s, fingerprint %s", ln.URL(), ln.Fingerprint)
	}
	c := pinned(ln.Fingerprint)
	if resp := get(t, c, ln.URL()+"api/status", "Authorization", "Bearer "+writeToken); resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("pinned client: %d", resp.StatusCode)
	}
	if ck := login(t, c, strings.TrimSuffix(ln.URL(), "/"), writeToken); !ck.Secure {
		t.Errorf("the session cookie over TLS is not Secure: %+v", ck)
	}
	other, err := makeCert([]string{"localhost"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := pinned(Fingerprint(other.Certificate[0])).Get(ln.URL()); err == nil {
		resp.Body.Close()
		t.Error("a client pinning another certificate was answered")
	}
	// Plain HTTP gets only the TLS stack's 400, never the API.
	if resp, err := http.Get("http" + strings.TrimPrefix(ln.URL(), "https") + "api/status"); err == nil {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), "HTTPS") {
			t.Errorf("plain HTTP was answered: %d %s", resp.StatusCode, data)
		}
	}
}

// TestSelfSignedCertificateKept: off loopback without a certificate, one
// is made (ECDSA P-256, for the host's names and addresses, a year) and
// kept with its key 0600 in a 0700 directory; later starts reuse it (same
// fingerprint) unless it no longer covers the addresses or its files are
// damaged.
func TestSelfSignedCertificateKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".serve")
	names, ips := []string{"bench", "bench.local"}, []net.IP{net.ParseIP("192.0.2.7")}
	first, made, err := selfSigned(dir, names, ips)
	if err != nil || made != dir {
		t.Fatalf("made %q: %v", made, err)
	}
	leaf := first.Leaf
	key, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() || !covers(leaf, names, ips) || leaf.NotAfter.Sub(leaf.NotBefore) < 364*24*time.Hour {
		t.Errorf("certificate: %T, names %v, addresses %v, %v to %v", leaf.PublicKey, leaf.DNSNames, leaf.IPAddresses, leaf.NotBefore, leaf.NotAfter)
	}
	for name, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Join(dir, keyFile): 0o600} {
		if st, err := os.Stat(name); err != nil || st.Mode() != want {
			t.Errorf("%s: %v %v, want %v", name, st.Mode(), err, want)
		}
	}
	fp := Fingerprint(first.Certificate[0])
	again, made, err := selfSigned(dir, names, ips)
	if err != nil || made != "" || Fingerprint(again.Certificate[0]) != fp {
		t.Errorf("second start: made %q, same fingerprint %v, %v", made, Fingerprint(again.Certificate[0]) == fp, err)
	}
	moved, made, err := selfSigned(dir, names, []net.IP{net.ParseIP("192.0.2.8")})
	if err != nil || made != dir || Fingerprint(moved.Certificate[0]) == fp {
		t.Errorf("a new address: made %q, %v", made, err)
	}
	if err := os.WriteFile(filepath.Join(dir, keyFile), []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, made, err := selfSigned(dir, names, ips); err != nil || made != dir {
		t.Errorf("a damaged key: made %q, %v", made, err)
	}
}

// TestSlowBodyAndHugeHeaderRefused: a request whose body trickles in is
// cut off at ReadTimeout and its connection closed; a header larger than
// MaxHeaderBytes is refused (431), not read on.
func TestSlowBodyAndHugeHeaderRefused(t *testing.T) {
	s := newServer(t, 5, nil)
	ln := serveOn(t, s, ListenConfig{Addr: "127.0.0.1:0"}, func(hs *http.Server) { hs.ReadTimeout = time.Second })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /api/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"protocol\":")
	c.SetReadDeadline(time.Now().Add(time.Minute)) // a hang guard
	answer, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); (ok && ne.Timeout()) || !strings.HasPrefix(string(answer), "HTTP/1.1 400") {
		t.Errorf("slow body: %v, answer %.60q", err, answer)
	}
	req, _ := http.NewRequest("GET", ln.URL()+"api/status", nil)
	req.Header.Set("X-Filler", strings.Repeat("x", 2*MaxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("huge header: %d", resp.StatusCode)
	}
}
