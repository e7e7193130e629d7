package probes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

const (
	// maxKept bounds every in-process place (memory, background, env vars, credential cache,
	// sleeper): an environment that serves thousands of invocations must not grow without end,
	// and 32 canaries prove reuse as well as 32,000 do.
	maxKept = 32
	// defaultBackgroundDelay is short enough that a back-to-back invocation usually sees the
	// background canary, long enough that the goroutine is demonstrably still running after
	// the response was sent.
	defaultBackgroundDelay = 5 * time.Millisecond
	// maxBackgroundDelay is Lambda's longest function timeout: waiting longer proves nothing
	// and would let a bad event pile up goroutines.
	maxBackgroundDelay = 15 * time.Minute
	// holdMargin is how long before its deadline a hold gives up, so the response still
	// arrives in time and the target does not reset the environment as timed out.
	holdMargin = 200 * time.Millisecond
)

// Probe holds everything the probe function remembers between invocations of one execution
// environment. Main makes exactly one per process at init (the cold start), so its fields are
// process memory in the sense the checks care about. Handle is safe for concurrent use, because
// aws-lambda-go runs several invoke loops when AWS_LAMBDA_MAX_CONCURRENCY > 1.
type Probe struct {
	cfg config

	envID     string
	pid       int
	startedAt time.Time
	bootID    string
	pidsMax   string
	served    atomic.Int64

	// stores, in Place order. Scanning and planting walk this list; nothing else knows which
	// places exist.
	stores   []store
	codeDir  *fileStore
	inbox    *inboxStore
	sleepers *sleeper
	idle     idleWatch
	client   *http.Client
	// logs writes the per-invocation JSON log line and EMF metric (see logging.go).
	logs *invocationLog
	// s3creds holds fingerprints of the S3 credentials received (see handleS3).
	s3creds *s3CredCache
	// reportMu makes each report line one uninterrupted Write even on a writer that does not
	// serialise writes itself (os.Stdout does, per file descriptor).
	reportMu sync.Mutex
}

// config is per-Probe configuration; there is deliberately no package-level configuration.
type config struct {
	tmpDir, devShmDir, varTmpDir, homeDir, taskRoot, procDir string
	logStream                                                string
	runtimeAPI                                               string
	childExe                                                 string
	// sleeperExe is the program the process place's sleeping child runs: a small system
	// program when one is found (see leanSleeper), otherwise childExe.
	sleeperExe string
	// reportOut receives report lines (Event.ReportLog); standard output, which the target
	// captures into the environment's log stream.
	reportOut                         io.Writer
	timeoutOvershoot, sleeperInterval time.Duration
	exit                              func(code int)
	// isolated gives the Probe fresh "careless globals" instead of the package-level ones,
	// so tests in one binary do not see each other's canaries.
	isolated bool
	// privateKeys plants kernel keys in a keyring of the probe's own process instead of the
	// real user and session keyrings (WithPrivateKeyring).
	privateKeys bool
}

// Option configures a Probe. The defaults are the real Lambda locations; options exist so tests
// can point every place at a temporary directory.
type Option func(*config)

// WithPrivateKeyring keeps the kernel-keys place in a keyring of the probe's own process, so a
// probe run on the host (tests) leaves no key in the host's user or session keyring.
func WithPrivateKeyring() Option { return func(c *config) { c.privateKeys = true } }

// WithTmpDir replaces /tmp.
func WithTmpDir(dir string) Option { return func(c *config) { c.tmpDir = dir } }

// WithDevShmDir replaces /dev/shm.
func WithDevShmDir(dir string) Option { return func(c *config) { c.devShmDir = dir } }

// WithVarTmpDir replaces /var/tmp.
func WithVarTmpDir(dir string) Option { return func(c *config) { c.varTmpDir = dir } }

// WithHomeDir replaces $HOME; "" means unset, which the probe reports instead of planting.
func WithHomeDir(dir string) Option { return func(c *config) { c.homeDir = dir } }

// WithTaskRoot replaces LAMBDA_TASK_ROOT; "" means unset.
func WithTaskRoot(dir string) Option { return func(c *config) { c.taskRoot = dir } }

// WithProcDir replaces /proc, so process scanning can be tested against a fabricated tree.
func WithProcDir(dir string) Option { return func(c *config) { c.procDir = dir } }

// WithLogStream replaces lambdacontext.LogStreamName in reports.
func WithLogStream(name string) Option { return func(c *config) { c.logStream = name } }

