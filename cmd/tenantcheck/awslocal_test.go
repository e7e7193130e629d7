package main

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tenantcheck/tenantcheck/fixtures/awsstack"
	"github.com/tenantcheck/tenantcheck/fixtures/awsstack/iamfake"
	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
	"github.com/tenantcheck/tenantcheck/fixtures/seaweed"
	"github.com/tenantcheck/tenantcheck/reports"
)

// standIns replace AWS on loopback for the CLI's real-AWS code path: the built-in target for
// Lambda and CloudWatch Logs, SeaweedFS for S3 and STS, and iamfake for IAM. The CLI is not told
// about them: it finds them through the SDK's own service endpoint variables, exactly as it would
// find LocalStack or a VPC endpoint, so what runs is the unmodified `--aws` code.
type standIns struct {
	target *emulator.Server
	weed   *seaweed.Server
	iam    *iamfake.Server
	// env is the CLI's whole environment: the stand-ins, the SeaweedFS admin key, and nothing
	// of the developer's AWS configuration.
	env    []string
	lambda *lambda.Client
	logs   *cloudwatchlogs.Client
	s3     *s3.Client
}

// localRegion is the region the CLI is told; the stand-ins answer for it.
const localRegion = "us-east-1"

func startStandIns(t *testing.T) *standIns {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	weed, err := seaweed.Ensure(ctx, seaweed.Options{NoBuild: true})
	if errors.Is(err, seaweed.ErrNotBuilt) {
		t.Skipf("the stand-in for S3 and STS is missing: %v", err)
	}
	if err != nil {
		t.Fatalf("start SeaweedFS: %v", err)
	}
	t.Cleanup(func() {
		if err := weed.Stop(); err != nil {
			t.Errorf("stop SeaweedFS (pid %d): %v", weed.PID, err)
		}
	})
	// One account everywhere: the one SeaweedFS's GetCallerIdentity reports, which the stack
	// builds its role ARNs from.
	target := startTarget(t, emulator.Config{Addr: "127.0.0.1:0", Region: localRegion, AccountID: seaweed.AccountID})
	iamSrv, err := iamfake.NewServer(seaweed.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := iamSrv.Close(); err != nil {
			t.Error(err)
		}
	})

	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_CONFIG_FILE="+empty, "AWS_SHARED_CREDENTIALS_FILE="+empty, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID="+weed.Admin.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+weed.Admin.SecretAccessKey,
		"AWS_REGION="+localRegion,
		"AWS_ENDPOINT_URL_LAMBDA="+target.Endpoint(),
		"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="+target.Endpoint(),
		"AWS_ENDPOINT_URL_S3="+weed.Endpoint,
		"AWS_ENDPOINT_URL_STS="+weed.Endpoint,
		"AWS_ENDPOINT_URL_IAM="+iamSrv.URL,
		// Any other service the CLI might reach goes to a closed loopback port instead of AWS.
		"AWS_ENDPOINT_URL=http://127.0.0.1:9",
	)

	creds := credentials.NewStaticCredentialsProvider(weed.Admin.AccessKeyID, weed.Admin.SecretAccessKey, "")
	hc := &http.Client{Timeout: 10 * time.Second}
	return &standIns{
		target: target, weed: weed, iam: iamSrv, env: env,
		lambda: lambda.New(lambda.Options{Region: localRegion, BaseEndpoint: aws.String(target.Endpoint()), Credentials: creds, HTTPClient: hc}),
		logs:   cloudwatchlogs.New(cloudwatchlogs.Options{Region: localRegion, BaseEndpoint: aws.String(target.Endpoint()), Credentials: creds, HTTPClient: hc}),
		s3:     s3.New(s3.Options{Region: localRegion, BaseEndpoint: aws.String(weed.Endpoint), Credentials: creds, HTTPClient: hc, UsePathStyle: true}),
	}
}

