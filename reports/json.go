package reports

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON renders the report as the versioned, machine-readable document described in
// docs/REPORT-SCHEMA.md. Field order follows the struct declarations, map keys are sorted by
// encoding/json and checks are sorted by ID, so identical runs produce identical bytes.
// The caller's report is not modified.
func WriteJSON(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("write json: nil report")
	}
	out := *r
	out.Checks = sortedChecks(r)
	if out.Checks == nil {
		out.Checks = []CheckResult{} // "checks": [] rather than null, so consumers need no null case
	}
	for i, c := range out.Checks {
		// "clauses" always lists the primary clause, and is never null.
		switch {
		case len(c.Clauses) > 0:
		case c.Clause != "":
			out.Checks[i].Clauses = []string{c.Clause}
		default:
			out.Checks[i].Clauses = []string{}
		}
	}
	if out.SchemaVersion == "" {
		out.SchemaVersion = SchemaVersion
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Tenant IDs and paths are data, not markup: keep "<", ">" and "&" readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&out); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
