package frametest

import (
	"math"
	"time"

	"github.com/mockloop/mockloop/daq"
)

// Value is the value of channel j of frame i.
func Value(i, j int) float64 {
	return math.Sin(float64(i)*0.01+float64(j)) * math.Pow(10, float64(j%5)-1)
}

// Time is the timestamp of frame i.
func Time(i int) time.Duration {
	return time.Duration(i)*time.Millisecond + time.Duration(i%7)*13
}

// Fill fills b with frames from..from+n at Time with Value, and returns it.
func Fill(b *daq.Block, from, n int) *daq.Block {
	b.Reset()
	for i := from; i < from+n; i++ {
		v := b.Append(Time(i))
		for j := range v {
			v[j] = Value(i, j)
		}
	}
	return b
}
