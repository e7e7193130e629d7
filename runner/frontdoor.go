package runner

import (
	"math/rand/v2"

	"github.com/tenantcheck/tenantcheck/probes"
)

// FrontDoor is the target's own API as the run reaches it, which a function must not be able to
// use to act as another tenant (TI-NET-002).
type FrontDoor struct {
	// Endpoint is the Lambda endpoint URL ("" for AWS's own in Region); the built-in target
	// serves the CloudWatch Logs API there too.
	Endpoint string
	Region   string
}

const (
	// frontDoorEvery: one sync invocation in frontDoorEvery, chosen by the seed, tries the front
	// door. Two calls that a guarded target refuses at once; dozens per run show an open door.
	frontDoorEvery = 16
	// frontDoorStream separates this choice's random stream from the others.
	frontDoorStream = 0x6672_6f6e_7464_6f6f // "frontdoo"
)

// frontDoor is the front-door request of invocation seq of tenant, nil for most invocations.
func (e *executor) frontDoor(seq int64, tenant string, async bool) *probes.FrontDoorRequest {
	fd := e.opts.FrontDoor
	if fd == nil || async || len(e.tenants) < 2 {
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(e.opts.Seed)^frontDoorStream, uint64(seq)))
	if rng.IntN(frontDoorEvery) != 0 {
		return nil
	}
	var others []string
	for _, t := range e.tenants {
		if t.ID != tenant {
			others = append(others, t.ID)
		}
	}
	group := e.opts.LogGroup
	if group == "" {
		group = LogGroupName(e.opts.Function)
	}
	return &probes.FrontDoorRequest{
		Endpoint: fd.Endpoint, Region: fd.Region, Function: e.opts.Function,
		OtherTenant: others[rng.IntN(len(others))], LogGroup: group,
	}
}
