package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/export"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/server"
	"kanzleisync/app/source"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
	"kanzleisync/platform/keyring/keyringtest"
)

// serveSetup is a firm for `kanzleisync serve`: the emulator with the app
// registration's application permissions, a cache, a data directory with
// the entity (secret in the keyring), the interface switched on and one
// worker per cache Sachbearbeiter (nobody signed in: the server needs no
// sign-in).
type serveSetup struct {
	sim     *m365sim.Server
	bin     string
	data    string
	cache   string
	service string
	workers []source.Worker
}

func newServeSetup(t *testing.T, tf *m365sim.TenantFile, workers []source.Worker, gen source.GenOptions) *serveSetup {
	t.Helper()
	ctx := context.Background()
	dir := testsupport.TempDir(t)
	s := &serveSetup{sim: simtest.Start(t, tf, m365sim.Options{}), bin: filepath.Join(dir, "kanzleisync"), data: filepath.Join(dir, "data"),
		cache: filepath.Join(dir, "cache.sqlite"), workers: workers}
	if out, err := exec.Command("go", "build", "-o", s.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	gen.Workers, gen.From = workers, time.Date(2026, 1, 1, 0, 0, 0, 0, source.Berlin)
	if err := source.Generate(ctx, s.cache, gen); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(s.data, 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(s.data, "kanzleisync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	repo := config.NewRepo(st.DB())
	if err := repo.SaveEntity(ctx, config.Entity{Name: "Kanzlei", Tenant: m365sim.DemoTenantID, ClientID: m365sim.DemoClientID,
		SecretExpires: config.Date{Time: time.Now().AddDate(1, 0, 0)}, AuthorityHost: s.sim.URL(), GraphEndpoint: s.sim.URL(), CachePath: s.cache}); err != nil {
		t.Fatal(err)
	}
	set := config.DefaultSettings()
	set.InterfaceActive = true
	if err := repo.SaveSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	secrets, service := keyringtest.Real(t, auth.SecretKey("Kanzlei"), auth.CertificateKey("Kanzlei"))
	s.service = service
	if err := auth.NewManager(repo, secrets, auth.Options{}).SetClientSecret("Kanzlei", m365sim.DemoClientSecret); err != nil {
		t.Fatal(err)
	}
	for _, w := range workers {
		if err := repo.SaveWorker(ctx, config.Worker{UPN: w.UPN, DisplayName: w.Name, Entity: "Kanzlei",
			Modules: []config.Module{config.Calendar, config.Contacts, config.Tasks}}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// serveProc is one running `kanzleisync serve`.
type serveProc struct {
	cmd  *exec.Cmd
	addr string
}

// cli runs a command of the built binary on the setup's data directory
// and keyring, as the administrator; it fails the test when it fails.
func (s *serveSetup) cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(s.bin, append([]string{"-data-dir", s.data}, args...)...)
	cmd.Env = append(os.Environ(), "KANZLEISYNC_KEYRING_SERVICE="+s.service, "KANZLEISYNC_ADMIN_PASSWORD=Kanzlei-Admin-2026",
		"KANZLEISYNC_POLICY_FILE="+filepath.Join(s.data, "keine-policy.json"))
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *serveSetup) start(t *testing.T, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(s.bin, append([]string{"-data-dir", s.data, "serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "KANZLEISYNC_KEYRING_SERVICE="+s.service, "KANZLEISYNC_POLICY_FILE="+filepath.Join(s.data, "keine-policy.json"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("serve did not start: %v", err)
	}
	f := strings.Fields(line) // "kanzleisync serve: Status unter http://ADDR/health und /metrics"
	for _, x := range f {
		if strings.HasPrefix(x, "http://") {
			p.addr = strings.TrimSuffix(strings.TrimPrefix(x, "http://"), "/health")
		}
	}
	if p.addr == "" {
		t.Fatalf("no address in %q", line)
	}
	return p
}

func (p *serveProc) health(t *testing.T) server.Health {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h server.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// waitCycle waits until /health shows a finished cycle of each of n mailboxes.
func (p *serveProc) waitCycle(t *testing.T, n int) {
	t.Helper()
	testsupport.Eventually(t, time.Minute, "a finished cycle of every mailbox", func() bool {
		h := p.health(t)
		if len(h.Mailboxes) != n {
			return false
		}
		for _, m := range h.Mailboxes {
			if m.LastRun.IsZero() || m.Running {
				return false
			}
		}
		return true
	})
}

// mailboxCheck counts each mailbox's items by source key; a key seen twice is a double.
func (s *serveSetup) mailboxCheck(t *testing.T) (events, contacts, tasks int, doubles []string) {
	t.Helper()
	for _, w := range s.workers {
		st, err := s.sim.State(w.UPN)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		note := func(k string) {
			if seen[k] {
				doubles = append(doubles, w.UPN+" "+k)
			}
			seen[k] = true
		}
		for _, group := range [][]map[string]any{st.Events, st.Contacts} {
			for _, m := range group {
				for _, x := range m["singleValueExtendedProperties"].([]any) {
					if p := x.(map[string]any); p["id"] == export.SourceKeyProperty {
						note(p["value"].(string))
					}
				}
			}
		}
		events, contacts = events+len(st.Events), contacts+len(st.Contacts)
		for _, l := range st.TaskLists {
			for _, x := range l["tasks"].([]any) {
				lr := x.(map[string]any)["linkedResources"].([]any)
				note("task " + lr[0].(map[string]any)["externalId"].(string))
				tasks++
			}
		}
	}
	return
}

// Two servers on one entity: exactly one exports; killed in the middle of a
// cycle, the other takes over within the lease time, and every item is in
// Microsoft 365 exactly once.
func TestTwoServersOneExports(t *testing.T) {
	s := newServeSetup(t, nil, source.DemoWorkers, source.GenOptions{Seed: 21, Appointments: 150, Deadlines: 60, Resubmissions: 40, Addresses: 120, Subscriptions: 60})
	// a slow Microsoft 365, so that the kill lands in the middle of a cycle
	s.sim.SetFaults(m365sim.Faults{Latency: m365sim.Duration(250 * time.Millisecond)})
	defer s.sim.SetFaults(m365sim.Faults{})
	a := s.start(t, "--lease", "3s", "--interval", "2s")
	testsupport.Eventually(t, 20*time.Second, "the first server takes the lease", func() bool { return a.health(t).Leader })
	holder := a.health(t).Holder
	b := s.start(t, "--lease", "3s", "--interval", "2s")
	// the second one stays passive while the first lives: it names the holder
	testsupport.Eventually(t, 10*time.Second, "the second server sees the holder", func() bool { return b.health(t).LeaseHolder == holder })
	if h := b.health(t); h.Leader || h.Status != "standby" || !strings.Contains(h.Reason, "Bereitschaft: ein anderer Server exportiert ("+holder+")") {
		t.Fatalf("second server: %+v", h)
	}
	// kill the leader while it is exporting
	testsupport.Eventually(t, time.Minute, "the first server exporting", func() bool {
		ev, _, _, _ := s.mailboxCheck(t)
		return ev > 20
	})
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	ev, ct, tk, _ := s.mailboxCheck(t)
	if ev+ct+tk >= 450+180+300 {
		t.Fatal("the kill came after the export was done: the test proves nothing")
	}
	t.Logf("killed the leader with %d events, %d contacts, %d tasks exported", ev, ct, tk)
	// the practice software goes on: a change to be exported by the second server
	cdb, err := sql.Open("sqlite", "file:"+s.cache+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer cdb.Close()
	if _, err := cdb.Exec(`UPDATE termin SET betreff = 'Nach der Übernahme geändert', geaendert_am = ? WHERE id = 7`, time.Now().UTC().Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, time.Minute, "the second server takes over", func() bool { return b.health(t).Leader })
	t.Logf("the second server took over %v after the kill (lease 3 s)", time.Since(killed).Round(10*time.Millisecond))
	s.sim.SetFaults(m365sim.Faults{})
	var termine, adressen, aufgaben int
	_ = cdb.QueryRow(`SELECT COUNT(*) FROM termin`).Scan(&termine)
	_ = cdb.QueryRow(`SELECT COUNT(*) FROM abo`).Scan(&adressen)
	_ = cdb.QueryRow(`SELECT (SELECT COUNT(*) FROM frist) + (SELECT COUNT(*) FROM wiedervorlage)`).Scan(&aufgaben)
	testsupport.Eventually(t, 2*time.Minute, "every item exported after the takeover", func() bool {
		ev, ct, tk, doubles := s.mailboxCheck(t)
		if len(doubles) > 0 {
			t.Fatalf("doubles: %v", doubles)
		}
		return ev == termine && ct == adressen && tk == aufgaben
	})
	// the change may need one more cycle of the new leader
	testsupport.Eventually(t, time.Minute, "the change after the takeover exported", func() bool {
		for _, w := range s.workers {
			st, _ := s.sim.State(w.UPN)
			for _, e := range st.Events {
				if e["subject"] == "Nach der Übernahme geändert" {
					return true
				}
			}
		}
		return false
	})
	// metrics of the new leader
	resp, err := http.Get("http://" + b.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var text strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		text.WriteString(sc.Text() + "\n")
	}
	for _, want := range []string{"kanzleisync_leader 1\n", `kanzleisync_state{state="ok"} 1`, "# TYPE kanzleisync_mailbox_last_run_timestamp_seconds gauge",
		fmt.Sprintf("kanzleisync_mailbox_error{upn=%q} 0", source.DemoWorkers[0].UPN)} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, text.String())
		}
	}
}

// A cache restored empty under `serve`: nothing is deleted, /health answers
// 503 with the reason, /metrics counts the held deletions.
func TestServeHoldsDeletionsOfAnEmptiedCache(t *testing.T) {
	workers := source.DemoWorkers[:2]
	s := newServeSetup(t, nil, workers, source.GenOptions{Seed: 22, Appointments: 12, Deadlines: 4, Resubmissions: 2, Addresses: 10, Subscriptions: 5})
	p := s.start(t, "--lease", "3s")
	p.waitCycle(t, len(workers))
	events, contacts, tasks, _ := s.mailboxCheck(t)
	if events != 24 || contacts != 10 || tasks != 12 {
		t.Fatalf("exported %d events, %d contacts, %d tasks", events, contacts, tasks)
	}
	// the emptied cache replaces the old one at once (a rewrite in place,
	// watched by serve, can be read half-written: a red „Tabelle fehlt“
	// cycle first — the note of stop 26)
	emptied := s.cache + ".neu"
	if err := source.Generate(context.Background(), emptied, source.GenOptions{Seed: 22, Workers: workers}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(emptied + "-wal"); err == nil {
		t.Fatal("the generated cache left a WAL behind; renaming the database alone would lose it")
	}
	if err := os.Rename(emptied, s.cache); err != nil {
		t.Fatal(err)
	}
	if resp, err := postSync(p.addr); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /sync: %v %v", resp, err)
	}
	var h server.Health
	testsupport.Eventually(t, 2*time.Minute, "/health answering 503", func() bool {
		resp, err := http.Get("http://" + p.addr + "/health")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h = server.Health{}
		_ = json.NewDecoder(resp.Body).Decode(&h)
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	// the reason is the server's summary („… Löschungen zurückgehalten“) or,
	// when /health is read while the first mailbox's cycle is the latest
	// news, that cycle's error („23 Löschungen für … zurückgehalten“)
	if h.Status != "error" || !strings.Contains(h.Reason, "zurückgehalten") || !strings.Contains(h.Reason, "keine Termine (bisher 12 exportiert)") {
		t.Errorf("health: %s %q", h.Status, h.Reason)
	}
	// /health turns 503 with the first mailbox's held cycle; the other
	// mailbox's cycle may still be running: wait for both to be counted
	var metrics string
	testsupport.Eventually(t, 2*time.Minute, "/metrics counting the held deletions of every mailbox", func() bool {
		resp, err := http.Get("http://" + p.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
		}
		metrics = b.String()
		for _, w := range workers {
			if !strings.Contains(metrics, fmt.Sprintf("kanzleisync_mailbox_held_deletions{upn=%q} 23\n", w.UPN)) {
				return false
			}
		}
		return true
	})
	for _, w := range workers {
		if want := fmt.Sprintf("kanzleisync_mailbox_held_deletions{upn=%q} 23\n", w.UPN); !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
	if e, c, tk, _ := s.mailboxCheck(t); e != events || c != contacts || tk != tasks {
		t.Errorf("after the held cycle: %d events, %d contacts, %d tasks", e, c, tk)
	}
}

// The recommended server: no client secret, a certificate made by
// `config entity certificate create`, its .cer uploaded (the emulator's
// portal), and `serve` exports every mailbox with signed assertions — no
// token request carries a secret.
func TestServeWithCertificate(t *testing.T) {
	workers := source.DemoWorkers[:2]
	s := newServeSetup(t, nil, workers, source.GenOptions{Seed: 23, Appointments: 6, Deadlines: 2, Resubmissions: 1, Addresses: 4, Subscriptions: 2})
	cer := filepath.Join(testsupport.TempDir(t), "kanzlei.cer")
	run := func(stdin string, args ...string) string { return s.cli(t, stdin, args...) }
	run("Kanzlei-Admin-2026\n", "admin", "password", "set")
	run("", "config", "entity", "set", "--name", "Kanzlei", "--remove-credentials")
	if out := run("", "config", "entity", "certificate", "create", "--name", "Kanzlei", "--file", cer); !strings.Contains(out, "Zertifikat hochladen") {
		t.Fatalf("certificate create: %s", out)
	}
	der, err := os.ReadFile(cer)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.sim.AddCertificate(m365sim.DemoClientID, der); err != nil {
		t.Fatal(err)
	}
	p := s.start(t)
	p.waitCycle(t, len(workers))
	events, contacts, tasks, doubles := s.mailboxCheck(t)
	if events != 12 || contacts != 4 || tasks != 6 || len(doubles) > 0 {
		t.Errorf("exported %d events, %d contacts, %d tasks, doubles %v", events, contacts, tasks, doubles)
	}
	signedWithCertificate(t, s.sim)
}

// signedWithCertificate fails unless the token requests the emulator saw
// carried a client assertion and none a client secret.
func signedWithCertificate(t *testing.T, sim *m365sim.Server) {
	t.Helper()
	assertions := 0
	for _, r := range sim.Requests() {
		if strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
			if strings.Contains(r.Body, "client_secret") {
				t.Errorf("a token request carried a client secret")
			}
			if strings.Contains(r.Body, "client_assertion") {
				assertions++
			}
		}
	}
	if assertions == 0 {
		t.Error("no token request carried a client assertion")
	}
}

// postSync asks serve for a cycle now, as a script or a monitoring tool on
// this machine does (with server.SyncHeader).
func postSync(addr string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/sync", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(server.SyncHeader, "sync")
	return http.DefaultClient.Do(req)
}

// TestServeRefusesWebPages (issue 19): a page in the Sachbearbeiter's
// browser may reach 127.0.0.1 too. A foreign Host (DNS rebinding) gets no
// health and no name; a cross-origin simple POST (text/plain, no custom
// header) starts no cycle; the tray's GET /health and a script's POST with
// the header are served.
func TestServeRefusesWebPages(t *testing.T) {
	workers := source.DemoWorkers[:1]
	s := newServeSetup(t, nil, workers, source.GenOptions{Seed: 3, Appointments: 4})
	p := s.start(t)
	p.waitCycle(t, 1)
	do := func(method, host, origin, ctype string, header bool) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+p.addr+map[string]string{"GET": "/health", "POST": "/sync"}[method], strings.NewReader("x=1"))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if header {
			req.Header.Set(server.SyncHeader, "sync")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, port, _ := strings.Cut(p.addr, ":")
	for _, c := range []struct {
		name, method, host, origin, ctype string
		header                            bool
		want                              int
	}{
		{"rebound DNS name", "GET", "evil.example:" + port, "", "", false, http.StatusMisdirectedRequest},
		{"other port", "GET", "127.0.0.1:1", "", "", false, http.StatusMisdirectedRequest},
		{"cross-origin simple POST", "POST", "", "http://evil.example", "text/plain", false, http.StatusForbidden},
		{"cross-origin POST with the header", "POST", "", "http://evil.example", "text/plain", true, http.StatusForbidden},
		{"POST without the header", "POST", "", "", "", false, http.StatusForbidden},
		{"the tray's GET /health", "GET", "", "", "", false, http.StatusOK},
		{"localhost", "GET", "localhost:" + port, "", "", false, http.StatusOK},
		{"a script's POST /sync", "POST", "", "", "", true, http.StatusAccepted},
	} {
		code, body := do(c.method, c.host, c.origin, c.ctype, c.header)
		if code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
		if code >= 400 && (strings.Contains(body, workers[0].Name) || strings.Contains(body, workers[0].UPN)) {
			t.Errorf("%s: the refusal names the Sachbearbeiter: %s", c.name, body)
		}
		if code >= 400 && !strings.Contains(body, "Abgelehnt") {
			t.Errorf("%s: refusal without a German reason: %s", c.name, body)
		}
		// only the script's POST started a cycle
		want := int64(0)
		if c.want == http.StatusAccepted {
			want = 1
		}
		if got := p.health(t).SyncRequests; got != want {
			t.Errorf("after %s: %d accepted POST /sync, want %d", c.name, got, want)
		}
	}
}

// serve's flags are checked before anything starts: a port beyond 65535,
// an address of the network, an interval of 0 or a negative parallelism
// is refused in one German line (exit 2), not with Go's „invalid port“
// or a loop without pause.
func TestServeRefusesBadFlags(t *testing.T) {
	dir := testsupport.TempDir(t)
	bin := filepath.Join(dir, "kanzleisync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for args, want := range map[string]string{
		"--listen 127.0.0.1:70000": `serve --listen "127.0.0.1:70000": der Port liegt zwischen 1 und 65535`,
		"--listen 127.0.0.1":       `serve --listen "127.0.0.1": die Adresse hat die Form 127.0.0.1:9465`,
		"--listen 0.0.0.0:9465":    "der Statusdienst lauscht nur auf dieser Maschine",
		"--interval 0s":            "serve --interval 0s: der Abstand liegt zwischen 1s und 24h",
		"--interval 5":             `--interval "5": keine Dauer; erwartet wird z. B. 30s, 2m oder 1h`,
		"--lease 100h":             "serve --lease 100h0m0s: die Export-Sperre dauert zwischen 1s und 1h",
		"--parallel -3":            "serve --parallel -3: höchstens so viele Postfächer gleichzeitig",
	} {
		cmd := exec.Command(bin, append([]string{"-data-dir", filepath.Join(dir, "data"), "serve"}, strings.Fields(args)...)...)
		cmd.Env = append(os.Environ(), "KANZLEISYNC_POLICY_FILE="+filepath.Join(dir, "keine-policy.json"))
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), want) || strings.Contains(string(out), "invalid") {
			t.Errorf("serve %s: %v\n%s", args, err, out)
		}
	}
}
