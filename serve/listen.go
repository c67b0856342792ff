package serve

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The server's limits. A request's header must arrive within
// ReadHeaderTimeout of the connection (a connection that sends nothing, or
// never completes its TLS handshake, is closed then); its body within
// ReadTimeout; its answer within WriteTimeout, except the live stream,
// which bounds each write itself. A kept-alive connection is closed after
// IdleTimeout without a request (a browser opens another at no cost), and
// one whose request failed authentication at once.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 60 * time.Second // a 4 MiB upload over a poor lab Wi-Fi
	WriteTimeout      = 60 * time.Second // a report's PDF
	IdleTimeout       = 10 * time.Second
	MaxHeaderBytes    = 32 << 10
	// DefaultMaxConns bounds the connections held at once: the live
	// streams (maxWatchers) and the pages' requests, with room to spare.
	// Past it, connections wait in the kernel's queue until one is
	// closed.
	DefaultMaxConns = 256
)

// HTTPServer is an http.Server for the bench view with the limits above.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{Handler: s.Handler(), ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout,
		WriteTimeout: WriteTimeout, IdleTimeout: IdleTimeout, MaxHeaderBytes: MaxHeaderBytes}
}

// ListenConfig says where and how the bench view listens.
type ListenConfig struct {
	Addr string
	// CertFile and KeyFile are the server's certificate and key (PEM).
	// Without them, a server off loopback makes a self-signed certificate
	// in StateDir on its first start and uses it on later ones; one on
	// loopback speaks plain HTTP, which does not leave the machine.
	CertFile, KeyFile string
	StateDir          string
	MaxConns          int // 0: DefaultMaxConns
}

// Listener is the bench view's listener: capped, and TLS unless it is a
// plain loopback one.
type Listener struct {
	net.Listener
	// Fingerprint is the SHA-256 of the certificate ("AB:CD:…", as
	// browsers show it), empty for plain HTTP.
	Fingerprint string
	// Made is the directory of a self-signed certificate made by this
	// start, empty when none was.
	Made string
	held *capListener
}

// Held is the number of connections open now.
func (l *Listener) Held() int { return int(l.held.open.Load()) }

// URL is the address to open in a browser.
func (l *Listener) URL() string {
	if l.Fingerprint != "" {
		return "https://" + l.Addr().String() + "/"
	}
	return "http://" + l.Addr().String() + "/"
}

