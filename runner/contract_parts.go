package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/tenantcheck/tenantcheck/keyrules"
)

// setup deploys the phase's two functions: PER_TENANT and ordinary, from the same package.
func (r *contractRun) setup(ctx context.Context) error {
	pt, err := r.deploy(ctx, true, "pt", nil)
	r.obs.Function = pt
	if err != nil {
		return err
	}
	ord, err := r.deploy(ctx, false, "ord", nil)
	r.obs.Ordinary = ord
	return err
}

// cleanup deletes every function the phase created, even when ctx is already cancelled.
func (r *contractRun) cleanup(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var errs []error
	for i := len(r.created) - 1; i >= 0; i-- {
		name := r.created[i]
		_, err := r.c.DeleteFunction(cctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name)})
		var nf *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			r.fail("delete function %s: %v", name, err)
			errs = append(errs, fmt.Errorf("contract: delete function %s (left behind): %w", name, err))
		}
	}
	r.created = nil
	for _, name := range r.uncertain {
		if err := r.deleteIfAppears(cctx, name); err != nil {
			r.fail("delete function %s: %v", name, err)
			errs = append(errs, fmt.Errorf("contract: delete function %s (left behind): %w", name, err))
		}
	}
	r.uncertain = nil
	return errors.Join(errs...)
}

// deleteIfAppears deletes a function whose creation we abandoned. The target may still be
// processing the create, so a not-found answer is retried for a bounded while before it is
// believed.
func (r *contractRun) deleteIfAppears(ctx context.Context, name string) error {
	const tries, pause = 10, 200 * time.Millisecond
	for i := 0; i < tries; i++ {
		_, err := r.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name)})
		var nf *types.ResourceNotFoundException
		if err == nil {
			return nil
		}
		if !errors.As(err, &nf) {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
	}
	return nil
}

// maxListPages bounds the ListFunctions walk in accounts with many functions.
const maxListPages = 20

// echo (TI-API-001) reads the configuration back through every operation that returns one.
func (r *contractRun) echo(ctx context.Context) {
	fn := r.obs.Function
	add := func(call ContractCall) { r.obs.Echo = append(r.obs.Echo, call) }

	t0 := time.Now()
	gf, err := r.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
	call := r.sdkCall("GetFunction", "pt", fn, t0, metadataOf(gf, func(o *lambda.GetFunctionOutput) middleware.Metadata { return o.ResultMetadata }), err)
	if err == nil && gf.Configuration != nil {
		call.HasTenancy, call.Tenancy = tenancyOf(gf.Configuration.TenancyConfig)
	}
	add(call)

	add(r.getConfiguration(ctx, "pt", fn, ""))
	add(r.getConfiguration(ctx, "ordinary", r.obs.Ordinary, ""))
	if r.opts.Function != "" {
		add(r.getConfiguration(ctx, "probe", r.opts.Function, r.opts.Qualifier))
	}

	t0 = time.Now()
	call = ContractCall{Op: "ListFunctions", Case: "pt", Function: fn}
	p := lambda.NewListFunctionsPaginator(r.c, &lambda.ListFunctionsInput{MaxItems: aws.Int32(50)})
	found := false
	for page := 0; p.HasMorePages() && page < maxListPages && !found; page++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			call = r.sdkCall("ListFunctions", "pt", fn, t0, middleware.Metadata{}, err)
			break
		}
		call.StatusCode = http.StatusOK
		for _, f := range out.Functions {
			if aws.ToString(f.FunctionName) == fn {
				found = true
				call.HasTenancy, call.Tenancy = tenancyOf(f.TenancyConfig)
			}
		}
	}
	call.Start, call.Duration = t0, time.Since(t0)
	if call.Err == "" && !found {
		call.Err = fmt.Sprintf("function %s not listed in the first %d pages", fn, maxListPages)
	}
	add(call)

	t0 = time.Now()
	uc, err := r.c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(fn), Description: aws.String("tenantcheck contract phase: configuration updated"),
	})
	call = r.sdkCall("UpdateFunctionConfiguration", "pt", fn, t0, metadataOf(uc, func(o *lambda.UpdateFunctionConfigurationOutput) middleware.Metadata { return o.ResultMetadata }), err)
	if err == nil {
		call.HasTenancy, call.Tenancy = tenancyOf(uc.TenancyConfig)
		r.waitUpdated(ctx, fn)
	}
	add(call)

	t0 = time.Now()
	pv, err := r.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(fn)})
	call = r.sdkCall("PublishVersion", "pt", fn, t0, metadataOf(pv, func(o *lambda.PublishVersionOutput) middleware.Metadata { return o.ResultMetadata }), err)
	if err == nil {
		call.HasTenancy, call.Tenancy = tenancyOf(pv.TenancyConfig)
		call.Qualifier = aws.ToString(pv.Version)
		r.obs.Version = call.Qualifier
		if pv.State != types.StateActive {
			w := lambda.NewFunctionActiveV2Waiter(r.c)
			if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn), Qualifier: pv.Version}, r.opts.DeployTimeout); err != nil {
				r.fail("wait for version %s of %s to become Active: %v", call.Qualifier, fn, err)
			}
		}
	} else {
		r.obs.skip(ContractPartVersion, "PublishVersion failed: "+call.Err)
	}
	add(call)
}

