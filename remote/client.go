package remote

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/serve"
)

// Config says which server to talk to and how.
type Config struct {
	URL   string // the server's base URL, e.g. https://rig3.lab:8080
	Token string // bearer token (a named CI token); "" on an open loopback server
	// Fingerprint pins the server's certificate by its SHA-256 (as `serve`
	// prints it: hex bytes, colons optional); CAFile names a PEM file of
	// the CAs to trust instead of the system's.
	Fingerprint string
	CAFile      string
	// Outage bounds a continuous failure to reach the server before a
	// call gives up (ErrUnreachable); 0 is 10 minutes.
	Outage time.Duration
	// Retrying, when set, is told of each failed attempt before the wait
	// for the next (to say "reconnecting").
	Retrying func(err error, wait time.Duration)
}

// Client talks to one server.
type Client struct {
	base   *url.URL
	token  string
	hc     *http.Client
	outage time.Duration
	// retrying is Config.Retrying.
	retrying func(err error, wait time.Duration)
}

// Bounds of what is read from the network.
const (
	maxJSON      = 16 << 20
	maxFile      = 512 << 20
	maxCAFile    = 1 << 20
	callTimeout  = time.Minute
	fileTimeout  = 10 * time.Minute
	maxBackoff   = 10 * time.Second
	defaultOuter = 10 * time.Minute
)

// ErrUnreachable is the error of a call that could not reach the server
// for longer than Config.Outage.
var ErrUnreachable = errors.New("remote: server unreachable")

// StatusError is an answer of the server other than success: its status,
// its message, and for a protocol refused (422) every problem.
type StatusError struct {
	Status   int
	Msg      string
	Problems []Problem
}

// Problem is one mistake in a protocol, as `mockloop validate` prints it
// (Text: file:line:col: msg).
type Problem struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
	Msg  string `json:"msg"`
	Text string `json:"text"`
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("remote: %d %s: %s", e.Status, http.StatusText(e.Status), e.Msg)
}

// transient reports whether a failed call may succeed if tried again: no
// answer at all, or the server (or a proxy) overloaded or restarting.
func transient(err error) bool {
	var pe permanentError
	var cert *tls.CertificateVerificationError
	if errors.As(err, &pe) || errors.As(err, &cert) || errors.Is(err, errNotPinned) {
		return false // trying again gets the same answer, or the same certificate
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status >= 500 || se.Status == http.StatusTooManyRequests
	}
	return err != nil
}

// errNotPinned is a TLS server whose certificate is not the one pinned.
var errNotPinned = errors.New("remote: the server's certificate is not the pinned one ($MOCKLOOP_REMOTE_FINGERPRINT)")

// permanentError is a failure that trying again would not mend (the
// local disk, a file too large).
type permanentError struct{ error }

// New checks the configuration and makes a client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("remote: %q is not a server URL: want http(s)://HOST:PORT", cfg.URL)
	}
	if u.Scheme == "http" && cfg.Token != "" && !loopback(u.Hostname()) {
		return nil, fmt.Errorf("remote: %s would send the token in clear: off loopback serve speaks https only", cfg.URL)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case cfg.Fingerprint != "" && cfg.CAFile != "":
		return nil, errors.New("remote: pin a fingerprint or give a CA file, not both")
	case cfg.Fingerprint != "":
		want := normFingerprint(cfg.Fingerprint)
		if b, err := hex.DecodeString(want); err != nil || len(b) != 32 {
			return nil, fmt.Errorf("remote: fingerprint %q: want the SHA-256 `serve` prints (32 hex bytes)", cfg.Fingerprint)
		}
		tc.InsecureSkipVerify = true // the pinned fingerprint is checked instead
		tc.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || normFingerprint(serve.Fingerprint(raw[0])) != want {
				return errNotPinned
			}
			return nil
		}
	case cfg.CAFile != "":
		pem, err := runlog.ReadFile(cfg.CAFile, maxCAFile)
		if err != nil {
			return nil, fmt.Errorf("remote: CA file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("remote: %s holds no PEM certificate", cfg.CAFile)
		}
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: callTimeout,
		IdleConnTimeout:       5 * time.Second, // serve closes idle connections after 10 s
	}
	outage := cfg.Outage
	if outage <= 0 {
		outage = defaultOuter
	}
	return &Client{base: u, token: cfg.Token, hc: &http.Client{Transport: tr}, outage: outage, retrying: cfg.Retrying}, nil
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.base.String() }

