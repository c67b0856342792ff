package dut_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/dut/dutsim"
)

// BenchmarkStatusRoundTrip measures one STATUS request and its reply through
// go.bug.st/serial, the kernel's pty and the simulated firmware, and reports
// the median and 99th percentile of the per-request latency besides the mean.
func BenchmarkStatusRoundTrip(b *testing.B) {
	srv, err := dutsim.Serve(context.Background(), dutsim.Config{Clock: virtual()})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	d, err := dut.Dial(context.Background(), dut.Config{Path: srv.Name()})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := d.Status(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Nanoseconds()), "p99-ns")
	if n := d.Stats(); n.Retries != 0 {
		b.Logf("%d retries during the benchmark", n.Retries)
	}
}
