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
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

// TestKilledOutbox kills the process that sends the outbox with SIGKILL
// right after the emulator accepted the k-th message (KANZLEISYNC_KILLS
// times, default 5; make bench uses more) while it sends 200 queued
// messages and the emulator's SMTP answers 10 % of them with a transient
// 451 and drops the connection on 5 %, then lets one run finish: every message arrives at the
// recipient, and the doubles the SMTP window allows (a kill after the
// server's 250 and before "sent" is written) are counted and reported.
func TestKilledOutbox(t *testing.T) {
	kills := testsupport.Kills(t, "KANZLEISYNC_OUTBOX_CHILD", 5)
	sim := simtest.Start(t, nil, m365sim.Options{})
	sim.SetFaults(m365sim.Faults{SMTPTempFail: 0.1, SMTPDrop: 0.05})
	jens := "jens.schaefer@kanzlei.example"
	storePath := filepath.Join(testsupport.TempDir(t), "k.db")
	st, err := store.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	const total = 200
	for i := range total {
		raw := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: Schriftsatz %d\r\nMessage-ID: <o%d@kanzlei.example>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0100\r\n\r\nText %d\r\n", anna, jens, i, i, i)
		if _, err := st.Enqueue(context.Background(), anna, []string{jens}, []byte(raw), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	accepted := make(chan struct{}, 4*total)
	sim.Watch(func(r m365sim.LoggedRequest) {
		if r.Service == "smtp" && r.Method == "DATA" && r.Status == 250 {
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	})
	tok := simtest.SignIn(t, sim, anna, "https://outlook.office.com/SMTP.Send").AccessToken
	ca := filepath.Join(testsupport.TempDir(t), "ca.pem")
	if err := os.WriteFile(ca, sim.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	env := []string{"KANZLEISYNC_OUTBOX_CHILD=1", "STORE=" + storePath, "SMTP_ADDR=" + sim.SMTPAddr(), "SMTP_TOKEN=" + tok, "CA=" + ca}
	landed := 0
	for range kills {
		child := testsupport.StartChild(t, "TestOutboxChild", env...)
		k := 1 + rng.IntN(total/kills)
		kill := make(chan struct{})
		stop := make(chan struct{})
		go func() {
			for range k {
				select {
				case <-accepted:
				case <-stop:
					return
				}
			}
			close(kill)
		}()
		if ended, err := child.KillOn(kill); ended {
			close(stop)
			if err != nil {
				t.Fatalf("the outbox child ended with %v", err)
			}
		} else {
			landed++
		}
	}
	// a last run to the end
	child := testsupport.StartChild(t, "TestOutboxChild", append(env, "UNTIL_EMPTY=1")...)
	if ended, err := child.KillOn(nil); !ended || err != nil {
		t.Fatalf("the last run: %v", err)
	}
	state, err := sim.State(jens)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range state.Messages {
		seen[fmt.Sprint(m["subject"])]++
	}
	doubles := 0
	for i := range total {
		switch n := seen[fmt.Sprintf("Schriftsatz %d", i)]; {
		case n == 0:
			t.Errorf("Schriftsatz %d never arrived", i)
		case n > 1:
			doubles += n - 1
		}
	}
	injected := 0
	for _, r := range sim.Requests() {
		if r.Service == "smtp" && r.Method == "DATA" && r.ErrorCode != "" && strings.HasPrefix(r.ErrorCode, "injected") {
			injected++
		}
	}
	t.Logf("%d kills, %d landed while sending; %d injected 451s and drops; %d of %d messages arrived twice (the documented SMTP window)", kills, landed, injected, doubles, total)
	if injected == 0 {
		t.Error("no SMTP fault was injected")
	}
	if landed == 0 {
		t.Error("no kill landed while sending; the test proves nothing")
	}
	st, err = store.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counts, _ := st.OutboxCounts(context.Background(), anna)
	if counts[store.Sent] != total {
		t.Errorf("outbox %v, want %d sent", counts, total)
	}
}

// TestOutboxChild is the process the kill test kills: the outbox worker
// sending to the emulator's SMTP.
func TestOutboxChild(t *testing.T) {
	if os.Getenv("KANZLEISYNC_OUTBOX_CHILD") == "" {
		t.Skip("run by TestKilledOutbox")
	}
	st, err := store.Open(os.Getenv("STORE"))
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(os.Getenv("CA"))
	sender := &mail.Sender{Tokens: testsupport.StaticTokens{Token: os.Getenv("SMTP_TOKEN")}}
	acc := mail.Account{Address: anna, Addr: os.Getenv("SMTP_ADDR"), TLS: testsupport.TLSFromPEM(pem), Timeout: 2 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ob := &handoff.Outbox{Store: st, Account: anna, Pause: func(int) time.Duration { return 0 }, Send: func(ctx context.Context, raw []byte, rcpts []string) error {
		return sender.SendRaw(ctx, acc, raw, rcpts)
	}}
	ob.OnDone = func() {
		due, _ := st.Due(context.Background(), anna, time.Now().Add(time.Hour))
		switch {
		case len(due) > 0:
			ob.Kick() // retries are due at once here, not after the minute's poll
		case os.Getenv("UNTIL_EMPTY") != "":
			cancel()
		}
	}
	_ = ob.Run(ctx)
}
