package mail_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

// hostilePOP3 is a POP3 server that misbehaves as a broken or malicious
// one does (issue 19). Each hook may take over the connection; nil hooks
// answer as a sound server would.
type hostilePOP3 struct {
	addr string
	msgs []string
	// greet, when set, replaces the greeting; false closes the connection
	greet func(c net.Conn) bool
	// uidl, when set, writes the UIDL answer (after nothing)
	uidl func(c net.Conn)
	// size, when set, is the size LIST announces for message n
	size func(n int) int
	// retr, when set, answers RETR n; false closes the connection
	retr func(c net.Conn, n int) bool

	mu    sync.Mutex
	retrs map[int]int // how often each message was asked for
	deled []int
}

func startHostilePOP3(t *testing.T, h *hostilePOP3) *hostilePOP3 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h.addr, h.retrs = l.Addr().String(), map[int]int{}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go h.session(conn)
		}
	}()
	return h
}

func (h *hostilePOP3) session(conn net.Conn) {
	defer conn.Close()
	if h.greet != nil {
		if !h.greet(conn) {
			return
		}
	} else {
		fmt.Fprint(conn, "+OK ready\r\n")
	}
	r := bufio.NewReader(conn)
	var marked []int
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "AUTH":
			fmt.Fprint(conn, "+OK\r\n")
		case "UIDL":
			if h.uidl != nil {
				h.uidl(conn)
				continue
			}
			fmt.Fprint(conn, "+OK\r\n")
			for i := range h.msgs {
				fmt.Fprintf(conn, "%d uid-%d\r\n", i+1, i+1)
			}
			fmt.Fprint(conn, ".\r\n")
		case "LIST":
			fmt.Fprint(conn, "+OK\r\n")
			for i, m := range h.msgs {
				size := len(m)
				if h.size != nil {
					size = h.size(i + 1)
				}
				fmt.Fprintf(conn, "%d %d\r\n", i+1, size)
			}
			fmt.Fprint(conn, ".\r\n")
		case "RETR":
			var n int
			fmt.Sscan(f[1], &n)
			h.mu.Lock()
			h.retrs[n]++
			h.mu.Unlock()
			if h.retr != nil {
				if !h.retr(conn, n) {
					return
				}
				continue
			}
			fmt.Fprint(conn, "+OK\r\n"+h.msgs[n-1]+"\r\n.\r\n")
		case "DELE":
			var n int
			fmt.Sscan(f[1], &n)
			marked = append(marked, n)
			fmt.Fprint(conn, "+OK\r\n")
		case "QUIT":
			h.mu.Lock()
			h.deled = append(h.deled, marked...)
			h.mu.Unlock()
			fmt.Fprint(conn, "+OK\r\n")
			return
		default:
			fmt.Fprint(conn, "-ERR unknown\r\n")
		}
	}
}

func (h *hostilePOP3) retrCount(n int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.retrs[n]
}

// endless writes chunk until the peer goes away (it allocates nothing).
func endless(c net.Conn, chunk []byte) {
	for {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// allocated runs f and returns what the whole process allocated meanwhile:
// an upper bound of how much f's peak heap can have grown.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func hostileMsg(s string) string { return "Subject: " + s + "\r\n\r\nText von " + s }

func hostileAccount(addr string) mail.Account {
	return mail.Account{Address: anna, Addr: addr, Mode: mail.PlainLoopback, Timeout: 5 * time.Second, MaxSize: 1 << 20}
}

func storedSubjects(t *testing.T, st *store.Store) string {
	t.Helper()
	msgs, err := st.Messages(context.Background(), anna)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, headerValue(string(m.Raw), "Subject"))
	}
	return strings.Join(out, ",")
}

