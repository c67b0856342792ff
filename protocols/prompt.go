package protocols

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mockloop/mockloop/units"
)

// Prompt is a question a step asks the operator (language 1.1): the step
// waits for the answer, the rig holding its setpoints and recording.
type Prompt struct {
	ID      string
	Message string
	Choices []string // or Input
	// Input is "number" (in Unit, of dimension Dim) or "text"; "" with Choices.
	Input string
	Unit  string
	Dim   units.Dimension
	// Expect, if set, is the only answer that does not fail the step.
	Expect string
	// Timeout, if set, ends the wait: then Default answers, or the step fails.
	Timeout time.Duration
	Default string
	// OnFail is what a wrong or missing answer does: fail (default), abort, warn.
	OnFail Action
	Pos    Pos
}

// MaxAnswer is the longest answer accepted, in bytes: an answer is a word,
// a number or a line of text, and goes into the record.
const MaxAnswer = 200

// Answer checks an answer against the prompt and returns it as recorded:
// one of the choices; a number in the prompt's unit (a bare number is in
// that unit), written in its canonical unit; or a line of text.
func (p *Prompt) Answer(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", fmt.Errorf("prompt %s: the answer is empty", p.ID)
	case len(s) > MaxAnswer || !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\x00"):
		return "", fmt.Errorf("prompt %s: the answer must be one line of at most %d bytes", p.ID, MaxAnswer)
	case len(p.Choices) > 0:
		if !slices.Contains(p.Choices, s) {
			return "", fmt.Errorf("prompt %s: %q is not one of %s", p.ID, s, strings.Join(p.Choices, ", "))
		}
		return s, nil
	case p.Input == "number":
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			s += " " + p.Unit
		}
		v, err := units.ParseAs(s, p.Dim)
		if err != nil {
			return "", fmt.Errorf("prompt %s: %v", p.ID, err)
		}
		return units.Format(v, p.Dim), nil
	}
	return s, nil
}

// Expected reports whether an answer (as Answer returned it) is what the
// prompt expects; true when it expects nothing in particular.
func (p *Prompt) Expected(answer string) bool {
	if p.Expect == "" {
		return true
	}
	want, err := p.Answer(p.Expect)
	return err == nil && answer == want
}

var promptKeys = []string{"id", "message", "choices", "input", "unit", "expect", "timeout", "default", "on_fail"}

// prompt reads a step's prompt: an id unique in the file, a message, and
// either choices or an input (number with a unit, or text); expect and
// default must be valid answers.
func (p *parser) prompt(n *node) *Prompt {
	fields, ok := p.errs.Mapping(n, "prompt", promptKeys)
	if !ok {
		return nil
	}
	pr := &Prompt{Pos: p.errs.Pos(n), OnFail: Fail}
	at := map[string]*node{}
	for _, f := range fields {
		at[f.Key] = f.Value
		switch f.Key {
		case "id":
			if pr.ID, ok = p.errs.Scalar(f.Value, "prompt id"); ok && !nameRE.MatchString(pr.ID) {
				p.errs.At(f.Value, "prompt id %q: use [a-z0-9._-]+", pr.ID)
			}
		case "message":
			pr.Message, _ = p.errs.Scalar(f.Value, "message")
		case "choices":
			items, _ := p.errs.Sequence(f.Value, "choices")
			for _, it := range items {
				if c, ok := p.errs.Scalar(it, "choice"); ok {
					pr.Choices = append(pr.Choices, c)
				}
			}
			if len(items) == 0 {
				p.errs.At(f.Value, "choices needs at least one choice")
			}
		case "input":
			if pr.Input, ok = p.errs.Scalar(f.Value, "input"); ok && pr.Input != "number" && pr.Input != "text" {
				p.errs.At(f.Value, "input is number or text, got %q", pr.Input)
			}
		case "unit":
			pr.Unit, _ = p.errs.Scalar(f.Value, "unit")
		case "expect":
			pr.Expect, _ = p.errs.Scalar(f.Value, "expect")
		case "timeout":
			pr.Timeout, _ = p.positiveDuration(f.Value, "prompt timeout")
		case "default":
			pr.Default, _ = p.errs.Scalar(f.Value, "default")
		case "on_fail":
			pr.OnFail, _ = p.action(f.Value, "on_fail", false)
		}
	}
	p.checkPrompt(n, pr, at)
	return pr
}

// checkPrompt reports what a prompt lacks or has in excess, and answers
// (expect, default) it would refuse.
func (p *parser) checkPrompt(n *node, pr *Prompt, at map[string]*node) {
	switch {
	case at["id"] == nil:
		p.errs.At(n, "prompt needs an id, e.g. id: leak-check")
	case slices.Contains(p.promptIDs, pr.ID):
		p.errs.At(at["id"], "prompt id %q is used twice: ids are unique in the file", pr.ID)
	default:
		p.promptIDs = append(p.promptIDs, pr.ID)
	}
	if at["message"] == nil {
		p.errs.At(n, "prompt needs a message: what to ask the operator")
	}
	switch {
	case (at["choices"] == nil) == (at["input"] == nil):
		p.errs.At(n, "prompt needs choices: [...] or input: number | text, one of them")
		return
	case pr.Input == "number" && at["unit"] == nil:
		p.errs.At(at["input"], "input: number needs a unit, e.g. unit: mmHg")
		return
	case pr.Input != "number" && at["unit"] != nil:
		p.errs.At(at["unit"], "unit is for input: number")
		return
	case pr.Input == "number":
		q, err := units.Parse("1 " + pr.Unit)
		if err != nil {
			p.errs.At(at["unit"], "unit: %v", err)
			return
		}
		pr.Dim = q.Dim
	}
	for _, k := range []string{"expect", "default"} {
		if v := at[k]; v != nil && v.Value != "" {
			if _, err := pr.Answer(v.Value); err != nil {
				p.errs.At(v, "%s: %v", k, err)
			}
		}
	}
}

// Prompts are the protocol's prompts, in file order.
func (p *Protocol) Prompts() []*Prompt {
	var out []*Prompt
	var walk func([]*Step)
	walk = func(steps []*Step) {
		for _, s := range steps {
			if s.Prompt != nil {
				out = append(out, s.Prompt)
			}
			walk(s.Steps)
		}
	}
	walk(p.Steps)
	return out
}

// CheckAnswers checks answers given before the run (mockloop run --answer
// ID=VALUE) against the protocol's prompts and returns them as recorded
// (Prompt.Answer): an unknown id or an answer its prompt refuses is an
// error, before anything moves.
func (p *Protocol) CheckAnswers(given map[string]string) (map[string]string, error) {
	byID := map[string]*Prompt{}
	for _, pr := range p.Prompts() {
		byID[pr.ID] = pr
	}
	out := make(map[string]string, len(given))
	for id, v := range given {
		pr := byID[id]
		if pr == nil {
			return nil, fmt.Errorf("protocols: --answer %s: the protocol has no prompt %q", id, id)
		}
		a, err := pr.Answer(v)
		if err != nil {
			return nil, fmt.Errorf("protocols: --answer: %w", err)
		}
		out[id] = a
	}
	return out, nil
}
