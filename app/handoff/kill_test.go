package handoff_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/handoff"
	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

const killPassword = "lokales-Passwort-fuer-den-Kill-Test"

// TestKilledHandoff kills the process that serves the local POP3 server
// with SIGKILL in the middle of the Kommunikator's sessions — after some
// RETRs, or right after QUIT was sent — again and again (KANZLEISYNC_KILLS
// times, default 10; make bench uses more), while the Kommunikator (a
// client that remembers the UIDLs it has, as POP3 clients do when they may
// meet a message twice) fetches and deletes 300 messages. At the end every
// message reached the Kommunikator exactly once and is marked taken once.
func TestKilledHandoff(t *testing.T) {
	kills := testsupport.Kills(t, "KANZLEISYNC_HANDOFF_CHILD", 10)
	dir := testsupport.TempDir(t)
	storePath := filepath.Join(dir, "k.db")
	st, err := store.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	const total = 300
	for i := range total {
		raw := fmt.Sprintf("From: mandant%d@example.org\r\nMessage-ID: <h%d@example.org>\r\nSubject: Nachricht %d\r\n\r\n%s\r\n", i, i, i, strings.Repeat("Schriftsatz. ", 300))
		if err := st.StoreMessages(context.Background(), store.Message{Account: anna, UIDL: fmt.Sprint("up", i), Raw: []byte(raw)}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	have := map[string]bool{}    // UIDLs the Kommunikator keeps
	received := map[string]int{} // Message-IDs it stored
	retrievedTwice, midSession, afterQuit, sessions := 0, 0, 0, 0
	for round := 0; ; round++ {
		addrFile := filepath.Join(dir, fmt.Sprintf("addr%d", round))
		child := testsupport.StartChild(t, "TestHandoffChild", "KANZLEISYNC_HANDOFF_CHILD=1", "STORE="+storePath, "ADDR_FILE="+addrFile)
		var addr string
		testsupport.Eventually(t, 20*time.Second, "the child's POP3 server", func() bool {
			b, err := os.ReadFile(addrFile)
			addr = strings.TrimSpace(string(b))
			return err == nil && strings.HasSuffix(string(b), "\n")
		})
		kill := make(chan struct{})
		killed := round < kills
		// the kill lands in the middle: after a random RETR, or right after QUIT
		atQuit, killAt := rng.IntN(4) == 0, 0
		done, n, err := kommunikator(addr, have, received, &retrievedTwice, func(step string, retrieved, listed int) {
			if !killed {
				return
			}
			if killAt == 0 && listed > 0 {
				killAt = 1 + rng.IntN(listed)
			}
			switch {
			case step == "message" && !atQuit && retrieved == killAt:
				midSession++
				close(kill)
			case step == "quit" && (atQuit || retrieved < killAt):
				afterQuit++
				close(kill)
			}
		}, kill)
		sessions++
		if killed {
			select {
			case <-kill:
			default:
				close(kill) // no moment came up: kill it anyway between sessions
			}
			if _, cerr := child.KillOn(kill); cerr != nil {
				t.Fatal(cerr)
			}
		} else {
			stop := make(chan struct{})
			close(stop)
			child.KillOn(stop)
		}
		if err == nil && done && n == 0 && !killed {
			break
		}
		if round > kills+20 {
			t.Fatalf("not done after %d rounds", round)
		}
	}
	t.Logf("%d kills (%d in the middle of a session, after a RETR or DELE; %d right after QUIT), %d sessions; a client that does not keep UIDLs would have stored %d messages twice",
		kills, midSession, afterQuit, sessions, retrievedTwice)
	if midSession == 0 {
		t.Error("no kill fell into the middle of a session; the test proves nothing")
	}
	if len(received) != total {
		t.Errorf("the Kommunikator has %d distinct messages, want %d", len(received), total)
	}
	for id, n := range received {
		if n != 1 {
			t.Errorf("%s stored %d times", id, n)
		}
	}
	st, err = store.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if w, _ := st.Waiting(context.Background(), anna); len(w) != 0 {
		t.Errorf("%d messages still waiting", len(w))
	}
}

// kommunikator runs one session: list, retrieve what it does not have yet,
// delete everything listed, quit. hook is told each step; kill ends the
// session early (the child is being killed); hook counts the messages
// handled (retrieved or known, and deleted). It reports whether QUIT was
// answered and how many messages were listed.
func kommunikator(addr string, have map[string]bool, received map[string]int, twice *int, hook func(step string, retrieved, listed int), kill <-chan struct{}) (bool, int, error) {
	c, err := mail.Dial(context.Background(), addr, mail.PlainLoopback, nil, 5*time.Second)
	if err != nil {
		return false, 0, err
	}
	defer c.Close()
	if err := c.AuthUserPass(anna, killPassword); err != nil {
		return false, 0, err
	}
	list, err := c.List()
	if err != nil {
		return false, 0, err
	}
	retrieved, handled := 0, 0
	for _, e := range list {
		select {
		case <-kill:
			return false, len(list), nil
		default:
		}
		if !have[e.UIDL] {
			raw, err := c.Retr(e.Num, 1<<20)
			if err != nil {
				return false, len(list), err
			}
			id := headerOf(string(raw), "Message-ID")
			received[id]++
			have[e.UIDL] = true
			retrieved++
		} else {
			*twice++
		}
		if err := c.Dele(e.Num); err != nil {
			return false, len(list), err
		}
		handled++
		hook("message", handled, len(list))
	}
	hook("quit", handled, len(list))
	select {
	case <-kill:
		return false, len(list), nil
	default:
	}
	return c.Quit() == nil, len(list), nil
}

func headerOf(raw, name string) string {
	for _, l := range strings.Split(raw, "\r\n") {
		if l == "" {
			break
		}
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestHandoffChild is the process the kill test kills: the local POP3
// server on a fresh port, its address written to ADDR_FILE.
func TestHandoffChild(t *testing.T) {
	if os.Getenv("KANZLEISYNC_HANDOFF_CHILD") == "" {
		t.Skip("run by TestKilledHandoff")
	}
	st, err := store.Open(os.Getenv("STORE"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &handoff.POP3Server{Store: st, Passwords: func(a string) (string, bool) { return killPassword, strings.EqualFold(a, anna) }}
	ln, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(os.Getenv("ADDR_FILE"), []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = srv.Serve(context.Background(), ln)
}
