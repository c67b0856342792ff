package reports

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mockloop/mockloop/internal/flock"
	"github.com/mockloop/mockloop/runlog"
)

// Formats, as named on the command line (mockloop report --format).
const (
	FormatHTML  = "html"  // HTMLFile
	FormatPDF   = "pdf"   // PDFFile
	FormatJUnit = "junit" // JUnitFile
	FormatCSV   = "csv"   // FramesCSVFile, CriteriaCSVFile and, with beats, BeatsCSVFile (html and pdf bring CriteriaCSVFile too)
)

// DefaultFormats are made at the end of every run and by mockloop report
// without --format. The HTML and PDF bring criteria.csv with them (the
// per-iteration detail they leave out).
var DefaultFormats = []string{FormatHTML, FormatPDF, FormatJUnit}

// Names of the files the reports are written to, in the run directory
// unless Options.OutDir says otherwise.
const (
	HTMLFile        = "report.html"
	PDFFile         = "report.pdf"
	JUnitFile       = "junit.xml"
	FramesCSVFile   = "frames.csv"
	CriteriaCSVFile = "criteria.csv"
	BeatsCSVFile    = "beats.csv"
)

// Options say which reports Generate makes and where.
type Options struct {
	// Formats are the formats to make (FormatHTML, ...); nil means
	// DefaultFormats.
	Formats []string
	// OutDir is the directory the files are written to; empty means the
	// run's directory. It is created if needed.
	OutDir string
	// Frames selects the frames of frames.csv and the beats of beats.csv.
	Frames Selection
	// Generated is the time shown as the report's making; zero means now.
	Generated time.Time
	// Trusted says whether the key of a signature is in the keyring of
	// trusted keys; nil: not checked, and the report says so.
	Trusted func(fingerprint string) bool
}

