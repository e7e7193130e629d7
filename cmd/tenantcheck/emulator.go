package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
	"github.com/tenantcheck/tenantcheck/fixtures/faults"
	"github.com/tenantcheck/tenantcheck/fixtures/s3data"
	"github.com/tenantcheck/tenantcheck/runner"
)

// targetFlags configure the built-in target, shared by `run` (in-process) and `emulator`.
type targetFlags struct {
	faults          []string
	faultRate       float64
	maxEnvironments int
	idleTimeout     time.Duration
	spares          int
}

// knownFaults joins the fault tables of every component that can be broken (the built-in target,
// the S3 broker): the one list that --fault validation, the help and the FAULTS.md matrix test
// read. A new fault is registered in its component's table and shows up here without a change.
func knownFaults() faults.List {
	return append(emulator.KnownFaults(), s3data.KnownFaults()...)
}

// register adds the built-in target's flags to cmd, and to its help the whole fault list.
func (f *targetFlags) register(cmd *cobra.Command) {
	d := runner.DefaultSettings()
	cmd.Long += "\n\nFaults (--fault NAME[,NAME]), each a deliberate break the suite must catch (docs/FAULTS.md);\n" +
		"S3 broker faults apply to run only, which stands up the broker:\n" + strings.TrimRight(knownFaults().Help("  "), "\n")
	cmd.Flags().StringSliceVar(&f.faults, "fault", nil, "inject named faults, listed above with the component each breaks: the built-in target's, or (run only) the S3 broker's")
	cmd.Flags().Float64Var(&f.faultRate, "fault-rate", 1.0, "probability with which a probabilistic fault (recycle) fires")
	cmd.Flags().IntVar(&f.maxEnvironments, "max-environments", d.MaxEnvironments, "built-in target: cap on environments per function (active and idle)")
	cmd.Flags().DurationVar(&f.idleTimeout, "idle-timeout", d.IdleTimeout, "built-in target: idle environments older than this are destroyed")
	cmd.Flags().IntVar(&f.spares, "spare-environments", d.SpareEnvironments, "built-in target: pre-made environments a function version may keep ready for new tenants (each serves one tenant only, and never one that another served; 0: none)")
}

func (f *targetFlags) config(addr string, seed int64) (emulator.Config, error) {
	if f.faultRate < 0 || f.faultRate > 1 {
		return emulator.Config{}, usageError("--fault-rate %v: must be between 0 and 1", f.faultRate)
	}
	if f.maxEnvironments < 1 {
		return emulator.Config{}, usageError("--max-environments %d: must be at least 1", f.maxEnvironments)
	}
	if f.spares < 0 {
		return emulator.Config{}, usageError("--spare-environments %d: must not be negative", f.spares)
	}
	if _, err := knownFaults().Validate(f.faults); err != nil {
		return emulator.Config{}, usageError("--fault: %w", err)
	}
	for _, name := range f.faults {
		if s3data.IsFault(name) {
			return emulator.Config{}, usageError("--fault %s breaks the S3 broker, which only `tenantcheck run` stands up", name)
		}
	}
	if _, err := emulator.ParseFaults(f.faults); err != nil {
		return emulator.Config{}, usageError("--fault: %w", err)
	}
	return emulator.Config{
		Addr:            addr,
		MaxEnvironments: f.maxEnvironments,
		IdleTimeout:     f.idleTimeout,
		Spares:          f.spares,
		Faults:          f.faults,
		FaultRate:       f.faultRate,
		Seed:            seed,
	}, nil
}

func newEmulatorCmd() *cobra.Command {
	var (
		tf          targetFlags
		addr        string
		gatewayAddr string
		seed        int64
		forwards    []string
		logMax      int64
		pidsMax     int
	)
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Serve the built-in Lambda-compatible target for any client until interrupted",
		Long: `Serves the built-in target: the Lambda control plane and Invoke API on one loopback address,
each execution environment a real process with a private /tmp, keyed per tenant. Point any Lambda
client at the printed endpoint. Each environment has a network namespace of its own where the host
allows it: it reaches only the host addresses given with --forward or registered by a run.
SIGINT or SIGTERM stops every environment.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := tf.config(addr, seed)
			if err != nil {
				return err
			}
			cfg.Forwards = forwards
			if pidsMax < 0 {
				return usageError("emulator: --pids-max %d: want a positive process limit", pidsMax)
			}
			cfg.PidsMax, cfg.LogStreamMaxBytes = pidsMax, logMax
			if logMax == 0 {
				cfg.LogStreamMaxBytes = -1 // 0 on the command line means no cap
			}
			if cfg.GatewayAddr, err = gatewayAddrFor(addr, gatewayAddr); err != nil {
				return usageError("emulator: %w", err)
			}
			srv, err := emulator.New(cfg)
			if err != nil {
				return usageError("emulator: %w", err)
			}
			if err := srv.Start(); err != nil {
				return &exitError{code: ExitIncomplete, err: fmt.Errorf("start emulator on %s: %w", addr, err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenantcheck emulator listening on %s\n", srv.Endpoint())
			fmt.Fprintf(cmd.OutOrStdout(), "try: tenantcheck run --endpoint-url %s\n", srv.Endpoint())
			fmt.Fprintf(cmd.OutOrStdout(), "REST API front door on %s: import an API with the apigateway client at %s, then call %s/restapis/{id}/{stage}/_user_request_/{path}\n",
				srv.GatewayURL(), srv.Endpoint(), srv.GatewayURL())
			<-cmd.Context().Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "stopping: destroying every environment")
			if err := srv.Close(); err != nil {
				return &exitError{code: ExitIncomplete, err: fmt.Errorf("stop emulator: %w", err)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:9300", "loopback address to listen on")
	cmd.Flags().StringVar(&gatewayAddr, "gateway-addr", "", "loopback address the REST API front door answers requests to deployed APIs on (default: the port after --addr's, any free port when --addr's is 0; its control plane shares --addr)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed for probabilistic faults")
	cmd.Flags().StringArrayVar(&forwards, "forward", nil, "make this host address (127.0.0.1:PORT) reachable at the same address inside every environment (repeatable); `run` registers its own report sink and S3 endpoint for the length of a run")
	cmd.Flags().Int64Var(&logMax, "log-stream-max", 64<<20, "bytes of function output one environment's log stream keeps before dropping the rest (0: no cap)")
	cmd.Flags().IntVar(&pidsMax, "pids-max", 1024, "processes and threads one environment may have at once (its pids cgroup)")
	tf.register(cmd)
	return cmd
}

// gatewayAddrFor is --gateway-addr, or by default the port after addr's on the same host (any
// free port when addr's is 0, so two emulators on ephemeral ports never collide).
func gatewayAddrFor(addr, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--addr %q: %w", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n >= 65535 {
		return "", fmt.Errorf("--addr %q: port %q is not a number below 65535; give --gateway-addr", addr, port)
	}
	if n == 0 {
		return net.JoinHostPort(host, "0"), nil
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1)), nil
}
