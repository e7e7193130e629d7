package runner

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
)

// Schedule names are public: they appear on the command line and in reports.
const (
	SchedulePingPong = "ping-pong"
	ScheduleBurst    = "burst"
	ScheduleRandom   = "random"
	ScheduleAsync    = "async"
	ScheduleErrors   = "errors"
	// ScheduleResources pauses to let two tenants' environments go idle, then asks one probe
	// to allocate past its memory limit (TI-RES-001, TI-RES-002). Its resourcesSteps steps come
	// on top of Options.Invocations, which the other schedules share.
	ScheduleResources = "resources"
)

// resourcesSteps is how many invocations the resources schedule makes (with at least
// resourcesTenants tenants); resourcesPause is how long it lets environments stand idle, long enough that a frozen environment's stillness is
// far beyond any scheduling delay (see suites' minIdleWindow).
const (
	resourcesTenants = 4
	resourcesSteps   = 2*resourcesTenants + 1
	resourcesPause   = 250 * time.Millisecond
)

// scheduleWeight splits Options.Invocations between schedules. Ping-pong and burst carry the
// most weight because they make the most reuse opportunities per invocation; errors is costly
// (crashes and timeouts spawn environments) and async depends on a report sink.
func scheduleWeight(name string) (int, bool) {
	switch name {
	case SchedulePingPong, ScheduleBurst:
		return 3, true
	case ScheduleRandom:
		return 2, true
	case ScheduleAsync, ScheduleErrors:
		return 1, true
	case ScheduleResources:
		return 0, true // fixed steps, see resourcesSteps
	}
	return 0, false
}

// AllSchedules lists every schedule in the order Run executes them by default.
func AllSchedules() []string {
	return []string{SchedulePingPong, ScheduleBurst, ScheduleRandom, ScheduleAsync, ScheduleErrors, ScheduleResources}
}

// Step is one planned invocation. It refers to a tenant by index, not ID, so a seed fixes the
// interleaving while tenant IDs stay fresh per run.
type Step struct {
	Schedule string `json:"schedule"`
	// Batch groups steps that may be in flight together; a barrier separates batches.
	Batch  int           `json:"batch"`
	Tenant int           `json:"tenant"`
	Action probes.Action `json:"action,omitempty"`
	Async  bool          `json:"async,omitempty"`
	// Pause is how long the runner waits, with nothing in flight, before this step.
	Pause time.Duration `json:"pauseNs,omitempty"`
	// Memory asks the probe to allocate past its memory limit (probes.MemoryRequest).
	Memory bool `json:"memory,omitempty"`
}

// Phase is one schedule's steps and the most of them that may be in flight at once.
type Phase struct {
	Schedule    string `json:"schedule"`
	Concurrency int    `json:"concurrency"`
	Steps       []Step `json:"steps"`
}

// Plan turns options into phases, one per selected schedule. It is pure: the same options,
// seed and tenant labels give the same phases byte for byte, which is what makes --seed replay
// a run. Each schedule draws from its own seeded stream so selecting or dropping one schedule
// does not change the steps of another.
func Plan(opts Options, tenants []Tenant) ([]Phase, error) {
	return plan(opts.withDefaults(), tenants)
}

// plan is Plan on options whose defaults are already applied.
func plan(opts Options, tenants []Tenant) ([]Phase, error) {
	if len(tenants) < 2 {
		return nil, fmt.Errorf("plan: need at least 2 tenants, have %d", len(tenants))
	}
	counts, err := splitInvocations(opts.Invocations, opts.Schedules)
	if err != nil {
		return nil, err
	}
	groups := tenantGroups(tenants)
	phases := make([]Phase, 0, len(opts.Schedules))
	for i, name := range opts.Schedules {
		p := planner{
			rng:     rand.New(rand.NewPCG(uint64(opts.Seed), nameHash(name))),
			n:       counts[i],
			groups:  groups,
			tenants: len(tenants),
			opts:    opts,
		}
		phases = append(phases, p.plan(name))
	}
	return phases, nil
}

