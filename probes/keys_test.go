package probes

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestKeyStore plants kernel keys the way two environments would and scans as the second: a
// keyring the two share carries the first one's canary across, separate keyrings do not.
func TestKeyStore(t *testing.T) {
	tests := []struct {
		name      string
		second    func(a *keyStore) *keyStore
		wantFound bool
	}{
		{"shared keyring", func(a *keyStore) *keyStore { return &keyStore{user: a.user, session: a.session} }, true},
		{"own keyring", func(*keyStore) *keyStore { return privateKeyStore() }, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A new key is possessed only by the threads whose credentials hold the process
			// keyring its ring hangs from, and only a possessor may set its permissions: the
			// kernel installs that keyring in the creating thread's credentials alone, so this
			// whole case runs on one thread.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			a := privateKeyStore()
			if a.user.id == 0 {
				t.Skip("the kernel's key retention service is not available here")
			}
			second := tt.second(a)
			planted := Canary{Nonce: randomHex(), RunID: "run", Tenant: "blue", EnvID: "env-blue-" + string(rune('a'+i)), Seq: 1, Place: PlaceKeys}
			res := a.plant(planted, nil)
			if !res.Planted || res.Error != "" {
				t.Fatalf("plant: %+v", res)
			}
			sc := &scanState{}
			second.scan(sc)
			found := false
			for _, f := range sc.found {
				if f.Canary.Nonce == planted.Nonce {
					found = true
					if f.Place != PlaceKeys || f.Canary.Tenant != "blue" {
						t.Errorf("found %+v", f)
					}
				}
			}
			if found != tt.wantFound {
				t.Errorf("second environment found blue's key canary = %v, want %v (scan %+v)", found, tt.wantFound, sc.found)
			}
		})
	}
}

func TestOthersKeys(t *testing.T) {
	const procKeys = `0b5fc5e1 I--Q---     1 perm 3f010000     0     0 keyring   _ses: 1
1c2d3e4f I--Q---     1   1h 3f3f000b 200001 200001 user      tenantcheck:env-a:o: 212
2a2b2c2d I--Q---     1 perm 3f010000 200001 200001 user      other:desc: 12
ffffffff I--Q---     1 perm 3f3f000b 200002 200002 user      tenantcheck:env-b:o: 212
`
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(procKeys), 0o600); err != nil {
		t.Fatal(err)
	}
	got := othersKeys(path)
	want := []int{0x1c2d3e4f, -1}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("othersKeys = %v, want %v", got, want)
	}
}
