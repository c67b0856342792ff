package influx

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/mockloop/mockloop/internal/durable"
	"github.com/mockloop/mockloop/runlog"
)

// The spool: <run dir>/spool/ holds what has not reached InfluxDB yet.
//
//	00000001.lp.gz   a batch: gzip-compressed line protocol, exactly the body
//	                 of the write request that failed; the gzip header's
//	                 comment says "points=N". Written to a temporary file,
//	                 fsynced, renamed, directory fsynced.
//	state.json       what else is owed (sinkState); absent once delivered
//	rejected/        batches the server refused as invalid (HTTP 400, 422,
//	                 or 413 for a batch halved down to minBatchPoints), kept
//	                 for inspection; replaying cannot help them
//
// Batches are replayed oldest first and deleted only after the server
// acknowledged them (HTTP 204). A batch replayed that had in fact been
// written (the acknowledgement was lost) writes the same points again, which
// InfluxDB stores once: a point is identified by measurement, tag set and
// timestamp, and a second write replaces the first with the same values.
const (
	spoolDirName  = "spool"
	spoolExt      = ".lp.gz"
	spoolState    = "state.json"
	rejectedDir   = "rejected"
	pointsComment = "points="
)

// Defaults of Config.
const (
	DefaultBucket    = "mockloop"
	DefaultBatchSize = 5000
	defaultTimeout   = 10 * time.Second
	defaultRetryMin  = time.Second
	defaultRetryMax  = 30 * time.Second
)

// Config says which InfluxDB to write to and how; the Sink and Replay
// share it. The CLI fills it from --influx and the MOCKLOOP_INFLUX_*
// environment variables.
type Config struct {
	// URL is the server's base URL, e.g. http://localhost:8086.
	URL string
	// Org is the organisation; "" on InfluxDB 1.8.
	Org string
	// Bucket is the bucket, default "mockloop"; on InfluxDB 1.8 "db/rp",
	// or "db" for the database's default retention policy.
	Bucket string
	// Token authenticates the writes: an API token, or "user:password" (or
	// "" without authentication) on 1.8. It is sent in the Authorization
	// header only, never logged, and never written to the run directory;
	// error messages are scrubbed of it.
	Token string
	// BatchSize is the number of points per write request, default 5000.
	BatchSize int
	// Timeout bounds one write request, default 10 s.
	Timeout time.Duration
	// RetryMin and RetryMax bound the backoff between attempts to replay
	// the spool while the server is unreachable, default 1 s and 30 s.
	RetryMin, RetryMax time.Duration
	// Logf, if set, is told when the server becomes unreachable and when
	// it is back; it is never given the token.
	Logf func(format string, args ...any)
}

// CheckURL reports why s is not a server's URL, or nil: a rig config's
// influx url is checked with it before a run, not when the sink starts.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("influx: URL %q: want http(s)://host[:port]", s)
	}
	return nil
}

// withDefaults returns c with its zero fields defaulted, or an error.
func (c Config) withDefaults() (Config, error) {
	if err := CheckURL(c.URL); err != nil {
		return c, err
	}
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.RetryMin <= 0 {
		c.RetryMin = defaultRetryMin
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(defaultRetryMax, c.RetryMin)
	}
	return c, nil
}

// influxWriter writes gzip-compressed line protocol batches to InfluxDB and
// keeps those it could not write in a spool directory. It is used by one
// goroutine at a time.
//
// It posts through the client library's HTTP service (authorization,
// user agent, error decoding, Retry-After), not through its write APIs: the
// batch is compressed once, by the sink, and the same bytes are the request
// body and, if the request fails, the spool file, so a replay sends exactly
// what the failed request would have. The library's retry buffer is not
// involved at all.
type influxWriter struct {
	cfg    Config
	client influxdb2.Client
	svc    http2.Service
	url    string
	dir    string // the spool directory

	files    []spoolFile // spooled batches, oldest first
	nextSeq  int
	rejected int64 // points in rejected/
	lastErr  string
	backoff  time.Duration // current delay between replay attempts

	// limit is the most points a batch may have, learnt from the server's
	// HTTP 413 (0: none yet). Written by the writing goroutine, read by the
	// sink's encoder to make smaller batches.
	limit atomic.Int64
}

