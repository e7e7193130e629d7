package probes

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

const (
	// s3OpTimeout bounds one S3 call: a hung endpoint must cost a failed attempt, not the
	// whole invocation.
	s3OpTimeout = 5 * time.Second
	// maxS3Body bounds how much of an object GetObject reads; seeded secrets are tiny.
	maxS3Body = 1 << 20
	// maxS3Targets bounds Others, so a bad event cannot make the probe issue unbounded calls.
	maxS3Targets = 64
)

// Fingerprint names a secret without revealing it: the first 12 hex digits of its SHA-256. It
// is how credentials and per-run secrets appear in reports, logs and errors, so two findings
// can still be matched to each other and to the fixture that minted them.
func Fingerprint(secret string) string {
	if secret == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(secret))
	return "fp:" + hex.EncodeToString(sum[:6])
}

// Fingerprint identifies the credentials by their access key ID, which is unique per STS
// session, so every tenant's session has its own fingerprint.
func (c S3Credentials) Fingerprint() string { return Fingerprint(c.AccessKeyID) }

// String prints only the fingerprint and expiry.
func (c S3Credentials) String() string {
	return fmt.Sprintf("S3Credentials{%s, expires %s}", c.Fingerprint(), c.Expiration.UTC().Format(time.RFC3339))
}

// GoString keeps %#v as safe as %v.
func (c S3Credentials) GoString() string { return c.String() }

// Format makes every verb (%v, %+v, %s, %q, %x) print the redacted form.
func (c S3Credentials) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// Format prints a request with its credentials as a fingerprint, whatever the verb: fmt prints
// a nested pointer under %s or %q through its error path, which bypasses S3Credentials' own
// Format, so the request must redact itself.
func (r S3Request) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "S3Request{%s %s own=%s/%s others=%d creds=%s}", r.Mechanism, r.Endpoint,
		r.Own.Bucket, r.Own.Prefix, len(r.Others), r.Credentials.String())
}

// Redact replaces every non-empty secret in msg by its fingerprint. Server error messages may
// echo an access key or a key name derived from a secret; nothing the probe reports is
// allowed to carry one.
func Redact(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, Fingerprint(s))
		}
	}
	return msg
}

// validate refuses requests the probe cannot carry out before anything is planted.
func (r *S3Request) validate() error {
	switch {
	case r.Credentials.AccessKeyID == "" || r.Credentials.SecretAccessKey == "":
		return errors.New("s3: request carries no credentials")
	case r.Own.Bucket == "" || r.Own.Key == "":
		return errors.New("s3: request names no own bucket and key")
	case len(r.Others) > maxS3Targets:
		return fmt.Errorf("s3: %d other tenants, at most %d", len(r.Others), maxS3Targets)
	case r.Region == "":
		return errors.New("s3: request names no region")
	}
	if r.Endpoint != "" && !strings.HasPrefix(r.Endpoint, "http://") && !strings.HasPrefix(r.Endpoint, "https://") {
		return fmt.Errorf("s3: endpoint %q is not an http(s) URL", r.Endpoint)
	}
	return nil
}

// RunS3 uses the request's credentials the way a tenant's function would, on its own data
// and on every other tenant's: GetObject of the seeded secret, ListObjectsV2 of the bucket
// or prefix, PutObject of a fresh key, CopyObject from the target into the tenant's own data,
// and DeleteObject of the key it tried to write. It returns every outcome; judging them is
// the suites' job.
//
// The targets are tried at once, each on a goroutine of its own: their attempts are independent,
// and the function's timeout (1 s by default) must hold every one of them on a loaded host too.
// The attempts come back in target order, own data first.
func RunS3(ctx context.Context, req *S3Request) []S3Attempt {
	client := newS3Client(req)
	targets := append([]S3Target{req.Own}, req.Others...)
	per := make([][]S3Attempt, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { per[i] = s3Try(ctx, req, client, t, i == 0) })
	}
	wg.Wait()
	var out []S3Attempt
	for _, a := range per {
		out = append(out, a...)
	}
	return out
}

func newS3Client(req *S3Request) *s3.Client {
	cfg := aws.Config{
		Region: req.Region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
			req.Credentials.AccessKeyID, req.Credentials.SecretAccessKey, req.Credentials.SessionToken)),
		HTTPClient: &http.Client{Timeout: s3OpTimeout},
		Retryer: func() aws.Retryer {
			return retry.AddWithMaxAttempts(retry.NewStandard(), 2)
		},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = req.PathStyle
		if req.Endpoint != "" {
			o.BaseEndpoint = aws.String(req.Endpoint)
		}
	})
}

