package runlog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"time"
)

// Segment format constants; doc.go describes the format.
const (
	segMagic      = "MLFRAMES"
	segVersion    = 3          // the version written; 1 and 2 are still read
	segVersion2   = 2          // records of float32 values, column-less
	segVersion1   = 1          // records without a sync marker, headers without seq
	segFixedLen   = 16         // magic, version, JSON length
	maxHeaderJSON = 1 << 20    // bound on the header JSON a reader accepts
	maxChannels   = 4096       // bound on the width a reader accepts
	recHeaderLen  = 12         // sync marker, payload length, CRC (version 2)
	recHeaderLen1 = 8          // payload length, CRC (version 1)
	payloadHdrLen = 12         // frame count, first timestamp
	maxPayload    = 16 << 20   // bound on a record's payload, both sides
	maxOffset     = 1<<32 - 1  // largest frame offset a record can hold, ns
	segmentBytes  = 64 << 20   // default rotation size of a segment
	segmentExt    = ".seg"     // segment file name extension
	cutExt        = ".seg.cut" // bytes Recover cut from a segment
)

// recMarker begins every record of a version 2 segment: after damage, the
// reader looks for it to find the next intact record (whose length and CRC
// then confirm it), so a flipped bit hides one record, not the rest of the
// segment.
var recMarker = []byte{0xF7, 'M', 'L', 'R'}

// castagnoli is the CRC-32C table; CRC-32C has hardware support on amd64 and
// arm64 and better error detection than IEEE CRC-32 for short records.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// le is the byte order of everything in a segment.
var le = binary.LittleEndian

// segHeader is the JSON of a segment header.
type segHeader struct {
	RunID string `json:"run_id"`
	// Seq is the segment's number, as in its file name (from version 2):
	// a segment copied under another name is refused, not read twice.
	Seq      int       `json:"seq,omitempty"`
	Channels []Channel `json:"channels"`
	// Coding says how each channel's values are coded (from version 3;
	// one per channel).
	Coding []ColumnCoding `json:"coding,omitempty"`
}

// segmentName is the file name of segment seq (from 1).
func segmentName(seq int) string { return fmt.Sprintf("%08d%s", seq, segmentExt) }

// appendSegmentHeader appends the encoded header of a segment to dst.
func appendSegmentHeader(dst []byte, h segHeader) ([]byte, error) {
	return appendSegmentHeaderVersion(dst, h, segVersion)
}

// appendSegmentHeaderVersion appends a header of the given format version
// (older ones for tests of the readers of old records).
func appendSegmentHeaderVersion(dst []byte, h segHeader, version uint32) ([]byte, error) {
	js, err := json.Marshal(h)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, segMagic...)
	dst = le.AppendUint32(dst, version)
	dst = le.AppendUint32(dst, uint32(len(js)))
	dst = append(dst, js...)
	return le.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli)), nil
}

// appendRecordV2 appends to dst one version 2 record of the frames with
// the given timestamps and values (len(times)*width of them, frame after
// frame), whose offsets from times[0] must fit a u32. Version 2 is no
// longer written; tests make old segments with it.
func appendRecordV2(dst []byte, times []time.Duration, values []float64) []byte {
	n := len(times)
	payload := payloadHdrLen + 4*n + 4*len(values)
	start := len(dst)
	dst = slices.Grow(dst, recHeaderLen+payload)[:start+recHeaderLen+payload]
	copy(dst[start:], recMarker)
	p := dst[start+recHeaderLen:]
	le.PutUint32(p, uint32(n))
	le.PutUint64(p[4:], uint64(times[0]))
	o := p[payloadHdrLen:]
	for i, t := range times {
		le.PutUint32(o[4*i:], uint32(t-times[0]))
	}
	o = o[4*n:]
	for i, v := range values {
		le.PutUint32(o[4*i:], math.Float32bits(float32(v)))
	}
	le.PutUint32(dst[start+4:], uint32(payload))
	le.PutUint32(dst[start+8:], crc32.Checksum(p, castagnoli))
	return dst
}

