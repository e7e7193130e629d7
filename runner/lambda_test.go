package runner

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/smithy-go"
)

// seenRequest is what the fake Lambda endpoint received.
type seenRequest struct {
	method, path, qualifier string
	tenant                  []string // X-Amz-Tenant-Id values (absent: nil)
	invocationType, logType string
	auth                    string
	body                    string
}

// lambdaServer speaks the Invoke wire on 127.0.0.1 (httptest binds loopback) and answers
// with a canned response per test.
type lambdaServer struct {
	srv  *httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	seen []seenRequest
}

func newLambdaServer(t *testing.T, answer func(w http.ResponseWriter)) *lambdaServer {
	t.Helper()
	ls := &lambdaServer{}
	ls.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ls.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		ls.mu.Lock()
		ls.seen = append(ls.seen, seenRequest{
			method: r.Method, path: r.URL.Path, qualifier: r.URL.Query().Get("Qualifier"),
			tenant: r.Header.Values("X-Amz-Tenant-Id"), invocationType: r.Header.Get("X-Amz-Invocation-Type"),
			logType: r.Header.Get("X-Amz-Log-Type"), auth: r.Header.Get("Authorization"), body: string(body),
		})
		ls.mu.Unlock()
		answer(w)
	}))
	t.Cleanup(ls.srv.Close)
	return ls
}

func (ls *lambdaServer) last(t *testing.T) seenRequest {
	t.Helper()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if len(ls.seen) == 0 {
		t.Fatal("server saw no request")
	}
	return ls.seen[len(ls.seen)-1]
}

