// Package mail runs the mail accounts of the practice software's mail
// client: fetching over POP3 with XOAUTH2 into kanzleisync's store, durably
// before anything is deleted on the server.
package mail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"kanzleisync/app/text"
)

var (
	// ErrAuthFailed: the server refused the login (token, user, or POP switched off).
	ErrAuthFailed = errors.New("pop3: authentication failed")
	// ErrInUse: the credentials were accepted but another session holds
	// the maildrop (RFC 2449 [IN-USE]); trying again later helps.
	ErrInUse = errors.New("pop3: maildrop in use by another session")
	// ErrProtocol: the server's answer does not follow RFC 1939.
	ErrProtocol = errors.New("pop3: protocol error")
	// ErrTooLarge: a message is larger than the configured limit.
	ErrTooLarge = errors.New("pop3: message too large")
	// ErrServer: the server answered -ERR.
	ErrServer = errors.New("pop3: server error")
)

// TLSMode says how a connection is secured.
type TLSMode int

const (
	ImplicitTLS   TLSMode = iota // port 995
	StartTLS                     // STLS on port 110
	PlainLoopback                // no TLS: only for servers on this machine (tests)
)

// Client is one POP3 session.
type Client struct {
	conn    net.Conn
	r       *bufio.Reader
	timeout time.Duration
	addr    string
	// broken: an answer was not read to its end (cut, too long, timed
	// out); the session cannot go on and must be closed without QUIT.
	broken bool
	// Detail is the server's explanation of the last failed login (the
	// decoded XOAUTH2 challenge), for the journal and the diagnosis.
	Detail string
	// Unreadable are the lines of the last UIDL answer without a message
	// number: their messages cannot be addressed and stay on the server.
	Unreadable []string
}

// Dial connects and reads the greeting. Every later read and write has
// timeout (default 60 s).
func Dial(ctx context.Context, addr string, mode TLSMode, conf *tls.Config, timeout time.Duration) (*Client, error) {
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pop3: address %q: %w", addr, err)
	}
	if mode == PlainLoopback {
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("pop3: no TLS to %s: unencrypted POP3 is only allowed on this machine", host)
		}
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pop3: connect %s: %w", addr, err)
	}
	if mode == ImplicitTLS {
		tc := tls.Client(conn, tlsConfig(conf, host))
		_ = tc.SetDeadline(time.Now().Add(timeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("pop3: TLS with %s: %w", addr, err)
		}
		conn = tc
	}
	// a cancel cuts a server short that never greets
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	fail := func(step string, err error) (*Client, error) {
		conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("pop3: %s %s: %w", step, addr, ctx.Err())
		}
		return nil, fmt.Errorf("pop3: %s %s: %w", step, addr, err)
	}
	c := &Client{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), timeout: timeout, addr: addr}
	if _, err := c.statusOf(text.Mark("die Begrüßung")); err != nil {
		return fail("greeting of", err)
	}
	if mode == StartTLS {
		if _, err := c.cmd("STLS"); err != nil {
			return fail("STLS with", err)
		}
		tc := tls.Client(conn, tlsConfig(conf, host))
		_ = tc.SetDeadline(time.Now().Add(timeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("TLS with", err)
		}
		c.conn, c.r = tc, bufio.NewReaderSize(tc, 64<<10)
	}
	return c, nil
}

// Limits on what a server may send: one that sends without end must not
// fill the memory (issue 19). RFC 1939 allows 512 octets for a status line.
const (
	MaxStatusLine  = 8 << 10  // a +OK/-ERR line, the greeting
	MaxListingLine = 1 << 10  // a line of UIDL, LIST or CAPA
	MaxListing     = 32 << 20 // a whole UIDL or LIST answer (about 350,000 messages)
	// drainLimit: how much of a message over the size limit is read past
	// the limit to find its end and keep the session; beyond it the
	// session is given up.
	drainLimit = 8 << 20
)

// LimitError: a server sent more than kanzleisync reads. The connection
// was cut; nothing of the answer was kept.
type LimitError struct {
	Server string
	What   string // marked German: "eine Zeile", "die Begrüßung", …
	Limit  int64
}

