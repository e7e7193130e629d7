package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/reports"
)

// TestE2EAWSCommands drives the four AWS commands the way a user does, against the account and
// region of the standard AWS configuration chain: deploy prints a run ID, run tests that stack
// through --function (every area: async reports through CloudWatch Logs, the s3 area through the
// stack's roles and buckets), teardown removes it and a sweep of the run finds nothing. It runs
// only with TENANTCHECK_AWS=1 and has never run in this repository's CI; it costs cents.
//
//	TENANTCHECK_AWS=1 AWS_PROFILE=sandbox AWS_REGION=us-east-1 go test -run E2EAWS -v -timeout 40m ./cmd/tenantcheck/
func TestE2EAWSCommands(t *testing.T) {
	if os.Getenv("TENANTCHECK_AWS") != "1" {
		t.Skip("set TENANTCHECK_AWS=1 with AWS credentials and AWS_REGION to run the whole suite against a real account")
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		t.Fatal("TENANTCHECK_AWS=1 needs AWS_REGION")
	}
	arch := os.Getenv("TENANTCHECK_ARCH")
	if arch == "" {
		arch = "arm64"
	}
	journals := t.TempDir()
	code, out, errOut := executeWithin(t, 15*time.Minute, "deploy", "--region", region, "--arch", arch, "--journal-dir", journals)
	m := regexp.MustCompile(`(?m)^run-id: (\S+)$`).FindStringSubmatch(out)
	if code != ExitOK || m == nil {
		t.Fatalf("deploy: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	runID := m[1]
	t.Cleanup(func() {
		code, out, errOut := executeWithin(t, 10*time.Minute, "teardown", "--run-id", runID, "--journal-dir", journals)
		if code != ExitOK {
			t.Errorf("teardown: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		code, out, errOut = executeWithin(t, 5*time.Minute, "sweep", "--dry-run", "--region", region, "--run-id", runID)
		if code != ExitOK || !strings.Contains(out, "no tenantcheck resources found") {
			t.Errorf("after teardown a sweep of run %s finds: exit %d\n%s\n%s", runID, code, out, errOut)
		}
	})

	path := filepath.Join(t.TempDir(), "report.json")
	code, out, errOut = executeWithin(t, 20*time.Minute, "run", "--aws", "--region", region, "--function", "tenantcheck-"+runID+"-probe",
		"--invocations", "300", "--logs-wait", "90s", "--format", "json", "--out", path)
	if code != ExitOK {
		t.Errorf("run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	st := statuses(readReport(t, path))
	for _, id := range []string{"TI-API-008", "TI-ENV-001", "TI-S3-001", "TI-S3-002", "TI-S3-003", "TI-S3-004", "TI-LOG-001"} {
		if c := st[id]; c.Status != reports.Pass {
			t.Errorf("%s = %s (%s), want PASS", id, c.Status, c.Reason)
		}
	}
}

// executeWithin is execute with a deadline that fits calls to AWS.
func executeWithin(t *testing.T, d time.Duration, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errb bytes.Buffer
	code := Execute(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}
