package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/source"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
	"kanzleisync/platform/keyring/keyringtest"
)

// hangingServer accepts connections and never says a word (a POP3 or SMTP
// server that never greets, a Graph endpoint that never answers).
type hangingServer struct {
	addr string
	mu   sync.Mutex
	n    int
}

func startHanging(t *testing.T) *hangingServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hangingServer{addr: l.Addr().String()}
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		h.mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		h.mu.Unlock()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			conns = append(conns, c)
			h.n++
			h.mu.Unlock()
		}
	}()
	return h
}

func (h *hangingServer) connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestStopWithinASecond (issue 19: the tray needed 15 s to stop with a
// POP3 server that never greets; Windows gives a service far less at
// shutdown): the real tray under Xvfb, its POP3 server, SMTP server and
// Graph endpoint all hanging — a fetch waiting for the greeting, the
// outbox waiting for the SMTP greeting, an export waiting for Graph — and
// the Kommunikator connected to the local POP3 server and idle. SIGTERM
// ends the process within a second. Then `serve` waiting on Graph, the
// same.
func TestStopWithinASecond(t *testing.T) {
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Skip("needs Xvfb")
	}
	ctx := context.Background()
	dir := testsupport.TempDir(t)
	bin := filepath.Join(dir, "kanzleisync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	tf := m365sim.DemoTenant(time.Now())
	w := source.DemoWorkers[0]
	sim := simtest.Start(t, tf, m365sim.Options{})
	cache := filepath.Join(dir, "cache.sqlite")
	if err := source.Generate(ctx, cache, source.GenOptions{Seed: 5, Workers: []source.Worker{w}, Appointments: 40, Deadlines: 20,
		From: time.Date(2026, 1, 1, 0, 0, 0, 0, source.Berlin)}); err != nil {
		t.Fatal(err)
	}
	pop3, smtp := startHanging(t), startHanging(t)
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(data, "kanzleisync.db"))
	if err != nil {
		t.Fatal(err)
	}
	repo := config.NewRepo(st.DB())
	secrets, service := keyringtest.Real(t, auth.SecretKey("Kanzlei"), auth.RefreshKey(w.UPN))
	mgr := auth.NewManager(repo, secrets, auth.Options{})
	ent := config.Entity{Name: "Kanzlei", Tenant: m365sim.DemoTenantID, ClientID: m365sim.DemoClientID,
		SecretExpires: config.Date{Time: time.Now().AddDate(1, 0, 0)}, AuthorityHost: sim.URL(), GraphEndpoint: sim.URL(), CachePath: cache}
	if err := repo.SaveEntity(ctx, ent); err != nil {
		t.Fatal(err)
	}
	set := config.DefaultSettings()
	set.InterfaceActive, set.LocalPOP3, set.LocalSMTP = true, freePort(t), freePort(t)
	if err := repo.SaveSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	if err := mgr.SetClientSecret("Kanzlei", m365sim.DemoClientSecret); err != nil {
		t.Fatal(err)
	}
	port := func(addr string) int { _, p, _ := net.SplitHostPort(addr); n, _ := strconv.Atoi(p); return n }
	acc := config.MailAccount{Address: w.UPN, POP3Host: "127.0.0.1", POP3Port: port(pop3.addr), POP3TLS: config.TLSStartTLS,
		SMTPHost: "127.0.0.1", SMTPPort: port(smtp.addr)}.WithDefaults()
	if err := repo.SaveWorker(ctx, config.Worker{UPN: w.UPN, DisplayName: w.Name, Entity: "Kanzlei", Modules: config.AllModules,
		Accounts: []config.MailAccount{acc}}); err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.SignIn(ctx, w.UPN, auth.SignInOptions{ListenAddr: "127.0.0.1:0", Timeout: 30 * time.Second,
		OpenBrowser: m365sim.AnswerSignIn(m365sim.DemoPassword, func(err error) { t.Error(err) })}); err != nil {
		t.Fatal(err)
	}
	// signed in: from now on Microsoft Graph never answers (Entra does)
	sim.SetFaults(m365sim.Faults{Latency: m365sim.Duration(time.Hour)})
	// a message of the Kommunikator waits in the outbox
	if _, err := st.Enqueue(ctx, w.UPN, []string{"mandant@example.org"}, []byte("From: "+w.UPN+"\r\nTo: mandant@example.org\r\nSubject: Schriftsatz\r\n\r\nText\r\n"), time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	env := []string{"KANZLEISYNC_KEYRING_SERVICE=" + service, "LANG=de_DE.UTF-8", "KANZLEISYNC_POLICY_FILE=" + filepath.Join(data, "keine-policy.json")}

	// stop sends SIGTERM once everything hangs and returns how long the exit took
	stop := func(t *testing.T, cmd *exec.Cmd, waiting func() bool) time.Duration {
		t.Helper()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		testsupport.Eventually(t, 60*time.Second, "every connection to hang", func() bool {
			ok := waiting()
			if !ok && os.Getenv("STOP_DEBUG") != "" {
				t.Logf("pop3 %d smtp %d graph %d", pop3.connections(), smtp.connections(), sim.Held())
				time.Sleep(2 * time.Second)
			}
			return ok
		})
		start := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			took := time.Since(start)
			if err != nil {
				t.Errorf("exit after SIGTERM: %v", err)
			}
			return took
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("still running 30 s after SIGTERM")
		}
		return 0
	}

	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(data, "kanzleisync.log"))
			t.Logf("log:\n%s", b)
		}
	})
	t.Run("tray", func(t *testing.T) {
		display := startXvfb(t)
		cmd := exec.Command(bin, "-data-dir", data)
		cmd.Env = append(append(os.Environ(), "DISPLAY="+display), env...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		// the Kommunikator connects to the local POP3 server and stays idle
		var kommunikator net.Conn
		testsupport.Eventually(t, 30*time.Second, "the local POP3 server", func() bool {
			c, err := net.Dial("tcp", set.LocalPOP3)
			if err != nil {
				return false
			}
			if l, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(l, "+OK") {
				c.Close()
				return false
			}
			kommunikator = c
			return true
		})
		defer kommunikator.Close()
		took := stop(t, cmd, func() bool { return pop3.connections() > 0 && smtp.connections() > 0 && sim.Held() > 0 })
		t.Logf("tray: exit %v after SIGTERM (POP3, SMTP and Graph hanging, the Kommunikator idle on the local POP3 server)", took.Round(time.Millisecond))
		if took > time.Second {
			t.Errorf("the tray took %v to stop, want ≤ 1 s", took)
		}
	})

	t.Run("serve", func(t *testing.T) {
		testsupport.Eventually(t, 10*time.Second, "the tray's requests to end", func() bool { return sim.Held() == 0 })
		cmd := exec.Command(bin, "-data-dir", data, "serve", "--listen", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		took := stop(t, cmd, func() bool { return sim.Held() > 0 })
		t.Logf("serve: exit %v after SIGTERM (Graph hanging)", took.Round(time.Millisecond))
		if took > time.Second {
			t.Errorf("serve took %v to stop, want ≤ 1 s", took)
		}
	})
}
