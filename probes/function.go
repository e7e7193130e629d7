package probes

import (
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// LocalRole is the execution role given to the probe's functions on targets that do not check
// roles (the emulator, most endpoints): CreateFunction still wants a well-formed ARN.
const LocalRole = "arn:aws:iam::000000000000:role/tenantcheck-probe"

// Function is the probe's Lambda function as every deployer creates it (the isolation run's
// probe, the contract phase's functions, the AWS stack's function). It lives beside the probe
// because what it fixes is the probe's side of the bargain: a custom-runtime `bootstrap` and
// LogFormat JSON, which its log lines and the log checks rely on (see invocationLog). Deployers
// choose only what legitimately differs between them.
type Function struct {
	// Name of the function. Required: each deployer has its own naming scheme.
	Name string
	// Role is the execution role ARN; empty means LocalRole.
	Role string
	// Zip is the deployment package holding an executable `bootstrap`.
	Zip []byte
	// Arch is the Lambda architecture ("arm64", "x86_64") of the binary in Zip; empty leaves it
	// to the target's default (x86_64 on AWS).
	Arch string
	// Timeout of the function, in whole seconds and at least one (Lambda's minimum).
	Timeout time.Duration
	// MemoryMB of the function; 0 means 128, Lambda's minimum, which the probe fits in.
	MemoryMB int32
	// PerTenant sets TenancyConfig PER_TENANT, the mode under test; false deploys an ordinary
	// function (the contract phase compares the two).
	PerTenant bool
	// LogGroup is a custom log group for the function; empty means the target's default
	// (/aws/lambda/<name>).
	LogGroup string
	// Description says who created the function, for whoever finds it in a console.
	Description string
	// Tags are attached to the function so teardown and sweep can find it.
	Tags map[string]string
	// Env are the function's environment variables (the gateway area's authorizer reads its
	// role and configuration there).
	Env map[string]string
}

// CreateInput returns the CreateFunction request for f. It never shares f's Tags map, so a
// caller may go on changing its own.
func (f Function) CreateInput() *lambda.CreateFunctionInput {
	role := f.Role
	if role == "" {
		role = LocalRole
	}
	mem := f.MemoryMB
	if mem == 0 {
		mem = 128
	}
	in := &lambda.CreateFunctionInput{
		FunctionName:  aws.String(f.Name),
		Role:          aws.String(role),
		Runtime:       types.RuntimeProvidedal2023,
		Handler:       aws.String("bootstrap"),
		Code:          &types.FunctionCode{ZipFile: f.Zip},
		Timeout:       aws.Int32(max(int32(f.Timeout/time.Second), 1)),
		MemorySize:    aws.Int32(mem),
		LoggingConfig: &types.LoggingConfig{LogFormat: types.LogFormatJson},
		Tags:          maps.Clone(f.Tags),
	}
	if f.Description != "" {
		in.Description = aws.String(f.Description)
	}
	if f.Arch != "" {
		in.Architectures = []types.Architecture{types.Architecture(f.Arch)}
	}
	if f.LogGroup != "" {
		in.LoggingConfig.LogGroup = aws.String(f.LogGroup)
	}
	if len(f.Env) > 0 {
		in.Environment = &types.Environment{Variables: maps.Clone(f.Env)}
	}
	if f.PerTenant {
		in.TenancyConfig = &types.TenancyConfig{TenantIsolationMode: types.TenantIsolationModePerTenant}
	}
	return in
}
