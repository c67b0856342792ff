package reports

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// view is the content of the HTML and PDF reports, as display text, in
// the order the reports show it. Both renderers draw from it, so they say
// the same.
type view struct {
	RunID        string
	Protocol     string
	Outcome      string // pass, fail, aborted, interrupted, running
	OutcomeTitle string // PASS, FAIL, ...
	AbortReason  string
	Generated    string
	Source       string // "the run record" or "InfluxDB"

	Identity    []kv
	Calibration []calRow
	Summary     []kv
	Criteria    []critRow
	Trace       traceView
	Waves       []waveView
	WaveNote    string
	Trends      []*figure
	TrendNote   string
	Steps       stepsView
	Beats       *beatsView
	Events      eventSummary
	Integrity   []kv
	// IntegrityFailed says why the record fails verification against its
	// seal: then every page says INTEGRITY FAILED. Empty if it verifies.
	IntegrityFailed []string
	ESignatures     []sigRow // the electronic signatures (signatures.go)
	Notes           []string
	Sec             sections

	// DevBuild, if set, says the run was made by a development build:
	// then every page says so.
	DevBuild string
	// CriteriaAppendix lists the evaluations of the criteria that
	// Criteria summarises (evaluated more than once): all of them, or of
	// a criterion evaluated in more than maxIterRows iterations those
	// that did not pass, which AppendixNotes say.
	CriteriaAppendix []critRow
	AppendixNotes    []string
	// CritTrends are the trend plots of the criteria evaluated more than
	// once: the value in each iteration, the limits, the failures.
	CritTrends []*figure
}

// sections numbers the sections that follow the optional beat statistics.
type sections struct{ Beats, Events, Integrity, Signatures int }

// kv is a labelled value of a key-value table. Mono values (hashes, ids)
// are set in a monospace font; Flag marks a value that needs attention.
type kv struct {
	K, V string
	Mono bool
	Flag bool
}

// calRow is one calibration record in force: Points, Residual and
// Operator read from its fields (calDetail), Fields the rest of them.
type calRow struct {
	Channel, Method, Date, Due, Reference, Fields string
	Points, Residual, Operator                    string
	Overdue                                       bool
}

// outcome returns the run's outcome: the result's, else the manifest's,
// else its state (a running run has none yet).
func (r *Report) outcome() string {
	m := &r.run.Manifest
	switch {
	case r.run.Result != nil:
		return string(r.run.Result.Outcome)
	case m.Outcome != "":
		return string(m.Outcome)
	}
	return string(m.State)
}

// view assembles the content of the HTML and PDF reports.
func (r *Report) view() *view {
	m := &r.run.Manifest
	res := r.run.Result
	v := &view{
		RunID:     m.RunID,
		Protocol:  m.Protocol.Name,
		Outcome:   r.outcome(),
		Generated: fmtTime(r.Generated),
		Source:    r.source,
		Criteria:  r.crit,
		Trace:     r.trace,
		Waves:     r.waves,
		WaveNote:  r.wNote,
		Trends:    r.trends,
		TrendNote: r.tNote,
		Steps:     stepStats(r.steps, m.Layout),
		Beats:     r.beats,
		Events:    r.events,
		Notes:     r.notes,
	}
	v.OutcomeTitle = strings.ToUpper(v.Outcome)
	v.Sec = sections{Beats: 7, Events: 7, Integrity: 8, Signatures: 9}
	if v.Beats != nil {
		v.Sec = sections{Beats: 7, Events: 8, Integrity: 9, Signatures: 10}
	}
	if res != nil {
		v.AbortReason = res.AbortReason
	}
	v.Identity = identityRows(m)
	if b, ok := buildRow(m); ok {
		v.Identity = slices.Insert(v.Identity, slices.IndexFunc(v.Identity, func(r kv) bool { return r.K == "Software version" })+1, b)
	}
	v.DevBuild = devBuildNotice(m)
	if k := keptText(m); k != "" { // first among the notes, at the head of every report
		v.Notes = append([]string{"Dry run: " + k + " in the record and InfluxDB (--frames every:" + fmt.Sprint(m.KeptEvery()) +
			"). Every frame was supervised, measured and judged: the statistics and criteria are over all of them; the plots and frames.csv show the kept ones."}, v.Notes...)
	}
	v.Criteria, v.CriteriaAppendix, v.AppendixNotes = summarizeCriteria(r.crit)
	v.CritTrends = critTrends(r.crit)
	v.Criteria = append(v.Criteria, r.unreached...)
	markStarter(v.Identity, r.events.Audit)
	v.Calibration = calibrationRows(m)
	v.Summary = r.summaryRows(v)
	v.Integrity = r.integrityRows()
	v.IntegrityFailed = r.integrityFailures()
	v.ESignatures = r.signatureRows()
	return v
}