// Reasons a part of a segment cannot be read, as reported in Damage.
const (
	damageTruncatedHeader = "truncated header"
	damageBadMagic        = "not a frame segment (bad magic)"
	damageBadVersion      = "unsupported format version"
	damageBadHeader       = "bad header"
	damageHeaderChecksum  = "bad header checksum"
	damageTruncated       = "truncated record"
	damageBadLength       = "bad record length"
	damageChecksum        = "bad record checksum"
	damageFrameCount      = "frame count does not match record length"
	damageCoding          = "bad frame coding"
	damageNoMarker        = "no record marker"
	damageLayout          = "layout differs from the manifest"
	damageOtherRun        = "segment of another run"
	damageSequence        = "segment numbered differently from its file name (a copy?)"
	damageNotRegular      = "not a regular file"
)

// segWant is what a segment must be to be read as part of a run: that
// run's, numbered as its file name says, with the run's layout. A nil
// segWant (the fuzz test) takes any segment.
type segWant struct {
	runID  string // "" takes any run's
	seq    int    // the file name's number
	layout []Channel
}

// segDamage is a byte range of a segment that was not read, and why.
type segDamage struct {
	off, n  int64
	reason  string // the first reason, when adjacent ranges merged
	refused bool   // the whole segment is not this run's: not a part to cut
}

// segScan is what scanSegment found in one segment.
type segScan struct {
	header  segHeader
	version uint32
	width   int           // len(header.Channels); 0 if the header was not read
	dec     *frameDecoder // the header's coding (version 3)
	size    int64         // the file's size, set by scanSegmentFile
	records int64         // intact records read
	frames  int64         // frames in them
	damage  []segDamage   // in order, not overlapping, not adjacent
	lastT   time.Duration // timestamp of the last frame read, if frames > 0
}

// damaged notes n bytes at off as unread, merging with a range that ends
// there.
func (sc *segScan) damaged(off, n int64, reason string) {
	if k := len(sc.damage); k > 0 && sc.damage[k-1].off+sc.damage[k-1].n == off {
		sc.damage[k-1].n += n
		return
	}
	sc.damage = append(sc.damage, segDamage{off: off, n: n, reason: reason})
}

// scanSegment reads a segment of size bytes from r, checks that it is
// want's (unless want is nil), and calls fn for each frame of each intact
// record in order with its timestamp and values; values is reused between
// calls. A damaged part is skipped: in a version 2 segment the reader
// resynchronises on the next record marker whose record is intact, so
// damage hides only the records it touches (reported in the result, not as
// an error). A bad header, or a segment that is not want's, hides the whole
// segment. The error is fn's, or a read error other than the data ending
// early. Any content is handled without panicking, in memory bounded by
// maxPayload and time bounded by a small multiple of size.
func scanSegment(r io.ReaderAt, size int64, want *segWant, fn func(t time.Duration, values []float64) error) (sc segScan, err error) {
	if size == 0 {
		return sc, nil // created, nothing written yet
	}
	end, why, err := sc.readHeader(r, size)
	if err != nil {
		return sc, err
	}
	if why != "" {
		sc.damaged(0, size, why)
		return sc, nil
	}
	if want != nil {
		if why := sc.refuse(want); why != "" {
			sc.damage = []segDamage{{off: 0, n: size, reason: why, refused: true}}
			return sc, nil
		}
	}
	return sc, sc.readRecords(r, end, size, fn)
}

// refuse says why a segment with an intact header is not want's, or "".
func (sc *segScan) refuse(want *segWant) string {
	h := sc.header
	switch {
	case want.runID != "" && h.RunID != want.runID:
		return fmt.Sprintf("%s (%q)", damageOtherRun, h.RunID)
	case sc.version >= segVersion2 && h.Seq != want.seq:
		return fmt.Sprintf("%s: segment %d named %d", damageSequence, h.Seq, want.seq)
	case !slices.Equal(h.Channels, want.layout):
		return damageLayout
	}
	return ""
}

