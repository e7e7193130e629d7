package suites

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/gomega"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// AreaLogs groups the checks on per-tenant logs and metrics, judged from the log group as the
// CloudWatch Logs API returned it after the run (runner.CollectLogs).
const AreaLogs = "logs"

func logChecks() []Check {
	return []Check{
		{
			ID: "TI-LOG-001", Area: AreaLogs, Level: reports.Must, Clauses: []string{"LOG-01"}, Severity: "high",
			Title: "Every application JSON log line carries its invoking tenant and lands in that tenant's stream",
			Remediation: "Pass the invocation's tenant to the runtime (Lambda-Runtime-Aws-Tenant-Id) so the " +
				"function's logger can add it (aws-lambda-go: lambdacontext.NewLogHandler(lambdacontext.WithTenantID())), " +
				"and give every execution environment its own log stream.",
			Evaluate: evaluateAppLines,
		},
		{
			ID: "TI-LOG-002", Area: AreaLogs, Level: reports.Must, Clauses: []string{"LOG-03"}, Severity: "high",
			Title: "Every log stream holds one tenant only",
			Remediation: "Create one log stream per execution environment and never let environments of " +
				"different tenants share one.",
			Evaluate: evaluateStreamTenancy,
		},
		{
			ID: "TI-LOG-003", Area: AreaLogs, Level: reports.Must, Clauses: []string{"LOG-02"}, Severity: "medium",
			Title: "Platform start and report records carry record.tenantId",
			Remediation: "With JSON logging, write the invocation's tenant ID as record.tenantId in " +
				"platform.start, platform.report and the other platform events of a tenant's invocation.",
			Evaluate: evaluatePlatformRecords,
		},
		{
			ID: "TI-LOG-004", Area: AreaLogs, Level: reports.Must, Clauses: []string{"LOG-01"}, Severity: "high",
			Title: "Filtering logs by tenant returns all of that tenant's lines and none of another's",
			Remediation: "Make FilterLogEvents match JSON patterns on exact, case-sensitive field values " +
				"({ $.tenantId = \"<tenant>\" }) and make every application line carry its own tenant.",
			Evaluate: evaluateTenantFilters,
		},
		{
			ID: "TI-MET-001", Area: AreaLogs, Level: reports.Must, Clauses: []string{"LOG-04"}, Severity: "medium",
			Title: "Embedded metrics carry the invoking tenant as their TenantId dimension",
			Remediation: "Give the function the invocation's own tenant (lambdacontext TenantID) so the " +
				"TenantId dimension it emits is right.",
			Evaluate: evaluateMetrics,
		},
	}
}

// logsReady returns the verdict for runs whose logs cannot be judged at all.
func logsReady(obs *runner.Observations) (reports.CheckResult, bool) {
	lo := obs.Logs
	switch {
	case lo == nil:
		return reports.CheckResult{Status: reports.Skip,
			Reason: "logs were not collected for this run (no CloudWatch Logs client for the target)"}, true
	case lo.Err != "":
		return reports.CheckResult{Status: reports.Error, Reason: "reading logs failed: " + lo.Err}, true
	case lo.GroupMissing:
		return reports.CheckResult{Status: reports.Error,
			Reason: fmt.Sprintf("log group %s did not exist after waiting %s", lo.Group, lo.Waited.Round(time.Millisecond))}, true
	}
	return reports.CheckResult{}, false
}

// logFigures is the common tail of every log check's reason.
func logFigures(v *logView) string {
	lo := v.logs
	events := 0
	for _, s := range lo.Streams {
		events += len(s.Events)
	}
	s := fmt.Sprintf("%d events in %d streams of %s", events, len(lo.Streams), lo.Group)
	if lo.Expected > 0 {
		s += fmt.Sprintf(", %d of %d invocations' logs complete", lo.Expected-missingCount(lo), lo.Expected)
	}
	if lo.Truncated {
		s += ", event cap reached"
	}
	return s
}

func missingCount(lo *runner.LogsObservation) int {
	n := 0
	for _, m := range lo.Missing {
		if rest, ok := strings.CutPrefix(m, "... and "); ok {
			more, _ := strconv.Atoi(strings.TrimSuffix(rest, " more"))
			n += more
			continue
		}
		n++
	}
	return n
}

// nothingToJudge is INCONCLUSIVE, saying whether the function logs in text format.
func nothingToJudge(v *logView, what string) reports.CheckResult {
	why := fmt.Sprintf("no %s could be tied to an invocation of this run", what)
	if v.textFormatted() {
		why += "; the function logs in text format: deploy it with LoggingConfig LogFormat JSON"
	}
	return reports.CheckResult{Status: reports.Inconclusive, Reason: fmt.Sprintf("%s (%s)", why, logFigures(v))}
}

