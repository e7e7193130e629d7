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
		fmt.Fprintf(w, "probe: existing function %s (nothing deployed)\n", f.function)
	case f.useAWS:
		cfg, err := f.aws.config(ctx, "")
		if err != nil {
			return err
		}
		if _, err := awsstack.Deploy(ctx, cfg, awsstack.Options{DryRun: true, Arch: f.arch, JournalDir: f.aws.journalDir, Log: w}); err != nil {
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
		fmt.Fprintf(w, "s3 area: %d tenant buckets and one shared bucket with a prefix per tenant, %d more invocations\n", s3Tenants, 2*s3Tenants)
	}
	if areas[suites.AreaContract] {
		fmt.Fprintln(w, "contract area: two more functions (one PER_TENANT, one ordinary) and a published version, deleted at the end")
	}
	return nil
}