// identityRows are the run's identity: what was tested, how, by whom and
// when, as the manifest has it; a missing DUT or operator is flagged.
func identityRows(m *runlog.Manifest) []kv {
	dut := "none identified"
	if d := m.DUT; d != nil {
		dut = fmt.Sprintf("model %s, serial %s, firmware %s", orDash(d.Model), orDash(d.Serial), orDash(d.FW))
		if l := dutLinkText(m.DUTLink); l != "" {
			dut += "; " + l
		}
	}
	operator := m.Operator
	var chans []string
	for _, c := range m.Layout {
		chans = append(chans, withUnit(c.Name, unitLabel(c.Unit)))
	}
	rows := []kv{
		{K: "Run id", V: m.RunID, Mono: true},
		{K: "Protocol", V: m.Protocol.Name + " (" + orDash(m.Protocol.File) + ")"},
		{K: "Protocol description", V: orDash(m.Protocol.Description)},
		{K: "Protocol SHA-256", V: m.Protocol.SHA256, Mono: true},
		{K: "Rig", V: m.Rig + rigModeText(m.RigMode)},
		{K: "Rig config SHA-256", V: m.RigConfigSHA256, Mono: true},
		{K: "Host", V: orDash(m.Host)},
		{K: "CI job", V: jobText(m.Job)},
		{K: "Software version", V: orDash(m.SoftwareVersion)},
		{K: "Device under test", V: dut, Flag: m.DUT == nil},
		{K: "Operator", V: orDash(operator), Flag: operator == ""},
		{K: "Started", V: fmtTime(m.Started)},
		{K: "Ended", V: fmtTime(m.Ended)},
		{K: "Clock", V: fmt.Sprintf("%s, %s Hz nominal", m.Clock, statNum(m.SampleRateHz))},
		{K: "Channels", V: strings.Join(chans, ", ")},
		{K: "Record state", V: string(m.State), Flag: m.State != runlog.StateClosed},
	}
	if k := keptText(m); k != "" {
		rows = slices.Insert(rows, slices.IndexFunc(rows, func(r kv) bool { return r.K == "Channels" }), kv{K: "Frames kept", V: k + " (dry run)", Flag: true})
	}
	return rows
}

// framesText is a count of the frames of the record: "160,000 frames",
// or "16,000 frames (1 frame in 10 kept)".
func framesText(n int64, m *runlog.Manifest) string {
	t := fmtCount(n) + " frames"
	if k := keptText(m); k != "" {
		t += " (" + k + ")"
	}
	return t
}

// keptText says how many frames the record keeps of a run that kept
// fewer than all (runlog.Manifest.FramesKeptEvery): "1 frame in 10
// kept"; "" for a record that keeps every frame.
func keptText(m *runlog.Manifest) string {
	if m.KeptEvery() <= 1 {
		return ""
	}
	return fmt.Sprintf("1 frame in %d kept", m.KeptEvery())
}

// rigModeText says, after the rig's name, that a run was hybrid (manifest
// rig_mode): its patient channels are then the controller's model's, not
// the bench's, which a reader must know before reading any value. ""
// for a numerical rig, the common case whose reports are as they were,
// and for a record that does not say (before schema 1.2.0: numerical).
func rigModeText(mode string) string {
	switch mode {
	case "", runlog.RigModeNumerical:
		return ""
	case runlog.RigModeHybrid:
		return " (hybrid: the patient is the controller's model, the bench its boundary)"
	}
	return " (mode " + mode + ")"
}

