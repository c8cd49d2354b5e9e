package m365sim

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

const smtpHost = "FR0P281CA0001.outlook.office365.com"

func (s *Server) serveSMTP(l net.Listener) {
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
			(&smtpSession{s: s, conn: conn}).serve()
		}()
	}
}

type smtpSession struct {
	s     *Server
	conn  net.Conn
	r     *bufio.Reader
	w     *bufio.Writer
	tls   bool
	ehlo  bool
	user  *userState
	from  string
	rcpts []string
}

func (c *smtpSession) reply(lines ...string) {
	for _, l := range lines {
		c.w.WriteString(l + "\r\n")
	}
	c.w.Flush()
}

func (c *smtpSession) log(cmd string, code int, reason string) {
	e := LoggedRequest{Time: c.s.Now(), Service: "smtp", Method: cmd, Status: code, ErrorCode: reason}
	if c.user != nil {
		e.User = c.user.UPN
	}
	c.s.logRequest(e)
}

func (c *smtpSession) serve() {
	defer c.conn.Close()
	defer func() {
		if c.user != nil {
			c.s.mu.Lock()
			c.user.smtpSessions--
			c.s.mu.Unlock()
		}
	}()
	c.r = bufio.NewReaderSize(c.conn, 8192)
	c.w = bufio.NewWriter(c.conn)
	c.reply(fmt.Sprintf("220 %s Microsoft ESMTP MAIL Service ready at %s", smtpHost, c.s.Now().Format(time.RFC1123Z)))
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Minute))
		line, err := readLine(c.r, 64<<10) // AUTH lines carry a whole token
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		if !c.dispatch(strings.ToUpper(verb), arg) {
			return
		}
	}
}

func (c *smtpSession) dispatch(verb, arg string) bool {
	switch verb {
	case "EHLO", "HELO":
		c.ehlo = true
		c.reset()
		if verb == "HELO" {
			c.reply(fmt.Sprintf("250 %s Hello [127.0.0.1]", smtpHost))
			return true
		}
		lines := []string{fmt.Sprintf("250-%s Hello [127.0.0.1]", smtpHost), fmt.Sprintf("250-SIZE %d", c.s.cfg.SMTPMaxSize),
			"250-PIPELINING", "250-DSN", "250-ENHANCEDSTATUSCODES"}
		if c.tls {
			lines = append(lines, "250-AUTH LOGIN XOAUTH2 OAUTHBEARER")
		} else {
			lines = append(lines, "250-STARTTLS")
		}
		c.reply(append(lines, "250-8BITMIME", "250-BINARYMIME", "250-CHUNKING", "250 SMTPUTF8")...)
	case "STARTTLS":
		if c.tls {
			c.reply("503 5.5.1 Bad sequence of commands")
			return true
		}
		c.reply("220 2.0.0 SMTP server ready")
		tc := tls.Server(c.conn, c.s.tlsConf)
		_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.Handshake(); err != nil {
			return false
		}
		_ = tc.SetDeadline(time.Time{})
		c.conn, c.tls, c.ehlo = tc, true, false
		c.r = bufio.NewReaderSize(tc, 8192)
		c.w = bufio.NewWriter(tc)
		c.reset()
	case "AUTH":
		return c.auth(arg)
	case "MAIL":
		c.mail(arg)
	case "RCPT":
		c.rcpt(arg)
	case "DATA":
		return c.data()
	case "RSET":
		c.reset()
		c.reply("250 2.0.0 Resetting")
	case "NOOP":
		c.reply("250 2.0.0 OK")
	case "QUIT":
		c.reply("221 2.0.0 Service closing transmission channel")
		return false
	default:
		c.reply(fmt.Sprintf("500 5.3.3 Unrecognized command '%s'", verb))
	}
	return true
}

func (c *smtpSession) reset() { c.from, c.rcpts = "", nil }

