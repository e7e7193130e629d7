package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Lifecycle events, the keys of LifecycleObservations.Events and of its Skipped.
const (
	// LifecycleUpdate: UpdateFunctionConfiguration and then UpdateFunctionCode while two
	// tenants' invocations are in flight, then a new tenant and both old ones again.
	LifecycleUpdate = "update"
	// LifecycleBurst: one tenant's concurrent burst while two other tenants' environments idle.
	LifecycleBurst = "burst"
	// LifecycleCap: one new tenant after another past the environment cap, so the target
	// evicts the least recently used idle environments; then the first tenants return.
	LifecycleCap = "cap"
	// LifecycleQuiet: two tenants go quiet for longer than the target's idle timeout, then a
	// new tenant comes, and the two return.
	LifecycleQuiet = "quiet"
)

// LifecycleObservations is the raw record of the lifecycle phase: events in a function's life
// (an update, a burst, evictions at the cap) around which a target may hand an environment to
// the wrong tenant, though the isolation schedules' steady traffic never shows it.
type LifecycleObservations struct {
	// Function is the PER_TENANT function the phase created for itself, never the user's.
	Function string `json:"function"`
	// Cap is the environment cap the cap event filled (0: not run); Burst how many
	// invocations the burst sent at once; Hold how long each held its environment.
	Cap   int           `json:"cap,omitempty"`
	Burst int           `json:"burst,omitempty"`
	Hold  time.Duration `json:"holdNs,omitempty"`
	// Quiet is how long the quiet event left its tenants idle (0: not run), past an idle
	// timeout of IdleTimeout. QuietFunction is the function it ran on: one of its own, created
	// with a short idle timeout, where the target offers that (Isolation.IdleTimeoutTag), else
	// Function.
	Quiet         time.Duration `json:"quietNs,omitempty"`
	IdleTimeout   time.Duration `json:"idleTimeoutNs,omitempty"`
	QuietFunction string        `json:"quietFunction,omitempty"`
	// Events holds each event's calls in the order they were made. A call's Case says its
	// part: "before", "during" and "after" the updates (Case "update", Op
	// UpdateFunctionConfiguration or UpdateFunctionCode), "idle" and "burst", "fill" and
	// "return" at the cap, "before" and "after" the quiet period.
	Events map[string][]ContractCall `json:"events"`
	// Skipped names events that were not exercised, with the reason.
	Skipped map[string]string `json:"skipped,omitempty"`
	// NotRun, when set, says why the whole phase did not run; every lifecycle check SKIPs with
	// it.
	NotRun string `json:"notRun,omitempty"`
	// Errors are setup and cleanup problems (deploy, update, delete).
	Errors  []string      `json:"errors,omitempty"`
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsedNs"`
}

// SkippedLifecycle records that the lifecycle phase could not run, so its checks SKIP with the
// reason.
func SkippedLifecycle(reason string) *LifecycleObservations {
	return &LifecycleObservations{NotRun: reason, Started: time.Now()}
}

// lifecycleBurst is how many invocations of one tenant the burst sends at once.
const lifecycleBurst = 4

