package reports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mockloop/mockloop/influx"
)

// influxChunk is the number of rows per chunk of a streamed InfluxQL
// answer: frames are read from InfluxDB as a stream, never as one answer,
// since a long run has millions of them.
const influxChunk = 10000

// influxQL runs InfluxQL queries against the /query endpoint of InfluxDB
// 1.8 (or the 1.x compatibility API of InfluxDB 2), over plain HTTP:
// InfluxQL, unlike Flux, is answered in a streamed, chunked form on both.
type influxQL struct {
	http   *http.Client
	query  string // URL of /query
	db, rp string // the bucket "db" or "db/rp"
	auth   string // Authorization header, or ""
}

// newInfluxQL returns a query client for the server and bucket of cfg. The
// token, as for writes, is sent only in the Authorization header ("Token
// <token>", which 1.8 also takes as "user:password") and is never part of
// an error message.
func newInfluxQL(cfg influx.Config) (*influxQL, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("reports: influx: URL %q: want http(s)://host[:port]", cfg.URL)
	}
	bucket := cfg.Bucket
	if bucket == "" {
		bucket = influx.DefaultBucket
	}
	db, rp, _ := strings.Cut(bucket, "/")
	if db == "" {
		return nil, fmt.Errorf("reports: influx: bucket %q: want db or db/rp", bucket)
	}
	q := &influxQL{http: &http.Client{}, query: strings.TrimSuffix(cfg.URL, "/") + "/query", db: db, rp: rp}
	if cfg.Token != "" {
		q.auth = "Token " + cfg.Token
	}
	return q, nil
}

// from names a measurement of the bucket for a FROM clause.
func (q *influxQL) from(measurement string) string {
	if q.rp == "" {
		return ident(measurement)
	}
	return ident(q.db) + "." + ident(q.rp) + "." + ident(measurement)
}

// influxSeries is one series (or one chunk of one) of an InfluxQL answer.
// Values are json.Number, strings, booleans or nil; times are integer
// nanoseconds since the Unix epoch.
type influxSeries struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// col returns the index of the named column, or -1.
func (s *influxSeries) col(name string) int {
	for i, c := range s.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// run runs one InfluxQL statement and calls fn with each series, or chunk
// of a series, of its answer, in order. An error in the answer, a status
// other than 200 or fn's error ends it.
func (q *influxQL) run(ctx context.Context, stmt string, fn func(*influxSeries) error) error {
	form := url.Values{"db": {q.db}, "q": {stmt}, "epoch": {"ns"},
		"chunked": {"true"}, "chunk_size": {strconv.Itoa(influxChunk)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, q.query, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("reports: influx: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if q.auth != "" {
		req.Header.Set("Authorization", q.auth)
	}
	resp, err := q.http.Do(req)
	if err != nil {
		return fmt.Errorf("reports: influx: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		msg := strings.TrimSpace(string(body))
		var e struct{ Error string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return fmt.Errorf("reports: influx: query: %s: %s", resp.Status, msg)
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	for {
		var chunk struct {
			Results []struct {
				Series []influxSeries `json:"series"`
				Error  string         `json:"error"`
			} `json:"results"`
			Error string `json:"error"`
		}
		if err := dec.Decode(&chunk); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("reports: influx: reading the answer: %w", err)
		}
		if chunk.Error != "" {
			return fmt.Errorf("reports: influx: query: %s", chunk.Error)
		}
		for _, r := range chunk.Results {
			if r.Error != "" {
				return fmt.Errorf("reports: influx: query: %s", r.Error)
			}
			for i := range r.Series {
				if err := fn(&r.Series[i]); err != nil {
					return err
				}
			}
		}
	}
}

// ident quotes an InfluxQL identifier.
func ident(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// literal quotes an InfluxQL string literal.
func literal(s string) string {
	return `'` + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + `'`
}

// errInfluxValue reports a value of an answer that is not of its type.
var errInfluxValue = errors.New("unexpected value in InfluxDB's answer")

// qFloat returns a number of an answer; false for null or no number.
func qFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	}
	return math.NaN(), false
}

// qInt returns an integer of an answer (a time, a count, an integer
// field); false for null or no integer.
func qInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, true
		}
		if f, err := x.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return int64(f), true
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return int64(x), true
		}
	}
	return 0, false
}

// qString returns a string of an answer; "" for null.
func qString(v any) string {
	s, _ := v.(string)
	return s
}

// qTime returns the time of a row of s, in ns since the Unix epoch.
func qTime(s *influxSeries, row []any) (int64, error) {
	i := s.col("time")
	if i < 0 || i >= len(row) {
		return 0, fmt.Errorf("reports: influx: %w: no time", errInfluxValue)
	}
	t, ok := qInt(row[i])
	if !ok {
		return 0, fmt.Errorf("reports: influx: %w: time %v", errInfluxValue, row[i])
	}
	return t, nil
}
