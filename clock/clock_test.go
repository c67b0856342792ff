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
