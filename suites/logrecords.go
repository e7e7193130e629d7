package suites

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/runner"
)

// recordKind sorts the events of a log group into what the log checks judge.
type recordKind int

const (
	kindText     recordKind = iota // not a JSON object (text-format lines, stack traces)
	kindApp                        // a JSON application line
	kindPlatform                   // a JSON platform event: {"type": "platform.*", "record": {...}}
	kindEMF                        // an Embedded Metric Format record (top-level "_aws")
)

// logRecord is one log event with what the checks need parsed out of it.
type logRecord struct {
	stream    string
	timestamp int64
	message   string
	kind      recordKind

	platformType string  // kindPlatform: "platform.start", ...
	requestID    string  // app: requestId; platform: record.requestId; EMF: requestId
	tenantID     *string // app: tenantId; platform: record.tenantId; EMF: TenantId; nil when absent
	runID        string  // app and EMF lines of the probe
	seq          int64
	hasSeq       bool
	emfTenantDim bool // kindEMF: some dimension set of some metric set names the tenant dimension

	// truth is the invocation the record belongs to by the runner's records, nil when the
	// record cannot be tied to one of this run's invocations.
	truth *runner.Observation
}

// logView is a run's log group as the log checks see it.
type logView struct {
	logs    *runner.LogsObservation
	records []*logRecord
	streams []string // stream names, in the order the collector recorded them
	runID   string
	bySeq   map[int64]*runner.Observation
	// byRequest ties request IDs to invocations: from the probe's reports, and from the
	// probe's own lines, which carry both the request ID and the runner's sequence number.
	byRequest map[string]*runner.Observation
}

// newLogView parses obs.Logs and ties each record to its invocation (see attribute). Records of
// invocations without a tenant are left untied: there is no ground truth to compare them with.
func newLogView(obs *runner.Observations) *logView {
	v := &logView{logs: obs.Logs, runID: obs.RunID, bySeq: map[int64]*runner.Observation{},
		byRequest: map[string]*runner.Observation{}}
	for i := range obs.Items {
		o := &obs.Items[i]
		if o.Tenant == "" {
			continue
		}
		v.bySeq[o.Seq] = o
		if o.Report != nil && o.Report.RequestID != "" {
			v.byRequest[o.Report.RequestID] = o
		}
	}
	if obs.Logs == nil {
		return v
	}
	for _, s := range obs.Logs.Streams {
		v.streams = append(v.streams, s.Name)
		for _, e := range s.Events {
			r := parseRecord(s.Name, e)
			if o := v.bySeqOf(r); o != nil && r.requestID != "" {
				v.byRequest[r.requestID] = o
			}
			v.records = append(v.records, r)
		}
	}
	for _, r := range v.records {
		v.attribute(r)
	}
	return v
}

// attribute ties r to its invocation: first by the run ID and sequence number the probe echoes
// from its event (the runner's own numbering), then by request ID.
func (v *logView) attribute(r *logRecord) {
	if o := v.bySeqOf(r); o != nil {
		r.truth = o
		return
	}
	if r.requestID != "" {
		r.truth = v.byRequest[r.requestID]
	}
}

func (v *logView) bySeqOf(r *logRecord) *runner.Observation {
	if !r.hasSeq || v.runID == "" || r.runID != v.runID {
		return nil
	}
	return v.bySeq[r.seq]
}

func parseRecord(stream string, e runner.LogEvent) *logRecord {
	r := &logRecord{stream: stream, timestamp: e.Timestamp, message: e.Message}
	var m map[string]json.RawMessage
	if e.Truncated || json.Unmarshal([]byte(strings.TrimSpace(e.Message)), &m) != nil {
		return r
	}
	str := func(raw json.RawMessage) (string, bool) {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	}
	strPtr := func(raw json.RawMessage, ok bool) *string {
		if !ok {
			return nil
		}
		s, isStr := str(raw)
		if !isStr {
			s = string(raw) // present but not a string: kept, so it can be shown and fail
		}
		return &s
	}
	if typ, _ := str(m["type"]); strings.HasPrefix(typ, "platform.") {
		r.kind, r.platformType = kindPlatform, typ
		var rec map[string]json.RawMessage
		_ = json.Unmarshal(m["record"], &rec)
		r.requestID, _ = str(rec["requestId"])
		raw, ok := rec["tenantId"]
		r.tenantID = strPtr(raw, ok)
		return r
	}
	r.requestID, _ = str(m["requestId"])
	r.runID, _ = str(m["runId"])
	if raw, ok := m["seq"]; ok {
		if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			r.seq, r.hasSeq = n, true
		}
	}
	if raw, ok := m["_aws"]; ok {
		r.kind = kindEMF
		tid, ok := m[probes.MetricDimension]
		r.tenantID = strPtr(tid, ok)
		var dir struct {
			CloudWatchMetrics []struct {
				Dimensions [][]string `json:"Dimensions"`
			} `json:"CloudWatchMetrics"`
		}
		_ = json.Unmarshal(raw, &dir)
		for _, set := range dir.CloudWatchMetrics {
			for _, dims := range set.Dimensions {
				for _, d := range dims {
					r.emfTenantDim = r.emfTenantDim || d == probes.MetricDimension
				}
			}
		}
		return r
	}
	r.kind = kindApp
	raw, ok := m["tenantId"]
	r.tenantID = strPtr(raw, ok)
	return r
}

// of returns the records of one kind.
func (v *logView) of(kind recordKind) []*logRecord {
	var out []*logRecord
	for _, r := range v.records {
		if r.kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// streamTenants maps each stream to the ground-truth tenants of its attributed records, in
// first-seen order.
func (v *logView) streamTenants() map[string][]string {
	out := map[string][]string{}
	for _, r := range v.records {
		if r.truth == nil {
			continue
		}
		if !contains(out[r.stream], r.truth.Tenant) {
			out[r.stream] = append(out[r.stream], r.truth.Tenant)
		}
	}
	return out
}

// textFormatted reports whether the group holds the probe's line or Lambda's START/REPORT
// in text format: then the function was not configured for JSON logs, and the JSON checks
// have nothing to judge rather than something wrong to report.
func (v *logView) textFormatted() bool {
	for _, r := range v.records {
		if r.kind == kindText && (strings.Contains(r.message, probes.LogMessage) ||
			strings.HasPrefix(r.message, "START RequestId: ") || strings.HasPrefix(r.message, "REPORT RequestId: ")) {
			return true
		}
	}
	return false
}

func tenantOf(p *string) string {
	if p == nil {
		return "<absent>"
	}
	return strconv.Quote(*p)
}
