package authorizer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const methodArn = "arn:aws:execute-api:us-east-1:000000000000:abc123/test/POST/probe/1"

func newTestHandler(t *testing.T, faults string) (*handler, *Issuer) {
	t.Helper()
	is, err := NewIssuer("https://issuer.tenantcheck.invalid", "tenantcheck")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := is.Config("default-key-00000000000")
	if err != nil {
		t.Fatal(err)
	}
	v, err := newVerifier(cfg, faults)
	if err != nil {
		t.Fatal(err)
	}
	return &handler{v: v, logf: t.Logf}, is
}

func TestTokens(t *testing.T) {
	for _, fault := range []string{"", FaultNoSignatureCheck} {
		h, is := newTestHandler(t, fault)
		good, err := is.Token("tenant-a", "key-a-000000000000000000")
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name       string
			token      string
			wantTenant string // "" for refused
		}{
			{"valid", good, "tenant-a"},
			{"valid with Bearer", "Bearer " + good, "tenant-a"},
			{"empty", "", ""},
			{"garbage", "not.a.token", ""},
		}
		for _, kind := range AllBroken() {
			tok, err := is.BrokenToken(kind, "tenant-a", "tenant-b", "key-a-000000000000000000")
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if fault == FaultNoSignatureCheck {
				// Decoded, never verified: every broken token passes, and the tampered one
				// speaks for the tenant it was edited to name.
				want = "tenant-a"
				if kind == BrokenTampered {
					want = "tenant-b"
				}
			}
			cases = append(cases, struct {
				name       string
				token      string
				wantTenant string
			}{string(kind), tok, want})
		}
		for _, tc := range cases {
			t.Run("fault="+fault+"/"+tc.name, func(t *testing.T) {
				resp, err := h.handle(context.Background(), Event{Type: "TOKEN", AuthorizationToken: tc.token, MethodArn: methodArn})
				if tc.wantTenant == "" {
					if !errors.Is(err, errUnauthorized) || err.Error() != "Unauthorized" {
						t.Fatalf("got %+v, %v; want exactly Unauthorized", resp, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if resp.Context["tenantId"] != tc.wantTenant {
					t.Errorf("tenant %v, want %s", resp.Context["tenantId"], tc.wantTenant)
				}
				st := resp.PolicyDocument.Statement
				if len(st) != 1 || st[0].Effect != "Allow" || st[0].Resource != "arn:aws:execute-api:us-east-1:000000000000:abc123/test/*" {
					t.Errorf("policy %+v", resp.PolicyDocument)
				}
			})
		}
	}
}

func TestUsageKey(t *testing.T) {
	for _, tc := range []struct {
		fault, want string
	}{
		{"", "key-a-000000000000000000"},
		{FaultSharedAPIKey, "default-key-00000000000"},
	} {
		h, is := newTestHandler(t, tc.fault)
		tok, _ := is.Token("tenant-a", "key-a-000000000000000000")
		resp, err := h.handle(context.Background(), Event{Type: "REQUEST", Headers: map[string]string{"authorization": "Bearer " + tok}, MethodArn: methodArn})
		if err != nil {
			t.Fatal(err)
		}
		if resp.UsageIdentifierKey != tc.want {
			t.Errorf("fault %q: usage key %q, want %q", tc.fault, resp.UsageIdentifierKey, tc.want)
		}
	}
}

func TestKeyConfusion(t *testing.T) {
	// An HS256 token "signed" with the public key's bytes, the classic confusion attack, and an
	// RS256 token presented to an ES256 key: both refused.
	h, is := newTestHandler(t, "")
	jwks, _ := is.JWKS()
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, is.claims("tenant-a", "", time.Now()))
	hs.Header["kid"] = is.kid
	forged, err := hs.SignedString([]byte(jwks))
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs := jwt.NewWithClaims(jwt.SigningMethodRS256, is.claims("tenant-a", "", time.Now()))
	rs.Header["kid"] = is.kid
	rsTok, _ := rs.SignedString(rsaKey)
	for _, tok := range []string{forged, rsTok} {
		if _, _, err := h.v.verify(tok); !errors.Is(err, errUnauthorized) {
			t.Errorf("a confused token passed: %v", err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, jwks, want string
		creds            *CredentialsConfig
	}{
		{"missing", "", "jwks is missing", nil},
		{"not json", "{", "jwks does not parse", nil},
		{"no keys", `{"keys":[]}`, "jwks has no keys", nil},
		{"weak rsa", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`, "too weak", nil},
		{"wrong curve", `{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]}`, "must be P-256", nil},
		{"off curve", `{"keys":[{"kty":"EC","crv":"P-256","x":"` + strings.Repeat("A", 43) + `","y":"` + strings.Repeat("A", 43) + `"}]}`, "not a point on P-256", nil},
		{"symmetric", `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, `kty "oct"`, nil},
		{"encryption key", `{"keys":[{"kty":"EC","use":"enc"}]}`, `use "enc"`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newVerifier(Config{JWKS: json.RawMessage(tc.jwks), Credentials: tc.creds}, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	_, is := newTestHandler(t, "")
	cfg, _ := is.Config("")
	cfg.Credentials = &CredentialsConfig{RoleArn: "arn:aws:iam::000000000000:role/t", PolicyTemplate: "{not json"}
	if _, err := newVerifier(cfg, ""); err == nil || !strings.Contains(err.Error(), "policyTemplate is not JSON") {
		t.Fatalf("bad policy template: %v", err)
	}
}

// fakeMinter records the tenants it minted for.
type fakeMinter struct{ tenants []string }

func (f *fakeMinter) credentials(_ context.Context, tenant string) (map[string]any, error) {
	f.tenants = append(f.tenants, tenant)
	return map[string]any{"accessKeyId": "AKID-" + tenant}, nil
}

func TestCredentialsInContext(t *testing.T) {
	h, is := newTestHandler(t, "")
	fm := &fakeMinter{}
	h.creds = fm
	tok, _ := is.Token("tenant-a", "")
	resp, err := h.handle(context.Background(), Event{Type: "TOKEN", AuthorizationToken: tok, MethodArn: methodArn})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Context["accessKeyId"] != "AKID-tenant-a" || len(fm.tenants) != 1 || fm.tenants[0] != "tenant-a" {
		t.Fatalf("context %v, minted for %v", resp.Context, fm.tenants)
	}
}

func TestSessionName(t *testing.T) {
	for in, want := range map[string]string{
		"acme":                  "tenant-acme",
		"a b/c":                 "tenant-a_b_c",
		strings.Repeat("x", 80): "tenant-" + strings.Repeat("x", 57),
	} {
		if got := sessionName(in); got != want {
			t.Errorf("sessionName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	_, is := newTestHandler(t, "")
	good, err := is.Config("")
	if err != nil {
		t.Fatal(err)
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("a configuration from the issuer: %v", err)
	}
	bad := good
	bad.JWKS = json.RawMessage(`{"keys": "not a list"}`)
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "jwks does not parse") {
		t.Fatalf("a JWKS that does not parse: %v", err)
	}
}

func TestFillTemplate(t *testing.T) {
	tmpl := `{"Resource":["arn:aws:s3:::b/{{tenant}}/*"]}`
	for _, tc := range []struct {
		tenant, want, err string
	}{
		{"acme", `{"Resource":["arn:aws:s3:::b/acme/*"]}`, ""},
		{`x","arn:aws:s3:::b`, `{"Resource":["arn:aws:s3:::b/x\",\"arn:aws:s3:::b/*"]}`, ""},
		{"*", "", "widen"},
		{"a/b", "", "widen"},
	} {
		got, err := fillTemplate(tmpl, tc.tenant)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("fillTemplate(%q) = %q, %v; want %q, error with %q", tc.tenant, got, err, tc.want, tc.err)
		}
	}
}
