package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/serve"
)

func TestServeRefusesOpenAddressWithoutToken(t *testing.T) {
	chdirRoot(t)
	t.Setenv("MOCKLOOP_API_TOKEN", "")
	t.Setenv("MOCKLOOP_API_READ_TOKEN", "")
	code, _, stderr := cli(t, "serve", "--addr", "0.0.0.0:0", "--runs", t.TempDir())
	if code != exitInvalid || !strings.Contains(stderr, "0.0.0.0:0 is not a loopback address: add users (mockloop users add), or give --token-file or MOCKLOOP_API_TOKEN") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	code, _, stderr = cli(t, "serve", "--rig", "configs/rigs/pi-mcl.yaml", "--speed", "10", "--runs", t.TempDir())
	if code != exitInvalid || !strings.Contains(stderr, "rig pi-mcl is hardware, which runs in real time only") {
		t.Errorf("speed on hardware: exit %d: %s", code, stderr)
	}
	code, _, stderr = cli(t, "serve", "--speed", "0", "--runs", t.TempDir())
	if code != exitInvalid || !strings.Contains(stderr, "want 1 (real time) or more") {
		t.Errorf("speed 0: exit %d: %s", code, stderr)
	}
	t.Setenv("MOCKLOOP_API_READ_TOKEN", "r")
	code, _, stderr = cli(t, "serve", "--runs", t.TempDir())
	if code != exitInvalid || !strings.Contains(stderr, "MOCKLOOP_API_READ_TOKEN without MOCKLOOP_API_TOKEN") {
		t.Errorf("read token alone: exit %d: %s", code, stderr)
	}
}

// TestServeProcess: a run started through the bench view holds the bench
// against `mockloop run` in another process with another runs folder;
// SIGHUP to the server ends the run in the safe state with its record
// closed with the signal, and the server exits 2.
func TestServeProcess(t *testing.T) {
	bin, dir := buildCLI(t)
	runs := filepath.Join(dir, "runs")
	srv := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--runs", runs, "--speed", "5")
	stdout, _ := srv.StdoutPipe()
	var stderr syncBuffer
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	url := regexp.MustCompile(`http://[0-9.:]+`).FindString(line)
	if err != nil || url == "" {
		t.Fatalf("no address in %q (%v)\n%s", line, err, stderr.String())
	}
	resp, err := http.Post(url+"/api/runs", "application/json", strings.NewReader(`{"protocol":"demo.yaml"}`))
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		RunID string `json:"run_id"`
	}
	json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || run.RunID == "" {
		t.Fatalf("start: %d %+v\n%s", resp.StatusCode, run, stderr.String())
	}

	// Another runs folder is the same bench.
	code, _, errOut := cli(t, "run", "--runs", filepath.Join(dir, "other"), "--quiet", "configs/protocols/demo.yaml")
	if code != exitInfra || !strings.Contains(errOut, "bench busy: sim:sim is held by pid "+strconv.Itoa(srv.Process.Pid)) || !strings.Contains(errOut, "run "+run.RunID+" of protocol demo") {
		t.Errorf("second run from another command: exit %d: %s", code, errOut)
	}

	time.Sleep(300 * time.Millisecond)
	srv.Process.Signal(syscall.SIGHUP)
	if code := exitCode(t, srv); code != exitAborted {
		t.Fatalf("server exit %d, want 2 (a run cut short)\n%s", code, stderr.String())
	}
	closedRecord(t, runs, run.RunID, runlog.OutcomeAborted, "operator: received hangup")
	if _, err := os.Stat(filepath.Join(runs, run.RunID, "report.html")); err != nil {
		t.Errorf("no report after the shutdown: %v", err)
	}
}

