package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/go-multierror"
	"github.com/spf13/pflag"

	"github.com/tenantcheck/tenantcheck/reports"
)

// finish writes the reports and turns the verdict and any tool error into the exit code, by the
// rules `run` and `judge` share.
func finish(stdout, stderr io.Writer, outs []output, rep *reports.Report, runErr error) error {
	if err := writeOutputs(stdout, outs, rep); err != nil {
		runErr = multierror.Append(runErr, err)
	}
	switch {
	case rep.Summary.ExitCode == ExitFail:
		// A failed MUST check outranks a cleanup problem: the verdict is already FAIL.
		if runErr != nil {
			fmt.Fprintln(stderr, "tenantcheck:", runErr)
		}
		return &exitError{code: ExitFail}
	case runErr != nil:
		return &exitError{code: ExitIncomplete, err: runErr}
	case rep.Summary.ExitCode != ExitOK:
		return &exitError{code: rep.Summary.ExitCode}
	}
	return nil
}

// replayCommand rebuilds the command line from the flags the user set, with the seed pinned and
// the output flags dropped (a replay should not overwrite the original reports or record).
func replayCommand(fl *pflag.FlagSet, seed int64) string {
	parts := []string{"tenantcheck", "run"}
	var names []string
	fl.Visit(func(p *pflag.Flag) { names = append(names, p.Name) })
	sort.Strings(names)
	for _, n := range names {
		if n == "seed" || n == "format" || n == "out" || n == "observations" {
			continue
		}
		p := fl.Lookup(n)
		val := p.Value.String()
		if sv, ok := p.Value.(pflag.SliceValue); ok {
			val = strings.Join(sv.GetSlice(), ",")
		}
		parts = append(parts, fmt.Sprintf("--%s=%s", n, shellQuote(val)))
	}
	parts = append(parts, fmt.Sprintf("--seed=%d", seed))
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == ',' || r == ':' || r == '/' || r == '=' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func writeOutputs(stdout io.Writer, outs []output, rep *reports.Report) error {
	tableToStdout := true
	var errs error
	for _, o := range outs {
		if o.path == "" {
			tableToStdout = false
			if err := reports.Write(o.format, stdout, rep); err != nil {
				errs = multierror.Append(errs, fmt.Errorf("write %s report: %w", o.format, err))
			}
			continue
		}
		if err := writeFile(o.path, o.format, rep); err != nil {
			errs = multierror.Append(errs, err)
		}
	}
	if tableToStdout {
		if err := reports.Write(reports.DefaultFormat, stdout, rep); err != nil {
			errs = multierror.Append(errs, fmt.Errorf("write %s report: %w", reports.DefaultFormat, err))
		}
	}
	return errs
}

func writeFile(path, format string, rep *reports.Report) (err error) {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s report %s: %w", format, path, err)
	}
	defer func() {
		if cerr := fh.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
	}()
	if err := reports.Write(format, fh, rep); err != nil {
		return fmt.Errorf("write %s report %s: %w", format, path, err)
	}
	return nil
}
