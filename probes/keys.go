package probes

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	// keyPrefix starts the description of every key the probe adds, so a scan recognises them
	// and never reads anyone else's.
	keyPrefix = "tenantcheck:"
	// keyTimeout makes every planted key expire on its own: on a target that keeps keys apart
	// they die with the environment anyway, and where they do not (a uid's user keyring in the
	// host's user namespace) they are not left on the host for long.
	keyTimeout = 15 * 60
	// keyOtherRead lets the possessor and the owner do anything and everyone else view, read and
	// search: the key a careless function makes readable to all.
	keyOtherRead = 0x3f3f0000 | 0x0b
	// maxKeyScan bounds the keys one scan reads.
	maxKeyScan = 64
	// maxKeyPayload bounds a canary read back from a key (a canary is a few hundred bytes).
	maxKeyPayload = 4096
)

// keyRing is one keyring the probe plants in and scans: its special ID and its name in reports.
type keyRing struct {
	id   int
	name string
}

// keyStore is PlaceKeys: the kernel's key retention service. A key the function adds to its user
// keyring (@u) or session keyring (@s), or makes readable by others, must not reach another
// tenant's environment. On Lambda each environment is its own microVM; a self-hosted target has
// to give every environment its own user namespace and session keyring.
//
// Each environment keeps one key per role, replaced by each plant, so keys never pile up
// against the uid's quota. A scan reads the keyrings and, for keys of other owners made
// readable to all, /proc/keys.
type keyStore struct {
	user, session keyRing
	procKeys      string // "" skips /proc/keys (a private keyring in tests)
	// private skips the key readable by others: a probe run on the host (tests, as root)
	// must not show every environment of every target on the host a key.
	private bool
}

func (s *keyStore) place() Place { return PlaceKeys }

// defaultKeyStore uses the environment's real user and session keyrings.
func defaultKeyStore() *keyStore {
	// As in a login session, the user keyring is reachable from the session keyring, so the
	// function possesses it (and the keys in it) and may set its keys' permissions. Only into a
	// session keyring of its own, still empty: one that already holds something is shared (a
	// faulty target's), and every environment nesting its user keyring there makes each read
	// of /proc/keys search all of them for every key, which slowed a whole host to a crawl.
	if len(keyringMembers(unix.KEY_SPEC_SESSION_KEYRING)) == 0 {
		_, _ = unix.KeyctlInt(unix.KEYCTL_LINK, unix.KEY_SPEC_USER_KEYRING, unix.KEY_SPEC_SESSION_KEYRING, 0, 0)
	}
	return &keyStore{
		user:     keyRing{unix.KEY_SPEC_USER_KEYRING, "@u"},
		session:  keyRing{unix.KEY_SPEC_SESSION_KEYRING, "@s"},
		procKeys: "/proc/keys",
	}
}

// privateKeyStore plants in one fresh keyring linked into the process keyring, which dies with
// the process: tests that run the probe on the host leave no key behind and see no other
// test's keys.
func privateKeyStore() *keyStore {
	id, err := unix.AddKey("keyring", keyPrefix+"private-"+randomHex(), nil, unix.KEY_SPEC_PROCESS_KEYRING)
	if err != nil {
		return &keyStore{user: keyRing{0, "private"}, session: keyRing{0, "private"}}
	}
	// A process keyring is possessed only by the threads that saw it made, and Go moves
	// goroutines between threads: give the owner every right, so any thread of this process
	// may use the ring without possessing it. Nobody else may even see it.
	_ = unix.KeyctlSetperm(id, 0x3f3f0000)
	r := keyRing{id, "private"}
	return &keyStore{user: r, session: r, private: true}
}

