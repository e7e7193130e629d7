package probes

import (
	"cmp"
	"slices"
	"strings"
)

const (
	// maxFoundPerPlace caps one place's findings in a report.
	maxFoundPerPlace = 256
	// foundBudget keeps the whole report under 256 KB, leaving room for identity and Planted.
	foundBudget = 240 << 10
	// foundOverhead approximates the JSON keys and punctuation of one Found.
	foundOverhead = 160
)

// placeRank is the order places appear in a report (placeOrder); an unknown place sorts last.
func placeRank(p Place) int {
	for i, q := range placeOrder {
		if q == p {
			return i
		}
	}
	return len(placeOrder)
}

// compareFound orders a report deterministically: place, then seq, then nonce, then where.
func compareFound(a, b Found) int {
	if a.Place != b.Place {
		if c := cmp.Compare(placeRank(a.Place), placeRank(b.Place)); c != 0 {
			return c
		}
		return strings.Compare(string(a.Place), string(b.Place))
	}
	if a.Canary.Seq != b.Canary.Seq {
		return cmp.Compare(a.Canary.Seq, b.Canary.Seq)
	}
	if c := strings.Compare(a.Canary.Nonce, b.Canary.Nonce); c != 0 {
		return c
	}
	return strings.Compare(a.Where, b.Where)
}

// selectFound caps and sorts findings. When it must drop some, it keeps canaries that are
// foreign to this invocation (another run, tenant, or context tenant) before its own, and newer
// before older, so a capped report still shows a leak; truncated says something was dropped.
func selectFound(all []Found, runID, tenant, ctxTenant string) ([]Found, bool) {
	return selectFoundWithin(all, runID, tenant, ctxTenant, foundBudget)
}

// selectFoundWithin is selectFound with an explicit size budget, so a channel with a smaller
// limit than a response (a log line) can cut the same way: foreign canaries last to go.
func selectFoundWithin(all []Found, runID, tenant, ctxTenant string, budget int) ([]Found, bool) {
	foreign := func(f Found) bool {
		return f.Canary.RunID != runID || f.Canary.Tenant != tenant || f.Canary.ContextTenant != ctxTenant
	}
	priority := func(a, b Found) int {
		fa, fb := foreign(a), foreign(b)
		if fa != fb {
			if fa {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.Canary.Seq, a.Canary.Seq)
	}
	byPlace := map[Place][]Found{}
	for _, f := range all {
		byPlace[f.Place] = append(byPlace[f.Place], f)
	}
	// The invocation's own canaries (same run, same ground-truth and context tenant) prove
	// nothing, and a warm environment piles them up by the hundred: keep the newest few per place
	// and drop the rest before any foreign one is at risk, so reports stay small.
	for p, fs := range byPlace {
		slices.SortStableFunc(fs, priority)
		own, kept := 0, fs[:0]
		for _, f := range fs {
			if !foreign(f) {
				if own == maxOwnPerPlace {
					continue
				}
				own++
			}
			kept = append(kept, f)
		}
		byPlace[p] = kept
	}
	truncated := false
	for limit := maxFoundPerPlace; ; limit /= 2 {
		size, kept := 0, 0
		for _, fs := range byPlace {
			n := min(len(fs), limit)
			if n < len(fs) {
				slices.SortStableFunc(fs, priority)
			}
			for _, f := range fs[:n] {
				size += foundSize(f)
			}
			kept += n
		}
		if size <= budget || limit == 1 {
			out := make([]Found, 0, kept)
			for _, fs := range byPlace {
				if len(fs) > limit {
					truncated = true
					fs = fs[:limit]
				}
				out = append(out, fs...)
			}
			slices.SortFunc(out, compareFound)
			return out, truncated
		}
	}
}

// maxOwnPerPlace is how many of the invoking tenant's own canaries a report keeps per place:
// enough to show the place works and state survives, not the whole history.
const maxOwnPerPlace = 2

// foundSize estimates the JSON size of f without encoding it.
func foundSize(f Found) int {
	c := f.Canary
	return foundOverhead + len(c.Nonce) + len(c.RunID) + len(c.Tenant) + len(c.ContextTenant) +
		len(c.EnvID) + len(c.RequestID) + 2*len(c.Place) + len(f.Where) + 20
}
