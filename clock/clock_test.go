package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestVirtualAdvancesOnlyOnWait(t *testing.T) {
	epoch := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	v := NewVirtual(epoch)
	if v.Now() != 0 || !v.Epoch().Equal(epoch) {
		t.Fatalf("new clock at %v epoch %v", v.Now(), v.Epoch())
	}
	ctx := context.Background()
	if err := v.SleepUntil(ctx, 24*time.Hour); err != nil || v.Now() != 24*time.Hour {
		t.Fatalf("after SleepUntil(24h): %v, %v", v.Now(), err)
	}
	// a deadline in the past does not move time back
	if err := v.SleepUntil(ctx, time.Hour); err != nil || v.Now() != 24*time.Hour {
		t.Fatalf("after SleepUntil(past): %v", v.Now())
	}
	v.Advance(time.Second)
	v.Advance(-time.Hour)
	if v.Now() != 24*time.Hour+time.Second {
		t.Fatalf("after Advance: %v", v.Now())
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := v.SleepUntil(cctx, 48*time.Hour); !errors.Is(err, context.Canceled) || v.Now() != 24*time.Hour+time.Second {
		t.Fatalf("cancelled SleepUntil: %v at %v", err, v.Now())
	}
}

func TestRealWaitsForAbsoluteDeadline(t *testing.T) {
	r := NewReal()
	ctx := context.Background()
	deadline := r.Now() + 20*time.Millisecond
	if err := r.SleepUntil(ctx, deadline); err != nil {
		t.Fatal(err)
	}
	if now := r.Now(); now < deadline {
		t.Fatalf("woke at %v before the deadline %v", now, deadline)
	}
	// a past deadline returns at once without error
	if err := r.SleepUntil(ctx, 0); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(5 * time.Millisecond); cancel() }()
	if err := r.SleepUntil(cctx, r.Now()+time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait returned %v", err)
	}
}

// TestPacedKeepsItsPace: a paced clock moves only in SleepUntil, like a
// virtual one, and never faster than its speed: 200 ms of run time at 10×
// take at least 20 ms of wall time.
func TestPacedKeepsItsPace(t *testing.T) {
	p := NewPaced(time.Unix(0, 0), 10)
	start := time.Now()
	for i := 1; i <= 200; i++ {
		if err := p.SleepUntil(context.Background(), time.Duration(i)*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if now := p.Now(); now != 200*time.Millisecond {
		t.Fatalf("paced clock at %v, want 200ms", now)
	}
	if wall := time.Since(start); wall < 20*time.Millisecond-paceSlack {
		t.Errorf("200 ms at 10× took %v of wall time, want ≥ 20 ms", wall)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.SleepUntil(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
	if p.Now() != 200*time.Millisecond {
		t.Errorf("a cancelled wait moved the clock to %v", p.Now())
	}
}
