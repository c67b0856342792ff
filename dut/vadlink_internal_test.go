package dut

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// pipeDevice answers every request on conn with OK (HELLO with an identity)
// until conn is closed: a device behind a custom transport.
func pipeDevice(conn net.Conn) {
	lr := NewLineReader(conn)
	for {
		line, err := lr.ReadLine()
		if errors.Is(err, ErrTooLong) {
			continue
		}
		if err != nil {
			return
		}
		f, err := ParseFrame(line)
		if err != nil {
			continue
		}
		rep := Frame{Seq: f.Seq, Verb: "OK"}
		if f.Verb == "HELLO" {
			rep.Args = []string{"model=pipe", "serial=1", "fw=0", "proto=1"}
		}
		b, _ := AppendFrame(nil, rep)
		if _, err := conn.Write(b); err != nil {
			return
		}
	}
}

func TestSeqWrapsTo1(t *testing.T) {
	host, dev := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); pipeDevice(dev) }()
	defer wg.Wait()
	defer dev.Close()

	var mu sync.Mutex
	var seqs []uint16
	d, err := Dial(context.Background(), Config{
		Path: "pipe",
		Open: func(string) (io.ReadWriteCloser, error) { return host, nil },
		OnFrame: func(e FrameEvent) {
			if e.Dir == Sent {
				mu.Lock()
				seqs = append(seqs, e.Frame.Seq)
				mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.req.Lock()
	d.seq = 65533
	d.req.Unlock()
	for range 4 {
		if err := d.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []uint16{1, 65534, 65535, 1, 2}
	if len(seqs) != len(want) {
		t.Fatalf("seqs %v, want %v", seqs, want)
	}
	for i := range want {
		if seqs[i] != want[i] {
			t.Fatalf("seqs %v, want %v", seqs, want)
		}
	}
}
