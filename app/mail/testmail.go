package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"kanzleisync/app/text"
)

// TestMailReport is what "Testmail senden" shows: every step with its
// outcome, and for a failure what to do.
type TestMailReport struct {
	Steps  []Step
	Err    error
	Advice string
}

// Text renders the report for the dialog and for copying into a ticket.
func (r TestMailReport) Text() string {
	var b strings.Builder
	for _, s := range r.Steps {
		mark := "✓"
		if !s.OK {
			mark = "✗"
		}
		fmt.Fprintf(&b, "%s %-10s %s\n", mark, s.Name, s.Detail)
	}
	var se *SendError
	switch {
	case r.Err == nil:
		b.WriteString(text.T("\nDie Testmail wurde versendet.\n"))
	case errors.As(r.Err, &se) && se.Uncertain:
		b.WriteString(text.F("\nOb die Testmail versendet wurde, ist unklar. %s\n", r.Advice))
	default:
		b.WriteString(text.F("\nDie Testmail wurde nicht versendet. %s\n", r.Advice))
	}
	return b.String()
}

// SendTestMail sends a short message to to (empty: the account's own
// address) and records each step of the way.
func (s *Sender) SendTestMail(ctx context.Context, a Account, fromName, to string) TestMailReport {
	if to == "" {
		to = a.Address
	}
	var rep TestMailReport
	inner := s.Step
	ts := *s
	ts.Step = func(st Step) {
		rep.Steps = append(rep.Steps, st)
		if inner != nil {
			inner(st)
		}
	}
	rep.Err = ts.Send(ctx, a, testMessage(fromName, to, a.Address, text.F("den Postausgangsserver %s", a.Addr)))
	if rep.Err != nil {
		var se *SendError
		if errors.As(rep.Err, &se) {
			rep.Advice = se.Advice()
		} else {
			rep.Advice = text.T("Bitte das Konto unter „Konten“ neu anmelden.")
		}
	}
	return rep
}

// testMessage is the test mail of an account, sent over the named way.
func testMessage(fromName, to, account, via string) *Message {
	return &Message{
		FromName: fromName,
		To:       []netmail.Address{{Address: to}},
		Subject:  "kanzleisync: Testmail",
		Text: fmt.Sprintf(text.T("Diese Testmail wurde am %s von kanzleisync über %s gesendet.\n")+
			text.T("Wenn sie angekommen ist, funktioniert das Versenden für das Konto %s.\n"), time.Now().Format("02.01.2006 um 15:04"), via, account),
	}
}