// ParseFormats parses a comma-separated list of formats ("html,pdf"),
// checking each and dropping repeats.
func ParseFormats(list string) ([]string, error) {
	var out []string
	for f := range strings.SplitSeq(list, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		switch f {
		case FormatHTML, FormatPDF, FormatJUnit, FormatCSV:
		default:
			return nil, fmt.Errorf("reports: unknown format %q (want html, pdf, junit or csv)", f)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("reports: no format given")
	}
	return out, nil
}

// WriteAll makes the reports of the run in dir, in dir, in the given
// formats (DefaultFormats if none): what the engine calls at the end of
// every run. Each format is attempted even when another fails; the error
// joins all failures.
func WriteAll(dir string, formats ...string) error {
	_, err := Generate(dir, Options{Formats: formats})
	return err
}

// Generate makes the reports of the run in dir as opt says and returns the
// paths of the files written. Each file is written to a temporary name and
// renamed into place, so a report is either whole or absent (an older one
// stays until the new one is complete). Each format is attempted even when
// another fails; the error joins all failures. A record that fails
// verification against its seal (runlog.Verify) is reported all the same,
// saying INTEGRITY FAILED on every page, and the error wraps ErrIntegrity.
func Generate(dir string, opt Options) ([]string, error) {
	formats, scan, err := opt.formats()
	if err != nil {
		return nil, err
	}
	if err := opt.Frames.check(); err != nil {
		return nil, err
	}
	out := opt.OutDir
	if out == "" {
		out = dir
	}
	files, err := generate(context.Background(), &recordSource{dir: dir}, out, formats, scan, opt)
	if err != nil && !errors.Is(err, ErrIntegrity) {
		// Not even readable, e.g. a manifest edited into bad JSON: the
		// cause may well be tampering, and that is what to say first.
		if v, verr := runlog.Verify(dir); verr == nil && !v.Intact() {
			err = errors.Join(fmt.Errorf("reports: %w: %s", ErrIntegrity, strings.Join(v.Failures(), "; ")), err)
		}
	}
	return files, err
}

// generate is Generate for the run in src, writing to out.
func generate(ctx context.Context, src source, out string, formats []string, scan bool, opt Options) ([]string, error) {
	r, err := loadFrom(ctx, src, scan)
	if err != nil {
		return nil, err
	}
	if !opt.Generated.IsZero() {
		r.Generated = opt.Generated.UTC()
	}
	r.distrust(opt.Trusted)
	var beats func(io.Writer) error
	if r.hasBeats() {
		beats = func(w io.Writer) error { return r.beatsCSV(ctx, w, opt.Frames) }
	}
	files, err := r.write(out, formats, opt.Frames, func(w io.Writer) error { return r.framesCSV(ctx, w, opt.Frames) }, beats)
	if err == nil {
		err = r.integrityErr() // written all the same: the auditor must see what the record holds
	}
	return files, err
}

// formats returns the formats opt asks for (DefaultFormats if none),
// checked, and whether they need the pass over the frames: only the HTML
// and PDF do.
func (opt Options) formats() (formats []string, scan bool, err error) {
	formats = opt.Formats
	if len(formats) == 0 {
		formats = DefaultFormats
	}
	if formats, err = ParseFormats(strings.Join(formats, ",")); err != nil {
		return nil, false, err
	}
	return formats, slices.Contains(formats, FormatHTML) || slices.Contains(formats, FormatPDF), nil
}

// write makes the reports in the given formats in directory out, each
// file atomically; the frames and beats CSV come from the given writers
// (beats nil: the run has none). Each format is attempted even when another
// fails; the error joins all failures.
func (r *Report) write(out string, formats []string, sel Selection, framesCSV, beatsCSV func(io.Writer) error) ([]string, error) {
	if sel.Step != "" && !slices.ContainsFunc(r.steps, func(s stepExec) bool { return s.Path == sel.Step }) {
		return nil, fmt.Errorf("reports: %w: the run has no step %q", ErrSelection, sel.Step)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	var written []string
	var errs []error
	write := func(name string, fn func(io.Writer) error) {
		path := filepath.Join(out, name)
		if err := writeFileAtomic(path, fn); err != nil {
			errs = append(errs, fmt.Errorf("reports: %s: %w", path, err))
			return
		}
		written = append(written, path)
	}
	for _, f := range formats {
		switch f {
		case FormatHTML:
			write(HTMLFile, r.WriteHTML)
		case FormatPDF:
			write(PDFFile, r.WritePDF)
		case FormatJUnit:
			write(JUnitFile, r.WriteJUnit)
		case FormatCSV:
			write(CriteriaCSVFile, r.WriteCriteriaCSV)
			write(FramesCSVFile, framesCSV)
			if beatsCSV != nil {
				write(BeatsCSVFile, beatsCSV)
			}
		}
	}
	// The HTML and the PDF list the evaluations of a long loop's criteria
	// only in part and point to criteria.csv for all: it goes with them.
	if !slices.Contains(formats, FormatCSV) && (slices.Contains(formats, FormatHTML) || slices.Contains(formats, FormatPDF)) {
		write(CriteriaCSVFile, r.WriteCriteriaCSV)
	}
	return written, errors.Join(errs...)
}

// writeFileAtomic writes path through fn via a temporary file in the same
// directory, synced and then renamed over path. The temporary file is
// removed on every way out but the process's death; it is flocked while it
// is written, so that the temporary files a killed process left (nobody
// holds them) are removed by the next report, and those of a report being
// made by another process are not.
func writeFileAtomic(path string, fn func(io.Writer) error) (err error) {
	removeStaleTemps(path)
	f, err := os.CreateTemp(filepath.Dir(path), tempPattern(path))
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := flock.Lock(f); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := fn(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	done = true
	return f.Close()
}

// tempPattern is the os.CreateTemp pattern of the temporary files of path.
func tempPattern(path string) string { return "." + filepath.Base(path) + ".tmp-*" }

// removeStaleTemps removes the temporary files of path that no process
// holds: those of a report that was killed while it wrote them.
func removeStaleTemps(path string) {
	names, _ := filepath.Glob(filepath.Join(filepath.Dir(path), tempPattern(path)))
	for _, name := range names {
		f, _, err := runlog.OpenFile(name)
		if err != nil {
			continue
		}
		if ok, _ := flock.Lock(f); ok {
			os.Remove(name)
		}
		f.Close()
	}
}
