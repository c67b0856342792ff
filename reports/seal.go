package reports

import (
	"errors"
	"fmt"
	"strings"
)

// ErrIntegrity is wrapped by Generate's error when the record fails
// verification against its seal (runlog.Verify). The reports are still
// written — the auditor must see what the record holds — but every page
// says INTEGRITY FAILED, and `mockloop report` exits 1.
var ErrIntegrity = errors.New("INTEGRITY FAILED")

// integrityFailed is the banner of a report whose record fails
// verification, on every page of the PDF and atop the HTML.
const integrityFailed = "INTEGRITY FAILED"

// integrityFailures returns why the record fails verification against
// its seal; none if it verifies, or if the report is not made from a
// record (InfluxDB: its integrity section says nothing was verified).
func (r *Report) integrityFailures() []string {
	if r.seal == nil || r.seal.Intact() {
		return r.verdictFailures()
	}
	return append(r.seal.Failures(), r.verdictFailures()...)
}

// integrityErr is the error of a report whose record fails verification.
func (r *Report) integrityErr() error {
	f := r.integrityFailures()
	if len(f) == 0 {
		return nil
	}
	return fmt.Errorf("reports: %w: %s", ErrIntegrity, strings.Join(f, "; "))
}

// sealRows are the rows of the integrity section that say what verifying
// the record against its seal found.
func (r *Report) sealRows() []kv {
	if r.seal == nil {
		return []kv{{K: "Record seal", V: "not verified: this report was made from InfluxDB, not from a sealed record", Flag: true}}
	}
	if !r.seal.Intact() {
		rows := []kv{{K: "Record seal", V: integrityFailed + ": the record is not as it was sealed; what this report shows cannot be trusted", Flag: true}}
		for _, p := range r.seal.Failures() {
			rows = append(rows, kv{K: "Differs", V: p, Flag: true})
		}
		return rows
	}
	s := r.seal.Seal
	return []kv{{K: "Record seal", V: fmt.Sprintf("intact: every file as sealed (%d files, sealed by %s); seal hash %s", len(s.Files), s.SealedBy, s.Hash), Mono: false}}
}

// integrityCase is the JUnit test case "record integrity", failing, of a
// record that fails verification.
func (r *Report) integrityCase() (junitCase, bool) {
	f := r.integrityFailures()
	if len(f) == 0 {
		return junitCase{}, false
	}
	return junitCase{Classname: "record", Name: "record integrity", Time: secs(0),
		Failure: &junitResult{Type: "integrity", Message: integrityFailed + ": " + f[0], Text: strings.Join(f, "\n")}}, true
}
