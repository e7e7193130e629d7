package runner

import (
	"fmt"
	"strings"
)

// ValidateSchedules rejects unknown schedule names before anything is deployed, naming the valid
// ones, so a typo in a CI script fails fast instead of silently running less.
func ValidateSchedules(names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("no schedule selected: choose from %s", strings.Join(AllSchedules(), ", "))
	}
	for _, n := range names {
		if _, ok := scheduleWeight(n); !ok {
			return fmt.Errorf("unknown schedule %q: choose from %s", n, strings.Join(AllSchedules(), ", "))
		}
	}
	return nil
}
