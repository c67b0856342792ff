package serve

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// withUser is a Config tweak: a users file with one user, made in a
// temporary directory.
func withUser(t *testing.T, name, role, password string) func(*Config) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.json")
	var u Users
	if err := u.Add(name, role, password); err != nil {
		t.Fatal(err)
	}
	if err := u.Write(path); err != nil {
		t.Fatal(err)
	}
	return func(c *Config) { c.UsersFile = path }
}

// addUser adds a user to the users file of a config.
func addUser(t *testing.T, c *Config, name, role, password string) {
	t.Helper()
	u, err := ReadUsers(c.UsersFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Add(name, role, password); err != nil {
		t.Fatal(err)
	}
	if err := u.Write(c.UsersFile); err != nil {
		t.Fatal(err)
	}
}

// with is who with an action, a reason and whether it deviates.
func with(who runlog.OperatorData, action, reason string, deviation bool) runlog.OperatorData {
	who.Action, who.Reason, who.Deviation = action, reason, deviation
	return who
}

// checkTrail checks the audit trail of the run in dir against want, At
// (which must be set) and BeforeStep aside.
func checkTrail(t *testing.T, dir string, want []runlog.OperatorData) {
	t.Helper()
	var got []runlog.OperatorData
	for _, a := range runlog.AuditTrail(events(t, dir)) {
		if a.At.IsZero() || time.Since(a.At) > time.Hour {
			t.Errorf("audit entry %+v: not at the wall clock's time", a)
		}
		a.At, a.BeforeStep = time.Time{}, 0
		got = append(got, a.OperatorData)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("audit trail:\n got %+v\nwant %+v", got, want)
	}
}

// loginUser logs in by name and password; it returns the status and the
// session cookie header (nil when refused).
func (ts *testServer) loginUser(t *testing.T, name, password string) (int, []string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "password": password})
	req, _ := http.NewRequest("POST", ts.url+"/api/login", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName && resp.StatusCode == 200 {
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge <= 0 {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, expiring", ck)
			}
			return resp.StatusCode, []string{"Cookie", cookieName + "=" + ck.Value}
		}
	}
	return resp.StatusCode, nil
}

