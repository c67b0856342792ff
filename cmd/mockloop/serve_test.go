package main

import (
	"bufio"
	"encoding/json"
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
)

func TestServeRefusesOpenAddressWithoutToken(t *testing.T) {
	chdirRoot(t)
	t.Setenv("MOCKLOOP_API_TOKEN", "")
	t.Setenv("MOCKLOOP_API_READ_TOKEN", "")
	code, _, stderr := cli(t, "serve", "--addr", "0.0.0.0:0", "--runs", t.TempDir())
	if code != exitInvalid || !strings.Contains(stderr, "0.0.0.0:0 is not a loopback address: set MOCKLOOP_API_TOKEN") {
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
	if resp.StatusCode != http.StatusCreated || run.RunID == "" {
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
