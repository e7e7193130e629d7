package authorizer

import (
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// RFC 7515 §4.1.11: a token whose crit header names an extension the verifier does not
// understand must be rejected.
func TestCritHeaderRefused(t *testing.T) {
	h, is := newTestHandler(t, "")
	hd := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"` + is.kid + `","crit":["b64"],"b64":false}`))
	pl := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://issuer.tenantcheck.invalid","aud":"tenantcheck","exp":` +
		strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + `,"tenant_id":"a"}`))
	sig, err := jwt.SigningMethodES256.Sign(hd+"."+pl, is.key)
	if err != nil {
		t.Fatal(err)
	}
	if id, _, err := h.v.verify(hd + "." + pl + "." + base64.RawURLEncoding.EncodeToString(sig)); err == nil {
		t.Errorf("a token with an unknown critical header was accepted for tenant %q", id.tenant)
	}
}