func (e *LimitError) Error() string {
	return text.F("Der Mailserver %s hat %s von mehr als %s geschickt; kanzleisync hat die Verbindung getrennt, damit der Arbeitsspeicher nicht volläuft.", e.Server, text.T(e.What), byteText(e.Limit))
}

func (e *LimitError) Unwrap() error { return ErrProtocol }

// byteText: 8192 → "8 KB", 33554432 → "32 MB".
func byteText(n int64) string {
	if n >= 1<<20 {
		return strconv.FormatInt(n>>20, 10) + " MB"
	}
	return strconv.FormatInt(n>>10, 10) + " KB"
}

func tlsConfig(conf *tls.Config, host string) *tls.Config {
	if conf == nil {
		conf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	conf = conf.Clone()
	if conf.ServerName == "" {
		conf.ServerName = host
	}
	return conf
}

// Close ends the connection without QUIT: deletions are not committed.
func (c *Client) Close() error { return c.conn.Close() }

// line reads a status line of at most MaxStatusLine bytes.
func (c *Client) line() (string, error) { return c.lineOf(text.Mark("eine Zeile")) }

func (c *Client) lineOf(what string) (string, error) {
	l, err := c.readLine(MaxStatusLine, what)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(l), "\r\n"), nil
}

// readLine reads one line with its end; limit > 0 bounds it (a longer
// line is a LimitError). The slice is valid until the next read. Any
// failure leaves the session broken.
func (c *Client) readLine(limit int, what string) ([]byte, error) {
	l, over, err := c.readBounded(limit)
	if over {
		c.broken = true
		return nil, &LimitError{Server: c.addr, What: what, Limit: int64(limit)}
	}
	return l, err
}

// readBounded reads one line of at most limit bytes (0: any): over reports
// a longer one, of which nothing more was read.
func (c *Client) readBounded(limit int) (line []byte, over bool, err error) {
	var long []byte
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(c.timeout))
		l, err := c.r.ReadSlice('\n')
		if limit > 0 && len(long)+len(l) > limit+2 {
			return nil, true, nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, l...)
			continue
		}
		if err != nil {
			c.broken = true
			if (len(l) > 0 || len(long) > 0) && errors.Is(err, io.EOF) {
				return nil, false, fmt.Errorf("%w: connection closed in the middle of a line", ErrProtocol)
			}
			if errors.Is(err, io.EOF) {
				return nil, false, fmt.Errorf("%w: the server closed the connection", ErrProtocol)
			}
			return nil, false, err
		}
		if long != nil {
			return append(long, l...), false, nil
		}
		return l, false, nil
	}
}

func (c *Client) send(line string) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := io.WriteString(c.conn, line+"\r\n")
	return err
}

// status reads a +OK/-ERR line.
func (c *Client) status() (string, error) { return c.statusOf(text.Mark("eine Zeile")) }

