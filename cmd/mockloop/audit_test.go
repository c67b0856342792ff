package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/internal/testtool"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/serve"
)

// auditTrail is the audit trail of the run in dir.
func auditTrail(t *testing.T, dir string) []runlog.AuditEntry {
	t.Helper()
	r, err := runlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := r.ReadEvents()
	if err != nil {
		t.Fatal(err)
	}
	return runlog.AuditTrail(ev)
}

const shortProtocol = "protocol: 1\nname: short\nsteps:\n  - hold: 1 s\n"

// onlyRun is the one run of a runs directory.
func onlyRun(t *testing.T, runs string) string {
	t.Helper()
	list, err := runlog.List(runs)
	if err != nil || len(list) != 1 {
		t.Fatalf("runs: %v %+v", err, list)
	}
	return list[0].Dir
}

// TestAuditRunRecordsOperatorElseOSUser: `run --operator` is the person
// of the manifest and of the audit trail's start, via cli; without it,
// the OS user is.
func TestAuditRunRecordsOperatorElseOSUser(t *testing.T) {
	chdirRoot(t)
	proto := filepath.Join(t.TempDir(), "short.yaml")
	os.WriteFile(proto, []byte(shortProtocol), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{{[]string{"--operator", "O. Perator"}, "O. Perator"}, {nil, osUser()}} {
		runs := t.TempDir()
		if code, _, errOut := cli(t, append(append([]string{"run", "--quiet", "--runs", runs}, tc.args...), proto)...); code != exitPass {
			t.Fatalf("run %v: %d %s", tc.args, code, errOut)
		}
		dir := onlyRun(t, runs)
		r, _ := runlog.Open(dir)
		trail := auditTrail(t, dir)
		if tc.want == "" || r.Manifest.Operator != tc.want || len(trail) != 1 || trail[0].Action != runlog.ActionStart ||
			trail[0].By != tc.want || trail[0].Via != "cli" || trail[0].At.IsZero() {
			t.Errorf("run %v: manifest operator %q, audit trail %+v; want %q", tc.args, r.Manifest.Operator, trail, tc.want)
		}
	}
}

// TestAuditAllowOverdueNeedsAReason: a run on an overdue calibration with
// --allow-overdue and no --reason is refused (exit 3, asking for one);
// with one, the audit trail has the deviation with the person and reason.
func TestAuditAllowOverdueNeedsAReason(t *testing.T) {
	chdirRoot(t)
	dir := t.TempDir()
	src, _ := os.ReadFile("configs/rigs/sim.yaml")
	cal, _ := os.ReadFile("configs/rigs/sim.calibration.json")
	overdue := strings.Replace(string(cal), `"reference": "atmosphere (zero)",`, `"reference": "atmosphere (zero)", "due": "2026-11-22T00:00:00Z",`, 1)
	rigFile, proto, runs := filepath.Join(dir, "sim.yaml"), filepath.Join(dir, "short.yaml"), filepath.Join(dir, "runs")
	os.WriteFile(rigFile, src, 0o644)
	os.WriteFile(filepath.Join(dir, "sim.calibration.json"), []byte(overdue), 0o644)
	os.WriteFile(proto, []byte(shortProtocol), 0o644)
	if code, _, errOut := cli(t, "run", "--quiet", "--rig", rigFile, "--runs", runs, "--allow-overdue", proto); code != exitInvalid || !strings.Contains(errOut, "--reason") {
		t.Fatalf("--allow-overdue without a reason: %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, "run", "--quiet", "--rig", rigFile, "--runs", runs, "--allow-overdue", "--reason", "gauge at the lab until Friday",
		"--operator", "O. Verdue", proto); code != exitPass {
		t.Fatalf("--allow-overdue --reason: %d %s", code, errOut)
	}
	run := onlyRun(t, runs)
	d := runlog.Deviations(auditTrail(t, run))
	if len(d) != 1 || d[0].Action != runlog.ActionAllowOverdue || d[0].By != "O. Verdue" || d[0].Reason != "gauge at the lab until Friday" {
		t.Errorf("deviations: %+v", d)
	}
	// The run's reports list the deviation and the audit trail.
	html, _ := os.ReadFile(filepath.Join(run, "report.html"))
	for _, want := range []string{`<h3 id="deviations">Deviations</h3>`, "<td><strong>allow-overdue</strong></td>", "<td>O. Verdue</td><td>gauge at the lab until Friday</td>",
		`<h3 id="audit-trail">Audit trail</h3>`, "<td>O. Verdue</td><td>-</td><td>cli</td><td><strong>start</strong></td>"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	pdftotext := testtool.Need(t, "pdftotext", "poppler-utils")
	out, err := exec.Command(pdftotext, "-raw", filepath.Join(run, "report.pdf"), "-").Output()
	text := strings.Join(strings.Fields(string(out)), " ")
	for _, want := range []string{"Deviations", "allow-overdue", "O. Verdue gauge at the lab until Friday", "Audit trail", "O. Verdue - cli start"} {
		if err != nil || !strings.Contains(text, want) {
			t.Errorf("report.pdf lacks %q (%v)", want, err)
		}
	}
}

// TestAuditStopWithReasonNamesThePerson: `mockloop stop --reason` from
// another terminal ends the run, whose audit trail has the stop with the
// person, via cli, and the reason, as a deviation.
func TestAuditStopWithReasonNamesThePerson(t *testing.T) {
	bin, dir := buildCLI(t)
	runs := filepath.Join(dir, "runs")
	cmd, stderr, st := startRun(t, bin, dir, "--runs", runs, "--operator", "S. Tarter")
	if code, out, errOut := cli(t, "stop", "--reason", "noise on the flow probe", "--operator", "S. Topper"); code != exitPass {
		t.Fatalf("stop: %d %s %s", code, out, errOut)
	}
	if code := exitCode(t, cmd); code != exitAborted {
		t.Fatalf("run after stop: exit %d\n%s", code, stderr.String())
	}
	closedRecord(t, runs, st.RunID, runlog.OutcomeAborted, "operator: stopped by S. Topper: noise on the flow probe")
	trail := auditTrail(t, filepath.Join(runs, st.RunID))
	if len(trail) != 2 || trail[0].By != "S. Tarter" || trail[1].Action != runlog.ActionStop || trail[1].By != "S. Topper" ||
		trail[1].Via != "cli" || trail[1].Reason != "noise on the flow probe" || !trail[1].Deviation {
		t.Errorf("audit trail: %+v", trail)
	}
}

// TestUsersAddListDisablePasswd: `mockloop users` keeps the users file
// (0600, hashes only) in MOCKLOOP_HOME, lists without hashes, refuses a
// duplicate and a bad role, and every change is a line of the bench audit
// log, hash-chained, naming who made it.
func TestUsersAddListDisablePasswd(t *testing.T) {
	home := t.TempDir()
	t.Setenv("MOCKLOOP_HOME", home)
	t.Setenv("MOCKLOOP_PASSWORD", "first password 1")
	if code, _, errOut := cli(t, "users", "add", "alice", "--role", "operator"); code != exitPass {
		t.Fatalf("add: %d %s", code, errOut)
	}
	for _, bad := range [][]string{{"users", "add", "alice", "--role", "operator"}, {"users", "add", "bob", "--role", "boss"},
		{"users", "disable", "nobody"}, {"users", "add"}} {
		if code, _, _ := cli(t, bad...); code != exitInvalid {
			t.Errorf("%v: exit %d, want 3", bad, code)
		}
	}
	t.Setenv("MOCKLOOP_PASSWORD", "second password 2")
	for _, args := range [][]string{{"users", "add", "rita", "--role", "reviewer"}, {"users", "passwd", "alice"}, {"users", "disable", "rita"}} {
		if code, _, errOut := cli(t, args...); code != exitPass {
			t.Fatalf("%v: %d %s", args, code, errOut)
		}
	}
	code, out, _ := cli(t, "users", "list")
	if code != exitPass || !strings.Contains(out, "alice") || !strings.Contains(out, "reviewer  disabled") || strings.Contains(out, "argon2") {
		t.Errorf("list: %d\n%s", code, out)
	}
	path := filepath.Join(home, "users.json")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("users file: %v %v", err, fi)
	}
	u, err := serve.ReadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := u.Authenticate("alice", "second password 2"); !ok {
		t.Error("alice's new password does not authenticate")
	}
	log, err := runlog.ReadBenchLog(filepath.Join(home, "audit.jsonl"))
	if err != nil || len(log) != 4 {
		t.Fatalf("bench audit log: %v %+v", err, log)
	}
	for i, want := range []string{"user.add alice", "user.add rita", "user.passwd alice", "user.disable rita"} {
		if got := log[i].Action + " " + log[i].Subject; got != want || log[i].By != osUser() || log[i].At.IsZero() {
			t.Errorf("bench audit log line %d: %+v, want %s by %s", i+1, log[i], want, osUser())
		}
	}
	b, _ := os.ReadFile(filepath.Join(home, "audit.jsonl"))
	if strings.Contains(string(b), "password 2") || strings.Contains(string(b), "argon2") {
		t.Error("the bench audit log holds a password or a hash")
	}
	benchLogChecked(t, filepath.Join(home, "audit.jsonl"), b)
}

// benchLogChecked: `mockloop audit` prints the bench audit log at path
// (its bytes b) and says the chain holds; with its second line edited
// (rita added as an admin) it exits 1 naming the line after it.
func benchLogChecked(t *testing.T, path string, b []byte) {
	t.Helper()
	code, out, errOut := cli(t, "audit")
	if code != exitPass || !strings.Contains(out, "user.add rita") || !strings.Contains(out, "4 entries, the chain holds") {
		t.Errorf("audit: exit %d\n%s%s", code, out, errOut)
	}
	edited := strings.Replace(string(b), `"subject":"rita"`, `"subject":"rita","role":"admin"`, 1)
	if edited == string(b) {
		t.Fatalf("no rita line to edit in\n%s", b)
	}
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = cli(t, "audit", "--log", path)
	if code != exitFail || !strings.Contains(errOut, "audit.jsonl:3: the chain is broken") {
		t.Errorf("audit of an edited log: exit %d %s, want 1 naming line 3", code, errOut)
	}
	if code, _, _ := cli(t, "audit", "--log", filepath.Join(t.TempDir(), "none.jsonl")); code != exitInvalid {
		t.Errorf("audit of no log: exit %d, want 3", code)
	}
}

// TestAuditZeroAndCalibrateInTheBenchLog: a zero and a calibration, made
// outside any run, are lines of the bench audit log with the person, the
// channel and the coefficients old → new.
func TestAuditZeroAndCalibrateInTheBenchLog(t *testing.T) {
	chdirRoot(t)
	home := t.TempDir()
	t.Setenv("MOCKLOOP_HOME", home)
	_, rigFile := tempSimRig(t)
	if code, _, errOut := cli(t, "zero", "--rig", rigFile, "--channel", "aop", "--yes", "--operator", "Z. Eroer"); code != exitPass {
		t.Fatalf("zero: %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, "calibrate", "--rig", rigFile, "--at", "0 mmHg", "--at", "200 mmHg", "--reference", "Fluke 700G #4711", "--yes", "aop"); code != exitPass {
		t.Fatalf("calibrate: %d %s", code, errOut)
	}
	log, err := runlog.ReadBenchLog(filepath.Join(home, "audit.jsonl"))
	if err != nil || len(log) != 2 {
		t.Fatalf("bench audit log: %v %+v", err, log)
	}
	z, c := log[0], log[1]
	if z.Action != runlog.ActionZero || z.By != "Z. Eroer" || z.Subject != "aop" || z.New == "" || z.Old == z.New {
		t.Errorf("zero's line: %+v", z)
	}
	if c.Action != runlog.ActionCalibrate || c.By != osUser() || c.Old != z.New || c.New == c.Old {
		t.Errorf("calibration's line: %+v; want old = the zero's new", c)
	}
}

// TestServeBadTokenOrUsersFileSaysWhere: `serve` with a token file or a
// users file that has a mistake refuses to start, naming file:line:col.
func TestServeBadTokenOrUsersFileSaysWhere(t *testing.T) {
	dir := t.TempDir()
	toks, users := filepath.Join(dir, "tokens"), filepath.Join(dir, "users.json")
	os.WriteFile(toks, []byte("# CI\nnightly boss "+serve.NewToken()+"\n"), 0o600)
	os.WriteFile(users, []byte("{\"users\": [\n  {\"name\": 7}]}"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{{[]string{"--token-file", toks}, toks + ":2:9: role \"boss\""}, {[]string{"--users", users}, users + ":2:13: "}} {
		code, _, errOut := cli(t, append([]string{"serve", "--runs", dir}, tc.args...)...)
		if code != exitInvalid || !strings.Contains(errOut, tc.want) {
			t.Errorf("serve %v: %d %q, want 3 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestAuditOtherDeviceIsADeviation: a protocol written for the Impella RP
// (requires dut) is refused on the simulated rig's CP by validate and run
// alike (exit 3, nothing recorded); with --allow-other-device REASON both
// accept it, and the run's audit trail has the deviation with the person
// and the reason, its report lists it, and the record still verifies and
// its verdicts recompute.
func TestAuditOtherDeviceIsADeviation(t *testing.T) {
	chdirRoot(t)
	dir := t.TempDir()
	proto, runs := filepath.Join(dir, "rp.yaml"), filepath.Join(dir, "runs")
	os.WriteFile(proto, []byte("protocol: 1\nname: rp-only\nrequires: {dut: [impella-rp]}\nsteps:\n  - hold: 1 s\n    criteria:\n      - {measure: mean(aop), min: 10 mmHg}\n"), 0o644)
	for _, args := range [][]string{{"validate", proto}, {"run", "--quiet", "--runs", runs, proto}} {
		if code, _, errOut := cli(t, args...); code != exitInvalid || !strings.Contains(errOut, "requires DUT impella-rp, but rig sim drives impella-cp") {
			t.Errorf("%s on the CP: exit %d %s", args[0], code, errOut)
		}
	}
	if ents, _ := os.ReadDir(runs); len(ents) > 0 {
		t.Fatalf("a refused run left %s", ents[0].Name())
	}
	const why = "RP pump head on loan; CP head characterised instead"
	if code, _, errOut := cli(t, "validate", "--allow-other-device", why, proto); code != exitPass {
		t.Errorf("validate --allow-other-device: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, "run", "--quiet", "--runs", runs, "--operator", "O. Ther", "--allow-other-device", why, proto); code != exitPass {
		t.Fatalf("run --allow-other-device: exit %d %s", code, errOut)
	}
	run := onlyRun(t, runs)
	d := runlog.Deviations(auditTrail(t, run))
	if len(d) != 1 || d[0].Action != runlog.ActionOtherDevice || d[0].By != "O. Ther" || d[0].Reason != why {
		t.Errorf("deviations: %+v", d)
	}
	html, _ := os.ReadFile(filepath.Join(run, "report.html"))
	if !strings.Contains(string(html), "<td><strong>other-device</strong></td>") || !strings.Contains(string(html), why) {
		t.Error("report.html does not list the other-device deviation with its reason")
	}
	if code, out, _ := cli(t, "verify", run); code != exitPass || strings.Contains(string(html), "INTEGRITY FAILED") {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
}
