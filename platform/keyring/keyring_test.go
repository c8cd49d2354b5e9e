package keyring_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	gokeyring "github.com/zalando/go-keyring"

	"kanzleisync/platform/keyring"
)

// limitedBackend behaves like Windows Credential Manager: at most 2,560 bytes an entry.
type limitedBackend struct {
	mu      sync.Mutex
	entries map[string]string
}

func (b *limitedBackend) Set(s, u, p string) error {
	if len(p) > 2560 {
		return fmt.Errorf("entry of %d bytes exceeds 2560", len(p))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entries[s+"/"+u] = p
	return nil
}

func (b *limitedBackend) Get(s, u string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.entries[s+"/"+u]
	if !ok {
		return "", gokeyring.ErrNotFound
	}
	return v, nil
}

func (b *limitedBackend) Delete(s, u string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.entries[s+"/"+u]; !ok {
		return gokeyring.ErrNotFound
	}
	delete(b.entries, s+"/"+u)
	return nil
}

func TestChunkingUnderTheWindowsLimit(t *testing.T) {
	b := &limitedBackend{entries: map[string]string{}}
	st := keyring.NewWithBackend("kanzleisync-test", b)
	long := strings.Repeat("Refresh-Token-ÄÖÜ-", 400) // 7,600 bytes, umlauts across part borders
	for _, secret := range []string{"kurz", long, strings.Repeat("x", keyring.ChunkSize), "wieder kurz"} {
		if err := st.Set("anna/refresh", secret); err != nil {
			t.Fatalf("set %d bytes: %v", len(secret), err)
		}
		got, err := st.Get("anna/refresh")
		if err != nil || got != secret {
			t.Fatalf("round trip of %d bytes: got %d bytes, err %v", len(secret), len(got), err)
		}
	}
	if len(b.entries) != 1 {
		t.Errorf("%d entries after shrinking to a short secret, want 1 (old parts removed)", len(b.entries))
	}
	if err := st.Delete("anna/refresh"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get("anna/refresh"); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if err := st.Delete("anna/refresh"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
}

func TestMissingPartIsAnError(t *testing.T) {
	b := &limitedBackend{entries: map[string]string{}}
	st := keyring.NewWithBackend("kanzleisync-test", b)
	if err := st.Set("k", strings.Repeat("y", 5000)); err != nil {
		t.Fatal(err)
	}
	delete(b.entries, "kanzleisync-test/k#1")
	if _, err := st.Get("k"); err == nil || errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("a secret with a missing part must not read as complete or as absent: %v", err)
	}
}

// TestRealKeyring stores a long secret in the real Secret Service
// (gnome-keyring in the D-Bus session that `make test` starts).
func TestRealKeyring(t *testing.T) {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		if os.Getenv("KANZLEISYNC_IN_KEYRING_SESSION") != "" {
			t.Fatal("inside .ci/with-keyring but without a D-Bus session")
		}
		t.Skip("no D-Bus session: run through `make test` (.ci/with-keyring)")
	}
	st := keyring.New("kanzleisync-test")
	key := "test/" + t.Name()
	secret := strings.Repeat("0.AQ0A-echtes-Geheimnis-", 200)
	t.Cleanup(func() { _ = st.Delete(key) })
	if err := st.Set(key, secret); err != nil {
		t.Fatalf("set: %v", err)
	}
	got, err := st.Get(key)
	if err != nil || got != secret {
		t.Fatalf("get: %d bytes, %v", len(got), err)
	}
	if err := st.Delete(key); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(key); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}
