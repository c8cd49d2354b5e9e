// Package keyringtest gives tests the real OS keyring under a service name
// of their own, removed when the test ends.
package keyringtest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"runtime"
	"testing"

	"kanzleisync/platform/keyring"
)

// Real returns the Secret Service keyring (gnome-keyring in the D-Bus
// session of `make test`) under a fresh service name, and that name. The
// test is skipped without a D-Bus session, and fails when .ci/with-keyring
// promised one. keys are deleted when the test ends.
func Real(t testing.TB, keys ...string) (*keyring.Store, string) {
	t.Helper()
	// Linux's keyring is the Secret Service on the session bus; Windows'
	// (the Credential Manager, also under Wine) needs none
	if runtime.GOOS == "linux" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		if os.Getenv("KANZLEISYNC_IN_KEYRING_SESSION") != "" {
			t.Fatal("inside .ci/with-keyring but without a D-Bus session")
		}
		t.Skip("needs the Secret Service: run through `make test` (.ci/with-keyring)")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	service := "kanzleisync-test-" + hex.EncodeToString(b)
	st := keyring.New(service)
	t.Cleanup(func() {
		for _, k := range keys {
			_ = st.Delete(k)
		}
	})
	return st, service
}
