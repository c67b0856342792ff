package runlog

import (
	"bufio"
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
	segVersion    = 1
	segFixedLen   = 16         // magic, version, JSON length
	maxHeaderJSON = 1 << 20    // bound on the header JSON a reader accepts
	maxChannels   = 4096       // bound on the width a reader accepts
	recHeaderLen  = 8          // payload length, CRC
	payloadHdrLen = 12         // frame count, first timestamp
	maxPayload    = 16 << 20   // bound on a record's payload, both sides
	maxOffset     = 1<<32 - 1  // largest frame offset a record can hold, ns
	segmentBytes  = 64 << 20   // default rotation size of a segment
	segmentExt    = ".seg"     // segment file name extension
	cutExt        = ".seg.cut" // bytes Recover cut from a segment
)

// castagnoli is the CRC-32C table; CRC-32C has hardware support on amd64 and
// arm64 and better error detection than IEEE CRC-32 for short records.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// le is the byte order of everything in a segment.
var le = binary.LittleEndian

// segHeader is the JSON of a segment header.
type segHeader struct {
	RunID    string    `json:"run_id"`
	Channels []Channel `json:"channels"`
}

// segmentName is the file name of segment seq (from 1).
func segmentName(seq int) string { return fmt.Sprintf("%08d%s", seq, segmentExt) }

// appendSegmentHeader appends the encoded header of a segment to dst.
func appendSegmentHeader(dst []byte, h segHeader) ([]byte, error) {
	js, err := json.Marshal(h)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, segMagic...)
	dst = le.AppendUint32(dst, segVersion)
	dst = le.AppendUint32(dst, uint32(len(js)))
	dst = append(dst, js...)
	return le.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli)), nil
}

// maxRecordFrames is the most frames of width channels one record may hold
// under maxPayload.
func maxRecordFrames(width int) int { return (maxPayload - payloadHdrLen) / (4 + 4*width) }

// recordEnd returns the end j > i of the record that starts at frame i of
// times: the frames after i join it while their offset from frame i fits a
// u32 (is within 0 .. 4.29 s) and the record stays under maxFrames.
func recordEnd(times []time.Duration, i, maxFrames int) int {
	j := i + 1
	for j < len(times) && j-i < maxFrames {
		if d := times[j] - times[i]; d < 0 || d > maxOffset {
			break
		}
		j++
	}
	return j
}

// appendRecord appends to dst one record of the frames with the given
// timestamps and values (len(times)*width of them, frame after frame). The
// offsets of times from times[0] must fit a u32, which recordEnd ensures. It
// does not allocate when dst has room.
func appendRecord(dst []byte, times []time.Duration, values []float64) []byte {
	n := len(times)
	payload := payloadHdrLen + 4*n + 4*len(values)
	start := len(dst)
	dst = slices.Grow(dst, recHeaderLen+payload)[:start+recHeaderLen+payload]
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
	le.PutUint32(dst[start:], uint32(payload))
	le.PutUint32(dst[start+4:], crc32.Checksum(p, castagnoli))
	return dst
}

// Reasons a segment stops being readable, as reported in Damage.
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
	damageLayout          = "layout differs from the manifest"
)

// segScan is what scanSegment found in one segment.
type segScan struct {
	header  segHeader
	width   int           // len(header.Channels); 0 if the header was not read
	records int64         // intact records read
	frames  int64         // frames in them
	good    int64         // end of the last intact record (or of the header)
	damage  string        // why reading stopped before the end; "" if it did not
	lastT   time.Duration // timestamp of the last frame read, if frames > 0
}

// scanSegment reads a segment of size bytes from r, checks that its layout
// is want unless want is nil, and calls fn for each frame
// of each intact record in order with its timestamp and values; values is
// reused between calls. Reading stops at the first damaged part (reported in
// the result, not as an error). The error is fn's, or a read error other than
// the data ending early. Any content is handled without panicking, and memory
// use is bounded by size.
func scanSegment(r io.Reader, size int64, want []Channel, fn func(t time.Duration, values []float64) error) (sc segScan, err error) {
	if size == 0 {
		return sc, nil // created, nothing written yet
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if err := sc.readHeader(br, size); err != nil || sc.damage != "" {
		return sc, err
	}
	if want != nil && !slices.Equal(sc.header.Channels, want) {
		sc.damage = damageLayout
		return sc, nil
	}
	err = sc.readRecords(br, size, fn)
	return sc, err
}

// short reports a read that hit the end of data early as damage; the file
// may have shrunk since its size was taken. Any other read error is
// returned.
func (sc *segScan) short(err error, damage string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		sc.damage = damage
		return nil
	}
	return err
}

