package runlog

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/clock"
)

// sealedRun makes a closed run of 4 segments with events and beats.
func sealedRun(t testing.TB) string {
	t.Helper()
	r, _ := create(t, testRunID)
	r.segRecN = 5 // records a segment
	for i := range 5 {
		if err := r.Event(NewEvent("operator", "", "note "+string(rune('a'+i)), nil)); err != nil {
			t.Fatal(err)
		}
		if err := r.Beat(Beat{T: float64(i), Channel: "aop", Systolic: 120, Diastolic: 80, Mean: 93}); err != nil {
			t.Fatal(err)
		}
	}
	appendN(t, r, 0, 20)
	if err := r.Close(Result{Outcome: OutcomeFail}); err != nil {
		t.Fatal(err)
	}
	return r.Dir()
}

// verify runs Verify on dir and returns its failures.
func verify(t *testing.T, dir string) []string {
	t.Helper()
	v, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v.Intact() != (len(v.Failures()) == 0) {
		t.Fatalf("Intact %v with failures %q", v.Intact(), v.Failures())
	}
	return v.Failures()
}

// flipByte changes one byte of name, at offset off from its end if off < 0.
func flipByte(t *testing.T, name string, off int64) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(b))
	}
	b[off] ^= 0x01
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rewriteRecord changes a value in the first record of the segment name
// and writes the record's CRC-32C anew, as a forger would.
func rewriteRecord(t *testing.T, name string) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	off := 16 + int(binary.LittleEndian.Uint32(b[12:])) + 4 // the first record
	plen := int(binary.LittleEndian.Uint32(b[off+4:]))
	payload := b[off+12 : off+12+plen]
	payload[plen-1] ^= 0x40
	binary.LittleEndian.PutUint32(b[off+8:], crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, st := readFrames(t, filepath.Dir(filepath.Dir(name))); !st.Intact() {
		t.Fatalf("the rewritten record does not read as intact: %v", st.Damaged)
	}
}

// Before seals, an edited result.json, events.jsonl or manifest.json made
// a failing run a clean PASS: nothing covered the whole record. Every
// tampering here is found and named.
func TestSealTamperTable(t *testing.T) {
	seg := func(n int) string { return filepath.Join(framesDir, segmentName(n)) }
	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		want   string
	}{
		{"result byte", func(t *testing.T, d string) { flipByte(t, filepath.Join(d, resultFile), 20) }, "result.json: content differs"},
		{"manifest byte", func(t *testing.T, d string) { flipByte(t, filepath.Join(d, manifestFile), 30) }, "manifest.json: content differs"},
		{"events line", func(t *testing.T, d string) { flipByte(t, filepath.Join(d, eventsFile), -5) }, "events.jsonl: line "},
		{"beats line 1", func(t *testing.T, d string) { flipByte(t, filepath.Join(d, BeatsFile), 10) }, "beats.jsonl: line 1 differs"},
		{"events line removed", func(t *testing.T, d string) {
			p := filepath.Join(d, eventsFile)
			b, _ := os.ReadFile(p)
			lines := strings.SplitAfter(string(b), "\n")
			os.WriteFile(p, []byte(strings.Join(append(lines[:1], lines[2:]...), "")), 0o644)
		}, "events.jsonl: line 2 differs"},
		{"protocol copy", func(t *testing.T, d string) { flipByte(t, filepath.Join(d, protocolFile), 3) }, "protocol.yaml: content differs"},
		{"segment byte", func(t *testing.T, d string) { flipByte(t, filepath.Join(d, seg(3)), -7) }, seg(3) + ": content differs from the seal (byte changed in the record at byte "},
		{"segment record rewritten with its CRC", func(t *testing.T, d string) { rewriteRecord(t, filepath.Join(d, seg(2))) }, seg(2) + ": content differs from the seal (its checksums hold"},
		{"segment deleted", func(t *testing.T, d string) { os.Remove(filepath.Join(d, seg(2))) }, seg(2) + ": sealed but missing"},
		{"segment added", func(t *testing.T, d string) { copyFile(t, filepath.Join(d, seg(4)), filepath.Join(d, seg(5))) }, seg(5) + ": not in the seal (added: a copy of " + seg(4) + ")"},
		{"segments reordered", func(t *testing.T, d string) {
			a, b := filepath.Join(d, seg(1)), filepath.Join(d, seg(2))
			os.Rename(a, a+".tmp")
			os.Rename(b, a)
			os.Rename(a+".tmp", b)
		}, seg(1) + ": holds what the seal has for " + seg(2) + " (segments out of order"},
		{"seal deleted", func(t *testing.T, d string) { os.Remove(filepath.Join(d, SealFile)) }, NotSealed},
		{"seal edited", func(t *testing.T, d string) { flipByte(t, filepath.Join(d, SealFile), -10) }, "seal.json: "},
		{"seal file hash edited", func(t *testing.T, d string) {
			p := filepath.Join(d, SealFile)
			b, _ := os.ReadFile(p)
			i := strings.Index(string(b), `"sha256"`) + len(`"sha256"`)
			i += strings.Index(string(b[i:]), `"`) + 1
			b[i] = map[bool]byte{true: '1', false: '0'}[b[i] == '0']
			os.WriteFile(p, b, 0o644)
		}, "seal.json: its seal hash does not match"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := sealedRun(t)
			if f := verify(t, dir); len(f) != 0 {
				t.Fatalf("fresh run not intact: %q", f)
			}
			c.tamper(t, dir)
			f := verify(t, dir)
			if !strings.Contains(strings.Join(f, "\n"), c.want) {
				t.Errorf("failures %q, want one containing %q", f, c.want)
			}
		})
	}
}

