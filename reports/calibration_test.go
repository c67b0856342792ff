package reports

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/internal/golden"
)

// The calibration table reads as rows — points "0.006 V → 0 mmHg; …",
// the fit's residual at them, the operator — not as a JSON dump of the
// record's fields ("coeffs: [-1.5 250], points: [{value: 0, volts:
// 0.006} …]" before). The identity section of each fixture is a golden
// file.
func TestCalibrationTableReadsAsRows(t *testing.T) {
	for _, name := range []string{"pass", "fail"} {
		r, err := Load(fixtureRun(t, name))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := r.writeHTMLSection(&b, "identity"); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, filepath.Join("testdata", "golden", name+".identity.html"), b.Bytes())
		if s := b.String(); strings.Contains(s, "coeffs") || strings.Contains(s, "volts:") {
			t.Errorf("%s: the calibration table dumps the record's fields:\n%s", name, s)
		}
	}
	for _, tc := range []struct {
		name                         string
		fields                       map[string]any
		points, residual, op, others string
	}{
		{"two-point, exact fit",
			map[string]any{"coeffs": []any{-1.5, 250.0}, "points": []any{map[string]any{"volts": 0.006, "value": 0.0}, map[string]any{"volts": 0.806, "value": 200.0}}, "operator": "A. Tech", "unit": "mmHg"},
			"0.006 V → 0 mmHg; 0.806 V → 200 mmHg", "0 mmHg", "A. Tech", ""},
		{"three points, a linear fit off by 0.5 at the middle",
			map[string]any{"coeffs": []any{0.0, 40.0}, "points": []any{map[string]any{"volts": 0.0, "value": 0.0}, map[string]any{"volts": 2.5, "value": 100.5}, map[string]any{"volts": 5.0, "value": 200.0}}},
			"0 V → 0 mmHg; 2.5 V → 100.5 mmHg; 5 V → 200 mmHg", "0.5 mmHg", "-", ""},
		{"no coefficients: no residual",
			map[string]any{"points": []any{map[string]any{"volts": 0.01, "value": 0.0}}},
			"0.01 V → 0 mmHg", "-", "-", ""},
		{"fields of other shapes are kept, as text",
			map[string]any{"points": "see sheet 4", "gain": 2.0},
			"-", "-", "-", "gain: 2; points: see sheet 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, res, op, rest := calDetail(tc.fields, "mmHg")
			if p != tc.points || res != tc.residual || op != tc.op || rest != tc.others {
				t.Errorf("calDetail = %q, %q, %q, %q; want %q, %q, %q, %q", p, res, op, rest, tc.points, tc.residual, tc.op, tc.others)
			}
		})
	}
}
