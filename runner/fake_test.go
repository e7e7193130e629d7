package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
)

// fakeTarget simulates a correct PER_TENANT target: a pool of environments per tenant, each
// with an ID and an invocation count, running a minimal probe that reports cold/warm and its
// environment. Crashes and timeouts destroy the environment, as Lambda does.
type fakeTarget struct {
	delay     time.Duration // how long each invocation holds its environment
	dropAsync bool          // never post async reports
	logs      *fakeLogs     // where Event invocations asking for it log their report lines

	mu   sync.Mutex
	idle map[string][]*fakeEnv
	envs int
	reqs []InvokeRequest

	inflight, maxInflight atomic.Int64
	async                 sync.WaitGroup
	client                http.Client
}

type fakeEnv struct {
	id          string
	invocations int64
}

func newFakeTarget() *fakeTarget {
	return &fakeTarget{idle: map[string][]*fakeEnv{}, client: http.Client{Timeout: 5 * time.Second}}
}

func (f *fakeTarget) acquire(req InvokeRequest) (*fakeEnv, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	pool := f.idle[req.Tenant]
	if n := len(pool); n > 0 {
		env := pool[n-1]
		f.idle[req.Tenant] = pool[:n-1]
		return env, false
	}
	f.envs++
	return &fakeEnv{id: fmt.Sprintf("env-%d", f.envs)}, true
}

func (f *fakeTarget) release(tenant string, env *fakeEnv) {
	f.mu.Lock()
	f.idle[tenant] = append(f.idle[tenant], env)
	f.mu.Unlock()
}

func (f *fakeTarget) requests() []InvokeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]InvokeRequest(nil), f.reqs...)
}

func (f *fakeTarget) Invoke(ctx context.Context, req InvokeRequest) (InvokeResponse, error) {
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxInflight.Load()
		if n <= m || f.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	var ev probes.Event
	if err := json.Unmarshal(req.Payload, &ev); err != nil {
		return InvokeResponse{}, fmt.Errorf("fake: bad event: %w", err)
	}
	env, cold := f.acquire(req)
	env.invocations++
	rep := probes.Report{
		Schema: probes.SchemaVersion, EnvID: env.id, Cold: cold, Invocations: env.invocations,
		ContextTenant: req.Tenant, RunID: ev.RunID, Tenant: ev.Tenant, Seq: ev.Seq,
		RequestID: fmt.Sprintf("req-%d", ev.Seq),
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			f.release(req.Tenant, env)
			return InvokeResponse{}, ctx.Err()
		}
	}
	// An Event invocation told to fail posts its report, fails, and is retried twice, as
	// Lambda does: three posts of one report.
	posts := 1
	switch {
	case req.Async && ev.Action == probes.ActionError:
		posts = 3
	case ev.Action == probes.ActionError:
		f.release(req.Tenant, env)
		return fnError("errorString", "planned error"), nil
	case ev.Action == probes.ActionCrash:
		return fnError("Runtime.ExitError", "exit status 3"), nil
	case ev.Action == probes.ActionTimeout:
		return fnError("Sandbox.Timedout", "Task timed out"), nil
	}
	if req.Async {
		rep.ReportToken = ev.ReportToken // as the probe does for a delivered report
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return InvokeResponse{}, err
	}
	if req.Async {
		f.async.Add(1)
		go func() {
			defer f.async.Done()
			defer f.release(req.Tenant, env)
			if f.dropAsync {
				return
			}
			if ev.ReportLog && f.logs != nil {
				if line, _, err := probes.ReportLogLine(&rep); err == nil {
					f.logs.add(LogGroupName(req.Function), string(line))
				}
			}
			if ev.ReportURL == "" {
				return
			}
			for range posts {
				resp, err := f.client.Post(ev.ReportURL, "application/json", bytes.NewReader(body))
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
		return InvokeResponse{StatusCode: http.StatusAccepted}, nil
	}
	f.release(req.Tenant, env)
	return InvokeResponse{StatusCode: http.StatusOK, Payload: body}, nil
}

func fnError(typ, msg string) InvokeResponse {
	b, _ := json.Marshal(map[string]string{"errorType": typ, "errorMessage": msg})
	return InvokeResponse{StatusCode: http.StatusOK, FunctionError: "Unhandled", Payload: b}
}

// countingProgress counts ticks so tests can check every invocation was reported once.
type countingProgress struct {
	total, ticks, done atomic.Int64
	onTick             func(n int64)
}

func (c *countingProgress) Start(total int) { c.total.Store(int64(total)) }
func (c *countingProgress) Tick() {
	n := c.ticks.Add(1)
	if c.onTick != nil {
		c.onTick(n)
	}
}
func (c *countingProgress) Done() { c.done.Add(1) }
