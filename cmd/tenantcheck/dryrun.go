package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/tenantcheck/tenantcheck/runner"
	"github.com/tenantcheck/tenantcheck/suites"
)

// printPlan prints what a run would create and how many invocations it would make, without creating
// anything or sending a single request: cost and blast radius, before anything is spent.
func (f *runFlags) printPlan(ctx context.Context, w io.Writer, checks []suites.Check) error {
	opts := f.runnerOptions("(probe)", nil)
	tenants := runner.Tenants(rand.New(rand.NewPCG(uint64(f.seed), 1)), f.tenants)
	phases, err := runner.Plan(opts, tenants)
	if err != nil {
		return usageError("plan: %w", err)
	}
	total := 0
	tp, err := newTarget(f).describe(ctx, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "dry run (seed %d): nothing is created, no request is sent\n", f.seed)
	fmt.Fprintf(w, "target: %s\n", tp.target)
	if tp.printProbe != nil {
		if err := tp.printProbe(w); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "probe: %s\n", tp.probe)
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
		// Every tenant is invoked once per scoping mechanism in each of the s3 rounds.
		fmt.Fprintf(w, "s3 area: %s\n", tp.s3)
	}
	if areas[suites.AreaContract] {
		ownArea(w, "contract", tp.contractSkip, "two more functions (one PER_TENANT, one ordinary) and a published version, deleted at the end", tp.contractNote)
	}
	if areas[suites.AreaLifecycle] {
		ownArea(w, "lifecycle", tp.contractSkip, "one more PER_TENANT function, updated twice (configuration, code) mid-traffic, and one for the quiet event where the target lets a function have its own idle timeout, deleted at the end", tp.lifecycleNote)
	}
	if areas[suites.AreaGateway] {
		skip := tp.gatewaySkip
		if skip == "" {
			skip = tp.contractSkip
		}
		ownArea(w, "gateway", skip, "a REST API on the target's front door (imported OpenAPI document, two stages, two usage plans, five API keys) before one more PER_TENANT function and the JWT authorizer that ships with tenantcheck (signing key generated for the run), and two tenants' prefixes in a bucket of the s3 area's service for the credentials the authorizer mints, all deleted at the end", "")
	}
	return nil
}

// ownArea prints the plan of an area whose phase creates functions of its own: why it cannot run
// (skip), or what it creates and, on a line of its own, what will SKIP within it (note).
func ownArea(w io.Writer, area, skip, creates, note string) {
	if skip != "" {
		fmt.Fprintf(w, "%s area: %s\n", area, skip)
		return
	}
	fmt.Fprintf(w, "%s area: %s\n", area, creates)
	if note != "" {
		fmt.Fprintln(w, note)
	}
}