// RunLifecycle drives a function of its own through the events of a function's life that the
// isolation schedules never cause (an update mid-traffic, a burst of one tenant beside idle
// ones, evictions at the environment cap) and records every invocation's report, so the
// lifecycle checks can tell whether an environment ever changed tenant. It takes the contract
// phase's options (the same target hooks set them: role, cap, hold). Only the function it
// creates is ever updated, and it is deleted before RunLifecycle returns, on failure too.
func RunLifecycle(ctx context.Context, c *lambda.Client, opts ContractOptions) (obs *LifecycleObservations, err error) {
	r, err := newContractRun(c, opts, "lifecycle", 0x6c6966656379636c)
	if err != nil {
		return SkippedLifecycle(err.Error()), err
	}
	life := &LifecycleObservations{Started: time.Now(), Events: map[string][]ContractCall{}}
	defer func() {
		life.Errors = append(life.Errors, r.obs.Errors...)
		life.Elapsed = time.Since(life.Started)
		obs = life
	}()
	defer func() {
		if cerr := r.cleanup(ctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	life.Function, err = r.deploy(ctx, true, "pt", nil)
	if err != nil {
		life.NotRun = "its function could not be deployed: " + err.Error()
		return life, err
	}
	lr := &lifecycleRun{contractRun: r, obs: life}
	// The quiet event mostly waits. On a function of its own (where the target lets it have its
	// own idle timeout) it runs beside the others; on the phase's function it comes last, so no
	// update or eviction of the other events passes for the idle timeout acting.
	ownQuiet := opts.IdleTimeoutTag != ""
	var quiet <-chan struct{}
	if ownQuiet {
		quiet = lr.quiet(ctx)
	}
	lr.update(ctx)
	lr.burst(ctx)
	lr.capEvictions(ctx)
	if !ownQuiet {
		quiet = lr.quiet(ctx)
	}
	<-quiet
	if err := ctx.Err(); err != nil {
		return life, fmt.Errorf("lifecycle: stopped: %w", err)
	}
	return life, nil
}

type lifecycleRun struct {
	*contractRun
	// mu guards obs: the quiet event records from a goroutine of its own.
	mu  sync.Mutex
	obs *LifecycleObservations
}

func (l *lifecycleRun) add(event string, calls ...ContractCall) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.obs.Events[event] = append(l.obs.Events[event], calls...)
}

func (l *lifecycleRun) skip(event, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.obs.Skipped == nil {
		l.obs.Skipped = map[string]string{}
	}
	l.obs.Skipped[event] = reason
}

func (l *lifecycleRun) call(label, tenant string, hold time.Duration) invokeSpec {
	return invokeSpec{label: label, function: l.obs.Function, tenant: tenant, hasTenant: true,
		hold: hold, timeout: hold + l.opts.InvokeTimeout}
}

// update (TI-LIFE-001): two tenants' environments are warm, then each is busy with a held
// invocation while the function's configuration, and then its code, is updated. After each
// update a new tenant comes first, then the two again: a faithful target starts fresh
// environments for all three and never hands one of the old ones to anybody.
func (l *lifecycleRun) update(ctx context.Context) {
	a, b := l.tenant("upd"), l.tenant("upd")
	for _, t := range []string{a, b} {
		l.add(LifecycleUpdate, l.invoke(ctx, l.call("before", t, 0)))
	}
	updates := []struct {
		op string
		do func(context.Context) error
	}{
		{"UpdateFunctionConfiguration", func(ctx context.Context) error {
			_, err := l.c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
				FunctionName: aws.String(l.obs.Function),
				Environment:  &types.Environment{Variables: map[string]string{"TENANTCHECK_GENERATION": "2"}},
			})
			return err
		}},
		{"UpdateFunctionCode", func(ctx context.Context) error {
			_, err := l.c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{
				FunctionName: aws.String(l.obs.Function), ZipFile: l.opts.Zip,
			})
			return err
		}},
	}
	for _, u := range updates {
		if ctx.Err() != nil {
			return
		}
		// Both tenants' environments are busy when the update lands (a quarter into calls
		// held for half the hold), then idle after it. An update that lands before the held
		// calls reach their environments still finds the warm ones idle.
		held := make(chan []ContractCall, 1)
		go func() {
			held <- l.concurrently(ctx, []string{a, b}, func(t string) invokeSpec { return l.call("during", t, l.opts.Hold/2) })
		}()
		select {
		case <-ctx.Done():
		case <-time.After(l.opts.Hold / 8):
		}
		call := ContractCall{Op: u.op, Case: "update", Function: l.obs.Function, Start: time.Now()}
		err := u.do(ctx)
		call.Duration = time.Since(call.Start)
		if err != nil {
			l.recordErr(&call, mapSDKError(u.op+" "+l.obs.Function, err))
		} else {
			call.StatusCode = 200
		}
		l.add(LifecycleUpdate, <-held...)
		if err == nil {
			if werr := l.waitUpdated(ctx, l.obs.Function); werr != nil {
				call.Err = werr.Error() // not known to have landed: the check does not count it
			}
		}
		l.add(LifecycleUpdate, call)
		if call.Err != "" {
			l.fail("%s: %s", u.op, call.Err)
			continue
		}
		for _, t := range []string{l.tenant("upd"), b, a} {
			l.add(LifecycleUpdate, l.invoke(ctx, l.call("after", t, 0)))
		}
	}
}

