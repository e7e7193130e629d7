package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
	"github.com/tenantcheck/tenantcheck/runner"
)

// builtinTarget is the built-in target (fixtures/emulator), started in-process on a free
// loopback port for the run and stopped after it. It is an endpoint target whose environment cap
// is known, which is what lets the contract phase probe the cap (TI-API-010).
type builtinTarget struct {
	endpointTarget
}

func (t *builtinTarget) open(ctx context.Context, s *session) error {
	cfg, err := s.f.target.config("127.0.0.1:0", s.f.seed)
	if err != nil {
		return err
	}
	srv, err := emulator.New(cfg)
	if err != nil {
		return usageError("built-in target: %w", err)
	}
	if err := srv.Start(); err != nil {
		return toolError("start built-in target: %w", err)
	}
	s.defer_(func(context.Context) error {
		if err := srv.Close(); err != nil {
			return toolError("stop built-in target: %w", err)
		}
		return nil
	})
	s.endpoint, s.label = srv.Endpoint(), "built-in"
	return t.dial(ctx, s)
}

// contract enables the cap probe: the built-in target's cap is known, and its cold starts take
// milliseconds, so the cap probe's invocations are all in flight well within a short hold.
func (t *builtinTarget) contract(s *session, o *runner.ContractOptions) string {
	o.CapProbe = s.f.target.maxEnvironments
	o.Hold = 1500 * time.Millisecond
	return ""
}

func (t *builtinTarget) describe(ctx context.Context, f *runFlags) (targetPlan, error) {
	p, err := t.endpointTarget.describe(ctx, f)
	p.target = fmt.Sprintf("built-in, started in-process on 127.0.0.1 (faults: %v, at most %d environments per function)", f.target.faults, f.target.maxEnvironments)
	p.contractNote, p.lifecycleNote = "", ""
	return p, err
}