// dutLinkText says how the run reached its DUT (manifest dut_link); ""
// when the record does not say (before schema 1.1.0).
func dutLinkText(link string) string {
	switch link {
	case "":
		return ""
	case runlog.DUTLinkSerial:
		return "on a serial port"
	case runlog.DUTLinkPTY:
		return "simulated, over a pseudo-terminal"
	case runlog.DUTLinkInProcess:
		return "simulated, in process"
	}
	return "link " + link
}

// jobText names the CI job that started a run, as far as its CI system
// said: "github, job hil, id 42, runner rig-2, https://…"; "none" when the
// run was not started from CI.
func jobText(j *runlog.Job) string {
	if j == nil {
		return "none"
	}
	parts := []string{j.System}
	for _, p := range [][2]string{{"job ", j.Name}, {"id ", j.ID}, {"runner ", j.Runner}, {"", j.URL}} {
		if p[1] != "" {
			parts = append(parts, p[0]+p[1])
		}
	}
	return strings.Join(parts, ", ")
}

// calibrationRows are the calibration records in force, each overdue if
// its record says so or its due date lies before the run's start.
func calibrationRows(m *runlog.Manifest) []calRow {
	var rows []calRow
	for _, c := range m.Calibration {
		fields := map[string]any{}
		overdue := false
		for k, x := range c.Fields {
			if k == "overdue" {
				overdue, _ = x.(bool)
				continue
			}
			fields[k] = x
		}
		if !overdue && c.Due != "" {
			overdue = dueBefore(c.Due, m.Started)
		}
		pts, resid, op, fs := calDetail(fields, channelUnit(m.Layout, c.Channel))
		rows = append(rows, calRow{Channel: c.Channel, Method: orDash(c.Method), Date: calDate(c.Date),
			Due: calDate(c.Due), Reference: orDash(c.Reference), Fields: fs, Overdue: overdue,
			Points: pts, Residual: resid, Operator: op})
	}
	return rows
}

// summaryRows are the outcome section: outcome, reason, duration, counts
// of frames, steps, criteria by verdict and requirements passed, and
// whether InfluxDB has every point.
func (r *Report) summaryRows(v *view) []kv {
	res := r.run.Result
	counts := map[string]int{}
	for _, c := range r.crit {
		counts[c.Verdict]++
	}
	var cparts []string
	for _, vd := range []runlog.Verdict{runlog.VerdictPass, runlog.VerdictMarginal, runlog.VerdictFail, runlog.VerdictWarn, runlog.VerdictNoData, runlog.VerdictSuperseded} {
		if n := counts[string(vd)]; n > 0 {
			cparts = append(cparts, fmt.Sprintf("%d %s", n, vd))
		}
	}
	critText := fmt.Sprintf("%d evaluated", len(r.crit))
	if len(cparts) > 0 {
		critText += ": " + strings.Join(cparts, ", ")
	}
	if n := len(r.unreached); n > 0 {
		critText += fmt.Sprintf("; %d not reached", n)
	}
	tested, reqs := 0, len(r.trace.Reqs)
	for _, q := range r.trace.Reqs {
		if q.Status == "pass" || q.Status == "pass with warnings" {
			tested++
		}
	}
	rows := []kv{{K: "Outcome", V: v.OutcomeTitle, Flag: v.Outcome != string(runlog.OutcomePass)}}
	if v.AbortReason != "" {
		rows = append(rows, kv{K: "Reason", V: v.AbortReason, Flag: true})
	}
	dur := "-"
	if res != nil {
		dur = fmtDuration(res.DurationS)
	} else if r.lastT > 0 {
		dur = fmtDuration(float64(r.lastT)/1e9) + " (to the last frame)"
	}
	rows = append(rows,
		kv{K: "Duration", V: dur},
		kv{K: "Frames", V: framesText(r.frames.Frames, &r.run.Manifest)},
		kv{K: "Steps executed", V: fmt.Sprint(len(r.steps))},
		kv{K: "Criteria", V: critText, Flag: counts["fail"]+counts["no-data"] > 0},
		kv{K: "Requirements", V: fmt.Sprintf("%d of %d passed; %s flagged in the traceability matrix", tested, reqs, plural(r.trace.Flags, "row")), Flag: r.trace.Flags > 0},
	)
	if in := r.run.Influx(); in != nil { // as sync last recorded it (delivery.json), else as at the close
		t := "all points delivered"
		if !in.Delivered {
			t = fmt.Sprintf("not all delivered: %d points spooled for `mockloop sync`", in.SpooledPoints)
			if in.Error != "" {
				t += "; last error: " + in.Error
			}
		}
		rows = append(rows, kv{K: "InfluxDB", V: t, Flag: !in.Delivered})
	}
	return rows
}