func journalErrors(t *testing.T, st *store.Store) []string {
	t.Helper()
	j, err := st.ReadJournal(context.Background(), store.JournalFilter{Worker: anna, Result: "error"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range j {
		out = append(out, e.Error)
	}
	return out
}

// An endless greeting or an endless line in the UIDL listing: the fetch
// fails with a German error naming the server, having read kilobytes, not
// gigabytes; nothing is stored or deleted.
func TestEndlessLinesAreCut(t *testing.T) {
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for name, h := range map[string]*hostilePOP3{
		"greeting": {greet: func(c net.Conn) bool { c.Write([]byte("+OK ")); endless(c, chunk); return false }},
		"listing":  {uidl: func(c net.Conn) { c.Write([]byte("+OK\r\n1 ")); endless(c, chunk) }},
		"status":   {uidl: func(c net.Conn) { c.Write([]byte("+OK ")); endless(c, chunk) }},
	} {
		t.Run(name, func(t *testing.T) {
			h.msgs = []string{hostileMsg("eins")}
			srv := startHostilePOP3(t, h)
			st := openStore(t)
			f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: "t"}}
			var err error
			used := allocated(func() { _, err = f.Fetch(context.Background(), hostileAccount(srv.addr)) })
			var le *mail.LimitError
			if !errors.As(err, &le) || !strings.Contains(le.Error(), srv.addr) || !strings.Contains(le.Error(), "Verbindung getrennt") {
				t.Fatalf("err = %v, want a LimitError naming %s", err, srv.addr)
			}
			if used > 4<<20 {
				t.Errorf("the process allocated %d MB while the server sent without end, want < 4 MB", used>>20)
			}
			if got := storedSubjects(t, st); got != "" || len(srv.deled) != 0 {
				t.Errorf("stored %q, deleted %v", got, srv.deled)
			}
			t.Logf("%s: %v (allocated %d KB)", name, le, used>>10)
		})
	}
}

// A message whose body never ends, and one larger than LIST said: both
// stay on the server, set aside and journaled once each; the others are
// fetched in the same Fetch; memory stays near the 1 MB size limit; the
// next Fetch does not ask for them again.
func TestOversizedBodiesAreSetAside(t *testing.T) {
	chunk := bytes.Repeat([]byte("Zeile ohne Ende "), 4096)
	h := startHostilePOP3(t, &hostilePOP3{
		msgs: []string{hostileMsg("eins"), "endlos", hostileMsg("drei"), "gelogen", hostileMsg("fünf")},
		size: func(n int) int { return 100 },
		retr: func(c net.Conn, n int) bool {
			switch n {
			case 2: // never ends
				c.Write([]byte("+OK\r\nSubject: endlos\r\n\r\n"))
				endless(c, chunk)
				return false
			case 4: // 3 MB, with its end
				c.Write([]byte("+OK\r\nSubject: gelogen\r\n\r\n"))
				for range 3 << 20 / len(chunk) {
					c.Write(chunk)
					c.Write([]byte("\r\n"))
				}
				c.Write([]byte(".\r\n"))
				return true
			}
			fmt.Fprint(c, "+OK\r\n"+hostileMsg(map[int]string{1: "eins", 3: "drei", 5: "fünf"}[n])+"\r\n.\r\n")
			return true
		},
	})
	st := openStore(t)
	f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: "t"}}
	var res mail.Result
	var err error
	used := allocated(func() { res, err = f.Fetch(context.Background(), hostileAccount(h.addr)) })
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if got := storedSubjects(t, st); got != "eins,drei,fünf" || res.Fetched != 3 || res.Skipped != 2 {
		t.Errorf("stored %q, %+v; want eins,drei,fünf and 2 skipped", got, res)
	}
	if used > 48<<20 {
		t.Errorf("allocated %d MB for a 1 MB limit with a server that sends without end", used>>20)
	}
	reasons := strings.Join(journalErrors(t, st), "\n")
	if strings.Count(reasons, "größer als die eingestellte Grenze von 1 MB, obwohl der Server") != 2 {
		t.Errorf("journal:\n%s", reasons)
	}
	before2, before4 := h.retrCount(2), h.retrCount(4)
	if res, err := f.Fetch(context.Background(), hostileAccount(h.addr)); err != nil || res.Skipped != 2 || res.Fetched != 0 {
		t.Errorf("second fetch: %+v %v", res, err)
	}
	if h.retrCount(2) != before2 || h.retrCount(4) != before4 {
		t.Errorf("the set-aside messages were asked for again within the day")
	}
	if n := len(journalErrors(t, st)); n != 2 {
		t.Errorf("%d journal entries after two fetches, want 2 (each once)", n)
	}
	if len(h.deled) != 0 {
		t.Errorf("deleted %v before the Kommunikator took anything", h.deled)
	}
	t.Logf("allocated %d MB; %s", used>>20, reasons)
}

