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
//	GET  /api/status            {"rig","backend","state","run":{...}|null,"other":{...},"write":bool,"user","role","users":bool,
//	                             "last":LAST|null,"idle":IDLE|null,"paused":{"step","before_step","t"}|null}
//	GET  /api/protocols         [{"file","name","description","steps","planned_s","errors":[...]}]
//	POST /api/validate          {"name":"x.yaml","source":"..."} → 200 {"valid":true,...} | 422 {"valid":false,"errors":[...]}
//	POST /api/runs              {"protocol":"demo.yaml"} or {"name","source"} (+"operator", "allow_overdue"+"reason", "allow_other_device":REASON, "frames":"every:N") → 202 ENTRY | 400 | 422 | 503
//	GET  /api/queue             [ENTRY...]: the entries waiting and running, in order
//	GET  /api/queue/{id}        ENTRY, waiting, running or ended (the last 100 ended are kept), by queue id or run id
//	GET  /api/queue/{id}/result the result.json of the entry's run once it has ended (409 before)
//	POST /api/queue/{id}/cancel {"reason"} a waiting entry leaves the queue (the server's log says who and why); 409 for one running: stop it with /api/run/stop
//	POST /api/run/pause         {"reason"} pause before the next top-level step (the rig keeps sampling and supervising)
//	POST /api/run/resume        {}
//	POST /api/run/stop          {"reason"} stop the run: safe state, record closed, outcome aborted ("operator: stopped … by NAME: REASON")
//	POST /api/run/estop         {} emergency stop: the safety supervisor's trip path, at once
//	POST /api/run/acknowledge   {"reason"?} acknowledge the e-stop, trip or fault that ended the last run: an entry of the bench audit log (Config.BenchLog; who, when, the run); 409 when there is none to acknowledge
//	POST /api/run/answer        {"id","answer"} answer the prompt waiting (language 1.1; /api/status and the queue entry show it as "prompt", "other" as its "prompt" for a terminal's run, answered through the control socket): 200 | 404 none of that id waits | 422 not a valid answer
//	GET  /api/runs              run records, newest first, with their outcome and report links
//	GET  /api/runs/{id}/view    a closed run from its record, verified against its seal ("verified", "integrity": the failures):
//	                            {"run_id","protocol","layout","epoch_ms","outcome","abort_reason","duration_s","criteria","steps",
//	                            "reports","t":[s...],"v":[[...]...],"beats","events"}; frames min/max-decimated to ≤ 5000 points
//	                            per channel, ≤ 5000 beats, the last 2000 events without DUT traffic; 409 for a run not closed
//	GET  /runs/{id}/{file}      report.html, report.pdf, junit.xml, criteria.csv, result.json, manifest.json of a run
//	GET  /api/live              server-sent events, see below
//	POST /api/login             {"name","password"} or {"token"} → sets the session cookie, {"write":bool,"user","role"}
//	POST /api/logout            {} → ends the session of the cookie and clears it
//
// States: idle, running, pausing (a pause is requested, the current step
// goes on), paused, stopping.
//
// # Queue
//
// The rig runs one protocol at a time; starts queue (queue.go), first come
// first served. POST /api/runs validates the protocol completely (422
// before anything is queued; the deviations as `mockloop run` has them:
// allow_overdue needs a reason, allow_other_device lets a protocol for
// another DUT through, each recorded in the run with the person of the
// request; frames "every:N" keeps 1 frame in N of a dry run's record, 400
// on bad syntax, 422 when the server runs on the wall clock, --speed 1 or a
// hardware rig: rig.CheckFrames), then answers 202 with the entry. When the rig is free the run
// starts at once, and the answer waits for it (run_id set), or for its
// failure to start (422 for a deviation the rig refuses, 500 otherwise).
// At most 64 entries wait or run: past that 503 with Retry-After. While
// another process holds the bench the head entry waits, retrying every
// second, its error saying "waiting for the bench: … held by pid N"; a
// run that cannot start for another reason fails its entry, and the next
// one goes. A shutdown cancels the entries waiting.
//
// ENTRY is {"id","position","state","protocol","by","role","via",
// "queued_at","run_id","outcome","abort_reason","exit_code","error","step"},
// every key always present: id random and path-safe; position 0 for the
// entry running or next, null once ended; state queued, starting,
// running, done, cancelled or failed; by, role, via the person who asked;
// queued_at RFC 3339; run_id null until the run has a record; outcome,
// abort_reason and exit_code (0 pass, 1 fail, 2 aborted or interrupted; 3
// or 4 for a failure to start) null until it ends; error why it waits, was
// cancelled or failed; step the top-level step under way while running.
// package remote is its client (`mockloop run --remote`).
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
// a foreign Origin), 404, 409 (no run is in progress to control, or a
// queue entry cannot be cancelled or has no result yet), 415 (not JSON), 429 (too many failed attempts
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
//	safety     {"tripped":true,"reason"}                      a safety trip or emergency stop (an operator's stop is none)
//	end        LAST                                           the run ended
//	acknowledged {"run_id","acknowledged":{"by","role","at","reason"}}  the last run's alarm was acknowledged
//	idle       IDLE, or {"sampling":false}                    idle sampling started or ended
//	prompt, prompt.answered                                   a prompt of the protocol (answered with POST /api/run/answer)
//	queue      [ENTRY...]                                     the queue changed (an entry added, started, ended, cancelled)
//	dropped    {"n"}                                          messages this subscriber lost
//
// RUN is {"run_id","protocol","rig","epoch_ms","planned_s","steps_total","rate_hz",
// "layout":[{"name","unit"}...]}: a frame's wall time is epoch_ms + 1000·t.
//
// LAST is how the view's last run ended: {"run_id","queue_id","protocol",
// "outcome","abort_reason","reports","ended_at","stop","acknowledged"};
// stop is null unless aborted, else {"kind","by","reason","msg","alarm"}
// with kind "stop" (a person's stop: no alarm, shown neutral), "estop",
// "trip" (the safety supervisor) or "fault" (alarms: shown red, to be
// acknowledged). A person's stop is classified at its source: the record
// has no safety.trip for it (rig), only the operator's stop.
//
// # Idle signals
//
// With Config.IdleSignals (`mockloop serve` sets it), while the view runs
// nothing, a page watches and no other process holds the bench, the server
// samples the rig at its safe state (rig.SampleIdle: nothing moves, nothing
// is recorded) and streams frames as during a run, after an "idle" event
// IDLE {"sampling":true,"layout","rate_hz","rig"}; their t counts from the
// sampling's start. It holds the bench meanwhile, with the state "idle
// sampling": a run of the view stops it first, and a run, zero or
// calibration of another process asks it through the control socket to
// release the bench (bench.ActionRelease) and gets it within a second.
// Sixty seconds without a watcher end it.
//
// # Imports
//
// Of the project, bench (to see and stop a run of another process on the
// bench), live, protocols, reports, rig, runlog, influx, units (durations
// as the page shows them) and internal/durable (the users file, written
// atomically); outside it, golang.org/x/crypto/argon2. It is imported by
// cmd/mockloop, and by remote (its client) for QueueEntry and Fingerprint.
package serve