// spoolFile is one spooled batch.
type spoolFile struct {
	seq    int
	points int64
}

// newInfluxWriter returns a writer for cfg (with defaults applied) whose
// spool is dir; it finds batches already spooled there.
func newInfluxWriter(cfg Config, dir string) (*influxWriter, error) {
	opts := influxdb2.DefaultOptions().SetHTTPRequestTimeout(uint(max(1, (cfg.Timeout+time.Second-1)/time.Second)))
	client := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)
	svc := client.HTTPService()
	q := url.Values{"org": {cfg.Org}, "bucket": {cfg.Bucket}, "precision": {"ns"}}
	w := &influxWriter{
		cfg:     cfg,
		client:  client,
		svc:     svc,
		url:     svc.ServerAPIURL() + "write?" + q.Encode(),
		dir:     dir,
		nextSeq: 1,
		backoff: cfg.RetryMin,
	}
	if err := w.load(); err != nil {
		client.Close()
		return nil, err
	}
	return w, nil
}

// close releases the client's connections.
func (w *influxWriter) close() { w.client.Close() }

// load lists the spool directory's batches and rejected points.
func (w *influxWriter) load() error {
	ents, err := os.ReadDir(w.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("influx: spool: %w", err)
	}
	for _, e := range ents {
		seq, ok := spoolSeq(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		n, err := spoolPoints(filepath.Join(w.dir, e.Name()))
		if err != nil {
			return fmt.Errorf("influx: spool: %w", err)
		}
		w.files = append(w.files, spoolFile{seq, n})
		w.nextSeq = max(w.nextSeq, seq+1)
	}
	slices.SortFunc(w.files, func(a, b spoolFile) int { return a.seq - b.seq })
	rej, err := os.ReadDir(filepath.Join(w.dir, rejectedDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("influx: spool: %w", err)
	}
	for _, e := range rej {
		if seq, ok := spoolSeq(e.Name()); ok {
			n, err := spoolPoints(filepath.Join(w.dir, rejectedDir, e.Name()))
			if err != nil {
				return fmt.Errorf("influx: spool: %w", err)
			}
			w.rejected += n
			w.nextSeq = max(w.nextSeq, seq+1)
		}
	}
	if w.rejected > 0 {
		w.lastErr = fmt.Sprintf("%d points were refused by the server as invalid, kept in %s", w.rejected, filepath.Join(spoolDirName, rejectedDir))
	}
	return nil
}

// spoolName is the file name of batch seq.
func spoolName(seq int) string { return fmt.Sprintf("%08d%s", seq, spoolExt) }

// spoolSeq parses a batch file name.
func spoolSeq(name string) (int, bool) {
	num, ok := strings.CutSuffix(name, spoolExt)
	if !ok || len(num) < 8 {
		return 0, false
	}
	seq, err := strconv.Atoi(num)
	return seq, err == nil && seq > 0
}

// spoolPoints returns the number of points of a batch file, from its gzip
// header or, failing that, by counting its lines.
func spoolPoints(name string) (int64, error) {
	f, size, err := runlog.OpenFile(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(io.LimitReader(f, size)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if s, ok := strings.CutPrefix(zr.Comment, pointsComment); ok {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			return n, nil
		}
	}
	var n int64
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
		}
	}
	return n, sc.Err()
}

// spooledPoints is the number of points in the spool's batches.
func (w *influxWriter) spooledPoints() int64 {
	var n int64
	for _, f := range w.files {
		n += f.points
	}
	return n
}

// writeError is a failed write: transient (the server is unreachable,
// overloaded, or refuses us for now — auth, missing database — and the batch
// is kept to be retried) or permanent (the server refused the batch itself
// and always will).
type writeError struct {
	msg        string
	status     int // HTTP status, 0 if there was no answer
	permanent  bool
	retryAfter time.Duration
}

func (e *writeError) Error() string { return e.msg }

// post writes one gzip-compressed batch.
func (w *influxWriter) post(ctx context.Context, body []byte) *writeError {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	perr := w.svc.DoPostRequest(ctx, w.url, bytes.NewReader(body), func(req *http.Request) {
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}, func(resp *http.Response) error {
		_, err := io.Copy(io.Discard, resp.Body)
		if cerr := resp.Body.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if perr == nil {
		return nil
	}
	e := &writeError{msg: w.scrub(perr.Error()), status: perr.StatusCode}
	if perr.StatusCode != 0 {
		e.msg = fmt.Sprintf("HTTP %d: %s", perr.StatusCode, e.msg)
	}
	switch perr.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		e.permanent = true
	}
	e.retryAfter = time.Duration(perr.RetryAfter) * time.Second
	return e
}

// minBatchPoints is the floor of the halving of batches on HTTP 413: a
// batch this small that is still too large is refused for good.
const minBatchPoints = 50

// write writes a batch of points. While the server answers 413 (the batch
// is over its body size limit) it halves the batch, down to
// minBatchPoints, and writes the halves; the size that was refused is
// remembered (limit), so later batches are split before they are sent and
// the sink makes smaller ones. Halves written before another one failed are
// written again when the whole batch is retried, which is harmless: the
// points replace themselves.
func (w *influxWriter) write(ctx context.Context, body []byte, points int64) *writeError {
	if lim := w.limit.Load(); lim == 0 || points <= lim || points <= minBatchPoints {
		werr := w.post(ctx, body)
		if werr == nil || werr.status != http.StatusRequestEntityTooLarge || points <= minBatchPoints {
			return werr
		}
		lim := max(minBatchPoints, points/2)
		if old := w.limit.Load(); old == 0 || lim < old {
			w.limit.Store(lim)
			w.logf("influx: the server refused a batch of %d points as too large (HTTP 413); batches of at most %d points from now on", points, lim)
		}
	}
	halves, err := splitBatch(body, points)
	if err != nil {
		return &writeError{msg: "splitting a batch the server refused as too large: " + err.Error(), permanent: true}
	}
	for _, h := range halves {
		if werr := w.write(ctx, h.body, h.points); werr != nil {
			return werr
		}
	}
	return nil
}

// batchPart is a part of a split batch.
type batchPart struct {
	body   []byte
	points int64
}

// maxBatchBytes bounds the line protocol of a batch decompressed to be
// split: far above any batch the sink makes.
const maxBatchBytes = 1 << 30

// splitBatch splits a gzip-compressed batch of points lines into two
// batches of about half as many lines each.
func splitBatch(body []byte, points int64) ([2]batchPart, error) {
	var parts [2]batchPart
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return parts, err
	}
	lp, err := io.ReadAll(io.LimitReader(zr, maxBatchBytes))
	if err != nil {
		return parts, err
	}
	cut, n := 0, int64(0)
	for n < points/2 {
		i := bytes.IndexByte(lp[cut:], '\n')
		if i < 0 {
			break
		}
		cut += i + 1
		n++
	}
	if n == 0 || n == points {
		return parts, fmt.Errorf("%d lines for %d points", n, points)
	}
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	for k, part := range [2]struct {
		lp []byte
		n  int64
	}{{lp[:cut], n}, {lp[cut:], points - n}} {
		var b bytes.Buffer
		if err := gzipBatch(zw, &b, part.lp, part.n); err != nil {
			return parts, err
		}
		parts[k] = batchPart{b.Bytes(), part.n}
	}
	return parts, nil
}

// scrub removes the token from a message, should a library or server ever
// echo it.
func (w *influxWriter) scrub(s string) string {
	if len(w.cfg.Token) >= 4 {
		s = strings.ReplaceAll(s, w.cfg.Token, "[token]")
	}
	return s
}

// spool writes a batch durably as the spool's newest file.
func (w *influxWriter) spool(body []byte, points int64) error {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return fmt.Errorf("influx: spool: %w", err)
	}
	seq := w.nextSeq
	if err := durable.WriteFile(w.dir, spoolName(seq), body); err != nil {
		return fmt.Errorf("influx: spool: %w", err)
	}
	w.nextSeq++
	w.files = append(w.files, spoolFile{seq, points})
	return nil
}