// TestServeOneCharacterTokenRefused: a token shorter than 32 characters
// is refused at start; --new-token prints one that is accepted.
func TestServeOneCharacterTokenRefused(t *testing.T) {
	chdirRoot(t)
	t.Setenv("MOCKLOOP_API_READ_TOKEN", "")
	t.Setenv("MOCKLOOP_API_TOKEN", "x")
	code, _, stderr := cli(t, "serve", "--addr", "0.0.0.0:0", "--runs", t.TempDir())
	if code != exitInvalid || !strings.Contains(stderr, "MOCKLOOP_API_TOKEN is 1 characters long; at least 32 are needed (`mockloop serve --new-token` prints one)") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	code, out, _ := cli(t, "serve", "--new-token")
	tok := strings.TrimSpace(out)
	if code != exitPass || len(tok) < 32 || serve.CheckToken(tok) != nil {
		t.Errorf("--new-token: exit %d: %q", code, out)
	}
	if _, again, _ := cli(t, "serve", "--new-token"); strings.TrimSpace(again) == tok {
		t.Error("--new-token printed the same token twice")
	}
	code, _, stderr = cli(t, "serve", "--tls-cert", "cert.pem", "--runs", t.TempDir())
	if code != exitInvalid || !strings.Contains(stderr, "--tls-cert and --tls-key go together") {
		t.Errorf("--tls-cert alone: exit %d: %s", code, stderr)
	}
}

// startServe starts `mockloop serve` and returns its first stdout lines
// (up to the one matching last) and the process.
func startServe(t *testing.T, bin string, last *regexp.Regexp, args ...string) ([]string, *exec.Cmd) {
	t.Helper()
	srv := exec.Command(bin, append([]string{"serve"}, args...)...)
	stdout, _ := srv.StdoutPipe()
	var stderr syncBuffer
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	var lines []string
	rd := bufio.NewReader(stdout)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("serve: %v after %q\n%s", err, lines, stderr.String())
		}
		lines = append(lines, strings.TrimSpace(line))
		if last.MatchString(line) {
			return lines, srv
		}
	}
}

// TestServeOffLoopbackSelfSignedCertificate: off loopback without
// certificate files, serve makes a self-signed certificate in RUNS/.serve,
// prints its fingerprint, answers only TLS with it — a client pinning the
// printed fingerprint gets in — and keeps it for the next start.
func TestServeOffLoopbackSelfSignedCertificate(t *testing.T) {
	bin, dir := buildCLI(t)
	t.Setenv("MOCKLOOP_API_TOKEN", serve.NewToken())
	t.Setenv("MOCKLOOP_API_READ_TOKEN", "")
	runs := filepath.Join(dir, "runs")
	fpLine := regexp.MustCompile(`TLS certificate SHA-256 fingerprint ([0-9A-F:]{95})`)
	var fingerprints []string
	for start := range 2 {
		lines, srv := startServe(t, bin, fpLine, "--addr", "0.0.0.0:0", "--runs", runs)
		port := regexp.MustCompile(`on https://[^ ]*:([0-9]+)/`).FindStringSubmatch(lines[0])
		fp := fpLine.FindStringSubmatch(lines[1])
		if port == nil || fp == nil {
			t.Fatalf("start %d: %q", start, lines)
		}
		fingerprints = append(fingerprints, fp[1])
		client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, // the printed fingerprint is checked instead
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if serve.Fingerprint(raw[0]) != fp[1] {
					return errors.New("not the printed certificate")
				}
				return nil
			}}}}
		req, _ := http.NewRequest("GET", "https://127.0.0.1:"+port[1]+"/api/status", nil)
		req.Header.Set("Authorization", "Bearer "+os.Getenv("MOCKLOOP_API_TOKEN"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("start %d: %v", start, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("start %d: status %d", start, resp.StatusCode)
		}
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}
	if fingerprints[0] != fingerprints[1] {
		t.Errorf("the second start made another certificate: %v", fingerprints)
	}
	if st, err := os.Stat(filepath.Join(runs, ".serve", "bench-view.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", st, err)
	}
}
