// Command probe is the smallest program that behaves like tenantcheck started as `bootstrap`
// (the probe, or the gateway area's authorizer): the probes and runner tests build it, because
// they cannot import cmd/tenantcheck.
package main

import (
	"fmt"
	"os"

	"github.com/tenantcheck/tenantcheck/authorizer"
	"github.com/tenantcheck/tenantcheck/probes"
)

// The probes tests run this binary unsandboxed beside tests of other packages, so they give it
// private directories for the shared places, and a private keyring, through these variables
// (unset: the real ones).
func main() {
	if authorizer.Selected() {
		authorizer.Main()
		return
	}
	if probes.IsLambdaRuntime() {
		var opts []probes.Option
		for env, with := range map[string]func(string) probes.Option{
			"TESTPROBE_TMP_DIR":     probes.WithTmpDir,
			"TESTPROBE_DEV_SHM_DIR": probes.WithDevShmDir,
			"TESTPROBE_VAR_TMP_DIR": probes.WithVarTmpDir,
		} {
			if dir := os.Getenv(env); dir != "" {
				opts = append(opts, with(dir))
			}
		}
		if os.Getenv("TESTPROBE_PRIVATE_KEYS") != "" {
			opts = append(opts, probes.WithPrivateKeyring())
		}
		probes.MainWith(opts...)
	}
	fmt.Fprintln(os.Stderr, "probe: not started by a Lambda runtime (need AWS_LAMBDA_RUNTIME_API and the name bootstrap)")
	os.Exit(2)
}
