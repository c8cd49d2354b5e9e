package browser_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/platform/browser"
)

// TestOpenCallsXDGOpen puts a stand-in xdg-open first on PATH and checks
// that it receives the address.
func TestOpenCallsXDGOpen(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "opened")
	script := "#!/bin/sh\nprintf '%s' \"$1\" > " + out + "\n"
	if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	want := "http://127.0.0.1:8365/kanzlei.onmicrosoft.com/oauth2/v2.0/authorize?client_id=x&state=a%26b"
	if err := browser.Open(want); err != nil {
		t.Fatalf("open: %v", err)
	}
	var got []byte
	for range 50 {
		if got, _ = os.ReadFile(out); len(got) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if string(got) != want {
		t.Errorf("xdg-open got %q, want %q", got, want)
	}
}

func TestOpenWithoutBrowser(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := browser.Open("https://login.microsoftonline.com/")
	if !errors.Is(err, browser.ErrNotOpened) {
		t.Errorf("err = %v, want ErrNotOpened", err)
	}
}

func TestOpenRefusesOtherSchemes(t *testing.T) {
	for _, u := range []string{"file:///etc/passwd", "javascript:alert(1)", "kein url", ""} {
		if err := browser.Open(u); err == nil || !strings.Contains(err.Error(), "only http and https") {
			t.Errorf("%q: %v", u, err)
		}
	}
}
