package runner

import (
	"io"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress is told about invocations as they finish. It is an interface so the CLI can draw a
// bar on a terminal, stay quiet in CI logs, and tests can count ticks.
type Progress interface {
	// Start is called once with the number of planned invocations.
	Start(total int)
	// Tick is called once per finished invocation, from any goroutine.
	Tick()
	// Done is called once when the run ends, even early.
	Done()
}

// NewProgress draws a progress bar on w when w is a terminal and is silent otherwise, so
// redirected output and CI logs are not filled with carriage returns.
func NewProgress(w io.Writer) Progress {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nopProgress{}
	}
	return &barProgress{w: w}
}

type nopProgress struct{}

func (nopProgress) Start(int) {}
func (nopProgress) Tick()     {}
func (nopProgress) Done()     {}

type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (p *barProgress) Start(total int) {
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription("invocations"),
		progressbar.OptionShowCount(),
		// The rate and the time left: a long run (10,000 tenants) says when it will end.
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("inv"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)
}

// Tick ignores the bar's error: a failed redraw must not fail the run.
func (p *barProgress) Tick() {
	if p.bar != nil {
		_ = p.bar.Add(1)
	}
}

func (p *barProgress) Done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
