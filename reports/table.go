package reports

import (
	"fmt"
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// cellWidth keeps the table inside a ~140 column terminal; longer titles and reasons wrap.
const cellWidth = 50

// WriteTable renders the report for a human at a terminal: one row per check, then the evidence
// of every check that did not pass (so a FAIL is actionable without opening the JSON), then the
// verdict, the run's power, the seed and the command that replays it.
//
// ASCII borders are used on purpose: the output often lands in CI logs that mangle box drawing.
func WriteTable(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("write table: nil report")
	}
	checks := sortedChecks(r)
	t := tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleASCII)})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNormal),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithRowMaxWidth(cellWidth),
	)
	t.Header("ID", "LEVEL", "STATUS", "TITLE", "REASON")
	for _, c := range checks {
		if err := t.Append(clean(c.ID), string(c.Level), string(c.Status), clean(c.Title), clean(c.Reason)); err != nil {
			return fmt.Errorf("write table: row %s: %w", c.ID, err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("write table: render: %w", err)
	}

	ew := &errWriter{w: w}
	for _, c := range checks {
		if c.Status == Pass {
			continue
		}
		ew.printf("\n%s %s [%s %s]: %s\n", clean(c.ID), c.Status, c.Level, clean(c.Clause), clean(c.Reason))
		if c.Remediation != "" && (c.Status == Fail || c.Status == Warn) {
			ew.printf("  remediation: %s\n", clean(c.Remediation))
		}
		ew.printf("%s", evidenceText(c.Evidence, "  "))
	}
	ew.printf("\nverdict %s (exit %d): %d checks: %s. %s\n",
		r.Summary.Verdict, r.Summary.ExitCode, r.Summary.Total, countsLine(r.Summary), clean(r.Summary.Reason))
	ew.printf("power: %s\n", powerLine(r.Power))
	ew.printf("run %s, seed %d; replay: %s\n", clean(r.RunID), r.Seed, clean(r.Replay))
	if ew.err != nil {
		return fmt.Errorf("write table: %w", ew.err)
	}
	return nil
}

// errWriter keeps the first write error so a sequence of prints needs one check.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}