// A server that drops the connection in the middle of message 2 every
// time (issue 19: every later fetch of the mailbox stopped there, each
// minute, with an English protocol error): messages 1 and 3 are fetched,
// message 2 is tried once more, last, then set aside and journaled once in
// German; nothing is deleted that is not stored.
func TestTruncatedMessageDoesNotBlockTheRest(t *testing.T) {
	h := startHostilePOP3(t, &hostilePOP3{
		msgs: []string{hostileMsg("eins"), hostileMsg("zwei"), hostileMsg("drei")},
		retr: func(c net.Conn, n int) bool {
			if n == 2 {
				c.Write([]byte("+OK\r\nSubject: zwei\r\n\r\nDer Anfang"))
				return false
			}
			fmt.Fprint(c, "+OK\r\n"+hostileMsg(map[int]string{1: "eins", 3: "drei"}[n])+"\r\n.\r\n")
			return true
		},
	})
	st := openStore(t)
	f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: "t"}}
	res, err := f.Fetch(context.Background(), hostileAccount(h.addr))
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if got := storedSubjects(t, st); got != "eins,drei" || res.Fetched != 2 || res.Skipped != 1 {
		t.Errorf("stored %q, %+v", got, res)
	}
	if n := h.retrCount(2); n != 2 {
		t.Errorf("message 2 asked for %d times, want 2 (once more, last)", n)
	}
	reasons := journalErrors(t, st)
	if len(reasons) != 1 || !strings.Contains(reasons[0], "zweimal mitten in der Nachricht abgebrochen") || !strings.Contains(reasons[0], h.addr) {
		t.Errorf("journal: %q", reasons)
	}
	handOff(t, st, time.Now().Add(-time.Hour))
	if res, err := f.Fetch(context.Background(), hostileAccount(h.addr)); err != nil || res.Skipped != 1 {
		t.Errorf("second fetch: %+v %v", res, err)
	}
	if n := h.retrCount(2); n != 2 {
		t.Errorf("message 2 asked for again within the day (%d)", n)
	}
	h.mu.Lock()
	deled := fmt.Sprint(h.deled)
	h.mu.Unlock()
	if deled != "[1 3]" {
		t.Errorf("deleted %s, want [1 3] (the stored ones, after the hand-off)", deled)
	}
	if n := len(journalErrors(t, st)); n != 1 {
		t.Errorf("%d journal entries, want 1", n)
	}
	// „Zurückgestellte erneut abrufen“: tried at the next fetch, not in a
	// day; it breaks again and waits again, journaled still once
	acc := hostileAccount(h.addr)
	if n, err := st.AsideCount(context.Background(), acc.Address, time.Now()); err != nil || n != 1 {
		t.Fatalf("set aside: %d, %v", n, err)
	}
	if n, err := st.RetryAsideNow(context.Background(), acc.Address, time.Now()); err != nil || n != 1 {
		t.Fatalf("retry now: %d, %v", n, err)
	}
	if _, err := f.Fetch(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	if n := h.retrCount(2); n < 3 {
		t.Errorf("message 2 not asked for again after „erneut abrufen“ (%d times in all)", n)
	}
	if n, _ := st.AsideCount(context.Background(), acc.Address, time.Now()); n != 1 {
		t.Errorf("after breaking again it is set aside %d times, want 1", n)
	}
	if n := len(journalErrors(t, st)); n != 1 {
		t.Errorf("%d journal entries after the retry, want 1", n)
	}
}

// A message that breaks one session only (a blip) is fetched in the next.
func TestOneDroppedSessionIsRetried(t *testing.T) {
	var mu sync.Mutex
	dropped := false
	h := startHostilePOP3(t, &hostilePOP3{
		msgs: []string{hostileMsg("eins"), hostileMsg("zwei")},
		retr: func(c net.Conn, n int) bool {
			mu.Lock()
			drop := n == 1 && !dropped
			dropped = dropped || drop
			mu.Unlock()
			if drop {
				c.Write([]byte("+OK\r\nSubject: ei"))
				return false
			}
			fmt.Fprint(c, "+OK\r\n"+hostileMsg(map[int]string{1: "eins", 2: "zwei"}[n])+"\r\n.\r\n")
			return true
		},
	})
	st := openStore(t)
	f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: "t"}}
	res, err := f.Fetch(context.Background(), hostileAccount(h.addr))
	if err != nil || res.Fetched != 2 || res.Skipped != 0 {
		t.Fatalf("fetch: %+v %v", res, err)
	}
	if got := storedSubjects(t, st); got != "zwei,eins" {
		t.Errorf("stored %q, want zwei then eins (the broken one last)", got)
	}
	if n := len(journalErrors(t, st)); n != 0 {
		t.Errorf("%d journal entries for a blip", n)
	}
}

