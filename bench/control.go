package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// Status is what the holder of a bench does: who it is and, during a run,
// where the run is.
type Status struct {
	PID      int       `json:"pid"`
	Command  string    `json:"command"`
	Since    time.Time `json:"since"`
	RunID    string    `json:"run_id,omitempty"`
	Protocol string    `json:"protocol,omitempty"`
	// Step is the top-level step under way, "path title".
	Step string `json:"step,omitempty"`
	// ElapsedS is the run's time, s.
	ElapsedS float64 `json:"elapsed_s"`
	// State is running, pausing, paused or stopping during a run; what
	// the holder does otherwise (e.g. "zero").
	State string `json:"state"`
	// Prompt is the prompt the run waits on (the JSON of the run's
	// runlog.PromptData), absent when none.
	Prompt json.RawMessage `json:"prompt,omitempty"`
}

// Actions of the control socket.
const (
	ActionStatus = "status"
	ActionPause  = "pause"
	ActionResume = "resume"
	ActionStop   = "stop"
	ActionEStop  = "estop"
	// ActionRelease asks a holder that only watches the bench (the bench
	// view sampling it idle, at its safe state) to let it go: a run, a
	// zero or a calibration that finds the bench so held asks, and gets it
	// within seconds instead of "bench busy". A run's holder ignores it.
	ActionRelease = "release"
	// ActionAnswer answers the prompt (Request.Prompt, Request.Answer)
	// the holder's run waits on (language 1.1), so that the bench view
	// answers a run started in a terminal too; Status.Prompt shows it.
	ActionAnswer = "answer"
)

