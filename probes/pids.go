package probes

import (
	"os"
	"path/filepath"
	"strings"
)

// readPidsMax returns the process limit of this process's pids cgroup, read from the cgroup
// file system under root for the path /proc/self/cgroup (at procCgroup) names: cgroup v1's pids
// hierarchy or the unified v2 one. The root cgroup has no limit file and means "max"; "" means
// the limit could not be read (no cgroup file system in view).
func readPidsMax(procCgroup, root string) string {
	v1, v2, ok := ownCgroupPaths(procCgroup, "pids")
	if !ok {
		return ""
	}
	dir := filepath.Join(root, "pids", v1)
	if v1 == "" {
		dir = filepath.Join(root, v2)
	}
	b, err := os.ReadFile(filepath.Join(dir, "pids.max"))
	if err != nil {
		if _, serr := os.Stat(dir); serr == nil && (v1 == "/" || (v1 == "" && v2 == "/")) {
			return "max" // the root cgroup: nothing limits it
		}
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ownCgroupPaths reads procCgroup (/proc/self/cgroup) for this process's path in controller's
// v1 hierarchy, or failing that its path in the unified v2 one; ok is false when neither shows.
func ownCgroupPaths(procCgroup, controller string) (v1, v2 string, ok bool) {
	data, err := os.ReadFile(procCgroup)
	if err != nil {
		return "", "", false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
		}
		for _, ctl := range strings.Split(parts[1], ",") {
			if ctl == controller {
				v1 = parts[2]
			}
		}
	}
	if v1 != "" {
		return v1, "", true
	}
	return "", v2, v2 != ""
}
