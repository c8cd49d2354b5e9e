package m365sim

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// pop3IdleTimeout is Exchange's autologout timer.
const pop3IdleTimeout = 10 * time.Minute

const pop3AuthFailed = "-ERR Authentication failure: unknown user name or bad password."

func (s *Server) servePOP3(l net.Listener, implicitTLS bool) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		untrack := s.track(conn)
		go func() {
			defer s.wg.Done()
			defer untrack()
			if implicitTLS {
				conn = tls.Server(conn, s.tlsConf)
			}
			p := &pop3Session{s: s, conn: conn, tls: implicitTLS}
			p.serve()
		}()
	}
}

type pop3Session struct {
	s       *Server
	conn    net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	tls     bool
	user    *userState
	drop    []*item // maildrop snapshot, message n is drop[n-1]
	deleted map[int]bool
	locked  bool
}

func (p *pop3Session) send(lines ...string) {
	for _, l := range lines {
		p.w.WriteString(l + "\r\n")
	}
	p.w.Flush()
}

func (p *pop3Session) log(cmd string, ok bool, reason string) {
	st := 1
	if !ok {
		st = 0
	}
	e := LoggedRequest{Time: p.s.Now(), Service: "pop3", Method: cmd, Status: st, ErrorCode: reason}
	if p.user != nil {
		e.User = p.user.UPN
	}
	p.s.logRequest(e)
}

func (p *pop3Session) serve() {
	defer p.conn.Close()
	defer p.unlock()
	p.r = bufio.NewReaderSize(p.conn, 8192)
	p.w = bufio.NewWriter(p.conn)
	p.send("+OK The Microsoft Exchange POP3 service is ready. [bTM2NXNpbQ==]")
	for {
		_ = p.conn.SetReadDeadline(time.Now().Add(pop3IdleTimeout))
		line, err := readLine(p.r, 64<<10) // AUTH lines carry a whole token
		if err != nil {
			return
		}
		cmd, arg, _ := strings.Cut(line, " ")
		cmd = strings.ToUpper(cmd)
		if !p.dispatch(cmd, arg) {
			return
		}
	}
}

// readLine reads one CRLF line of at most max bytes.
func readLine(r *bufio.Reader, max int) (string, error) {
	var buf []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		buf = append(buf, chunk...)
		if len(buf) > max {
			return "", fmt.Errorf("line too long")
		}
		if !isPrefix {
			return string(buf), nil
		}
	}
}

func (p *pop3Session) dispatch(cmd, arg string) bool {
	if p.user == nil {
		switch cmd {
		case "CAPA":
			lines := []string{"+OK", "TOP", "UIDL", "SASL PLAIN XOAUTH2", "USER"}
			if !p.tls {
				lines = append(lines, "STLS")
			}
			p.send(append(lines, ".")...)
		case "STLS":
			if p.tls {
				p.send("-ERR Command is not valid in this state.")
				return true
			}
			p.send("+OK Begin TLS negotiation.")
			tc := tls.Server(p.conn, p.s.tlsConf)
			_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
			if err := tc.Handshake(); err != nil {
				return false
			}
			_ = tc.SetDeadline(time.Time{})
			p.conn, p.tls = tc, true
			p.r = bufio.NewReaderSize(tc, 8192)
			p.w = bufio.NewWriter(tc)
		case "USER":
			p.send("+OK")
		case "PASS":
			// basic authentication is switched off in Exchange Online
			p.log("PASS", false, "basic authentication is disabled")
			p.send("-ERR Logon failure: unknown user name or bad password.")
		case "AUTH":
			return p.auth(arg)
		case "QUIT":
			p.send("+OK Microsoft Exchange Server POP3 server signing off.")
			return false
		case "NOOP":
			p.send("+OK")
		default:
			p.send("-ERR Command is not valid in this state.")
		}
		return true
	}
	return p.transaction(cmd, arg)
}

func (p *pop3Session) auth(arg string) bool {
	mech, initial, _ := strings.Cut(arg, " ")
	mech = strings.ToUpper(mech)
	if !p.tls {
		p.send("-ERR Command is not valid in this state.")
		return true
	}
	if mech != "XOAUTH2" {
		p.log("AUTH "+mech, false, "mechanism not usable")
		p.send(pop3AuthFailed)
		return true
	}
	if initial == "" {
		p.send("+ ")
		line, err := readLine(p.r, 64<<10)
		if err != nil {
			return false
		}
		if line == "*" {
			p.send("-ERR Authentication canceled.")
			return true
		}
		initial = line
	}
	user, token, ok := saslXOAUTH2(initial)
	if !ok {
		p.log("AUTH XOAUTH2", false, "malformed SASL XOAUTH2 response")
		p.send(pop3AuthFailed)
		return true
	}
	res := p.s.checkMailToken(user, token, "POP.AccessAsUser.All", "POP.AccessAsApp")
	if res.user == nil {
		p.log("AUTH XOAUTH2", false, res.reason)
		p.send(pop3AuthFailed)
		return true
	}
	p.s.mu.Lock()
	switch {
	case res.user.POPDisabled:
		p.s.mu.Unlock()
		p.log("AUTH XOAUTH2", false, "POP3 is disabled for the mailbox")
		p.send(pop3AuthFailed)
		return true
	case res.user.mailbox.popBusy:
		p.s.mu.Unlock()
		p.log("AUTH XOAUTH2", false, "maildrop locked")
		p.send("-ERR [IN-USE] Unable to lock the maildrop: another POP3 session is using it.") // RFC 2449 response code
		return true
	}
	res.user.mailbox.popBusy = true
	p.locked = true
	p.user = res.user
	inbox := p.s.folderByName(res.user.mailbox, "inbox")
	p.drop = res.user.mailbox.messagesIn(inbox.ID)
	p.deleted = map[int]bool{}
	p.s.mu.Unlock()
	p.log("AUTH XOAUTH2", true, "")
	p.send("+OK User successfully authenticated.")
	return true
}

