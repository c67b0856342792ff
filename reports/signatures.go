package reports

import (
	"strings"
	"time"
)

// sigRow is one electronic signature of the record as the reports show it
// (21 CFR 11.50: printed name, date and time, meaning), with whether it
// verifies and, if not, why.
type sigRow struct {
	Name, Time, Meaning, Comment, Fingerprint string
	Status                                    string // "valid", or "INVALID: why"
	Invalid                                   bool
}

// notSigned is what the Signatures section says of a record without
// electronic signatures.
const notSigned = "Not signed: the record carries no electronic signature (mockloop sign)."

// signatureRows are the record's electronic signatures (signatures.jsonl),
// each as verified against the record now; none when the report is made
// from InfluxDB or the record has none. A signature's key is checked
// against a keyring only when Options.Trusted says which keys are.
func (r *Report) signatureRows() []sigRow {
	if r.seal == nil {
		return nil
	}
	var rows []sigRow
	for _, c := range r.seal.Signatures {
		s := c.Signature
		row := sigRow{Name: orDash(s.Name), Time: orDash(s.Time), Meaning: orDash(s.Meaning), Comment: s.Comment, Fingerprint: orDash(c.Fingerprint), Status: "valid"}
		if t, err := time.Parse(time.RFC3339, s.Time); err == nil {
			row.Time = fmtTime(t)
		}
		switch {
		case c.Problem != "":
			row.Status, row.Invalid = "INVALID: "+c.Problem, true
		case !r.trustChecked:
			row.Status = "valid (its key not checked against a keyring: mockloop verify does)"
		}
		rows = append(rows, row)
	}
	return rows
}

// distrust marks the signatures by keys trusted does not accept (nil:
// no keyring given, nothing checked).
func (r *Report) distrust(trusted func(fingerprint string) bool) {
	if r.seal == nil || trusted == nil {
		return
	}
	r.seal.Distrust(trusted)
	r.trustChecked = true
}

// eSignatures draws the electronic signatures of the PDF's Signatures
// section, or says there are none; it reports whether there were any.
// The wet-ink table follows only a record without any: a handwritten
// signature on a printout is not linked to the record (11.70), and beside
// electronic ones it would make two kinds of signature for one act.
func (d *pdfDoc) eSignatures() bool {
	if len(d.v.ESignatures) == 0 {
		d.para(notSigned+" If it is signed by hand instead, below.", false)
		return false
	}
	var rows [][]pdfCell
	for _, s := range d.v.ESignatures {
		name := s.Name
		if s.Comment != "" {
			name += "\n“" + s.Comment + "”"
		}
		// The fingerprint's 43 characters of base64 fit the column on a
		// line of their own: a key is compared whole, never read broken.
		key := strings.Replace(s.Fingerprint, ":", ":\n", 1)
		rows = append(rows, []pdfCell{cell(name), cell(s.Meaning), cell(s.Time), {Text: key, Mono: true}, {Text: s.Status, Bold: s.Invalid}})
	}
	d.table([]pdfCol{{"Signed by", 36, "L"}, {"Meaning", 16, "L"}, {"Date and time", 24, "L"}, {"Key", 68, "L"}, {"Verifies", pdfTextW - 144, "L"}}, rows, pdfSmall)
	return true
}
