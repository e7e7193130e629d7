package authorizer

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Main runs the authorizer as a Lambda function and never returns. A configuration that does not
// parse stops the runtime at init with the reason, which Lambda reports on every invocation
// (Runtime.ExitError) and logs: a broken authorizer must not start and refuse everyone quietly.
func Main() {
	var cfg Config
	if err := json.Unmarshal([]byte(os.Getenv(ConfigEnv)), &cfg); err != nil {
		log.Fatalf("tenantcheck authorizer: %s does not parse: %v", ConfigEnv, err)
	}
	v, err := newVerifier(cfg, os.Getenv(FaultsEnv))
	if err != nil {
		log.Fatal(err)
	}
	h := &handler{v: v, logf: log.Printf}
	if cfg.Credentials != nil {
		h.creds = newSTSMinter(*cfg.Credentials, v.faults[FaultBroadCredentials])
	}
	lambda.Start(h.handle)
	os.Exit(1)
}

// stsMinter assumes the tenant role with the tenant's session policy, and keeps each tenant's
// credentials for half their life so a burst of one tenant's requests costs one STS call.
type stsMinter struct {
	cfg    CredentialsConfig
	client *sts.Client
	broad  bool // the authorizer-broad-credentials fault: no session policy

	mu    sync.Mutex
	cache map[string]cachedCreds
}

type cachedCreds struct {
	values  map[string]any
	refresh time.Time
}

func newSTSMinter(cfg CredentialsConfig, broad bool) *stsMinter {
	acfg := aws.Config{
		Region:     cmp.Or(cfg.Region, os.Getenv("AWS_REGION"), "us-east-1"),
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	}
	if cfg.AccessKeyID != "" {
		acfg.Credentials = credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")
	} else {
		acfg.Credentials = credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"),
			os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))
	}
	client := sts.NewFromConfig(acfg, func(o *sts.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return &stsMinter{cfg: cfg, client: client, broad: broad, cache: map[string]cachedCreds{}}
}

var sessionNameUnsafe = regexp.MustCompile(`[^\w+=,.@-]`)

func (m *stsMinter) credentials(ctx context.Context, tenant string) (map[string]any, error) {
	now := time.Now()
	m.mu.Lock()
	c, ok := m.cache[tenant]
	m.mu.Unlock()
	if ok && now.Before(c.refresh) {
		return c.values, nil
	}
	dur := cmp.Or(m.cfg.DurationSeconds, 900)
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(m.cfg.RoleArn),
		RoleSessionName: aws.String(sessionName(tenant)),
		DurationSeconds: aws.Int32(dur),
	}
	if !m.broad {
		policy, err := fillTemplate(m.cfg.PolicyTemplate, tenant)
		if err != nil {
			return nil, err
		}
		in.Policy = aws.String(policy)
	}
	out, err := m.client.AssumeRole(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("assume %s for tenant %q: %w", m.cfg.RoleArn, tenant, err)
	}
	if out.Credentials == nil {
		return nil, fmt.Errorf("assume %s for tenant %q: STS returned no credentials", m.cfg.RoleArn, tenant)
	}
	cr := out.Credentials
	values := map[string]any{
		"accessKeyId":     aws.ToString(cr.AccessKeyId),
		"secretAccessKey": aws.ToString(cr.SecretAccessKey),
		"sessionToken":    aws.ToString(cr.SessionToken),
	}
	if cr.Expiration != nil {
		values["credentialsExpire"] = expiresIn(*cr.Expiration)
	}
	m.mu.Lock()
	m.cache[tenant] = cachedCreds{values: values, refresh: now.Add(time.Duration(dur) * time.Second / 2)}
	m.mu.Unlock()
	return values, nil
}

// fillTemplate writes tenant into a session policy template. The tenant is JSON-escaped, and one
// holding a character that means something in an IAM resource ('*', '?', and '/' which would
// nest one tenant's prefix inside another's) is refused: the policy must name that tenant's data
// and nothing more.
func fillTemplate(tmpl, tenant string) (string, error) {
	if strings.ContainsAny(tenant, "*?/$") {
		return "", fmt.Errorf("tenant %q holds a character ('*', '?', '/' or '$') that would widen its session policy", tenant)
	}
	js, err := json.Marshal(tenant)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(tmpl, "{{tenant}}", string(js[1:len(js)-1])), nil
}

// sessionName is the role session name for tenant: STS allows 2 to 64 characters of
// [\w+=,.@-], so anything else is replaced and the name is cut.
func sessionName(tenant string) string {
	s := "tenant-" + sessionNameUnsafe.ReplaceAllString(tenant, "_")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}