// reject keeps a batch the server refused in rejected/, durably.
func (w *influxWriter) reject(body []byte, points int64, why *writeError) error {
	dir := filepath.Join(w.dir, rejectedDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("influx: spool: %w", err)
	}
	seq := w.nextSeq
	if err := durable.WriteFile(dir, spoolName(seq), body); err != nil {
		return fmt.Errorf("influx: spool: %w", err)
	}
	w.nextSeq++
	w.rejected += points
	w.lastErr = fmt.Sprintf("%d points refused by the server, kept in %s: %s", w.rejected, filepath.Join(spoolDirName, rejectedDir), why.msg)
	return nil
}

// replayOldest writes the oldest spooled batch and, once the server has
// acknowledged it, deletes it. It returns the points written; a refused
// batch is moved to rejected/. The error is a transient write error (the
// batch stays) or a failure of the spool itself.
func (w *influxWriter) replayOldest(ctx context.Context) (int64, error) {
	f := w.files[0]
	name := filepath.Join(w.dir, spoolName(f.seq))
	body, err := runlog.ReadFile(name, maxSpoolFile)
	if errors.Is(err, fs.ErrNotExist) {
		// Removed behind our back (by hand, or by a concurrent sync that
		// delivered it): nothing to replay.
		w.files = w.files[1:]
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("influx: spool: %w", err)
	}
	if werr := w.write(ctx, body, f.points); werr != nil {
		if !werr.permanent {
			w.lastErr = werr.msg
			return 0, werr
		}
		if err := os.MkdirAll(filepath.Join(w.dir, rejectedDir), 0o755); err != nil {
			return 0, fmt.Errorf("influx: spool: %w", err)
		}
		if err := os.Rename(name, filepath.Join(w.dir, rejectedDir, spoolName(f.seq))); err != nil {
			return 0, fmt.Errorf("influx: spool: %w", err)
		}
		w.files = w.files[1:]
		w.rejected += f.points
		w.lastErr = fmt.Sprintf("%d points refused by the server, kept in %s: %s", w.rejected, filepath.Join(spoolDirName, rejectedDir), werr.msg)
		return 0, nil
	}
	// Acknowledged: the file may go. Its removal need not be durable: a
	// file that reappears after a crash is replayed again, harmlessly.
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("influx: spool: %w", err)
	}
	w.files = w.files[1:]
	return f.points, nil
}