// Request is one request of the control socket.
type Request struct {
	Action string `json:"action"`
	// By says who asks, for the record of a stop ("mockloop stop", "the
	// bench view"): at most maxBy printable characters.
	By string `json:"by,omitempty"`
	// Role and Via say in what capacity and how By asks (a bench-view
	// user's role; "cli", "bench-view", "api"), Reason why: the run's
	// audit trail records them (a pause and a stop need a reason, which
	// the asking side requires). Each at most maxBy printable characters,
	// Reason maxReason.
	Role   string `json:"role,omitempty"`
	Via    string `json:"via,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Prompt and Answer are the prompt's id and its answer (ActionAnswer),
	// each at most maxBy and maxAnswer printable characters.
	Prompt string `json:"prompt,omitempty"`
	Answer string `json:"answer,omitempty"`
}

// maxAnswer bounds Request.Answer, as the terminal bounds a typed answer.
const maxAnswer = 200

// maxBy bounds Request.By, Role and Via, which go into the run's record.
const maxBy = 80

// maxReason bounds Request.Reason: a sentence or two.
const maxReason = 500

// printable reports whether s is at most n printable characters.
func printable(s string, n int) bool {
	return utf8.RuneCountInString(s) <= n && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

// Handler answers one request of the control socket: the holder's status
// after the action (ActionStatus: none), or why it cannot be done. It is
// called on the socket's goroutines, concurrently with the run.
type Handler func(Request) (Status, error)

// ErrNoHolder is the error of Ask when no process holds the bench (or
// its holder answers no socket).
var ErrNoHolder = errors.New("no process holds the bench")

// ConnTimeout bounds one exchange on the control socket, both sides.
const ConnTimeout = 5 * time.Second

// maxMessage bounds a request or an answer: a status is a few hundred
// bytes.
const maxMessage = 64 << 10

type answer struct {
	Status *Status `json:"status,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// control is the holder's socket.
type control struct {
	ln net.Listener
	wg sync.WaitGroup
	mu sync.Mutex
	// conns are the connections being answered: close cuts them, so a
	// client that says nothing does not hold up the end of a run.
	conns map[net.Conn]bool
}

// maxSocketPath is the longest path of a unix socket (sun_path, less its
// terminating NUL).
const maxSocketPath = 107

// SocketPath is where the holder of the bench whose first resource is
// resource answers, in the lock directory dir.
func SocketPath(dir, resource string) string {
	return filepath.Join(dir, fileName(resource)+".sock")
}

// Serve answers the bench's control socket with h until Release. A
// socket left by a holder that died is replaced: the lock says it is
// gone.
func (l *Lock) Serve(h Handler) error {
	path := filepath.Join(l.dir, l.names[0]+".sock")
	if len(path) > maxSocketPath {
		return fmt.Errorf("bench: control socket %s: a path of %d bytes, more than a unix socket takes (%d); set MOCKLOOP_LOCK_DIR to a shorter directory", path, len(path), maxSocketPath)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("bench: control socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("bench: control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("bench: control socket: %w", err)
	}
	c := &control{ln: ln, conns: map[net.Conn]bool{}}
	c.wg.Go(func() { c.accept(h) })
	l.ctl = c
	return nil
}

func (c *control) accept(h Handler) {
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		c.conns[conn] = true
		c.mu.Unlock()
		c.wg.Go(func() {
			defer func() {
				c.mu.Lock()
				delete(c.conns, conn)
				c.mu.Unlock()
				conn.Close()
			}()
			_ = conn.SetDeadline(time.Now().Add(ConnTimeout))
			a := answer{}
			if req, err := readRequest(conn); err != nil {
				a.Error = err.Error()
			} else if st, err := h(req); err != nil {
				a.Error = err.Error()
			} else {
				a.Status = &st
			}
			data, _ := json.Marshal(a)
			_, _ = conn.Write(append(data, '\n'))
		})
	}
}

// close stops answering; a client connected now gets its answer first.
func (c *control) close() {
	_ = c.ln.Close() // removes the socket file too
	c.mu.Lock()
	for conn := range c.conns {
		_ = conn.SetReadDeadline(time.Now())
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// readRequest reads one request, at most maxMessage bytes up to its
// newline.
func readRequest(r io.Reader) (Request, error) {
	line, err := readLine(r)
	if err != nil {
		return Request{}, err
	}
	return parseRequest(line)
}

// parseRequest decodes a request line and checks its action and who asks.
func parseRequest(line []byte) (Request, error) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, fmt.Errorf("bench: request: %w", err)
	}
	switch {
	case !printable(req.By, maxBy) || !printable(req.Role, maxBy) || !printable(req.Via, maxBy):
		return Request{}, fmt.Errorf("bench: request: by, role, via: at most %d printable characters", maxBy)
	case !printable(req.Reason, maxReason):
		return Request{}, fmt.Errorf("bench: request: reason: at most %d printable characters", maxReason)
	case !printable(req.Prompt, maxBy) || !printable(req.Answer, maxAnswer):
		return Request{}, fmt.Errorf("bench: request: prompt, answer: at most %d and %d printable characters", maxBy, maxAnswer)
	case req.Action == ActionStatus, req.Action == ActionPause, req.Action == ActionResume, req.Action == ActionStop, req.Action == ActionEStop,
		req.Action == ActionRelease, req.Action == ActionAnswer:
		return req, nil
	}
	return Request{}, fmt.Errorf("bench: request: no action %q: status, pause, resume, stop, estop, release or answer", req.Action)
}

// readLine reads up to a newline, at most maxMessage bytes.
func readLine(r io.Reader) ([]byte, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxMessage), 4096).ReadBytes('\n')
	if err == io.EOF && len(line) > 0 && len(line) < maxMessage {
		err = nil
	}
	if err == io.EOF {
		return nil, errors.New("bench: message cut short or over 64 KiB")
	}
	return line, err
}

// Ask sends req to the holder of the bench whose first resource is
// resource (lock directory dir) and returns its status after it; it is
// ErrNoHolder when no process answers there.
func Ask(dir, resource string, req Request) (Status, error) {
	conn, err := net.DialTimeout("unix", SocketPath(dir, resource), ConnTimeout)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return Status{}, ErrNoHolder
		}
		return Status{}, fmt.Errorf("bench: control socket: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(ConnTimeout))
	data, _ := json.Marshal(req)
	if _, err := conn.Write(append(data, '\n')); err != nil {
		return Status{}, fmt.Errorf("bench: control socket: %w", err)
	}
	line, err := readLine(conn)
	if err != nil {
		return Status{}, fmt.Errorf("bench: control socket: %w", err)
	}
	return parseAnswer(line)
}

// parseAnswer decodes the holder's answer.
func parseAnswer(line []byte) (Status, error) {
	var a answer
	if err := json.Unmarshal(line, &a); err != nil {
		return Status{}, fmt.Errorf("bench: answer: %w", err)
	}
	switch {
	case a.Error != "":
		return Status{}, errors.New(a.Error)
	case a.Status == nil:
		return Status{}, errors.New("bench: answer without status")
	}
	return *a.Status, nil
}
