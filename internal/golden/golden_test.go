package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		file    string // existing content of the golden file; "-" means none
		got     string
		rewrite bool
		wantErr string // substring of the error; "" means none
		want    string // the file's content afterwards
	}{
		{name: "equal", file: "a\n", got: "a\n", want: "a\n"},
		{name: "differs", file: "a\n", got: "b\n", wantErr: "differs from golden", want: "a\n"},
		{name: "trailing newline counts", file: "a\n", got: "a", wantErr: "differs from golden", want: "a\n"},
		{name: "missing", file: "-", got: "a", wantErr: "-update to create it"},
		{name: "update rewrites", file: "a\n", got: "b\n", rewrite: true, want: "b\n"},
		{name: "update creates directories", file: "-", got: "b\n", rewrite: true, want: "b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "testdata", "sub", "x.golden")
			if tt.file != "-" {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tt.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := check(path, []byte(tt.got), tt.rewrite)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("check: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("check: error %v, want one containing %q", err, tt.wantErr)
			}
			if tt.want == "" {
				return
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("file holds %q afterwards, want %q", b, tt.want)
			}
		})
	}
}

// TestAssertTakesStringsAndBytes pins that both kinds of output callers have compile and pass.
func TestAssertTakesStringsAndBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("same"), 0o644); err != nil {
		t.Fatal(err)
	}
	if *update {
		t.Skip("-update would rewrite the file instead of comparing")
	}
	Assert(t, path, "same")
	Assert(t, path, []byte("same"))
}
