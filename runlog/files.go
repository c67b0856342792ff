package runlog

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/mockloop/mockloop/internal/durable"
)

// File names in a run directory.
const (
	manifestFile = "manifest.json"
	resultFile   = "result.json"
	eventsFile   = "events.jsonl"
	protocolFile = "protocol.yaml"
	rigFile      = "rig.yaml"
	framesDir    = "frames"
	lockFile     = "lock"
)

// writeFileAtomic replaces dir/name with data so that a reader or a crash
// sees the old content or the new, never a mix (durable.WriteFile).
func writeFileAtomic(dir, name string, data []byte) error { return durable.WriteFile(dir, name, data) }

// writeJSONAtomic writes v as marshalFile encodes it with writeFileAtomic.
func writeJSONAtomic(dir, name string, v any) error {
	b, err := marshalFile(v)
	if err != nil {
		return err
	}
	return writeFileAtomic(dir, name, b)
}

// syncDir fsyncs a directory, making the creation, renaming or removal of
// its entries durable.
func syncDir(dir string) error { return durable.SyncDir(dir) }

// readJSON decodes the JSON file dir/name into v.
func readJSON(dir, name string, v any) error {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
