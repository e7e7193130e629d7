package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantcheck/tenantcheck/internal/golden"
)

// TestRunDryRunGolden pins what `run --dry-run` promises before anything is spent: what would be
// created, which areas would SKIP and why, and how many invocations each part makes. A dry run
// sends no request, so the AWS cases need no account.
func TestRunDryRunGolden(t *testing.T) {
	isolateAWS(t)
	stack := "tenantcheck-20260101-d0d0d0d0d0d0-probe"
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"builtin", nil},
		{"builtin-isolation-only", []string{"--checks", "isolation", "--invocations", "200", "--schedule", "ping-pong,async"}},
		{"aws-deploy", []string{"--aws", "--region", "eu-west-1", "--run-id", "20260101-d0d0d0d0d0d0", "--arch", "x86_64"}},
		{"aws-stack-function", []string{"--aws", "--region", "eu-west-1", "--function", stack}},
		{"aws-other-function", []string{"--aws", "--region", "eu-west-1", "--function", "my-probe"}},
		{"aws-other-function-with-role", []string{"--aws", "--region", "eu-west-1", "--function", "my-probe", "--role", "arn:aws:iam::123456789012:role/probe"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"run", "--dry-run", "--seed", "1", "--journal-dir", t.TempDir()}, tt.args...)
			code, out, errOut := execute(t, args...)
			if code != ExitOK {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			golden.Assert(t, filepath.Join("testdata", "dryrun", tt.name+".golden"), out)
		})
	}
}

// TestRunIDFlag: --run-id is only for the stack `run --aws` deploys.
func TestRunIDFlag(t *testing.T) {
	isolateAWS(t)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"without --aws", []string{"--run-id", "20260101-d0d0d0d0d0d0"}, "no meaning without --aws"},
		{"with --function", []string{"--aws", "--region", "eu-west-1", "--run-id", "20260101-d0d0d0d0d0d0", "--function", "f"}, "exclusive"},
		{"malformed", []string{"--aws", "--region", "eu-west-1", "--run-id", "../etc"}, "--run-id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := execute(t, append([]string{"run", "--dry-run"}, tt.args...)...)
			if code != ExitIncomplete || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q: want exit 2 and %q", code, errOut, tt.want)
			}
		})
	}
}
