package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/tenantcheck/tenantcheck/fixtures/awsstack"
	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
	"github.com/tenantcheck/tenantcheck/fixtures/s3data"
	"github.com/tenantcheck/tenantcheck/runner"
)

// awsTarget is a real AWS account (--aws): the probe stack is deployed and torn down by the run,
// or the stack of an existing tenantcheck-<run>-probe function is rebuilt from its name. Async
// reports come back through CloudWatch Logs, and the s3 area uses the stack's buckets and roles.
type awsTarget struct {
	cfg aws.Config
	// stack is the probe stack under test: the one this run deployed, or the one an existing
	// tenantcheck-<run>-probe function belongs to. Nil for any other function.
	stack *awsstack.Plan
}

func (t *awsTarget) open(ctx context.Context, s *session) error {
	cfg, err := s.f.aws.config(ctx, "")
	if err != nil {
		return err
	}
	t.cfg = cfg
	s.client = lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.HTTPClient = s.watch.Wrap(o.HTTPClient) })
	s.label = "aws:" + cfg.Region
	s.frontDoor = &runner.FrontDoor{Region: cfg.Region}
	s.logf("target %s, seed %d", s.label, s.f.seed)
	return nil
}

func (t *awsTarget) autoAsyncChannel(*session) string { return runner.AsyncChannelLogs }

// newLogsClient paces every FilterLogEvents call of the run together, under the account's hard
// quota.
func (t *awsTarget) newLogsClient(context.Context, *session) (runner.LogsClient, error) {
	return runner.PacedLogs(cloudwatchlogs.NewFromConfig(t.cfg), runner.AWSFilterLogEventsRate), nil
}

func (t *awsTarget) deploy(ctx context.Context, s *session) error {
	if s.f.function != "" {
		s.function = s.f.function
		t.findStack(ctx, s)
		return nil
	}
	f := s.f
	st, err := deployStack(ctx, t.cfg, awsstack.Options{
		RunID: f.runID, Arch: f.arch, FunctionTimeout: max(f.fnTimeout, 3*time.Second), JournalDir: f.aws.journalDir, Log: prefixWriter{w: s.stderr},
	}, f.deployTimout, s.stderr)
	if err != nil {
		return err
	}
	s.defer_(func(ctx context.Context) error {
		if err := st.Teardown(ctx); err != nil {
			return toolError("teardown of run %s: %w", st.RunID(), err)
		}
		return nil
	})
	s.function, s.role, t.stack = st.FunctionName, st.Plan.ExecRoleARN(), st.Plan
	return nil
}

// findStack recognises a --function that `tenantcheck deploy` or the CloudFormation template
// created (tenantcheck-<run>-probe) and rebuilds its stack's names and ARNs, so the s3 area can
// use its roles and buckets and the contract phase its execution role. Anything else is tested
// without them: the s3 area then SKIPs and says why.
func (t *awsTarget) findStack(ctx context.Context, s *session) {
	runID, ok := awsstack.RunIDFromFunction(s.function)
	if !ok {
		return
	}
	id, err := awsstack.WhoAmI(ctx, t.cfg)
	if err != nil {
		s.logf("warning: cannot rebuild the stack of run %s: %v", runID, err)
		return
	}
	plan, err := awsstack.NewPlan(awsstack.Options{RunID: runID, Region: t.cfg.Region}, id)
	if err != nil {
		s.logf("warning: cannot rebuild the stack of run %s: %v", runID, err)
		return
	}
	t.stack = plan
	if s.role == "" {
		s.role = plan.ExecRoleARN()
	}
	s.logf("testing the probe stack of run %s (account %s)", runID, plan.Account)
}

// probeZip is built for --arch (and --probe-binary must be built for it too): a function left
// at AWS's default x86_64 could not start an arm64 zip.
func (t *awsTarget) probeZip(ctx context.Context, s *session) ([]byte, string, error) {
	var zip []byte
	var err error
	if s.f.probeBinary != "" {
		zip, err = probefn.ZipExecutable(s.f.probeBinary)
	} else {
		zip, err = probefn.ProbeZip(ctx, s.f.arch)
	}
	return zip, s.f.arch, err
}

func (t *awsTarget) logGroup(ctx context.Context, s *session) string {
	if t.stack != nil {
		return t.stack.Names.LogGroup
	}
	return (&endpointTarget{}).logGroup(ctx, s)
}

// contract needs an execution role for the phase's own functions, and tags them as the stack's
// so teardown and sweep find them.
func (t *awsTarget) contract(s *session, o *runner.ContractOptions) string {
	if s.role == "" {
		return fmt.Sprintf("on AWS the phase creates functions of its own and needs an execution role for them: pass --role (e.g. the role of %s), or test a stack `tenantcheck deploy` created", s.function)
	}
	if t.stack != nil {
		o.Tags = t.stack.Tags()
	}
	return ""
}

