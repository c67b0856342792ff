package reports

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// calPoint is a calibration point as the rig records it (daq.Point): the
// input volts against the reference's value in the channel's unit.
type calPoint struct {
	Volts float64 `json:"volts"`
	Value float64 `json:"value"`
}

// calDetail turns a calibration record's free-form fields (runlog
// Calibration.Fields: points, coeffs, operator, unit, as the rig writes
// them) into the calibration table's readable cells: the points as "0.006
// V → 0 mmHg; 0.806 V → 200 mmHg", the residual of the fit at those points,
// the operator, and any other field as "key: value". unit is the channel's
// unit when the record does not say it. A field of an unexpected shape is
// shown as it is, among the others, rather than dropped.
func calDetail(fields map[string]any, unit string) (points, residual, operator, other string) {
	if u, ok := fields["unit"].(string); ok && u != "" {
		unit = u
	}
	pts, okP := decodeField[[]calPoint](fields["points"])
	coeffs, okC := decodeField[[]float64](fields["coeffs"])
	op, okO := fields["operator"].(string)
	var parts []string
	for _, p := range pts {
		parts = append(parts, trimZeros(fmtNum(p.Volts, 4))+" V → "+withUnit(statNum(p.Value), unit))
	}
	points = orDash(strings.Join(parts, "; "))
	residual = "-"
	if okP && okC && len(pts) > 0 && len(coeffs) > 0 {
		residual = withUnit(statNum(fitResidual(pts, coeffs)), unit)
	}
	var rest []string
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		switch {
		case k == "unit" && fields[k] == unit, k == "points" && okP, k == "coeffs" && okC, k == "operator" && okO:
			continue
		}
		rest = append(rest, k+": "+fmtAny(fields[k]))
	}
	return points, residual, orDash(op), strings.Join(rest, "; ")
}

// fitResidual is the largest |fit − reference| over the points: how far
// the polynomial the calibration produced (value = c0 + c1·v + …) misses
// the reference values it was fitted to, in the channel's unit. Below a
// millionth of the points' span it is rounding, and shown as 0.
func fitResidual(pts []calPoint, coeffs []float64) float64 {
	worst, span := 0.0, 0.0
	for _, p := range pts {
		y := 0.0
		for i := len(coeffs) - 1; i >= 0; i-- {
			y = y*p.Volts + coeffs[i]
		}
		worst = max(worst, math.Abs(y-p.Value))
		span = max(span, math.Abs(p.Value))
	}
	if worst <= 1e-6*span {
		return 0
	}
	return worst
}

// decodeField reads a field of a decoded JSON object as T; ok is false if
// it is absent or of another shape.
func decodeField[T any](v any) (t T, ok bool) {
	if v == nil {
		return t, false
	}
	b, err := json.Marshal(v)
	if err != nil || json.Unmarshal(b, &t) != nil {
		return t, false
	}
	return t, true
}

// channelUnit is the unit of the named channel of the record's layout, ""
// if it has none.
func channelUnit(layout []runlog.Channel, name string) string {
	for _, c := range layout {
		if c.Name == name {
			return c.Unit
		}
	}
	return ""
}

// calCols are the PDF calibration table's columns (mm, pdfTextW in all).
var calCols = []pdfCol{{"Channel", 15, "L"}, {"Method", 17, "L"}, {"Date", 20, "L"}, {"Due", 20, "L"},
	{"Reference standard and certificate", 30, "L"}, {"Points (input → reference)", 40, "L"},
	{"Residual (max |fit − reference|)", 20, "R"}, {"Operator", 18, "L"}}

// calCells are a calibration row's PDF cells, its due date cell made.
func calCells(c calRow, due pdfCell) []pdfCell {
	pts := c.Points
	if c.Fields != "" {
		pts += "; " + c.Fields
	}
	return []pdfCell{cell(c.Channel), cell(c.Method), cell(c.Date), due, cell(c.Reference), cell(pts), cell(c.Residual), cell(c.Operator)}
}

// calDate is a calibration's date or due date as the table shows it: an
// RFC 3339 time as "2006-01-02 15:04 UTC", breakable between date and time.
func calDate(s string) string {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Format("2006-01-02 15:04") + " UTC"
	}
	return orDash(s)
}
