// Command tenantcheck answers, with evidence, whether a Lambda target keeps tenants apart.
//
// The same binary is also the probe deployed into the target (probes.IsLambdaRuntime), the JWT
// authorizer of the gateway area (authorizer.Selected) and the init step of the built-in target's
// sandboxed environments (sandbox.MaybeRunInit); those checks come first so none ever reaches the
// CLI.
package main

import (
	"os"

	"github.com/tenantcheck/tenantcheck/authorizer"
	"github.com/tenantcheck/tenantcheck/fixtures/emulator/sandbox"
	"github.com/tenantcheck/tenantcheck/probes"
)

func main() {
	sandbox.MaybeRunInit()
	if authorizer.Selected() {
		authorizer.Main()
		return
	}
	if probes.IsLambdaRuntime() {
		probes.Main()
		return
	}
	ctx, stop := signalContext()
	code := Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
