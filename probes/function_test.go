package probes

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func TestFunctionCreateInput(t *testing.T) {
	zip := []byte("PK-zip")
	// base is what every deployer gets whatever it asks for: the probe's own side of the bargain.
	base := func(mod func(in *lambda.CreateFunctionInput)) *lambda.CreateFunctionInput {
		in := &lambda.CreateFunctionInput{
			FunctionName:  aws.String("fn"),
			Role:          aws.String(LocalRole),
			Runtime:       types.RuntimeProvidedal2023,
			Handler:       aws.String("bootstrap"),
			Code:          &types.FunctionCode{ZipFile: zip},
			Timeout:       aws.Int32(1),
			MemorySize:    aws.Int32(128),
			LoggingConfig: &types.LoggingConfig{LogFormat: types.LogFormatJson},
		}
		if mod != nil {
			mod(in)
		}
		return in
	}
	tests := []struct {
		name string
		f    Function
		want *lambda.CreateFunctionInput
	}{
		{"defaults", Function{Name: "fn", Zip: zip}, base(nil)},
		{"sub-second timeout rounds up to Lambda's minimum", Function{Name: "fn", Zip: zip, Timeout: 500 * time.Millisecond}, base(nil)},
		{"timeout in whole seconds", Function{Name: "fn", Zip: zip, Timeout: 15*time.Second + 900*time.Millisecond},
			base(func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(15) })},
		{"isolation run's probe on an endpoint",
			Function{Name: "fn", Zip: zip, Timeout: 10 * time.Second, PerTenant: true, Description: "probe"},
			base(func(in *lambda.CreateFunctionInput) {
				in.Timeout = aws.Int32(10)
				in.Description = aws.String("probe")
				in.TenancyConfig = &types.TenancyConfig{TenantIsolationMode: types.TenantIsolationModePerTenant}
			})},
		{"contract phase's ordinary function in a stack's log group",
			Function{Name: "fn", Zip: zip, Arch: "arm64", Timeout: 15 * time.Second, LogGroup: "/aws/lambda/stack",
				Tags: map[string]string{"tenantcheck-run": "r1", "tenantcheck:run-id": "s1"}},
			base(func(in *lambda.CreateFunctionInput) {
				in.Timeout = aws.Int32(15)
				in.Architectures = []types.Architecture{types.ArchitectureArm64}
				in.LoggingConfig.LogGroup = aws.String("/aws/lambda/stack")
				in.Tags = map[string]string{"tenantcheck-run": "r1", "tenantcheck:run-id": "s1"}
			})},
		{"AWS stack's function",
			Function{Name: "fn", Role: "arn:aws:iam::123456789012:role/exec", Zip: zip, Arch: "x86_64", Timeout: 3 * time.Second,
				MemoryMB: 256, PerTenant: true, LogGroup: "/aws/lambda/fn", Description: "stack"},
			base(func(in *lambda.CreateFunctionInput) {
				in.Role = aws.String("arn:aws:iam::123456789012:role/exec")
				in.Timeout = aws.Int32(3)
				in.MemorySize = aws.Int32(256)
				in.Architectures = []types.Architecture{types.ArchitectureX8664}
				in.LoggingConfig.LogGroup = aws.String("/aws/lambda/fn")
				in.Description = aws.String("stack")
				in.TenancyConfig = &types.TenancyConfig{TenantIsolationMode: types.TenantIsolationModePerTenant}
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := inputJSON(t, tt.f.CreateInput()), inputJSON(t, tt.want)
			if got != want {
				t.Errorf("CreateInput\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestFunctionCreateInputOwnsTags: the request must not alias the caller's map, which deployers
// reuse for every function they create.
func TestFunctionCreateInputOwnsTags(t *testing.T) {
	tags := map[string]string{"a": "1"}
	in := Function{Name: "fn", Tags: tags}.CreateInput()
	in.Tags["b"] = "2"
	if len(tags) != 1 {
		t.Errorf("caller's tags changed to %v", tags)
	}
}

func inputJSON(t *testing.T, in *lambda.CreateFunctionInput) string {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
