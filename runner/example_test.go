package runner_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/tenantcheck/tenantcheck/runner"
)

// Plan shows what a run will do before any target is touched: the same seed always gives the
// same phases, which is what `--seed` replays.
func ExamplePlan() {
	tenants := runner.Tenants(rand.New(rand.NewPCG(1, 2)), 4)
	phases, err := runner.Plan(runner.Options{Invocations: 100, Concurrency: 4, Seed: 7}, tenants)
	if err != nil {
		panic(err)
	}
	for _, ph := range phases {
		async := 0
		for _, s := range ph.Steps {
			if s.Async {
				async++
			}
		}
		fmt.Printf("%-9s steps=%d concurrency=%d async=%d\n", ph.Schedule, len(ph.Steps), ph.Concurrency, async)
	}
	// Output:
	// ping-pong steps=30 concurrency=1 async=0
	// burst     steps=30 concurrency=4 async=0
	// random    steps=20 concurrency=4 async=0
	// async     steps=10 concurrency=1 async=5
	// errors    steps=10 concurrency=1 async=2
	// resources steps=9 concurrency=1 async=0
}