func (r *contractRun) getConfiguration(ctx context.Context, label, fn, qualifier string) ContractCall {
	t0 := time.Now()
	out, err := r.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{
		FunctionName: aws.String(fn), Qualifier: optString(qualifier),
	})
	call := r.sdkCall("GetFunctionConfiguration", label, fn, t0, metadataOf(out, func(o *lambda.GetFunctionConfigurationOutput) middleware.Metadata { return o.ResultMetadata }), err)
	call.Qualifier = qualifier
	if err == nil {
		call.HasTenancy, call.Tenancy = tenancyOf(out.TenancyConfig)
	}
	return call
}

// invokeValidation covers TI-API-003..006: tenant ID presence and shape.
func (r *contractRun) invokeValidation(ctx context.Context) {
	pt, ord := r.obs.Function, r.obs.Ordinary
	r.obs.MissingTenant = append(r.obs.MissingTenant,
		r.invoke(ctx, invokeSpec{label: "no-tenant", function: pt}),
		r.invoke(ctx, invokeSpec{label: "no-tenant-event", function: pt, async: true}))
	unexpected := r.tenant("ord")
	r.obs.UnexpectedTenant = append(r.obs.UnexpectedTenant,
		r.invoke(ctx, invokeSpec{label: "tenant", function: ord, tenant: unexpected, hasTenant: true}),
		r.invoke(ctx, invokeSpec{label: "tenant-event", function: ord, tenant: unexpected, hasTenant: true, async: true}))

	long := r.tenant("len")
	long += strings.Repeat("x", MaxTenantIDLen-len(long))
	lengths := []struct{ label, tenant string }{
		{"len-1", randBase32(r.rng, 1)},
		{fmt.Sprintf("len-%d", MaxTenantIDLen), long},
		{fmt.Sprintf("len-%d", MaxTenantIDLen+1), long[:MaxTenantIDLen-1] + "yz"},
	}
	for _, l := range lengths {
		r.obs.TenantLength = append(r.obs.TenantLength, r.invoke(ctx, invokeSpec{label: l.label, function: pt, tenant: l.tenant, hasTenant: true}))
	}

	for _, sep := range keyrules.Separators() {
		if sep.Char == ' ' {
			continue // an inner space is its own case below
		}
		ch := string(sep.Char)
		r.obs.TenantChars = append(r.obs.TenantChars, r.invoke(ctx, invokeSpec{label: "accept:" + ch, function: pt,
			tenant: r.tenant("c") + ch + "x", hasTenant: true}))
	}
	r.obs.TenantChars = append(r.obs.TenantChars, r.invoke(ctx, invokeSpec{label: "accept:inner-space", function: pt,
		tenant: r.tenant("c") + " x", hasTenant: true}))
	for _, ch := range outsidePattern {
		r.obs.TenantChars = append(r.obs.TenantChars, r.invoke(ctx, invokeSpec{label: "reject:" + url.QueryEscape(ch), function: pt,
			tenant: r.tenant("c") + ch + "x", hasTenant: true}))
	}
}

