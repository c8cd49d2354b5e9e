package mail_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

const anna = "anna.mueller@kanzlei.example"

func outlookToken(t testing.TB, srv *m365sim.Server) string {
	return simtest.SignIn(t, srv, anna, "https://outlook.office.com/POP.AccessAsUser.All", "offline_access").AccessToken
}

func openStore(t testing.TB) *store.Store {
	st, err := store.Open(filepath.Join(testsupport.TempDir(t), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mailText(i int, body string) []byte {
	return []byte(fmt.Sprintf("From: Gericht <poststelle@lg.example>\r\nTo: %s\r\nSubject: =?utf-8?q?Ladung_Nr=2E_%d_M=C3=BCller?=\r\nMessage-ID: <m%d@lg.example>\r\n\r\n%s\r\n.Zeile mit Punkt\r\n", anna, i, i, body))
}

func simAccount(srv *m365sim.Server) mail.Account {
	return mail.Account{Address: anna, Addr: srv.POP3Addr(), Mode: mail.StartTLS, TLS: simtest.TLSConfig(srv), Timeout: 5 * time.Second}
}

func TestFetchFromEmulator(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	want := map[string]string{}
	for i := range 30 {
		raw := mailText(i, strings.Repeat("Sehr geehrte Damen und Herren, ", i*50))
		want[fmt.Sprintf("<m%d@lg.example>", i)] = string(raw)
		if _, err := srv.Deliver(anna, raw); err != nil {
			t.Fatal(err)
		}
	}
	st := openStore(t)
	f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: outlookToken(t, srv)}, BatchBytes: 16 << 10}
	res, err := f.Fetch(context.Background(), simAccount(srv))
	if err != nil || res.Fetched != 30 || res.Deleted != 0 {
		t.Fatalf("fetch: %+v %v", res, err)
	}
	if state, _ := srv.State(anna); inbox(state) != 30 {
		t.Errorf("%d on the server before the Kommunikator took them, want 30", inbox(state))
	}
	handOff(t, st, time.Now())
	if res, err := f.Fetch(context.Background(), simAccount(srv)); err != nil || res.Fetched != 0 || res.Deleted != 30 {
		t.Fatalf("fetch after the hand-off: %+v %v", res, err)
	}
	msgs, _ := st.Messages(context.Background(), anna)
	if len(msgs) != 30 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	for _, m := range msgs {
		id := headerValue(string(m.Raw), "Message-ID")
		if want[id] != string(m.Raw) {
			t.Errorf("%s: stored bytes differ from what was delivered", id)
		}
	}
	state, _ := srv.State(anna)
	if n := inbox(state); n != 0 {
		t.Errorf("%d messages left on the server", n)
	}
	res, err = f.Fetch(context.Background(), simAccount(srv))
	if err != nil || res != (mail.Result{}) {
		t.Errorf("second fetch: %+v %v", res, err)
	}
}

func headerValue(raw, name string) string {
	for _, l := range strings.Split(raw, "\r\n") {
		if strings.HasPrefix(l, name+": ") {
			return strings.TrimPrefix(l, name+": ")
		}
	}
	return ""
}

func inbox(st *m365sim.MailboxState) int {
	n := 0
	for _, m := range st.Messages {
		if m["_folder"] == "inbox" {
			n++
		}
	}
	return n
}

func TestLeaveOnServerAndSizeLimit(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	for i := range 3 {
		srv.Deliver(anna, mailText(i, "kurz"))
	}
	srv.Deliver(anna, mailText(99, strings.Repeat("x", 2<<20)))
	st := openStore(t)
	now := time.Now()
	f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: outlookToken(t, srv)}, Now: func() time.Time { return now }}
	a := simAccount(srv)
	a.LeaveDays, a.MaxSize = 2, 1<<20
	for range 2 {
		res, err := f.Fetch(context.Background(), a)
		if err != nil || res.Deleted != 0 || res.Skipped != 1 {
			t.Fatalf("fetch: %+v %v", res, err)
		}
	}
	msgs, _ := st.Messages(context.Background(), anna)
	state, _ := srv.State(anna)
	if len(msgs) != 3 || inbox(state) != 4 {
		t.Errorf("%d stored, %d on the server", len(msgs), inbox(state))
	}
	j, _ := st.ReadJournal(context.Background(), store.JournalFilter{Result: "error"})
	if len(j) != 1 || !strings.Contains(j[0].Error, "größer als die eingestellte Grenze") {
		t.Errorf("journal: %+v", j)
	}
	handOff(t, st, now)
	if res, err := f.Fetch(context.Background(), a); err != nil || res.Deleted != 0 {
		t.Errorf("right after the hand-off: %+v %v", res, err)
	}
	now = now.Add(3 * 24 * time.Hour)
	res, err := f.Fetch(context.Background(), a)
	if err != nil || res.Deleted != 3 {
		t.Errorf("after three days: %+v %v", res, err)
	}
	state, _ = srv.State(anna)
	if inbox(state) != 1 {
		t.Errorf("%d left on the server, want the large one", inbox(state))
	}
}

