// Command probe is the smallest program that behaves like tenantcheck started as `bootstrap`:
// the probes tests build it, because they cannot import cmd/tenantcheck.
package main

import (
	"fmt"
	"os"

	"github.com/tenantcheck/tenantcheck/probes"
)

func main() {
	if probes.IsLambdaRuntime() {
		probes.Main()
	}
	fmt.Fprintln(os.Stderr, "probe: not started by a Lambda runtime (need AWS_LAMBDA_RUNTIME_API and the name bootstrap)")
	os.Exit(2)
}