func nameHash(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// splitInvocations divides total between schedules by weight (largest remainder, ties to the
// earlier schedule) so the counts always add up to total.
func splitInvocations(total int, schedules []string) ([]int, error) {
	sum := 0
	seen := map[string]bool{}
	weights := make([]int, len(schedules))
	for i, s := range schedules {
		w, ok := scheduleWeight(s)
		if !ok {
			return nil, fmt.Errorf("unknown schedule %q (known: %s)", s, strings.Join(AllSchedules(), ", "))
		}
		if seen[s] {
			return nil, fmt.Errorf("schedule %q selected twice", s)
		}
		seen[s] = true
		weights[i] = w
		sum += w
	}
	counts := make([]int, len(schedules))
	rems := make([]int, len(schedules))
	given := 0
	if sum == 0 {
		return counts, nil // only fixed schedules: they plan their own steps
	}
	for i, w := range weights {
		counts[i] = total * w / sum
		rems[i] = total * w % sum
		given += counts[i]
	}
	order := make([]int, len(schedules))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return rems[b] - rems[a] })
	for k := 0; given < total; k++ {
		if i := order[k%len(order)]; weights[i] > 0 {
			counts[i]++
			given++
		}
	}
	return counts, nil
}

type planner struct {
	rng     *rand.Rand
	n       int
	groups  [][]int
	tenants int
	opts    Options
	steps   []Step
}

func (p *planner) plan(name string) Phase {
	conc := 1
	switch name {
	case SchedulePingPong:
		p.pingPong()
	case ScheduleBurst:
		conc = p.burst()
	case ScheduleRandom:
		p.random()
		conc = p.opts.Concurrency
	case ScheduleAsync:
		p.async()
	case ScheduleErrors:
		p.errors()
	case ScheduleResources:
		p.resources()
	}
	for i := range p.steps {
		p.steps[i].Schedule = name
	}
	return Phase{Schedule: name, Concurrency: conc, Steps: p.steps}
}

// rotation walks the groups from a seeded starting group, each group's members in order and
// twice over, so every tenant is invoked right after its twin and then again after its twin
// ran: A, B, A, B for a pair.
func (p *planner) rotation() []int {
	start := p.rng.IntN(len(p.groups))
	var r []int
	for k := range p.groups {
		g := p.groups[(start+k)%len(p.groups)]
		r = append(r, g...)
		r = append(r, g...)
	}
	return r
}

// sprinkle keeps error paths in every schedule: a seeded few invocations error or crash.
// Timeouts are slow and stay in the errors schedule.
func (p *planner) sprinkle() probes.Action {
	if p.rng.Float64() >= p.opts.ErrorRate {
		return probes.ActionNone
	}
	if p.rng.IntN(2) == 0 {
		return probes.ActionError
	}
	return probes.ActionCrash
}

// pingPong is sequential, alternating twins: the strongest case for reuse, because the twin's
// environment is always idle when the next invocation arrives.
func (p *planner) pingPong() {
	r := p.rotation()
	for i := range p.n {
		p.steps = append(p.steps, Step{Batch: i, Tenant: r[i%len(r)], Action: p.sprinkle()})
	}
}

// burst puts N tenants x M invocations each in flight at once, so a target must hold several
// environments per tenant; M is 2 where concurrency allows so same-tenant concurrency is
// exercised too. Successive bursts move along the tenant list, keeping twins together.
func (p *planner) burst() int {
	width := p.opts.Concurrency
	perTenant := 1
	if width >= 2 {
		perTenant = 2
	}
	nTen := max(1, min(width/perTenant, p.tenants))
	offset := p.rng.IntN(p.tenants)
	for b := 0; len(p.steps) < p.n; b++ {
		var batch []Step
		for m := 0; m < perTenant; m++ {
			for i := 0; i < nTen; i++ {
				t := (offset + b*nTen + i) % p.tenants
				batch = append(batch, Step{Batch: b, Tenant: t})
			}
		}
		p.rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		batch = batch[:min(len(batch), p.n-len(p.steps))]
		for i := range batch {
			batch[i].Action = p.sprinkle()
		}
		p.steps = append(p.steps, batch...)
	}
	return nTen * perTenant
}