// outsidePattern are characters the tenant ID pattern excludes that can still travel in an
// HTTP header value: ASCII punctuation and non-ASCII letters (sent as UTF-8 bytes).
var outsidePattern = []string{"#", "!", "%", "*", ",", ";", "~", "$", "é", "テ"}

// newTenants (TI-API-007) invokes a batch of never-seen tenants at once.
func (r *contractRun) newTenants(ctx context.Context) {
	tenants := make([]string, r.opts.NewTenants)
	for i := range tenants {
		tenants[i] = r.tenant("new")
	}
	r.obs.NewTenants = r.concurrently(ctx, tenants, func(t string) invokeSpec {
		return invokeSpec{label: "first", function: r.obs.Function, tenant: t, hasTenant: true}
	})
}

// concurrently invokes one spec per tenant, all released at once, and returns the calls in
// tenant order.
func (r *contractRun) concurrently(ctx context.Context, tenants []string, spec func(string) invokeSpec) []ContractCall {
	calls := make([]ContractCall, len(tenants))
	specs := make([]invokeSpec, len(tenants))
	for i, t := range tenants {
		specs[i] = spec(t)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			calls[i] = r.invoke(ctx, specs[i])
		}()
	}
	close(start)
	wg.Wait()
	return calls
}

// coldStarts (TI-API-009): two tenants are warmed up and left idle, then new tenants come one
// at a time, each while idle environments of others exist.
func (r *contractRun) coldStarts(ctx context.Context) {
	pt := r.obs.Function
	for _, w := range []string{r.tenant("warm"), r.tenant("warm")} {
		for range 2 {
			r.obs.ColdStarts = append(r.obs.ColdStarts, r.invoke(ctx, invokeSpec{label: "warm-up", function: pt, tenant: w, hasTenant: true}))
		}
	}
	for range r.opts.NewTenants {
		r.obs.ColdStarts = append(r.obs.ColdStarts, r.invoke(ctx, invokeSpec{label: "new", function: pt, tenant: r.tenant("cold"), hasTenant: true}))
	}
}

// async (TI-API-008): a tenant's sync environment exists and is idle; Event invocations of it
// and of another tenant follow one at a time, each waiting for its report.
func (r *contractRun) async(ctx context.Context) {
	if r.reports == nil {
		r.obs.skip(ContractPartAsync, "no async report channel (report sink or CloudWatch Logs): Event invocations cannot report back")
		return
	}
	pt := r.obs.Function
	a, b := r.tenant("async"), r.tenant("async")
	r.obs.Async = append(r.obs.Async, r.invoke(ctx, invokeSpec{label: "sync", function: pt, tenant: a, hasTenant: true}))
	for _, t := range []string{a, b, a, b} {
		r.obs.Async = append(r.obs.Async, r.invoke(ctx, invokeSpec{label: "event", function: pt, tenant: t, hasTenant: true, async: true}))
		// The probe posts its report before it returns: give the environment time to become
		// idle, so the next Event finds it idle and a target that ignores the tenant reuses it.
		select {
		case <-ctx.Done():
			return
		case <-time.After(asyncSettle):
		}
	}
}

// asyncSettle is the pause after an Event invocation's report arrives.
const asyncSettle = 250 * time.Millisecond

// routing (TI-API-012): streamed invocations, then a published version, each alternating two
// tenants one call at a time so an idle environment of the other tenant always exists.
func (r *contractRun) routing(ctx context.Context) {
	pt := r.obs.Function
	s1, s2 := r.tenant("stream"), r.tenant("stream")
	for i, t := range []string{s1, s2, s1, s2} {
		call := r.invoke(ctx, invokeSpec{label: "stream", function: pt, tenant: t, hasTenant: true, stream: true})
		r.obs.Routing = append(r.obs.Routing, call)
		if i == 0 && notImplemented(call) {
			r.obs.skip(ContractPartStream, "InvokeWithResponseStream is not implemented by the target: "+call.Err)
			break
		}
	}
	if r.obs.Version == "" {
		if _, ok := r.obs.Skipped[ContractPartVersion]; !ok {
			r.obs.skip(ContractPartVersion, "no published version")
		}
		return
	}
	q1, q2 := r.tenant("ver"), r.tenant("ver")
	for _, t := range []string{q1, q2, q1, q2} {
		r.obs.Routing = append(r.obs.Routing, r.invoke(ctx, invokeSpec{label: "version", function: pt, qual: r.obs.Version, tenant: t, hasTenant: true}))
	}
}