// shortRead reports whether err is data ending early (the file may have
// shrunk since its size was taken), which is damage, not an error.
func shortRead(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// readAt fills b from r at off.
func readAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readHeader reads the segment's header and checks its magic, version,
// length, checksum and channels. When it is intact, sc has the header, its
// version and width, and end is where the records start; else why says what
// is wrong.
func (sc *segScan) readHeader(r io.ReaderAt, size int64) (end int64, why string, err error) {
	if size < segFixedLen+4 {
		return 0, damageTruncatedHeader, nil
	}
	var fixed [segFixedLen]byte
	if err := readAt(r, fixed[:], 0); err != nil {
		if shortRead(err) {
			return 0, damageTruncatedHeader, nil
		}
		return 0, "", err
	}
	if string(fixed[:8]) != segMagic {
		return 0, damageBadMagic, nil
	}
	v := le.Uint32(fixed[8:])
	if v != segVersion && v != segVersion2 && v != segVersion1 {
		return 0, fmt.Sprintf("%s %d", damageBadVersion, v), nil
	}
	jsLen := int64(le.Uint32(fixed[12:]))
	if jsLen > maxHeaderJSON {
		return 0, damageBadHeader, nil
	}
	if segFixedLen+jsLen+4 > size {
		return 0, damageTruncatedHeader, nil
	}
	rest := make([]byte, jsLen+4)
	if err := readAt(r, rest, segFixedLen); err != nil {
		if shortRead(err) {
			return 0, damageTruncatedHeader, nil
		}
		return 0, "", err
	}
	js := rest[:jsLen]
	crc := crc32.Update(crc32.Checksum(fixed[:], castagnoli), castagnoli, js)
	if crc != le.Uint32(rest[jsLen:]) {
		return 0, damageHeaderChecksum, nil
	}
	var h segHeader
	if err := json.Unmarshal(js, &h); err != nil || len(h.Channels) == 0 || len(h.Channels) > maxChannels || v >= segVersion2 && h.Seq < 1 {
		return 0, damageBadHeader, nil
	}
	if v >= segVersion {
		if checkCoding(h.Coding, len(h.Channels)) != nil {
			return 0, damageBadHeader, nil
		}
		sc.dec = newFrameDecoder(h.Coding)
	}
	sc.header, sc.width, sc.version = h, len(h.Channels), v
	return segFixedLen + jsLen + 4, "", nil
}

// readRecords reads the records from off to size, checking each one's
// marker, length and checksum before its frames go to fn. After a damaged
// record it looks for the next marker (version 2), or gives up on the rest
// (version 1). The bytes it reads for candidates that turn out damaged, and
// to find markers, are bounded by a budget (about three times the size), so
// crafted data full of markers cannot make it read a segment over and over.
func (sc *segScan) readRecords(r io.ReaderAt, off, size int64, fn func(t time.Duration, values []float64) error) error {
	hl, marker := int64(recHeaderLen1), []byte(nil)
	if sc.version >= segVersion2 {
		hl, marker = recHeaderLen, recMarker
	}
	values := make([]float64, sc.width)
	var payload []byte
	budget := 2*size + maxPayload
	br := bufio.NewReaderSize(io.NewSectionReader(r, off, size-off), 64<<10)
	for off < size {
		n, plen, why, err := sc.nextRecord(br, marker, hl, size-off, &payload)
		if err != nil {
			return err
		}
		if why == "" && sc.dec != nil {
			var k int
			if k, err = sc.dec.decode(payload); err != nil {
				why = err.Error()
			}
			n = int64(k)
		}
		if why == "" {
			if err := sc.decodeRecord(payload, n, values, fn); err != nil {
				return err
			}
			off += hl + plen
			sc.records++
			sc.frames += n
			continue
		}
		next := size
		if budget -= hl + plen; marker != nil && budget > 0 {
			var read int64
			if next, read, err = findMarker(r, off+1, size, marker); err != nil {
				return err
			}
			budget -= read
		}
		sc.damaged(off, next-off, why)
		off = next
		br.Reset(io.NewSectionReader(r, off, size-off))
	}
	return nil
}

// nextRecord reads the record at br, rem bytes before the end of the
// segment, into *payload: its frame count and payload length, or why it is
// not an intact record (with the payload length read, if it was).
func (sc *segScan) nextRecord(br *bufio.Reader, marker []byte, hl, rem int64, payload *[]byte) (n, plen int64, why string, err error) {
	if rem < hl {
		return 0, 0, damageTruncated, nil
	}
	var rh [recHeaderLen]byte
	h := rh[:hl]
	if _, err := io.ReadFull(br, h); err != nil {
		if shortRead(err) {
			return 0, 0, damageTruncated, nil
		}
		return 0, 0, "", err
	}
	if !bytes.Equal(h[:len(marker)], marker) {
		return 0, 0, damageNoMarker, nil
	}
	h = h[len(marker):]
	plen = int64(le.Uint32(h))
	minLen := payloadHdrLen + 4 + 4*int64(sc.width)
	if sc.dec != nil {
		minLen = 2 // a frame count and a column's byte at least
	}
	if plen < minLen || plen > maxPayload {
		return 0, 0, damageBadLength, nil
	}
	if plen > rem-hl {
		return 0, 0, damageTruncated, nil
	}
	*payload = slices.Grow((*payload)[:0], int(plen))[:plen]
	if _, err := io.ReadFull(br, *payload); err != nil {
		if shortRead(err) {
			return 0, plen, damageTruncated, nil
		}
		return 0, 0, "", err
	}
	if crc32.Checksum(*payload, castagnoli) != le.Uint32(h[4:]) {
		return 0, plen, damageChecksum, nil
	}
	if sc.dec != nil {
		return 0, plen, "", nil // decoded by the caller
	}
	n = int64(le.Uint32(*payload))
	if plen != payloadHdrLen+n*(4+4*int64(sc.width)) {
		return 0, plen, damageFrameCount, nil
	}
	return n, plen, "", nil
}

// findMarker returns the offset of the first marker at or after from, or
// size if there is none, and the bytes it read to find it.
func findMarker(r io.ReaderAt, from, size int64, marker []byte) (at, read int64, err error) {
	buf := make([]byte, 4<<10)
	k := int64(len(marker))
	for from+k <= size {
		n := min(int64(len(buf)), size-from)
		read += n
		if err := readAt(r, buf[:n], from); err != nil {
			if shortRead(err) {
				return size, read, nil
			}
			return 0, read, err
		}
		if i := bytes.Index(buf[:n], marker); i >= 0 {
			return from + int64(i), read, nil
		}
		from += n - k + 1
	}
	return size, read, nil
}

// decodeRecord calls fn (unless nil) with each of the n frames of an
// intact record's payload, in values.
func (sc *segScan) decodeRecord(payload []byte, n int64, values []float64, fn func(t time.Duration, values []float64) error) error {
	w := sc.width
	if d := sc.dec; d != nil { // decoded already
		for i := range int(n) {
			t := d.times[i]
			if fn != nil {
				if err := fn(t, d.values[i*w:(i+1)*w:(i+1)*w]); err != nil {
					return err
				}
			}
			sc.lastT = t
		}
		return nil
	}
	first := time.Duration(le.Uint64(payload[4:]))
	offs := payload[payloadHdrLen : payloadHdrLen+4*n]
	vals := payload[payloadHdrLen+4*n:]
	for i := range int(n) {
		t := first + time.Duration(le.Uint32(offs[4*i:]))
		fv := vals[4*w*i:]
		for j := range values {
			values[j] = float64(math.Float32frombits(le.Uint32(fv[4*j:])))
		}
		if fn != nil {
			if err := fn(t, values); err != nil {
				return err
			}
		}
		sc.lastT = t
	}
	return nil
}
