package reports

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

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
		if c.Status == Pass || c.Status == Skip {
			continue // a SKIP's reason is already in its row
		}
		ew.printf("\n%s %s [%s %s]: %s\n", clean(c.ID), c.Status, c.Level, clean(c.Clause), clean(c.Reason))
		if c.Remediation != "" && (c.Status == Fail || c.Status == Warn) {
			ew.printf("  remediation: %s\n", clean(c.Remediation))
		}
		ew.printf("%s", briefEvidence(c.Evidence, "  "))
	}
	ew.printf("\nverdict %s (exit %d): %d checks: %s. %s\n",
		r.Summary.Verdict, r.Summary.ExitCode, r.Summary.Total, countsLine(r.Summary), clean(r.Summary.Reason))
	ew.printf("power: %s\n", powerLine(r.Power))
	if c := r.Coverage; c != nil {
		ew.printf("coverage: environments of different tenants share a kernel: %s (%d kernels seen by %d tenants); not covered:\n", c.SharedKernel, c.Kernels, c.Tenants)
		for _, n := range c.NotCovered {
			ew.printf("  - %s\n", clean(n))
		}
	}
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

// tableEvidence is how many findings per check the table shows; the JSON and JUnit reports carry
// all of them with every field.
const tableEvidence = 3

// briefEvidence renders the first findings' messages for a terminal, long tokens shortened.
func briefEvidence(ev []Evidence, indent string) string {
	var b strings.Builder
	for i, e := range ev {
		if i == tableEvidence {
			fmt.Fprintf(&b, "%s  (%d more findings with every field in --format json or junit)\n", indent, len(ev)-i)
			break
		}
		fmt.Fprintf(&b, "%s- %s\n", indent, abbreviate(clean(e.Message)))
	}
	return b.String()
}

// abbreviate shortens tokens longer than 40 bytes (256-character tenant IDs) to their ends and caps
// the message, so one finding stays on a few terminal lines.
func abbreviate(s string) string {
	words := strings.Split(s, " ")
	for i, w := range words {
		if len(w) > 40 {
			words[i] = w[:runeCut(w, 24)] + "…" + w[runeCut(w, len(w)-12):]
		}
	}
	s = strings.Join(words, " ")
	if len(s) > 300 {
		s = s[:runeCut(s, 300)] + "…"
	}
	return s
}

// runeCut moves a byte offset back to the start of a UTF-8 sequence.
func runeCut(s string, n int) int {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}