func normFingerprint(s string) string {
	return strings.ToUpper(strings.NewReplacer(":", "", " ", "").Replace(strings.TrimSpace(s)))
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// do sends one request and returns the answer's body, bounded by limit;
// an answer other than 2xx is a *StatusError.
func (c *Client) do(ctx context.Context, method, path string, body any, limit int64) ([]byte, int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, 0, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
	if err != nil {
		return nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("remote: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("remote: %s %s: %w", method, path, err)
	}
	if int64(len(data)) > limit {
		return nil, resp.StatusCode, permanentError{fmt.Errorf("remote: %s %s: answer larger than %d bytes", method, path, limit)}
	}
	if resp.StatusCode/100 != 2 {
		return data, resp.StatusCode, statusError(resp.StatusCode, data)
	}
	return data, resp.StatusCode, nil
}

// statusError reads the server's error answer ({"error","errors"}).
func statusError(status int, data []byte) *StatusError {
	var e struct {
		Error  string    `json:"error"`
		Errors []Problem `json:"errors"`
	}
	if json.Unmarshal(data, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(data[:min(len(data), 200)]))
	}
	return &StatusError{Status: status, Msg: e.Error, Problems: e.Errors}
}

// retry calls f until it succeeds, fails for good, or has failed for
// longer than the client's outage bound.
func (c *Client) retry(ctx context.Context, f func() error) error {
	var failingSince time.Time
	wait := time.Second
	for {
		err := f()
		if !transient(err) || ctx.Err() != nil {
			return err
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		} else if time.Since(failingSince) > c.outage {
			return fmt.Errorf("%w for %s: %v", ErrUnreachable, c.outage, err)
		}
		if c.retrying != nil {
			c.retrying(err, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, maxBackoff)
	}
}

// StartRequest is a run to queue: the protocol inline, and the
// deviations `mockloop run` has flags for.
type StartRequest struct {
	Name             string `json:"name"`
	Source           string `json:"source"`
	AllowOverdue     bool   `json:"allow_overdue,omitempty"`
	Reason           string `json:"reason,omitempty"`
	AllowOtherDevice string `json:"allow_other_device,omitempty"`
	// Operator names the person on a server without credentials (an open
	// loopback one); a server with credentials records the token's name.
	Operator string `json:"operator,omitempty"`
	// Job is the CI job asking (runlog.JobFromEnv), recorded in the run.
	Job *runlog.Job `json:"job,omitempty"`
	// Frames is --frames ("every:N"); "" keeps every frame.
	Frames string `json:"frames,omitempty"`
}

// Submit queues a run (never retried: see the package's guarantees).
func (c *Client) Submit(ctx context.Context, req StartRequest) (serve.QueueEntry, error) {
	var e serve.QueueEntry
	data, _, err := c.do(ctx, http.MethodPost, "/api/runs", req, maxJSON)
	if err != nil {
		return e, err
	}
	return e, decode(data, &e)
}

// Entry is a queue entry by its id (or its run's id), as the server
// last saw it; Prompt is what issue 19's prompts will carry (nil now).
type Entry struct {
	serve.QueueEntry
	Prompt json.RawMessage `json:"prompt"`
}

// Entry reads a queue entry, retrying while the server cannot be reached.
func (c *Client) Entry(ctx context.Context, id string) (Entry, error) {
	var e Entry
	err := c.retry(ctx, func() error {
		data, _, err := c.do(ctx, http.MethodGet, "/api/queue/"+url.PathEscape(id), nil, maxJSON)
		if err != nil {
			return err
		}
		return decode(data, &e)
	})
	return e, err
}

// Cancel removes a waiting entry from the queue, for the reason given.
func (c *Client) Cancel(ctx context.Context, id, reason string) error {
	_, _, err := c.do(ctx, http.MethodPost, "/api/queue/"+url.PathEscape(id)+"/cancel", map[string]string{"reason": reason}, maxJSON)
	return err
}

// Runs lists the server's run records, oldest first (as `runs` prints
// them).
func (c *Client) Runs(ctx context.Context) ([]runlog.Summary, error) {
	var list []runlog.Summary
	err := c.retry(ctx, func() error {
		data, _, err := c.do(ctx, http.MethodGet, "/api/runs", nil, maxJSON)
		if err != nil {
			return err
		}
		return decode(data, &list)
	})
	slices.Reverse(list) // the server lists the newest first
	return list, err
}

func decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("remote: the server's answer is not what was expected: %w", err)
	}
	return nil
}

