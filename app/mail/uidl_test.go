package mail_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

// uidlServer is a POP3 server whose UIDL listing is broken as a real one
// may be; it serves any number of sessions and records every DELE.
type uidlServer struct {
	addr  string
	uidls []string // the UIDL answer's lines after "+OK"
	msgs  []string // message n is msgs[n-1]

	mu    sync.Mutex
	deled []string
}

func startUIDLServer(t *testing.T, uidls, msgs []string) *uidlServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &uidlServer{addr: l.Addr().String(), uidls: uidls, msgs: msgs}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go s.session(conn)
		}
	}()
	return s
}

func (s *uidlServer) session(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	fmt.Fprint(conn, "+OK ready\r\n")
	var marked []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		switch strings.ToUpper(f[0]) {
		case "AUTH":
			fmt.Fprint(conn, "+OK\r\n")
		case "UIDL":
			fmt.Fprint(conn, "+OK\r\n"+strings.Join(s.uidls, "\r\n")+"\r\n.\r\n")
		case "LIST":
			fmt.Fprint(conn, "+OK\r\n")
			for i, m := range s.msgs {
				fmt.Fprintf(conn, "%d %d\r\n", i+1, len(m))
			}
			fmt.Fprint(conn, ".\r\n")
		case "RETR":
			var n int
			fmt.Sscan(f[1], &n)
			fmt.Fprint(conn, "+OK\r\n"+s.msgs[n-1]+"\r\n.\r\n")
		case "DELE":
			marked = append(marked, f[1])
			fmt.Fprint(conn, "+OK\r\n")
		case "QUIT":
			s.mu.Lock()
			s.deled = append(s.deled, marked...)
			s.mu.Unlock()
			fmt.Fprint(conn, "+OK\r\n")
			return
		default:
			fmt.Fprint(conn, "-ERR unknown\r\n")
		}
	}
}

// TestUntrustworthyUIDLsLoseNothing: a server that gives two messages the
// same UIDL, one a UIDL of 71 characters and one a line without a number
// (issue 19: the second of the twins was deleted at QUIT and never
// stored). Every addressable message is stored exactly once, over two
// sessions; only the message with a sound UIDL is deleted once the
// Kommunikator has it; each problem is journaled once, in German.
func TestUntrustworthyUIDLsLoseNothing(t *testing.T) {
	msg := func(s string) string { return "Subject: " + s + "\r\n\r\nText von " + s }
	srv := startUIDLServer(t,
		[]string{"1 zwilling", "2 zwilling", "3 eindeutig", "4 " + strings.Repeat("x", 71), "fuenf kaputt"},
		[]string{msg("eins"), msg("zwei"), msg("drei"), msg("vier"), msg("fünf")})
	st := openStore(t)
	f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: "t"}}
	acc := mail.Account{Address: anna, Addr: srv.addr, Mode: mail.PlainLoopback, Timeout: 5 * time.Second}
	ctx := context.Background()
	res, err := f.Fetch(ctx, acc)
	if err != nil {
		t.Fatalf("first session: %v", err)
	}
	subjects := func() []string {
		msgs, err := st.Messages(ctx, anna)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range msgs {
			out = append(out, headerValue(string(m.Raw), "Subject"))
		}
		return out
	}
	if got := strings.Join(subjects(), ","); got != "eins,zwei,drei,vier" || res.Fetched != 4 || res.Skipped != 1 {
		t.Errorf("after the first session: %q, %+v", got, res)
	}
	handOff(t, st, time.Now().Add(-time.Hour))
	if _, err := f.Fetch(ctx, acc); err != nil {
		t.Fatalf("second session: %v", err)
	}
	if got := strings.Join(subjects(), ","); got != "eins,zwei,drei,vier" {
		t.Errorf("after the second session: %q (stored twice?)", got)
	}
	srv.mu.Lock()
	deled := strings.Join(srv.deled, ",")
	srv.mu.Unlock()
	if deled != "3" {
		t.Errorf("deleted on the server: %q, want only 3 (the one with a sound UIDL)", deled)
	}
	j, err := st.ReadJournal(ctx, store.JournalFilter{Worker: anna, Result: "error"})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range j {
		reasons = append(reasons, e.Error)
	}
	all := strings.Join(reasons, "\n")
	if len(j) != 4 || strings.Count(all, "dieselbe Kennung (UIDL „zwilling“, 2-mal)") != 2 ||
		strings.Count(all, "ungültige Kennung") != 1 || strings.Count(all, "ohne lesbare Nummer") != 1 {
		t.Errorf("journal after two sessions (each problem once):\n%s", all)
	}
}

// A message stored under a UIDL that the server later gives to a second
// message too: the first is recognised by its content (not stored twice),
// the second is stored, neither is deleted.
func TestUIDLReusedLaterLosesNothing(t *testing.T) {
	msg := func(s string) string { return "Subject: " + s + "\r\n\r\nText von " + s }
	first := startUIDLServer(t, []string{"1 alt"}, []string{msg("eins")})
	st := openStore(t)
	f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: "t"}}
	ctx := context.Background()
	if _, err := f.Fetch(ctx, mail.Account{Address: anna, Addr: first.addr, Mode: mail.PlainLoopback, Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	handOff(t, st, time.Now().Add(-time.Hour))
	later := startUIDLServer(t, []string{"1 alt", "2 alt"}, []string{msg("eins"), msg("zwei")})
	if _, err := f.Fetch(ctx, mail.Account{Address: anna, Addr: later.addr, Mode: mail.PlainLoopback, Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	msgs, _ := st.Messages(ctx, anna)
	if len(msgs) != 2 || headerValue(string(msgs[1].Raw), "Subject") != "zwei" {
		t.Errorf("%d messages stored, want eins and zwei once each", len(msgs))
	}
	if len(later.deled) != 0 {
		t.Errorf("deleted %v although the UIDL is not unique", later.deled)
	}
}