// UIDLs with spaces, of 80 characters and with binary bytes (RFC 1939:
// 1–70 characters 0x21–0x7E): each message is stored once by its content,
// none is deleted on the server, and a LIST line that is not a number
// does not stop the fetch.
func TestMalformedUIDLs(t *testing.T) {
	h := startHostilePOP3(t, &hostilePOP3{
		msgs: []string{hostileMsg("leer zeichen"), hostileMsg("lang"), hostileMsg("binär"), hostileMsg("gut")},
		uidl: func(c net.Conn) {
			fmt.Fprint(c, "+OK\r\n1 mit leer zeichen\r\n2 "+strings.Repeat("a", 80)+"\r\n3 bin\x00\xff\x01\r\n4 gut-4\r\n.\r\n")
		},
	})
	st := openStore(t)
	f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: "t"}}
	for i := range 2 {
		if res, err := f.Fetch(context.Background(), hostileAccount(h.addr)); err != nil {
			t.Fatalf("fetch %d: %v (%+v)", i, err, res)
		}
		handOff(t, st, time.Now().Add(-time.Hour))
	}
	if got := storedSubjects(t, st); got != "leer zeichen,lang,binär,gut" {
		t.Errorf("stored %q", got)
	}
	if fmt.Sprint(h.deled) != "[4]" {
		t.Errorf("deleted %v, want only 4 (the sound UIDL)", h.deled)
	}
	if reasons := journalErrors(t, st); len(reasons) != 3 || strings.Count(strings.Join(reasons, "\n"), "ungültige Kennung") != 3 {
		t.Errorf("journal: %q", reasons)
	}
}

// A server that never greets: cancelling (what SIGTERM and the service
// stop do) ends the fetch at once, not after the 60 s timeout.
func TestCancelCutsAHangingServer(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	var greeted sync.WaitGroup
	greeted.Add(1)
	for name, h := range map[string]*hostilePOP3{
		"greeting": {greet: func(c net.Conn) bool { greeted.Done(); <-hang; return false }},
		"RETR":     {msgs: []string{hostileMsg("eins")}, retr: func(c net.Conn, n int) bool { c.Write([]byte("+OK\r\nSubject: ")); <-hang; return false }},
	} {
		t.Run(name, func(t *testing.T) {
			srv := startHostilePOP3(t, h)
			st := openStore(t)
			f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: "t"}}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				a := hostileAccount(srv.addr)
				a.Timeout = time.Minute
				_, err := f.Fetch(ctx, a)
				done <- err
			}()
			if name == "greeting" {
				greeted.Wait()
			}
			testsupport.Eventually(t, 5*time.Second, "the fetch to wait on the server", func() bool {
				return name == "greeting" || srv.retrCount(1) > 0
			})
			cancel()
			start := time.Now()
			select {
			case err := <-done:
				if took := time.Since(start); took > time.Second || !errors.Is(err, context.Canceled) {
					t.Errorf("after cancel: %v in %v, want context.Canceled within 1 s", err, took)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the fetch did not end 10 s after cancel")
			}
		})
	}
}

// hostileSMTP is an SMTP server with STARTTLS that misbehaves at one
// step: hook gets the step ("greeting", "ehlo", "data-end") and the
// connection and returns false to take over (it then owns the
// connection); true answers as a sound server.
func startHostileSMTP(t *testing.T, hook func(step string, c net.Conn) bool) (addr string, client *tls.Config) {
	t.Helper()
	hs := httptest.NewUnstartedServer(http.NotFoundHandler())
	hs.StartTLS()
	t.Cleanup(hs.Close)
	serverConf := hs.TLS
	client = hs.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				if !hook("greeting", c) {
					return
				}
				fmt.Fprint(c, "220 hostile ESMTP\r\n")
				r := bufio.NewReader(c)
				inData := false
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if inData {
						if line == ".\r\n" {
							inData = false
							if !hook("data-end", c) {
								return
							}
							fmt.Fprint(c, "250 2.0.0 OK queued\r\n")
						}
						continue
					}
					cmd := strings.ToUpper(strings.Fields(line + " x")[0])
					switch cmd {
					case "EHLO":
						if !hook("ehlo", c) {
							return
						}
						fmt.Fprint(c, "250-hostile\r\n250-STARTTLS\r\n250 AUTH XOAUTH2\r\n")
					case "STARTTLS":
						fmt.Fprint(c, "220 2.0.0 go ahead\r\n")
						tc := tls.Server(c, serverConf)
						if tc.Handshake() != nil {
							return
						}
						c, r = tc, bufio.NewReader(tc)
					case "AUTH":
						fmt.Fprint(c, "235 2.7.0 OK\r\n")
					case "MAIL", "RCPT":
						fmt.Fprint(c, "250 2.1.0 OK\r\n")
					case "DATA":
						fmt.Fprint(c, "354 go on\r\n")
						inData = true
					case "QUIT":
						fmt.Fprint(c, "221 bye\r\n")
						return
					default:
						fmt.Fprint(c, "502 5.5.2 unknown\r\n")
					}
				}
			}(conn)
		}
	}()
	return l.Addr().String(), client
}

