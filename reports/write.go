package reports

import (
	"fmt"
	"io"
	"strings"
)

// Format is one output format the CLI offers. It is the single registry `run --format`,
// `judge --format`, their help text and Write all read, so a new format is added here, in this
// package only, and appears everywhere at once.
type Format struct {
	// Name is the --format value.
	Name string
	// Ext is the customary file extension (with the dot) for --out, e.g. ".json".
	Ext string
	// Description says in a few words who the format is for, for --help.
	Description string
	// Render writes the report in this format. It never modifies the report.
	Render func(io.Writer, *Report) error
}

// DefaultFormat is the format printed on stdout when no --format replaces it.
const DefaultFormat = "table"

// formats is the read-only table behind Formats and LookupFormat, in the order help lists them.
var formats = [...]Format{
	{Name: "table", Ext: ".txt", Description: "a table for a terminal or CI log", Render: WriteTable},
	{Name: "json", Ext: ".json", Description: "the versioned document of docs/REPORT-SCHEMA.md", Render: WriteJSON},
	{Name: "junit", Ext: ".xml", Description: "JUnit XML for CI test reporters", Render: WriteJUnit},
}

// Formats returns every output format, in the order help lists them. The slice is a copy.
func Formats() []Format {
	return append([]Format(nil), formats[:]...)
}

// FormatNames returns the --format values, in the order help lists them.
func FormatNames() []string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.Name
	}
	return names
}

// FormatHelp is one line listing every format with its description and file extension, for a
// --format flag's help.
func FormatHelp() string {
	parts := make([]string, len(formats))
	for i, f := range formats {
		parts[i] = f.Name + " (" + f.Description + "; *" + f.Ext + ")"
	}
	return strings.Join(parts, ", ")
}

// LookupFormat finds a format by its --format name, so the CLI can refuse an unknown one before
// the run starts rather than after it.
func LookupFormat(name string) (Format, error) {
	for _, f := range formats {
		if f.Name == name {
			return f, nil
		}
	}
	return Format{}, fmt.Errorf("unknown report format %q: want one of %s", name, strings.Join(FormatNames(), ", "))
}

// Write renders r in the named format. It exists so the CLI maps a --format flag to a renderer
// in one place, and an unknown format is reported before any output is written.
func Write(format string, w io.Writer, r *Report) error {
	f, err := LookupFormat(format)
	if err != nil {
		return err
	}
	return f.Render(w, r)
}
