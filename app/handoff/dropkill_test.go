package handoff_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/handoff"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

// TestKilledMailDrop kills the process that delivers fetched messages (300,
// and 100 more whenever almost all are delivered) into a mail drop
// (Maildir: tmp → fsync → new) with SIGKILL after a random number of them
// reached new/ (KANZLEISYNC_KILLS times, default 5; make bench uses more),
// then lets one run finish. Every message is in new/ exactly once, whole,
// and tmp/ is empty.
func TestKilledMailDrop(t *testing.T) {
	kills := testsupport.Kills(t, "KANZLEISYNC_DROP_CHILD", 5)
	dir := testsupport.TempDir(t)
	storePath, drop := filepath.Join(dir, "k.db"), filepath.Join(dir, "Ablage")
	want := map[string][]byte{}
	total := 0
	// add stores n more fetched messages (the parent holds the store only
	// while no child runs)
	add := func(n int) {
		st, err := store.Open(storePath)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for i := total; i < total+n; i++ {
			id := fmt.Sprintf("<d%d@example.org>", i)
			raw := []byte(fmt.Sprintf("From: mandant%d@example.org\r\nMessage-ID: %s\r\nSubject: Nachricht %d\r\n\r\n%s\r\n", i, id, i, strings.Repeat("Schriftsatz zur Akte. ", 2000)))
			want[id] = raw
			if err := st.StoreMessages(context.Background(), store.Message{Account: anna, UIDL: fmt.Sprint("up", i), Raw: raw, Fetched: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		total += n
	}
	add(300)
	count := func() int {
		entries, _ := os.ReadDir(filepath.Join(drop, "new"))
		return len(entries)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	landed, finishedFirst := 0, 0
	for round := 0; ; round++ {
		if round < kills && count() >= total-10 { // almost all delivered: more mail came in
			add(100)
		}
		child := testsupport.StartChild(t, "TestMailDropChild", "KANZLEISYNC_DROP_CHILD=1", "STORE="+storePath, "DROP="+drop)
		if round >= kills {
			never := make(chan struct{})
			if finished, err := child.KillOn(never); !finished || err != nil {
				t.Fatalf("the last run: %v", err)
			}
			break
		}
		before := count()
		at := before + 1 + rng.IntN(max(1, total-before-1))
		kill := make(chan struct{})
		go func() {
			// the event: the at-th message reached new/ (checked as fast as
			// the directory can be read)
			for count() < at {
				select {
				case <-child.Exited():
					return
				default:
					runtime.Gosched()
				}
			}
			close(kill)
		}()
		finished, err := child.KillOn(kill)
		if err != nil && finished {
			t.Fatalf("round %d: the child failed: %v", round, err)
		}
		if finished {
			finishedFirst++
		} else if c := count(); c < total {
			landed++
		}
	}
	t.Logf("%d kills, %d landed while messages were being delivered (%d runs finished before their kill)", kills, landed, finishedFirst)
	if landed == 0 {
		t.Error("no kill landed during the delivery; the test proves nothing")
	}
	seen := map[string]int{}
	entries, _ := os.ReadDir(filepath.Join(drop, "new"))
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(drop, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		id := m.Header.Get("Message-ID")
		seen[id]++
		if !bytes.Equal(raw, want[id]) {
			t.Errorf("%s (%s) is not the fetched message (%d bytes of %d)", e.Name(), id, len(raw), len(want[id]))
		}
	}
	if len(seen) != total {
		t.Errorf("%d of %d messages in the mail drop", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(drop, "tmp")); len(left) != 0 {
		t.Errorf("%d files left in tmp/", len(left))
	}
}

// TestMailDropChild is the process the kill test kills: it delivers what
// the store has not yet put into the mail drop.
func TestMailDropChild(t *testing.T) {
	if os.Getenv("KANZLEISYNC_DROP_CHILD") == "" {
		t.Skip("run by TestKilledMailDrop")
	}
	st, err := store.Open(os.Getenv("STORE"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handoff.DropPending(context.Background(), st, anna, os.Getenv("DROP"), time.Now()); err != nil {
		t.Fatal(err)
	}
}

// A full disk while delivering into the mail drop: the delivery stops with
// the German „ist voll“, no half-written file is left in new/ or tmp/, the
// messages not delivered stay in the store, and once there is room again
// the rest arrives, each message once. Needs a small tmpfs (root).
func TestMailDropFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a full disk needs a small tmpfs, which only root can mount (make test runs as root in CI)")
	}
	dir := filepath.Join(testsupport.TempDir(t), "klein")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	st := openStore(t)
	for i := range 5 {
		raw := fmt.Sprintf("From: mandant%d@example.org\r\nMessage-ID: <voll%d@example.org>\r\nSubject: Nachricht %d\r\n\r\n%s\r\n", i, i, i, strings.Repeat("x", 300<<10))
		if err := st.StoreMessages(context.Background(), store.Message{Account: anna, UIDL: fmt.Sprint("v", i), Raw: []byte(raw), Fetched: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	drop := filepath.Join(dir, "Ablage")
	n, err := handoff.DropPending(context.Background(), st, anna, drop, time.Now())
	var de *handoff.DropError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "ist voll") || n == 0 || n >= 5 {
		t.Fatalf("full disk: %d delivered, %v", n, err)
	}
	for _, sub := range []string{"new", "tmp"} {
		entries, _ := os.ReadDir(filepath.Join(drop, sub))
		for _, e := range entries {
			if info, _ := e.Info(); sub == "tmp" || info.Size() < 300<<10 {
				t.Errorf("%s/%s left (%d bytes)", sub, e.Name(), info.Size())
			}
		}
	}
	if left, _ := st.Undropped(context.Background(), anna); len(left) != 5-n {
		t.Errorf("%d undelivered in the store, want %d", len(left), 5-n)
	}
	// room again: the IT cleared the disk (here: the first files were imported)
	entries, _ := os.ReadDir(filepath.Join(drop, "new"))
	for _, e := range entries {
		if err := os.Remove(filepath.Join(drop, "new", e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	m, err := handoff.DropPending(context.Background(), st, anna, drop, time.Now())
	if err != nil || n+m != 5 {
		t.Fatalf("after clearing: %d more, %v", m, err)
	}
	if left, _ := st.Undropped(context.Background(), anna); len(left) != 0 {
		t.Errorf("%d still undelivered", len(left))
	}
}