func (p *planner) random() {
	for range p.n {
		p.steps = append(p.steps, Step{Tenant: p.rng.IntN(p.tenants), Action: p.sprinkle()})
	}
}

// async alternates an Event invocation of one tenant with a synchronous one of its twin, so
// the twin arrives while the async invocation's environment may still be busy or just idle.
// Event invocations carry no sprinkled errors: Lambda retries failed Event invocations itself,
// which would muddle the one-report-per-invocation bookkeeping.
func (p *planner) async() {
	r := p.rotation()
	for i := range p.n {
		s := Step{Batch: i, Tenant: r[i%len(r)], Async: i%2 == 0}
		if !s.Async {
			s.Action = p.sprinkle()
		}
		p.steps = append(p.steps, s)
	}
}

// errors plays units of an error, crash or timeout for one tenant followed by normal
// invocations of that tenant and of its twin, in a seeded order, so isolation checks see what
// a target hands out right after it reset an environment. The first two units fail an Event
// invocation of a tenant and then of its twin, and every other error after them is an Event
// invocation too: the target retries it while the units after it run, and
// TI-API-013 judges where the retries ran.
func (p *planner) errors() {
	timeouts, errs := 0, 0
	var firstT, firstTwin int
	for len(p.steps) < p.n {
		g := p.groups[p.rng.IntN(len(p.groups))]
		k := p.rng.IntN(len(g))
		t, twin := g[k], g[(k+1)%len(g)]
		if len(g) == 1 {
			twin = (t + 1) % p.tenants
		}
		actions := []probes.Action{probes.ActionError, probes.ActionCrash}
		if timeouts < p.opts.MaxTimeouts {
			actions = append(actions, probes.ActionTimeout)
		}
		act := actions[p.rng.IntN(len(actions))]
		if errs < 2 {
			// The first two units fail an Event invocation of a tenant and then of its twin,
			// so even a short run sees two tenants' retries.
			act = probes.ActionError
			if errs == 0 {
				firstT, firstTwin = t, twin
			} else {
				t, twin = firstTwin, firstT
			}
		}
		if act == probes.ActionTimeout {
			timeouts++
		}
		unit := []Step{{Tenant: t, Action: act}, {Tenant: t}, {Tenant: twin}}
		if act == probes.ActionError {
			unit[0].Async = errs < 2 || errs%2 == 0
			errs++
		}
		if p.rng.IntN(2) == 0 {
			unit[1], unit[2] = unit[2], unit[1]
		}
		for _, s := range unit[:min(len(unit), p.n-len(p.steps))] {
			s.Batch = len(p.steps)
			p.steps = append(p.steps, s)
		}
	}
}

// resources lets four tenants' environments (twins first) go idle for resourcesPause and
// invokes them again, so each reports how it spent that idle time (frozen or running), then asks
// one of them to allocate past its memory limit. A target that enforces the limit ends that
// invocation (Runtime.OutOfMemory) or kills the allocating child.
func (p *planner) resources() {
	g := p.groups[p.rng.IntN(len(p.groups))]
	var ts []int
	for _, t := range g {
		ts = append(ts, t)
	}
	for t := (g[0] + 1) % p.tenants; len(ts) < min(resourcesTenants, p.tenants); t = (t + 1) % p.tenants {
		if !slices.Contains(ts, t) {
			ts = append(ts, t)
		}
	}
	ts = ts[:min(len(ts), resourcesTenants)]
	var plan []Step
	for _, t := range ts {
		plan = append(plan, Step{Tenant: t})
	}
	for i, t := range ts {
		s := Step{Tenant: t}
		if i == 0 {
			s.Pause = resourcesPause
		}
		plan = append(plan, s)
	}
	plan = append(plan, Step{Tenant: ts[0], Memory: true})
	for i, s := range plan {
		s.Batch = i
		p.steps = append(p.steps, s)
	}
}