// burst (TI-LIFE-002): two tenants leave an idle environment each, then a third sends
// lifecycleBurst held invocations at once. A faithful target starts environments of the third
// tenant's own (or refuses with 429) and never lends it the idle ones.
func (l *lifecycleRun) burst(ctx context.Context) {
	l.obs.Burst, l.obs.Hold = lifecycleBurst, l.opts.Hold
	for _, t := range []string{l.tenant("idle"), l.tenant("idle")} {
		l.add(LifecycleBurst, l.invoke(ctx, l.call("idle", t, 0)))
	}
	burster := l.tenant("burst")
	tenants := make([]string, lifecycleBurst)
	for i := range tenants {
		tenants[i] = burster
	}
	l.add(LifecycleBurst, l.concurrently(ctx, tenants, func(t string) invokeSpec { return l.call("burst", t, l.opts.Hold/2) })...)
}

// capEvictions (TI-LIFE-003): two new tenants come one after the other, then more,
// capFillBatch at a time, until two more than the cap have had an environment, so the target
// must evict the two least recently used idle ones: the first two tenants'. Then those two
// return. A faithful target destroys an evicted environment; it never hands it to the tenant that
// needed the room.
func (l *lifecycleRun) capEvictions(ctx context.Context) {
	if l.opts.CapProbe <= 0 {
		l.skip(LifecycleCap, "environment cap unknown: only the built-in target's is known to the run")
		return
	}
	l.obs.Cap = l.opts.CapProbe
	tenants := make([]string, l.opts.CapProbe+2)
	for i := range tenants {
		tenants[i] = l.tenant("cap")
	}
	fill := func(t string) invokeSpec { return l.call("fill", t, 0) }
	for _, t := range tenants[:2] { // one at a time: they are the least recently used
		l.add(LifecycleCap, l.invoke(ctx, fill(t)))
	}
	for i := 2; i < len(tenants) && ctx.Err() == nil; i += capFillBatch {
		l.add(LifecycleCap, l.concurrently(ctx, tenants[i:min(i+capFillBatch, len(tenants))], fill)...)
	}
	for _, t := range tenants[:2] {
		if ctx.Err() != nil {
			return
		}
		l.add(LifecycleCap, l.invoke(ctx, l.call("return", t, 0)))
	}
}

// capFillBatch is how many new tenants the cap event starts at once after the first two: the
// fill costs a cold start per environment of the cap, so it is batched.
const capFillBatch = 8

// quietIdleTimeout is the idle timeout the quiet event gives a function of its own where the
// target lets a function have one (Isolation.IdleTimeoutTag).
const quietIdleTimeout = 2 * time.Second

// quiet (TI-LIFE-004): two tenants are served, then nothing happens for longer than the
// target's idle timeout (half as long again, at least three seconds more, so its sweep has run
// even on a loaded host), then a new tenant comes first and the two return. A faithful target
// has destroyed the idle environments; it never keeps one to hand to whoever comes next. Where
// the target lets a function have an idle timeout of its own, the event runs on a function of
// its own with a short one, so the other events keep the target's.
func (l *lifecycleRun) quiet(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	fn, idle := l.obs.Function, l.opts.IdleTimeout
	if l.opts.IdleTimeoutTag != "" {
		idle = quietIdleTimeout
	}
	wait := idle + max(idle/2, 3*time.Second)
	switch {
	case idle <= 0:
		l.skip(LifecycleQuiet, "idle timeout unknown: the target does not publish it")
		close(done)
		return done
	case wait > l.opts.QuietMax:
		l.skip(LifecycleQuiet, fmt.Sprintf("the target's idle timeout %s needs a quiet period of %s, longer than the phase waits (at most %s)", idle, wait, l.opts.QuietMax))
		close(done)
		return done
	case l.opts.IdleTimeoutTag != "":
		var err error
		if fn, err = l.deploy(ctx, true, "quiet", map[string]string{l.opts.IdleTimeoutTag: idle.String()}); err != nil {
			l.skip(LifecycleQuiet, "its function could not be deployed: "+err.Error())
			close(done)
			return done
		}
	}
	l.obs.Quiet, l.obs.IdleTimeout, l.obs.QuietFunction = wait, idle, fn
	call := func(label, tenant string) invokeSpec {
		s := l.call(label, tenant, 0)
		s.function = fn
		return s
	}
	a, b, c := l.tenant("quiet"), l.tenant("quiet"), l.tenant("quiet") // the rng is not shared
	go func() {
		defer close(done)
		for _, t := range []string{a, b} {
			l.add(LifecycleQuiet, l.invoke(ctx, call("before", t)))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		for _, t := range []string{c, b, a} {
			l.add(LifecycleQuiet, l.invoke(ctx, call("after", t)))
		}
	}()
	return done
}