func (c *Client) statusOf(what string) (string, error) {
	l, err := c.lineOf(what)
	if err != nil {
		return "", err
	}
	switch {
	case strings.HasPrefix(l, "+OK"):
		return strings.TrimSpace(strings.TrimPrefix(l, "+OK")), nil
	case strings.HasPrefix(l, "-ERR"):
		return "", fmt.Errorf("%w: %s", ErrServer, strings.TrimSpace(strings.TrimPrefix(l, "-ERR")))
	}
	c.broken = true
	return "", fmt.Errorf("%w: unexpected answer %q", ErrProtocol, truncate(l))
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func (c *Client) cmd(line string) (string, error) {
	if err := c.send(line); err != nil {
		return "", err
	}
	return c.status()
}

// multi reads the lines of a multi-line answer up to the terminating dot,
// undoing dot-stuffing. max bounds the answer and maxLine each line (0:
// none). An answer over max is ErrTooLarge: its rest is read and dropped up
// to drainLimit so that the session can go on (Usable), else the session
// is given up. Nothing over the limits is ever held in memory.
func (c *Client) multi(max int64, maxLine int, what string) ([]byte, error) {
	var buf bytes.Buffer
	for {
		limit := maxLine
		if left := max - int64(buf.Len()); max > 0 && (limit == 0 || left+1 < int64(limit)) {
			limit = int(left) + 1 // the dot of dot-stuffing
		}
		l, over, err := c.readBounded(limit)
		if over && limit != maxLine {
			return nil, c.drain(max, what)
		}
		if over {
			c.broken = true
			return nil, &LimitError{Server: c.addr, What: what, Limit: int64(maxLine)}
		}
		if err != nil {
			if errors.Is(err, ErrProtocol) {
				return nil, fmt.Errorf("%w: the multi-line answer ended without the closing dot", ErrProtocol)
			}
			return nil, err
		}
		if bytes.Equal(l, []byte(".\r\n")) || bytes.Equal(l, []byte(".\n")) {
			return buf.Bytes(), nil
		}
		if len(l) > 1 && l[0] == '.' {
			l = l[1:]
		}
		if max > 0 && int64(buf.Len()+len(l)) > max {
			return nil, c.drain(max, what)
		}
		buf.Write(l)
	}
}

// drain reads and drops the rest of an answer over its limit, up to
// drainLimit: ErrTooLarge, with the session usable when the end was found.
func (c *Client) drain(max int64, what string) error {
	var dropped int64
	for dropped < drainLimit {
		_ = c.conn.SetReadDeadline(time.Now().Add(c.timeout))
		l, err := c.r.ReadSlice('\n')
		dropped += int64(len(l))
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			c.broken = true
			return fmt.Errorf("%w (%s): %v", ErrTooLarge, byteText(max), err)
		}
		if err == nil && (bytes.Equal(l, []byte(".\r\n")) || bytes.Equal(l, []byte(".\n"))) {
			return fmt.Errorf("%w: more than %s", ErrTooLarge, byteText(max))
		}
	}
	c.broken = true
	return fmt.Errorf("%w: more than %s, and more than %s beyond it: the session was given up (%w)", ErrTooLarge, byteText(max), byteText(drainLimit),
		&LimitError{Server: c.addr, What: what, Limit: max})
}

// Usable reports whether the session can go on after a failed command.
func (c *Client) Usable() bool { return !c.broken }

// Capa lists the server's capabilities (RFC 2449).
func (c *Client) Capa() ([]string, error) {
	if _, err := c.cmd("CAPA"); err != nil {
		return nil, err
	}
	b, err := c.multi(64<<10, MaxListingLine, text.Mark("die Liste der Fähigkeiten"))
	if err != nil {
		return nil, err
	}
	return strings.Fields(strings.ReplaceAll(string(b), "\r\n", "\n")), nil
}

// AuthUserPass logs in with USER and PASS (the local server for the
// Kommunikator; never towards Microsoft 365).
func (c *Client) AuthUserPass(user, pass string) error {
	if _, err := c.cmd("USER " + user); err != nil {
		return err
	}
	if _, err := c.cmd("PASS " + pass); err != nil {
		return fmt.Errorf("%w: %v", ErrAuthFailed, err)
	}
	return nil
}

// AuthXOAUTH2 logs in with a bearer token. A server that refuses answers
// with a "+ " challenge carrying a base64 JSON error (Dovecot, Gmail), which
// must be answered with an empty line before the -ERR comes; Exchange
// answers -ERR at once.
func (c *Client) AuthXOAUTH2(user, token string) error {
	sasl := base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01"))
	if err := c.send("AUTH XOAUTH2 " + sasl); err != nil {
		return err
	}
	l, err := c.line()
	if err != nil {
		return err
	}
	if strings.HasPrefix(l, "+ ") || l == "+" {
		challenge := strings.TrimSpace(strings.TrimPrefix(l, "+"))
		if d, err := base64.StdEncoding.DecodeString(challenge); err == nil {
			c.Detail = string(d)
		}
		if err := c.send(""); err != nil {
			return err
		}
		if l, err = c.line(); err != nil {
			return err
		}
	}
	switch {
	case strings.HasPrefix(l, "+OK"):
		return nil
	case strings.HasPrefix(l, "-ERR [IN-USE]"):
		return fmt.Errorf("%w: %s", ErrInUse, strings.TrimSpace(strings.TrimPrefix(l, "-ERR")))
	case strings.HasPrefix(l, "-ERR"):
		if c.Detail == "" {
			c.Detail = strings.TrimSpace(strings.TrimPrefix(l, "-ERR"))
		}
		return fmt.Errorf("%w: %s", ErrAuthFailed, strings.TrimSpace(strings.TrimPrefix(l, "-ERR")))
	}
	return fmt.Errorf("%w: unexpected answer to AUTH %q", ErrProtocol, truncate(l))
}