func newTestInvoker(t *testing.T, ls *lambdaServer, opts ClientOptions) *LambdaInvoker {
	t.Helper()
	c, err := NewLambdaClient(context.Background(), ls.srv.URL, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	return &LambdaInvoker{Client: c, LogTail: true}
}

func errorAnswer(status int, code, msg string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("X-Amzn-ErrorType", code)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"Type":"User","message":"`+msg+`"}`)
	}
}

func TestLambdaInvoke(t *testing.T) {
	logTail := "START RequestId: 1\nEND\n"
	tests := []struct {
		name    string
		req     InvokeRequest
		answer  func(w http.ResponseWriter)
		want    InvokeResponse
		wantErr *APIError
		check   func(t *testing.T, s seenRequest)
	}{
		{
			name: "sync with tenant and qualifier",
			req:  InvokeRequest{Function: "probe", Qualifier: "live", Tenant: "a b+c", Payload: []byte(`{"x":1}`)},
			answer: func(w http.ResponseWriter) {
				w.Header().Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString([]byte(logTail)))
				w.Header().Set("X-Amz-Executed-Version", "3")
				io.WriteString(w, `{"schema":1}`)
			},
			want: InvokeResponse{StatusCode: 200, Payload: []byte(`{"schema":1}`), LogTail: logTail},
			check: func(t *testing.T, s seenRequest) {
				if s.method != "POST" || s.path != "/2015-03-31/functions/probe/invocations" || s.qualifier != "live" {
					t.Errorf("route %s %s ?Qualifier=%s", s.method, s.path, s.qualifier)
				}
				if len(s.tenant) != 1 || s.tenant[0] != "a b+c" {
					t.Errorf("X-Amz-Tenant-Id %q", s.tenant)
				}
				if s.invocationType != "RequestResponse" || s.logType != "Tail" || s.body != `{"x":1}` {
					t.Errorf("invocation type %q log type %q body %q", s.invocationType, s.logType, s.body)
				}
				if !strings.Contains(s.auth, "Credential=tenantcheck/") {
					t.Errorf("local target got credentials %q", s.auth)
				}
			},
		},
		{
			name:   "no tenant omits the header",
			req:    InvokeRequest{Function: "probe"},
			answer: func(w http.ResponseWriter) { io.WriteString(w, `{}`) },
			want:   InvokeResponse{StatusCode: 200, Payload: []byte(`{}`)},
			check: func(t *testing.T, s seenRequest) {
				if s.tenant != nil || s.qualifier != "" {
					t.Errorf("tenant header %q qualifier %q sent", s.tenant, s.qualifier)
				}
			},
		},
		{
			name:   "async is Event without log tail",
			req:    InvokeRequest{Function: "probe", Tenant: "t", Async: true},
			answer: func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) },
			want:   InvokeResponse{StatusCode: 202},
			check: func(t *testing.T, s seenRequest) {
				if s.invocationType != "Event" || s.logType != "" {
					t.Errorf("invocation type %q log type %q", s.invocationType, s.logType)
				}
			},
		},
		{
			name: "function error",
			req:  InvokeRequest{Function: "probe", Tenant: "t"},
			answer: func(w http.ResponseWriter) {
				w.Header().Set("X-Amz-Function-Error", "Unhandled")
				io.WriteString(w, `{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out"}`)
			},
			want: InvokeResponse{StatusCode: 200, FunctionError: "Unhandled", Payload: []byte(`{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out"}`)},
		},
		{
			name:    "missing tenant rejected",
			req:     InvokeRequest{Function: "probe"},
			answer:  errorAnswer(400, "InvalidParameterValueException", "Add a valid tenant ID"),
			wantErr: &APIError{StatusCode: 400, Code: "InvalidParameterValueException", Message: "Add a valid tenant ID"},
		},
		{
			name:    "throttled",
			req:     InvokeRequest{Function: "probe", Tenant: "t"},
			answer:  errorAnswer(429, "TooManyRequestsException", "Rate exceeded"),
			wantErr: &APIError{StatusCode: 429, Code: "TooManyRequestsException", Message: "Rate exceeded"},
		},
		{
			name:    "unmodelled error code",
			req:     InvokeRequest{Function: "probe", Tenant: "t"},
			answer:  errorAnswer(400, "ValidationException", "1 validation error detected"),
			wantErr: &APIError{StatusCode: 400, Code: "ValidationException", Message: "1 validation error detected"},
		},
		{
			name:    "server error",
			req:     InvokeRequest{Function: "probe", Tenant: "t"},
			answer:  errorAnswer(500, "ServiceException", "boom"),
			wantErr: &APIError{StatusCode: 500, Code: "ServiceException", Message: "boom"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := newLambdaServer(t, tt.answer)
			inv := newTestInvoker(t, ls, ClientOptions{})
			got, err := inv.Invoke(context.Background(), tt.req)
			if tt.wantErr != nil {
				var ae *APIError
				if !errors.As(err, &ae) {
					t.Fatalf("err %v (%T), want *APIError", err, err)
				}
				if ae.StatusCode != tt.wantErr.StatusCode || ae.Code != tt.wantErr.Code || ae.Message != tt.wantErr.Message {
					t.Errorf("APIError %+v, want %+v", ae, tt.wantErr)
				}
				var sa smithy.APIError
				if !errors.As(err, &sa) || sa.ErrorCode() != tt.wantErr.Code {
					t.Errorf("not a smithy.APIError: %v", err)
				}
				if ls.hits.Load() != 1 {
					t.Errorf("SDK retried: %d requests", ls.hits.Load())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.StatusCode != tt.want.StatusCode || got.FunctionError != tt.want.FunctionError ||
				!bytes.Equal(got.Payload, tt.want.Payload) || got.LogTail != tt.want.LogTail {
				t.Errorf("got %+v (payload %q), want %+v (payload %q)", got, got.Payload, tt.want, tt.want.Payload)
			}
			if tt.check != nil {
				tt.check(t, ls.last(t))
			}
		})
	}
}

func TestLambdaInvokeTransportError(t *testing.T) {
	ls := newLambdaServer(t, func(http.ResponseWriter) {})
	inv := newTestInvoker(t, ls, ClientOptions{})
	ls.srv.Close()
	_, err := inv.Invoke(context.Background(), InvokeRequest{Function: "probe"})
	var ae *APIError
	if err == nil || errors.As(err, &ae) || !strings.Contains(err.Error(), "invoke probe") {
		t.Errorf("err %v: want a wrapped transport error, not an APIError", err)
	}
}

