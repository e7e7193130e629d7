package probes

import (
	"log"
	"os"
	"path/filepath"

	"github.com/aws/aws-lambda-go/lambda"
)

// forceEnv makes any binary name run as the probe, for runtimes that do not start `bootstrap`
// (a container image's ENTRYPOINT, say).
const forceEnv = "TENANTCHECK_PROBE"

// IsLambdaRuntime reports whether this process should be the probe rather than the CLI: a Lambda
// runtime started it as the function (AWS_LAMBDA_RUNTIME_API is set and it runs as `bootstrap`),
// TENANTCHECK_PROBE=1 forces it, or it is the probe's own sleeping child. The name check keeps
// the CLI a CLI when someone runs it inside a Lambda function or CodeBuild-like sandbox where
// the runtime variable happens to be set.
func IsLambdaRuntime() bool {
	if os.Getenv(childEnv) == "1" || os.Getenv(forceEnv) == "1" {
		return true
	}
	return os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" && len(os.Args) > 0 &&
		filepath.Base(os.Args[0]) == "bootstrap"
}

// Main runs the probe and never returns: as the sleeping child it waits to be stopped;
// otherwise it makes the one Probe of this execution environment (so its EnvID and StartedAt
// belong to the cold start) and serves invocations through aws-lambda-go.
func Main() { MainWith() }

// MainWith is Main with extra options applied after the defaults. It exists so a test can run
// the real probe binary over the Runtime API with private directories instead of the host's
// shared /tmp, /dev/shm and /var/tmp, which tests of other packages use at the same time.
func MainWith(extra ...Option) {
	if os.Getenv(childEnv) == "1" {
		runChild()
	}
	var opts []Option
	if exe, err := os.Executable(); err == nil {
		opts = append(opts, WithChildExecutable(exe))
	} else {
		log.Printf("tenantcheck probe: no executable path, process canaries disabled: %v", err)
	}
	p := New(append(opts, extra...)...)
	lambda.Start(p.HandleAny)
	os.Exit(1) // lambda.Start exits on its own; this only documents that Main never returns
}