// A server whose EHLO answer is a multi-line 250 without end (issue 19:
// "mail testmail" grew to 1.5 GB and printed 208 MB): the send fails after
// a bounded read, with a short report that names the server.
func TestEndlessSMTPReplyIsCut(t *testing.T) {
	line := []byte("250-" + strings.Repeat("AUSUFERND", 100) + "\r\n")
	chunk := bytes.Repeat(line, 64)
	addr, conf := startHostileSMTP(t, func(step string, c net.Conn) bool {
		if step == "ehlo" {
			endless(c, chunk)
			return false
		}
		return true
	})
	s := &mail.Sender{Tokens: testsupport.StaticTokens{Token: "t"}}
	a := mail.Account{Address: anna, Addr: addr, TLS: conf, Timeout: 5 * time.Second}
	var rep mail.TestMailReport
	used := allocated(func() { rep = s.SendTestMail(context.Background(), a, "Anna Müller", "") })
	var le *mail.LimitError
	if !errors.As(rep.Err, &le) || !strings.Contains(le.Error(), addr) {
		t.Fatalf("err = %v, want a LimitError naming %s", rep.Err, addr)
	}
	if used > 8<<20 {
		t.Errorf("allocated %d MB for an endless reply", used>>20)
	}
	report := rep.Text()
	if len(report) > 2000 || !strings.Contains(report, "nicht versendet") || strings.Contains(report, "AUSUFERND") {
		t.Errorf("report of %d bytes:\n%.3000s", len(report), report)
	}
	t.Logf("allocated %d KB; report:\n%s", used>>10, report)
}

// 451 after DATA: the test mail says it was not sent and that nothing
// keeps it; a connection that breaks after the end of data: it says the
// server may have it (issue 19: both said „bleibt im Postausgang“).
func TestTestMailSaysWhatHappened(t *testing.T) {
	for name, c := range map[string]struct {
		hook        func(step string, c net.Conn) bool
		want, never string
		uncertain   bool
	}{
		"451": {hook: func(step string, c net.Conn) bool {
			if step == "data-end" {
				fmt.Fprint(c, "451 4.3.0 Temporary server error\r\n")
			}
			return step != "data-end"
		}, want: "wurde nicht gesendet und wird nicht aufbewahrt", never: "bleibt im Postausgang"},
		"dropped after the end of data": {hook: func(step string, c net.Conn) bool { return step != "data-end" },
			want: "Ob die Testmail versendet wurde, ist unklar", never: "bleibt im Postausgang", uncertain: true},
	} {
		t.Run(name, func(t *testing.T) {
			addr, conf := startHostileSMTP(t, c.hook)
			s := &mail.Sender{Tokens: testsupport.StaticTokens{Token: "t"}}
			rep := s.SendTestMail(context.Background(), mail.Account{Address: anna, Addr: addr, TLS: conf, Timeout: 5 * time.Second}, "Anna Müller", "")
			var se *mail.SendError
			if !errors.As(rep.Err, &se) || se.Uncertain != c.uncertain {
				t.Fatalf("err = %#v", rep.Err)
			}
			if text := rep.Text(); !strings.Contains(text, c.want) || strings.Contains(text, c.never) {
				t.Errorf("report:\n%s", text)
			}
		})
	}
}

// A server that never greets, for SMTP: cancelling ends the send at once.
func TestCancelCutsAHangingSMTPServer(t *testing.T) {
	hang, greeted := make(chan struct{}), make(chan struct{}, 1)
	t.Cleanup(func() { close(hang) })
	addr, conf := startHostileSMTP(t, func(step string, c net.Conn) bool {
		greeted <- struct{}{}
		<-hang
		return false
	})
	s := &mail.Sender{Tokens: testsupport.StaticTokens{Token: "t"}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.SendRaw(ctx, mail.Account{Address: anna, Addr: addr, TLS: conf, Timeout: time.Minute}, []byte("Subject: x\r\n\r\ny\r\n"), []string{"x@example.org"})
	}()
	<-greeted
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if took := time.Since(start); took > time.Second || err == nil {
			t.Errorf("after cancel: %v in %v, want an error within 1 s", err, took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the send did not end 10 s after cancel")
	}
}
