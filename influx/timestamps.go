package influx

import (
	"math"
	"time"
)

// How the sink encodes what line protocol cannot hold as the record has
// it, and the inverse, for readers of the points (package reports): both
// here, so that the two cannot drift apart.

// NoTag stands in for an empty tag value (an event without a kind, a beat
// without a channel, a step without a path), which line protocol cannot
// hold.
const NoTag = "-"

// orNoTag is s, or NoTag for "".
func orNoTag(s string) string {
	if s == "" {
		return NoTag
	}
	return s
}

// TagValue is the record's value of a tag read from InfluxDB: "" for NoTag.
func TagValue(tag string) string {
	if tag == NoTag {
		return ""
	}
	return tag
}

// secondsNs converts run clock seconds to nanoseconds, as the record does;
// a time that is not finite (never written by the engine) becomes 0.
func secondsNs(s float64) int64 {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return 0
	}
	return int64(time.Duration(math.Round(s * 1e9)))
}

// RunSeconds is the run clock time, in seconds as the engine writes them
// (time.Duration.Seconds), of a point ns after the run's epoch: the inverse
// of the encoder's rounding to the nanosecond, so that times read back the
// same.
func RunSeconds(ns int64) float64 { return time.Duration(ns).Seconds() }

// Unshifter gives back their times to points the encoder moved. InfluxDB
// keeps one point per series and timestamp, so the encoder writes a point
// 1 ns after the previous one of its series when it would not come after it
// (events of one kind at the same time). The engine's points are at frame
// deadlines, never 1 ns apart, so a point 1 ns after the previous one of its
// series was moved, and is at that one's time.
type Unshifter struct {
	prev map[string]shifted // series → its previous point
}

// shifted is a point's timestamp in InfluxDB and its original.
type shifted struct{ stored, orig int64 }

// Original returns the original timestamp of a point of series stored at
// ts. The points of each series must be given in the order of their
// timestamps.
func (u *Unshifter) Original(series string, ts int64) int64 {
	if u.prev == nil {
		u.prev = make(map[string]shifted)
	}
	orig := ts
	if p, ok := u.prev[series]; ok && ts == p.stored+1 {
		orig = p.orig
	}
	u.prev[series] = shifted{ts, orig}
	return orig
}
