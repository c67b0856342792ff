package daq

import (
	"fmt"
	"time"

	"github.com/mockloop/mockloop/units"
)

// Channel describes one column of a frame: its name as protocols and reports
// use it ("aop", "dut.rpm") and the dimension of its engineering unit.
type Channel struct {
	Name string
	Dim  units.Dimension
}

// Layout is the ordered set of channels of every frame in a run. It is fixed
// for the whole run so a frame can be a flat row of float64.
type Layout []Channel

// Index returns the column of the named channel, or -1.
func (l Layout) Index(name string) int {
	for i, c := range l {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Names returns the channel names in column order.
func (l Layout) Names() []string {
	n := make([]string, len(l))
	for i, c := range l {
		n[i] = c.Name
	}
	return n
}

// Block is a run of consecutive frames stored column-interleaved in one
// preallocated slice, so the pipeline moves frames without allocating.
// Frame i, channel j is Values[i*Width+j]; its timestamp is Times[i], the
// clock's time since the start of the run.
type Block struct {
	Width  int
	Times  []time.Duration
	Values []float64
}

// NewBlock returns an empty block with room for capacity frames of width channels.
func NewBlock(width, capacity int) *Block {
	return &Block{
		Width:  width,
		Times:  make([]time.Duration, 0, capacity),
		Values: make([]float64, 0, capacity*width),
	}
}

// Len is the number of frames in the block.
func (b *Block) Len() int { return len(b.Times) }

// Cap is the number of frames the block holds before it is full.
func (b *Block) Cap() int { return cap(b.Times) }

// Full reports whether no further frame fits.
func (b *Block) Full() bool { return len(b.Times) == cap(b.Times) }

// Frame returns the values of frame i (a view into the block, not a copy).
func (b *Block) Frame(i int) []float64 { return b.Values[i*b.Width : (i+1)*b.Width] }

// Append adds a frame and returns the slice its values must be written to.
// It panics if the block is full, which is a programming error.
func (b *Block) Append(t time.Duration) []float64 {
	if b.Full() {
		panic(fmt.Sprintf("daq: append to full block of %d frames", b.Cap()))
	}
	b.Times = append(b.Times, t)
	n := len(b.Values)
	b.Values = b.Values[:n+b.Width]
	return b.Values[n : n+b.Width]
}

// Reset empties the block, keeping its storage.
func (b *Block) Reset() {
	b.Times = b.Times[:0]
	b.Values = b.Values[:0]
}