// WithChildExecutable enables PlaceProcess planting: the probe keeps a sleeping child started
// from this executable, which must call Main when IsLambdaRuntime reports true (the tenantcheck
// binary does). It is opt-in because re-executing a binary that does not dispatch the child
// mode (a test binary, say) would run that binary's own main in every invocation.
func WithChildExecutable(path string) Option { return func(c *config) { c.childExe = path } }

// WithSleeperExecutable names the program the sleeping child runs instead of the one New
// chooses: it must block reading its standard input and exit at end of file (cat does). A
// benchmark compares the lean sleeper with the probe binary this way.
func WithSleeperExecutable(path string) Option { return func(c *config) { c.sleeperExe = path } }

// WithTimeoutOvershoot sets how far past its deadline ActionTimeout sleeps (default 2 s): far
// enough that a target which enforces timeouts must have cut the invocation off.
func WithTimeoutOvershoot(d time.Duration) Option {
	return func(c *config) { c.timeoutOvershoot = d }
}

// WithSleeperInterval sets the least time between two replacements of the PlaceProcess child
// (default 20 ms); 0 replaces it on every invocation. See procStore for the measurements.
func WithSleeperInterval(d time.Duration) Option {
	return func(c *config) { c.sleeperInterval = d }
}

// New makes the Probe for this process. Call it once, at init, so StartedAt and EnvID describe
// the execution environment rather than an invocation.
func New(opts ...Option) *Probe {
	cfg := config{
		tmpDir:           "/tmp",
		devShmDir:        "/dev/shm",
		varTmpDir:        "/var/tmp",
		homeDir:          os.Getenv("HOME"),
		taskRoot:         os.Getenv("LAMBDA_TASK_ROOT"),
		procDir:          "/proc",
		runtimeAPI:       os.Getenv("AWS_LAMBDA_RUNTIME_API"),
		logStream:        lambdacontext.LogStreamName,
		timeoutOvershoot: 2 * time.Second,
		sleeperInterval:  20 * time.Millisecond,
		exit:             os.Exit,
		reportOut:        os.Stdout,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.sleeperExe == "" && cfg.childExe != "" {
		cfg.sleeperExe = leanSleeper(cfg.childExe)
	}
	p := &Probe{
		cfg:       cfg,
		envID:     randomHex(),
		pid:       os.Getpid(),
		startedAt: time.Now().UTC(),
		bootID:    readBootID(),
		pidsMax:   readPidsMax("/proc/self/cgroup", "/sys/fs/cgroup"),
		sleepers:  &sleeper{},
		client:    newLoopbackClient(),
		logs:      newInvocationLog(),
	}
	global, creds, s3creds := lastCanaries, cachedCreds, cachedS3Creds
	if cfg.isolated {
		global, creds, s3creds = newRing(maxKept), newCredCache(maxKept), newS3CredCache(maxKept)
	}
	p.s3creds = s3creds
	p.codeDir = &fileStore{where: PlaceCodeDir, dir: cfg.taskRoot, unset: "LAMBDA_TASK_ROOT is not set"}
	p.inbox = &inboxStore{ring: newRing(maxKept)}
	keys := defaultKeyStore()
	if cfg.privateKeys {
		keys = privateKeyStore()
	}
	p.stores = []store{
		&memoryStore{ring: newRing(maxKept), where: "probe.memory"},
		&memoryStore{ring: global, where: "package var lastCanaries"},
		&fileStore{where: PlaceTmp, dir: cfg.tmpDir},
		&fileStore{where: PlaceDevShm, dir: cfg.devShmDir},
		&fileStore{where: PlaceVarTmp, dir: cfg.varTmpDir},
		&fileStore{where: PlaceHome, dir: cfg.homeDir, unset: "HOME is not set"},
		p.codeDir,
		&envStore{},
		&backgroundStore{ring: newRing(maxKept)},
		&credStore{cache: creds},
		&procStore{dir: cfg.procDir, exe: cfg.sleeperExe, minInterval: cfg.sleeperInterval, ring: newRing(maxKept),
			sleeper: p.sleepers},
		p.inbox,
		keys,
		&lockStore{dir: cfg.taskRoot, unset: "LAMBDA_TASK_ROOT is not set"},
	}
	return p
}

// readBootID returns the kernel's boot ID, "" where it cannot be read.
func readBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Close stops the sleeping child, if any. Main never calls it (the child dies with the process);
// it exists so tests and embedders leave no process behind.
func (p *Probe) Close() error {
	p.idle.close()
	return p.sleepers.close()
}

// EnvID is the random identity chosen when the Probe was made.
func (p *Probe) EnvID() string { return p.envID }

// Handle is the Lambda handler: report identity, scan every place, plant a fresh canary in
// each, then carry out the event's action. Scanning comes before planting so Found never holds
// this invocation's own canaries.
func (p *Probe) Handle(ctx context.Context, ev Event) (*Report, error) {
	n := p.served.Add(1)
	if err := validateEvent(ev); err != nil {
		return nil, err
	}
	var requestID, ctxTenant string
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		requestID, ctxTenant = lc.AwsRequestID, lc.TenantID
	}
	p.logs.record(ctx, ev, p.envID, n == 1)
	idle := p.idle.begin()
	defer p.idle.end()
	rep := &Report{
		Schema:        SchemaVersion,
		EnvID:         p.envID,
		PID:           p.pid,
		StartedAt:     p.startedAt,
		BootID:        p.bootID,
		PidsMax:       p.pidsMax,
		Idle:          idle,
		LogStream:     p.cfg.logStream,
		Cold:          n == 1,
		Invocations:   n,
		RequestID:     requestID,
		ContextTenant: ctxTenant,
		RunID:         ev.RunID,
		Tenant:        ev.Tenant,
		Seq:           ev.Seq,
	}

	stores := p.stores
	if ev.SkipCanaries {
		stores = nil
	}
	sc := &scanState{}
	for _, s := range stores {
		s.scan(sc)
	}
	rep.Found, rep.Truncated = selectFound(sc.found, ev.RunID, ev.Tenant, ctxTenant)
	rep.Truncated = rep.Truncated || sc.truncated
	rep.ProcessesSeen, rep.ProcessesReadable = sc.procSeen, sc.procReadable

	base := Canary{RunID: ev.RunID, Tenant: ev.Tenant, ContextTenant: ctxTenant, EnvID: p.envID,
		RequestID: requestID, Seq: ev.Seq}
	handleS3(ctx, p.s3creds, ev, rep)
	rep.RuntimeAPI, rep.PeerAttempts = p.cfg.runtimeAPI, knockPeers(ctx, p.cfg.runtimeAPI, ev.RuntimeAPIPeers)

	rep.Planted = make([]PlantResult, 0, len(stores))
	for _, s := range stores {
		c := base
		c.Nonce, c.Place = randomHex(), s.place()
		res := s.plant(c, &ev)
		res.Place, res.Nonce = c.Place, c.Nonce
		rep.Planted = append(rep.Planted, res)
		if s == store(p.codeDir) {
			rep.CodeDirWritable = res.Planted
		}
		if s == store(p.inbox) {
			// The network canary travels to other tenants' inboxes; one that arrives and is
			// found there is the leak.
			rep.Inbox, rep.Deposits = p.inbox.address(p.envID), deposit(ctx, c, ev.InboxPeers)
		}
	}
	rep.FrontDoor = tryFrontDoor(ctx, ev.FrontDoor)
	rep.Memory = tryMemory(ctx, p.cfg.childExe, ev.Memory)

	// Both deliveries send the report as it stands now; a failure of either is recorded only
	// on the returned copy.
	var postErrs []string
	if ev.ReportURL != "" || ev.ReportLog {
		rep.ReportToken = ev.ReportToken
	}
	if ev.ReportURL != "" {
		if err := p.post(ev.ReportURL, rep); err != nil {
			postErrs = append(postErrs, err.Error())
			log.Printf("tenantcheck probe: %v", err)
		}
	}
	if ev.ReportLog {
		if err := p.logReport(rep); err != nil {
			postErrs = append(postErrs, err.Error())
		}
	}
	rep.ReportToken = "" // delivered; the returned copy never carries it
	if len(postErrs) > 0 {
		rep.PostError = strings.Join(postErrs, "; ")
	}
	hold(ctx, ev.Hold)
	return p.act(ctx, ev, rep)
}

