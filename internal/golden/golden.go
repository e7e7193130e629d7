// Package golden compares test output with files under a package's testdata/ and rewrites them
// when a test is run with -update. Every package's golden tests share it, so one flag spelling
// and one failure message serve them all.
//
// Import it from _test.go files only: importing registers the -update flag on the standard flag
// set, which a test binary parses and a command's own flags must not inherit.
package golden

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// update is the one configuration global this project allows: test binaries read their options
// from flags registered at init, and `go test ./pkg -update` must reach every golden test.
var update = flag.Bool("update", false, "rewrite golden files under testdata/ instead of comparing with them")

// Assert fails t unless got equals the file at path (relative to the package directory, so under
// its testdata/). Under -update it writes got to path instead, creating directories as needed,
// so the diff of the rewrite is what a reviewer reads.
func Assert[T ~string | ~[]byte](t testing.TB, path string, got T) {
	t.Helper()
	if err := check(path, []byte(got), *update); err != nil {
		t.Error(err)
	}
}

// check compares got with the file at path, or rewrites the file when rewrite is set.
func check(path string, got []byte, rewrite bool) error {
	if rewrite {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("golden %s: %w", path, err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			return fmt.Errorf("golden %s: %w", path, err)
		}
		return nil
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("golden %s does not exist (run the test with -update to create it): %w", path, err)
	}
	if err != nil {
		return fmt.Errorf("golden %s: %w", path, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("output differs from golden %s (if intended, run the test with -update and review the diff):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
	return nil
}
