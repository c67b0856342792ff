package remote

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// criteria.csv is the one file of a run a server may lack (an older
// mockloop's, or a run reported before it existed): its 404 is skipped,
// any other file's, or any other error, is not.
func TestMissingOptional(t *testing.T) {
	notFound := fmt.Errorf("wrapped: %w", &StatusError{Status: http.StatusNotFound})
	for _, tc := range []struct {
		file string
		err  error
		want bool
	}{
		{"criteria.csv", notFound, true},
		{"report.pdf", notFound, false},
		{"criteria.csv", &StatusError{Status: http.StatusInternalServerError}, false},
		{"criteria.csv", errors.New("connection refused"), false},
	} {
		if got := MissingOptional(tc.file, tc.err); got != tc.want {
			t.Errorf("MissingOptional(%s, %v) = %v, want %v", tc.file, tc.err, got, tc.want)
		}
	}
}
