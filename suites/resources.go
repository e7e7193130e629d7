package suites

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/onsi/gomega"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// maxPidsPerEnv is the most processes and threads an environment may be allowed and still count
// as limited: Lambda's own limit is 1,024.
const maxPidsPerEnv = 4096

// minIdleWindow is the shortest idle time TI-RES-002 judges: long enough that standing still
// for half of it cannot be a scheduling delay of a process left running.
const minIdleWindow = 200 // ms

func resourceChecks() []Check {
	return []Check{
		{
			ID: "TI-RES-001", Area: AreaIsolation, Level: reports.Must, Clauses: []string{"ENV-15"}, Severity: "high",
			Title: "Memory is limited as declared",
			Remediation: "Give every execution environment a memory limit of its own (a memory cgroup of " +
				"MemorySize, or a microVM of that size): without one a function takes what it likes, and " +
				"the kernel's OOM killer picks among every tenant's processes.",
			Places:   []probes.Place{probes.PlaceMemoryLimit},
			Evaluate: evaluateMemoryLimit,
		},
		{
			ID: "TI-RES-002", Area: AreaIsolation, Level: reports.Should, Clauses: []string{"ENV-16"}, Severity: "medium",
			Title: "An idle environment is frozen",
			Remediation: "Freeze an execution environment while it waits for its next invocation (a freezer " +
				"cgroup, as Lambda does): a function's background threads must not run, and reach out, " +
				"while it is idle.",
			Places:   []probes.Place{probes.PlaceFreezer},
			Evaluate: evaluateIdleFreeze,
		},
		{
			ID: "TI-RES-003", Area: AreaIsolation, Level: reports.Should, Clauses: []string{"ENV-14"}, Severity: "medium",
			Title: "Processes per environment are limited",
			Remediation: "Give every execution environment a process and thread limit of its own (a pids " +
				"cgroup, 1,024 as on Lambda): without one, a fork bomb in one tenant's function starves " +
				"every other tenant on the host.",
			Places:   []probes.Place{probes.PlacePids},
			Evaluate: evaluatePidsLimit,
		},
	}
}

// evaluatePidsLimit (ENV-14): every environment that could read its pids cgroup must report a
// finite limit of at most maxPidsPerEnv. Environments that could not read it are not judged;
// when none could, the check SKIPs with that reason.
func evaluatePidsLimit(obs *runner.Observations) reports.CheckResult {
	st := measure(obs)
	if res, ok := st.noReports(); ok {
		return res
	}
	var v verifier
	seen := map[string]bool{}
	limits := map[string]int{}
	for _, inv := range withReports(obs) {
		r := inv.report
		if r.PidsMax == "" || seen[r.EnvID] {
			continue
		}
		seen[r.EnvID] = true
		n, err := strconv.Atoi(r.PidsMax)
		limited := err == nil && n > 0 && n <= maxPidsPerEnv
		v.expect(limited, gomega.BeTrue(), &finding{
			msg: fmt.Sprintf("environment %s of tenant %q has a process limit of %s", r.EnvID, inv.tenant, r.PidsMax),
			fields: map[string]string{"envId": r.EnvID, "tenant": inv.tenant, "pidsMax": r.PidsMax,
				"seq": strconv.FormatInt(inv.seq, 10)},
		})
		limits[r.PidsMax]++
	}
	if n := v.count(); n > 0 {
		return reports.CheckResult{
			Status:   reports.Fail,
			Reason:   fmt.Sprintf("%d of %d environments have no process limit of at most %d (%s)", n, len(seen), maxPidsPerEnv, st.figures()),
			Evidence: v.evidence(),
		}
	}
	if len(seen) == 0 {
		return reports.CheckResult{Status: reports.Skip,
			Reason: "no environment could read its process limit (no cgroup file system in view)"}
	}
	return reports.CheckResult{Status: reports.Pass,
		Reason: fmt.Sprintf("%d environments, each with a process limit of its own (pids.max: environments %s; %s)", len(seen), countList(limits), st.figures())}
}