// nextBackoff returns the delay before the next replay attempt after a
// failed one, doubling it up to RetryMax, or the server's Retry-After if
// that is longer.
func (w *influxWriter) nextBackoff(err error) time.Duration {
	d := w.backoff
	w.backoff = min(2*w.backoff, w.cfg.RetryMax)
	var werr *writeError
	if errors.As(err, &werr) && werr.retryAfter > d {
		d = werr.retryAfter
	}
	return d
}

// logf logs through the config's Logf, if any.
func (w *influxWriter) logf(format string, args ...any) {
	if w.cfg.Logf != nil {
		w.cfg.Logf(format, args...)
	}
}

// gzipBatch compresses line protocol as a batch body into dst (reset
// first), with the point count in the gzip header, using zw (reset to dst).
// BestSpeed: on a Raspberry Pi the CPU is scarcer than the bandwidth.
func gzipBatch(zw *gzip.Writer, dst *bytes.Buffer, lp []byte, points int64) error {
	dst.Reset()
	zw.Reset(dst)
	zw.Comment = pointsComment + strconv.FormatInt(points, 10)
	if _, err := zw.Write(lp); err != nil {
		return err
	}
	return zw.Close()
}

// sinkState is spool/state.json: what the run still owes InfluxDB besides
// the spooled batches, so that `mockloop sync` can complete it from the
// record after the process that ran it is gone.
type sinkState struct {
	// Complete is true once every point of the run except Gaps was
	// acknowledged or spooled. While a run is going on, and after a
	// spool write failed, it is false: then the events, beats and steps of
	// the record, and its frames after FramesTo, are owed as well.
	Complete bool `json:"complete"`
	// FramesTo is the time (ns since the epoch) through which every frame
	// except those in Gaps was acknowledged or spooled; absent if none.
	FramesTo *int64 `json:"frames_to_ns,omitempty"`
	// Gaps are ranges of frames to be re-read from the record's segments:
	// frames the sink's queue had no room for, and frames an earlier part
	// of a resumed run still owed.
	Gaps []stateGap `json:"gaps,omitempty"`
	// EventsOwed is set when an earlier part of a resumed run (before `run
	// --resume`) had not delivered its events, beats and steps: they are
	// owed even once the part that runs now is complete.
	EventsOwed bool `json:"events_owed,omitempty"`
}

