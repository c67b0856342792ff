package runlog

import (
	"strconv"
	"strings"
)

// TopStep is the top-level step number (1-based) of a step path such as
// "3", "3.2" or "3[2].1", or 0 for none ("always", ""): what a resumed run
// keeps of the part before its interruption is counted in top-level steps.
func TopStep(path string) int {
	end := strings.IndexAny(path, ".[")
	if end < 0 {
		end = len(path)
	}
	n, err := strconv.Atoi(path[:end])
	if err != nil {
		return 0
	}
	return n
}
