package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProtocolsFolderFIFORefusedAtOnce: a FIFO in the protocols folder is
// listed with an error and refused by validate, without blocking the bench
// view (opening it waited for a writer that never came).
func TestProtocolsFolderFIFORefusedAtOnce(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "short.yaml"), testProtocols["short.yaml"].Data, 0o644); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, 5, func(c *Config) { c.Protocols, c.ProtocolsDir = os.DirFS(dir), dir })
	done := make(chan []protocolEntry, 1)
	go func() {
		var list []protocolEntry
		if resp, err := http.Get(ts.url + "/api/protocols"); err == nil {
			json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
		}
		done <- list
	}()
	select {
	case list := <-done:
		got := map[string]protocolEntry{}
		for _, p := range list {
			got[p.File] = p
		}
		if e := got["fifo.yaml"].Errors; len(e) != 1 || !strings.Contains(e[0].Msg, "fifo.yaml: a FIFO, not a regular file") || got["short.yaml"].Name != "short" {
			t.Errorf("protocols %+v", list)
		}
	case <-time.After(60 * time.Second): // a hang guard, not a timing
		t.Fatal("listing the protocols blocked on the FIFO")
	}
	code, m := ts.call(t, "POST", "/api/validate", `{"protocol":"fifo.yaml"}`)
	if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(m), "a FIFO, not a regular file") {
		t.Errorf("validate a FIFO: %d %v", code, m)
	}
}
