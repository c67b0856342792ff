package runlog

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrNotRun is wrapped by Verify's error for a path that is not a run
// directory.
var ErrNotRun = errors.New("not a run record")

// FileCheck is what Verify found of one file: Problem is empty if the file
// is as sealed.
type FileCheck struct {
	Name    string
	Problem string
}

// Verification is the result of Verify.
type Verification struct {
	Seal     *Seal       // nil if the run has no readable seal
	Files    []FileCheck // every file sealed or present, in chain order
	Problems []string    // about the seal itself, or the run as a whole
	// Signatures are the run's electronic signatures (signatures.jsonl),
	// each checked against the record as it is now.
	Signatures []SignatureCheck
	sum        string // the seal hash of the files as they are now
}

// Intact reports whether the run is sealed and every file is as sealed.
func (v *Verification) Intact() bool { return len(v.Failures()) == 0 && v.Seal != nil }

// Failures returns one line per problem: the record's, then each file's as
// "name: problem".
func (v *Verification) Failures() []string {
	out := append([]string(nil), v.Problems...)
	for _, f := range v.Files {
		if f.Problem != "" {
			out = append(out, f.Name+": "+f.Problem)
		}
	}
	return append(out, v.SignatureFailures()...)
}

// contentDiffers begins the problem of a file whose bytes are not those
// sealed.
const contentDiffers = "content differs from the seal"

// NotSealed is the problem Verify reports for a run without seal.json.
const NotSealed = "not sealed: the run is open or was never closed"

// Verify recomputes the hashes of the files of the run in dir and
// compares them with its seal.json. Its error is for a dir that is not a
// run (ErrNotRun) or a file that cannot be read; everything that differs
// from the seal is in the Verification.
func Verify(dir string) (*Verification, error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || !hasAny(dir, manifestFile, SealFile) {
		return nil, fmt.Errorf("runlog: verify %s: %w", dir, ErrNotRun)
	}
	v := &Verification{}
	s, err := ReadSeal(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.Problems = []string{NotSealed}
		v.Signatures, _ = verifySignatures(dir, "", "", false) // listed, none valid
		return v, nil
	case err != nil:
		v.Problems = []string{fmt.Sprintf("%s: unreadable, the record cannot be verified: %v", SealFile, err)}
		v.Signatures, _ = verifySignatures(dir, "", "", false)
		return v, nil
	}
	v.Seal = s
	if s.Hash != s.Sum() {
		v.Problems = append(v.Problems, SealFile+": its seal hash does not match its content (the seal was edited)")
	}
	if at := brokenChain(s); at != "" {
		v.Problems = append(v.Problems, SealFile+": the chain does not hold at "+at+" (the seal was edited)")
	}
	cur, err := computeSeal(dir, s.RunID, s.SealedBy)
	if err != nil {
		return nil, fmt.Errorf("runlog: verify %s: %w", dir, err)
	}
	v.Files = compareFiles(s.Files, cur.Files)
	locateSegmentEdits(dir, s.RunID, v.Files)
	v.sum = cur.Hash
	var p string
	v.Signatures, p = verifySignatures(dir, s.RunID, cur.Hash, len(v.Failures()) == 0)
	if p != "" {
		v.Problems = append(v.Problems, p)
	}
	return v, nil
}

// locateSegmentEdits says, for each segment whose content differs from the
// seal, where its checksums fail: a byte changed inside a record (or its
// header) breaks the record's CRC-32C, which the reader locates. A segment
// whose checksums all hold was rewritten with them, or replaced.
func locateSegmentEdits(dir, runID string, files []FileCheck) {
	var m Manifest
	if readJSON(dir, manifestFile, &m) != nil {
		return // no layout to read the segments with
	}
	for i, f := range files {
		name, ok := strings.CutPrefix(f.Name, framesDir+"/")
		if !ok || !strings.HasPrefix(f.Problem, contentDiffers) {
			continue
		}
		sc, err := scanSegmentFile(dir, name, runID, m.Layout, nil)
		if err != nil {
			continue
		}
		if len(sc.damage) == 0 {
			files[i].Problem = contentDiffers + " (its checksums hold: records rewritten with their checksums, or the segment replaced)"
			continue
		}
		d := sc.damage[0]
		files[i].Problem = fmt.Sprintf("%s (byte changed in the record at byte %s: %s)", contentDiffers, group(d.off), d.reason)
	}
}

// hasAny reports whether dir holds any of names.
func hasAny(dir string, names ...string) bool {
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

// brokenChain returns the first file of s whose chain head does not follow
// from the ones before it, or "".
func brokenChain(s *Seal) string {
	var prev []byte
	for _, f := range s.Files {
		prev = chainNext(prev, f)
		if hex.EncodeToString(prev) != f.Chain {
			return f.Name
		}
	}
	return ""
}

// compareFiles says, for every file sealed or present, how the present one
// differs from the sealed one.
func compareFiles(sealed, cur []SealedFile) []FileCheck {
	byName := map[string]SealedFile{}
	bySum := map[string]string{}
	for _, f := range sealed {
		byName[f.Name] = f
		if f.Size > 0 { // every empty file has the same hash: no copy of anything
			bySum[f.SHA256] = f.Name
		}
	}
	var out []FileCheck
	present := map[string]bool{}
	for _, c := range cur {
		present[c.Name] = true
		s, ok := byName[c.Name]
		switch {
		case !ok && bySum[c.SHA256] != "":
			out = append(out, FileCheck{c.Name, "not in the seal (added: a copy of " + bySum[c.SHA256] + ")"})
		case !ok:
			out = append(out, FileCheck{c.Name, "not in the seal (added)"})
		default:
			out = append(out, FileCheck{c.Name, fileProblem(s, c, bySum)})
		}
	}
	for _, s := range sealed {
		if !present[s.Name] {
			out = append(out, FileCheck{s.Name, "sealed but missing"})
		}
	}
	return out
}

// fileProblem says how c differs from its sealed version s, as precisely
// as the seal allows; "" if it does not.
func fileProblem(s, c SealedFile, bySum map[string]string) string {
	if s.SHA256 == c.SHA256 && s.Size == c.Size {
		return ""
	}
	if other := bySum[c.SHA256]; other != "" && other != c.Name {
		return "holds what the seal has for " + other + " (segments out of order, or a file replaced by a copy)"
	}
	if path.Ext(c.Name) == ".jsonl" && s.Lines != nil {
		if p := lineProblem(s.Lines, c.Lines); p != "" {
			return p
		}
	}
	if s.Size != c.Size {
		return fmt.Sprintf("%s (%s bytes, sealed %s)", contentDiffers, group(c.Size), group(s.Size))
	}
	return contentDiffers + " (a byte changed or the file replaced)"
}

// lineProblem names the first line where got differs from the sealed line
// hashes want (lineHashLen bytes each).
func lineProblem(want, got []byte) string {
	nw, ng := len(want)/lineHashLen, len(got)/lineHashLen
	for i := range min(nw, ng) {
		if !bytes.Equal(want[i*lineHashLen:(i+1)*lineHashLen], got[i*lineHashLen:(i+1)*lineHashLen]) {
			return fmt.Sprintf("line %d differs", i+1)
		}
	}
	switch {
	case ng > nw:
		return fmt.Sprintf("lines added after line %d, the last sealed (%d lines, sealed %d)", nw, ng, nw)
	case ng < nw:
		return fmt.Sprintf("cut after line %d (the seal has %d lines)", ng, nw)
	}
	return ""
}

// group writes n with thousands separated by commas.
func group(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
