package reports

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mockloop/mockloop/runlog"
)

// maxAudit bounds the audit-trail entries a report lists; events.jsonl
// has every one, and the report says when some are left out.
const maxAudit = 500

// auditRow is one audit-trail entry as the reports show it.
type auditRow struct {
	When, By, Role, Via, Action, What, Reason, Change string
	// NoReason flags a deviation recorded without a justification.
	NoReason bool
}

// auditView is the "Deviations" and "Audit trail" subsections of the
// events section: every operator action of the run (21 CFR 11.10(e)) and
// the departures from the protocol among them, each with its
// justification.
type auditView struct {
	Deviations []auditRow
	Trail      []auditRow
	Total      int // entries of the trail, listed or not
}

// addAudit keeps an operator event for the audit trail.
func (s *eventSummary) addAudit(e *runlog.Event) {
	s.AuditTotal++
	if len(s.Audit) < maxAudit {
		s.Audit = append(s.Audit, runlog.AuditTrail([]runlog.Event{*e})...)
	}
}

// AuditView is the audit trail and deviations of the events, as rows.
func (s eventSummary) AuditView() auditView {
	v := auditView{Total: s.AuditTotal}
	for _, a := range s.Audit {
		row := auditOf(a)
		v.Trail = append(v.Trail, row)
		if a.Deviation {
			v.Deviations = append(v.Deviations, row)
		}
	}
	return v
}

// auditOf is an entry's row. An entry of a record made before the audit
// trail has no wall-clock time or person: it shows its run time and a
// dash.
func auditOf(a runlog.AuditEntry) auditRow {
	r := auditRow{When: fmtTime(a.At), By: orDash(a.By), Role: orDash(a.Role), Via: orDash(a.Via),
		Action: orDash(a.Action), What: a.Msg, Reason: orDash(a.Reason), NoReason: a.Deviation && a.Reason == ""}
	if a.At.IsZero() {
		r.When = fmt.Sprintf("t = %.3f s", a.T)
	}
	if r.NoReason {
		r.Reason = "none given"
	}
	if a.Old != "" || a.New != "" {
		r.Change = orDash(a.Old) + " → " + orDash(a.New)
	}
	return r
}

// audit draws the deviations and the audit trail.
func (d *pdfDoc) audit(ev eventSummary) {
	v := ev.AuditView()
	d.subheading("Deviations", 15)
	if len(v.Deviations) == 0 {
		d.para("None: the run followed the protocol as written.", false)
	} else {
		var rows [][]pdfCell
		for _, r := range v.Deviations {
			just := cell(r.Reason)
			if r.NoReason {
				just = verdictCell(r.Reason, string(runlog.OutcomeFail))
			}
			rows = append(rows, []pdfCell{cell(r.When), {Text: r.Action, Bold: true}, cell(r.What), cell(r.By), just})
		}
		d.table([]pdfCol{{"When", 36, "L"}, {"Deviation", 26, "L"}, {"What", 46, "L"}, {"Who", 24, "L"}, {"Justification", pdfTextW - 132, "L"}}, rows, pdfSmall)
	}
	d.subheading("Audit trail", 15)
	if len(v.Trail) == 0 {
		d.para("No operator action is recorded.", false)
		return
	}
	var rows [][]pdfCell
	for _, r := range v.Trail {
		rows = append(rows, []pdfCell{cell(r.When), cell(r.By), cell(r.Role), cell(r.Via), {Text: r.Action, Bold: true}, cell(r.Reason), cell(r.Change)})
	}
	d.table([]pdfCol{{"Time (UTC)", 36, "L"}, {"Who", 22, "L"}, {"Role", 16, "L"}, {"Via", 20, "L"}, {"Action", 24, "L"}, {"Reason", 34, "L"}, {"Old → new", pdfTextW - 152, "L"}}, rows, pdfSmall)
	if v.Total > len(v.Trail) {
		d.para(fmt.Sprintf("Only the first %d of %d entries are listed; events.jsonl has all.", len(v.Trail), v.Total), true)
	}
}

// markStarter shows the identity's operator as the person who started the
// run, as the audit trail has it (role and way), and flags an operator
// the trail does not name as the starter. Records made before the audit
// trail have no start entry: the row is left as it is.
func markStarter(identity []kv, trail []runlog.AuditEntry) {
	i := slices.IndexFunc(identity, func(r kv) bool { return r.K == "Operator" })
	j := slices.IndexFunc(trail, func(a runlog.AuditEntry) bool { return a.Action == runlog.ActionStart })
	if i < 0 || j < 0 {
		return
	}
	a := trail[j]
	if a.By != identity[i].V {
		identity[i].V += fmt.Sprintf(" (the audit trail says %s started the run)", orDash(a.By))
		identity[i].Flag = true
		return
	}
	var how []string
	if a.Role != "" {
		how = append(how, a.Role)
	}
	if a.Via != "" {
		how = append(how, "via "+a.Via)
	}
	identity[i].V += " (started the run"
	if len(how) > 0 {
		identity[i].V += "; " + strings.Join(how, ", ")
	}
	identity[i].V += ")"
}