// holdings lists what the stand-ins hold, by kind, for "the run left nothing" assertions. The
// stand-ins serve this test alone, so anything at all is a leftover.
func (si *standIns) holdings(t *testing.T) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string][]string{}
	fns := lambda.NewListFunctionsPaginator(si.lambda, &lambda.ListFunctionsInput{})
	for fns.HasMorePages() {
		p, err := fns.NextPage(ctx)
		if err != nil {
			t.Fatalf("list functions: %v", err)
		}
		for _, f := range p.Functions {
			out["function"] = append(out["function"], aws.ToString(f.FunctionName))
		}
	}
	groups := cloudwatchlogs.NewDescribeLogGroupsPaginator(si.logs, &cloudwatchlogs.DescribeLogGroupsInput{})
	for groups.HasMorePages() {
		p, err := groups.NextPage(ctx)
		if err != nil {
			t.Fatalf("list log groups: %v", err)
		}
		for _, g := range p.LogGroups {
			out["loggroup"] = append(out["loggroup"], aws.ToString(g.LogGroupName))
		}
	}
	buckets, err := si.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("list buckets: %v", err)
	}
	for _, b := range buckets.Buckets {
		if strings.HasPrefix(aws.ToString(b.Name), awsstack.NamePrefix) {
			out["bucket"] = append(out["bucket"], aws.ToString(b.Name))
		}
	}
	for _, r := range si.iam.Roles() {
		out["role"] = append(out["role"], r.ARN)
		for p := range r.Policies {
			out["policy"] = append(out["policy"], r.Name+"/"+p)
		}
	}
	return out
}

// assertDeployed checks the stand-ins hold run runID's whole stack, tagged, as deploy made it.
func (si *standIns) assertDeployed(t *testing.T, runID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names := awsstack.NamesFor(runID, awsstack.DefaultBuckets)
	fn, err := si.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(names.Function)})
	if err != nil {
		t.Fatalf("the probe is not on the built-in target: %v", err)
	}
	cfg := fn.Configuration
	switch {
	case fn.Tags[awsstack.TagRunID] != runID:
		t.Errorf("function tags %v", fn.Tags)
	case cfg.TenancyConfig == nil || cfg.TenancyConfig.TenantIsolationMode != lambdatypes.TenantIsolationModePerTenant:
		t.Errorf("function TenancyConfig %+v", cfg.TenancyConfig)
	case cfg.LoggingConfig == nil || aws.ToString(cfg.LoggingConfig.LogGroup) != names.LogGroup:
		t.Errorf("function LoggingConfig %+v, want group %s", cfg.LoggingConfig, names.LogGroup)
	case aws.ToString(cfg.Role) != "arn:aws:iam::"+seaweed.AccountID+":role"+awsstack.RolePath+names.ExecRole:
		t.Errorf("function role %s", aws.ToString(cfg.Role))
	}
	groups, err := si.logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(names.LogGroup)})
	if err != nil || len(groups.LogGroups) != 1 || aws.ToInt32(groups.LogGroups[0].RetentionInDays) != 1 {
		t.Errorf("log group %s: %+v, %v; want one, retention 1 day", names.LogGroup, groups, err)
	} else if tags, err := si.logs.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: groups.LogGroups[0].LogGroupArn}); err != nil || tags.Tags[awsstack.TagRunID] != runID {
		t.Errorf("log group tags %v, %v", tags, err)
	}
	for _, b := range names.Buckets {
		out, err := si.s3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(b.Bucket)})
		if err != nil {
			t.Errorf("bucket %s tags: %v", b.Bucket, err)
			continue
		}
		tags := map[string]string{}
		for _, tg := range out.TagSet {
			tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		if want := map[string]string{awsstack.TagRunID: runID, awsstack.TagRegion: localRegion}; !maps.Equal(tags, want) {
			t.Errorf("bucket %s tags %v, want %v", b.Bucket, tags, want)
		}
	}
	var roles []string
	for _, r := range si.iam.Roles() {
		if r.Path != awsstack.RolePath || r.Tags[awsstack.TagRunID] != runID || r.Tags[awsstack.TagRegion] != localRegion || len(r.Policies) != 1 {
			t.Errorf("role %s: path %s, tags %v, %d inline policies", r.Name, r.Path, r.Tags, len(r.Policies))
		}
		roles = append(roles, r.Name)
	}
	if want := []string{names.BrokerRole, names.DataRole, names.ExecRole}; !slices.Equal(roles, want) {
		t.Errorf("roles %v, want %v", roles, want)
	}
}

