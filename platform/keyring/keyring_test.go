package keyring_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"

	"kanzleisync/platform/keyring"
	"kanzleisync/platform/keyring/keyringtest"
)

// limitedBackend behaves like Windows Credential Manager, with this
// package's own stricter limit checked on every write.
type limitedBackend struct {
	mu      sync.Mutex
	entries map[string]string
	fail    error
}

func newLimited() *limitedBackend { return &limitedBackend{entries: map[string]string{}} }

func (b *limitedBackend) Set(s, u, p string) error {
	if b.fail != nil {
		return b.fail
	}
	if len(p) > keyring.MaxEntry {
		return fmt.Errorf("entry of %d bytes exceeds %d", len(p), keyring.MaxEntry)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entries[s+"/"+u] = p
	return nil
}

func (b *limitedBackend) Get(s, u string) (string, error) {
	if b.fail != nil {
		return "", b.fail
	}
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

func TestSplitKeepsEveryEntryUnder2000Bytes(t *testing.T) {
	b := newLimited()
	st := keyring.NewWithBackend("kanzleisync-test", b)
	sixKB := strings.Repeat("Refresh-Token-ÄÖÜ-", 340) // 6,120 bytes, umlauts across part borders
	for _, secret := range []string{"kurz", sixKB, strings.Repeat("x", keyring.MaxEntry), "", "wieder kurz"} {
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

func TestDamagedSecretsAreDetected(t *testing.T) {
	b := newLimited()
	st := keyring.NewWithBackend("svc", b)
	long := strings.Repeat("y", 5000)
	mustSet := func(v string) {
		if err := st.Set("k", v); err != nil {
			t.Fatal(err)
		}
	}
	mustSet(long)
	delete(b.entries, "svc/k#1")
	if _, err := st.Get("k"); !errors.Is(err, keyring.ErrDamaged) {
		t.Errorf("missing part: %v", err)
	}

	// a part of an older secret of the same length
	mustSet(strings.Repeat("a", 5000))
	oldPart := b.entries["svc/k#2"]
	mustSet(strings.Repeat("b", 5000))
	b.entries["svc/k#2"] = oldPart
	if _, err := st.Get("k"); !errors.Is(err, keyring.ErrDamaged) {
		t.Errorf("foreign part: %v", err)
	}

	// a part whose content was altered in place
	mustSet(long)
	p := b.entries["svc/k#1"]
	b.entries["svc/k#1"] = p[:len(p)-1] + "z"
	if _, err := st.Get("k"); !errors.Is(err, keyring.ErrDamaged) {
		t.Errorf("altered part: %v", err)
	}

	b.entries["svc/k"] = "irgendwas"
	if _, err := st.Get("k"); !errors.Is(err, keyring.ErrDamaged) {
		t.Errorf("no header: %v", err)
	}
}

func TestUnavailableKeyring(t *testing.T) {
	b := newLimited()
	b.fail = errors.New("The name org.freedesktop.secrets was not provided by any .service files")
	st := keyring.NewWithBackend("svc", b)
	if err := st.Set("k", "geheim"); !errors.Is(err, keyring.ErrUnavailable) {
		t.Errorf("set: %v", err)
	}
	if _, err := st.Get("k"); !errors.Is(err, keyring.ErrUnavailable) {
		t.Errorf("get: %v", err)
	}
}

// TestRealKeyring stores a 6 KB secret in the real Secret Service
// (gnome-keyring in the D-Bus session that `make test` starts).
func TestRealKeyring(t *testing.T) {
	key := "test/" + t.Name()
	st, service := keyringtest.Real(t, key)
	secret := strings.Repeat("0.AQ0A-echtes-Geheimnis-", 256) // 6,144 bytes
	if err := st.Set(key, secret); err != nil {
		t.Fatalf("set: %v", err)
	}
	got, err := st.Get(key)
	if err != nil || got != secret {
		t.Fatalf("get: %d bytes, %v", len(got), err)
	}
	for i := 0; ; i++ {
		name := key
		if i > 0 {
			name = fmt.Sprintf("%s#%d", key, i)
		}
		entry, err := gokeyring.Get(service, name)
		if err != nil {
			if i < 4 {
				t.Fatalf("a 6 KB secret should take 4 entries, found %d", i)
			}
			break
		}
		if len(entry) > keyring.MaxEntry {
			t.Errorf("entry %s holds %d bytes", name, len(entry))
		}
	}
	if err := st.Delete(key); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(key); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

// TestRealKeyringWithoutDBus runs in a child process, because godbus keeps
// one session-bus connection per process.
func TestRealKeyringWithoutDBus(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Secret Service over D-Bus is Linux's keyring")
	}
	if os.Getenv("KEYRING_TEST_CHILD") == "1" {
		err := keyring.New("kanzleisync-test").Set("k", "geheim")
		if !errors.Is(err, keyring.ErrUnavailable) {
			fmt.Printf("err = %v, want ErrUnavailable\n", err)
			os.Exit(1)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRealKeyringWithoutDBus$")
	cmd.Env = append(os.Environ(), "KEYRING_TEST_CHILD=1", "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/kanzleisync-test-bus")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("child: %v\n%s", err, out)
	}
}

// hangingBackend never answers until released, like a Secret Service
// that is stuck.
type hangingBackend struct {
	release chan struct{}
	calls   atomic.Int32
}

func (b *hangingBackend) wait() error {
	b.calls.Add(1)
	<-b.release
	return nil
}
func (b *hangingBackend) Set(s, u, p string) error        { return b.wait() }
func (b *hangingBackend) Get(s, u string) (string, error) { return "", b.wait() }
func (b *hangingBackend) Delete(s, u string) error        { return b.wait() }

// A keyring that does not answer fails the call after keyring.Timeout with
// ErrUnavailable; while that call still hangs, the next fails at once
// (nothing piles up behind it); once it answers, the keyring works again.
func TestHangingKeyringFailsInTime(t *testing.T) {
	old := keyring.Timeout
	keyring.Timeout = 200 * time.Millisecond
	t.Cleanup(func() { keyring.Timeout = old })
	b := &hangingBackend{release: make(chan struct{})}
	st := keyring.NewWithBackend("svc", b)
	start := time.Now()
	_, err := st.Get("k")
	took := time.Since(start)
	if !errors.Is(err, keyring.ErrUnavailable) || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("get on a hanging keyring: %v", err)
	}
	t.Logf("the hanging call returned after %v (timeout %v)", took, keyring.Timeout)
	if err := st.Set("k", "geheim"); !errors.Is(err, keyring.ErrUnavailable) || !strings.Contains(err.Error(), "has not answered yet") {
		t.Errorf("set while the first call hangs: %v", err)
	}
	if n := b.calls.Load(); n != 1 {
		t.Errorf("%d calls reached the hanging keyring, want 1", n)
	}
	close(b.release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := st.Get("k")
		if err == nil || errors.Is(err, keyring.ErrDamaged) { // the stand-in answers "" (no header)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the keyring stays unusable after the hanging call ended: %v", err)
		}
		runtime.Gosched()
	}
}

// Without a session bus nothing is autolaunched: the call fails at once
// with ErrUnavailable and dbus-launch (here a stand-in that leaves a mark)
// is never started. In a child process: godbus keeps one bus per process.
func TestNoSessionBusLaunchesNothing(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Secret Service over D-Bus is Linux's keyring")
	}
	if os.Getenv("KEYRING_TEST_CHILD") == "1" {
		err := keyring.New("kanzleisync-test").Set("k", "geheim")
		if !errors.Is(err, keyring.ErrUnavailable) || !strings.Contains(err.Error(), "no D-Bus session bus") {
			fmt.Printf("err = %v, want ErrUnavailable for a missing session bus\n", err)
			os.Exit(1)
		}
		return
	}
	if _, err := os.Stat(fmt.Sprintf("/run/user/%d/bus", os.Getuid())); err == nil {
		t.Skip("this machine has a user bus in /run/user; a missing bus cannot be made here")
	}
	dir := t.TempDir()
	mark := filepath.Join(dir, "dbus-launch-started")
	fake := "#!/bin/sh\ntouch " + mark + "\nexec sleep 3600\n"
	if err := os.WriteFile(filepath.Join(dir, "dbus-launch"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "DBUS_SESSION_BUS_ADDRESS=") && !strings.HasPrefix(e, "XDG_RUNTIME_DIR=") && !strings.HasPrefix(e, "PATH=") {
			env = append(env, e)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoSessionBusLaunchesNothing$")
	cmd.Env = append(env, "KEYRING_TEST_CHILD=1", "XDG_RUNTIME_DIR="+filepath.Join(dir, "run"), "PATH="+dir+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("child: %v\n%s", err, out)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Error("dbus-launch was started")
	}
}