// TestUsersLogInAndEveryActionNamesThePerson: people of the users file log
// in by name and password; an operator's start, pause, resume and stop
// each appear in the run's audit trail with her name, role, the way they
// came and her reasons; a reviewer reads but cannot stop (403); a wrong
// password, an unknown or a disabled user is refused 401, and a user
// disabled while logged in is at her next request; a pause or a stop
// without a reason is refused 400.
func TestUsersLogInAndEveryActionNamesThePerson(t *testing.T) {
	const pw, rpw = "operator password 1", "reviewer password 1"
	var cfg Config
	ts := newTestServer(t, 50, func(c *Config) {
		withUser(t, "alice", RoleOperator, pw)(c)
		addUser(t, c, "rita", RoleReviewer, rpw)
		addUser(t, c, "gone", RoleOperator, pw)
		cfg = *c
	})
	u, _ := ReadUsers(cfg.UsersFile)
	u.Find("gone").Disabled = true
	if err := u.Write(cfg.UsersFile); err != nil {
		t.Fatal(err)
	}
	if code, _ := ts.call(t, "GET", "/api/status", ""); code != http.StatusUnauthorized {
		t.Fatalf("status without a login: %d, want 401: a users file makes the view need a login", code)
	}
	for _, bad := range [][2]string{{"alice", "wrong password"}, {"nobody", pw}, {"gone", pw}} {
		if code, ck := ts.loginUser(t, bad[0], bad[1]); code != http.StatusUnauthorized || ck != nil {
			t.Errorf("login %s with %q: %d, want 401", bad[0], bad[1], code)
		}
	}
	ts.throttle = throttle{} // the refusals above drew on the allowance
	_, alice := ts.loginUser(t, "alice", pw)
	_, rita := ts.loginUser(t, "rita", rpw)
	if alice == nil || rita == nil {
		t.Fatal("alice or rita could not log in")
	}
	if _, st := ts.call(t, "GET", "/api/status", "", alice...); st["user"] != "alice" || st["role"] != RoleOperator || st["write"] != true {
		t.Errorf("alice's status: %v", st)
	}
	code, run := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml","operator":"someone else"}`, alice...)
	if code != http.StatusAccepted {
		t.Fatalf("alice starts: %d %v", code, run)
	}
	id := run["run_id"].(string)
	if run["by"] != "alice" {
		t.Errorf("the run's operator is %v: the person logged in, not the free text", run["by"])
	}
	if code, _ := ts.call(t, "POST", "/api/run/stop", `{"reason":"not mine"}`, rita...); code != http.StatusForbidden {
		t.Errorf("reviewer stops: %d, want 403", code)
	}
	for _, a := range []string{"pause", "stop"} {
		if code, m := ts.call(t, "POST", "/api/run/"+a, `{"reason":"  "}`, alice...); code != http.StatusBadRequest || !strings.Contains(m["error"].(string), "reason") {
			t.Errorf("%s without a reason: %d %v, want 400 saying a reason is needed", a, code, m)
		}
	}
	// In step 2's hold a pause takes effect at once (language 1.1): a
	// departure from the protocol, with its reason; then the resume.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, st := ts.call(t, "GET", "/api/status", "", alice...)
		if step, _ := st["step"].(map[string]any); step["path"] == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("step 2 never began: %v", st)
		}
	}
	ts.call(t, "POST", "/api/run/pause", `{"reason":"bubble in the line"}`, alice...)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, st := ts.call(t, "GET", "/api/status", "", alice...); st["state"] == string(StatePaused) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pause never took effect in step 2's hold")
		}
	}
	ts.call(t, "POST", "/api/run/resume", `{}`, alice...)
	ts.call(t, "POST", "/api/run/stop", `{"reason":"enough data"}`, alice...)
	waitIdleAs(t, ts, alice)
	a := runlog.OperatorData{By: "alice", Role: RoleOperator, Via: "bench-view"}
	checkTrail(t, filepath.Join(ts.runsDir, id), []runlog.OperatorData{with(a, runlog.ActionStart, "", false),
		with(a, runlog.ActionPause, "bubble in the line", true), with(a, runlog.ActionResume, "", false),
		with(a, runlog.ActionStop, "enough data", true)})

	// Disabled, alice's session ends at her next request.
	u, _ = ReadUsers(cfg.UsersFile)
	u.Find("alice").Disabled = true
	if err := u.Write(cfg.UsersFile); err != nil {
		t.Fatal(err)
	}
	if code, _ := ts.call(t, "GET", "/api/status", "", alice...); code != http.StatusUnauthorized {
		t.Errorf("a disabled user's session: %d, want 401", code)
	}
	if code, _ := ts.call(t, "GET", "/api/status", "", rita...); code != http.StatusOK {
		t.Errorf("another user's session after alice was disabled: %d", code)
	}
}

// waitIdleAs waits for the view to be idle, polling with a session.
func waitIdleAs(t *testing.T, ts *testServer, hdr []string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, st := ts.call(t, "GET", "/api/status", "", hdr...); st["state"] == "idle" {
			return
		}
	}
	t.Fatal("the run did not end")
}

