package runlog

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// SealFile is the name of a closed run's seal in its directory.
const SealFile = "seal.json"

// sealVersion is the version of seal.json's format.
const sealVersion = 1

// maxSealFile bounds what a reader takes from seal.json. Its bulk is the
// line hashes, 5.3 bytes a line: events.jsonl at its bound (512 MiB) of
// lines of 100 bytes or more takes at most 28 MiB.
const maxSealFile = 128 << 20

// lineHashLen is how many bytes of a line's SHA-256 the seal keeps to say
// which line differs; the whole file's hash and the chain are what detect,
// so a collision (2^-32) only costs the line number.
const lineHashLen = 4

// Who sealed a run (Seal.SealedBy).
const (
	SealedByClose    = "close"    // Record.Close
	SealedByRecovery = "recovery" // Recover, over what it kept of a killed run
	SealedBySync     = "sync"     // old records only: sync rewrote result.json and resealed; it no longer does (delivery.json)
)

// Seal is seal.json: the SHA-256 of every file of a closed run, chained in
// a fixed order, and one hash over all of it (Hash) that signatures sign.
type Seal struct {
	Version      int          `json:"version"`       // of this format (1)
	RecordFormat int          `json:"record_format"` // frame segment format written (3; 2 before)
	RunID        string       `json:"run_id"`
	SealedBy     string       `json:"sealed_by"` // close, recovery or sync
	Files        []SealedFile `json:"files"`     // in chain order (sealOrder)
	Hash         string       `json:"seal_hash"` // SHA-256 of this JSON with seal_hash empty (Sum)
}

// SealedFile is one file of a sealed run.
type SealedFile struct {
	Name   string `json:"name"` // slash-separated, relative to the run directory
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // of the file's bytes
	// Chain is SHA-256(previous file's Chain ‖ Name ‖ 0 ‖ SHA256 bytes):
	// removing, adding or reordering a file changes every head after it.
	Chain string `json:"chain"`
	// Lines holds, for a .jsonl file, the first 4 bytes of each line's
	// SHA-256, one after the other, in base64: so that verify can name the
	// line that differs.
	Lines []byte `json:"lines,omitempty"`
}

// Sum returns the seal's hash: the SHA-256 of its JSON with Hash empty,
// in hex. It is the value a signature of the record signs.
func (s Seal) Sum() string {
	s.Hash = ""
	b, _ := json.Marshal(s) // strings, ints and slices of them: cannot fail
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// sealOrder returns the files of the run in dir that the seal covers, in
// chain order: the manifest, the protocol and rig copies, the frame
// segments in sequence, events, beats, result. Files absent are left out.
func sealOrder(dir string) ([]string, error) {
	segs, err := segmentFiles(dir)
	if err != nil {
		return nil, err
	}
	names := []string{manifestFile, protocolFile, rigFile}
	for _, s := range segs {
		names = append(names, path.Join(framesDir, s))
	}
	names = append(names, eventsFile, BeatsFile, resultFile)
	var out []string
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			out = append(out, n)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return out, nil
}

// computeSeal hashes the files of the run in dir as they are now.
func computeSeal(dir, runID, by string) (Seal, error) {
	names, err := sealOrder(dir)
	if err != nil {
		return Seal{}, err
	}
	s := Seal{Version: sealVersion, RecordFormat: segVersion, RunID: runID, SealedBy: by, Files: []SealedFile{}}
	var prev []byte
	for _, n := range names {
		f, err := hashFile(dir, n)
		if err != nil {
			return Seal{}, err
		}
		prev = chainNext(prev, f)
		f.Chain = hex.EncodeToString(prev)
		s.Files = append(s.Files, f)
	}
	s.Hash = s.Sum()
	return s, nil
}

// chainNext returns the chain head after f, from the head prev before it.
func chainNext(prev []byte, f SealedFile) []byte {
	sum, _ := hex.DecodeString(f.SHA256)
	h := sha256.New()
	h.Write(prev)
	h.Write([]byte(f.Name))
	h.Write([]byte{0})
	h.Write(sum)
	return h.Sum(nil)
}

// hashFile hashes the file name of dir, and each of its lines if it is a
// .jsonl file, reading it in a bounded buffer however long its lines.
func hashFile(dir, name string) (SealedFile, error) {
	f, _, err := OpenFile(filepath.Join(dir, name))
	if err != nil {
		return SealedFile{}, err
	}
	defer f.Close()
	whole := sha256.New()
	out := SealedFile{Name: name}
	if path.Ext(name) != ".jsonl" {
		out.Size, err = io.Copy(whole, f)
	} else {
		out.Size, out.Lines, err = hashLines(whole, f)
	}
	if err != nil {
		return SealedFile{}, fmt.Errorf("%s: %w", name, err)
	}
	out.SHA256 = hex.EncodeToString(whole.Sum(nil))
	return out, nil
}

// hashLines writes r to whole and returns its size and the short hash of
// each of its lines (a last line without a newline counts as a line).
func hashLines(whole hash.Hash, r io.Reader) (int64, []byte, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	lines := []byte{}
	line := sha256.New()
	var n int64
	open := false
	for {
		b, err := br.ReadSlice('\n')
		n += int64(len(b))
		whole.Write(b)
		line.Write(b)
		open = open || len(b) > 0
		if err == nil || (err == io.EOF && open) {
			lines = append(lines, line.Sum(nil)[:lineHashLen]...)
			line.Reset()
			open = false
		}
		switch {
		case err == io.EOF:
			return n, lines, nil
		case err != nil && !errors.Is(err, bufio.ErrBufferFull):
			return n, nil, err
		}
	}
}

// writeSeal seals the closed run in dir: seal.json, replaced atomically.
func writeSeal(dir, runID, by string) error {
	s, err := computeSeal(dir, runID, by)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	return writeJSONAtomic(dir, SealFile, s)
}

// removeSeal removes the seal of a run being reopened: a run that is open
// has no seal, and the one it had covers less than it will hold.
func removeSeal(dir string) error {
	err := os.Remove(filepath.Join(dir, SealFile))
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return syncDir(dir)
	}
	return err
}

// ParseSeal decodes seal.json. It accepts only this format's version, and
// files with relative, clean names that are not repeated.
func ParseSeal(b []byte) (*Seal, error) {
	var s Seal
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("runlog: %s: %w", SealFile, err)
	}
	if s.Version != sealVersion {
		return nil, fmt.Errorf("runlog: %s: version %d, want %d", SealFile, s.Version, sealVersion)
	}
	seen := map[string]bool{}
	for _, f := range s.Files {
		if f.Name == "" || !fs.ValidPath(f.Name) || seen[f.Name] {
			return nil, fmt.Errorf("runlog: %s: bad or repeated file name %q", SealFile, f.Name)
		}
		seen[f.Name] = true
	}
	return &s, nil
}

// ReadSeal reads the seal of the run in dir; an error wrapping
// fs.ErrNotExist means the run has none (it is open, or was never closed).
func ReadSeal(dir string) (*Seal, error) {
	b, err := ReadFile(filepath.Join(dir, SealFile), maxSealFile)
	if err != nil {
		return nil, err
	}
	return ParseSeal(b)
}