// integrityRows are the record integrity section: what of the frames,
// events, beats and result could be read, and what was damaged or is
// missing. A report made from InfluxDB says it verified no checksum.
func (r *Report) integrityRows() []kv {
	res := r.run.Result
	st := r.frames
	integrity := "every frame record read and its checksum verified"
	if !st.Intact() {
		integrity = fmt.Sprintf("damaged: %d bytes could not be read", st.UnreadBytes)
	}
	rows := []kv{
		{K: "Frame segments", V: fmt.Sprintf("%s, %s records, %s", plural(st.Segments, "segment"), fmtCount(st.Records), framesText(st.Frames, &r.run.Manifest))},
		{K: "Frame integrity", V: integrity, Flag: !st.Intact()},
	}
	if r.influx { // no segment was read: say what was counted instead
		rows = []kv{
			{K: "Frame points", V: fmt.Sprintf("%s frames counted in InfluxDB", fmtCount(st.Frames))},
			{K: "Frame integrity", V: "not checked: this report was made from InfluxDB; the run record's checksums were not read", Flag: true},
		}
	}
	rows = append(append(r.sealRows(), r.verdictRows()...), rows...) // the seal first: it covers every file, the checksums only the frames
	for _, d := range st.Damaged {
		rows = append(rows, kv{K: "Damage", V: d.String(), Flag: true})
	}
	if res != nil && res.Frames != st.Frames {
		rows = append(rows, kv{K: "Frame count", V: fmt.Sprintf("result.json says %s frames, the segments hold %s", fmtCount(res.Frames), fmtCount(st.Frames)), Flag: true})
	}
	evText := fmt.Sprintf("%s events", fmtCount(r.events.Total))
	if r.events.Missing {
		evText = "events.jsonl is missing"
	} else if r.events.Malformed > 0 {
		evText += fmt.Sprintf(", %s malformed", plural(r.events.Malformed, "line"))
	}
	rows = append(rows, kv{K: "Events", V: evText, Flag: r.events.Missing || r.events.Malformed > 0})
	beats := "no beats file"
	if r.beats != nil {
		beats = fmt.Sprintf("%s beats", fmtCount(r.beats.Beats))
		if r.beats.Malformed > 0 {
			beats += fmt.Sprintf(", %s malformed", plural(r.beats.Malformed, "line"))
		}
	}
	rows = append(rows, kv{K: "Beats", V: beats, Flag: r.beats != nil && r.beats.Malformed > 0})
	if res == nil {
		rows = append(rows, kv{K: "Result", V: "the record has no result.json (the run is still running, or ended without closing it)", Flag: true})
	}
	return rows
}

// dueBefore reports whether a calibration due date (ISO 8601 date or RFC
// 3339 time) lies before t.
func dueBefore(due string, t time.Time) bool {
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if d, err := time.Parse(layout, due); err == nil {
			if layout == "2006-01-02" {
				d = d.Add(24 * time.Hour) // due on that day: overdue from the next
			}
			return d.Before(t)
		}
	}
	return false
}
