package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRunCreatesDataDirAndAnswers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "neu")
	if code := run(dir, []string{"config", "show"}); code != 0 {
		t.Fatalf("config show: exit %d", code)
	}
	for _, f := range []string{"kanzleisync.db", "kanzleisync.log"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if info, _ := os.Stat(dir); info.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %v, want 0700", info.Mode().Perm())
	}
	if code := run(dir, []string{"unbekannt"}); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}
