package rig

import (
	"errors"
	"fmt"
	"sync"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/verdict"
)

// Errors of Prompts.Answer: the bench view's 404 and 422.
var (
	ErrNoPrompt = errors.New("rig: no such prompt waiting")
	ErrAnswer   = errors.New("rig: not a valid answer")
)

// Prompts is where a run's prompts (language 1.1) meet answers from
// outside the run: the terminal, the bench view, the control socket. A
// run without one takes --answer (Options.Answers), then the prompt's
// default, else fails the step at once: it never waits for nobody.
type Prompts struct {
	// OnAsk, if set, is told of each prompt as it starts waiting (the
	// terminal asks there); it must not block.
	OnAsk func(runlog.PromptData)

	mu      sync.Mutex
	waiting *runlog.PromptData
	prompt  *protocols.Prompt
	answer  *promptAnswer
}

type promptAnswer struct {
	text string
	who  runlog.OperatorData
}

// Waiting is the prompt waiting for its answer, or nil.
func (p *Prompts) Waiting() *runlog.PromptData {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waiting == nil {
		return nil
	}
	w := *p.waiting
	return &w
}

// Answer answers the prompt id waiting; the run takes it at its next
// frame. ErrNoPrompt: none of that id waits (or it is answered already);
// ErrAnswer (wrapped, saying why): the prompt refuses the answer.
func (p *Prompts) Answer(id, answer string, who runlog.OperatorData) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waiting == nil || p.waiting.ID != id || p.answer != nil {
		return ErrNoPrompt
	}
	a, err := p.prompt.Answer(answer)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAnswer, err)
	}
	p.answer = &promptAnswer{a, who}
	return nil
}

// ask starts waiting for pr's answer.
func (p *Prompts) ask(pr *protocols.Prompt, d runlog.PromptData) {
	p.mu.Lock()
	p.waiting, p.prompt, p.answer = &d, pr, nil
	hook := p.OnAsk
	p.mu.Unlock()
	if hook != nil {
		hook(d)
	}
}

// take returns the answer if one came, and stops waiting when it did or
// when done says the wait is over.
func (p *Prompts) take(done bool) (*promptAnswer, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.answer
	if a != nil || done {
		p.waiting, p.prompt, p.answer = nil, nil, nil
	}
	return a, a != nil
}

// promptData is what a prompt event and the bench view show of pr.
func promptData(pr *protocols.Prompt, path string, t float64) runlog.PromptData {
	d := runlog.PromptData{ID: pr.ID, Step: path, Message: pr.Message, Choices: pr.Choices, Input: pr.Input, Unit: pr.Unit, AskedT: t}
	if pr.Timeout > 0 {
		s := pr.Timeout.Seconds()
		d.TimeoutS = &s
	}
	if pr.Default != "" {
		def := pr.Default
		d.Default = &def
	}
	return d
}

// ask asks the step's prompt and waits for its answer, the plant holding
// its setpoints and the frames recorded and supervised as in a hold: an
// answer given on the command line, else one from Prompts (until the
// prompt's timeout), else its default, else none. A missing answer, or
// one the prompt does not expect, fails the step as its on_fail says.
func (e *engine) ask(pr *protocols.Prompt, path string) error {
	d := promptData(pr, path, e.next.Seconds())
	e.event(runlog.NewEvent(runlog.KindPrompt, path, pr.Message, d))
	var got *promptAnswer
	if a, ok := e.answers[pr.ID]; ok {
		got = &promptAnswer{a, runlog.OperatorData{By: e.operator, Via: "cli"}}
	} else if e.prompts != nil {
		e.progress("step %s asks %s: %s", path, pr.ID, pr.Message)
		e.prompts.ask(pr, d)
		start := e.next
		for {
			timedOut := pr.Timeout > 0 && e.next-start >= pr.Timeout
			if a, ok := e.prompts.take(timedOut); ok || timedOut {
				got = a
				break
			}
			if _, err := e.advance(e.next + e.period); err != nil {
				e.prompts.take(true)
				return err
			}
		}
	}
	if got == nil && pr.Default != "" {
		def, _ := pr.Answer(pr.Default) // checked by the parser
		got = &promptAnswer{def, runlog.OperatorData{Via: "default"}}
	}
	answer := ""
	if got != nil {
		answer = got.text
		e.event(PromptAnswer(path, pr.ID, answer, got.who))
	}
	sr := e.active[len(e.active)-1]
	res, judged := verdict.PromptResult(pr, path, sr.title, answer, got != nil)
	if !judged {
		return nil
	}
	e.addCriterion(res, "prompt "+pr.ID+": "+verdict.Text(res))
	if res.Pass || pr.OnFail == protocols.Warn {
		return nil
	}
	sr.anyFail, e.failed = true, true
	if pr.OnFail == protocols.Abort {
		return abortf("prompt %s in step %s: %s", pr.ID, path, res.Reason)
	}
	return nil
}