// notImplemented recognises a target that lacks the operation altogether.
func notImplemented(c ContractCall) bool {
	return c.ErrorCode == "UnknownOperationException" || c.StatusCode == http.StatusNotImplemented ||
		(c.StatusCode == http.StatusNotFound && c.ErrorCode != "ResourceNotFoundException")
}

// unsupported (TI-API-011) asks for a function URL, provisioned concurrency and SnapStart on
// the PER_TENANT function, and undoes whatever was granted (provisioned concurrency costs).
func (r *contractRun) unsupported(ctx context.Context) {
	pt := r.obs.Function
	add := func(c ContractCall) { r.obs.Unsupported = append(r.obs.Unsupported, c) }
	cctx, cancel := context.WithTimeout(ctx, r.opts.InvokeTimeout)
	defer cancel()

	t0 := time.Now()
	fu, err := r.raw.CreateFunctionUrlConfig(cctx, &lambda.CreateFunctionUrlConfigInput{
		FunctionName: aws.String(pt), AuthType: types.FunctionUrlAuthTypeAwsIam,
	})
	call := r.sdkCall("CreateFunctionUrlConfig", "function-url", pt, t0, metadataOf(fu, func(o *lambda.CreateFunctionUrlConfigOutput) middleware.Metadata { return o.ResultMetadata }), err)
	add(call)
	if err == nil {
		if _, err := r.c.DeleteFunctionUrlConfig(cctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String(pt)}); err != nil {
			r.fail("delete the function URL granted to %s: %v", pt, err)
		}
	}

	if r.obs.Version == "" {
		add(ContractCall{Op: "PutProvisionedConcurrencyConfig", Case: "provisioned-concurrency", Function: pt,
			Err: "not attempted: provisioned concurrency needs a published version and none exists"})
	} else {
		t0 = time.Now()
		pc, err := r.raw.PutProvisionedConcurrencyConfig(cctx, &lambda.PutProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(pt), Qualifier: aws.String(r.obs.Version), ProvisionedConcurrentExecutions: aws.Int32(1),
		})
		call = r.sdkCall("PutProvisionedConcurrencyConfig", "provisioned-concurrency", pt, t0, metadataOf(pc, func(o *lambda.PutProvisionedConcurrencyConfigOutput) middleware.Metadata { return o.ResultMetadata }), err)
		call.Qualifier = r.obs.Version
		add(call)
		if err == nil {
			if _, err := r.c.DeleteProvisionedConcurrencyConfig(cctx, &lambda.DeleteProvisionedConcurrencyConfigInput{
				FunctionName: aws.String(pt), Qualifier: aws.String(r.obs.Version)}); err != nil {
				r.fail("delete the provisioned concurrency granted to %s:%s: %v", pt, r.obs.Version, err)
			}
		}
	}

	t0 = time.Now()
	ss, err := r.raw.UpdateFunctionConfiguration(cctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(pt), SnapStart: &types.SnapStart{ApplyOn: types.SnapStartApplyOnPublishedVersions},
	})
	call = r.sdkCall("UpdateFunctionConfiguration", "snapstart", pt, t0, metadataOf(ss, func(o *lambda.UpdateFunctionConfigurationOutput) middleware.Metadata { return o.ResultMetadata }), err)
	if err == nil {
		call.HasTenancy, call.Tenancy = tenancyOf(ss.TenancyConfig)
		if ss.SnapStart != nil {
			call.SnapStart = string(ss.SnapStart.ApplyOn)
		}
		r.waitUpdated(ctx, pt)
	}
	add(call)
	if err != nil && r.obs.Ordinary != "" {
		r.snapStartControl(ctx, cctx, add)
	}
}

