package runner

// tracker decides reuse opportunities from the runner's own interleaving. A target that
// wrongly shares environments between tenants can only do so when some other tenant has an
// environment (it completed an invocation) and that environment is free (the tenant has
// nothing in flight). Counting those moments tells a check whether "no leak seen" means
// anything. It is not safe for concurrent use; the executor holds its lock.
type tracker struct {
	inflight  []int
	completed []int
	// ready counts tenants with completed > 0 and inflight == 0, so begin is O(1).
	ready int
}

func newTracker(tenants int) *tracker {
	return &tracker{inflight: make([]int, tenants), completed: make([]int, tenants)}
}

func (t *tracker) isReady(i int) bool { return t.completed[i] > 0 && t.inflight[i] == 0 }

// begin records an invocation of tenant i being issued and reports whether it was an
// opportunity: another tenant was ready at that moment.
func (t *tracker) begin(i int) bool {
	others := t.ready
	if t.isReady(i) {
		others--
		t.ready-- // i stops being idle
	}
	t.inflight[i]++
	return others > 0
}

// end records an invocation of tenant i finishing; completed says it left an environment
// behind (it returned, and did not crash or time out).
func (t *tracker) end(i int, completed bool) {
	// i had this invocation in flight, so it was not ready before.
	t.inflight[i]--
	if completed {
		t.completed[i]++
	}
	if t.isReady(i) {
		t.ready++
	}
}