// TestAWSPathAgainstLocalStandIns runs the unmodified real-AWS commands (deploy, run --aws,
// teardown, sweep) as their own process against local stand-ins for every AWS service they call,
// so that path is proven end to end without an AWS account: the stack is created, tagged and
// found, invocations, async reports and logs travel through the Lambda and CloudWatch Logs APIs,
// and teardown leaves nothing behind. The s3 area is skipped: it scopes tenants with session
// tags, which SeaweedFS ignores, so it would rightly FAIL here; its wiring is covered by
// TestStackS3Options and fixtures/s3data.
func TestAWSPathAgainstLocalStandIns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SeaweedFS and runs the suite twice")
	}
	arch := probefn.LambdaArch(runtime.GOARCH)
	const fixedRunID = "20260101-10ca1a5e0001"
	// Every non-s3 check must PASS but these, which SKIP on AWS for a stated reason.
	wantSkip := map[string]string{
		// The cap probe needs the target's environment cap, which only the built-in target run
		// in-process tells the runner; AWS (and so `--aws`) does not publish one.
		"TI-API-010": "environment cap unknown",
		// The lifecycle phase's cap event needs the cap too.
		"TI-LIFE-003": "environment cap unknown",
		// ... and its quiet event the idle timeout, which AWS does not publish either.
		"TI-LIFE-004": "idle timeout unknown",
		// The gateway area does not deploy its front door on AWS accounts yet.
		"TI-GW-001": "does not deploy a REST API on AWS accounts",
		"TI-GW-002": "does not deploy a REST API on AWS accounts",
		"TI-GW-003": "does not deploy a REST API on AWS accounts",
		"TI-GW-004": "does not deploy a REST API on AWS accounts",
		"TI-GW-005": "does not deploy a REST API on AWS accounts",
		"TI-GW-006": "does not deploy a REST API on AWS accounts",
	}
	// The stand-in is the built-in target, whose memory limit is MemorySize + EphemeralStorage
	// (its /tmp is in memory, a declared deviation). AWS declares no allowance, so the probe
	// allocates MemorySize + 64 MB and the stand-in lets it: the check sees the deviation.
	wantFail := map[string]string{"TI-RES-001": "past the declared memory limit succeeded"}
	type step struct {
		// prep, when set, changes the stand-ins before the command runs.
		prep   func(t *testing.T, si *standIns)
		args   []string
		stdout string // must appear on stdout
		// code is the exit code the command must end with.
		code int
		// wouldDelete is how many resources a sweep --dry-run must list (0: not checked).
		wouldDelete int
	}
	tests := []struct {
		name  string
		steps []step
		// deployedAfter is the step after which the whole stack must exist (-1: never checked).
		deployedAfter int
		runID         string // "" when run --aws picks it
		// noRun marks a case without a suite run: no report and no teardown to check.
		noRun bool
	}{
		{
			name: "deploy, run --function, teardown, sweep",
			steps: []step{
				{args: []string{"deploy", "--region", localRegion, "--arch", arch, "--run-id", fixedRunID, "--journal-dir", "{journals}"},
					stdout: "run-id: " + fixedRunID + "\n"},
				// Sweep finds the whole stack by its tag: a log group, three roles with an inline
				// policy each, four buckets and the function.
				{args: []string{"sweep", "--dry-run", "--run-id", fixedRunID}, stdout: "would delete AWS::Lambda::Function", wouldDelete: 12},
				// --arch although the function exists: the contract phase packages and creates
				// functions of its own for --arch (default arm64), and the built-in target runs
				// them as this machine's processes.
				{args: []string{"run", "--aws", "--function", "tenantcheck-" + fixedRunID + "-probe", "--arch", arch, "--skip", "s3",
					"--invocations", "150", "--logs-wait", "10s", "--format", "json", "--out", "{report}"}, code: ExitFail},
				{args: []string{"teardown", "--run-id", fixedRunID, "--journal-dir", "{journals}"}, stdout: "run " + fixedRunID + " torn down"},
				{args: []string{"sweep", "--dry-run", "--run-id", fixedRunID}, stdout: "no tenantcheck resources found"},
			},
			deployedAfter: 0,
			runID:         fixedRunID,
		},
		{
			name: "run --aws deploys, runs and tears down",
			steps: []step{
				{args: []string{"run", "--aws", "--region", localRegion, "--arch", arch, "--journal-dir", "{journals}", "--skip", "s3",
					"--invocations", "150", "--logs-wait", "10s", "--format", "json", "--out", "{report}"}, code: ExitFail},
				{args: []string{"sweep", "--dry-run"}, stdout: "no tenantcheck resources found"},
			},
			deployedAfter: -1,
		},
		{
			// As after a crash that lost the journal: sweep alone must find the stack by its tag and
			// delete all of it, buckets emptied first, in dependency order.
			name: "deploy, then sweep --yes without the journal",
			steps: []step{
				{args: []string{"deploy", "--region", localRegion, "--arch", arch, "--run-id", fixedRunID, "--journal-dir", "{journals}"},
					stdout: "run-id: " + fixedRunID + "\n"},
				{args: []string{"sweep", "--yes", "--run-id", fixedRunID, "--journal-dir", "{journals}"}, stdout: "swept 12 resources"},
				{args: []string{"sweep", "--dry-run"}, stdout: "no tenantcheck resources found"},
			},
			deployedAfter: 0,
			runID:         fixedRunID,
			noRun:         true,
		},
		{
			// A bucket whose tagging never happened (a crash between CreateBucket and
			// PutBucketTagging) is invisible to the sweep; the run's journal still names it, and
			// closing the journal after the sweep deletes it.
			name: "deploy, lose a bucket's tag, then sweep --yes",
			steps: []step{
				{args: []string{"deploy", "--region", localRegion, "--arch", arch, "--run-id", fixedRunID, "--journal-dir", "{journals}"},
					stdout: "run-id: " + fixedRunID + "\n"},
				{prep: func(t *testing.T, si *standIns) {
					bucket := awsstack.NamesFor(fixedRunID, awsstack.DefaultBuckets).Buckets[0].Bucket
					if _, err := si.s3.DeleteBucketTagging(context.Background(), &s3.DeleteBucketTaggingInput{Bucket: aws.String(bucket)}); err != nil {
						t.Fatalf("untag %s: %v", bucket, err)
					}
				}, args: []string{"sweep", "--yes", "--run-id", fixedRunID, "--journal-dir", "{journals}"}, stdout: "swept 11 resources"},
				{args: []string{"sweep", "--dry-run"}, stdout: "no tenantcheck resources found"},
			},
			deployedAfter: 0,
			runID:         fixedRunID,
			noRun:         true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Now()
			si := startStandIns(t)
			t.Logf("stand-ins up in %s (SeaweedFS %s)", time.Since(t0).Round(time.Millisecond), si.weed.ReadyIn.Round(time.Millisecond))
			if h := si.holdings(t); len(h) != 0 {
				t.Fatalf("fresh stand-ins already hold %v", h)
			}
			journals, report := t.TempDir(), filepath.Join(t.TempDir(), "report.json")
			var stderrs strings.Builder
			for i, s := range tt.steps {
				args := make([]string, len(s.args))
				for j, a := range s.args {
					args[j] = strings.NewReplacer("{journals}", journals, "{report}", report).Replace(a)
				}
				if s.prep != nil {
					s.prep(t, si)
				}
				ts := time.Now()
				code, out, errOut := runBinaryEnv(t, si.env, args...)
				t.Logf("%s %s: exit %d in %s", args[0], strings.Join(args[1:2], ""), code, time.Since(ts).Round(time.Millisecond))
				stderrs.WriteString(errOut)
				if code != s.code || !strings.Contains(out, s.stdout) {
					t.Fatalf("tenantcheck %s: exit %d, want %d and stdout containing %q\nstdout:\n%s\nstderr:\n%s",
						strings.Join(args, " "), code, s.code, s.stdout, out, errOut)
				}
				if n := strings.Count(out, "would delete "); s.wouldDelete > 0 && n != s.wouldDelete {
					t.Errorf("sweep --dry-run lists %d resources, want %d:\n%s", n, s.wouldDelete, out)
				}
				if i == tt.deployedAfter {
					si.assertDeployed(t, tt.runID)
				}
			}
			if tt.noRun {
				if h := si.holdings(t); len(h) != 0 {
					t.Errorf("the stand-ins still hold resources after the sweep: %v", h)
				}
				if ids, err := awsstack.ListJournals(journals); err != nil || len(ids) != 0 {
					t.Errorf("the swept run's journal was kept: %v, %v", ids, err)
				}
				return
			}
			runID := tt.runID
			if runID == "" {
				m := regexp.MustCompile(`deployed run (\S+) in`).FindStringSubmatch(stderrs.String())
				if m == nil {
					t.Fatalf("run --aws did not say which run it deployed:\n%s", stderrs.String())
				}
				runID = m[1]
			}
			if !strings.Contains(stderrs.String(), "deleted AWS::Lambda::Function arn:aws:lambda:"+localRegion+":"+seaweed.AccountID+":function:tenantcheck-"+runID+"-probe") {
				t.Errorf("teardown did not report deleting the probe of run %s:\n%s", runID, stderrs.String())
			}

			r := readReport(t, report)
			for _, c := range r.Checks {
				want := reports.Pass
				if _, skip := wantSkip[c.ID]; skip || c.Area == "s3" {
					want = reports.Skip
				}
				if word, fail := wantFail[c.ID]; fail {
					want = reports.Fail
					if !strings.Contains(c.Reason, word) {
						t.Errorf("%s failed for %q, want a reason about %q", c.ID, c.Reason, word)
					}
				}
				if c.Status != want || c.Area == "s3" && !strings.Contains(c.Reason, "deselected") {
					t.Errorf("%s (%s) = %s (%s), want %s", c.ID, c.Area, c.Status, c.Reason, want)
				}
			}
			for id, word := range wantSkip {
				c := statuses(r)[id]
				if !strings.Contains(c.Reason, word) {
					t.Errorf("%s skipped for %q, want a reason about %q", id, c.Reason, word)
				}
				t.Logf("%s SKIP as expected: %s", id, c.Reason)
			}
			if c := statuses(r)["TI-API-008"]; c.Status != reports.Pass {
				t.Errorf("async reports did not come back through CloudWatch Logs: TI-API-008 = %s (%s)", c.Status, c.Reason)
			}

			if h := si.holdings(t); len(h) != 0 {
				t.Errorf("the stand-ins still hold resources after teardown: %v", h)
			}
			if ids, err := awsstack.ListJournals(journals); err != nil || len(ids) != 0 {
				t.Errorf("journals left: %v, %v", ids, err)
			}
			t.Logf("case done in %s", time.Since(t0).Round(time.Millisecond))
		})
	}
}

// TestS3EndpointByIPIsPathStyle pins the SDK behaviour the stand-in S3 relies on: awsstack's S3
// client does not set UsePathStyle, and a bucket cannot be a DNS label under an IP address, so
// with an IP endpoint the SDK must address buckets by path.
func TestS3EndpointByIPIsPathStyle(t *testing.T) {
	var got []string
	rec := recordingClient(func(r *http.Request) { got = append(got, r.Method+" "+r.URL.Host+r.URL.Path) })
	cfg := aws.Config{
		Region: localRegion, Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		HTTPClient: rec, BaseEndpoint: aws.String("http://127.0.0.1:8333"),
	}
	c := s3.NewFromConfig(cfg)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("tenantcheck-20260101-abc-a")}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"PUT 127.0.0.1:8333/tenantcheck-20260101-abc-a"}; !slices.Equal(got, want) {
		t.Errorf("requests %v, want %v (path style)", got, want)
	}
}

// recordingClient answers every request 200 with an empty body after showing it to see.
type recordingClient func(*http.Request)

func (f recordingClient) Do(r *http.Request) (*http.Response, error) {
	f(r)
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(""))}, nil
}