func (c *smtpSession) auth(arg string) bool {
	mech, initial, _ := strings.Cut(arg, " ")
	mech = strings.ToUpper(mech)
	switch {
	case !c.ehlo:
		c.reply("503 5.5.1 Send hello first")
		return true
	case !c.tls:
		c.reply("504 5.7.4 Unrecognized authentication type")
		return true
	case c.user != nil:
		c.reply("503 5.5.1 Already authenticated")
		return true
	}
	if mech != "XOAUTH2" && mech != "OAUTHBEARER" && mech != "LOGIN" {
		c.reply("504 5.7.4 Unrecognized authentication type")
		return true
	}
	if initial == "" {
		c.reply("334 ")
		line, err := readLine(c.r, 64<<10)
		if err != nil {
			return false
		}
		if line == "*" {
			c.reply("501 5.0.0 Authentication aborted")
			return true
		}
		initial = line
	}
	var user, token string
	var ok bool
	switch mech {
	case "XOAUTH2":
		user, token, ok = saslXOAUTH2(initial)
	case "OAUTHBEARER":
		user, token, ok = saslOAUTHBEARER(initial)
	}
	if !ok {
		c.log("AUTH "+mech, 535, "malformed SASL response or basic authentication")
		c.reply("535 5.7.3 Authentication unsuccessful")
		return true
	}
	c.s.mu.Lock()
	u := c.s.lookupUser(user)
	disabled := ""
	if u != nil {
		if u.SMTPAuth != nil {
			if !*u.SMTPAuth {
				disabled = "Mailbox"
			}
		} else if u.tenant.SMTPAuthDisabled {
			disabled = "Tenant"
		}
	}
	c.s.mu.Unlock()
	if disabled != "" {
		c.log("AUTH "+mech, 535, "SmtpClientAuthentication disabled for the "+disabled)
		c.reply(fmt.Sprintf("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the %s. Visit https://aka.ms/smtp_auth_disabled for more information. [%s]", disabled, smtpHost))
		return true
	}
	res := c.s.checkMailToken(user, token, "SMTP.Send", "SMTP.SendAsApp")
	if res.user == nil {
		c.log("AUTH "+mech, 535, res.reason)
		c.reply(fmt.Sprintf("535 5.7.3 Authentication unsuccessful [%s]", smtpHost))
		return true
	}
	c.s.mu.Lock()
	busy := res.user.smtpSessions >= maxSMTPSessions
	if !busy {
		res.user.smtpSessions++
	}
	c.s.mu.Unlock()
	if busy {
		c.log("AUTH "+mech, 432, "concurrent connections limit")
		c.reply(fmt.Sprintf("432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information. [Hostname=%s]", smtpHost))
		return false
	}
	c.user = res.user
	c.log("AUTH "+mech, 235, "")
	c.reply("235 2.7.0 Authentication successful")
	return true
}

// Exchange Online's limits for SMTP AUTH client submission
// (learn.microsoft.com/exchange/troubleshoot/send-emails/smtp-submission-improvements):
// three concurrent connections per mailbox (432 4.3.2), 10,000 recipients a
// day (554 5.2.0 SubmissionQuotaExceededException). Its 30 messages a
// minute are not refused but delayed, which the emulator does not model.
const (
	maxSMTPSessions      = 3
	maxSMTPRecipientsDay = 10000
)

// pathArg reads "FROM:<a@b> SIZE=123" into the address and parameters.
func pathArg(arg, prefix string) (string, map[string]string, bool) {
	if !strings.HasPrefix(strings.ToUpper(arg), prefix) {
		return "", nil, false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		return "", nil, false
	}
	end := strings.Index(rest, ">")
	if end < 0 {
		return "", nil, false
	}
	params := map[string]string{}
	for _, p := range strings.Fields(rest[end+1:]) {
		k, v, _ := strings.Cut(p, "=")
		params[strings.ToUpper(k)] = v
	}
	return rest[1:end], params, true
}

