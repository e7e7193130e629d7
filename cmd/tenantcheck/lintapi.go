package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/spf13/cobra"

	"github.com/tenantcheck/tenantcheck/apilint"
)

func newLintAPICmd() *cobra.Command {
	var format, out string
	var long strings.Builder
	long.WriteString(`Reads API Gateway definitions without deploying anything: OpenAPI 3 or Swagger 2 exports with
API Gateway's extensions (aws apigateway get-export --parameters extensions='integrations,authorizers,apigateway'),
and CloudFormation or SAM templates (YAML with short-form tags such as !Ref, !GetAtt and !Sub, or JSON).
It flags the front-door mistakes that send one tenant's request into another tenant's environment:

`)
	for _, r := range apilint.Rules() {
		fmt.Fprintf(&long, "  %s %-7s %s\n", r.ID, r.Level, r.Title)
	}
	long.WriteString(`
Exit status: 0 no finding, 1 findings, 2 a file could not be read or parsed.`)
	cmd := &cobra.Command{
		Use:   "lint-api FILE...",
		Short: "Read API Gateway definitions (OpenAPI exports, CloudFormation/SAM templates) for tenant-isolation mistakes",
		Long:  long.String(),
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			switch format {
			case "table", "json", "sarif":
			default:
				return usageError("lint-api: --format %q: want table, json or sarif", format)
			}
			var results []*apilint.Result
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					return usageError("lint-api: %w", err)
				}
				res, err := apilint.Lint(f, data)
				if err != nil {
					var pe *apilint.ParseError
					if errors.As(err, &pe) {
						return usageError("lint-api: %w", err)
					}
					return toolError("lint-api: %w", err)
				}
				results = append(results, res)
			}
			w := cmd.OutOrStdout()
			var file *os.File
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return usageError("lint-api: --out: %w", err)
				}
				file, w = f, f
			}
			err := renderLint(w, format, results)
			if file != nil {
				// A file that did not close is a report that may be cut short: never exit as if written.
				err = errors.Join(err, file.Close())
			}
			if err != nil {
				return toolError("lint-api: %w", err)
			}
			for _, r := range results {
				if len(r.Findings) > 0 {
					return &exitError{code: ExitFail}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table, json or sarif (SARIF 2.1.0, for code-scanning UIs)")
	cmd.Flags().StringVar(&out, "out", "", "write to this file instead of standard output")
	return cmd
}

func renderLint(w io.Writer, format string, results []*apilint.Result) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	case "sarif":
		b, err := apilint.SARIF(results, toolVersion())
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	t := tablewriter.NewWriter(w)
	t.Header("FILE", "LINE", "RULE", "LEVEL", "FINDING")
	total := 0
	for _, r := range results {
		for _, f := range r.Findings {
			total++
			if err := t.Append(r.File, fmt.Sprint(f.Line), f.Rule, f.Level, f.Message); err != nil {
				return err
			}
		}
	}
	if total > 0 {
		if err := t.Render(); err != nil {
			return err
		}
	}
	for _, r := range results {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "note: %s: %s\n", r.File, n)
		}
	}
	fmt.Fprintf(w, "%d findings in %d files\n", total, len(results))
	for _, rule := range apilint.Rules() {
		for _, r := range results {
			if hasRule(r, rule.ID) {
				fmt.Fprintf(w, "  %s: %s\n", rule.ID, rule.Remediation)
				break
			}
		}
	}
	return nil
}

func hasRule(r *apilint.Result, id string) bool {
	for _, f := range r.Findings {
		if f.Rule == id {
			return true
		}
	}
	return false
}
