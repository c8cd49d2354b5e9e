package instance

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSecondStartShowsTheFirst(t *testing.T) {
	dir := tempDir(t)
	shown := make(chan struct{}, 1)
	first, err := Acquire(dir, func() { shown <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(dir, nil); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Acquire = %v, want ErrRunning", err)
	}
	select {
	case <-shown:
	case <-time.After(5 * time.Second):
		t.Fatal("the first instance was not asked to show itself")
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, err := Acquire(dir, nil)
	if err != nil {
		t.Fatalf("after Close the next start must become the instance: %v", err)
	}
	third.Close()
}

func TestStaleFileAfterCrash(t *testing.T) {
	dir := tempDir(t)
	// A crashed instance leaves its file behind; the port no longer answers.
	if err := os.WriteFile(filepath.Join(dir, fileName), []byte(`{"addr":"127.0.0.1:1","token":"x","pid":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(dir, nil)
	if err != nil {
		t.Fatalf("a stale file must not block the start: %v", err)
	}
	l.Close()
}

func TestWrongTokenIsIgnored(t *testing.T) {
	dir := tempDir(t)
	shown := make(chan struct{}, 1)
	l, err := Acquire(dir, func() { shown <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if ask(record{Addr: l.ln.Addr().String(), Token: "not-the-token"}) {
		t.Fatal("a request with a wrong token was answered")
	}
	select {
	case <-shown:
		t.Fatal("a request with a wrong token showed the window")
	case <-time.After(200 * time.Millisecond):
	}
}

// A crashed instance's port taken by another local process that accepts
// and answers like the instance (issue 19: it received the token and every
// later start exited with „läuft bereits“): the squatter never gets the
// token, and the next start becomes the instance.
func TestSquatterOnTheStalePort(t *testing.T) {
	dir := tempDir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	heard := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 512)
				n, _ := c.Read(b)
				heard <- string(b[:n])
				fmt.Fprint(c, "ok\nproof 00 11\n") // whatever might pass
			}()
		}
	}()
	const token = "0123456789abcdef0123456789abcdef"
	rec := fmt.Sprintf(`{"addr":%q,"token":%q,"pid":1}`, ln.Addr().String(), token)
	if err := os.WriteFile(filepath.Join(dir, fileName), []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(dir, nil)
	if err != nil {
		t.Fatalf("a squatter on the stale port blocked the start: %v", err)
	}
	defer l.Close()
	select {
	case got := <-heard:
		if strings.Contains(got, token) {
			t.Errorf("the squatter received the token: %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the start did not try the recorded port")
	}
	if l.ln.Addr().String() == ln.Addr().String() {
		t.Fatal("impossible: same port")
	}
}

// tempDir is t.TempDir, also under Wine, whose missing
// FileDispositionInformationEx fails Go's RemoveAll on every entry (and
// with it t.TempDir's cleanup); os.Remove works there. The directory holds
// files only.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "instance")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
		if err := os.Remove(dir); err != nil {
			t.Errorf("tempDir cleanup: %v", err)
		}
	})
	return dir
}