// s3Try makes the five attempts on one tenant's data.
func s3Try(ctx context.Context, req *S3Request, c *s3.Client, t S3Target, own bool) []S3Attempt {
	writeKey := t.Prefix + "tenantcheck-write/" + req.Own.Tenant + "-" + shortRandom()
	copyKey := req.Own.Prefix + "tenantcheck-copy/" + t.Tenant + "-" + shortRandom()
	secrets := []string{req.Credentials.AccessKeyID, req.Credentials.SecretAccessKey, req.Credentials.SessionToken}
	attempt := func(op, bucket, key string, call func(context.Context) error) S3Attempt {
		a := S3Attempt{Op: op, Mechanism: req.Mechanism, Tenant: t.Tenant, Own: own, Bucket: bucket, Key: key}
		cctx, cancel := context.WithTimeout(ctx, s3OpTimeout)
		defer cancel()
		start := time.Now()
		err := call(cctx)
		a.Duration = time.Since(start)
		a.Allowed = err == nil
		if err != nil {
			a.ErrorCode, a.HTTPStatus = s3ErrorCode(err)
			a.Error = Redact(err.Error(), secrets...)
			a.OutOfTime = a.ErrorCode == "" && ctx.Err() != nil
		}
		return a
	}
	var out []S3Attempt

	var bodyFP string
	get := attempt(S3GetObject, t.Bucket, t.Key, func(ctx context.Context) error {
		o, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &t.Bucket, Key: &t.Key})
		if err != nil {
			return err
		}
		defer o.Body.Close()
		body, err := io.ReadAll(io.LimitReader(o.Body, maxS3Body))
		if err != nil {
			return fmt.Errorf("read object body: %w", err)
		}
		bodyFP = Fingerprint(string(body)) // the body itself goes nowhere
		return nil
	})
	get.BodyFingerprint = bodyFP
	out = append(out, get)

	var keys int
	list := attempt(S3ListObjectsV2, t.Bucket, t.Prefix, func(ctx context.Context) error {
		in := &s3.ListObjectsV2Input{Bucket: &t.Bucket, MaxKeys: aws.Int32(100)}
		if t.Prefix != "" {
			in.Prefix = &t.Prefix
		}
		o, err := c.ListObjectsV2(ctx, in)
		if err == nil {
			keys = len(o.Contents)
		}
		return err
	})
	list.Keys = keys
	out = append(out, list)

	out = append(out, attempt(S3PutObject, t.Bucket, writeKey, func(ctx context.Context) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &t.Bucket, Key: &writeKey,
			Body: strings.NewReader("tenantcheck probe write by " + req.Own.Tenant)})
		return err
	}))

	source := t.Bucket + "/" + t.Key
	out = append(out, attempt(S3CopyObject, t.Bucket, t.Key, func(ctx context.Context) error {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &req.Own.Bucket, Key: &copyKey, CopySource: &source})
		return err
	}))

	out = append(out, attempt(S3DeleteObject, t.Bucket, writeKey, func(ctx context.Context) error {
		_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &t.Bucket, Key: &writeKey})
		return err
	}))
	return out
}

// s3ErrorCode extracts the S3 error code and HTTP status, "" and 0 for transport errors.
func s3ErrorCode(err error) (string, int) {
	var code string
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return code, re.HTTPStatusCode()
	}
	return code, 0
}

func shortRandom() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// s3CredCache is the environment's "assume once, reuse" credential cache, as careless code
// keeps one. It holds fingerprints only: what the checks need is whether one tenant's
// credentials are still in memory when another tenant's invocation runs, not the credentials.
type s3CredCache struct {
	mu   sync.Mutex
	n    int
	seen []S3CredSeen
}

func newS3CredCache(n int) *s3CredCache { return &s3CredCache{n: n} }

func (c *s3CredCache) snapshot() []S3CredSeen {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]S3CredSeen(nil), c.seen...)
}

func (c *s3CredCache) add(s S3CredSeen) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) == c.n {
		c.seen = append(c.seen[:0], c.seen[1:]...)
	}
	c.seen = append(c.seen, s)
}

// cachedS3Creds is deliberately package-level, like cachedCreds: a global cache is exactly
// what survives when a target hands this process to another tenant.
var cachedS3Creds = newS3CredCache(maxKept)

// handleS3 reports the credential fingerprints this environment already holds, then, when the
// event carries an S3 request, makes the attempts and caches the new credentials' fingerprint.
func handleS3(ctx context.Context, cache *s3CredCache, ev Event, rep *Report) {
	rep.S3CredsSeen = cache.snapshot()
	if ev.S3 == nil {
		return
	}
	rep.S3 = RunS3(ctx, ev.S3)
	rep.S3CredFingerprint = ev.S3.Credentials.Fingerprint()
	cache.add(S3CredSeen{
		Fingerprint: rep.S3CredFingerprint, RunID: ev.RunID, Tenant: ev.Tenant,
		EnvID: rep.EnvID, RequestID: rep.RequestID, Seq: ev.Seq,
	})
}
