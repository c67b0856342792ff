package reports

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/runlog"
)

// TestHTMLListsDeviationsAndAuditTrail: the HTML report has a Deviations
// and an Audit trail section: every operator action with its time (UTC),
// person, role, way and reason; every deviation with its justification,
// one without flagged; a run without any says none.
func TestHTMLListsDeviationsAndAuditTrail(t *testing.T) {
	html := func(name string) string {
		r, err := Load(fixtureRun(t, name))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := r.WriteHTML(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	pass := html("pass")
	section := func(id string) string {
		m := regexp.MustCompile(`(?s)<h3 id="` + id + `">.*?</table>`).FindString(pass)
		if m == "" {
			t.Fatalf("no section %s in the HTML report", id)
		}
		return m
	}
	dev, trail := section("deviations"), section("audit-trail")
	for _, want := range []string{"<td><strong>allow-overdue</strong></td>", "gauge away for recertification", "<td><strong>pause</strong></td>",
		"bubble in the line", `<td class="flag">none given</td>`, "2026-11-21 09:30:04 UTC"} {
		if !strings.Contains(dev, want) {
			t.Errorf("Deviations lacks %q:\n%s", want, dev)
		}
	}
	if strings.Contains(dev, "resume") || strings.Contains(dev, ">start<") {
		t.Errorf("Deviations lists what is no deviation:\n%s", dev)
	}
	for _, want := range []string{"<td>2026-11-21 09:30:00 UTC</td><td>qa.bench</td><td>operator</td><td>bench-view</td><td><strong>start</strong></td>",
		"<td>2026-11-21 09:30:09 UTC</td><td>r.viewer</td><td>admin</td><td>bench-view</td><td><strong>resume</strong></td>"} {
		if !strings.Contains(trail, want) {
			t.Errorf("Audit trail lacks %q:\n%s", want, trail)
		}
	}
	if !strings.Contains(pass, "qa.bench (started the run; operator, via bench-view)") {
		t.Error("the identity's operator is not shown as the person who started the run")
	}
	fail := html("fail")
	for _, want := range []string{`<h3 id="deviations">Deviations</h3>
<p class="note">None: the run followed the protocol as written.</p>`, `<h3 id="audit-trail">Audit trail</h3>
<p class="note">No operator action is recorded.</p>`} {
		if !strings.Contains(fail, want) {
			t.Errorf("a run without operator actions: the report lacks %q", want)
		}
	}
}

// TestOperatorNotTheStarterIsFlagged: an identity's operator other than
// the person the audit trail says started the run is flagged, with the
// starter named.
func TestOperatorNotTheStarterIsFlagged(t *testing.T) {
	rows := []kv{{K: "Operator", V: "Q. Auditor"}}
	markStarter(rows, []runlog.AuditEntry{{OperatorData: runlog.OperatorData{Action: runlog.ActionStart, By: "alice"}}})
	if !rows[0].Flag || rows[0].V != "Q. Auditor (the audit trail says alice started the run)" {
		t.Errorf("%+v", rows[0])
	}
}