// Listen opens the bench view's listener.
func Listen(lc ListenConfig) (*Listener, error) {
	if (lc.CertFile == "") != (lc.KeyFile == "") {
		return nil, errors.New("serve: a TLS certificate needs both its certificate and its key file")
	}
	var cert tls.Certificate
	var made string
	var err error
	switch {
	case lc.CertFile != "":
		if cert, err = tls.LoadX509KeyPair(lc.CertFile, lc.KeyFile); err != nil {
			return nil, fmt.Errorf("serve: TLS certificate: %w", err)
		}
	case !IsLoopback(lc.Addr):
		if lc.StateDir == "" {
			return nil, errors.New("serve: off loopback, a certificate or a state directory for a self-signed one is needed")
		}
		names, ips := certNames(lc.Addr)
		if cert, made, err = selfSigned(lc.StateDir, names, ips); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", lc.Addr)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	n := lc.MaxConns
	if n <= 0 {
		n = DefaultMaxConns
	}
	held := newCapListener(ln, n)
	l := &Listener{Listener: held, Made: made, held: held}
	if cert.Certificate != nil {
		l.Fingerprint = Fingerprint(cert.Certificate[0])
		// HTTP/1.1 only: one request stream per connection, so that
		// the connection cap and timeouts are the whole story.
		l.Listener = tls.NewListener(held, &tls.Config{Certificates: []tls.Certificate{cert},
			MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
	}
	return l, nil
}

// Fingerprint is the SHA-256 of a DER certificate as browsers show it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	hex := make([]string, len(sum))
	for i, b := range sum {
		hex[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(hex, ":")
}

// certNames are the names and addresses a browser may reach addr by: the
// host's name (and its mDNS .local name), and the listen address — every
// interface's when it listens on all of them.
func certNames(addr string) ([]string, []net.IP) {
	var names []string
	if h, err := os.Hostname(); err == nil && h != "" {
		names = append(names, h)
		if !strings.Contains(h, ".") {
			names = append(names, h+".local")
		}
	}
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	switch {
	case host != "" && ip == nil:
		return append(names, host), nil
	case ip != nil && !ip.IsUnspecified():
		return names, []net.IP{ip}
	}
	var ips []net.IP
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() {
				ips = append(ips, n.IP)
			}
		}
	}
	return names, ips
}

// The self-signed certificate's files in the state directory.
const (
	certFile = "bench-view.crt"
	keyFile  = "bench-view.key"
	// certLife is how long a self-signed certificate is made for; one
	// is made anew when less than certRenew of it is left.
	certLife  = 365 * 24 * time.Hour
	certRenew = 30 * 24 * time.Hour
)

// selfSigned is the certificate kept in dir when it still covers names
// and ips for a while; else a new one, made and kept there (made: dir). A
// certificate whose files are damaged is made anew too, with a new
// fingerprint to check.
func selfSigned(dir string, names []string, ips []net.IP) (cert tls.Certificate, made string, err error) {
	cert, err = tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
	if err == nil && covers(cert.Leaf, names, ips) {
		return cert, "", nil
	}
	cert, err = makeCert(names, ips)
	if err != nil {
		return cert, "", fmt.Errorf("serve: self-signed certificate: %w", err)
	}
	if err := keepCert(dir, cert); err != nil {
		return cert, "", fmt.Errorf("serve: self-signed certificate: %w", err)
	}
	return cert, dir, nil
}

// covers reports whether a certificate is valid for a while yet for every
// name and address.
func covers(leaf *x509.Certificate, names []string, ips []net.IP) bool {
	if leaf == nil || time.Until(leaf.NotAfter) < certRenew {
		return false
	}
	for _, n := range names {
		if leaf.VerifyHostname(n) != nil {
			return false
		}
	}
	for _, ip := range ips {
		if leaf.VerifyHostname(ip.String()) != nil {
			return false
		}
	}
	return true
}

// makeCert makes a self-signed ECDSA P-256 server certificate for names
// and ips, valid certLife.
func makeCert(names []string, ips []net.IP) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial := new(big.Int).SetBytes(randomBytes(16))
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "mockloop bench view", Organization: []string{"mockloop"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(certLife),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, err
}

// keepCert writes a certificate and its key (0600) into dir (0700).
// Each file is written aside and renamed: a crash leaves the old pair, or
// a pair that does not load and is made anew.
func keepCert(dir string, cert tls.Certificate) error {
	keyDER, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writePEM(dir, keyFile, "EC PRIVATE KEY", keyDER); err != nil {
		return err
	}
	return writePEM(dir, certFile, "CERTIFICATE", cert.Certificate[0])
}

func writePEM(dir, name, kind string, der []byte) error {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp") // mode 0600
	if err != nil {
		return err
	}
	err = pem.Encode(f, &pem.Block{Type: kind, Bytes: der})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// capListener holds at most cap connections open: Accept waits for one
// to close first, leaving the rest in the kernel's queue. A flood of idle
// connections then costs the server cap connections for ReadHeaderTimeout
// at a time, never an unbounded number for ever. One client address may
// hold MaxConnsPerClient of them; its others are closed at once, so that
// one machine's flood does not keep everyone else in the queue.
type capListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	open      atomic.Int64

	mu        sync.Mutex
	perClient map[string]int // connections held, by clientKey
}

// MaxConnsPerClient bounds the connections one client address holds: a
// browser opens 6 per server, and a bench has a few screens.
const MaxConnsPerClient = 32

func newCapListener(ln net.Listener, n int) *capListener {
	return &capListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{}), perClient: map[string]int{}}
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		client := clientKey(c.RemoteAddr().String())
		if !l.admit(client) {
			c.Close()
			<-l.slots
			continue
		}
		l.open.Add(1)
		return &heldConn{Conn: c, release: sync.OnceFunc(func() {
			l.mu.Lock()
			if l.perClient[client]--; l.perClient[client] == 0 {
				delete(l.perClient, client)
			}
			l.mu.Unlock()
			l.open.Add(-1)
			<-l.slots
		})}, nil
	}
}

// admit counts a connection of client, unless it holds its share already.
func (l *capListener) admit(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perClient[client] >= MaxConnsPerClient {
		return false
	}
	l.perClient[client]++
	return true
}

func (l *capListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// heldConn gives its slot back when closed.
type heldConn struct {
	net.Conn
	release func()
}

func (c *heldConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
