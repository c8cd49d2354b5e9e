package mail_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/handoff"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

// TestPOP3Figures (make bench, KANZLEISYNC_FIGURES=1): 1,000 messages of
// about 50 KB are fetched from a real Dovecot by kanzleisync (XOAUTH2,
// committed to SQLite before DELE), by fetchmail (USER/PASS, one MDA
// process per message writing a file) and by getmail6 (USER/PASS, Maildir
// delivery), each from the same mailbox content and each in its own process,
// whose peak RSS GNU time reports.
func TestPOP3Figures(t *testing.T) {
	if os.Getenv("KANZLEISYNC_FIGURES") == "" || os.Getenv("KANZLEISYNC_FETCH_CHILD") != "" {
		t.Skip("make bench sets KANZLEISYNC_FIGURES")
	}
	for _, bin := range []string{"fetchmail", "getmail", "/usr/bin/time"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is missing; make bench installs fetchmail, getmail6 and time", bin)
		}
	}
	const n, password = 1000, "bench-pass"
	srv := simtest.Start(t, nil, m365sim.Options{})
	addr, newDir := startDovecot(t, srv.URL()+"/introspect", anna, password)
	host, port, _ := strings.Cut(addr, ":")
	dv, _ := user.Lookup("dovecot")
	uid, _ := strconv.Atoi(dv.Uid)
	gid, _ := strconv.Atoi(dv.Gid)
	body := strings.Repeat("Sehr geehrte Damen und Herren, in der Sache Müller ./. Schäfer. ", 800) // ~52 KB
	round := 0
	fill := func() { // fresh file names each round: Dovecot remembers expunged ones
		round++
		for i := range n {
			p := filepath.Join(newDir, fmt.Sprintf("%d.M%dP%d.kanzlei", 1700000000+i, i, round))
			if err := os.WriteFile(p, mailText(i, body), 0o600); err != nil {
				t.Fatal(err)
			}
			_ = os.Chown(p, uid, gid)
		}
	}
	run := func(name string, cmd *exec.Cmd, delivered func() int) (float64, float64) {
		fill()
		out, err := os.CreateTemp(testsupport.TempDir(t), name)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = out, out
		// GNU time reports the peak RSS of its own child: Go starts children
		// with vfork, so their rusage would carry this test's RSS.
		rssFile := filepath.Join(testsupport.TempDir(t), name+".rss")
		cmd.Args = append([]string{"time", "-f", "%M", "-o", rssFile}, append([]string{cmd.Path}, cmd.Args[1:]...)...)
		cmd.Path = "/usr/bin/time"
		start := time.Now()
		err = cmd.Run()
		elapsed := time.Since(start)
		if err != nil {
			log, _ := os.ReadFile(out.Name())
			t.Fatalf("%s: %v\n%s", name, err, log)
		}
		if got := delivered(); got != n {
			log, _ := os.ReadFile(out.Name())
			left, _ := os.ReadDir(filepath.Join(filepath.Dir(newDir), "cur"))
			t.Fatalf("%s delivered %d of %d messages, %d left on the server\n%s", name, got, n, len(left), log[:min(len(log), 3000)])
		}
		if left, _ := os.ReadDir(filepath.Join(filepath.Dir(newDir), "cur")); len(left) != 0 {
			t.Fatalf("%s left %d messages on the server", name, len(left))
		}
		kb, err := os.ReadFile(rssFile)
		if err != nil {
			t.Fatal(err)
		}
		rssKB, err := strconv.ParseFloat(strings.TrimSpace(string(kb)), 64)
		if err != nil {
			t.Fatalf("peak RSS of %s: %q", name, kb)
		}
		rss := rssKB / 1024
		perS := float64(n) / elapsed.Seconds()
		t.Logf("%s: %d messages in %v, %.1f msgs/s, peak RSS %.1f MB", name, n, elapsed.Round(time.Millisecond), perS, rss)
		return perS, rss
	}
	dir := testsupport.TempDir(t)

	storePath := filepath.Join(dir, "k.db")
	ours := exec.Command(os.Args[0], "-test.run=^TestFetchChild$", "-test.count=1")
	ours.Env = append(os.Environ(), "KANZLEISYNC_FETCH_CHILD=1", "POP3_PLAIN=1", "TAKE_AND_DELETE=1", "POP3_ADDR="+addr, "POP3_TOKEN="+outlookToken(t, srv), "STORE="+storePath)
	oursPerS, oursRSS := run("kanzleisync", ours, func() int {
		st, err := store.Open(storePath)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		msgs, _ := st.Messages(context.Background(), anna)
		return len(msgs)
	})

	// the hand-off: fetchmail, as the Kommunikator, takes the 1,000 messages
	// kanzleisync holds from its local POP3 server (the same tool and
	// delivery as from Dovecot below)
	handoffPerS := handoffFigure(t, storePath, n)

	fmDir := filepath.Join(dir, "fetchmail-out")
	_ = os.MkdirAll(fmDir, 0o700)
	rc := filepath.Join(dir, "fetchmailrc")
	conf := fmt.Sprintf("set no syslog\npoll %s port %s protocol pop3 auth password:\n  user %q password %q is root here\n  options fetchall no keep sslproto '' mda \"cat > %s/m.$$\"\n", host, port, anna, password, fmDir)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	fm := exec.Command("fetchmail", "-f", rc, "--idfile", filepath.Join(dir, "fetchids"), "--pidfile", filepath.Join(dir, "fetchmail.pid"), "--nodetach")
	fm.Env = append(os.Environ(), "HOME="+dir, "FETCHMAILHOME="+dir)
	fmPerS, fmRSS := run("fetchmail", fm, func() int { e, _ := os.ReadDir(fmDir); return len(e) })

	// getmail's delivery user must be able to read the parent directory
	gmParent, err := os.MkdirTemp("", "kanzleisync-getmail-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(gmParent) })
	_ = os.Chmod(gmParent, 0o755)
	gmDir := filepath.Join(gmParent, "Maildir")
	for _, d := range []string{"new", "cur", "tmp"} {
		_ = os.MkdirAll(filepath.Join(gmDir, d), 0o700)
	}
	// getmail refuses to deliver as root; its Maildir destination switches to this user
	_ = filepath.Walk(gmDir, func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, uid, gid) })
	gmrc := filepath.Join(dir, "getmailrc")
	gconf := fmt.Sprintf("[retriever]\ntype = SimplePOP3Retriever\nserver = %s\nport = %s\nusername = %s\npassword = %s\n\n[destination]\ntype = Maildir\npath = %s/\nuser = dovecot\n\n[options]\ndelete = true\nread_all = true\nverbose = 1\nmessage_log_syslog = false\n",
		host, port, anna, password, gmDir)
	if err := os.WriteFile(gmrc, []byte(gconf), 0o600); err != nil {
		t.Fatal(err)
	}
	gm := exec.Command("getmail", "--getmaildir", dir, "--rcfile", gmrc)
	gmPerS, gmRSS := run("getmail6", gm, func() int { e, _ := os.ReadDir(filepath.Join(gmDir, "new")); return len(e) })

	fmt.Printf("figure: pop3_msgs_per_s = %.1f msgs/s\n", oursPerS)
	fmt.Printf("figure: pop3_speedup_vs_fetchmail = %.2f x\n", oursPerS/fmPerS)
	fmt.Printf("figure: pop3_speedup_vs_getmail = %.2f x\n", oursPerS/gmPerS)
	fmt.Printf("figure: pop3_peak_rss_mb = %.1f MB\n", oursRSS)
	fmt.Printf("figure: pop3_fetchmail_msgs_per_s = %.1f msgs/s\n", fmPerS)
	fmt.Printf("figure: pop3_getmail_msgs_per_s = %.1f msgs/s\n", gmPerS)
	fmt.Printf("figure: pop3_fetchmail_peak_rss_mb = %.1f MB\n", fmRSS)
	fmt.Printf("figure: pop3_getmail_peak_rss_mb = %.1f MB\n", gmRSS)
	fmt.Printf("figure: handoff_pop3_msgs_per_s = %.1f msgs/s\n", handoffPerS)
	fmt.Printf("figure: handoff_vs_fetchmail_from_dovecot = %.2f x\n", handoffPerS/fmPerS)
}

