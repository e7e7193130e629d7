package main

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tenantcheck/tenantcheck/fixtures/awsstack"
)

// TestStackS3Options pins how `run --aws` lays the s3 area onto a probe stack: tenant i gets slot
// i's bucket and tag, both of the stack's roles are used, and the run's own configuration (the
// principal the roles trust) is the one the fixture acts as.
func TestStackS3Options(t *testing.T) {
	for _, tt := range []struct {
		name     string
		function string
		tenants  []string
	}{
		{"deployed by this run", "tenantcheck-20261125-abcdef012345-probe", []string{"t-1", "t-2", "t-3", "t-4"}},
		{"found from a function ARN, fewer tenants", "arn:aws:lambda:eu-west-1:123456789012:function:tenantcheck-20261125-0a0b0c0d0e0f-probe:live", []string{"x", "y"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			runID, ok := awsstack.RunIDFromFunction(tt.function)
			if !ok {
				t.Fatalf("RunIDFromFunction(%q) not recognised", tt.function)
			}
			plan, err := awsstack.NewPlan(awsstack.Options{RunID: runID, Region: "eu-west-1"}, awsstack.Identity{Account: "123456789012", Partition: "aws"})
			if err != nil {
				t.Fatal(err)
			}
			cfg := aws.Config{Region: "eu-west-1", Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""))}
			o := stackS3Options(plan, cfg, tt.tenants)
			wantBuckets := []string{"tenantcheck-" + runID + "-a", "tenantcheck-" + runID + "-b", "tenantcheck-" + runID + "-c", "tenantcheck-" + runID + "-d"}
			switch {
			case !slices.Equal(o.Buckets, wantBuckets):
				t.Errorf("buckets %v, want %v", o.Buckets, wantBuckets)
			case o.RoleARN != "arn:aws:iam::123456789012:role/tenantcheck/tenantcheck-"+runID+"-data":
				t.Errorf("session-policy role %s", o.RoleARN)
			case o.SessionTags == nil || o.SessionTags.RoleARN != "arn:aws:iam::123456789012:role/tenantcheck/tenantcheck-"+runID+"-broker":
				t.Errorf("session-tags scoping %+v", o.SessionTags)
			case o.SessionTags.Key != "TenantSlot" || !slices.Equal(o.SessionTags.Values, []string{"a", "b", "c", "d"}):
				t.Errorf("tag %s=%v, want TenantSlot=[a b c d]", o.SessionTags.Key, o.SessionTags.Values)
			case !slices.Equal(o.Tenants, tt.tenants) || o.Region != "eu-west-1" || o.Endpoint != "" || o.Shared:
				t.Errorf("tenants %v region %q endpoint %q shared %v", o.Tenants, o.Region, o.Endpoint, o.Shared)
			case o.Base == nil || o.Base.Credentials != cfg.Credentials || o.Admin != nil || o.Broker != nil:
				t.Errorf("the fixture must act as the run's own principal: base %v admin %v broker %v", o.Base, o.Admin, o.Broker)
			case o.PropagationWait < 10*time.Second:
				t.Errorf("propagation wait %s: a stack deployed just before the run would be refused", o.PropagationWait)
			}
		})
	}
}
