package probes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The report log line is wire schema like Report: the runner selects it with a CloudWatch Logs
// filter pattern on these keys (see ReportLogPattern), so they are never renamed.
const (
	// ReportLogKey is the one top-level key of a report line: {"tenantcheckReport": <Report>}.
	// The report sits under a key of its own, rather than being the line, so no field of it
	// (runId, seq, requestId, tenantId) is read as the invocation's own application log line
	// by the log checks or by a tenant's { $.tenantId = ... } filter.
	ReportLogKey = "tenantcheckReport"
	// ReportLogErrorKey is the one top-level key of the line written instead of a report that
	// could not be logged: {"tenantcheckReportError": <ReportLogError>}. It lets the runner give
	// up on that invocation at once instead of waiting out its timeout.
	ReportLogErrorKey = "tenantcheckReportError"
	// MaxReportLogLine bounds a report line, newline included. CloudWatch Logs cuts events at
	// 256 KB (Lambda splits longer output into several events, none of them valid JSON any
	// more); 200 KB leaves room for anything a target or log agent adds.
	MaxReportLogLine = 200 << 10
	// logFoundBudget is the Found budget of a report cut down to fit a line: what remains of
	// MaxReportLogLine once identity, Planted and the S3 and peer attempts (a few KB) are in.
	logFoundBudget = 150 << 10
)

// ReportLogError is what a report line that could not be written says instead, with the echo
// of the event so the runner can match it to its invocation.
type ReportLogError struct {
	RunID     string `json:"runId"`
	Tenant    string `json:"tenant"`
	Seq       int64  `json:"seq"`
	RequestID string `json:"requestId,omitempty"`
	EnvID     string `json:"envId,omitempty"`
	// ReportToken echoes the event's, as a delivered Report does.
	ReportToken string `json:"reportToken,omitempty"`
	// Bytes is the size the report line would have had.
	Bytes int    `json:"bytes,omitempty"`
	Error string `json:"error"`
}

// ReportLogLine encodes rep as one newline-terminated log line of at most MaxReportLogLine
// bytes. A report too big for it is cut the way selectFound cuts (own canaries first, foreign
// ones last) and marked Truncated; trimmed says so. When even that does not fit, the line is a
// ReportLogError and err says why. rep itself is never changed.
func ReportLogLine(rep *Report) (line []byte, trimmed bool, err error) {
	line, err = wrapLine(ReportLogKey, rep)
	if err != nil {
		return errorLine(rep, 0, fmt.Errorf("encode report line: %w", err)), false, err
	}
	if len(line) <= MaxReportLogLine {
		return line, false, nil
	}
	full := len(line)
	cut := *rep
	cut.Found, _ = selectFoundWithin(rep.Found, rep.RunID, rep.Tenant, rep.ContextTenant, logFoundBudget)
	cut.Truncated = true
	if line, err = wrapLine(ReportLogKey, &cut); err == nil && len(line) <= MaxReportLogLine {
		return line, true, nil
	}
	if err == nil {
		err = fmt.Errorf("report line is %d bytes (%d after cutting Found), over the %d-byte limit", full, len(line), MaxReportLogLine)
	}
	return errorLine(rep, full, err), false, err
}

func wrapLine(key string, v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(4096)
	buf.WriteString(`{"` + key + `":`)
	enc := json.NewEncoder(&buf)
	// No HTML escaping: the line is read by JSON parsers only, and escaping < > & in paths and
	// errors would only make it longer.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	// Encode ended the value with a newline; the line's closing brace goes before it.
	b := buf.Bytes()
	b = append(b[:len(b)-1], '}', '\n')
	return b, nil
}

func errorLine(rep *Report, size int, cause error) []byte {
	line, err := wrapLine(ReportLogErrorKey, ReportLogError{RunID: rep.RunID, Tenant: rep.Tenant, Seq: rep.Seq,
		RequestID: rep.RequestID, EnvID: rep.EnvID, ReportToken: rep.ReportToken, Bytes: size, Error: truncateText(cause.Error(), 1024)})
	if err != nil { // plain strings and numbers: cannot fail
		return []byte("{\"" + ReportLogErrorKey + "\":{}}\n")
	}
	return line
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ReportLogPattern is the CloudWatch Logs filter pattern that selects the report lines and
// report error lines of one run. Each condition is parenthesised, the form CloudWatch's own
// documentation gives compound JSON patterns in. Run IDs are hex, so they need no escaping.
func ReportLogPattern(runID string) string {
	return `{ ($.` + ReportLogKey + `.runId = "` + runID + `") || ($.` + ReportLogErrorKey + `.runId = "` + runID + `") }`
}

// ParseReportLog reads a log event's message as a report line: the report, or the error line
// written instead of one. ok is false for any other message. The message may carry the line's
// newline and whatever whitespace a log pipeline adds around it, and keys the pipeline adds
// beside the probe's one (a timestamp, a level, the tenant ID Lambda's JSON logging attaches):
// only a line holding exactly one of the two report keys is taken.
func ParseReportLog(msg string) (rep *Report, logErr *ReportLogError, ok bool) {
	doc, ok := reportLogDoc(msg)
	if !ok {
		return nil, nil, false
	}
	if raw, found := doc[ReportLogKey]; found {
		var r Report
		if json.Unmarshal(raw, &r) != nil {
			return nil, nil, false
		}
		return &r, nil, true
	}
	var e ReportLogError
	if json.Unmarshal(doc[ReportLogErrorKey], &e) != nil {
		return nil, nil, false
	}
	return nil, &e, true
}

// IsReportLogLine says whether msg is a report line or a report error line (see
// ParseReportLog), without decoding the report.
func IsReportLogLine(msg string) bool {
	_, ok := reportLogDoc(msg)
	return ok
}

// reportLogDoc splits msg into its top-level keys when it holds exactly one of the report keys.
func reportLogDoc(msg string) (map[string]json.RawMessage, bool) {
	msg = strings.TrimSpace(msg)
	if !strings.HasPrefix(msg, "{") || !strings.Contains(msg, "tenantcheckReport") {
		return nil, false // cheap pre-check: most events of a log group are not ours
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal([]byte(msg), &doc) != nil {
		return nil, false
	}
	_, isReport := doc[ReportLogKey]
	_, isError := doc[ReportLogErrorKey]
	return doc, isReport != isError
}

// String describes the error line for the runner's records.
func (e *ReportLogError) String() string {
	s := "probe could not log its report"
	if e.Bytes > 0 {
		s += " of " + strconv.Itoa(e.Bytes) + " bytes"
	}
	return s + ": " + e.Error
}