// hold keeps the invocation busy for d, but never past the invocation's deadline: a hold is
// meant to occupy the environment, not to turn into a timeout that resets it.
func hold(ctx context.Context, d time.Duration) {
	if deadline, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(deadline)-holdMargin)
	}
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// act carries out ev.Action after planting, so every failure mode still leaves canaries behind
// for the invocations that follow it.
func (p *Probe) act(ctx context.Context, ev Event, rep *Report) (*Report, error) {
	switch ev.Action {
	case ActionError:
		return nil, &RequestedError{Action: ev.Action, EnvID: p.envID, Seq: ev.Seq,
			Detail: "error requested by the event"}
	case ActionTimeout:
		// Ignore ctx cancellation on purpose: a handler that stops at the deadline would let a
		// target that never enforces timeouts pass unnoticed.
		deadline, ok := ctx.Deadline()
		if !ok { // aws-lambda-go always sets one; this only bounds a direct caller's mistake
			deadline = time.Now().Add(maxBackgroundDelay)
		}
		time.Sleep(time.Until(deadline.Add(p.cfg.timeoutOvershoot)))
		return nil, &RequestedError{Action: ev.Action, EnvID: p.envID, Seq: ev.Seq,
			Detail: fmt.Sprintf("still running %s past the deadline: the target did not stop it", p.cfg.timeoutOvershoot)}
	case ActionCrash:
		p.cfg.exit(3)
		return nil, &RequestedError{Action: ev.Action, EnvID: p.envID, Seq: ev.Seq, Detail: "exit(3) returned"}
	}
	return rep, nil
}

