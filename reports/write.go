package reports

import (
	"fmt"
	"io"
	"strings"
)

// Formats lists the output formats Write accepts, for flag help and validation.
func Formats() []string {
	return []string{"table", "json", "junit"}
}

// Write renders r in the named format. It exists so the CLI maps a --format flag to a renderer
// in one place, and an unknown format is reported before any output is written.
func Write(format string, w io.Writer, r *Report) error {
	switch format {
	case "table":
		return WriteTable(w, r)
	case "json":
		return WriteJSON(w, r)
	case "junit":
		return WriteJUnit(w, r)
	default:
		return fmt.Errorf("unknown report format %q: want one of %s", format, strings.Join(Formats(), ", "))
	}
}
