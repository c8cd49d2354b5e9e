// Package handoff hands fetched mail to the practice software's mail
// client, the Kommunikator: a POP3 server on the loopback interface serves
// every account's stored messages (RFC 1939 with CAPA, UIDL, TOP, USER/PASS
// and AUTH PLAIN); a message the Kommunikator deletes and confirms with
// QUIT is marked taken, and only then may the fetcher delete it upstream
// (docs/mail-handoff.md).
package handoff

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// Passwords gives an account's local password ("" and false: no such
// account). The passwords live in the keyring.
type Passwords func(address string) (string, bool)

// POP3Server serves the stored mail of this user's accounts.
type POP3Server struct {
	Store     *store.Store
	Passwords Passwords
	Logger    *slog.Logger
	Now       func() time.Time
	// FailDelay is the pause after a wrong password, doubled for each
	// further one in a session (default 1 s); after MaxFailures the
	// connection is closed.
	FailDelay   time.Duration
	MaxFailures int
	// IdleTimeout closes a silent connection (RFC 1939: at least 10 min).
	IdleTimeout time.Duration
	// OnTaken is told when the Kommunikator took messages of an account.
	OnTaken func(address string, n int)

	mu    sync.Mutex
	inUse map[string]bool // accounts with an open session
}

// ErrNotLoopback: the local servers listen on the loopback interface only.
var ErrNotLoopback = errors.New("handoff: the local servers listen on 127.0.0.1 or ::1 only")

// PortInUseError: the port is taken, on a terminal server perhaps by
// another user's kanzleisync. The text is German and shown as it is.
type PortInUseError struct {
	Service string // POP3 or SMTP
	Flag    string // the setting's command-line flag
	Addr    string
	Err     error
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf(text.T("Der lokale %s-Server für den Kommunikator kann %s nicht belegen: ein anderes Programm (auf einem Terminalserver vielleicht die kanzleisync-Instanz eines anderen Benutzers) verwendet den Port. ")+
		text.T("Bitte einen anderen Port wählen (kanzleisync config settings set %s 127.0.0.1:PORT) und ihn im Kommunikator eintragen."), e.Service, e.Addr, e.Flag)
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// Listen binds addr (loopback only).
func (s *POP3Server) Listen(addr string) (net.Listener, error) {
	return listenLoopback("POP3", "--local-pop3", addr)
}

// listenLoopback binds a local server's address, which must be loopback.
func listenLoopback(service, flag, addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("handoff %s %q: %w", service, addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, ErrNotLoopback
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &PortInUseError{Service: service, Flag: flag, Addr: addr, Err: err}
	}
	return ln, nil
}

// Serve answers connections on ln until ctx ends; then it closes ln and
// every open connection at once.
func (s *POP3Server) Serve(ctx context.Context, ln net.Listener) error {
	s.defaults()
	var wg sync.WaitGroup
	conns := map[net.Conn]bool{}
	var cmu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		cmu.Lock()
		for c := range conns {
			c.Close()
		}
		cmu.Unlock()
	})
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("handoff pop3: %w", err)
		}
		cmu.Lock()
		conns[c] = true
		cmu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { cmu.Lock(); delete(conns, c); cmu.Unlock() }()
			s.session(ctx, c)
		}()
	}
}

func (s *POP3Server) defaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inUse == nil {
		s.inUse = map[string]bool{}
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.FailDelay <= 0 {
		s.FailDelay = time.Second
	}
	if s.MaxFailures <= 0 {
		s.MaxFailures = 3
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = 10 * time.Minute
	}
}

// maxLine bounds a command line (RFC 2449: 255 octets; some room more).
const maxLine = 1024

type session struct {
	s       *POP3Server
	c       net.Conn
	r       *bufio.Reader
	user    string // USER given, PASS not yet
	account string // authenticated
	msgs    []store.Message
	deleted map[int]bool
	fails   int
}

func (s *POP3Server) session(ctx context.Context, c net.Conn) {
	defer c.Close()
	p := &session{s: s, c: c, r: bufio.NewReaderSize(c, maxLine), deleted: map[int]bool{}}
	defer p.release()
	p.ok(text.T("kanzleisync POP3 für den Kommunikator bereit"))
	for {
		_ = c.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		line, err := p.readLine()
		if err != nil {
			return // dropped or idle: nothing is marked taken (RFC 1939)
		}
		cmd, arg, _ := strings.Cut(line, " ")
		if done := p.handle(ctx, strings.ToUpper(cmd), arg); done {
			return
		}
	}
}

