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
	data, err := os.ReadFile(procCgroup)
	if err != nil {
		return ""
	}
	var v1, v2 string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
		}
		for _, ctl := range strings.Split(parts[1], ",") {
			if ctl == "pids" {
				v1 = parts[2]
			}
		}
	}
	dir := ""
	switch {
	case v1 != "":
		dir = filepath.Join(root, "pids", v1)
	case v2 != "":
		dir = filepath.Join(root, v2)
	default:
		return ""
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
