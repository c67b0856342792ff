package fidelity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the credibility report: the results with what they are
// evidence of.
type Report struct {
	Results []Result
	Version string
	Date    time.Time
}

// Pass reports whether every case passed.
func (r *Report) Pass() bool { return len(r.Results) > 0 && r.Failed() == 0 }

// ContextOfUse is what the simulator is trusted for (ASME V&V 40).
const ContextOfUse = "Bench verification of Impella-class devices on a simulated mock loop; the simulated patient is a " +
	"lumped-parameter model used to exercise the controller and devices, not to predict patient outcomes."

// ModelRisk is the risk of a wrong decision from the model's answers.
const ModelRisk = "Model influence is moderate: simulated runs exercise the controller, the safety supervisor and the device's " +
	"link and alarms, and set the conditions a device is verified in; a wrong simulated patient could let a controller or " +
	"protocol defect pass that a physical loop or a patient would show. Decision consequence is low to moderate: no " +
	"clinical decision rests on the simulation; a device's performance claims are verified on the physical loop. The cases " +
	"below bound the model's error against published figures in the ranges the scenarios use."

// LeftOut is what the model does not represent.
var LeftOut = []string{
	"no coronary circulation (ischaemia is a contractility change, not a flow limitation)",
	"no baroreflex or autoregulation: heart rate and resistances change only when a protocol sets them",
	"no ventricular interaction (septum, pericardium): the ventricles couple only through the circulation",
	"no valve regurgitation but the stopped pump's backflow",
	"no blood damage (haemolysis, thrombosis) and no blood rheology: Newtonian, constant viscosity",
	"fixed heart rate per preset; no arrhythmia",
	"no respiratory variation of pressures and venous return",
}

// CodeVerification summarises how the solver is checked.
const CodeVerification = "The network solver is checked against a fine reference integration (classic RK4 at small fixed " +
	"steps; sim TestNetworkSolverMatchesReference), Simaan's network against the paper's loop (sim TestNetworkIsSimaansLoop), " +
	"and the emulated ADC path against the physics it samples (rig TestSimaanThroughADCPath)."

// jsonCase is a case as fidelity.json has it.
type jsonCase struct {
	ID        string    `json:"id"`
	Case      string    `json:"case"`
	Published Published `json:"published"`
	Simulated *float64  `json:"simulated"`
	Error     *float64  `json:"error"`
	Tolerance Tolerance `json:"tolerance"`
	Unit      string    `json:"unit"`
	Source    string    `json:"source"`
	Rig       string    `json:"rig"`
	Pass      bool      `json:"pass"`
}

// finite is v, or nil when it is not a number JSON can hold.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// WriteJSON writes one entry per case.
func (r *Report) WriteJSON(w io.Writer) error {
	out := make([]jsonCase, len(r.Results))
	for i, x := range r.Results {
		out[i] = jsonCase{ID: x.ID, Case: x.What, Published: x.Published, Simulated: finite(x.Simulated), Error: finite(x.Error),
			Tolerance: x.Tol, Unit: x.Unit, Source: x.Source, Rig: x.Rig, Pass: x.Pass}
	}
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(out)
}

// WriteTable writes one line per case: verdict, id, simulated, published.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", verdict(x.Pass), x.ID, num(x.Simulated, x.Unit), x.PublishedText(), x.Note)
	}
	return tw.Flush()
}

func verdict(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

// num formats v with its unit, to 3 significant digits at least.
func num(v float64, unit string) string {
	if math.IsNaN(v) {
		return "—"
	}
	s := strconv.FormatFloat(v, 'f', decimals(v), 64)
	if unit == "" {
		return s
	}
	return s + " " + unit
}

func decimals(v float64) int {
	switch a := math.Abs(v); {
	case a >= 100:
		return 0
	case a >= 10:
		return 1
	case a >= 1:
		return 2
	}
	return 3
}

// PublishedText is the published figure with its tolerance, or range.
func (r Result) PublishedText() string {
	p := r.Published
	u := ""
	if r.Unit != "" {
		u = " " + r.Unit
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	switch {
	case !p.IsRange() && r.Tol.Below == r.Tol.Above:
		return fmt.Sprintf("%s ± %s%s", f(p.Value), num(r.Tol.Below, ""), u)
	case !p.IsRange():
		lo, hi := r.Accepted()
		return fmt.Sprintf("%s%s (%s to %s)", f(p.Value), u, num(lo, ""), num(hi, ""))
	case p.Min != nil && p.Max != nil:
		return fmt.Sprintf("%s–%s%s", f(*p.Min), f(*p.Max), u)
	case p.Min != nil:
		return fmt.Sprintf("≥ %s%s", f(*p.Min), u)
	}
	return fmt.Sprintf("≤ %s%s", f(*p.Max), u)
}

// ErrorText is the error with its unit, "—" when there is none.
func (r Result) ErrorText() string {
	if math.IsNaN(r.Error) {
		return "—"
	}
	s := num(r.Error, r.Unit)
	if r.Error > 0 {
		s = "+" + s
	}
	return strings.Replace(s, "-", "−", 1)
}

// ToleranceText is the tolerance, or "the range" for a range.
func (r Result) ToleranceText() string {
	if r.Published.IsRange() {
		return "the range"
	}
	if r.Tol.Below == r.Tol.Above {
		return "± " + num(r.Tol.Below, r.Unit)
	}
	return fmt.Sprintf("−%s / +%s", num(r.Tol.Below, r.Unit), num(r.Tol.Above, r.Unit))
}

// WriteFiles writes fidelity.json, fidelity.html and fidelity.pdf to dir.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{{"fidelity.json", r.WriteJSON}, {"fidelity.html", r.WriteHTML}, {"fidelity.pdf", r.WritePDF}} {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// SimulatedText is the simulated value with its unit, "—" when none.
func (r Result) SimulatedText() string { return num(r.Simulated, r.Unit) }
