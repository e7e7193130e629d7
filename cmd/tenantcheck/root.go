package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes are public interface: CI gates script against them.
const (
	ExitOK         = 0 // no MUST check failed, errored or was inconclusive
	ExitFail       = 1 // a MUST check failed
	ExitIncomplete = 2 // inconclusive, errors, all skipped, usage error, or the tool failed
)

// exitError carries an exit code up through cobra without printing usage for non-usage failures.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// usageError marks bad input: exit 2 with a specific message.
func usageError(format string, args ...any) error {
	return &exitError{code: ExitIncomplete, err: fmt.Errorf(format, args...)}
}

// Execute runs the CLI and returns the process exit code; main is the only caller of os.Exit.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "tenantcheck:", ee.err)
		}
		return ee.code
	}
	// cobra's own flag and argument errors are usage errors.
	fmt.Fprintln(stderr, "tenantcheck:", err)
	return ExitIncomplete
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "tenantcheck",
		Short: "Security conformance suite for Lambda tenant isolation (TenancyConfig PER_TENANT)",
		Long: `tenantcheck deploys probe functions that plant canaries in memory, /tmp and every other place
state survives, fires interleaved multi-tenant invocations, and reports with evidence whether any
canary crossed a tenant line. With no flags, "tenantcheck run" tests its built-in target.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newRunCmd(), newChecksCmd(), newVersionCmd(), newEmulatorCmd(), newSelftestCmd(), newDeployCmd(), newTeardownCmd(), newSweepCmd(), newJudgeCmd(), newLintAPICmd())
	return root
}
