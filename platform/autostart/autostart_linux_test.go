package autostart

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLinuxEntry(t *testing.T) {
	s := Switch{Exe: "/opt/kanzleisync/kanzleisync", Dir: filepath.Join(t.TempDir(), "autostart")}
	if s.Enabled() {
		t.Fatal("enabled before Set")
	}
	if err := s.Set(true); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(s.Dir, "kanzleisync.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `Exec="/opt/kanzleisync/kanzleisync"`) || !s.Enabled() {
		t.Fatalf("entry = %q", b)
	}
	if err := s.Set(false); err != nil || s.Enabled() {
		t.Fatalf("Set(false) = %v, enabled %v", err, s.Enabled())
	}
	if err := s.Set(false); err != nil {
		t.Fatalf("switching off twice: %v", err)
	}
}
