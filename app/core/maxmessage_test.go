package core

import (
	"bytes"
	"context"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/testsupport"
)

// The firm's „größte Nachricht“ (maxMessageMB) reaches the running local
// SMTP server: changed in another process, the next message is measured
// against it — refused in German and not queued when larger, taken when
// smaller.
func TestMaxMessageSettingReachesTheLocalSMTPServer(t *testing.T) {
	f := newLive(t, true, []config.Module{config.Mail})
	var addr string
	testsupport.Eventually(t, 10*time.Second, "the local SMTP server", func() bool {
		addr = f.eng.Status().LocalSMTP
		return addr != ""
	})
	pw, ok := f.eng.localPassword(anna)
	if !ok {
		t.Fatal("no local password")
	}
	body := append([]byte("From: "+anna+"\r\nTo: gericht@example.org\r\nSubject: Anlagen\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"), (2<<20)/66)...)
	submit := func() error {
		c, err := smtp.Dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Auth(smtp.PlainAuth("", anna, pw, "127.0.0.1")); err != nil {
			return err
		}
		if err := c.Mail(anna); err != nil {
			return err
		}
		if err := c.Rcpt("gericht@example.org"); err != nil {
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
	queued := func() int {
		out, err := f.eng.o.Store.OutboxOf(context.Background(), anna)
		if err != nil {
			t.Fatal(err)
		}
		return len(out)
	}
	if err := submit(); err != nil { // 2 MB under the default 35 MB
		t.Fatalf("2 MB at the default limit: %v", err)
	}
	set, err := f.repo.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	set.MaxMessageMB = 1
	if err := f.repo.SaveSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, 10*time.Second, "the engine to read the new limit", func() bool { return f.eng.maxMessage.Load() == 1<<20 })
	before := queued()
	err = submit()
	if err == nil || !strings.Contains(err.Error(), "552") || !strings.Contains(err.Error(), "größer als 1 MB") {
		t.Fatalf("2 MB at a 1 MB limit: %v", err)
	}
	if n := queued(); n != before {
		t.Errorf("the refused message was queued: %d → %d", before, n)
	}
}