// Download fetches a file of a run (report.html, report.pdf, junit.xml,
// result.json, manifest.json) into dir (made if need be), retrying while
// the server cannot be reached, and returns its path. The file appears
// whole or not at all.
func (c *Client) Download(ctx context.Context, runID, file, dir string) (string, error) {
	if !runlog.ValidRunID(runID) || filepath.Base(file) != file {
		return "", fmt.Errorf("remote: %q/%q is not a run's file", runID, file)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("remote: %w", err)
	}
	dst := filepath.Join(dir, file)
	err := c.retry(ctx, func() error { return c.download(ctx, "/runs/"+runID+"/"+file, dst) })
	if err != nil {
		return "", err
	}
	return dst, nil
}

func (c *Client) download(ctx context.Context, path, dst string) error {
	ctx, cancel := context.WithTimeout(ctx, fileTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+path, nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("remote: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxJSON))
		return statusError(resp.StatusCode, data)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return permanentError{fmt.Errorf("remote: %w", err)}
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, maxFile+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return fmt.Errorf("remote: %s: %w", path, err)
	case n > maxFile:
		return permanentError{fmt.Errorf("remote: %s is larger than %d bytes", path, maxFile)}
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return permanentError{fmt.Errorf("remote: %w", err)}
	}
	return nil
}

// RunFiles are the files of a run FetchRun downloads: the record's result
// and manifest, and the reports the server made. criteria.csv, every
// evaluation of every criterion (the HTML and PDF summarise a long
// loop's), is optional: a server of an older mockloop, or a run it
// reported before, has none (MissingOptional).
var RunFiles = []string{"result.json", "manifest.json", "junit.xml", "report.html", "report.pdf", "criteria.csv"}

// MissingOptional reports whether err is the server not having file, a
// file of RunFiles that a run may lack.
func MissingOptional(file string, err error) bool {
	var se *StatusError
	return file == "criteria.csv" && errors.As(err, &se) && se.Status == http.StatusNotFound
}

// FetchRun downloads RunFiles of an ended run into dir and returns its result, and result.json as the server wrote it, checked
// to be the run's.
func (c *Client) FetchRun(ctx context.Context, runID, dir string) (*runlog.Result, []byte, error) {
	for _, f := range RunFiles {
		if _, err := c.Download(ctx, runID, f, dir); err != nil && !MissingOptional(f, err) {
			return nil, nil, fmt.Errorf("%s of run %s: %w", f, runID, err)
		}
	}
	data, err := runlog.ReadFile(filepath.Join(dir, "result.json"), maxJSON)
	var res runlog.Result
	if err == nil {
		err = json.Unmarshal(data, &res)
	}
	if err == nil && res.RunID != runID {
		err = fmt.Errorf("it is run %q's", res.RunID)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("remote: the result of run %s: %w", runID, err)
	}
	return &res, data, nil
}
