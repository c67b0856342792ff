package fidelity

import (
	"os"
	"testing"

	"github.com/mockloop/mockloop/internal/benchtest"
)

func TestMain(m *testing.M) { os.Exit(benchtest.Run(m)) }
