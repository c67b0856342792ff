package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

// answerFlags are run's --answer ID=VALUE, repeatable.
type answerFlags map[string]string

func (a answerFlags) String() string { return "" }

func (a answerFlags) Set(s string) error {
	id, v, ok := strings.Cut(s, "=")
	if !ok || id == "" {
		return fmt.Errorf("want ID=VALUE, e.g. leak-check=yes")
	}
	if _, dup := a[id]; dup {
		return fmt.Errorf("prompt %s answered twice", id)
	}
	a[id] = v
	return nil
}

// terminalPrompts asks the run's prompts on stderr and reads each answer
// from stdin, a line at a time, asking again after a refused answer; nil
// when stdin is not a terminal (the run then takes --answer and defaults).
func terminalPrompts(stdin *os.File, stderr io.Writer, operator string) *rig.Prompts {
	if !isTerminal(stdin) {
		return nil
	}
	in := bufio.NewReaderSize(stdin, 4096)
	pr := &rig.Prompts{}
	pr.OnAsk = func(d runlog.PromptData) {
		go func() {
			for {
				fmt.Fprintf(stderr, "\n%s %s\n> ", termtext.EscapeLines(d.Message), promptHint(d))
				line, err := readLine(in, protocols.MaxAnswer)
				if err != nil && !errors.Is(err, errLongLine) {
					return // stdin closed: the prompt's timeout or the operator's stop ends the wait
				}
				if err == nil {
					err = pr.Answer(d.ID, line, runlog.OperatorData{By: operator, Via: "terminal"})
				}
				if err == nil || errors.Is(err, rig.ErrNoPrompt) {
					return
				}
				fmt.Fprintf(stderr, "mockloop: %s\n", termtext.EscapeLines(err.Error()))
			}
		}()
	}
	return pr
}

// promptHint says what a prompt takes: its choices, or a number and unit.
func promptHint(d runlog.PromptData) string {
	switch {
	case len(d.Choices) > 0:
		return "[" + strings.Join(d.Choices, "/") + "]"
	case d.Input == "number":
		return "(number, " + d.Unit + ")"
	}
	return "(text)"
}

var errLongLine = errors.New("mockloop: the answer is too long")

// readLine reads one line of at most max bytes; a longer one is read to
// its end and refused, so that nothing unbounded is kept.
func readLine(r *bufio.Reader, max int) (string, error) {
	var b []byte
	long := false
	for {
		chunk, err := r.ReadSlice('\n')
		if len(b)+len(chunk) > max+2 {
			long = true
		} else {
			b = append(b, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && len(b) == 0 {
			return "", err
		}
		break
	}
	if long {
		return "", errLongLine
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
