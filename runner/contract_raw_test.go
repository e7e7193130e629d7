package runner

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRawRequestIsSignedAndRecorded: the raw UpdateFunctionConfiguration is SigV4-signed with the
// client's credentials and region, and the answer's status, code, message and echo are recorded.
func TestRawRequestIsSignedAndRecorded(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     string
		body       string
		wantCode   string
		wantMsg    string
		wantEcho   bool
		wantTenant string
	}{
		{"refused", 400, "ValidationException:http://internal.amazon.com/", `{"Type":"User","message":"no such member"}`, "ValidationException", "no such member", false, ""},
		{"namespaced code", 400, "aws.lambda#InvalidParameterValueException", `{"Message":"bad"}`, "InvalidParameterValueException", "bad", false, ""},
		{"accepted", 200, "", `{"FunctionName":"f","TenancyConfig":{"TenantIsolationMode":"PER_TENANT"}}`, "", "", true, "PER_TENANT"},
		{"accepted without echo", 200, "", `{"FunctionName":"f"}`, "", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotAuth, gotBody, gotPath, gotMethod string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				gotAuth, gotBody, gotPath, gotMethod = r.Header.Get("Authorization"), string(b), r.URL.EscapedPath(), r.Method
				if tt.header != "" {
					w.Header().Set("X-Amzn-ErrorType", tt.header)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c, err := NewLambdaClient(context.Background(), srv.URL, "eu-west-2", ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := &contractRun{c: c, opts: ContractOptions{}.withDefaults()}
			body := `{"TenancyConfig":{}}`
			call := r.rawRequest(context.Background(), "UpdateFunctionConfiguration", "empty", http.MethodPut,
				"/2015-03-31/functions/my%20fn/configuration", []byte(body))
			if gotMethod != http.MethodPut || gotPath != "/2015-03-31/functions/my%20fn/configuration" || gotBody != body {
				t.Errorf("sent %s %s %q", gotMethod, gotPath, gotBody)
			}
			for _, want := range []string{"AWS4-HMAC-SHA256 ", "Credential=tenantcheck/", "/eu-west-2/lambda/aws4_request", "SignedHeaders=", "Signature="} {
				if !strings.Contains(gotAuth, want) {
					t.Errorf("Authorization %q lacks %q", gotAuth, want)
				}
			}
			if call.StatusCode != tt.status || call.ErrorCode != tt.wantCode || call.Message != tt.wantMsg ||
				call.HasTenancy != tt.wantEcho || call.Tenancy != tt.wantTenant || call.Body != body {
				t.Errorf("recorded %+v", call)
			}
			if (call.Err != "") != (tt.status >= 300) || call.Duration <= 0 || call.Start.After(time.Now()) {
				t.Errorf("err %q duration %s", call.Err, call.Duration)
			}
		})
	}
}