// evaluateMemoryLimit (ENV-15): every invocation that asked its probe to allocate past the
// declared memory limit must have been stopped: the invocation ended in Runtime.OutOfMemory (as
// on Lambda and the built-in target) or Runtime.ExitError (the probe itself was killed), or the
// allocating child was killed. An allocation that
// completed FAILs. Attempts that could not be made, or whose invocation failed in transport, are
// not judged.
func evaluateMemoryLimit(obs *runner.Observations) reports.CheckResult {
	attempted := slices.ContainsFunc(obs.Items, func(o runner.Observation) bool { return o.Memory })
	if res, ok := measure(obs).noReports(); ok && !attempted {
		return res // an attempt stopped as it should leaves no report, so only then is this ERROR
	}
	var v verifier
	stopped := map[string]int{}
	var unjudged []string
	for i := range obs.Items {
		o := &obs.Items[i]
		if !o.Memory {
			continue
		}
		switch {
		case o.Err != "":
			unjudged = append(unjudged, fmt.Sprintf("seq %d: %s", o.Seq, o.Err))
		case o.FunctionError != "" && (o.ErrorType == "Runtime.OutOfMemory" || o.ErrorType == "Runtime.ExitError"):
			stopped["invocation ended in "+o.ErrorType]++
		case o.FunctionError != "":
			unjudged = append(unjudged, fmt.Sprintf("seq %d: the invocation failed otherwise (%s)", o.Seq, cmp.Or(o.ErrorType, o.FunctionError)))
		case o.Report == nil || o.Report.Memory == nil:
			unjudged = append(unjudged, fmt.Sprintf("seq %d: the probe made no attempt (too old a probe?)", o.Seq))
		case o.Report.Memory.Error != "":
			unjudged = append(unjudged, fmt.Sprintf("seq %d: %s", o.Seq, o.Report.Memory.Error))
		case o.Report.Memory.Unfinished:
			// The allocation ran out of time: the limit the environment reads decides.
			m := o.Report.Memory
			switch {
			case m.CgroupLimitMB > 0 && m.CgroupLimitMB <= m.LimitMB:
				stopped["allocation unfinished, memory cgroup limited to the declared limit"]++
			case m.CgroupLimitMB < 0 || m.CgroupLimitMB > m.LimitMB:
				limit := "none"
				if m.CgroupLimitMB > 0 {
					limit = strconv.Itoa(m.CgroupLimitMB) + " MB"
				}
				v.expect(false, gomega.BeTrue(), &finding{
					msg: fmt.Sprintf("environment %s of tenant %q: the allocation did not finish in time, and its memory cgroup's limit is %s, past the declared %d MB",
						o.Report.EnvID, o.Tenant, limit, m.LimitMB),
					fields: map[string]string{"envId": o.Report.EnvID, "tenant": o.Tenant, "seq": strconv.FormatInt(o.Seq, 10),
						"limitMb": strconv.Itoa(m.LimitMB), "cgroupLimitMb": strconv.Itoa(m.CgroupLimitMB)},
				})
			default:
				unjudged = append(unjudged, fmt.Sprintf("seq %d: %s, and no memory limit could be read", o.Seq, m.Detail))
			}
		case o.Report.Memory.Allocated:
			m := o.Report.Memory
			v.expect(m.Allocated, gomega.BeFalse(), &finding{
				msg: fmt.Sprintf("environment %s of tenant %q: %s", o.Report.EnvID, o.Tenant, m.Detail),
				fields: map[string]string{"envId": o.Report.EnvID, "tenant": o.Tenant, "seq": strconv.FormatInt(o.Seq, 10),
					"limitMb": strconv.Itoa(m.LimitMB), "requestedMb": strconv.Itoa(m.RequestedMB),
					"cgroupLimitMb": strconv.Itoa(m.CgroupLimitMB)},
			})
		case o.Report.Memory.Killed:
			stopped["allocating child killed"]++
		default:
			// The child ended without a signal and without finishing (it could not map the
			// memory, say): no evidence either way.
			unjudged = append(unjudged, fmt.Sprintf("seq %d: %s", o.Seq, o.Report.Memory.Detail))
		}
	}
	if n := v.count(); n > 0 {
		return reports.CheckResult{Status: reports.Fail,
			Reason:   fmt.Sprintf("%d allocation(s) past the declared memory limit succeeded", n),
			Evidence: v.evidence()}
	}
	judged := 0
	for _, n := range stopped {
		judged += n
	}
	if judged == 0 {
		why := "the run made no allocation attempt (the resources schedule did not run)"
		if len(unjudged) > 0 {
			why = "no allocation attempt could be judged: " + strings.Join(unjudged, "; ")
		}
		return reports.CheckResult{Status: reports.Skip, Reason: why}
	}
	return reports.CheckResult{Status: reports.Pass,
		Reason: fmt.Sprintf("%d allocation(s) 64 MB past the declared memory limit (MemorySize + %d MB, as the target declares) were stopped (%s)",
			judged, obs.Target.MemoryAllowanceMB, countList(stopped))}
}

