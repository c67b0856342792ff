package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/mockloop/mockloop/configs"
	"github.com/mockloop/mockloop/influx"
	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/serve"
)

// cmdServe runs the live bench view until one of endSignals; a run in
// progress then ends in the safe state with its record closed with the
// signal as its reason, and the exit code is 2 (0 when no run was cut
// short).
func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	rigArg := rigFlag(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "listen `ADDRESS`; other than loopback needs MOCKLOOP_API_TOKEN")
	runsDir := fs.String("runs", "runs", "directory of run records")
	protoDir := fs.String("protocols", "configs/protocols", "`DIR` of the protocols one can pick (default: the shipped ones)")
	speed := fs.Float64("speed", 1, "simulated rig: 1 runs on the wall clock; N > 1 runs virtual time at N× real time")
	influxURL := fs.String("influx", "", "InfluxDB `URL` (default $MOCKLOOP_INFLUX_URL; none: run record only)")
	operator := fs.String("operator", os.Getenv("USER"), "operator recorded in runs started from the view")
	tlsCert := fs.String("tls-cert", "", "TLS certificate `FILE` (PEM; default off loopback: a self-signed one kept in --state)")
	tlsKey := fs.String("tls-key", "", "TLS key `FILE` of --tls-cert (PEM)")
	state := fs.String("state", "", "`DIR` of the self-signed certificate (default RUNS/.serve)")
	newToken := fs.Bool("new-token", false, "print a fresh random token for MOCKLOOP_API_TOKEN and exit")
	usersFile := fs.String("users", inHome("users.json"), "the users `FILE` of the people who log in (default $MOCKLOOP_HOME/users.json; `mockloop users add`)")
	allowDevBuild := fs.String("allow-dev-build", "", "let a development build drive a hardware rig, for the `REASON` given (a deviation, recorded in each run)")
	tokenFile := fs.String("token-file", "", "`FILE` of named tokens for CI, a line each: NAME ROLE SECRET")
	_, ok := parseArgs(fs, args, 0, "usage: mockloop serve [--addr 127.0.0.1:8080] [--rig FILE] [--runs DIR] [--protocols DIR] [--speed N] [--tls-cert FILE --tls-key FILE] [--state DIR] [--users FILE] [--token-file FILE] [--allow-dev-build REASON] | --new-token")
	if !ok {
		return exitInvalid
	}
	if *newToken {
		fmt.Fprintln(stdout, serve.NewToken())
		return exitPass
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		fmt.Fprintln(stderr, "mockloop: serve: --tls-cert and --tls-key go together")
		return exitInvalid
	}
	cfg := rigArg.load()
	if cfg == nil {
		return exitInvalid
	}
	if *speed != 1 && cfg.Backend != "sim" {
		fmt.Fprintf(stderr, "mockloop: serve: --speed %g: rig %s is hardware, which runs in real time only\n", *speed, cfg.Name)
		return exitInvalid
	}
	if *speed < 1 {
		fmt.Fprintf(stderr, "mockloop: serve: --speed %g: want 1 (real time) or more\n", *speed)
		return exitInvalid
	}
	build := currentBuild()
	if err := rig.CheckBuild(cfg, &build, *allowDevBuild); err != nil {
		fmt.Fprintf(stderr, "mockloop: serve: %v\n", err)
		return exitInvalid
	}
	named, ok := namedTokens(*tokenFile, *usersFile, stderr)
	if !ok {
		return exitInvalid
	}
	token, readToken, ok := apiTokens(*addr, len(named) > 0 || fileExists(*usersFile), stderr)
	if !ok {
		return exitInvalid
	}
	protocols, protoName, err := protocolsFS(*protoDir, explicitFlag(fs, "protocols"))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	var influxCfg *influx.Config
	if c := influxConfig(*influxURL, cfg.Influx); c.URL != "" {
		influxCfg = &c
	}
	srv, err := serve.New(serve.Config{Rig: cfg, RunsDir: *runsDir, Protocols: protocols, ProtocolsDir: protoName,
		Version: buildVersion(), Build: &build, AllowDevBuild: *allowDevBuild, Speed: *speed, Token: token, ReadToken: readToken, Tokens: named, UsersFile: *usersFile, Loopback: serve.IsLoopback(*addr),
		Operator: *operator, Influx: influxCfg, Log: stderr, BenchLog: inHome(benchLogName), IdleSignals: true})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	ln, err := serve.Listen(serve.ListenConfig{Addr: *addr, CertFile: *tlsCert, KeyFile: *tlsKey,
		StateDir: cmp.Or(*state, filepath.Join(*runsDir, ".serve"))})
	if err != nil {
		fmt.Fprintf(stderr, "mockloop: %v\n", err)
		_ = srv.Close()
		return exitInfra
	}
	return serveUntilEnd(srv, ln, cfg.Name, stdout, stderr)
}