// Entry is one message of the maildrop.
type Entry struct {
	Num  int
	UIDL string // "" when the server's UIDL breaks RFC 1939 (BadUIDL holds the line)
	Size int64
	// BadUIDL is the server's UIDL line for this message when it is not
	// 1–70 printable characters (RFC 1939, 7): the message cannot be
	// recognised by it.
	BadUIDL string
}

// List returns the messages with their UIDL and size.
func (c *Client) List() ([]Entry, error) {
	if _, err := c.cmd("UIDL"); err != nil {
		return nil, err
	}
	raw, err := c.multi(MaxListing, MaxListingLine, text.Mark("die Liste der Nachrichten"))
	if errors.Is(err, ErrTooLarge) {
		c.broken = true
		return nil, &LimitError{Server: c.addr, What: text.Mark("die Liste der Nachrichten"), Limit: MaxListing}
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	byNum := map[int]int{}
	c.Unreadable = nil
	for _, l := range strings.Split(strings.TrimRight(string(raw), "\r\n"), "\r\n") {
		if l == "" {
			continue
		}
		f := strings.Fields(l)
		n, err := strconv.Atoi(safeField(f, 0))
		if err != nil || n < 1 {
			// no message number: nothing to address, the message stays on
			// the server; the others are fetched
			c.Unreadable = append(c.Unreadable, truncate(l))
			continue
		}
		if _, dup := byNum[n]; dup {
			continue
		}
		e := Entry{Num: n}
		if len(f) == 2 && validUID(f[1]) {
			e.UIDL = f[1]
		} else {
			e.BadUIDL = truncate(l)
		}
		byNum[n] = len(out)
		out = append(out, e)
	}
	if _, err := c.cmd("LIST"); err != nil {
		return nil, err
	}
	raw, err = c.multi(MaxListing, MaxListingLine, text.Mark("die Liste der Nachrichten"))
	if errors.Is(err, ErrTooLarge) {
		c.broken = true
		return nil, &LimitError{Server: c.addr, What: text.Mark("die Liste der Nachrichten"), Limit: MaxListing}
	}
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(strings.TrimRight(string(raw), "\r\n"), "\r\n") {
		if l == "" {
			continue
		}
		f := strings.Fields(l)
		n, err1 := strconv.Atoi(safeField(f, 0))
		size, err2 := strconv.ParseInt(safeField(f, 1), 10, 64)
		if len(f) < 2 || err1 != nil || err2 != nil || size < 0 {
			// the size stays unknown: RETR is bounded by the size limit anyway
			continue
		}
		if i, ok := byNum[n]; ok {
			out[i].Size = size
		}
	}
	return out, nil
}

func safeField(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// validUID: RFC 1939 unique-ids are 1–70 characters 0x21–0x7E.
func validUID(s string) bool {
	if len(s) == 0 || len(s) > 70 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Retr reads a message; larger than max (0: no limit) is ErrTooLarge.
func (c *Client) Retr(n int, max int64) ([]byte, error) {
	if _, err := c.cmd("RETR " + strconv.Itoa(n)); err != nil {
		return nil, err
	}
	return c.multi(max, 0, text.Mark("eine Nachricht"))
}

// Dele marks a message for deletion at QUIT.
func (c *Client) Dele(n int) error {
	_, err := c.cmd("DELE " + strconv.Itoa(n))
	return err
}

// Quit ends the session; the server then deletes the marked messages.
func (c *Client) Quit() error {
	_, err := c.cmd("QUIT")
	c.conn.Close()
	return err
}
