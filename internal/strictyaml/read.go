package strictyaml

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ReadFile reads a file that people write for mockloop (a rig config, a
// protocol, a calibration file) with the bound MaxSize, and refuses what is
// not a regular file without blocking: a FIFO named as a config would hang
// the reader until someone writes to it, and /dev/zero would fill its memory
// (`validate /dev/zero` grew to 2.9 GB). The file is opened non-blocking,
// which a FIFO's open needs to return at once and a regular file's reads
// ignore, and checked with fstat on the descriptor read, so no rename
// between a check and the open slips a device in.
func ReadFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBounded(path, f)
}

// ReadFS is ReadFile on a file system (the configs built into the binary,
// a protocols folder). fs.FS opens without O_NONBLOCK, so what is not a
// regular file is refused before it is opened.
func ReadFS(fsys fs.FS, name string) ([]byte, error) {
	fi, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if err := regular(name, fi); err != nil {
		return nil, err
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBounded(name, f)
}

// readBounded reads an open file of at most MaxSize bytes.
func readBounded(name string, f fs.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := regular(name, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > MaxSize || fi.Size() > MaxSize {
		return nil, fmt.Errorf("%s: file is %d bytes, more than the %d a protocol, config or calibration file may have", name, max(fi.Size(), int64(len(data))), MaxSize)
	}
	return data, nil
}

// regular refuses what is not a regular file, saying what it is.
func regular(name string, fi fs.FileInfo) error {
	if fi.Mode().IsRegular() {
		return nil
	}
	what := "a " + fi.Mode().Type().String()
	switch t := fi.Mode().Type(); {
	case t&fs.ModeDir != 0:
		what = "a directory"
	case t&fs.ModeNamedPipe != 0:
		what = "a FIFO"
	case t&fs.ModeCharDevice != 0:
		what = "a character device"
	case t&fs.ModeDevice != 0:
		what = "a device"
	case t&fs.ModeSocket != 0:
		what = "a socket"
	}
	return fmt.Errorf("%s: %s, not a regular file", name, what)
}