func (c *smtpSession) mail(arg string) {
	if c.user == nil {
		c.reply("530 5.7.57 Client not authenticated to send mail. Error: 530 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM")
		return
	}
	if c.from != "" {
		c.reply("503 5.5.1 Sender already specified")
		return
	}
	addr, params, ok := pathArg(arg, "FROM:")
	if !ok {
		c.reply("501 5.5.4 Invalid arguments")
		return
	}
	if sz, ok := params["SIZE"]; ok {
		n, err := strconv.ParseInt(sz, 10, 64)
		if err != nil {
			c.reply("501 5.5.4 Invalid arguments")
			return
		}
		if n > c.s.cfg.SMTPMaxSize {
			c.log("MAIL", 552, "size over limit")
			c.reply("552 5.3.4 Message size exceeds fixed maximum message size")
			return
		}
	}
	if !strings.EqualFold(addr, c.user.Mail) && !strings.EqualFold(addr, c.user.UPN) {
		c.log("MAIL", 550, "send as denied")
		c.reply("550 5.7.60 SMTP; Client does not have permissions to send as this sender")
		return
	}
	c.from = addr
	c.reply("250 2.1.0 Sender OK")
}

func (c *smtpSession) rcpt(arg string) {
	if c.from == "" {
		c.reply("503 5.5.1 Need mail command")
		return
	}
	addr, _, ok := pathArg(arg, "TO:")
	if !ok || !strings.Contains(addr, "@") {
		c.reply("501 5.1.3 Invalid address")
		return
	}
	c.rcpts = append(c.rcpts, addr)
	c.reply("250 2.1.5 Recipient OK")
}

func (c *smtpSession) data() bool {
	if c.from == "" || len(c.rcpts) == 0 {
		c.reply("503 5.5.1 Need rcpt command")
		return true
	}
	c.reply("354 Start mail input; end with <CRLF>.<CRLF>")
	var buf bytes.Buffer
	tooBig := false
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			return false
		}
		if bytes.Equal(line, []byte(".\r\n")) || bytes.Equal(line, []byte(".\n")) {
			break
		}
		if len(line) > 0 && line[0] == '.' && err == nil {
			line = line[1:]
		}
		if int64(buf.Len()+len(line)) > c.s.cfg.SMTPMaxSize {
			tooBig = true
		}
		if !tooBig {
			buf.Write(line)
		}
	}
	defer c.reset()
	if tooBig {
		c.log("DATA", 552, "size over limit")
		c.reply("552 5.3.4 Message size exceeds fixed maximum message size")
		return true
	}
	raw := buf.Bytes()
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		if from, err := (&mail.AddressParser{WordDecoder: wordDecoder}).Parse(msg.Header.Get("From")); err == nil &&
			!strings.EqualFold(from.Address, c.user.Mail) && !strings.EqualFold(from.Address, c.user.UPN) {
			c.log("DATA", 554, "From header is not the authenticated mailbox")
			c.reply("554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message.")
			return true
		}
	}
	c.s.mu.Lock()
	temp := c.s.faults.SMTPTempFail > 0 && c.s.rng.Float64() < c.s.faults.SMTPTempFail
	drop := !temp && c.s.faults.SMTPDrop > 0 && c.s.rng.Float64() < c.s.faults.SMTPDrop
	c.s.mu.Unlock()
	if temp {
		c.log("DATA", 451, "injected")
		c.reply("451 4.7.500 Server busy. Please try again later from [127.0.0.1]")
		return true
	}
	if drop {
		c.log("DATA", 0, "injected drop")
		return false
	}
	c.s.mu.Lock()
	day := c.s.now().UTC().Format("2006-01-02")
	if c.user.smtpRecipients == nil {
		c.user.smtpRecipients = map[string]int{}
	}
	if c.user.smtpRecipients[day]+len(c.rcpts) > maxSMTPRecipientsDay {
		c.s.mu.Unlock()
		c.log("DATA", 554, "recipient rate limit")
		c.reply("554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message.")
		return true
	}
	c.user.smtpRecipients[day] += len(c.rcpts)
	c.s.routeMail(c.user.Mail, c.rcpts, append([]byte(nil), raw...), "smtp")
	sent := c.s.folderByName(c.user.mailbox, "sentitems")
	it := c.s.storeMessage(c.user.mailbox, sent.ID, append([]byte(nil), raw...))
	it.Props["isRead"] = true
	id := c.s.newGUID()
	c.s.mu.Unlock()
	c.log("DATA", 250, "")
	c.reply(fmt.Sprintf("250 2.0.0 OK <%s@%s> [Hostname=%s]", id, smtpHost, smtpHost))
	return true
}