func TestAuthFailures(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	graphToken := simtest.SignIn(t, srv, anna).AccessToken
	f := &mail.Fetcher{Store: openStore(t), Tokens: testsupport.StaticTokens{Token: graphToken}}
	_, err := f.Fetch(context.Background(), simAccount(srv))
	if !errors.Is(err, mail.ErrAuthFailed) {
		t.Errorf("Graph token on POP3: %v", err)
	}
	// a token that expires in the middle of a session does not end it
	srv.Deliver(anna, mailText(1, "eins"))
	tok := outlookToken(t, srv)
	c, err := mail.Dial(context.Background(), srv.POP3Addr(), mail.StartTLS, simtest.TLSConfig(srv), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.AuthXOAUTH2(anna, tok); err != nil {
		t.Fatal(err)
	}
	srv.Advance(2 * time.Hour)
	list, err := c.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("list after expiry: %v %v", list, err)
	}
	if _, err := c.Retr(1, 0); err != nil {
		t.Errorf("RETR after the token expired within the session: %v", err)
	}
}

// fakeServer answers one POP3 session with a script of its own.
func fakeServer(t *testing.T, script func(conn net.Conn, r *bufio.Reader)) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		fmt.Fprint(conn, "+OK ready\r\n")
		script(conn, r)
	}()
	return l.Addr().String()
}

// session runs AUTH and then the rest of the script.
func session(rest func(conn net.Conn, r *bufio.Reader)) func(conn net.Conn, r *bufio.Reader) {
	return func(conn net.Conn, r *bufio.Reader) {
		r.ReadString('\n') // AUTH
		fmt.Fprint(conn, "+OK\r\n")
		rest(conn, r)
	}
}

func fetchFake(t *testing.T, addr string, timeout time.Duration) (mail.Result, *store.Store, error) {
	st := openStore(t)
	f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: "t"}}
	res, err := f.Fetch(context.Background(), mail.Account{Address: anna, Addr: addr, Mode: mail.PlainLoopback, Timeout: timeout})
	return res, st, err
}