// snapStartControl asks for SnapStart on the ordinary function too, after the PER_TENANT one
// was refused: a runtime without SnapStart (provided.al2023 on AWS) refuses both, and then
// the refusal says nothing about tenancy. A grant is undone at once.
func (r *contractRun) snapStartControl(ctx, cctx context.Context, add func(ContractCall)) {
	ord := r.obs.Ordinary
	t0 := time.Now()
	ss, err := r.raw.UpdateFunctionConfiguration(cctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(ord), SnapStart: &types.SnapStart{ApplyOn: types.SnapStartApplyOnPublishedVersions},
	})
	call := r.sdkCall("UpdateFunctionConfiguration", "snapstart-control", ord, t0, metadataOf(ss, func(o *lambda.UpdateFunctionConfigurationOutput) middleware.Metadata { return o.ResultMetadata }), err)
	if err == nil {
		if ss.SnapStart != nil {
			call.SnapStart = string(ss.SnapStart.ApplyOn)
		}
		r.waitUpdated(ctx, ord)
		// A budget of its own: the shared one may be spent by the wait, and a SnapStart left on
		// would follow the ordinary function into the mode-change part.
		uctx, cancel := context.WithTimeout(ctx, r.opts.InvokeTimeout)
		defer cancel()
		if _, err := r.c.UpdateFunctionConfiguration(uctx, &lambda.UpdateFunctionConfigurationInput{
			FunctionName: aws.String(ord), SnapStart: &types.SnapStart{ApplyOn: types.SnapStartApplyOnNone},
		}); err != nil {
			r.fail("turn off the SnapStart granted to %s: %v", ord, err)
		} else {
			r.waitUpdated(ctx, ord)
		}
	}
	add(call)
}

// capProbe (TI-API-010) sends cap+extra held invocations of distinct new tenants at once.
func (r *contractRun) capProbe(ctx context.Context) {
	if r.opts.CapProbe <= 0 {
		r.obs.skip(ContractPartCap, "environment cap unknown: the target does not publish it and no cap was given")
		return
	}
	r.obs.Cap, r.obs.CapExtra, r.obs.Hold = r.opts.CapProbe, r.opts.CapExtra, r.opts.Hold
	tenants := make([]string, r.opts.CapProbe+r.opts.CapExtra)
	for i := range tenants {
		tenants[i] = r.tenant("cap")
	}
	r.obs.CapCalls = r.concurrently(ctx, tenants, func(t string) invokeSpec {
		return invokeSpec{label: "held", function: r.obs.Function, tenant: t, hasTenant: true,
			hold: r.opts.Hold, timeout: r.opts.Hold + r.opts.InvokeTimeout}
	})
}

// modeChange (TI-API-002) sends UpdateFunctionConfiguration bodies carrying TenancyConfig, which
// the API has no member for, and reads the mode back after each.
func (r *contractRun) modeChange(ctx context.Context) {
	pt := r.obs.Function
	path := "/2015-03-31/functions/" + url.PathEscape(pt) + "/configuration"
	for _, b := range modeChangeBodies {
		call := r.rawRequest(ctx, "UpdateFunctionConfiguration", b.label, http.MethodPut, path, []byte(b.body))
		call.Function = pt
		r.obs.ModeChange = append(r.obs.ModeChange, call)
		if call.OK() {
			r.waitUpdated(ctx, pt)
		}
		r.obs.ModeChange = append(r.obs.ModeChange, r.getConfiguration(ctx, b.label, pt, ""))
	}
}

var modeChangeBodies = []struct{ label, body string }{
	{"empty", `{"TenancyConfig":{}}`},
	{"null", `{"TenancyConfig":null}`},
	{"unknown-mode", `{"TenancyConfig":{"TenantIsolationMode":"SHARED"}}`},
}

// metadataOf returns an output's ResultMetadata, or empty metadata for a failed call.
func metadataOf[T any](out *T, get func(*T) middleware.Metadata) middleware.Metadata {
	if out == nil {
		return middleware.Metadata{}
	}
	return get(out)
}
