// Package reports turns a run record (package runlog) into what people read:
// the summary a run prints at its end and, from the same record, the V&V
// reports that quality engineers sign and CI jobs parse.
//
// # Reports
//
// Generate (and WriteAll, its short form for the engine at the end of every
// run) writes any of these next to the record, or into another directory:
//
//	report.html   one self-contained file: inline CSS and SVG, no script, no
//	              fetch (a Content-Security-Policy forbids any), for a browser
//	report.pdf    the same content paginated for signature: every page has a
//	              header with the run id and outcome and a "page N of M" footer
//	junit.xml     one <testsuite> per run, valid against the Apache Ant JUnit
//	              schema with test case properties, for CI
//	criteria.csv  every evaluation of every criterion; made with the HTML
//	              and the PDF too, which summarise a loop's iterations
//	frames.csv    the frames, all or a selection (Selection)
//	beats.csv     the detected beats, when the record has beats.jsonl
//
// All of them are made from the record alone — manifest.json, result.json,
// events.jsonl, the frame segments and, if present, beats.jsonl — so they can
// be made again at any time (`mockloop report`) for a run that passed,
// failed, was aborted or was interrupted, and say the same thing.
//
// # One pass over the frames
//
// A 24-hour run at 1 kHz is 86.4 million frames, more than fits in the
// memory of the Raspberry Pi the reports are made on. Load therefore reads
// the frames once, in order, and keeps only what plots can show: for the
// trend of the whole run, per plot column, each channel's minimum, maximum
// and mean (an envelope; when the run turns out longer than expected,
// neighbouring columns are merged, so the column count stays fixed); and the
// last seconds of each step at full detail, reduced the same way to a few
// hundred columns. Peaks are never lost to decimation: a column's extremes
// are exactly those of its frames. Memory is bounded by the number of plot
// columns and steps, not by the length of the run. Events and beats are read
// line by line for the same reason; a DUT frame in events.jsonl is counted,
// not kept.
//
// # HTML and PDF content
//
// In this order: run identity (run id, rig, host, CI job, operator, DUT, software
// version, protocol and rig config with their SHA-256, calibration records
// in force, as rows: method, dates, reference standard, points "0.006 V →
// 0 mmHg; …", the fit's residual at them, operator), outcome with the
// abort reason, the criteria table (a criterion evaluated in every
// iteration of a repeat or sweep is one row, "333/336 pass, 3 fail, worst
// 3.91 L/min at iteration 250 (#997), t = 249 h 02 min; first failure …",
// the worst being closest to or furthest beyond a limit, t the start of
// its step; and a trend plot of its value in every iteration with its
// limits as lines and its failed and marginal iterations marked, two to a
// row in the PDF; appendix A lists every evaluation of a criterion of at
// most maxIterRows (20) iterations, of one of more only those that did not
// pass, and points to criteria.csv for all), the traceability matrix (requirement → criteria → verdicts; a requirement
// without any evaluated criterion and a criterion id not in the protocol's
// catalogue are flagged), plots (waveforms of the end of each step, pressures
// together and flows together; trends of the whole run from the envelopes),
// per-step channel statistics (a loop's iterations pooled by the step
// as written), beat statistics (only with beats.jsonl, pooled alike),
// events and faults (the timeline leaves out the routine events of a
// loop's iterations but the first and the last) (safety trips, faults, acquisition problems, operator
// actions; DUT traffic only as counts), the integrity of the record, and a
// signature block.
//
// A run made by a development build (runlog.Build: not a tagged release,
// or a record without a build whose version is "dev") says "DEVELOPMENT
// BUILD <version> — not for design-history evidence" atop the HTML, in
// the footer of every PDF page and as JUnit's development_build property.
// A PDF table cell wraps between words only: its font shrinks until its
// longest word fits, and a name still too wide breaks after a joint
// (- . _ /), never inside a word (fpdf's own wrapping did).
//
// The integrity of a record is its verification against its seal
// (runlog.Verify), made before anything is shown: a record that fails it is
// still rendered — the auditor must see what it holds — but the top of the
// HTML and the header of every PDF page say INTEGRITY FAILED, the
// integrity section lists what differs, JUnit has a failing case "record
// integrity", and Generate's error wraps ErrIntegrity. The frame checksums
// (CRC-32C) only say which records could be read: anyone can recompute them.
//
// # JUnit
//
// Each criterion as written, always-invariants included, is a <testcase>:
// classname is "step path/name" without dots, on which CI tools split
// class names: "step 3-2/hold" for step 3.2, a name's dots as middle dots
// ("always" for invariants); name the requirement id (or, without one,
// the criterion's name) and the measure. A criterion evaluated in many
// iterations (a repeat, a sweep, a retried step) is one case, named
// without its iteration so that CI tracks the same test from run to run
// however long the loop ran (before, one case per evaluation, "#k": a 12 h
// run had 77): its properties are its worst evaluation's plus iterations,
// iterations_<verdict> counts, worst_iteration, worst_step,
// worst_start_s and first_failure_iteration; its failure message lists
// every failed iteration. Its <properties> (an extension of the Ant
// schema that Jenkins reads; testdata/junit.xsd has it) carry step, value,
// lo, hi, unit, limits and verdict. A catalogue requirement an aborted or
// interrupted run never reached is a <skipped> case saying why. A failed
// criterion is a <failure type="fail"> whose message gives value and limits;
// a criterion without data is a <failure type="no-data"> with the reason; a
// failed on_fail: abort criterion, and the abort or interruption of the run
// itself (an extra test case named "run aborted" or "run interrupted"), are
// <error>s; a warning passes and is described in the suite's <system-out>,
// since the schema allows no output per test case. The suite's properties
// carry the run's identity.
//
// # CSV
//
// Comma-separated, RFC 4180 quoting, UTF-8, one header row. A column whose
// values have a unit names it in brackets after the channel name, e.g.
//
//	t [s],lvp [mmHg],aop [mmHg],flow_ao [L/min],dut.alarms,temp [°C]
//
// so that the name and the unit can be told apart even when names contain
// underscores, and every CSV reader takes the file as it is (a second header
// line with units would be read as data). Times are seconds since the run's
// epoch, exact to the nanosecond. Values are the float32 stored in the
// record, written in the shortest form that reads back to the same float32;
// NaN and ±Inf are written NaN, +Inf and -Inf. A Selection (a step path, a
// time range, every N-th frame) restricts frames.csv; the step and time range
// restrict beats.csv too. criteria.csv has the unit of each row in a column
// of its own, since criteria differ in unit, and, after the original
// columns, the iteration and the start and end of the step execution
// ("iteration", "step_start [s]", "step_end [s]"). The reports are not
// covered by the record's seal (runlog): they are made again from the
// sealed record at any time and say whether it verifies.
//
// # One package
//
// About 5,700 lines of non-test code, kept as one package on purpose. It is
// one model with two sources and five writers: a source (the record, or
// InfluxDB) gives a runHead and frames; loadFrom and scanFrames reduce them
// to the Report (steps, criteria, traceability, envelopes, beat table);
// view turns that into the display text that the HTML and the PDF writer
// both draw, so they say the same; JUnit and CSV read the Report too. The
// two seams that look narrow are not. The PDF writer (~840 lines) draws
// the view, its figures, verdict classes and event classes; a package of
// its own would have to import an exported copy of that whole model, a
// second API with no other user. The InfluxDB source (~1,200 lines)
// builds a runHead, steps and an event summary with the classifier the
// record's events go through, and fills the trend envelope from
// InfluxDB's aggregates (summarizer); apart, it would need those types and
// the classifier exported, and the record and InfluxDB would drift apart
// where they must say the same. Each file is one part (pdf.go, html.go,
// junit.go, csv.go, influx*.go, source.go, report.go, view.go), and the
// package's unexported model is what keeps their output consistent.
//
// # Imports
//
// Of the project, runlog (the record), verdict (the criteria judged again
// from the record's frames and protocol copy), influx (reports made from
// InfluxDB), internal/termtext (the summary's text on a terminal) and
// internal/flock (a file being made is locked, so one a killed report left
// is known) only. It must not import rig or protocols: a report is made
// from the record alone, so it can be made again at any time (verdict
// reads the protocol from the record's own copy).
package reports