func TestBadServers(t *testing.T) {
	// a malformed UIDL line no longer stops the fetch: TestUntrustworthyUIDLsLoseNothing
	t.Run("multi-line answer without the closing dot", func(t *testing.T) {
		addr := fakeServer(t, session(func(conn net.Conn, r *bufio.Reader) {
			r.ReadString('\n')
			fmt.Fprint(conn, "+OK\r\n1 abc\r\n")
		}))
		_, _, err := fetchFake(t, addr, time.Second)
		if !errors.Is(err, mail.ErrProtocol) || !strings.Contains(err.Error(), "without the closing dot") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("server stops answering", func(t *testing.T) {
		addr := fakeServer(t, session(func(conn net.Conn, r *bufio.Reader) {
			r.ReadString('\n')
			time.Sleep(3 * time.Second)
		}))
		start := time.Now()
		_, _, err := fetchFake(t, addr, 300*time.Millisecond)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) > 2*time.Second {
			t.Errorf("err = %v after %v", err, time.Since(start))
		}
	})
	t.Run("connection dropped after RETR", func(t *testing.T) {
		addr := fakeServer(t, session(func(conn net.Conn, r *bufio.Reader) {
			r.ReadString('\n') // UIDL
			fmt.Fprint(conn, "+OK\r\n1 aaa\r\n2 bbb\r\n.\r\n")
			r.ReadString('\n') // LIST
			fmt.Fprint(conn, "+OK\r\n1 20\r\n2 20\r\n.\r\n")
			r.ReadString('\n') // RETR 1
			fmt.Fprint(conn, "+OK\r\nSubject: eins\r\n\r\nText\r\n.\r\n")
			r.ReadString('\n') // RETR 2
			fmt.Fprint(conn, "+OK\r\nSubject: zwei\r\n")
		}))
		res, st, err := fetchFake(t, addr, time.Second)
		if err == nil {
			t.Fatal("no error for a dropped connection")
		}
		msgs, _ := st.Messages(context.Background(), anna)
		if len(msgs) != 1 || msgs[0].UIDL != "aaa" || res.Fetched != 1 {
			t.Errorf("the message read before the drop must be stored: %+v %d", res, len(msgs))
		}
	})
}

func TestThirtyMegabyteMessage(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	big := mailText(1, strings.Repeat(strings.Repeat("A", 76)+"\r\n", 30<<20/78))
	srv.Deliver(anna, big)
	st := openStore(t)
	f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: outlookToken(t, srv)}}
	res, err := f.Fetch(context.Background(), simAccount(srv))
	if err != nil || res.Fetched != 1 {
		t.Fatalf("fetch: %+v %v", res, err)
	}
	msgs, _ := st.Messages(context.Background(), anna)
	if len(msgs) != 1 || len(msgs[0].Raw) < 30<<20-1000 {
		t.Errorf("stored %d bytes", len(msgs[0].Raw))
	}
}

func tlsFromPEM(pem []byte) *tls.Config { return testsupport.TLSFromPEM(pem) }

// A token the server refuses before its time is renewed once; when the
// sign-in itself is gone, the error says so instead of "wrong password".
func TestFetchRenewsARefusedToken(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	if _, err := srv.Deliver(anna, mailText(1, "Text")); err != nil {
		t.Fatal(err)
	}
	tok := &renewingTokens{bad: "abgelaufen.oder.widerrufen", good: outlookToken(t, srv)}
	f := &mail.Fetcher{Store: openStore(t), Tokens: tok}
	if res, err := f.Fetch(context.Background(), simAccount(srv)); err != nil || res.Fetched != 1 || tok.renewed.Load() != 1 {
		t.Fatalf("fetch: %+v %v, renewed %d", res, err, tok.renewed.Load())
	}
	lost := &renewingTokens{bad: "abgelaufen", err: &auth.SignInRequiredError{UPN: anna}}
	_, err := (&mail.Fetcher{Store: openStore(t), Tokens: lost}).Fetch(context.Background(), simAccount(srv))
	if !errors.Is(err, auth.ErrSignInRequired) {
		t.Fatalf("lost sign-in: %v", err)
	}
	// a server that cannot be reached is not a token problem: no renewal
	down := &renewingTokens{bad: "x", good: "y"}
	a := simAccount(srv)
	a.Addr = "127.0.0.1:1"
	if _, err := (&mail.Fetcher{Store: openStore(t), Tokens: down}).Fetch(context.Background(), a); err == nil || down.renewed.Load() != 0 {
		t.Fatalf("unreachable server: %v, renewed %d", err, down.renewed.Load())
	}
}

// handOff plays the Kommunikator: every waiting message is taken at at.
func handOff(t *testing.T, st *store.Store, at time.Time) {
	t.Helper()
	w, err := st.Waiting(context.Background(), anna)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(w))
	for i, m := range w {
		ids[i] = m.ID
	}
	if err := st.MarkTaken(context.Background(), anna, ids, at); err != nil {
		t.Fatal(err)
	}
}
