// Package serve is the live bench view: `mockloop serve` serves an
// embedded single-page UI (ui/, go:embed; nothing is fetched from
// anywhere else) and a small JSON API to watch, start, pause and stop runs
// on one rig, and to open the reports of past runs.
//
// # Security
//
// The server binds to loopback by default, and speaks plain HTTP there:
// nothing leaves the machine. On any other address it refuses to start
// unless MOCKLOOP_API_TOKEN is set, and then every request that changes
// anything must carry that token (Authorization: Bearer TOKEN, or the
// session cookie set by POST /api/login). Reads need the token too, or the
// read-only token MOCKLOOP_API_READ_TOKEN when that is set. Tokens have at
// least 32 characters (NewToken makes one) and are compared in constant
// time. On every address, requests that change anything must be POSTs
// with a JSON body (Content-Type: application/json), whose Origin, when
// the browser sends one, is the server itself: a web page on another site
// cannot start a pump through the engineer's browser. On loopback the Host
// header must name loopback too (no DNS rebinding).
//
// Off loopback the server speaks TLS only (listen.go): with the
// certificate files it is given, or else with a self-signed ECDSA P-256
// certificate for the host's names and addresses, made on the first start
// and kept, key 0600, in a state directory (the command's RUNS/.serve) for
// later starts; its SHA-256 fingerprint is printed so that the operator can
// check it in the browser before logging in. No HSTS: a browser refuses
// the click-through a self-signed certificate needs on an HSTS host.
//
// People log in by name and password when a users file exists (users.go:
// argon2id hashes, roles operator, reviewer, admin); CI uses tokens, each
// named, with a role (Config.Tokens, a token file: tokens.go). A reviewer,
// or a read token, reads only: a change is answered 403. Every change
// knows its person — the user's or the token's name, role and way
// (bench-view, api) — and passes it to the run, whose audit trail records
// it; a pause and a stop need a reason (400 without).
//
// A login's cookie holds a random session id, never the token: HttpOnly,
// SameSite=Strict, Secure over TLS, for 12 hours or until POST
// /api/logout. Failed authentication is throttled on every path, bearer
// header, cookie and login alike (auth.go): each client address (an IPv6
// one by its /64) may fail 5 times at once, then once a second; past that
// its requests carrying a credential are answered 429 with Retry-After
// without the credential being looked at. A client whose credential is
// right is never slowed by its own requests.
//
// The connection's limits (listen.go): a header within 10 s of the
// connection (or of its TLS handshake), a body within 60 s, an answer within
// 60 s (the live stream bounds each write instead), 10 s idle between
// requests, headers of 32 KiB, and 256 connections held at once (more wait
// in the kernel's queue), 32 of them per client address (its others are
// closed at once). A request refused 401 or 429 has its connection closed:
// a client that cannot log in holds nothing.
//
// # API
//
//	GET  /api/status            {"rig","backend","state","run":{...}|null,"other":{...},"write":bool,"user","role","users":bool}
//	GET  /api/protocols         [{"file","name","description","steps","planned_s","errors":[...]}]
//	POST /api/validate          {"name":"x.yaml","source":"..."} → 200 {"valid":true,...} | 422 {"valid":false,"errors":[...]}
//	POST /api/runs              {"protocol":"demo.yaml"} or {"name","source"} (+"operator") → 201 {"run_id",...} | 409 | 422
//	POST /api/run/pause         {"reason"} pause before the next top-level step (the rig keeps sampling and supervising)
//	POST /api/run/resume        {}
//	POST /api/run/stop          {"reason"} stop the run: safe state, record closed, outcome aborted ("operator: stopped … by NAME: REASON")
//	POST /api/run/estop         {} emergency stop: the safety supervisor's trip path, at once
//	GET  /api/runs              run records, newest first, with their outcome and report links
//	GET  /runs/{id}/{file}      report.html, report.pdf, junit.xml of a run
//	GET  /api/live              server-sent events, see below
//	POST /api/login             {"name","password"} or {"token"} → sets the session cookie, {"write":bool,"user","role"}
//	POST /api/logout            {} → ends the session of the cookie and clears it
//
// States: idle, running, pausing (a pause is requested, the current step
// goes on), paused, stopping.
//
// While the view runs nothing but another process holds the bench (a
// `mockloop run` in a terminal, a calibration), /api/status has that
// process's state and "other" its status (pid, command, run_id, protocol,
// step, elapsed_s, state: bench.Status), and /api/run/{action} passes the
// action to it through the bench's control socket.
//
// Errors are {"error":"text"} with 400 (malformed request, or a pause or
// stop without a reason), 401 (no or wrong token or password, or an
// expired session), 403 (a reviewer or read token changing something, or
// a foreign Origin), 404, 409 (a run is already in
// progress, or none is), 415 (not JSON), 429 (too many failed attempts
// from the client's address; Retry-After says when to try again), 422
// (the protocol is invalid: "errors" lists every problem as
// {"file","line","col","msg","text"} — the same as `mockloop validate`).
//
// # Live stream
//
// GET /api/live is a stream of server-sent events. Each subscriber has a
// bounded buffer: a subscriber that falls behind loses messages (it is
// told how many in a "dropped" event), never slows the sampler. Events:
//
//	hello      {"rig","state","run":RUN|null}                 first, on connect
//	run        RUN                                            a run started
//	frames     {"t":[s...],"v":[[...channel 0...],[...channel 1...],...]}  decimated frames (250 per second per channel), ~50 messages per second
//	beat       {"t","channel","systolic","diastolic","mean","pulse_pressure","heart_rate","stroke_volume"}
//	step       {"path","title","index","total","t"}           a top-level step started (t: run time, s)
//	criterion  a criterion result (as in result.json), as soon as it is decided
//	event      {"t","kind","step","msg"}                      notable run events (not DUT traffic)
//	state      {"state","reason"}
//	safety     {"tripped":true,"reason"}                      a safety trip or emergency stop
//	end        {"run_id","outcome","abort_reason","reports":{"html","pdf","junit"}}
//	dropped    {"n"}                                          messages this subscriber lost
//
// RUN is {"run_id","protocol","rig","epoch_ms","planned_s","steps_total","rate_hz",
// "layout":[{"name","unit"}...]}: a frame's wall time is epoch_ms + 1000·t.
//
// # Imports
//
// Of the project, bench (to see and stop a run of another process on the
// bench), live, protocols, reports, rig, runlog, influx and
// internal/durable (the users file, written atomically); outside it,
// golang.org/x/crypto/argon2. It is imported by cmd/mockloop only.
package serve
