package flock

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSecondOpenFileIsRefusedUntilTheFirstCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	a, ok, err := TryLock(path, 0o600)
	if err != nil || !ok {
		t.Fatalf("first: %v %v", ok, err)
	}
	if _, ok, err := TryLock(path, 0o600); err != nil || ok {
		t.Fatalf("second while held: ok %v, %v", ok, err)
	}
	a.Close()
	b, ok, err := TryLock(path, 0o600)
	if err != nil || !ok {
		t.Fatalf("after close: %v %v", ok, err)
	}
	b.Close()
}

func TestLockThroughASymbolicLinkIsRefused(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	os.WriteFile(target, []byte("x"), 0o600)
	link := filepath.Join(dir, "lock")
	os.Symlink(target, link)
	if _, _, err := TryLock(link, 0o600); err == nil {
		t.Fatal("a lock was taken through a symbolic link")
	}
}