func recordFields(r *logRecord) map[string]string {
	f := map[string]string{"stream": r.stream, "timestamp": strconv.FormatInt(r.timestamp, 10), "message": clip(r.message)}
	if r.truth != nil {
		f["expected"] = r.truth.Tenant
		f["seq"] = strconv.FormatInt(r.truth.Seq, 10)
	}
	if r.tenantID != nil {
		f["got"] = *r.tenantID
	}
	if r.requestID != "" {
		f["requestId"] = r.requestID
	}
	return f
}

// clip bounds a message quoted as evidence.
func clip(s string) string {
	const n = 300
	s = strings.TrimRight(s, "\n")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func verdict(v *logView, ver *verifier, judged int, what, passMsg string) reports.CheckResult {
	if n := ver.count(); n > 0 {
		return reports.CheckResult{
			Status:   reports.Fail,
			Reason:   fmt.Sprintf("%d findings over %d %s (%s)", n, judged, what, logFigures(v)),
			Evidence: ver.evidence(),
		}
	}
	return reports.CheckResult{Status: reports.Pass, Reason: fmt.Sprintf("%s (%s)", passMsg, logFigures(v))}
}

// evaluateAppLines (LOG-01): each application line tied to an invocation names that
// invocation's tenant, and sits in a stream that holds no other tenant's records.
func evaluateAppLines(obs *runner.Observations) reports.CheckResult {
	if res, ok := logsReady(obs); ok {
		return res
	}
	v := newLogView(obs)
	streams := v.streamTenants()
	var ver verifier
	judged, unattributed := 0, 0
	for _, r := range v.of(kindApp) {
		if r.truth == nil {
			unattributed++
			continue
		}
		judged++
		want := r.truth.Tenant
		f := recordFields(r)
		ver.expect(tenantOf(r.tenantID), gomega.Equal(strconv.Quote(want)), &finding{
			msg:    fmt.Sprintf("line of tenant %q's invocation (seq %d) has tenantId %s", want, r.truth.Seq, tenantOf(r.tenantID)),
			fields: f,
		})
		ver.expect(streams[r.stream], gomega.Equal([]string{want}), &finding{
			msg: fmt.Sprintf("line of tenant %q (seq %d) is in stream %s, which also holds tenants %s",
				want, r.truth.Seq, r.stream, quoteAll(streams[r.stream])),
			fields: f,
		})
	}
	if judged == 0 {
		return nothingToJudge(v, "application JSON line")
	}
	pass := fmt.Sprintf("all %d application lines carry their invoking tenant in that tenant's stream", judged)
	if unattributed > 0 {
		pass += fmt.Sprintf("; not judged: %d lines not tied to an invocation of this run", unattributed)
	}
	return verdict(v, &ver, judged, "application lines", pass)
}

// evaluateStreamTenancy (LOG-03): group records by stream, expect one ground-truth tenant each.
func evaluateStreamTenancy(obs *runner.Observations) reports.CheckResult {
	if res, ok := logsReady(obs); ok {
		return res
	}
	v := newLogView(obs)
	streams := v.streamTenants()
	var ver verifier
	judged := 0
	for _, name := range v.streams {
		tenants := streams[name]
		if len(tenants) == 0 {
			continue
		}
		judged++
		ver.expect(tenants, gomega.HaveLen(1), &finding{
			msg:    fmt.Sprintf("stream %s holds %d tenants: %s", name, len(tenants), quoteAll(tenants)),
			fields: map[string]string{"stream": name, "tenants": quoteAll(tenants)},
		})
	}
	if judged == 0 {
		return nothingToJudge(v, "log record")
	}
	return verdict(v, &ver, judged, "streams", fmt.Sprintf("each of %d streams holds one tenant", judged))
}

// evaluatePlatformRecords (LOG-02): platform.start and platform.report name the invocation's
// tenant in record.tenantId.
func evaluatePlatformRecords(obs *runner.Observations) reports.CheckResult {
	if res, ok := logsReady(obs); ok {
		return res
	}
	v := newLogView(obs)
	var ver verifier
	judged := 0
	for _, r := range v.of(kindPlatform) {
		if r.truth == nil || (r.platformType != "platform.start" && r.platformType != "platform.report") {
			continue
		}
		judged++
		ver.expect(tenantOf(r.tenantID), gomega.Equal(strconv.Quote(r.truth.Tenant)), &finding{
			msg: fmt.Sprintf("%s of request %s (tenant %q) has record.tenantId %s",
				r.platformType, r.requestID, r.truth.Tenant, tenantOf(r.tenantID)),
			fields: recordFields(r),
		})
	}
	if judged == 0 {
		return nothingToJudge(v, "platform.start or platform.report record")
	}
	return verdict(v, &ver, judged, "platform records",
		fmt.Sprintf("all %d platform start/report records carry their invocation's tenant", judged))
}

// evaluateTenantFilters (LOG-01 through the API): for each tenant the collector filtered on,
// the answer must hold every application line of that tenant's invocations and no record of
// another tenant's.
func evaluateTenantFilters(obs *runner.Observations) reports.CheckResult {
	if res, ok := logsReady(obs); ok {
		return res
	}
	v := newLogView(obs)
	byKey := map[string]*logRecord{}
	own := map[string][]*logRecord{} // tenant -> its application lines
	for _, r := range v.records {
		byKey[eventKey(r.stream, r.timestamp, r.message)] = r
		if r.kind == kindApp && r.truth != nil {
			own[r.truth.Tenant] = append(own[r.truth.Tenant], r)
		}
	}
	var ver verifier
	var failed, skipped []string
	judged := 0
	for _, f := range v.logs.Filters {
		switch {
		case f.Skipped != "":
			skipped = append(skipped, strconv.Quote(f.Tenant))
			continue
		case f.Err != "":
			failed = append(failed, fmt.Sprintf("%q: %s", f.Tenant, f.Err))
			continue
		}
		returned := map[string]bool{}
		for _, e := range f.Events {
			k := eventKey(e.Stream, e.Timestamp, e.Message)
			returned[k] = true
			r := byKey[k]
			if r == nil { // not in the full read (arrived later): judge it on its own
				r = parseRecord(e.Stream, runner.LogEvent{Timestamp: e.Timestamp, Message: e.Message})
				v.attribute(r)
			}
			if r.truth == nil {
				continue
			}
			ver.expect(r.truth.Tenant, gomega.Equal(f.Tenant), &finding{
				msg:    fmt.Sprintf("filter %s returned a line of tenant %q (seq %d)", f.Pattern, r.truth.Tenant, r.truth.Seq),
				fields: withField(recordFields(r), "filteredTenant", f.Tenant),
			})
		}
		for _, r := range own[f.Tenant] {
			ver.expect(returned[eventKey(r.stream, r.timestamp, r.message)], gomega.BeTrue(), &finding{
				msg:    fmt.Sprintf("filter %s missed a line of tenant %q (seq %d)", f.Pattern, f.Tenant, r.truth.Seq),
				fields: withField(recordFields(r), "filteredTenant", f.Tenant),
			})
		}
		if len(own[f.Tenant]) > 0 || len(f.Events) > 0 {
			judged++
		}
	}
	if ver.count() == 0 && len(failed) > 0 {
		return reports.CheckResult{Status: reports.Error,
			Reason: fmt.Sprintf("filtering failed for %d tenants: %s", len(failed), strings.Join(failed, "; "))}
	}
	if judged == 0 && ver.count() == 0 {
		res := nothingToJudge(v, "tenant with application lines")
		if len(skipped) > 0 {
			res.Reason += fmt.Sprintf("; tenants not expressible in a pattern: %s", strings.Join(skipped, ", "))
		}
		return res
	}
	pass := fmt.Sprintf("filters for %d tenants returned exactly their own lines", judged)
	if len(skipped) > 0 {
		pass += fmt.Sprintf("; not filtered (not expressible in a pattern): %s", strings.Join(skipped, ", "))
	}
	return verdict(v, &ver, judged, "tenant filters", pass)
}

// evaluateMetrics (LOG-04): each EMF record has a TenantId dimension whose value is the
// invoking tenant.
func evaluateMetrics(obs *runner.Observations) reports.CheckResult {
	if res, ok := logsReady(obs); ok {
		return res
	}
	v := newLogView(obs)
	var ver verifier
	judged := 0
	for _, r := range v.of(kindEMF) {
		if r.truth == nil {
			continue
		}
		judged++
		f := recordFields(r)
		ver.expect(r.emfTenantDim, gomega.BeTrue(), &finding{
			msg:    fmt.Sprintf("metric of tenant %q (seq %d) has no %s dimension", r.truth.Tenant, r.truth.Seq, probes.MetricDimension),
			fields: f,
		})
		ver.expect(tenantOf(r.tenantID), gomega.Equal(strconv.Quote(r.truth.Tenant)), &finding{
			msg: fmt.Sprintf("metric of tenant %q (seq %d) has %s %s", r.truth.Tenant, r.truth.Seq,
				probes.MetricDimension, tenantOf(r.tenantID)),
			fields: f,
		})
	}
	if judged == 0 {
		return nothingToJudge(v, "Embedded Metric Format record")
	}
	return verdict(v, &ver, judged, "metric records",
		fmt.Sprintf("all %d metric records carry their invoking tenant as %s", judged, probes.MetricDimension))
}

func eventKey(stream string, ts int64, msg string) string {
	return stream + "\x00" + strconv.FormatInt(ts, 10) + "\x00" + msg
}

func withField(f map[string]string, k, val string) map[string]string {
	f[k] = val
	return f
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