// carryOver reads what an earlier part of the run still owes InfluxDB from
// the spool's state, for the sink of a part resumed after a crash: its gaps,
// the frames after its FramesTo (counted from the record, as one more
// gap), and whether its events are owed. The new sink takes them over
// instead of overwriting the state, so that a resume without `mockloop sync`
// first forgets nothing. A spool without a state owes nothing.
func carryOver(spool string, frames *runlog.FrameRanges) (gaps []*gapEntry, eventsOwed bool, err error) {
	st, err := readState(spool)
	if err != nil {
		return nil, false, err
	}
	for _, g := range st.Gaps {
		gaps = append(gaps, &gapEntry{frameGap: frameGap{from: time.Duration(g.From), to: time.Duration(g.To), n: g.Frames}})
	}
	if st.Complete {
		return gaps, st.EventsOwed, nil
	}
	from := time.Duration(math.MinInt64)
	if st.FramesTo != nil {
		from = time.Duration(*st.FramesTo) + 1
	}
	var g frameGap
	_, err = frames.Scan(from, math.MaxInt64, func(t time.Duration, _ []float64) error {
		if g.n == 0 {
			g.from = t
		}
		g.to = t
		g.n++
		return nil
	})
	if g.n > 0 {
		gaps = append(gaps, &gapEntry{frameGap: g})
	}
	return gaps, true, err
}

// stateGap is a range of frame times, ns since the epoch, both ends
// included, and how many frames in it are owed (the range may include
// frames that were written, when gaps were merged; writing them again is
// harmless).
type stateGap struct {
	From   int64 `json:"from_ns"`
	To     int64 `json:"to_ns"`
	Frames int64 `json:"frames"`
}

// Bounds on the spool's files read whole: state.json has at most maxGaps
// gaps, and a batch is BatchSize points gzipped (far less than this).
const (
	maxStateFile = 1 << 20
	maxSpoolFile = 256 << 20
)

// readState reads a spool's state; a missing file is a complete state with
// nothing owed.
func readState(dir string) (sinkState, error) {
	st := sinkState{Complete: true}
	b, err := runlog.ReadFile(filepath.Join(dir, spoolState), maxStateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("influx: spool: %w", err)
	}
	st = sinkState{}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("influx: spool: %s: %w", spoolState, err)
	}
	return st, nil
}

// writeState replaces a spool's state atomically.
func writeState(dir string, st sinkState) error {
	// Formatted as the record's JSON files are, for people who look.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		return fmt.Errorf("influx: spool: %w", err)
	}
	if err := durable.WriteFile(dir, spoolState, b.Bytes()); err != nil {
		return fmt.Errorf("influx: spool: %w", err)
	}
	return nil
}

// removeSpool removes a spool directory that holds nothing owed any more:
// its state, temporary files a crash left, and then the directory if it is
// empty.
func removeSpool(dir string) error {
	if err := os.Remove(filepath.Join(dir, spoolState)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("influx: spool: %w", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".tmp") {
			os.Remove(filepath.Join(dir, n))
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		if ents, rerr := os.ReadDir(dir); rerr == nil && len(ents) > 0 {
			return nil // rejected batches stay, for inspection
		}
		return fmt.Errorf("influx: spool: %w", err)
	}
	return durable.SyncDir(filepath.Dir(dir))
}
