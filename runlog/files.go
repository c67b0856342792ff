package runlog

import (
	"encoding/json"
	"os"
	"path/filepath"
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
// sees the old content or the new, never a mix: it writes a temporary file in
// dir, syncs it, renames it over name and syncs dir.
func writeFileAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

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
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// readJSON decodes the JSON file dir/name into v.
func readJSON(dir, name string, v any) error {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
