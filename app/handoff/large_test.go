package handoff_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/graph"
	"kanzleisync/app/handoff"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

// pdfFile is the attachment smtplib_send.py makes: bytes 0…255 repeated.
func pdfFile(n int) []byte {
	pattern := make([]byte, 256)
	for i := range pattern {
		pattern[i] = byte(i)
	}
	return bytes.Repeat(pattern, n/256)
}

// fileOf is the decoded Klageschrift.pdf of a delivered message.
func fileOf(t *testing.T, raw []byte) []byte {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var find func(ct string, r io.Reader) []byte
	find = func(ct string, r io.Reader) []byte {
		mt, params, _ := mime.ParseMediaType(ct)
		if !strings.HasPrefix(mt, "multipart/") {
			return nil
		}
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return nil
			}
			if p.FileName() == "Klageschrift.pdf" {
				b, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
				return b
			}
			if b := find(p.Header.Get("Content-Type"), p); b != nil {
				return b
			}
		}
	}
	return find(m.Header.Get("Content-Type"), m.Body)
}

// sendOnce runs an outbox until its first pass is done.
func sendOnce(t *testing.T, st *store.Store, send func(ctx context.Context, raw []byte, rcpts []string) error) []store.Outgoing {
	t.Helper()
	passes := make(chan struct{}, 10)
	ob := &handoff.Outbox{Store: st, Account: anna, Send: send, OnDone: func() { passes <- struct{}{} }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ob.Run(ctx)
	<-passes
	out, err := st.OutboxOf(context.Background(), anna)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A 30 MB attachment from smtplib goes through the local SMTP server and
// arrives byte for byte over both transports — SMTP with XOAUTH2, and
// Graph as draft + upload session — at a mailbox whose limit the IT raised
// to 50 MB; a 40 MB message at the default 35 MB is refused by the local
// server in German (smtplib announces the size: refused at MAIL FROM) and
// nothing is queued.
func TestLargeMessagesOverBothTransports(t *testing.T) {
	tf := m365sim.DemoTenant(time.Now())
	tf.SMTPMaxSize = 50 << 20
	sim := simtest.Start(t, tf, m365sim.Options{})
	jens := "jens.schaefer@kanzlei.example"
	want := pdfFile(30 << 20)

	tok := simtest.SignIn(t, sim, anna, "https://outlook.office.com/SMTP.Send").AccessToken
	sender := &mail.Sender{Tokens: testsupport.StaticTokens{Token: tok}}
	acc := mail.Account{Address: anna, Addr: sim.SMTPAddr(), TLS: simtest.TLSConfig(sim), Timeout: 60 * time.Second}
	gm := &mail.GraphMail{Client: graph.New(sim.URL(), testsupport.StaticTokens{Token: simtest.SignIn(t, sim, anna).AccessToken}, graph.Options{}), Mailbox: anna}
	for i, send := range []func(ctx context.Context, raw []byte, rcpts []string) error{
		func(ctx context.Context, raw []byte, rcpts []string) error {
			return sender.SendRaw(ctx, acc, raw, rcpts)
		},
		gm.SendMIME,
	} {
		st := openStore(t)
		addr := startSMTPLimit(t, st, 50<<20)
		if got := smtplib(t, addr, anna, localPW, anna, jens, "PLAIN", len(want)); got != "ok" {
			t.Fatalf("transport %d: smtplib: %s", i, got)
		}
		out := sendOnce(t, st, send)
		if len(out) != 1 || out[0].State != store.Sent {
			t.Fatalf("transport %d: outbox %+v", i, out)
		}
		raws, err := sim.RawMessages(jens, "inbox")
		if err != nil || len(raws) != i+1 {
			t.Fatalf("transport %d: jens has %d messages (%v)", i, len(raws), err)
		}
		if got := fileOf(t, raws[i]); !bytes.Equal(got, want) {
			t.Errorf("transport %d: %d bytes of the file arrived, %d sent", i, len(got), len(want))
		}
		if subj := header(raws[i], "Subject"); !strings.Contains(mustDecode(subj), "Schriftsatz Müller") {
			t.Errorf("transport %d: subject %q", i, subj)
		}
	}

	st := openStore(t)
	addr := startSMTPLimit(t, st, 35<<20)
	got := smtplib(t, addr, anna, localPW, anna, jens, "PLAIN", 40<<20)
	if !strings.HasPrefix(got, "552") || !strings.Contains(got, "35 MB") {
		t.Errorf("40 MB at 35 MB: %s", got)
	}
	// a client that announces no size is refused after the data
	body := append([]byte("From: "+anna+"\r\nTo: "+jens+"\r\nSubject: gross\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"), (36<<20)/66)...)
	err := sendPlain(addr, jens, body)
	if err == nil || !strings.Contains(err.Error(), "552") || !strings.Contains(err.Error(), "größer als 35 MB") {
		t.Errorf("36 MB without SIZE: %v", err)
	}
	if out, _ := st.OutboxOf(context.Background(), anna); len(out) != 0 {
		t.Errorf("%d queued after the refusals", len(out))
	}
}

func header(raw []byte, name string) string {
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return m.Header.Get(name)
}

func mustDecode(s string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

// sendPlain submits with net/smtp, without STARTTLS and without SIZE.
func sendPlain(addr, to string, body []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Auth(smtp.PlainAuth("", anna, localPW, "127.0.0.1")); err != nil {
		return err
	}
	if err := c.Mail(anna); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Close()
}
