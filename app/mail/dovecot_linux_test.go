package mail_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/mail"
	"kanzleisync/app/testsupport"
)

// startDovecot runs a real Dovecot POP3 server on loopback that checks
// XOAUTH2 tokens against the emulator's RFC 7662 introspection endpoint
// (../shared/RECIPES.md), with an empty maildir for upn. It returns the
// address and the maildir's "new" directory. A non-empty password also
// allows USER/PASS with it (for fetchmail and getmail in make bench).
func startDovecot(t testing.TB, introspectURL, upn, password string) (string, string) {
	t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("KANZLEISYNC_IN_KEYRING_SESSION") != "" {
			t.Fatal("dovecot is missing; make test installs dovecot-pop3d")
		}
		t.Skip("dovecot is not installed")
	}
	if os.Geteuid() != 0 {
		t.Skip("Dovecot's master process needs root")
	}
	dv, err := user.Lookup("dovecot")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(dv.Uid)
	gid, _ := strconv.Atoi(dv.Gid)
	dir, err := os.MkdirTemp("", "kanzleisync-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"run", "state", "etc", "mail"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	newDir := filepath.Join(dir, "mail", upn, "Maildir", "new")
	for _, d := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, "mail", upn, "Maildir", d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	_ = filepath.Walk(filepath.Join(dir, "mail"), func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, uid, gid) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	plainMechs, plainDB := "", ""
	if password != "" {
		plainMechs = " plain login"
		plainDB = "passdb {\n  driver = static\n  mechanisms = plain login\n  args = password=" + password + "\n}"
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = xoauth2 oauthbearer%[3]s
auth_failure_delay = 0
mail_location = maildir:%[1]s/mail/%%u/Maildir
log_path = %[1]s/dovecot.log
default_internal_user = dovecot
default_login_user = dovenull
default_internal_group = dovecot
first_valid_uid = 100
pop3_uidl_format = %%g
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener pop3s {
    port = 0
  }
}
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = %[1]s/etc/oauth2.conf
}
%[4]s
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=%[1]s/mail/%%u
}
`, dir, port, plainMechs, plainDB)
	oauth := fmt.Sprintf("introspection_mode = post\nintrospection_url = %s\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n", introspectURL)
	confPath := filepath.Join(dir, "etc", "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "oauth2.conf"), []byte(oauth), 0o644); err != nil {
		t.Fatal(err)
	}
	// the daemon keeps its standard streams open: give it a file, not a pipe
	out, err := os.Create(filepath.Join(dir, "start.out"))
	if err != nil {
		t.Fatal(err)
	}
	start := exec.Command(bin, "-c", confPath)
	start.Stdout, start.Stderr = out, out
	err = start.Run()
	out.Close()
	if err != nil {
		msg, _ := os.ReadFile(out.Name())
		t.Fatalf("start dovecot: %v\n%s", err, msg)
	}
	t.Cleanup(func() { _ = exec.Command(bin, "-c", confPath, "stop").Run() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for range 50 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, newDir
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
	t.Fatalf("dovecot does not listen on %s:\n%s", addr, log)
	return "", ""
}

func TestFetchFromDovecot(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	addr, newDir := startDovecot(t, srv.URL()+"/introspect", anna, "")
	dv, _ := user.Lookup("dovecot")
	uid, _ := strconv.Atoi(dv.Uid)
	gid, _ := strconv.Atoi(dv.Gid)
	for i := range 40 {
		p := filepath.Join(newDir, fmt.Sprintf("%d.M%dP1.kanzlei", 1700000000+i, i))
		if err := os.WriteFile(p, mailText(i, strings.Repeat("Dovecot liefert. ", 100)), 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Chown(p, uid, gid)
	}
	st := openStore(t)
	f := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: outlookToken(t, srv)}}
	a := mail.Account{Address: anna, Addr: addr, Mode: mail.PlainLoopback, Timeout: 10 * time.Second}
	res, err := f.Fetch(context.Background(), a)
	if err != nil || res.Fetched != 40 || res.Deleted != 0 {
		t.Fatalf("fetch from Dovecot: %+v %v", res, err)
	}
	handOff(t, st, time.Now())
	if res, err := f.Fetch(context.Background(), a); err != nil || res.Deleted != 40 {
		t.Fatalf("fetch after the hand-off: %+v %v", res, err)
	}
	msgs, _ := st.Messages(context.Background(), anna)
	if len(msgs) != 40 || headerValue(string(msgs[0].Raw), "Subject") == "" {
		t.Fatalf("%d stored", len(msgs))
	}
	if res, err := f.Fetch(context.Background(), a); err != nil || res != (mail.Result{}) {
		t.Errorf("second fetch: %+v %v", res, err)
	}
	// a refused token: Dovecot answers with the JSON challenge first
	bad := &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: "kein.gueltiges.token"}}
	_, err = bad.Fetch(context.Background(), a)
	if !errors.Is(err, mail.ErrAuthFailed) {
		t.Fatalf("bad token: %v", err)
	}
	// the fetcher renewed the token and tried twice; Dovecot's auth penalty
	// now delays the third failure by several seconds
	c, err := mail.Dial(context.Background(), addr, mail.PlainLoopback, nil, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.AuthXOAUTH2(anna, "kein.gueltiges.token"); !errors.Is(err, mail.ErrAuthFailed) || !strings.Contains(c.Detail, `"status":"401"`) {
		t.Errorf("challenge detail %q, err %v", c.Detail, err)
	}
}
