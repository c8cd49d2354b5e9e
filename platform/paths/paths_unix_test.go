//go:build !windows

package paths_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"kanzleisync/platform/paths"
)

// A data directory that exists before kanzleisync (a --data-dir made with
// the usual umask, 0755) is tightened to 0700; a new one is made 0700
// whatever the umask.
func TestDataDirIsPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	open := filepath.Join(t.TempDir(), "vorhanden")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{open, filepath.Join(t.TempDir(), "neu", "data")} {
		if _, err := paths.Ensure(dir); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o700 {
			t.Errorf("%s: mode %o, want 700", dir, m)
		}
	}
}
