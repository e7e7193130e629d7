package suites

import (
	"strings"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

var s3Tenants = []string{"blue", "green", "Blue"}

func s3Target(i int) probes.S3Target {
	return probes.S3Target{Tenant: s3Tenants[i], Bucket: "b" + s3Tenants[i], Key: "secret",
		SecretFingerprint: probes.Fingerprint("secret-" + s3Tenants[i])}
}

// s3Healthy builds the S3 phase of a healthy target by hand: two rounds, each tenant in its own
// environment, own operations allowed, every cross-tenant one AccessDenied.
func s3Healthy() *runner.Observations {
	issued := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := &runner.S3Observations{Backend: "s3 http://127.0.0.1:1", Duration: 15 * time.Minute}
	for i, tn := range s3Tenants {
		s.Targets = append(s.Targets, s3Target(i))
		s.Credentials = append(s.Credentials, runner.S3Credential{
			Tenant: tn, Mechanism: "session-policy/bucket", Fingerprint: probes.Fingerprint("AKID" + tn),
			ScopedTo: "b" + tn + "/", Requested: 15 * time.Minute, IssuedAt: issued, Expiration: issued.Add(15 * time.Minute),
		})
	}
	seq := int64(0)
	for round := range 2 {
		for i, tn := range s3Tenants {
			seq++
			rep := &probes.Report{Schema: probes.SchemaVersion, EnvID: "env-" + tn, Cold: round == 0, Tenant: tn,
				RequestID: "req", S3CredFingerprint: probes.Fingerprint("AKID" + tn)}
			if round == 1 {
				rep.S3CredsSeen = []probes.S3CredSeen{{Fingerprint: rep.S3CredFingerprint, Tenant: tn, EnvID: rep.EnvID, Seq: seq - 3}}
			}
			for j := range s3Tenants {
				t := s3Target(j)
				for _, op := range []string{probes.S3GetObject, probes.S3ListObjectsV2, probes.S3PutObject, probes.S3CopyObject, probes.S3DeleteObject} {
					a := probes.S3Attempt{Op: op, Mechanism: "session-policy/bucket", Tenant: t.Tenant, Own: i == j, Bucket: t.Bucket, Key: t.Key}
					if a.Own {
						a.Allowed = true
						if op == probes.S3GetObject {
							a.BodyFingerprint = t.SecretFingerprint
						}
					} else {
						a.ErrorCode, a.HTTPStatus, a.Error = "AccessDenied", 403, "api error AccessDenied: Access Denied"
					}
					rep.S3 = append(rep.S3, a)
				}
			}
			s.Items = append(s.Items, runner.Observation{Seq: seq, Schedule: "s3", Tenant: tn, StatusCode: 200, Report: rep})
		}
	}
	return &runner.Observations{RunID: "r", Tenants: s3Tenants, S3: s}
}

// eachS3Attempt edits every attempt in place.
func eachS3Attempt(obs *runner.Observations, fn func(inv string, a *probes.S3Attempt)) {
	for i := range obs.S3.Items {
		o := &obs.S3.Items[i]
		for j := range o.Report.S3 {
			fn(o.Tenant, &o.Report.S3[j])
		}
	}
}

func TestS3Checks(t *testing.T) {
	const p, f, s, e, inc = reports.Pass, reports.Fail, reports.Skip, reports.Error, reports.Inconclusive
	tests := []struct {
		name   string
		mutate func(*runner.Observations)
		want   [4]reports.Status // TI-S3-001..004
	}{
		{"healthy", func(*runner.Observations) {}, [4]reports.Status{p, p, p, p}},
		{"phase not run", func(o *runner.Observations) { o.S3 = nil }, [4]reports.Status{s, s, s, s}},
		{"backend missing", func(o *runner.Observations) { o.S3 = runner.SkippedS3("SeaweedFS is not built: run `go build ...`") },
			[4]reports.Status{s, s, s, s}},
		{"setup throttled", func(o *runner.Observations) {
			o.S3 = runner.FailedS3("could not lay out tenant data: AssumeRole: Throttling: Rate exceeded")
		}, [4]reports.Status{e, e, e, e}},
		{"broad credentials", func(o *runner.Observations) {
			eachS3Attempt(o, func(_ string, a *probes.S3Attempt) {
				if !a.Own {
					a.Allowed, a.ErrorCode, a.HTTPStatus, a.Error = true, "", 0, ""
					if a.Op == probes.S3GetObject {
						a.BodyFingerprint = probes.Fingerprint("secret-" + a.Tenant)
					}
				}
			})
		}, [4]reports.Status{p, f, p, p}},
		{"wrong tenant policy", func(o *runner.Observations) {
			next := map[string]string{"blue": "green", "green": "Blue", "Blue": "blue"}
			eachS3Attempt(o, func(inv string, a *probes.S3Attempt) {
				switch {
				case a.Own:
					a.Allowed, a.ErrorCode, a.BodyFingerprint = false, "AccessDenied", ""
				case a.Tenant == next[inv]:
					a.Allowed, a.ErrorCode = true, ""
				}
			})
		}, [4]reports.Status{f, f, p, p}},
		{"own read returns another body", func(o *runner.Observations) {
			eachS3Attempt(o, func(_ string, a *probes.S3Attempt) {
				if a.Own && a.Op == probes.S3GetObject {
					a.BodyFingerprint = probes.Fingerprint("something else")
				}
			})
		}, [4]reports.Status{f, p, p, p}},
		{"cross error not AccessDenied", func(o *runner.Observations) {
			eachS3Attempt(o, func(_ string, a *probes.S3Attempt) {
				if !a.Own && a.Op == probes.S3ListObjectsV2 {
					a.ErrorCode = "InvalidAccessKeyId"
				}
			})
		}, [4]reports.Status{p, inc, p, p}},
		{"own call cut short by the invocation's deadline is not judged", func(o *runner.Observations) {
			eachS3Attempt(o, func(_ string, a *probes.S3Attempt) {
				if a.Own && a.Op == probes.S3DeleteObject {
					a.Allowed, a.Error, a.OutOfTime = false, "operation error S3: DeleteObject, context deadline exceeded", true
				}
			})
		}, [4]reports.Status{p, p, p, p}},
		{"every own call cut short", func(o *runner.Observations) {
			eachS3Attempt(o, func(_ string, a *probes.S3Attempt) {
				if a.Own {
					a.Allowed, a.BodyFingerprint, a.Error, a.OutOfTime = false, "", "context deadline exceeded", true
				}
			})
		}, [4]reports.Status{inc, p, p, p}},
		{"broker can read", func(o *runner.Observations) { o.S3.BrokerAccess = "GetObject bblue/secret" },
			[4]reports.Status{p, f, p, p}},
		{"credentials outlive request", func(o *runner.Observations) {
			o.S3.Credentials[1].Expiration = o.S3.Credentials[1].IssuedAt.Add(time.Hour)
		}, [4]reports.Status{p, p, f, p}},
		{"credentials without expiry", func(o *runner.Observations) { o.S3.Credentials[0].Expiration = time.Time{} },
			[4]reports.Status{p, p, f, p}},
		{"foreign fingerprint in cache", func(o *runner.Observations) {
			r := o.S3.Items[4].Report
			r.S3CredsSeen = append(r.S3CredsSeen, probes.S3CredSeen{Fingerprint: probes.Fingerprint("AKIDblue"), Tenant: "blue"})
		}, [4]reports.Status{p, p, p, f}},
		{"foreign fingerprint seen in main run", func(o *runner.Observations) {
			o.Items = append(o.Items, runner.Observation{Tenant: "green", Report: &probes.Report{EnvID: "x",
				S3CredsSeen: []probes.S3CredSeen{{Fingerprint: probes.Fingerprint("AKIDblue"), Tenant: "blue"}}}})
		}, [4]reports.Status{p, p, p, f}},
		{"one environment, two tenants", func(o *runner.Observations) { o.S3.Items[4].Report.EnvID = "env-blue" },
			[4]reports.Status{p, p, p, f}},
		{"no reuse", func(o *runner.Observations) {
			for i := range o.S3.Items {
				o.S3.Items[i].Report.S3CredsSeen = nil
			}
		}, [4]reports.Status{p, p, p, inc}},
		{"probe without S3 support", func(o *runner.Observations) {
			for i := range o.S3.Items {
				r := o.S3.Items[i].Report
				r.S3, r.S3CredFingerprint, r.S3CredsSeen = nil, "", nil
			}
		}, [4]reports.Status{e, e, p, e}},
		{"every invocation failed", func(o *runner.Observations) {
			for i := range o.S3.Items {
				o.S3.Items[i].Report, o.S3.Items[i].Err = nil, "connection refused"
			}
		}, [4]reports.Status{e, e, p, e}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := s3Healthy()
			tc.mutate(obs)
			got := Evaluate(S3Checks(), obs)
			for i, r := range got {
				if r.Status != tc.want[i] {
					t.Errorf("%s = %s, want %s: %s %v", r.ID, r.Status, tc.want[i], r.Reason, r.Evidence)
				}
				if r.Status == reports.Fail && len(r.Evidence) == 0 {
					t.Errorf("%s FAILs without evidence", r.ID)
				}
				if r.Status == reports.Skip && obs.S3 != nil && !strings.Contains(r.Reason, "go build") {
					t.Errorf("%s SKIP reason lacks the hint: %s", r.ID, r.Reason)
				}
			}
		})
	}
}

