package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/tenantcheck/tenantcheck/fixtures/awsstack"
	"github.com/tenantcheck/tenantcheck/runner"
	"github.com/tenantcheck/tenantcheck/suites"
)

// dryRun prints what a run would create and how many invocations it would make, without creating
// anything or sending a single request: cost and blast radius, before anything is spent.
func (f *runFlags) printPlan(ctx context.Context, w io.Writer, checks []suites.Check) error {
	opts := f.runnerOptions("(probe)", nil)
	tenants := runner.Tenants(rand.New(rand.NewPCG(uint64(f.seed), 1)), f.tenants)
	phases, err := runner.Plan(opts, tenants)
	if err != nil {
		return usageError("plan: %w", err)
	}
	total := 0
	// An existing function on AWS brings its stack (roles, buckets) only if tenantcheck named it.
	stackID, isStack := awsstack.RunIDFromFunction(f.function)
	foreign := f.useAWS && f.function != "" && !isStack
	fmt.Fprintf(w, "dry run (seed %d): nothing is created, no request is sent\n", f.seed)
	switch {
	case f.useAWS:
		fmt.Fprintf(w, "target: AWS account of your configuration, region %s\n", firstNonEmpty(f.aws.region, "(from your AWS configuration)"))
	case f.endpoint != "":
		fmt.Fprintf(w, "target: %s\n", f.endpoint)
	default:
		fmt.Fprintf(w, "target: built-in, started in-process on 127.0.0.1 (faults: %v, at most %d environments per function)\n", f.target.faults, f.target.maxEnvironments)
	}
	switch {
	case f.function != "":
		stack := ""
		if f.useAWS && isStack {
			stack = ", the probe stack of run " + stackID
		}
		fmt.Fprintf(w, "probe: existing function %s%s (nothing deployed)\n", f.function, stack)
	case f.useAWS:
		cfg, err := f.aws.config(ctx, "")
		if err != nil {
			return err
		}
		if _, err := awsstack.Deploy(ctx, cfg, awsstack.Options{DryRun: true, RunID: f.runID, Arch: f.arch, JournalDir: f.aws.journalDir, Log: w}); err != nil {
			return usageError("%w", err)
		}
	default:
		fmt.Fprintf(w, "probe: would create function tenantcheck-probe-<random> (provided.al2023, TenancyConfig PER_TENANT, timeout %s) and delete it at the end\n", f.fnTimeout)
	}
	fmt.Fprintf(w, "tenants: %d (%d fresh plus adversarial pairs)\n", len(tenants), f.tenants)
	for _, p := range phases {
		fmt.Fprintf(w, "  schedule %-9s %4d invocations, concurrency %d\n", p.Schedule, len(p.Steps), p.Concurrency)
		total += len(p.Steps)
	}
	fmt.Fprintf(w, "isolation schedules: %d invocations in total\n", total)
	areas := map[string]bool{}
	for _, c := range checks {
		areas[c.Area] = true
	}
	if areas[suites.AreaS3] {
		// Every tenant is invoked once per scoping mechanism in each of s3Rounds rounds.
		switch {
		case foreign:
			fmt.Fprintf(w, "s3 area: SKIP, %s is not a tenantcheck probe stack (no tenant buckets or roles to use)\n", f.function)
		case f.useAWS:
			fmt.Fprintf(w, "s3 area: a secret object seeded into each of the stack's %d tenant buckets and deleted at the end; credentials per tenant from the data role (session policy) and the broker (session tag); %d more invocations\n",
				s3Tenants, s3Tenants*2*s3Rounds)
		default:
			fmt.Fprintf(w, "s3 area: %d tenant buckets and one shared bucket with a prefix per tenant, created and deleted; %d more invocations\n",
				s3Tenants, s3Tenants*2*s3Rounds)
		}
	}
	if areas[suites.AreaContract] {
		if foreign && f.role == "" {
			fmt.Fprintln(w, "contract area: SKIP, needs --role for the functions it creates")
			return nil
		}
		fmt.Fprintln(w, "contract area: two more functions (one PER_TENANT, one ordinary) and a published version, deleted at the end")
		if f.useAWS || f.endpoint != "" {
			fmt.Fprintln(w, "  TI-API-010 will SKIP: the environment-cap probe runs only against the built-in target, whose cap is known")
		}
	}
	return nil
}