func (p *session) readLine() (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := p.r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > maxLine {
			return "", errors.New("line too long")
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

func (p *session) ok(text string)  { fmt.Fprintf(p.c, "+OK %s\r\n", text) }
func (p *session) err(text string) { fmt.Fprintf(p.c, "-ERR %s\r\n", text) }

func (p *session) handle(ctx context.Context, cmd, arg string) (done bool) {
	switch cmd {
	case "CAPA":
		caps := "TOP\r\nUIDL\r\nUSER\r\nSASL PLAIN\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION kanzleisync\r\n"
		fmt.Fprintf(p.c, "+OK Capability list follows\r\n%s.\r\n", caps)
		return false
	case "QUIT":
		return p.quit(ctx)
	case "NOOP":
		if p.account == "" {
			break
		}
		p.ok("")
		return false
	}
	if p.account == "" {
		return p.authorization(ctx, cmd, arg)
	}
	return p.transaction(cmd, arg)
}

func (p *session) authorization(ctx context.Context, cmd, arg string) bool {
	switch cmd {
	case "USER":
		if arg == "" {
			p.err(text.T("USER braucht die Mailadresse des Kontos"))
			return false
		}
		p.user = arg
		p.ok(text.T("Passwort bitte"))
	case "PASS":
		if p.user == "" {
			p.err("zuerst USER")
			return false
		}
		return p.login(ctx, p.user, arg)
	case "AUTH":
		mech, initial, _ := strings.Cut(arg, " ")
		if !strings.EqualFold(mech, "PLAIN") {
			p.err(text.T("nur AUTH PLAIN"))
			return false
		}
		if initial == "" {
			fmt.Fprint(p.c, "+ \r\n")
			l, err := p.readLine()
			if err != nil {
				return true
			}
			initial = l
		}
		if initial == "*" {
			p.err("AUTH abgebrochen")
			return false
		}
		raw, err := base64.StdEncoding.DecodeString(initial)
		parts := bytes.Split(raw, []byte{0})
		if err != nil || len(parts) != 3 {
			p.err("[AUTH] AUTH PLAIN erwartet authzid\\0user\\0password in Base64")
			return false
		}
		if len(parts[0]) > 0 && !bytes.EqualFold(parts[0], parts[1]) {
			p.err(text.T("[AUTH] Anmeldung für ein anderes Konto ist nicht möglich"))
			return false
		}
		return p.login(ctx, string(parts[1]), string(parts[2]))
	case "STLS":
		p.err(text.T("STLS wird nicht angeboten: die Verbindung verlässt diesen Rechner nicht (127.0.0.1)"))
	default:
		p.err(text.T("zuerst anmelden (USER/PASS oder AUTH PLAIN)"))
	}
	return false
}

// login checks the local password in constant time; each failure pauses
// longer, and the connection ends after MaxFailures.
func (p *session) login(ctx context.Context, user, pass string) bool {
	want, ok := p.s.Passwords(user)
	good := subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1 && ok && want != ""
	if !good {
		p.fails++
		p.s.Logger.Warn("local pop3: wrong password", "account", user, "failures", p.fails)
		delay := p.s.FailDelay << (p.fails - 1)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return true
		}
		p.user = ""
		p.err(text.T("[AUTH] Benutzer oder Passwort falsch (das lokale Passwort steht in kanzleisync unter „Konten verwalten“)"))
		return p.fails >= p.s.MaxFailures
	}
	p.s.mu.Lock()
	busy := p.s.inUse[strings.ToLower(user)]
	if !busy {
		p.s.inUse[strings.ToLower(user)] = true
	}
	p.s.mu.Unlock()
	if busy {
		p.err(text.T("[IN-USE] Das Postfach wird gerade schon abgerufen"))
		return true
	}
	p.account = strings.ToLower(user)
	msgs, err := p.s.Store.Waiting(ctx, user)
	if err != nil {
		p.s.Logger.Error("local pop3: read the waiting mail", "account", user, "error", err.Error())
		p.err(text.T("[SYS/TEMP] Die Nachrichten können gerade nicht gelesen werden; bitte später erneut abrufen"))
		return true
	}
	p.msgs = msgs
	p.ok(text.F("%d Nachrichten", len(msgs)))
	return false
}

func (p *session) release() {
	if p.account == "" {
		return
	}
	p.s.mu.Lock()
	delete(p.s.inUse, p.account)
	p.s.mu.Unlock()
}

// msg resolves a message number of this session; deleted ones do not exist.
func (p *session) msg(arg string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(arg))
	if err != nil || n < 1 || n > len(p.msgs) || p.deleted[n] {
		p.err(text.T("keine solche Nachricht"))
		return 0, false
	}
	return n, true
}

// uidl is stable for a stored message: the store's id.
func uidl(m store.Message) string { return "ks" + strconv.FormatInt(m.ID, 10) }