// TestRetryingOverLambda runs the whole chain: SDK without retries, runner retries counted.
func TestRetryingOverLambda(t *testing.T) {
	var n atomic.Int64
	ls := newLambdaServer(t, func(w http.ResponseWriter) {
		if n.Add(1) <= 2 {
			errorAnswer(429, "TooManyRequestsException", "Rate exceeded")(w)
			return
		}
		io.WriteString(w, `{}`)
	})
	inv := Retrying(newTestInvoker(t, ls, ClientOptions{}), RetryPolicy{BaseDelay: 1e3, MaxDelay: 1e6})
	resp, err := inv.Invoke(context.Background(), InvokeRequest{Function: "probe", Tenant: "t"})
	if err != nil || resp.Retries != 2 || resp.Throttled || ls.hits.Load() != 3 {
		t.Errorf("err %v retries %d throttled %v hits %d", err, resp.Retries, resp.Throttled, ls.hits.Load())
	}
}

func TestAdaptiveRetryOption(t *testing.T) {
	ls := newLambdaServer(t, errorAnswer(503, "ServiceException", "busy"))
	inv := newTestInvoker(t, ls, ClientOptions{AdaptiveRetry: true, MaxAttempts: 2})
	if _, err := inv.Invoke(context.Background(), InvokeRequest{Function: "probe"}); err == nil {
		t.Fatal("want an error")
	}
	if ls.hits.Load() != 2 {
		t.Errorf("adaptive mode with 2 attempts made %d requests", ls.hits.Load())
	}
}

func encodeEvents(t *testing.T, msgs ...eventstream.Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, m := range msgs {
		if err := enc.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func streamEvent(eventType, contentType string, payload []byte) eventstream.Message {
	return eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":message-type", Value: eventstream.StringValue("event")},
			{Name: ":event-type", Value: eventstream.StringValue(eventType)},
			{Name: ":content-type", Value: eventstream.StringValue(contentType)},
		},
		Payload: payload,
	}
}

func TestLambdaInvokeStream(t *testing.T) {
	tests := []struct {
		name     string
		complete string
		want     InvokeResponse
	}{
		{"chunks", `{}`, InvokeResponse{StatusCode: 200, Payload: []byte(`{"schema":1,"cold":true}`)}},
		{"error on complete", `{"ErrorCode":"Sandbox.Timedout","ErrorDetails":"Task timed out"}`,
			InvokeResponse{StatusCode: 200, Payload: []byte(`{"schema":1,"cold":true}`), FunctionError: "Sandbox.Timedout", ErrorDetails: "Task timed out"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := encodeEvents(t,
				streamEvent("PayloadChunk", "application/octet-stream", []byte(`{"schema":1,`)),
				streamEvent("PayloadChunk", "application/octet-stream", []byte(`"cold":true}`)),
				streamEvent("InvokeComplete", "application/json", []byte(tt.complete)),
			)
			ls := newLambdaServer(t, func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
				w.Write(body)
			})
			inv := newTestInvoker(t, ls, ClientOptions{})
			got, err := inv.Invoke(context.Background(), InvokeRequest{Function: "probe", Tenant: "t1", Stream: true})
			if err != nil {
				t.Fatal(err)
			}
			if got.StatusCode != tt.want.StatusCode || !bytes.Equal(got.Payload, tt.want.Payload) ||
				got.FunctionError != tt.want.FunctionError || got.ErrorDetails != tt.want.ErrorDetails {
				t.Errorf("got %+v (payload %q), want %+v", got, got.Payload, tt.want)
			}
			s := ls.last(t)
			if s.path != "/2021-11-15/functions/probe/response-streaming-invocations" || len(s.tenant) != 1 || s.tenant[0] != "t1" {
				t.Errorf("path %s tenant %q", s.path, s.tenant)
			}
		})
	}
	if _, err := (&LambdaInvoker{}).Invoke(context.Background(), InvokeRequest{Stream: true, Async: true}); err == nil {
		t.Error("async stream accepted")
	}
}