// TestS3EvidenceNamesOperationBucketTenantAndCode pins the evidence an auditor gets.
func TestS3EvidenceNamesOperationBucketTenantAndCode(t *testing.T) {
	obs := s3Healthy()
	eachS3Attempt(obs, func(_ string, a *probes.S3Attempt) {
		if !a.Own && a.Op == probes.S3PutObject {
			a.Allowed, a.ErrorCode = true, ""
		}
		if a.Own && a.Op == probes.S3DeleteObject {
			a.Allowed, a.ErrorCode, a.HTTPStatus = false, "AccessDenied", 403
		}
	})
	checks := S3Checks()
	for i, id := range []string{"TI-S3-001", "TI-S3-002"} {
		r := Evaluate(checks[i:i+1], obs)[0]
		if r.Status != reports.Fail || len(r.Evidence) == 0 {
			t.Fatalf("%s = %s", id, r.Status)
		}
		ev := r.Evidence[0].Fields
		for _, k := range []string{"operation", "bucket", "key", "tenant", "owner", "mechanism"} {
			if ev[k] == "" {
				t.Errorf("%s evidence lacks %s: %v", id, k, ev)
			}
		}
		if id == "TI-S3-001" && ev["errorCode"] != "AccessDenied" {
			t.Errorf("%s evidence error code %q", id, ev["errorCode"])
		}
	}
}

func TestS3ChecksAreRegistered(t *testing.T) {
	for _, c := range S3Checks() {
		if c.Area != AreaS3 || c.Evaluate == nil || c.PrimaryClause() == "" || c.Remediation == "" {
			t.Errorf("%s is incomplete", c.ID)
		}
	}
}
