package live

import (
	"encoding/json"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// DisplayRate is the frame rate of the stream per channel: enough for a
// waveform on a screen (a heartbeat is ~1 Hz, its dicrotic notch tens of
// ms), a quarter of the default sampling rate.
const DisplayRate = 250.0

// BatchSpan is how much run time one frames message covers: shorter than a
// display frame at 60 Hz would gain nothing, much longer shows as lag.
const BatchSpan = 20 * time.Millisecond

// SubscriberBuffer is how many messages a subscriber may have pending (at
// 50 frame messages a second, over a second of stream).
const SubscriberBuffer = 64

// maxPending bounds the frame batches waiting for the hub's encoder: if the
// encoder falls behind (a run on virtual time produces frames far faster
// than real time), batches are dropped before they are encoded.
const maxPending = 8

// Message is one server-sent event, encoded once for every subscriber.
type Message struct {
	Event string
	Data  []byte
}

// Subscriber receives the hub's messages on C until it unsubscribes.
type Subscriber struct {
	C       chan *Message
	dropped atomic.Int64
}

// Dropped returns and resets how many messages the subscriber lost since
// the last call.
func (s *Subscriber) Dropped() int64 { return s.dropped.Swap(0) }

// Hub is the fan-out. The zero value is not usable; use New.
type Hub struct {
	mu   sync.Mutex
	subs map[*Subscriber]struct{}
	nsub atomic.Int32

	// Owned by the run's goroutine: the batch being filled.
	width     int
	span      time.Duration
	decim     int
	count     int
	cur       *Frames
	batchFrom time.Duration

	// Handed to the encoder.
	qmu     sync.Mutex
	queue   []any
	pending int // frame batches in queue
	wake    chan struct{}
	free    chan *Frames
	stop    chan struct{}
	done    chan struct{}
	closed  atomic.Bool
}

// Frames is a batch of decimated frames: T[i] in seconds of run time, and
// V[channel][i] the values (column-major, so a client appends a column to
// each channel's trace). NaN (a missing value) is sent as null.
type Frames struct {
	T []float64     `json:"t"`
	V [][]jsonFloat `json:"v"`
}

// jsonFloat encodes NaN and ±Inf as null, which JSON has instead.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// New starts a hub; Close stops it.
func New() *Hub {
	h := &Hub{subs: map[*Subscriber]struct{}{}, wake: make(chan struct{}, 1), free: make(chan *Frames, maxPending+2),
		stop: make(chan struct{}), done: make(chan struct{})}
	go h.encode()
	return h
}

// Close stops the hub's encoder and closes every subscriber's channel.
func (h *Hub) Close() {
	if h.closed.Swap(true) {
		return
	}
	close(h.stop)
	<-h.done
	h.mu.Lock()
	for s := range h.subs {
		close(s.C)
		delete(h.subs, s)
	}
	h.mu.Unlock()
}

// Subscribe adds a subscriber; first, if not nil, is its first message
// (the state of things when it joined), queued before any other.
func (h *Hub) Subscribe(first *Message) *Subscriber {
	s := &Subscriber{C: make(chan *Message, SubscriberBuffer)}
	if first != nil {
		s.C <- first
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed.Load() {
		close(s.C)
		return s
	}
	h.subs[s] = struct{}{}
	h.nsub.Add(1)
	return s
}

// Unsubscribe removes a subscriber and closes its channel.
func (h *Hub) Unsubscribe(s *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		h.nsub.Add(-1)
		close(s.C)
	}
}

// Subscribers is how many subscribers there are now.
func (h *Hub) Subscribers() int { return int(h.nsub.Load()) }

// Begin readies the frame stream for a run of width channels sampled at
// rate Hz, whose run time passes speed times as fast as wall time (1 at
// the bench; more on a paced simulation, where a message then covers
// speed × BatchSpan so that the stream keeps its message rate). It is
// called on the run's goroutine before its first Frame.
func (h *Hub) Begin(width int, rate, speed float64) {
	h.width = width
	h.span = time.Duration(float64(BatchSpan) * max(1, speed))
	h.decim = max(1, int(math.Round(rate/DisplayRate)))
	h.count = 0
	h.cur = nil
}

// Frame offers one frame; it is called on the run's goroutine for every
// frame and never blocks. Without subscribers it does nothing but count.
func (h *Hub) Frame(t time.Duration, frame []float64) {
	h.count++
	if h.count < h.decim {
		return
	}
	h.count = 0
	if h.nsub.Load() == 0 || len(frame) != h.width {
		h.cur = nil
		return
	}
	if h.cur == nil {
		h.cur = h.batch()
		h.batchFrom = t
	}
	b := h.cur
	b.T = append(b.T, t.Seconds())
	for i, v := range frame {
		b.V[i] = append(b.V[i], jsonFloat(v))
	}
	if t-h.batchFrom >= h.span {
		h.cur = nil
		h.enqueue(b, true)
	}
}

// batch takes an empty batch from the free list, or makes one.
func (h *Hub) batch() *Frames {
	select {
	case b := <-h.free:
		b.T = b.T[:0]
		if len(b.V) == h.width {
			for i := range b.V {
				b.V[i] = b.V[i][:0]
			}
			return b
		}
	default:
	}
	n := int(BatchSpan.Seconds()*DisplayRate) + 2
	b := &Frames{T: make([]float64, 0, n), V: make([][]jsonFloat, h.width)}
	for i := range b.V {
		b.V[i] = make([]jsonFloat, 0, n)
	}
	return b
}

// Publish sends v, encoded as JSON, as the event named event to every
// subscriber. It never blocks; events are few (beats, steps, criteria), so
// they are never dropped before encoding.
func (h *Hub) Publish(event string, v any) {
	h.enqueue(named{event, v}, false)
}

type named struct {
	event string
	v     any
}

func (h *Hub) enqueue(item any, frames bool) {
	if h.closed.Load() {
		return
	}
	h.qmu.Lock()
	if frames && h.pending >= maxPending {
		h.qmu.Unlock()
		h.recycle(item.(*Frames))
		return
	}
	if frames {
		h.pending++
	}
	h.queue = append(h.queue, item)
	h.qmu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *Hub) recycle(b *Frames) {
	select {
	case h.free <- b:
	default:
	}
}

// encode is the hub's goroutine: it encodes each queued item once and
// offers it to every subscriber.
func (h *Hub) encode() {
	defer close(h.done)
	var work []any
	for {
		select {
		case <-h.wake:
		case <-h.stop:
			return
		}
		h.qmu.Lock()
		work, h.queue = h.queue, work[:0]
		h.pending = 0
		h.qmu.Unlock()
		for _, it := range work {
			var m *Message
			switch it := it.(type) {
			case *Frames:
				m = NewMessage("frames", it)
				h.recycle(it)
			case named:
				m = NewMessage(it.event, it.v)
			}
			if m != nil {
				h.broadcast(m)
			}
		}
		clear(work)
	}
}

// NewMessage encodes v as the event named event, or returns nil if v
// cannot be encoded.
func NewMessage(event string, v any) *Message {
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return &Message{Event: event, Data: data}
}

func (h *Hub) broadcast(m *Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.C <- m:
		default:
			s.dropped.Add(1)
		}
	}
}
