package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantcheck/tenantcheck/fixtures/awsstack"
)

// isolateAWS keeps the developer's AWS configuration, credentials and instance metadata out of
// the test: none of these commands may reach AWS here.
func isolateAWS(t *testing.T) {
	t.Helper()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

func TestAWSCommandsUsage(t *testing.T) {
	isolateAWS(t)
	dir := t.TempDir()
	if _, err := awsstack.CreateJournal(dir, "20260101-feed00000001", "eu-west-1", "123456789012"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name        string
		args        []string
		code        int
		out, errOut string
	}{
		{"sweep refuses without --yes", []string{"sweep", "--region", "eu-west-1"}, ExitIncomplete, "", "list them with --dry-run, then pass --yes"},
		{"sweep rejects a bad run id", []string{"sweep", "--yes", "--run-id", "../x"}, ExitIncomplete, "", "--run-id"},
		{"teardown lists journals", []string{"teardown", "--journal-dir", dir}, ExitIncomplete, "", "20260101-feed00000001"},
		{"teardown of an unknown run", []string{"teardown", "--journal-dir", dir, "--run-id", "20260101-0000000000ff"}, ExitIncomplete, "", "no journal for run"},
		{"deploy rejects an arch", []string{"deploy", "--arch", "sparc", "--region", "eu-west-1"}, ExitIncomplete, "", "--arch"},
		{"deploy needs a region", []string{"deploy", "--dry-run"}, ExitIncomplete, "", "no region"},
		{"deploy dry run prints the plan", []string{"deploy", "--dry-run", "--region", "eu-west-1", "--run-id", "20260101-d0d0d0d0d0d0", "--journal-dir", dir}, ExitOK,
			"12. create AWS::Lambda::Function  tenantcheck-20260101-d0d0d0d0d0d0-probe", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := execute(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.errOut) {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s\nwant stdout containing %q, stderr containing %q", code, tt.code, out, errOut, tt.out, tt.errOut)
			}
		})
	}
	if ids, _ := awsstack.ListJournals(dir); len(ids) != 1 {
		t.Errorf("a dry run wrote a journal: %v", ids)
	}
}