func (p *session) transaction(cmd, arg string) bool {
	switch cmd {
	case "STAT":
		n, size := 0, 0
		for i, m := range p.msgs {
			if !p.deleted[i+1] {
				n, size = n+1, size+len(wire(m.Raw))
			}
		}
		p.ok(fmt.Sprintf("%d %d", n, size))
	case "LIST", "UIDL":
		value := func(i int, m store.Message) string {
			if cmd == "UIDL" {
				return uidl(m)
			}
			return strconv.Itoa(len(wire(m.Raw)))
		}
		if arg != "" {
			if n, ok := p.msg(arg); ok {
				p.ok(fmt.Sprintf("%d %s", n, value(n, p.msgs[n-1])))
			}
			return false
		}
		var b strings.Builder
		b.WriteString("+OK\r\n")
		for i, m := range p.msgs {
			if !p.deleted[i+1] {
				fmt.Fprintf(&b, "%d %s\r\n", i+1, value(i+1, m))
			}
		}
		b.WriteString(".\r\n")
		_, _ = p.c.Write([]byte(b.String()))
	case "RETR":
		if n, ok := p.msg(arg); ok {
			raw := wire(p.msgs[n-1].Raw)
			fmt.Fprintf(p.c, "+OK %d Oktette\r\n", len(raw))
			_, _ = p.c.Write(stuff(raw))
		}
	case "TOP":
		f := strings.Fields(arg)
		if len(f) != 2 {
			p.err(text.T("TOP braucht Nummer und Zeilenzahl"))
			return false
		}
		lines, err := strconv.Atoi(f[1])
		if err != nil || lines < 0 {
			p.err(text.T("TOP: ungültige Zeilenzahl"))
			return false
		}
		if n, ok := p.msg(f[0]); ok {
			p.ok("")
			_, _ = p.c.Write(stuff(top(wire(p.msgs[n-1].Raw), lines)))
		}
	case "DELE":
		if n, ok := p.msg(arg); ok {
			p.deleted[n] = true
			p.ok(text.F("Nachricht %s wird beim QUIT übergeben", strconv.Itoa(n)))
		}
	case "RSET":
		p.deleted = map[int]bool{}
		p.ok("")
	default:
		p.err("unbekannter Befehl")
	}
	return false
}

// quit ends the session; in the transaction state the deleted messages are
// marked taken first, all or none (RFC 1939 "UPDATE" state).
func (p *session) quit(ctx context.Context) bool {
	if p.account == "" {
		p.ok("Auf Wiedersehen")
		return true
	}
	var ids []int64
	for i, m := range p.msgs {
		if p.deleted[i+1] {
			ids = append(ids, m.ID)
		}
	}
	if err := p.s.Store.MarkTaken(ctx, p.account, ids, p.s.Now()); err != nil {
		p.s.Logger.Error("local pop3: mark taken", "account", p.account, "error", err.Error())
		p.err(text.T("[SYS/TEMP] Die Übergabe konnte nicht gespeichert werden; die Nachrichten bleiben und werden beim nächsten Abruf erneut angeboten"))
		return true
	}
	if len(ids) > 0 && p.s.OnTaken != nil {
		p.s.OnTaken(p.account, len(ids))
	}
	p.ok(text.F("%d Nachrichten übergeben", len(ids)))
	return true
}

// wire is a message with CRLF line ends, as POP3 sends it; what came with
// bare LF (Graph's MIME, a mail drop) is normalised, never truncated.
func wire(raw []byte) []byte {
	if !bytes.Contains(raw, []byte("\n")) || !hasBareLF(raw) {
		if len(raw) > 0 && !bytes.HasSuffix(raw, []byte("\r\n")) {
			return append(append([]byte(nil), raw...), '\r', '\n')
		}
		return raw
	}
	out := make([]byte, 0, len(raw)+len(raw)/40)
	for i, b := range raw {
		if b == '\n' && (i == 0 || raw[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, b)
	}
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

func hasBareLF(raw []byte) bool {
	for i, b := range raw {
		if b == '\n' && (i == 0 || raw[i-1] != '\r') {
			return true
		}
	}
	return false
}

// stuff dot-stuffs a CRLF message and ends it with the terminating dot.
func stuff(raw []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(raw) + 16)
	for len(raw) > 0 {
		i := bytes.Index(raw, []byte("\r\n"))
		line := raw
		if i >= 0 {
			line, raw = raw[:i+2], raw[i+2:]
		} else {
			raw = nil
		}
		if len(line) > 0 && line[0] == '.' {
			b.WriteByte('.')
		}
		b.Write(line)
	}
	b.WriteString(".\r\n")
	return b.Bytes()
}

// top is the header and the first n lines of the body.
func top(raw []byte, n int) []byte {
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	if i < 0 {
		return raw
	}
	head, body := raw[:i+4], raw[i+4:]
	out := append([]byte(nil), head...)
	for ; n > 0 && len(body) > 0; n-- {
		j := bytes.Index(body, []byte("\r\n"))
		if j < 0 {
			out = append(out, body...)
			out = append(out, '\r', '\n')
			break
		}
		out = append(out, body[:j+2]...)
		body = body[j+2:]
	}
	return out
}

// TakeAll plays the Kommunikator once (the demo, tests): it signs in to
// the local POP3 server with the account's local password, retrieves and
// deletes every waiting message and quits. It returns how many it took.
func TakeAll(ctx context.Context, addr, address, password string) (int, error) {
	c, err := mail.Dial(ctx, addr, mail.PlainLoopback, nil, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.AuthUserPass(address, password); err != nil {
		return 0, err
	}
	list, err := c.List()
	if err != nil {
		return 0, err
	}
	for _, e := range list {
		if _, err := c.Retr(e.Num, 50<<20); err != nil {
			return 0, err
		}
		if err := c.Dele(e.Num); err != nil {
			return 0, err
		}
	}
	return len(list), c.Quit()
}
