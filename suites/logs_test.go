package suites

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

var logIDs = []string{"TI-LOG-001", "TI-LOG-002", "TI-LOG-003", "TI-LOG-004", "TI-MET-001"}

// logInv is one hand-made invocation and the lines a correct target would log for it.
type logInv struct {
	seq            int64
	tenant, stream string
}

func platformLine(typ, reqID string, tenant *string) string {
	rec := map[string]any{"requestId": reqID}
	if tenant != nil {
		rec["tenantId"] = *tenant
	}
	b, _ := json.Marshal(map[string]any{"time": "2026-01-01T00:00:00.000Z", "type": typ, "record": rec})
	return string(b) + "\n"
}

func probeLine(runID, reqID string, seq int64, tenant *string) string {
	m := map[string]any{"timestamp": "2026-01-01T00:00:00Z", "level": "INFO", "message": probes.LogMessage,
		"runId": runID, "seq": seq, "envId": "env", "cold": false, "requestId": reqID}
	if tenant != nil {
		m["tenantId"] = *tenant
	}
	b, _ := json.Marshal(m)
	return string(b) + "\n"
}

func reqID(seq int64) string { return "req-" + string(rune('a'+seq)) }

// logRun builds a run of invs whose logs a correct target wrote; mutate then filter.
func logRun(invs ...logInv) *runner.Observations {
	obs := &runner.Observations{RunID: "run-1", Started: time.Unix(1767225600, 0)}
	lo := &runner.LogsObservation{Group: "/aws/lambda/probe", Complete: true}
	streams := map[string]int{}
	ts := int64(1767225600000)
	add := func(stream, msg string) {
		i, ok := streams[stream]
		if !ok {
			i = len(lo.Streams)
			streams[stream] = i
			lo.Streams = append(lo.Streams, runner.LogStream{Name: stream})
		}
		ts++
		lo.Streams[i].Events = append(lo.Streams[i].Events, runner.LogEvent{Timestamp: ts, Message: msg})
	}
	for _, in := range invs {
		t := in.tenant
		id := reqID(in.seq)
		obs.Items = append(obs.Items, runner.Observation{Seq: in.seq, Tenant: t,
			Report: &probes.Report{RequestID: id, Tenant: t, RunID: "run-1", Seq: in.seq, ContextTenant: t}})
		if !contains(obs.Tenants, t) {
			obs.Tenants = append(obs.Tenants, t)
		}
		add(in.stream, platformLine("platform.start", id, &t))
		add(in.stream, probeLine("run-1", id, in.seq, &t))
		add(in.stream, string(probes.EMFLine(time.UnixMilli(ts), t, id, "run-1", in.seq)))
		add(in.stream, platformLine("platform.runtimeDone", id, &t))
		add(in.stream, platformLine("platform.report", id, &t))
		lo.Expected++
	}
	obs.Logs = lo
	return obs
}

// filterLikeCloudWatch fills Filters as a correct FilterLogEvents answers { $.tenantId = "t" }.
func filterLikeCloudWatch(obs *runner.Observations) {
	obs.Logs.Filters = nil
	for _, t := range obs.Tenants {
		f := runner.TenantFilter{Tenant: t, Pattern: runner.TenantPattern(t)}
		for _, s := range obs.Logs.Streams {
			for _, e := range s.Events {
				var m map[string]any
				if json.Unmarshal([]byte(e.Message), &m) == nil && m["tenantId"] == t {
					f.Events = append(f.Events, runner.FilteredLogEvent{Stream: s.Name, Timestamp: e.Timestamp, Message: e.Message})
				}
			}
		}
		obs.Logs.Filters = append(obs.Logs.Filters, f)
	}
}

// editLines rewrites every event message with fn.
func editLines(obs *runner.Observations, fn func(stream, msg string) string) {
	for i := range obs.Logs.Streams {
		s := &obs.Logs.Streams[i]
		for j := range s.Events {
			s.Events[j].Message = fn(s.Name, s.Events[j].Message)
		}
	}
}

// editJSON rewrites the JSON events whose fn returns true.
func editJSON(obs *runner.Observations, fn func(m map[string]any) bool) {
	editLines(obs, func(_, msg string) string {
		var m map[string]any
		if json.Unmarshal([]byte(msg), &m) != nil || !fn(m) {
			return msg
		}
		b, _ := json.Marshal(m)
		return string(b) + "\n"
	})
}

func baseLogRun() *runner.Observations {
	return logRun(
		logInv{1, "blue", "2026/01/01/[$LATEST]b1"},
		logInv{2, "green", "2026/01/01/[$LATEST]g1"},
		logInv{3, "blue", "2026/01/01/[$LATEST]b1"},
		logInv{4, "Blue", "2026/01/01/[$LATEST]B1"},
		logInv{5, "green", "2026/01/01/[$LATEST]g2"},
	)
}

