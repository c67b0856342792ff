package influx

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mockloop/mockloop/internal/influxtest"
)

// bodyLimit is an HTTP proxy in front of the real server that answers 413,
// as a server with a max-body-size does, to batches of more than max
// points (read from the batch's gzip header).
func bodyLimit(t *testing.T, srv *influxtest.Server, max int64, refused *atomic.Int64) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			n, _ := strconv.ParseInt(strings.TrimPrefix(zr.Comment, pointsComment), 10, 64)
			if n > max {
				refused.Add(1)
				http.Error(w, `{"error":"Request Entity Too Large"}`, http.StatusRequestEntityTooLarge)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p.URL
}

// A server whose body size limit is under the batch size answers 413: the
// sink halves its batches until they pass and delivers everything. Before,
// every batch was refused for good and kept in spool/rejected.
func TestHTTP413HalvesTheBatch(t *testing.T) {
	srv := influxtest.Start(t)
	var refused atomic.Int64
	r := newServerRunAt(t, bodyLimit(t, srv, 1000, &refused), 0)
	r.feed(t, 20000)
	d := r.close(t, time.Minute)
	if !d.Delivered || d.SpooledPoints != 0 {
		t.Fatalf("delivery %+v, want delivered", d)
	}
	if refused.Load() == 0 {
		t.Fatal("the server never answered 413: the test tests nothing")
	}
	r.checkExactlyOnce(t, srv)
	t.Logf("%d batches refused as too large before the sink learnt its limit; log: %s", refused.Load(), r.logs.String())
}
