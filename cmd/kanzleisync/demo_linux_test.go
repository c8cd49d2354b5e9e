package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"kanzleisync/app/config"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
	"kanzleisync/platform/instance"
	"kanzleisync/platform/keyring/keyringtest"
)

// A second `kanzleisync demo` while one runs: it brings the first to the
// front and exits before its own emulator exists — the shared demo
// settings keep pointing at the running demo's emulator. Once the first
// has ended, the demo runs.
func TestSecondDemoLeavesTheFirstAlone(t *testing.T) {
	dir := testsupport.TempDir(t)
	bin := filepath.Join(dir, "kanzleisync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "demo")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	var shown atomic.Int32
	first, err := instance.Acquire(data, func() { shown.Add(1) }) // the running demo
	if err != nil {
		t.Fatal(err)
	}
	_, service := keyringtest.Real(t)
	demo := func() (string, error) {
		cmd := exec.Command(bin, "-data-dir", data, "demo", "--headless")
		cmd.Env = append(os.Environ(), "KANZLEISYNC_KEYRING_SERVICE="+service)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := demo()
	if err != nil || !strings.Contains(out, "Die Demo läuft schon") || strings.Contains(out, "Emulator") {
		t.Fatalf("second demo: %v\n%s", err, out)
	}
	if shown.Load() != 1 {
		t.Errorf("the running demo was asked to show itself %d times, want 1", shown.Load())
	}
	st, err := store.Open(filepath.Join(data, "kanzleisync.db"))
	if err != nil {
		t.Fatal(err)
	}
	ents, err := config.NewRepo(st.DB()).Entities(context.Background())
	st.Close()
	if err != nil || len(ents) != 0 {
		t.Errorf("the second demo wrote settings: %v %+v", err, ents)
	}
	first.Close()
	if out, err := demo(); err != nil || !strings.Contains(out, "Die Testmail wurde versendet.") {
		t.Errorf("demo after the first ended: %v\n%s", err, out)
	}
}