func TestLogChecks(t *testing.T) {
	allPass := func() want { return setStatus(want{}, reports.Pass, logIDs...) }
	tests := []struct {
		name   string
		mutate func(obs *runner.Observations)
		want   want
		reason map[string]string // check ID -> substring of the reason
	}{
		{name: "correct target", want: allPass()},
		{
			name:   "logs not collected",
			mutate: func(obs *runner.Observations) { obs.Logs = nil },
			want:   setStatus(want{}, reports.Skip, logIDs...),
			reason: map[string]string{"TI-LOG-001": "not collected"},
		},
		{
			name:   "collection failed",
			mutate: func(obs *runner.Observations) { obs.Logs.Err = "AccessDeniedException: not authorized" },
			want:   setStatus(want{}, reports.Error, logIDs...),
			reason: map[string]string{"TI-LOG-002": "AccessDenied"},
		},
		{
			name:   "log group never appeared",
			mutate: func(obs *runner.Observations) { obs.Logs.GroupMissing, obs.Logs.Streams = true, nil },
			want:   setStatus(want{}, reports.Error, logIDs...),
		},
		{
			name: "fault log-no-tenant: platform records lack record.tenantId",
			mutate: func(obs *runner.Observations) {
				editJSON(obs, func(m map[string]any) bool {
					rec, ok := m["record"].(map[string]any)
					if ok {
						delete(rec, "tenantId")
					}
					return ok
				})
			},
			want:   setStatus(allPass(), reports.Fail, "TI-LOG-003"),
			reason: map[string]string{"TI-LOG-003": "findings over 10 platform records"},
		},
		{
			name: "fault log-shared-stream: environments of two tenants write one stream",
			mutate: func(obs *runner.Observations) {
				obs.Logs.Streams[0].Events = append(obs.Logs.Streams[0].Events, obs.Logs.Streams[1].Events...)
				obs.Logs.Streams = append(obs.Logs.Streams[:1], obs.Logs.Streams[2:]...)
			},
			want: setStatus(allPass(), reports.Fail, "TI-LOG-001", "TI-LOG-002"),
		},
		{
			name: "stale tenant: the second blue invocation logs green",
			mutate: func(obs *runner.Observations) {
				editJSON(obs, func(m map[string]any) bool {
					if m["seq"] == float64(3) && m["message"] == probes.LogMessage {
						m["tenantId"] = "green"
						return true
					}
					return false
				})
			},
			want: setStatus(allPass(), reports.Fail, "TI-LOG-001", "TI-LOG-004"),
		},
		{
			name: "application line without tenantId",
			mutate: func(obs *runner.Observations) {
				editJSON(obs, func(m map[string]any) bool {
					_, app := m["runId"]
					_, emf := m["_aws"]
					if app && !emf {
						delete(m, "tenantId")
						return true
					}
					return false
				})
			},
			want:   setStatus(allPass(), reports.Fail, "TI-LOG-001", "TI-LOG-004"),
			reason: map[string]string{"TI-LOG-001": "findings over 5 application lines"},
		},
		{
			name: "filter folds case: blue also returns Blue",
			mutate: func(obs *runner.Observations) {
				filterLikeCloudWatch(obs)
				var upper []runner.FilteredLogEvent
				for _, f := range obs.Logs.Filters {
					if f.Tenant == "Blue" {
						upper = f.Events
					}
				}
				for i := range obs.Logs.Filters {
					if obs.Logs.Filters[i].Tenant == "blue" {
						obs.Logs.Filters[i].Events = append(obs.Logs.Filters[i].Events, upper...)
					}
				}
			},
			want: setStatus(allPass(), reports.Fail, "TI-LOG-004"),
		},
		{
			name: "filter misses a line",
			mutate: func(obs *runner.Observations) {
				filterLikeCloudWatch(obs)
				obs.Logs.Filters[0].Events = obs.Logs.Filters[0].Events[1:]
			},
			want: setStatus(allPass(), reports.Fail, "TI-LOG-004"),
		},
		{
			name: "filter errors are not findings",
			mutate: func(obs *runner.Observations) {
				filterLikeCloudWatch(obs)
				for i := range obs.Logs.Filters {
					obs.Logs.Filters[i].Events, obs.Logs.Filters[i].Err = nil, "ThrottlingException: Rate exceeded"
				}
			},
			want: setStatus(allPass(), reports.Error, "TI-LOG-004"),
		},
		{
			name: "metric without the tenant dimension",
			mutate: func(obs *runner.Observations) {
				editJSON(obs, func(m map[string]any) bool {
					aws, ok := m["_aws"].(map[string]any)
					if ok {
						aws["CloudWatchMetrics"] = []any{map[string]any{"Namespace": "x", "Dimensions": []any{[]any{"Service"}},
							"Metrics": []any{map[string]any{"Name": "Invocations"}}}}
					}
					return ok
				})
			},
			want: setStatus(allPass(), reports.Fail, "TI-MET-001"),
		},
		{
			name: "metric with another tenant",
			mutate: func(obs *runner.Observations) {
				editJSON(obs, func(m map[string]any) bool {
					if _, ok := m["_aws"]; ok && m["seq"] == float64(4) {
						m["TenantId"] = "blue"
						return true
					}
					return false
				})
			},
			want: setStatus(allPass(), reports.Fail, "TI-MET-001"),
		},
		{
			name: "text format: nothing to judge",
			mutate: func(obs *runner.Observations) {
				editLines(obs, func(_, msg string) string {
					if strings.Contains(msg, "platform.start") {
						return "START RequestId: x Version: $LATEST\n"
					}
					return "plain\n"
				})
			},
			want:   setStatus(want{}, reports.Inconclusive, logIDs...),
			reason: map[string]string{"TI-LOG-001": "LogFormat JSON", "TI-LOG-003": "text format"},
		},
		{
			name: "lines of another run in a stream are not judged",
			mutate: func(obs *runner.Observations) {
				s := &obs.Logs.Streams[0]
				other := "green"
				s.Events = append(s.Events,
					runner.LogEvent{Timestamp: 1, Message: probeLine("old-run", "req-old", 1, &other)},
					runner.LogEvent{Timestamp: 2, Message: platformLine("platform.report", "req-old", nil)})
			},
			want:   allPass(),
			reason: map[string]string{"TI-LOG-001": "not judged: 1 lines not tied"},
		},
		{
			name: "a tenant that cannot be written in a pattern is named",
			mutate: func(obs *runner.Observations) {
				filterLikeCloudWatch(obs)
				obs.Logs.Filters = append(obs.Logs.Filters, runner.TenantFilter{Tenant: "a*b", Skipped: "wildcard"})
			},
			want:   allPass(),
			reason: map[string]string{"TI-LOG-004": `"a*b"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := baseLogRun()
			filterLikeCloudWatch(obs)
			if tt.mutate != nil {
				tt.mutate(obs)
			}
			if obs.Logs != nil && !strings.Contains(tt.name, "filter") && !strings.Contains(tt.name, "pattern") {
				filterLikeCloudWatch(obs) // what a correct CloudWatch would answer for the mutated logs
			}
			res := Evaluate(checksIn(t, AreaLogs), obs)
			for _, r := range res {
				if w, ok := tt.want[r.ID]; ok && r.Status != w {
					t.Errorf("%s: %s (%s), want %s; evidence %v", r.ID, r.Status, r.Reason, w, r.Evidence)
				}
				if sub, ok := tt.reason[r.ID]; ok && !strings.Contains(r.Reason+evidenceText(r), sub) {
					t.Errorf("%s: reason %q lacks %q", r.ID, r.Reason, sub)
				}
				if r.Status == reports.Fail && len(r.Evidence) == 0 {
					t.Errorf("%s: FAIL without evidence", r.ID)
				}
			}
		})
	}
}

func TestLogEvidenceNamesTheLine(t *testing.T) {
	obs := baseLogRun()
	editJSON(obs, func(m map[string]any) bool {
		if m["seq"] == float64(2) && m["message"] == probes.LogMessage {
			m["tenantId"] = "blue"
			return true
		}
		return false
	})
	filterLikeCloudWatch(obs)
	res := Evaluate([]Check{checkByID(t, "TI-LOG-001")}, obs)[0]
	if res.Status != reports.Fail || len(res.Evidence) != 1 {
		t.Fatalf("%s %v", res.Status, res.Evidence)
	}
	f := res.Evidence[0].Fields
	if f["expected"] != "green" || f["got"] != "blue" || f["seq"] != "2" || f["requestId"] != reqID(2) ||
		f["stream"] != "2026/01/01/[$LATEST]g1" || !strings.Contains(f["message"], probes.LogMessage) {
		t.Errorf("evidence fields %v", f)
	}
}

func checksIn(t *testing.T, area string) []Check {
	t.Helper()
	var out []Check
	for _, c := range All() {
		if c.Area == area {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no checks in area %s", area)
	}
	return out
}

func evidenceText(r reports.CheckResult) string {
	var b strings.Builder
	for _, e := range r.Evidence {
		b.WriteString(e.Message)
	}
	return b.String()
}

// setStatus returns a copy of w with ids set to st.
func setStatus(w want, st reports.Status, ids ...string) want {
	out := want{}
	for k, v := range w {
		out[k] = v
	}
	for _, id := range ids {
		out[id] = st
	}
	return out
}