// A run killed before close is sealed by the recovery that closes it, over
// what recovery kept (the torn tail cut), and says so; a resumed run
// loses its seal while it is open and is sealed whole again at its close.
func TestSealByRecoveryAndAfterResume(t *testing.T) {
	r, _ := create(t, testRunID)
	appendN(t, r, 0, 5)
	r.segW.WriteString("torn") // a record cut short by the kill
	crash(t, r)
	recoverOne(t, r, 50)
	if f := verify(t, r.Dir()); len(f) != 0 {
		t.Fatalf("recovered run: %q", f)
	}
	if s, _ := ReadSeal(r.Dir()); s.SealedBy != SealedByRecovery {
		t.Errorf("sealed by %q, want recovery", s.SealedBy)
	}
	rec, _, err := Reopen(r.Dir(), clock.NewVirtual(testEpoch))
	if err != nil {
		t.Fatal(err)
	}
	if f := verify(t, r.Dir()); len(f) != 1 || f[0] != NotSealed {
		t.Fatalf("resumed, open run: %q, want %q", f, NotSealed)
	}
	appendN(t, rec, 5, 5)
	if err := rec.Close(Result{Outcome: OutcomePass}); err != nil {
		t.Fatal(err)
	}
	if f := verify(t, r.Dir()); len(f) != 0 {
		t.Fatalf("closed after resume: %q", f)
	}
	s, _ := ReadSeal(r.Dir())
	if segs := len(segmentPaths(t, r.Dir())); s.SealedBy != SealedByClose || segs != 2 || len(s.Files) != 3+segs+3 {
		t.Errorf("seal by %s of %d files, %d segments; want close over both parts", s.SealedBy, len(s.Files), segs)
	}
}

// An empty segment added (a resumed run's, before its first frame) is not
// "a copy of" an empty beats.jsonl: every empty file has the same hash.
func TestVerifyEmptyFileAddedIsNotACopy(t *testing.T) {
	empty := SealedFile{Name: BeatsFile, SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}
	seg := empty
	seg.Name = framesDir + "/" + segmentName(2)
	for _, c := range compareFiles([]SealedFile{empty}, []SealedFile{empty, seg}) {
		if strings.Contains(c.Problem, "copy of") {
			t.Errorf("%s: %s", c.Name, c.Problem)
		}
	}
}

func TestVerifyNotARun(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "none")} {
		if _, err := Verify(dir); err == nil {
			t.Errorf("Verify(%s) of no run: no error", dir)
		}
	}
}

// A last line without its newline is a line of its own: appending to it
// is seen.
func TestSealLineHashesCountUnfinishedLine(t *testing.T) {
	dir := sealedRun(t)
	p := filepath.Join(dir, eventsFile)
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"t":1`)
	f.Close()
	f2 := verify(t, dir)
	if len(f2) != 1 || !strings.Contains(f2[0], "events.jsonl: lines added after line 5") {
		t.Errorf("failures %q", f2)
	}
}

func FuzzParseSeal(f *testing.F) {
	f.Add([]byte(`{"version":1,"record_format":2,"run_id":"x","sealed_by":"close","files":[{"name":"events.jsonl","size":3,"sha256":"00","chain":"11","lines":"AAECAwQ="}],"seal_hash":"33"}`))
	f.Add([]byte(`{"version":1,"files":[{"name":"../x"}]}`))
	f.Add([]byte(`{"version":1,"files":[{"name":"a"},{"name":"a"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSeal(b)
		if err != nil {
			return
		}
		_ = s.Sum()
		brokenChain(s)
		compareFiles(s.Files, s.Files)
	})
}

// An interrupted run is reopened for `run --resume` only if it is as
// recovery sealed it and nobody signed it: resuming reseals the whole
// record at its close, so an edit made while it lay interrupted would be
// sealed as the run's own, and a signature would be voided. A record
// without a seal (recovery killed between manifest and seal) may resume.
func TestReopenRefusesEditedOrSignedRecord(t *testing.T) {
	interrupted := func(t *testing.T) *Record {
		r, _ := create(t, testRunID)
		appendN(t, r, 0, 5)
		crash(t, r)
		recoverOne(t, r, 50)
		return r
	}
	for _, c := range []struct {
		name   string
		change func(t *testing.T, dir string)
		want   string // in the error; "" for a resume allowed
	}{
		{"as recovered", func(*testing.T, string) {}, ""},
		{"seal gone", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, SealFile)) }, ""},
		{"result edited", func(t *testing.T, dir string) {
			flipByte(t, filepath.Join(dir, resultFile), 10)
		}, "fails verification"},
		{"signed", func(t *testing.T, dir string) { sign(t, dir, newKey(t), "R. Viewer", MeaningReviewed) }, "signed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := interrupted(t)
			c.change(t, r.Dir())
			rec, _, err := Reopen(r.Dir(), clock.NewVirtual(testEpoch))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want == "":
				rec.Close(Result{Outcome: OutcomePass})
			case err == nil || !errors.Is(err, ErrNotResumable) || !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %v, want ErrNotResumable saying %q", err, c.want)
			}
		})
	}
}
