package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/hashicorp/go-multierror"
	"github.com/spf13/cobra"

	"github.com/tenantcheck/tenantcheck/fixtures/awsstack"
	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
)

// awsFlags select the account and region through the standard AWS configuration chain.
type awsFlags struct {
	region     string
	profile    string
	journalDir string
}

func (a *awsFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&a.region, "region", "", "AWS region (default: AWS_REGION or the profile's region)")
	fl.StringVar(&a.profile, "profile", "", "AWS shared config profile (default: AWS_PROFILE or default; SSO profiles work after aws sso login)")
	fl.StringVar(&a.journalDir, "journal-dir", "", "where run journals live (default: <user cache dir>/tenantcheck/runs)")
}

func (a *awsFlags) config(ctx context.Context, region string) (aws.Config, error) {
	if region == "" {
		region = a.region
	}
	cfg, err := awsstack.LoadConfig(ctx, region, a.profile)
	if err != nil {
		return aws.Config{}, usageError("%w", err)
	}
	return cfg, nil
}

type deployFlags struct {
	aws                awsFlags
	arch               string
	runID              string
	dryRun             bool
	fnTimeout          time.Duration
	memoryMB           int32
	deployTimeout      time.Duration
	propagationTimeout time.Duration
}

func newDeployCmd() *cobra.Command {
	f := &deployFlags{}
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy the probe stack into an AWS account and print its run ID",
		Long: `Creates, in order: the probe's log group, a least-privilege execution role, four tenant buckets,
the two roles the S3 checks assume per tenant (a broker scoped by a TenantSlot session tag, a data
role scoped by a session policy), and the probe function (TenancyConfig PER_TENANT, JSON logging). Every resource is tagged tenantcheck:run-id=<run ID> and logged with its ARN; the run
is journaled so "tenantcheck teardown --run-id ID" removes it, even after a crash. A failed deploy
tears down what it created before exiting. --dry-run prints the plan and creates nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDeploy(cmd, f) },
	}
	f.aws.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.arch, "arch", "arm64", "Lambda architecture of the probe: arm64 or x86_64 (a binary for another CPU is built from source with go)")
	fl.StringVar(&f.runID, "run-id", "", "run ID to use (default: date and random suffix)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what would be created, and send no request")
	fl.DurationVar(&f.fnTimeout, "function-timeout", 3*time.Second, "timeout of the probe function")
	fl.Int32Var(&f.memoryMB, "memory", 128, "memory of the probe function in MB")
	fl.DurationVar(&f.deployTimeout, "deploy-timeout", 10*time.Minute, "bound on the whole deployment, IAM propagation and Active wait included")
	fl.DurationVar(&f.propagationTimeout, "propagation-timeout", time.Minute, "how long to retry while IAM propagates the new roles")
	return cmd
}

func runDeploy(cmd *cobra.Command, f *deployFlags) error {
	ctx := cmd.Context()
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if f.arch != "arm64" && f.arch != "x86_64" {
		return usageError("--arch %q: want arm64 or x86_64", f.arch)
	}
	if f.runID != "" {
		if err := awsstack.ValidateRunID(f.runID); err != nil {
			return usageError("--run-id: %w", err)
		}
	}
	cfg, err := f.aws.config(ctx, "")
	if err != nil {
		return err
	}
	opts := awsstack.Options{
		RunID: f.runID, Arch: f.arch, FunctionTimeout: f.fnTimeout, MemoryMB: f.memoryMB,
		JournalDir: f.aws.journalDir, Log: prefixWriter{w: stderr}, PropagationTimeout: f.propagationTimeout,
	}
	if f.dryRun {
		opts.DryRun, opts.Log = true, stdout
		fmt.Fprintf(stdout, "dry run: nothing will be created; the probe would be %s\n", probeSource(f.arch))
		if _, err := awsstack.Deploy(ctx, cfg, opts); err != nil {
			return usageError("%w", err)
		}
		return nil
	}
	st, err := deployStack(ctx, cfg, opts, f.deployTimeout, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run-id: %s\nfunction: %s\nfunction-arn: %s\nregion: %s\n", st.RunID(), st.FunctionName, st.FunctionARN, st.Plan.Region)
	fmt.Fprintf(stderr, "tenantcheck: test it with: tenantcheck run --aws --function %s --region %s\n", st.FunctionName, st.Plan.Region)
	fmt.Fprintf(stderr, "tenantcheck: remove it with: tenantcheck teardown --run-id %s\n", st.RunID())
	return nil
}

// deployStack packages the probe and deploys it; on failure (Ctrl-C included) it tears down what
// was created before returning, so a failed deploy leaves nothing, or names what it left.
func deployStack(ctx context.Context, cfg aws.Config, opts awsstack.Options, timeout time.Duration, stderr io.Writer) (*awsstack.Stack, error) {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := time.Now()
	zip, err := probefn.ProbeZip(dctx, opts.Arch)
	if err != nil {
		return nil, toolError("package probe: %w", err)
	}
	fmt.Fprintf(stderr, "tenantcheck: packaged probe for linux/%s (%d KB zip) in %s\n", opts.Arch, len(zip)/1024, time.Since(t0).Round(time.Millisecond))
	opts.Zip = zip
	st, err := awsstack.Deploy(dctx, cfg, opts)
	if err == nil {
		fmt.Fprintf(stderr, "tenantcheck: deployed run %s in %s\n", st.RunID(), time.Since(t0).Round(time.Second))
		return st, nil
	}
	errs := multierror.Append(nil, err)
	if st != nil {
		fmt.Fprintf(stderr, "tenantcheck: deploy failed, tearing down run %s\n", st.RunID())
		if terr := st.Teardown(ctx); terr != nil {
			errs = multierror.Append(errs, terr)
		}
	}
	if awsstack.IsThrottle(err) {
		errs = multierror.Append(errs, fmt.Errorf("AWS throttled the deployment beyond %d adaptive retries: try again later", awsstack.DefaultMaxAttempts))
	}
	return nil, toolError("deploy: %w", errs.ErrorOrNil())
}

func probeSource(arch string) string {
	if runtime.GOOS == "linux" && probefn.LambdaArch(runtime.GOARCH) == arch {
		return "this binary (linux/" + arch + ")"
	}
	return "cross-built from source for linux/" + arch + " with the go toolchain"
}

// prefixWriter marks progress lines as tenantcheck's on stderr.
type prefixWriter struct{ w io.Writer }

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, "tenantcheck: "); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}
