package runlog

import (
	"strings"
	"testing"
	"time"
)

func TestNewRunID(t *testing.T) {
	at := time.Date(2026, 11, 21, 0, 15, 2, 999999999, time.FixedZone("CET", 3600))
	seen := map[string]bool{}
	for range 100 {
		id := NewRunID(at)
		if !strings.HasPrefix(id, "20261120T231502Z-") || !ValidRunID(id) {
			t.Fatalf("NewRunID = %q, want 20261120T231502Z-xxxxxx (UTC) and valid", id)
		}
		seen[id] = true
	}
	if len(seen) < 95 { // 100 draws from 16M: a repeat or two at most
		t.Errorf("%d distinct ids of 100", len(seen))
	}
}

func TestValidRunID(t *testing.T) {
	for s, want := range map[string]bool{
		"20261120T231502Z-7f3a9c":  true,
		"20261120T231502Z-000000":  true,
		"20261120T231502Z-7F3A9C":  false, // NewRunID writes lower case
		"20261320T231502Z-7f3a9c":  false, // month 13
		"20261120T231502Z-7f3a9":   false,
		"20261120T231502Z-7f3a9cc": false,
		"20261120T231502Z_7f3a9c":  false,
		"20261120T231502+-7f3a9c":  false,
		"../61120T231502Z-7f3a9c":  false,
		"20261120T2315/2Z-7f3a9c":  false,
		"":                         false,
	} {
		if got := ValidRunID(s); got != want {
			t.Errorf("ValidRunID(%q) = %v, want %v", s, got, want)
		}
	}
}
