package runlog

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// runIDTime is the time part of a run id: UTC to the second, no separators
// that a file system, URL or InfluxDB tag would need escaped.
const runIDTime = "20060102T150405Z"

// runIDLen is the length of a run id: the time, "-", six hex digits.
const runIDLen = len(runIDTime) + 1 + 6

// NewRunID returns a new run id for a run started at t, e.g.
// "20261120T231502Z-7f3a9c": t in UTC to the second, a dash and six random
// lower-case hex digits from crypto/rand.
//
// Ids sort by start time as plain strings, are safe as path elements, URLs and
// InfluxDB tag values, and the random suffix keeps apart runs started in the
// same second (two rigs sharing a runs directory). Create still refuses an
// existing directory, so a collision fails loudly rather than merging runs.
func NewRunID(t time.Time) string {
	var b [3]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return t.UTC().Format(runIDTime) + "-" + hex.EncodeToString(b[:])
}

// ValidRunID reports whether s is a run id as NewRunID makes them. It is the
// check made before a string from a command line or a directory listing is
// used as a path element, so it accepts nothing else (no "..", no slashes).
func ValidRunID(s string) bool {
	if len(s) != runIDLen || s[len(runIDTime)] != '-' {
		return false
	}
	if _, err := time.Parse(runIDTime, s[:len(runIDTime)]); err != nil {
		return false
	}
	for _, c := range []byte(s[len(runIDTime)+1:]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