func (s *keyStore) plant(c Canary, _ *Event) PlantResult {
	if s.user.id == 0 {
		return PlantResult{Error: "no keyring could be made for the probe"}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return PlantResult{Error: "encode canary: " + err.Error()}
	}
	var errs, where []string
	for _, k := range []struct {
		role string
		ring keyRing
		perm int
	}{
		{"u", s.user, 0},
		{"s", s.session, 0},
		{"o", s.user, keyOtherRead},
	} {
		if k.perm != 0 && s.private {
			continue
		}
		desc := keyPrefix + c.EnvID + ":" + k.role
		id, err := unix.AddKey("user", desc, payload, k.ring.id)
		if err != nil {
			errs = append(errs, fmt.Sprintf("add %s to %s: %v", desc, k.ring.name, err))
			continue
		}
		if s.private {
			// The owner's, from any thread (see privateKeyStore). Only a possessor may set it,
			// and the key is possessed only on threads whose credentials hold the process
			// keyring: from another thread this fails and the plant says so.
			k.perm = 0x3f3f0000
		}
		if k.perm != 0 {
			if err := unix.KeyctlSetperm(id, uint32(k.perm)); err != nil {
				errs = append(errs, fmt.Sprintf("setperm %s: %v", desc, err))
			}
		}
		_, _ = unix.KeyctlInt(unix.KEYCTL_SET_TIMEOUT, id, keyTimeout, 0, 0)
		where = append(where, k.ring.name)
	}
	if len(where) == 0 {
		return PlantResult{Error: strings.Join(errs, "; ")}
	}
	res := PlantResult{Planted: true, Where: "keys in " + strings.Join(where, ", ")}
	if len(errs) > 0 {
		res.Error = strings.Join(errs, "; ")
	}
	return res
}

func (s *keyStore) scan(sc *scanState) {
	if s.user.id == 0 {
		return
	}
	seen := map[int]bool{}
	for _, r := range []keyRing{s.user, s.session} {
		for _, id := range keyringMembers(r.id) {
			s.take(sc, seen, id, r.name)
		}
	}
	if s.procKeys != "" {
		for _, id := range othersKeys(s.procKeys) {
			s.take(sc, seen, id, "/proc/keys")
		}
	}
}

// take reads key id, once per scan, if it is one of the probe's.
func (s *keyStore) take(sc *scanState, seen map[int]bool, id int, where string) {
	if seen[id] || len(seen) >= maxKeyScan {
		return
	}
	seen[id] = true
	desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
	if err != nil {
		return
	}
	// "type;uid;gid;perm;description"
	parts := strings.SplitN(desc, ";", 5)
	if len(parts) != 5 || parts[0] != "user" || !strings.HasPrefix(parts[4], keyPrefix) {
		return
	}
	if cap(sc.buf) < maxKeyPayload {
		sc.buf = make([]byte, maxKeyPayload)
	}
	buf := sc.buf[:maxKeyPayload] // the scan's buffer, reused: this runs at every invocation
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
	if err != nil || n > len(buf) {
		return
	}
	var c Canary
	if json.Unmarshal(buf[:n], &c) != nil || c.Nonce == "" {
		return
	}
	sc.add(c, PlaceKeys, where+" "+parts[4])
}

// keyringMembers lists the keys linked into keyring ring (nil when it cannot be read).
func keyringMembers(ring int) []int {
	buf := make([]byte, 4*maxKeyScan)
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, ring, buf, 0)
	if err != nil {
		return nil
	}
	n = min(n, len(buf))
	ids := make([]int, 0, n/4)
	for i := 0; i+4 <= n; i += 4 {
		ids = append(ids, int(int32(binary.NativeEndian.Uint32(buf[i:]))))
	}
	return ids
}

// othersKeys lists the IDs of probe keys in /proc/keys (which shows the keys this process may
// view), for keys another environment made readable to all.
func othersKeys(path string) []int {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var ids []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() && len(ids) < maxKeyScan {
		// "0ab12cd3 I--Q---  1 perm 3f3f000b  uid  gid user tenantcheck:...: 123"
		f := strings.Fields(sc.Text())
		if len(f) < 9 || f[7] != "user" || !strings.HasPrefix(f[8], keyPrefix) {
			continue
		}
		id, err := strconv.ParseUint(f[0], 16, 32)
		if err != nil {
			continue
		}
		ids = append(ids, int(int32(id)))
	}
	return ids
}
