package live

import (
	"encoding/json"
	"math"
	"sync/atomic"
	"testing"
	"time"
)

// recv waits for the next message of a subscriber, failing after a while
// (the hub's encoder is another goroutine).
func recv(t *testing.T, s *Subscriber) *Message {
	t.Helper()
	select {
	case m, ok := <-s.C:
		if !ok {
			t.Fatal("subscriber closed")
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
	return nil
}

// TestFramesAreDecimatedAndBatched: at 1 kHz every 4th frame is sent, in
// messages of BatchSpan, column-major, NaN as null, first the subscriber's
// own first message.
func TestFramesAreDecimatedAndBatched(t *testing.T) {
	h := New()
	defer h.Close()
	s := h.Subscribe(NewMessage("hello", map[string]string{"rig": "sim"}))
	h.Begin(2, 1000, 1)
	for i := 1; i <= 100; i++ { // 100 ms of frames
		v := float64(i)
		if i == 8 {
			v = math.NaN()
		}
		h.Frame(time.Duration(i)*time.Millisecond, []float64{v, -v})
	}
	if m := recv(t, s); m.Event != "hello" || string(m.Data) != `{"rig":"sim"}` {
		t.Fatalf("first message %s %s", m.Event, m.Data)
	}
	var ts []float64
	var ch0, ch1 []*float64
	for len(ts) < 20 {
		m := recv(t, s)
		if m.Event != "frames" {
			t.Fatalf("event %q, want frames", m.Event)
		}
		var f struct {
			T []float64    `json:"t"`
			V [][]*float64 `json:"v"`
		}
		if err := json.Unmarshal(m.Data, &f); err != nil {
			t.Fatal(err)
		}
		if len(f.V) != 2 || len(f.V[0]) != len(f.T) || len(f.V[1]) != len(f.T) {
			t.Fatalf("message %s: want 2 columns as long as t", m.Data)
		}
		if span := f.T[len(f.T)-1] - f.T[0]; span < 0.015 || span > 0.025 {
			t.Errorf("a message spans %g s, want about %v", span, BatchSpan)
		}
		ts, ch0, ch1 = append(ts, f.T...), append(ch0, f.V[0]...), append(ch1, f.V[1]...)
	}
	for i, tt := range ts {
		want := float64(4*(i+1)) / 1000
		if math.Abs(tt-want) > 1e-9 {
			t.Fatalf("frame %d at %g s, want %g (every 4th of 1 kHz)", i, tt, want)
		}
		if i == 1 { // frame 8 was NaN
			if ch0[i] != nil || ch1[i] != nil {
				t.Errorf("NaN sent as %v, want null", *ch0[i])
			}
			continue
		}
		if *ch0[i] != 1000*want || *ch1[i] != -1000*want {
			t.Errorf("frame %d: %g, %g", i, *ch0[i], *ch1[i])
		}
	}
}

// TestSlowSubscriberLosesOnlyItsOwn: a subscriber that never reads fills
// its buffer and then loses messages, counted; the sampler's calls return
// and a reading subscriber gets every message.
func TestSlowSubscriberLosesOnlyItsOwn(t *testing.T) {
	h := New()
	defer h.Close()
	stuck := h.Subscribe(nil)
	reader := h.Subscribe(nil)
	var read atomic.Int64
	got := make(chan int)
	go func() {
		n := 0
		for m := range reader.C {
			if m.Event == "beat" {
				n++
				read.Add(1)
			}
		}
		got <- n
	}()
	const beats = 1000
	for i := range beats {
		h.Publish("beat", map[string]int{"i": i})
		if i%32 == 31 { // let the reader keep up; the stuck one never does
			for deadline := time.Now().Add(5 * time.Second); read.Load() < int64(i+1) && time.Now().Before(deadline); {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	for deadline := time.Now().Add(10 * time.Second); read.Load() < beats && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
	}
	h.Unsubscribe(reader)
	if n := <-got; n != beats {
		t.Errorf("reading subscriber got %d beats, want all %d", n, beats)
	}
	// Frames too, as fast as a virtual-time run makes them.
	h.Begin(8, 1000, 1)
	frame := make([]float64, 8)
	for i := range 1_000_000 {
		h.Frame(time.Duration(i)*time.Millisecond, frame)
	}
	if h.Subscribers() != 1 {
		t.Errorf("%d subscribers, want 1", h.Subscribers())
	}
	// Close waits for the encoder: nothing is offered after it, so the
	// counts below are final (under emulation the encoder may still be
	// offering queued frames long after the last Frame call).
	h.Close()
	if len(stuck.C) != SubscriberBuffer {
		t.Errorf("stuck subscriber holds %d messages, want its buffer full (%d)", len(stuck.C), SubscriberBuffer)
	}
	if d := stuck.Dropped(); d < beats-SubscriberBuffer {
		t.Errorf("stuck subscriber dropped %d, want ≥ %d", d, beats-SubscriberBuffer)
	}
	if d := stuck.Dropped(); d != 0 {
		t.Errorf("Dropped did not reset: %d", d)
	}
}

// TestNoSubscribersNoWork: without subscribers frames are not batched.
func TestNoSubscribersNoWork(t *testing.T) {
	h := New()
	defer h.Close()
	h.Begin(2, 1000, 1)
	for i := range 1000 {
		h.Frame(time.Duration(i)*time.Millisecond, []float64{1, 2})
	}
	h.qmu.Lock()
	n := len(h.queue)
	h.qmu.Unlock()
	if n != 0 || h.cur != nil {
		t.Errorf("%d items queued, batch %v, without subscribers", n, h.cur)
	}
}

// TestPacedRunKeepsMessageRate: at 20× real time a message covers 20 ×
// BatchSpan of run time.
func TestPacedRunKeepsMessageRate(t *testing.T) {
	h := New()
	defer h.Close()
	s := h.Subscribe(nil)
	h.Begin(1, 1000, 20)
	for i := 1; i <= 2000; i++ {
		h.Frame(time.Duration(i)*time.Millisecond, []float64{1})
	}
	m := recv(t, s)
	var f struct{ T []float64 }
	if err := json.Unmarshal(m.Data, &f); err != nil {
		t.Fatal(err)
	}
	if span := f.T[len(f.T)-1] - f.T[0]; span < 0.39 || span > 0.41 {
		t.Errorf("a message spans %g s of run time, want 0.4", span)
	}
}

// TestCloseEndsSubscribers: Close closes every subscriber's channel, and
// later calls are harmless.
func TestCloseEndsSubscribers(t *testing.T) {
	h := New()
	s := h.Subscribe(nil)
	h.Close()
	if _, ok := <-s.C; ok {
		t.Error("subscriber channel open after Close")
	}
	h.Publish("beat", 1)
	h.Close()
	if _, ok := <-h.Subscribe(nil).C; ok {
		t.Error("subscription after Close is open")
	}
}

// BenchmarkFrame is the run goroutine's cost per frame with subscribers.
func BenchmarkFrame(b *testing.B) {
	h := New()
	defer h.Close()
	for range 20 {
		s := h.Subscribe(nil)
		go func() {
			for range s.C {
			}
		}()
	}
	h.Begin(10, 1000, 1)
	frame := make([]float64, 10)
	i := 0
	for b.Loop() {
		i++
		h.Frame(time.Duration(i)*time.Millisecond, frame)
	}
}