func (p *pop3Session) unlock() {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.unlockLocked()
}

// unlockLocked releases the maildrop. Caller holds s.mu.
func (p *pop3Session) unlockLocked() {
	if p.locked {
		p.user.mailbox.popBusy = false
		p.locked = false
	}
}

// msg resolves a message number argument.
func (p *pop3Session) msg(arg string) (int, *item, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(arg))
	if err != nil || n < 1 || n > len(p.drop) || p.deleted[n] {
		p.send("-ERR The specified message is out of range.")
		return 0, nil, false
	}
	return n, p.drop[n-1], true
}

func (p *pop3Session) transaction(cmd, arg string) bool {
	switch cmd {
	case "STAT":
		count, size := 0, 0
		for i, it := range p.drop {
			if !p.deleted[i+1] {
				count++
				size += len(it.Mail.Raw)
			}
		}
		p.send(fmt.Sprintf("+OK %d %d", count, size))
	case "LIST", "UIDL":
		value := func(it *item) string {
			if cmd == "LIST" {
				return strconv.Itoa(len(it.Mail.Raw))
			}
			return it.Mail.UIDL
		}
		if strings.TrimSpace(arg) != "" {
			if n, it, ok := p.msg(arg); ok {
				p.send(fmt.Sprintf("+OK %d %s", n, value(it)))
			}
			return true
		}
		lines := []string{"+OK"}
		for i, it := range p.drop {
			if !p.deleted[i+1] {
				lines = append(lines, fmt.Sprintf("%d %s", i+1, value(it)))
			}
		}
		p.send(append(lines, ".")...)
	case "RETR":
		if _, it, ok := p.msg(arg); ok {
			p.log("RETR", true, "")
			p.w.WriteString("+OK\r\n")
			writeDotStuffed(p.w, it.Mail.Raw, -1)
			p.send(".")
		}
	case "TOP":
		fields := strings.Fields(arg)
		if len(fields) != 2 {
			p.send("-ERR Protocol error. 14")
			return true
		}
		k, err := strconv.Atoi(fields[1])
		if err != nil || k < 0 {
			p.send("-ERR Protocol error. 14")
			return true
		}
		if _, it, ok := p.msg(fields[0]); ok {
			p.w.WriteString("+OK\r\n")
			writeDotStuffed(p.w, it.Mail.Raw, k)
			p.send(".")
		}
	case "DELE":
		if n, _, ok := p.msg(arg); ok {
			p.deleted[n] = true
			p.send("+OK")
		}
	case "RSET":
		p.deleted = map[int]bool{}
		p.send("+OK")
	case "NOOP":
		p.send("+OK")
	case "QUIT":
		p.s.mu.Lock()
		removed := 0
		for n := range p.deleted {
			id := p.drop[n-1].ID
			if it, ok := p.user.mailbox.Messages.Items[id]; ok {
				p.s.removeMessage(p.user.mailbox, it)
				removed++
			}
		}
		p.unlockLocked() // before the answer, so that the next session finds the maildrop free
		p.s.mu.Unlock()
		p.log("QUIT", true, fmt.Sprintf("%d deleted", removed))
		p.send("+OK Microsoft Exchange Server POP3 server signing off.")
		return false
	case "CAPA":
		p.send("+OK", "TOP", "UIDL", "SASL PLAIN XOAUTH2", "USER", ".")
	default:
		p.send("-ERR Command is not valid in this state.")
	}
	return true
}

// writeDotStuffed writes a message with CRLF line ends and leading dots
// doubled; with bodyLines >= 0 only the headers and that many body lines (TOP).
func writeDotStuffed(w *bufio.Writer, raw []byte, bodyLines int) {
	lines := bytes.Split(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	inBody, n := false, 0
	for _, l := range lines {
		if inBody && bodyLines >= 0 {
			if n >= bodyLines {
				break
			}
			n++
		}
		if len(l) > 0 && l[0] == '.' {
			w.WriteByte('.')
		}
		w.Write(l)
		w.WriteString("\r\n")
		if len(l) == 0 {
			inBody = true
		}
	}
}