// TestNamedTokensNameTheirJob: each CI token is named, and the runs it
// starts and stops name it; the MOCKLOOP_API_TOKEN of older scripts goes
// on working as the token "token"; a read token cannot stop (403).
func TestNamedTokensNameTheirJob(t *testing.T) {
	ciTok := NewToken()
	ts := newTestServer(t, 50, func(c *Config) {
		c.Token, c.ReadToken = writeToken, readToken
		c.Tokens = []Token{{Name: "nightly-ci", Secret: ciTok, Role: RoleOperator}}
	})
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	code, run := ts.call(t, "POST", "/api/runs", `{"protocol":"short.yaml"}`, bearer(ciTok)...)
	if code != http.StatusAccepted {
		t.Fatalf("start with the named token: %d %v", code, run)
	}
	if code, _ := ts.call(t, "POST", "/api/run/stop", `{"reason":"x"}`, bearer(readToken)...); code != http.StatusForbidden {
		t.Errorf("read token stops: %d, want 403", code)
	}
	if code, m := ts.call(t, "POST", "/api/run/stop", `{"reason":"job cancelled"}`, bearer(writeToken)...); code != 200 {
		t.Fatalf("stop with the old token: %d %v", code, m)
	}
	waitIdleAs(t, ts, bearer(writeToken))
	checkTrail(t, filepath.Join(ts.runsDir, run["run_id"].(string)), []runlog.OperatorData{
		{Action: runlog.ActionStart, By: "nightly-ci", Role: RoleOperator, Via: "api"},
		{Action: runlog.ActionStop, By: "token", Role: RoleOperator, Via: "api", Reason: "job cancelled", Deviation: true},
	})
	for _, bad := range [][]Token{{{Name: "a b", Secret: ciTok, Role: RoleOperator}}, {{Name: "x", Secret: ciTok, Role: "boss"}},
		{{Name: "x", Secret: "short", Role: RoleOperator}}, {{Name: "token", Secret: ciTok, Role: RoleOperator}}} {
		c := ts.cfg
		c.Tokens = bad
		if _, err := New(c); err == nil {
			t.Errorf("tokens %+v accepted", bad)
		}
	}
}

// TestUserLoginGuessesThrottled: wrong passwords are throttled as wrong
// tokens are: past the burst, 429 with Retry-After, the password unlooked
// at (argon2id is not even run). The bucket refills at throttleRate while
// the guesses go on — a login's argon2id takes 30 ms here, 0.3 s under
// qemu (CI: 6 looked at of 8) — so the guesses looked at are bounded by
// the burst plus the refill over the time they took, as in auth_test.go.
func TestUserLoginGuessesThrottled(t *testing.T) {
	ts := newTestServer(t, 5, withUser(t, "alice", RoleOperator, "operator password 1"))
	var codes []int
	start := time.Now()
	for len(codes) < 4*throttleBurst && !slices.Contains(codes, http.StatusTooManyRequests) {
		code, _ := ts.loginUser(t, "alice", "guess")
		codes = append(codes, code)
	}
	evaluated := ts.throttle.evaluated.Load()
	allowed := throttleBurst + int64(time.Since(start).Seconds()*throttleRate) + 1
	if evaluated < throttleBurst || evaluated > allowed || codes[len(codes)-1] != http.StatusTooManyRequests || slices.Contains(codes, http.StatusOK) {
		t.Errorf("%d guesses: %d looked at (allowed %d), answers %v; want at least %d looked at, then 429", len(codes), evaluated, allowed, codes, throttleBurst)
	}
}

// TestUsersFileWrittenPrivatelyAndHashed: the users file is mode 0600,
// holds no password, only argon2id hashes with the stated parameters, and
// reads back; a password too short is refused.
func TestUsersFileWrittenPrivatelyAndHashed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "home", "users.json")
	var u Users
	if err := u.Add("alice", RoleAdmin, "short"); err == nil {
		t.Error("a 5-character password accepted")
	}
	if err := u.Add("alice", RoleAdmin, "a long enough password"); err != nil {
		t.Fatal(err)
	}
	if err := u.Write(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("users file: %v, mode %v, want 0600", err, fi.Mode())
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "a long enough password") || !strings.Contains(string(b), "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("users file:\n%s", b)
	}
	back, err := ReadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := back.Authenticate("ALICE", "a long enough password"); !ok {
		t.Error("the user read back does not authenticate")
	}
	if _, err := ReadUsers(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, ErrNoUsers) {
		t.Errorf("no file: %v", err)
	}
}