// readHeader reads the segment's header from br and checks its magic,
// version, length, checksum and channels. When it is intact, sc has the
// header, its width and, in good, where the records start; else sc.damage
// says what is wrong.
func (sc *segScan) readHeader(br *bufio.Reader, size int64) error {
	if size < segFixedLen+4 {
		sc.damage = damageTruncatedHeader
		return nil
	}
	var fixed [segFixedLen]byte
	if _, err := io.ReadFull(br, fixed[:]); err != nil {
		return sc.short(err, damageTruncatedHeader)
	}
	if string(fixed[:8]) != segMagic {
		sc.damage = damageBadMagic
		return nil
	}
	if v := le.Uint32(fixed[8:]); v != segVersion {
		sc.damage = fmt.Sprintf("%s %d", damageBadVersion, v)
		return nil
	}
	jsLen := int64(le.Uint32(fixed[12:]))
	if jsLen > maxHeaderJSON {
		sc.damage = damageBadHeader
		return nil
	}
	if segFixedLen+jsLen+4 > size {
		sc.damage = damageTruncatedHeader
		return nil
	}
	rest := make([]byte, jsLen+4)
	if _, err := io.ReadFull(br, rest); err != nil {
		return sc.short(err, damageTruncatedHeader)
	}
	js := rest[:jsLen]
	crc := crc32.Update(crc32.Checksum(fixed[:], castagnoli), castagnoli, js)
	if crc != le.Uint32(rest[jsLen:]) {
		sc.damage = damageHeaderChecksum
		return nil
	}
	var h segHeader
	if err := json.Unmarshal(js, &h); err != nil || len(h.Channels) == 0 || len(h.Channels) > maxChannels {
		sc.damage = damageBadHeader
		return nil
	}
	sc.header, sc.width = h, len(h.Channels)
	sc.good = segFixedLen + jsLen + 4
	return nil
}

// readRecords reads the records that follow the header, up to size or the
// first damaged one, checking each one's length and checksum before its
// frames go to fn.
func (sc *segScan) readRecords(br *bufio.Reader, size int64, fn func(t time.Duration, values []float64) error) error {
	w := sc.width
	values := make([]float64, w)
	var payload []byte
	var rh [recHeaderLen]byte
	off := sc.good
	for {
		rem := size - off
		if rem == 0 {
			return nil
		}
		if rem < recHeaderLen {
			sc.damage = damageTruncated
			return nil
		}
		if _, err := io.ReadFull(br, rh[:]); err != nil {
			return sc.short(err, damageTruncated)
		}
		plen := int64(le.Uint32(rh[:]))
		if plen < payloadHdrLen+4+4*int64(w) || plen > maxPayload {
			sc.damage = damageBadLength
			return nil
		}
		if plen > rem-recHeaderLen {
			sc.damage = damageTruncated
			return nil
		}
		payload = slices.Grow(payload[:0], int(plen))[:plen]
		if _, err := io.ReadFull(br, payload); err != nil {
			return sc.short(err, damageTruncated)
		}
		if crc32.Checksum(payload, castagnoli) != le.Uint32(rh[4:]) {
			sc.damage = damageChecksum
			return nil
		}
		n := int64(le.Uint32(payload))
		if plen != payloadHdrLen+n*(4+4*int64(w)) {
			sc.damage = damageFrameCount
			return nil
		}
		if err := sc.decodeRecord(payload, n, values, fn); err != nil {
			return err
		}
		off += recHeaderLen + plen
		sc.good = off
		sc.records++
		sc.frames += n
	}
}

// decodeRecord calls fn (unless nil) with each of the n frames of an
// intact record's payload, in values.
func (sc *segScan) decodeRecord(payload []byte, n int64, values []float64, fn func(t time.Duration, values []float64) error) error {
	w := sc.width
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