// evaluateIdleFreeze (ENV-16): an environment that stood idle for at least minIdleWindow ms
// between two invocations counts as frozen when its probe's idle goroutine stood still for at
// least half the window; the check FAILs (a WARN, being SHOULD) when most windows found the
// environment running. Most, not any: on a loaded host a freeze may come late, or a running
// goroutine may be starved for a while, but a target left running is seen running in nearly
// every window and one that freezes in nearly none.
func evaluateIdleFreeze(obs *runner.Observations) reports.CheckResult {
	if res, ok := measure(obs).noReports(); ok {
		return res
	}
	var v verifier
	windows := 0
	for _, inv := range withReports(obs) {
		w := inv.report.Idle
		if w == nil || w.WindowMs < minIdleWindow {
			continue
		}
		windows++
		frozen := w.StoppedMs*2 >= w.WindowMs
		v.expect(frozen, gomega.BeTrue(), &finding{
			msg: fmt.Sprintf("environment %s of tenant %q kept running while idle: its background goroutine went at most %d ms without waking in %d ms",
				inv.report.EnvID, inv.tenant, w.StoppedMs, w.WindowMs),
			fields: map[string]string{"envId": inv.report.EnvID, "tenant": inv.tenant, "seq": strconv.FormatInt(inv.seq, 10),
				"idleMs": strconv.FormatInt(w.WindowMs, 10), "stoppedMs": strconv.FormatInt(w.StoppedMs, 10)},
		})
	}
	running := v.count()
	if running*2 > windows {
		return reports.CheckResult{Status: reports.Fail,
			Reason:   fmt.Sprintf("%d of %d idle windows of at least %d ms found the environment running", running, windows, minIdleWindow),
			Evidence: v.evidence()}
	}
	if windows == 0 {
		if st := measure(obs); st.warm == 0 {
			// An idle window lies between two invocations of one environment.
			return reports.CheckResult{Status: reports.Inconclusive,
				Reason: fmt.Sprintf("no environment was reused, so none could report how it spent its idle time (%s)", st.figures())}
		}
		return reports.CheckResult{Status: reports.Skip,
			Reason: fmt.Sprintf("no environment stood idle for %d ms between two invocations (the resources schedule did not run, or its environments were not reused)", minIdleWindow)}
	}
	res := reports.CheckResult{Status: reports.Pass,
		Reason: fmt.Sprintf("%d of %d idle windows of at least %d ms found the environment frozen", windows-running, windows, minIdleWindow)}
	if running > 0 {
		res.Reason += fmt.Sprintf(" (%d found it running: a freeze that came late on a busy host, or a target that freezes only sometimes)", running)
		res.Evidence = v.evidence()
	}
	return res
}