func (t *awsTarget) startS3(context.Context, *session) {}

func (t *awsTarget) quickWaits() bool { return false }

func (t *awsTarget) s3Setup(_ context.Context, s *session, tenants []string) (s3data.SetupOptions, *runner.S3Observations) {
	switch {
	case s.f.s3Endpoint != "":
		return s3EndpointOptions(s.f, tenants), nil
	case t.stack == nil:
		return s3data.SetupOptions{}, runner.SkippedS3(fmt.Sprintf("function %s is not a tenantcheck probe stack (tenantcheck-<run>-probe), so there are no tenant buckets or broker roles to test with; deploy one with `tenantcheck deploy` or fixtures/awsstack/template.yaml", s.function))
	}
	return stackS3Options(t.stack, t.cfg, tenants), nil
}

// declaredIsolation: AWS declares nothing; its isolation is what the suite tests.
func (t *awsTarget) declaredIsolation(context.Context, *session) *runner.Isolation { return nil }

func (t *awsTarget) describe(ctx context.Context, f *runFlags) (targetPlan, error) {
	stackID, isStack := awsstack.RunIDFromFunction(f.function)
	foreign := f.function != "" && !isStack
	d := runner.DefaultSettings()
	p := targetPlan{
		target: fmt.Sprintf("AWS account of your configuration, region %s", firstNonEmpty(f.aws.region, "(from your AWS configuration)")),
		s3: fmt.Sprintf("a secret object seeded into each of the stack's %d tenant buckets and deleted at the end; credentials per tenant from the data role (session policy) and the broker (session tag); %d more invocations",
			d.S3Tenants, d.S3Tenants*2*d.S3Rounds),
		contractNote:  "  TI-API-010 will SKIP: the environment-cap probe runs only against the built-in target, whose cap is known",
		lifecycleNote: "  TI-LIFE-003 and TI-LIFE-004 will SKIP: AWS publishes neither its environment cap nor its idle timeout",
		gatewaySkip:   "every check will SKIP: the gateway area does not deploy a REST API on AWS accounts yet",
	}
	switch {
	case foreign:
		p.probe = fmt.Sprintf("existing function %s (nothing deployed)", f.function)
		p.s3 = fmt.Sprintf("SKIP, %s is not a tenantcheck probe stack (no tenant buckets or roles to use)", f.function)
		if f.role == "" {
			p.contractSkip = "SKIP, needs --role for the functions it creates"
		}
	case f.function != "":
		p.probe = fmt.Sprintf("existing function %s, the probe stack of run %s (nothing deployed)", f.function, stackID)
	default:
		cfg, err := f.aws.config(ctx, "")
		if err != nil {
			return p, err
		}
		p.printProbe = func(w io.Writer) error {
			if _, err := awsstack.Deploy(ctx, cfg, awsstack.Options{DryRun: true, RunID: f.runID, Arch: f.arch, JournalDir: f.aws.journalDir, Log: w}); err != nil {
				return usageError("%w", err)
			}
			return nil
		}
	}
	return p, nil
}

// stackS3Options points the s3 fixture at an AWS probe stack: tenant i gets slot i's bucket, is
// scoped by an inline session policy on the stack's data role, and by its slot's session tag on
// the broker role. The run's own principal seeds the buckets and plays the authorizer, as the
// stack's trust policies expect; it is also the admin, so the broker-has-no-S3-rights test does
// not apply.
func stackS3Options(p *awsstack.Plan, cfg aws.Config, tenants []string) s3data.SetupOptions {
	slots := make([]string, len(p.Names.Buckets))
	for i, b := range p.Names.Buckets {
		slots[i] = b.Slot
	}
	return s3data.SetupOptions{
		Region: p.Region, Base: &cfg, Tenants: tenants,
		Buckets: p.TenantBuckets(), RoleARN: p.DataRoleARN(),
		SessionTags:     &s3data.TagScoping{RoleARN: p.BrokerRoleARN(), Key: awsstack.SessionTagSlot, Values: slots},
		PropagationWait: rolePropagationWait,
	}
}

// rolePropagationWait is how long the s3 area keeps trying to assume a stack role that STS
// refuses: the stack may be seconds old (deploy, then run at once), and IAM takes that long to
// spread a new role. deploy's own --propagation-timeout defaults to the same minute.
const rolePropagationWait = time.Minute

// gatewayURL: the front door is not deployed on AWS accounts yet, so the area SKIPs there.
func (t *awsTarget) gatewayURL(context.Context, *session) (string, string) {
	return "", "the gateway area does not deploy a REST API on AWS accounts yet; it runs against the built-in target and `tenantcheck emulator`"
}
