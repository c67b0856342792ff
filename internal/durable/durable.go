package durable

import (
	"os"
	"path/filepath"
)

// WriteFile replaces dir/name with data: it writes a temporary file in dir
// (named "."+name+".*.tmp", which a cleanup may remove), syncs it, renames
// it over name and syncs dir.
func WriteFile(dir, name string, data []byte) error { return WriteFileMode(dir, name, data, 0o644) }

// WriteFileMode is WriteFile with the file's permissions: a secret (the
// users file) is never readable by others, not even for an instant.
func WriteFileMode(dir, name string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
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
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making the creation, renaming or removal of
// its entries durable.
func SyncDir(dir string) error {
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