// apiTokens reads the API's tokens from the environment and checks them
// for a listener on addr: off loopback a token is required, and a
// read-only token alone would leave every change open.
func apiTokens(addr string, people bool, stderr io.Writer) (token, readToken string, ok bool) {
	token, readToken = os.Getenv("MOCKLOOP_API_TOKEN"), os.Getenv("MOCKLOOP_API_READ_TOKEN")
	if !serve.IsLoopback(addr) && token == "" && !people {
		fmt.Fprintf(stderr, "mockloop: serve: %s is not a loopback address: add users (mockloop users add), or give --token-file or MOCKLOOP_API_TOKEN, first\n", addr)
		return "", "", false
	}
	if readToken != "" && token == "" {
		fmt.Fprintln(stderr, "mockloop: serve: MOCKLOOP_API_READ_TOKEN without MOCKLOOP_API_TOKEN would leave every change open")
		return "", "", false
	}
	for _, t := range [][2]string{{"MOCKLOOP_API_TOKEN", token}, {"MOCKLOOP_API_READ_TOKEN", readToken}} {
		if err := serve.CheckToken(t[1]); err != nil {
			fmt.Fprintf(stderr, "mockloop: serve: %s %v\n", t[0], err)
			return "", "", false
		}
	}
	return token, readToken, true
}

// namedTokens reads the token file, if one is given; it also checks the
// users file, if there is one, so that a mistake in either stops the
// command with its place.
func namedTokens(tokenFile, usersFile string, stderr io.Writer) ([]serve.Token, bool) {
	if usersFile != "" {
		if _, err := serve.ReadUsers(usersFile); err != nil && !errors.Is(err, serve.ErrNoUsers) {
			fmt.Fprintf(stderr, "mockloop: serve: %s\n", termtext.EscapeLines(err.Error()))
			return nil, false
		}
	}
	if tokenFile == "" {
		return nil, true
	}
	toks, err := serve.ReadTokens(tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "mockloop: serve: %s\n", termtext.EscapeLines(err.Error()))
		return nil, false
	}
	return toks, true
}

// fileExists reports whether path names an existing file.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return path != "" && err == nil
}

// serveUntilEnd serves the bench view on ln until a signal or a listener
// error, then ends the run (safe state, record closed) before the
// connections. Its exit code says whether a run was cut short.
func serveUntilEnd(srv *serve.Server, ln *serve.Listener, rigName string, stdout, stderr io.Writer) int {
	hs := srv.HTTPServer()
	ended := make(chan string, 1)
	defer onEndSignal(func(reason string) {
		select {
		case ended <- reason:
		default:
		}
	})()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "mockloop: bench view of rig %s on %s\n", rigName, ln.URL())
	if ln.Fingerprint != "" {
		fmt.Fprintf(stdout, "mockloop: TLS certificate SHA-256 fingerprint %s\n", ln.Fingerprint)
		if ln.Made != "" {
			fmt.Fprintf(stdout, "mockloop: a self-signed certificate was made in %s: check this fingerprint in the browser before you log in\n", ln.Made)
		}
	}
	reason := "operator: the bench view was shut down"
	var listenErr error
	select {
	case reason = <-ended:
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			listenErr = err
		}
	}
	// The run first (safe state, record closed), then the connections.
	aborted := srv.Shutdown(reason)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	switch {
	case listenErr != nil:
		fmt.Fprintf(stderr, "mockloop: serve: %v\n", listenErr)
		return exitInfra
	case aborted:
		return exitAborted // a run was cut short
	}
	return exitPass
}

// protocolsFS is the directory of protocols to offer: dir, or — when it was
// not given and does not exist here — the protocols shipped in the binary.
func protocolsFS(dir string, explicit bool) (fs.FS, string, error) {
	if _, err := os.Stat(dir); err == nil || explicit {
		if err != nil {
			return nil, "", fmt.Errorf("mockloop: serve: protocols: %w", err)
		}
		return os.DirFS(dir), dir, nil
	}
	sub, err := fs.Sub(configs.FS, "protocols")
	return sub, "protocols (embedded)", err
}
