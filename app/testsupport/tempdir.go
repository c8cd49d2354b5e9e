package testsupport

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TempDir is t.TempDir, also under Wine: there Go's os.RemoveAll fails on
// every file („unlinkat …: Invalid function“ — Wine 8 lacks the
// FileDispositionInformationEx it uses), which fails each test at its
// cleanup, so on Windows the directory is removed file by file when
// RemoveAll cannot. A file still open at the end (a leak the test should
// see) fails the test as with t.TempDir.
func TempDir(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "windows" {
		return t.TempDir()
	}
	name := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`<>:"/\|?* `, r) {
			return '_'
		}
		return r
	}, t.Name())
	if len(name) > 64 {
		name = name[:64]
	}
	dir, err := os.MkdirTemp("", name)
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err == nil {
			return
		}
		if err := removeTree(dir); err != nil {
			t.Errorf("TempDir cleanup: %v", err)
		}
	})
	return dir
}

// removeTree removes dir with os.Remove, deepest entries first.
func removeTree(dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	slices.Reverse(paths) // children before their directory
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}