// RequestedError is what Handle returns when the event asked for a failure. aws-lambda-go uses the
// error's type name as errorType, so the function error payload says "RequestedError" and a runner
// can tell an asked-for failure from a genuine one.
type RequestedError struct {
	Action Action
	EnvID  string
	Seq    int64
	Detail string
}

func (e *RequestedError) Error() string {
	return fmt.Sprintf("tenantcheck probe: action %q (env %s, seq %d): %s", e.Action, e.EnvID, e.Seq, e.Detail)
}

// EventError is what Handle returns for an event it refuses. Its type name becomes errorType
// ("EventError"), so a runner can tell "the probe would not run this" from a genuine failure,
// for instance a probe too old for the runner's schema.
type EventError struct {
	Reason string
}

func (e *EventError) Error() string { return "tenantcheck probe: " + e.Reason }

// validateEvent refuses what the probe cannot honour before anything is planted, so a bad
// event leaves no trace that a later invocation could mistake for a leak.
func validateEvent(ev Event) error {
	if ev.Schema > SchemaVersion {
		return &EventError{fmt.Sprintf("event schema %d is newer than this probe's schema %d: redeploy the probe from the tenantcheck that sends these events", ev.Schema, SchemaVersion)}
	}
	if ev.Schema < 0 {
		return &EventError{fmt.Sprintf("invalid event schema %d", ev.Schema)}
	}
	switch ev.Action {
	case ActionNone, ActionError, ActionTimeout, ActionCrash:
	default:
		return &EventError{fmt.Sprintf("unknown action %q", ev.Action)}
	}
	if ev.BackgroundDelay < 0 || ev.BackgroundDelay > maxBackgroundDelay {
		return &EventError{fmt.Sprintf("backgroundDelayNs %d outside [0, %s]", ev.BackgroundDelay, maxBackgroundDelay)}
	}
	if ev.Hold < 0 || ev.Hold > maxBackgroundDelay {
		return &EventError{fmt.Sprintf("holdNs %d outside [0, %s]", ev.Hold, maxBackgroundDelay)}
	}
	if ev.ReportURL != "" {
		if err := checkReportURL(ev.ReportURL); err != nil {
			return &EventError{err.Error()}
		}
	}
	if ev.S3 != nil {
		if err := ev.S3.validate(); err != nil {
			return &EventError{err.Error()}
		}
	}
	if fd := ev.FrontDoor; fd != nil && fd.Endpoint != "" {
		if u, err := url.Parse(fd.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &EventError{fmt.Sprintf("frontDoor.endpoint %q: want an http or https URL", fd.Endpoint)}
		}
	}
	return nil
}

// randomHex returns 128 random bits as hex. crypto/rand never fails on Linux (Go aborts the
// process instead), so there is no error to handle.
func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logReport writes rep as one report line (see ReportLogLine) with a single Write, so lines of
// concurrent invocations, and the runtime's own lines, cannot interleave with it: os.Stdout
// holds its file descriptor's lock for a whole Write, and reportMu covers other writers. A
// report too big for a line is written as an error line instead, and the error is returned.
func (p *Probe) logReport(rep *Report) error {
	line, _, lineErr := ReportLogLine(rep)
	p.reportMu.Lock()
	_, err := p.cfg.reportOut.Write(line)
	p.reportMu.Unlock()
	switch {
	case lineErr != nil:
		return fmt.Errorf("log report: %w", lineErr)
	case err != nil:
		return fmt.Errorf("log report: write: %w", err)
	}
	return nil
}