// TestUsersFileErrorsSayWhere: a users file with a mistake says the file,
// the line and column, or the user, and what is wrong.
func TestUsersFileErrorsSayWhere(t *testing.T) {
	h, _ := HashPassword("a long enough password")
	for _, tc := range []struct{ src, want string }{
		{"{\n  \"users\": [\n    {\"name\": 1}\n  ]\n}", "u.json:3:15: "},
		{"{\"users\": [}", "u.json:1:13: "},
		{`{"users": [{"name": "a", "role": "boss", "hash": "` + h + `"}]}`, `role "boss"`},
		{`{"users": [{"name": "a", "role": "admin", "hash": "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}]}`, "out of bounds"},
		{`{"users": [{"name": "a", "role": "admin", "hash": "` + h + `"}, {"name": "A", "role": "admin", "hash": "` + h + `"}]}`, "appears twice"},
		{`{"users": [], "extra": 1}`, "unknown field"},
	} {
		if _, err := ParseUsers("u.json", []byte(tc.src)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.src, err, tc.want)
		}
	}
}

// FuzzParseUsers: whatever the users file holds, parsing neither panics
// nor accepts a hash whose parameters would make checking it unbounded,
// and what it accepts writes and reads back the same.
func FuzzParseUsers(f *testing.F) {
	h, _ := HashPassword("a long enough password")
	f.Add([]byte(`{"users": [{"name": "alice", "role": "operator", "hash": "` + h + `"}]}`))
	f.Add([]byte(`{"users": [{"name": "a", "role": "admin", "hash": "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "disabled": true}]}`))
	f.Add([]byte(`{"users": null}`))
	f.Add([]byte("{\n\"users\": [\n{\"name\": 1}]}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseUsers("f.json", b)
		if err != nil {
			return
		}
		for _, x := range u.Users {
			p, _, err := parseHash(x.Hash)
			if err != nil || p.memory > maxArgonMemory || p.time > maxArgonTime {
				t.Fatalf("accepted hash %q: %+v %v", x.Hash, p, err)
			}
		}
		out, _ := json.Marshal(u)
		back, err := ParseUsers("back.json", out)
		if err != nil || !reflect.DeepEqual(back, u) {
			t.Fatalf("read back: %v\n%+v\n%+v", err, back, u)
		}
	})
}

// TestTokenFileErrorsSayWhere: a token file's mistakes are named by
// file:line:col; a good one gives its named tokens.
func TestTokenFileErrorsSayWhere(t *testing.T) {
	tok := NewToken()
	good := "# CI\n\nnightly operator " + tok + "\n  viewer  reviewer " + NewToken() + "\r\n"
	got, err := ParseTokens("t", []byte(good))
	if err != nil || len(got) != 2 || got[0] != (Token{Name: "nightly", Role: RoleOperator, Secret: tok}) || got[1].Name != "viewer" {
		t.Fatalf("good file: %v %+v", err, got)
	}
	for _, tc := range []struct{ src, want string }{
		{"a operator", "t:1:1: want NAME ROLE SECRET"},
		{"\n  a boss " + tok, `t:2:5: role "boss"`},
		{"a operator short", "t:1:12: token a is 5 characters long"},
		{"a operator " + tok + "\na admin " + tok, "t:2:1: token a appears twice"},
		{"a/b operator " + tok, "t:1:1: name"},
	} {
		if _, err := ParseTokens("t", []byte(tc.src)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.src, err, tc.want)
		}
	}
}

// FuzzParseTokens: whatever a token file holds, parsing neither panics
// nor accepts a token that setupAuth would refuse.
func FuzzParseTokens(f *testing.F) {
	f.Add([]byte("nightly operator " + writeToken + "\n# x\n"))
	f.Add([]byte("a b c\n\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		toks, err := ParseTokens("f", b)
		if err != nil {
			return
		}
		s := &Server{cfg: Config{Tokens: toks}}
		if err := s.setupAuth(); err != nil {
			t.Fatalf("accepted %q, then refused: %v", b, err)
		}
	})
}

// BenchmarkCheckPassword is the cost of one login's password check (the
// argon2id parameters of users.go), what the throttle multiplies.
func BenchmarkCheckPassword(b *testing.B) {
	h, _ := HashPassword("a long enough password")
	for b.Loop() {
		checkPassword(h, "a long enough password")
	}
}