// handoffFigure serves the store's messages of anna over the local POP3
// server, marks them waiting again, and times fetchmail taking all n.
func handoffFigure(t *testing.T, storePath string, n int) float64 {
	t.Helper()
	st, err := store.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.DB().Exec(`UPDATE message SET taken_at = '' WHERE account = ?`, anna); err != nil {
		t.Fatal(err)
	}
	const pw = "lokales-Bench-Passwort-0123456789"
	srv := &handoff.POP3Server{Store: st, Passwords: func(a string) (string, bool) { return pw, strings.EqualFold(a, anna) }}
	ln, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, ln)
	host, port, _ := strings.Cut(ln.Addr().String(), ":")
	dir := testsupport.TempDir(t)
	out := filepath.Join(dir, "out")
	_ = os.MkdirAll(out, 0o700)
	rc := filepath.Join(dir, "fetchmailrc")
	conf := fmt.Sprintf("set no syslog\npoll %s port %s protocol pop3 auth password:\n  user %q password %q is root here\n  options fetchall no keep sslproto '' mda \"cat > %s/m.$$\"\n", host, port, anna, pw, out)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	fm := exec.Command("fetchmail", "-f", rc, "--idfile", filepath.Join(dir, "ids"), "--pidfile", filepath.Join(dir, "pid"), "--nodetach")
	fm.Env = append(os.Environ(), "HOME="+dir, "FETCHMAILHOME="+dir)
	start := time.Now()
	if b, err := fm.CombinedOutput(); err != nil {
		t.Fatalf("fetchmail from the local POP3 server: %v\n%.3000s", err, b)
	}
	elapsed := time.Since(start)
	if e, _ := os.ReadDir(out); len(e) != n {
		t.Fatalf("fetchmail took %d of %d messages from the local POP3 server", len(e), n)
	}
	if w, _ := st.Waiting(context.Background(), anna); len(w) != 0 {
		t.Fatalf("%d messages still waiting after fetchmail", len(w))
	}
	perS := float64(n) / elapsed.Seconds()
	t.Logf("handoff: fetchmail took %d messages from the local POP3 server in %v, %.1f msgs/s", n, elapsed.Round(time.Millisecond), perS)
	return perS
}
