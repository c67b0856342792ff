package strictyaml

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadFileRefusesFIFOsDevicesAndHugeFilesAtOnce: a FIFO (no writer),
// /dev/zero, a directory and a file over MaxSize are refused without
// blocking and without reading them whole; a file of MaxSize bytes is read.
func TestReadFileRefusesFIFOsDevicesAndHugeFilesAtOnce(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "manifest.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "full.yaml")
	if err := os.WriteFile(full, []byte(strings.Repeat("a", MaxSize)), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		fifo:        fifo + ": a FIFO, not a regular file",
		"/dev/zero": "/dev/zero: a character device, not a regular file",
		dir:         dir + ": a directory, not a regular file",
		big:         big + ": file is 1048577 bytes, more than the 1048576",
	} {
		done := make(chan error, 1)
		go func() {
			_, err := ReadFile(path)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ReadFile(%s): %v, want %q", path, err, want)
			}
		case <-time.After(30 * time.Second): // a hang guard, not a timing
			t.Fatalf("ReadFile(%s) blocked", path)
		}
	}
	if data, err := ReadFile(full); err != nil || len(data) != MaxSize {
		t.Errorf("ReadFile of MaxSize bytes: %d, %v", len(data), err)
	}
	if _, err := ReadFS(os.DirFS(dir), "manifest.yaml"); err == nil || !strings.Contains(err.Error(), "manifest.yaml: a FIFO, not a regular file") {
		t.Errorf("ReadFS of a FIFO: %v", err)
	}
}
