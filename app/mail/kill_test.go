package mail_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

// TestKilledFetch kills a fetching process with SIGKILL at random moments
// during a 500-message fetch (KANZLEISYNC_KILLS times, default 10; make bench
// uses 20), then fetches once cleanly: every message is in the store exactly
// once and none is left on the server. The moment of each kill is an event,
// not a timer: the emulator's k-th RETR of the round (k random), so a kill
// lands inside the fetch on a fast machine and a slow one alike.
func TestKilledFetch(t *testing.T) {
	kills := testsupport.Kills(t, "KANZLEISYNC_FETCH_CHILD", 10)
	srv := simtest.Start(t, nil, m365sim.Options{})
	// 25 new messages of about 40 KB arrive before each run: 500 in all with 20 kills
	const perRound = 25
	total := perRound * kills
	body := strings.Repeat("Sehr geehrte Frau Müller, anbei der Schriftsatz. ", 800)
	storePath := filepath.Join(testsupport.TempDir(t), "k.db")
	token := outlookToken(t, srv)
	ca := filepath.Join(testsupport.TempDir(t), "ca.pem")
	if err := os.WriteFile(ca, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	retr := make(chan struct{}, 4*perRound)
	srv.Watch(func(r m365sim.LoggedRequest) {
		if r.Service == "pop3" && r.Method == "RETR" {
			select {
			case retr <- struct{}{}:
			default:
			}
		}
	})
	finished, midFetch := 0, 0
	stored := func() int {
		st, err := store.Open(storePath)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		msgs, _ := st.Messages(context.Background(), anna)
		return len(msgs)
	}
	before := 0
	for round := range kills {
		for i := range perRound {
			if _, err := srv.Deliver(anna, mailText(round*perRound+i, body)); err != nil {
				t.Fatal(err)
			}
		}
		child := testsupport.StartChild(t, "TestFetchChild", "KANZLEISYNC_FETCH_CHILD=1", "POP3_ADDR="+srv.POP3Addr(), "POP3_TOKEN="+token, "STORE="+storePath, "CA="+ca)
		killAt := 2 + rng.IntN(perRound-3) // after the 2nd to the 24th RETR
		reached, stop := make(chan struct{}), make(chan struct{})
		go func() {
			for range killAt {
				select {
				case <-retr:
				case <-stop:
					return
				}
			}
			close(reached)
		}()
		if ended, err := child.KillOn(reached); ended {
			close(stop)
			if err != nil {
				t.Fatalf("a fetch ended with %v", err)
			}
			finished++
		} else {
			after := stored()
			if after > before && after < (round+1)*perRound {
				midFetch++ // killed with part of the mail stored and part not
			}
			before = after
		}
		for len(retr) > 0 { // RETRs the killed child sent after the mark
			<-retr
		}
	}
	t.Logf("%d kills (%d with part of the mail stored), %d fetches finished before their kill", kills-finished, midFetch, finished)
	if midFetch == 0 {
		t.Error("no kill fell into the middle of a fetch; the test proves nothing")
	}
	st, err := store.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: token}}
	if _, err := f.Fetch(context.Background(), simAccount(srv)); err != nil {
		t.Fatalf("clean fetch: %v", err)
	}
	handOff(t, st, time.Now())
	if _, err := f.Fetch(context.Background(), simAccount(srv)); err != nil {
		t.Fatalf("fetch after the hand-off: %v", err)
	}
	msgs, _ := st.Messages(context.Background(), anna)
	seen := storedOnce(t, msgs)
	if len(seen) != total {
		t.Errorf("%d distinct messages stored, want %d", len(seen), total)
	}
	state, _ := srv.State(anna)
	if n := inbox(state); n != 0 {
		t.Errorf("%d messages left on the server", n)
	}
}

// TestFetchChild is the process the kill test kills.
func TestFetchChild(t *testing.T) {
	if os.Getenv("KANZLEISYNC_FETCH_CHILD") == "" {
		t.Skip("run by TestKilledFetch")
	}
	st, err := store.Open(os.Getenv("STORE"))
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(os.Getenv("CA"))
	f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: os.Getenv("POP3_TOKEN")}, BatchBytes: 8 << 10}
	a := mail.Account{Address: anna, Addr: os.Getenv("POP3_ADDR"), Mode: mail.StartTLS, TLS: tlsFromPEM(pem), Timeout: 5 * time.Second}
	if os.Getenv("POP3_PLAIN") != "" { // Dovecot on loopback in make bench
		a.Mode, a.TLS, f.BatchBytes = mail.PlainLoopback, nil, 0
	}
	if _, err := f.Fetch(context.Background(), a); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if os.Getenv("TAKE_AND_DELETE") != "" {
		// make bench: the Kommunikator takes everything at once, and the
		// next session deletes it upstream
		handOff(t, st, time.Now())
		if _, err := f.Fetch(context.Background(), a); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// storedOnce reports each stored message's Message-ID, failing for one
// stored twice.
func storedOnce(t *testing.T, msgs []store.Message) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range msgs {
		id := headerValue(string(m.Raw), "Message-ID")
		if seen[id] {
			t.Errorf("%s stored twice", id)
		}
		seen[id] = true
	}
	return seen
}
