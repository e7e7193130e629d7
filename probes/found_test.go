package probes

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/internal/golden"
)

// TestReportWireGolden pins the JSON a runner reads: a renamed or retyped field shows up here
// before it breaks a runner of another version.
func TestReportWireGolden(t *testing.T) {
	c := Canary{Nonce: "0123456789abcdef0123456789abcdef", RunID: "run-1", Tenant: "tenant-a",
		ContextTenant: "tenant-a", EnvID: "fedcba9876543210fedcba9876543210", RequestID: "req-1", Seq: 1, Place: PlaceTmp}
	rep := Report{
		Schema: SchemaVersion, EnvID: "00112233445566778899aabbccddeeff", PID: 7,
		StartedAt: time.Date(2025, 11, 25, 17, 0, 0, 0, time.UTC), LogStream: "2025/11/25/[$LATEST]abc",
		Cold: false, Invocations: 2, RequestID: "req-2", ContextTenant: "tenant-b",
		RunID: "run-1", Tenant: "tenant-b", Seq: 2,
		Found: []Found{{Canary: c, Place: PlaceTmp, Where: "/tmp/tenantcheck-canary-0123456789abcdef0123456789abcdef.json"}},
		Planted: []PlantResult{
			{Place: PlaceTmp, Planted: true, Nonce: "aa", Where: "/tmp/tenantcheck-canary-aa.json"},
			{Place: PlaceHome, Nonce: "bb", Error: "HOME is not set"},
		},
		CodeDirWritable: false, ProcessesSeen: 3, ProcessesReadable: 1,
	}
	got, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, filepath.Join("testdata", "report.golden.json"), append(got, '\n'))
}

func TestSelectFoundFitsBudget(t *testing.T) {
	long := strings.Repeat("t", 256) // the longest tenant id the API allows
	var all []Found
	for i, place := range allPlaces {
		for seq := int64(1); seq <= 300; seq++ {
			c := Canary{Nonce: randomHex(), RunID: "run", Tenant: long, ContextTenant: long, EnvID: randomHex(),
				RequestID: randomHex(), Seq: seq, Place: place}
			if seq == 300 && i%2 == 0 {
				c.Tenant = strings.Repeat("x", 256)
			}
			all = append(all, Found{Canary: c, Place: place, Where: "/some/where/" + c.Nonce})
		}
	}
	// Read by another run, every canary is foreign: the size budget alone must bound the report.
	out, truncated := selectFound(all, "another-run", long, long)
	if !truncated {
		t.Error("truncated = false")
	}
	data, err := json.Marshal(Report{Found: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(data) >= 256<<10 {
		t.Errorf("report of %d bytes, want under 256 KB", len(data))
	}
	perPlace := map[Place]int{}
	foreign := map[Place]bool{}
	for _, f := range out {
		perPlace[f.Place]++
		foreign[f.Place] = foreign[f.Place] || f.Canary.Tenant != long
	}
	for i, place := range allPlaces {
		if perPlace[place] == 0 || perPlace[place] > maxFoundPerPlace {
			t.Errorf("%s: kept %d", place, perPlace[place])
		}
		if foreign[place] != (i%2 == 0) {
			t.Errorf("%s: foreign canary kept = %v, want %v", place, foreign[place], i%2 == 0)
		}
	}
}

func TestSelectFoundKeepsFewOwnAndEveryForeign(t *testing.T) {
	var all []Found
	for seq := int64(1); seq <= 300; seq++ {
		c := Canary{Nonce: randomHex(), RunID: "run", Tenant: "me", ContextTenant: "me", Seq: seq, Place: PlaceTmp}
		if seq == 7 {
			c.Tenant = "someone-else"
		}
		all = append(all, Found{Canary: c, Place: PlaceTmp, Where: "/tmp/" + c.Nonce})
	}
	out, truncated := selectFound(all, "run", "me", "me")
	if truncated {
		t.Error("dropping own canaries is not truncation of evidence")
	}
	var own []int64
	foreign := 0
	for _, f := range out {
		if f.Canary.Tenant == "me" {
			own = append(own, f.Canary.Seq)
		} else {
			foreign++
		}
	}
	slices.Sort(own)
	if foreign != 1 || !slices.Equal(own, []int64{299, 300}) {
		t.Errorf("kept own %v and %d foreign, want own [299 300] and 1 foreign", own, foreign)
	}
}
