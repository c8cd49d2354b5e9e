package service

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// The hand-over file: written sealed (DPAPI on Windows — this test runs
// there too, cross-compiled under Wine), taken into a store, then gone; a
// store that fails keeps the file so nothing is lost; a damaged file is
// refused in words.
func TestHandoverRoundTrip(t *testing.T) {
	// not t.TempDir: Wine 8 cannot remove the folder, which would fail the test
	base, err := os.MkdirTemp("", "handover")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	dir := filepath.Join(base, "server")
	if err := RestrictDir(dir); err != nil {
		t.Fatal(err)
	}
	creds := []Credential{{Entity: "Kanzlei", Kind: "certificate", Key: "entity/Kanzlei/certificate", Value: "-----BEGIN PRIVATE KEY-----\nMIIE…\n"}}
	if err := WriteHandover(dir, creds); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, HandoverFile))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" && bytes.Contains(raw, []byte("PRIVATE KEY")) {
		t.Error("the hand-over file holds the key in clear text")
	}
	// a failing keyring: the file stays
	if _, err := TakeHandover(dir, func(string, string) error { return errors.New("locked") }); err == nil || !HandoverPending(dir) {
		t.Fatalf("failing store: err %v, pending %v", err, HandoverPending(dir))
	}
	got := map[string]string{}
	taken, err := TakeHandover(dir, func(k, v string) error { got[k] = v; return nil })
	if err != nil || len(taken) != 1 || taken[0].Value != "" || got["entity/Kanzlei/certificate"] != creds[0].Value {
		t.Fatalf("take: %v %+v %q", err, taken, got)
	}
	if HandoverPending(dir) {
		t.Error("the file is still there after the take")
	}
	if taken, err := TakeHandover(dir, func(string, string) error { return errors.New("called") }); err != nil || taken != nil {
		t.Errorf("nothing to take: %v %v", taken, err)
	}
	if err := os.WriteFile(filepath.Join(dir, HandoverFile), []byte("kaputt"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := TakeHandover(dir, func(string, string) error { return nil }); err == nil || !HandoverPending(dir) {
		t.Errorf("damaged file: %v", err)
	}
}
