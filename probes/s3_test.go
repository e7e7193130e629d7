package probes

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

var testCreds = S3Credentials{
	AccessKeyID:     "ASIATESTKEY0000001",
	SecretAccessKey: "test-secret-access-key-0123456789",
	SessionToken:    "test-session-token-abcdefghijkl",
	Expiration:      time.Date(2026, 1, 1, 0, 15, 0, 0, time.UTC),
}

func TestFingerprintIsShortStableAndOneWay(t *testing.T) {
	fp := Fingerprint("hello")
	if !regexp.MustCompile(`^fp:[0-9a-f]{12}$`).MatchString(fp) {
		t.Errorf("Fingerprint = %q", fp)
	}
	if Fingerprint("hello") != fp || Fingerprint("hello!") == fp {
		t.Error("Fingerprint is not a stable function of its input")
	}
	if Fingerprint("") != "" {
		t.Error("empty secret has a fingerprint")
	}
}

func TestCredentialsNeverFormatAsThemselves(t *testing.T) {
	req := S3Request{Credentials: testCreds, Own: S3Target{Bucket: "b", Key: "k"}}
	ev := Event{Tenant: "blue", S3: &req}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		for _, v := range []any{testCreds, &testCreds, req, ev, []S3Credentials{testCreds}} {
			got := fmt.Sprintf(verb, v)
			for _, sec := range []string{testCreds.AccessKeyID, testCreds.SecretAccessKey, testCreds.SessionToken} {
				if strings.Contains(got, sec) {
					t.Errorf("%s of %T shows a credential: %s", verb, v, got)
				}
			}
		}
	}
	if !strings.Contains(fmt.Sprint(testCreds), testCreds.Fingerprint()) {
		t.Errorf("formatted credentials lack their fingerprint: %v", testCreds)
	}
}

func TestRedact(t *testing.T) {
	got := Redact("key ASIATESTKEY0000001 and token test-session-token-abcdefghijkl", testCreds.AccessKeyID, "", testCreds.SessionToken)
	want := "key " + Fingerprint(testCreds.AccessKeyID) + " and token " + Fingerprint(testCreds.SessionToken)
	if got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
}

// denyAll is an S3 endpoint that refuses everything and, like some servers, echoes the access
// key in its message, so redaction is tested against a real SDK error path.
func denyAll(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		akid := regexp.MustCompile(`Credential=([A-Z0-9]+)/`).FindStringSubmatch(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied for %s</Message><RequestId>r1</RequestId></Error>`, akid[len(akid)-1])
	}))
	t.Cleanup(s.Close)
	return s
}

func s3Event(endpoint, tenant string, seq int64, creds S3Credentials) Event {
	return Event{Schema: SchemaVersion, RunID: "run-s3", Tenant: tenant, Seq: seq, S3: &S3Request{
		Endpoint: endpoint, Region: "us-east-1", PathStyle: true, Mechanism: "session-policy/bucket",
		Credentials: creds,
		Own:         S3Target{Tenant: tenant, Bucket: "b-" + tenant, Key: "secret"},
		Others:      []S3Target{{Tenant: "other", Bucket: "b-other", Key: "secret"}},
	}}
}

func TestHandleMakesS3AttemptsAndReportsCachedFingerprints(t *testing.T) {
	srv := denyAll(t)
	p := newTestProbe(t, newRoots(t))
	first := mustHandle(t, p, s3Event(srv.URL, "blue", 1, testCreds), "req-1")
	if len(first.S3CredsSeen) != 0 {
		t.Errorf("a fresh environment already holds credentials: %v", first.S3CredsSeen)
	}
	if first.S3CredFingerprint != testCreds.Fingerprint() {
		t.Errorf("S3CredFingerprint = %q", first.S3CredFingerprint)
	}
	if len(first.S3) != 10 {
		t.Fatalf("%d attempts, want 5 operations on 2 tenants", len(first.S3))
	}
	ops := map[string]int{}
	for _, a := range first.S3 {
		ops[a.Op]++
		if a.Allowed || a.ErrorCode != "AccessDenied" || a.HTTPStatus != http.StatusForbidden {
			t.Errorf("%s on %s: allowed=%v code=%q status=%d", a.Op, a.Tenant, a.Allowed, a.ErrorCode, a.HTTPStatus)
		}
		if a.Own != (a.Tenant == "blue") {
			t.Errorf("%s on %s: own=%v", a.Op, a.Tenant, a.Own)
		}
	}
	for _, op := range []string{S3GetObject, S3PutObject, S3ListObjectsV2, S3DeleteObject, S3CopyObject} {
		if ops[op] != 2 {
			t.Errorf("%s attempted %d times, want 2", op, ops[op])
		}
	}
	js, _ := json.Marshal(first)
	if strings.Contains(string(js), testCreds.AccessKeyID) || !strings.Contains(string(js), Fingerprint(testCreds.AccessKeyID)) {
		t.Errorf("report must show the access key's fingerprint, never the key: %s", js)
	}

	// The same environment handed to another tenant: the first tenant's credentials are there.
	other := testCreds
	other.AccessKeyID = "ASIATESTKEY0000002"
	second := mustHandle(t, p, s3Event(srv.URL, "green", 2, other), "req-2")
	if len(second.S3CredsSeen) != 1 || second.S3CredsSeen[0].Tenant != "blue" ||
		second.S3CredsSeen[0].Fingerprint != testCreds.Fingerprint() || second.S3CredsSeen[0].RequestID != "req-1" {
		t.Errorf("second invocation saw %+v, want blue's fingerprint from req-1", second.S3CredsSeen)
	}
	// An invocation without S3 still reports what the cache holds.
	third := mustHandle(t, p, Event{RunID: "run-s3", Tenant: "green", Seq: 3}, "req-3")
	if len(third.S3CredsSeen) != 2 || third.S3 != nil {
		t.Errorf("plain invocation: seen %d, attempts %d", len(third.S3CredsSeen), len(third.S3))
	}
}

func TestHandleRefusesBadS3Requests(t *testing.T) {
	p := newTestProbe(t, newRoots(t))
	tests := []struct {
		name   string
		mutate func(*S3Request)
		want   string
	}{
		{"no credentials", func(r *S3Request) { r.Credentials = S3Credentials{} }, "no credentials"},
		{"no own bucket", func(r *S3Request) { r.Own.Bucket = "" }, "no own bucket"},
		{"no region", func(r *S3Request) { r.Region = "" }, "no region"},
		{"bad endpoint", func(r *S3Request) { r.Endpoint = "ftp://x" }, "not an http(s) URL"},
		{"too many targets", func(r *S3Request) { r.Others = make([]S3Target, maxS3Targets+1) }, "at most"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := s3Event("http://127.0.0.1:1", "blue", 1, testCreds)
			tc.mutate(ev.S3)
			_, err := p.Handle(lambdaCtx(t, "blue", "r", time.Second), ev)
			var ee *EventError
			if !errors.As(err, &ee) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want EventError with %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), testCreds.SecretAccessKey) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}
