package core

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/export"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/source"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
	"kanzleisync/app/translog"
	"kanzleisync/platform/keyring/keyringtest"
)

const anna = "anna.mueller@kanzlei.example"

type liveFixture struct {
	transfer  string
	sim       *m365sim.Server
	dbPath    string
	cachePath string
	eng       *Engine
	repo      *config.Repo
}

func newLive(t *testing.T, active bool, modules []config.Module) *liveFixture {
	t.Helper()
	ctx := context.Background()
	sim := simtest.Start(t, nil, m365sim.Options{})
	dir := testsupport.TempDir(t)
	f := &liveFixture{sim: sim, dbPath: filepath.Join(dir, "kanzleisync.db"), cachePath: filepath.Join(dir, "cache.sqlite")}
	if err := source.Generate(ctx, f.cachePath, source.GenOptions{Seed: 9, Workers: source.DemoWorkers[:1], Appointments: 5, Deadlines: 3,
		Addresses: 4, Subscriptions: 4, From: time.Date(2026, 1, 1, 0, 0, 0, 0, source.Berlin)}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.repo = config.NewRepo(st.DB())
	if err := f.repo.SaveEntity(ctx, config.Entity{Name: "Kanzlei", Tenant: m365sim.DemoTenantID, ClientID: m365sim.DemoClientID,
		SecretExpires: config.Date{Time: time.Now().AddDate(1, 0, 0)}, AuthorityHost: sim.URL(), GraphEndpoint: sim.URL(), CachePath: f.cachePath}); err != nil {
		t.Fatal(err)
	}
	set := config.DefaultSettings()
	set.InterfaceActive, set.TransferLogDebug, set.LocalPOP3, set.LocalSMTP = active, true, "127.0.0.1:0", "127.0.0.1:0"
	if err := f.repo.SaveSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	if err := f.repo.SaveWorker(ctx, config.Worker{UPN: anna, DisplayName: "Anna Müller", Entity: "Kanzlei", Modules: modules,
		Accounts: []config.MailAccount{config.MailAccount{Address: anna, POP3Host: "127.0.0.1", POP3Port: 9, SMTPHost: "127.0.0.1", SMTPPort: 9}.WithDefaults()}}); err != nil {
		t.Fatal(err)
	}
	secrets, _ := keyringtest.Real(t, auth.SecretKey("Kanzlei"), auth.RefreshKey(anna))
	mgr := auth.NewManager(f.repo, secrets, auth.Options{})
	if err := mgr.SetClientSecret("Kanzlei", m365sim.DemoClientSecret); err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.SignIn(ctx, anna, auth.SignInOptions{ListenAddr: "127.0.0.1:0", Timeout: 30 * time.Second, OpenBrowser: m365sim.AnswerSignIn(m365sim.DemoPassword, func(err error) { t.Error(err) })}); err != nil {
		t.Fatal(err)
	}
	f.transfer = filepath.Join(dir, "kanzleisync-transfer.log")
	tl, err := translog.Open(f.transfer, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	st.OnJournal(func(j store.JournalEntry) { tl.Transfer(j.Worker, j.ItemKey, j.Action, j.Result, j.RequestID, j.Error) })
	f.eng = New(Options{Store: st, Repo: f.repo, Auth: mgr, ExportInterval: time.Hour, MailInterval: time.Hour, ConfigPoll: 250 * time.Millisecond, Transfer: tl})
	if err := f.eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.eng.Close)
	return f
}

// A module switched off in another process (the command line, a second
// window) stops being exported within 5 s, while the rest goes on, and
// nothing is restarted: the running cycle is left to finish.
func TestModuleSwitchedOffWhileRunning(t *testing.T) {
	f := newLive(t, true, []config.Module{config.Calendar, config.Contacts})
	testsupport.Eventually(t, 30*time.Second, "the first export", func() bool {
		st, _ := f.sim.State(anna)
		return len(st.Events) == 5 && len(st.Contacts) == 4
	})
	// another process switches the calendar off
	other, err := store.Open(f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	otherRepo := config.NewRepo(other.DB())
	w, err := otherRepo.Worker(context.Background(), anna)
	if err != nil {
		t.Fatal(err)
	}
	w.Modules = []config.Module{config.Contacts}
	// and the practice software changes a Termin and an Adresse
	cache, err := sql.Open("sqlite", "file:"+f.cachePath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	now := time.Now().UTC().Format(time.RFC3339)
	if _, err := cache.Exec(`UPDATE termin SET betreff = 'Nach dem Abschalten geändert', geaendert_am = ? WHERE id = (SELECT min(id) FROM termin)`, now); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Exec(`UPDATE adresse SET nachname = 'Neumann-Änderung', geaendert_am = ? WHERE id = (SELECT min(adresse_id) FROM abo)`, now); err != nil {
		t.Fatal(err)
	}
	changedAt := time.Now()
	if err := otherRepo.SaveWorker(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	took := testsupport.Eventually(t, 5*time.Second, "the contact change exported", func() bool {
		st, _ := f.sim.State(anna)
		for _, c := range st.Contacts {
			if c["surname"] == "Neumann-Änderung" {
				return true
			}
		}
		return false
	})
	t.Logf("configuration change applied and exported %v after it was saved", took.Round(time.Millisecond))
	// the cycle that exported the contact has ended: had the calendar still
	// been on, it would have exported the Termin too
	testsupport.Eventually(t, 10*time.Second, "the cycle after the change ended", func() bool {
		for _, s := range f.eng.Status().Sync {
			if s.Worker == anna && len(s.Modules) == 1 && s.LastRun.After(changedAt) && !s.Running {
				return true
			}
		}
		return false
	})
	st, _ := f.sim.State(anna)
	for _, e := range st.Events {
		if e["subject"] == "Nach dem Abschalten geändert" {
			t.Fatal("the switched-off calendar was still exported")
		}
	}
	if len(st.Events) != 5 {
		t.Errorf("switching the calendar off changed Outlook: %d events", len(st.Events))
	}
	var synced bool
	for _, s := range f.eng.Status().Sync {
		synced = synced || (s.Worker == anna && len(s.Modules) == 1 && s.LastRun.After(changedAt))
	}
	if !synced {
		t.Errorf("status does not show the new modules and a later cycle: %+v", f.eng.Status().Sync)
	}
}

// While "Schnittstelle aktiv" is off, a full cycle sends no write request to
// Microsoft 365, no mail is fetched, and the tray says why.
func TestInactiveWritesNothing(t *testing.T) {
	f := newLive(t, false, config.AllModules)
	before := len(f.sim.Requests())
	f.eng.SyncNow()
	testsupport.Eventually(t, 10*time.Second, "the warning", func() bool {
		st := f.eng.Status()
		return st.State == Warning && strings.HasPrefix(st.Reason, "Schnittstelle nicht aktiv")
	})
	// a whole cycle, run to its end while the switch is off
	f.eng.mu.Lock()
	var runner *export.Runner
	for _, re := range f.eng.runners {
		runner = re.r
	}
	fetchers := len(f.eng.fetchers)
	f.eng.mu.Unlock()
	if _, err := runner.Cycle(context.Background(), false); !errors.Is(err, export.ErrInactive) {
		t.Errorf("cycle while inactive: %v", err)
	}
	if fetchers != 0 {
		t.Errorf("%d mail fetchers run while inactive", fetchers)
	}
	for _, r := range f.sim.Requests()[before:] {
		if r.Service == "graph" && r.Method != "GET" || r.Service == "pop3" || r.Service == "smtp" {
			t.Errorf("request while inactive: %s %s %s", r.Service, r.Method, r.Path)
		}
	}
	for _, a := range f.eng.Status().Accounts {
		if a.Dot != "grau" || !strings.Contains(a.Detail, "Schnittstelle nicht aktiv") {
			t.Errorf("account %+v", a)
		}
	}
	// switching on (here from another process) starts the export
	set, _ := f.repo.Settings(context.Background())
	set.InterfaceActive = true
	if err := f.repo.SaveSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, 10*time.Second, "the export after switching on", func() bool {
		st, _ := f.sim.State(anna)
		return len(st.Events) == 5
	})
}

// The transfer log has a line per transferred item and per export cycle,
// with the debug switch each Graph request, and never a token or secret.
func TestTransferLog(t *testing.T) {
	f := newLive(t, false, []config.Module{config.Calendar, config.Contacts})
	set, _ := f.repo.Settings(context.Background())
	set.InterfaceActive = true
	if err := f.repo.SaveSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, 30*time.Second, "the export", func() bool {
		b, _ := os.ReadFile(f.transfer)
		return strings.Contains(string(b), "ABGLEICH | "+anna)
	})
	b, _ := os.ReadFile(f.transfer)
	log := string(b)
	for _, want := range []string{" | ÜBERTRAGUNG | " + anna + " | event/termin:", " | create | ok | ", " | ABGLEICH | " + anna + " | 9 angelegt | ok",
		" | GRAPH | method=POST | url=" + f.sim.URL() + "/v1.0/$batch | status=200 | request_id="} {
		if !strings.Contains(log, want) {
			t.Errorf("transfer log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, " | create | ok |  | ") {
		t.Error("a transfer without request-id (batch items carry the batch's)")
	}
	for _, secret := range append(f.sim.IssuedCredentials(), m365sim.DemoClientSecret) {
		if strings.Contains(log, secret) {
			t.Fatal("a token or secret reached the transfer log")
		}
	}
}

// With an export server configured, the workstation exports nothing itself
// and shows the server's state; a server that does not answer is red.
func TestExportByServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"status":"ok","reason":"Alles in Ordnung","leader":true,"mailboxes":[{"upn":%q,"running":false,"lastRun":%q,"summary":"12 angelegt","created":12}],"warnings":[]}`,
			anna, time.Now().UTC().Format(time.RFC3339))
	}))
	defer srv.Close()
	f := newLive(t, true, []config.Module{config.Calendar})
	set, _ := f.repo.Settings(context.Background())
	set.ExportServer = srv.URL
	if err := f.repo.SaveSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, 10*time.Second, "the server's state", func() bool {
		for _, s := range f.eng.Status().Sync {
			if s.Worker == anna && s.Summary == "Server: 12 angelegt" && s.Result.Created == 12 {
				return true
			}
		}
		return false
	})
	// from now on the workstation sends nothing to Graph
	// nothing is left that could export: no runner
	f.eng.mu.Lock()
	runners := len(f.eng.runners)
	f.eng.mu.Unlock()
	if runners != 0 {
		t.Errorf("%d export runners while the server exports", runners)
	}
	before := len(f.sim.Requests())
	f.eng.SyncNow()
	for _, r := range f.sim.Requests()[before:] {
		if r.Service == "graph" {
			t.Errorf("the workstation exported although the server does: %s %s", r.Method, r.Path)
		}
	}
	srv.Close()
	f.eng.pollServer(context.Background())
	if st := f.eng.Status(); st.State != Error || !strings.HasPrefix(st.Reason, "kanzleisync-Server nicht erreichbar") {
		t.Fatalf("server gone: %d %q", st.State, st.Reason)
	}
	// a server address off this machine is refused
	set.ExportServer = "http://192.0.2.1:9465"
	if err := f.repo.SaveSettings(context.Background(), set); err == nil || !strings.Contains(err.Error(), "derselben Maschine") {
		t.Fatalf("remote server address: %v", err)
	}
}
