package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/cli"
	"kanzleisync/app/config"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/source"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
	"kanzleisync/platform/keyring"
	"kanzleisync/platform/keyring/keyringtest"
)

const anna = "anna.mueller@kanzlei.example"

type workstation struct {
	t       *testing.T
	sim     *m365sim.Server
	dir     string
	st      *store.Store
	deps    cli.Deps
	kr      *keyring.Store
	out     bytes.Buffer // stdout and stderr of every command
	log     bytes.Buffer
	browser func(string) error
}

func newWorkstation(t *testing.T) *workstation {
	return newWorkstationWith(t, nil, testAdminPassword, auth.SecretKey("Kanzlei"), auth.RefreshKey(anna))
}

// newWorkstationWith runs against an emulator with the tenant file tf (nil:
// the demo tenant), with the administrator password admin ("": none set
// yet); keys are the keyring entries the test may leave.
func newWorkstationWith(t *testing.T, tf *m365sim.TenantFile, admin string, keys ...string) *workstation {
	kr, _ := keyringtest.Real(t, keys...)
	w := &workstation{t: t, sim: simtest.Start(t, tf, m365sim.Options{}), dir: testsupport.TempDir(t), kr: kr}
	var err error
	if w.st, err = store.Open(filepath.Join(w.dir, "kanzleisync.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.st.Close() }) // before the directory goes: Windows keeps open files
	repo := config.NewRepo(w.st.DB())
	if admin != "" {
		if err := repo.SetAdminPassword(context.Background(), "", admin); err != nil {
			t.Fatal(err)
		}
	}
	mgr := auth.NewManager(repo, w.kr, auth.Options{Logger: slog.New(slog.NewTextHandler(&w.log, &slog.HandlerOptions{Level: slog.LevelDebug})), Now: w.sim.Now})
	w.deps = cli.Deps{Store: w.st, Repo: repo, Auth: mgr, Stdout: &w.out, Stderr: &w.out,
		OpenBrowser: func(u string) error { return w.browser(u) }, AdminPassword: func() string { return testAdminPassword }}
	return w
}

const testAdminPassword = "Kanzlei-Admin-2026"

// run executes a command line and returns its exit code and output.
func (w *workstation) run(stdin string, args ...string) (int, string) {
	w.t.Helper()
	start := w.out.Len()
	d := w.deps
	d.Stdin = strings.NewReader(stdin)
	code := cli.Run(context.Background(), args, d)
	return code, w.out.String()[start:]
}

func TestITWorkflow(t *testing.T) {
	w := newWorkstation(t)
	w.browser = func(u string) error {
		go simtest.NewBrowser().SignInAndDeliver(u, anna, m365sim.DemoPassword)
		return nil
	}
	code, out := w.run("", "config", "entity", "set", "--name", "Kanzlei", "--tenant", "keine-guid", "--client-id", "x")
	if code != 1 || !strings.Contains(out, "Die Anwendungs-ID muss eine GUID sein") || !strings.Contains(out, "Verzeichnis-ID") {
		t.Fatalf("invalid entity: %d %s", code, out)
	}
	code, out = w.run(m365sim.DemoClientSecret+"\n", "config", "entity", "set", "--name", "Kanzlei", "--tenant", m365sim.DemoTenantID,
		"--client-id", m365sim.DemoClientID, "--secret-expires", "31.05.2028", "--authority-host", w.sim.URL(), "--graph-endpoint", w.sim.URL(), "--secret-stdin")
	if code != 0 || !strings.Contains(out, "Schlüsselspeicher") {
		t.Fatalf("entity set: %d %s", code, out)
	}
	code, out = w.run("", "config", "worker", "set", "--upn", anna, "--name", "Anna Müller", "--entity", "Kanzlei",
		"--modules", "calendar,tasks,mail", "--account", anna, "--account", "archiv@kanzlei.example,archive")
	if code != 0 {
		t.Fatalf("worker set: %d %s", code, out)
	}
	code, out = w.run("", "auth", "status")
	if code != 0 || !strings.Contains(out, "hinterlegt") || !strings.Contains(out, "31.05.2028") || !regexpLine(out, anna, "nein") {
		t.Fatalf("status before sign-in: %d\n%s", code, out)
	}
	code, out = w.run("", "auth", "login", "--worker", anna)
	if code != 0 || !strings.Contains(out, "Angemeldet als "+anna) {
		t.Fatalf("login: %d %s", code, out)
	}
	code, out = w.run("", "auth", "status")
	if code != 0 || !regexpLine(out, anna, "ja") {
		t.Fatalf("status after sign-in: %d\n%s", code, out)
	}
	code, out = w.run("", "auth", "logout", "--worker", anna)
	if code != 0 {
		t.Fatalf("logout: %d %s", code, out)
	}
	if _, err := w.kr.Get(auth.RefreshKey(anna)); err == nil {
		t.Error("refresh token still in the keyring after logout")
	}
	export := filepath.Join(w.dir, "entitaet.json")
	if code, out = w.run("", "config", "entity", "export", "--name", "Kanzlei", "--file", export); code != 0 {
		t.Fatalf("export: %s", out)
	}
	if code, out = w.run("", "config", "entity", "import", "--file", export); code != 0 || !strings.Contains(out, "--secret-stdin") {
		t.Fatalf("import: %d %s", code, out)
	}
	if code, _ = w.run("", "auth", "bogus"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	w.scan(append(w.sim.IssuedCredentials(), m365sim.DemoClientSecret))
}

func TestLoginWithoutBrowserOffersTheAddress(t *testing.T) {
	w := newWorkstation(t)
	w.run(m365sim.DemoClientSecret, "config", "entity", "set", "--name", "Kanzlei", "--tenant", m365sim.DemoTenantID,
		"--client-id", m365sim.DemoClientID, "--authority-host", w.sim.URL(), "--graph-endpoint", w.sim.URL(), "--secret-stdin")
	w.run("", "config", "worker", "set", "--upn", anna, "--name", "Anna", "--entity", "Kanzlei")
	code, out := w.run("", "auth", "login", "--worker", anna, "--no-browser", "--timeout", "200ms")
	if code != 1 || !strings.Contains(out, "Bitte diese Adresse im Browser öffnen") || !strings.Contains(out, "/oauth2/v2.0/authorize?") ||
		!strings.Contains(out, "nicht rechtzeitig abgeschlossen") {
		t.Fatalf("login without browser: %d\n%s", code, out)
	}
}

func regexpLine(out, first, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == first && f[2] == want {
			return true
		}
	}
	return false
}

// scan looks for every credential in the command output, the log and the
// data directory.
func (w *workstation) scan(creds []string) {
	t := w.t
	t.Helper()
	w.st.Close()
	hay := map[string]string{"output": w.out.String(), "log": w.log.String()}
	_ = filepath.Walk(w.dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			hay[p] = string(b)
		}
		return nil
	})
	n := 0
	for _, c := range creds {
		if len(c) < 24 {
			continue
		}
		n++
		for name, body := range hay {
			if strings.Contains(body, c[len(c)-24:]) {
				t.Errorf("a credential (…%s) appears in %s", c[len(c)-8:], name)
			}
		}
	}
	if n < 3 {
		t.Fatalf("only %d credentials to look for", n)
	}
}

func TestSyncOnce(t *testing.T) {
	w := newWorkstation(t)
	w.browser = func(u string) error {
		go simtest.NewBrowser().SignInAndDeliver(u, anna, m365sim.DemoPassword)
		return nil
	}
	cachePath := filepath.Join(w.dir, "cache.db")
	if err := source.Generate(context.Background(), cachePath, source.GenOptions{Seed: 1, Appointments: 7, Deadlines: 2, Addresses: 5, Subscriptions: 3}); err != nil {
		t.Fatal(err)
	}
	w.run(m365sim.DemoClientSecret, "config", "entity", "set", "--name", "Kanzlei", "--tenant", m365sim.DemoTenantID, "--client-id", m365sim.DemoClientID,
		"--authority-host", w.sim.URL(), "--graph-endpoint", w.sim.URL(), "--cache", cachePath, "--secret-stdin")
	w.run("", "config", "worker", "set", "--upn", anna, "--name", "Anna Müller", "--entity", "Kanzlei")
	code, out := w.run("", "sync", "--once")
	if code != 1 || !strings.Contains(out, "Vorschau "+anna) || !strings.Contains(out, "noch nicht aktiviert") {
		t.Errorf("sync before activation: %d %s", code, out)
	}
	if code, out = w.run("", "auth", "login", "--worker", anna); code != 0 {
		t.Fatalf("login: %s", out)
	}
	code, out = w.run("", "sync", "--once", "--preview")
	if code != 0 || !strings.Contains(out, "Vorschau "+anna+" (Kanzlei): 7 Kalendereinträge anlegen, 2 Aufgaben anlegen, 3 Kontakte anlegen") {
		t.Errorf("preview: %d %s", code, out)
	}
	if st, _ := w.sim.State(anna); len(st.Events) != 0 {
		t.Error("the preview wrote to Microsoft 365")
	}
	// everything works, but the secret's expiry date was never entered: yellow, exit 1
	code, out = w.run("", "diagnose")
	if code != 1 || !strings.Contains(out, "gelb  Geheimer Clientschlüssel") || !strings.Contains(out, "→ Das Ablaufdatum") ||
		strings.Count(out, "grün  Kalender") != 2 || !strings.Contains(out, "\n"+anna+"\n") {
		t.Errorf("diagnose: %d %s", code, out)
	}
	code, out = w.run("", "diagnose", "--json")
	if code != 1 || !strings.Contains(out, `"ok": false`) || !strings.Contains(out, `"status": "yellow"`) {
		t.Errorf("diagnose --json: %d %s", code, out)
	}
	// the interface is not switched on yet: a full cycle writes nothing
	before := len(w.sim.Requests())
	code, out = w.run("", "sync", "--once", "--full")
	if code != 1 || !strings.Contains(out, "noch nicht aktiviert") {
		t.Errorf("sync while inactive: %d %s", code, out)
	}
	for _, r := range w.sim.Requests()[before:] {
		if r.Service == "graph" && r.Method != "GET" {
			t.Errorf("write request while inactive: %s %s", r.Method, r.Path)
		}
	}
	if st, _ := w.sim.State(anna); len(st.Events)+len(st.Contacts) != 0 {
		t.Error("the inactive interface wrote to Microsoft 365")
	}
	// switching on shows the preview and needs --confirm
	code, out = w.run("", "config", "settings", "set", "--active=true")
	if code != 1 || !strings.Contains(out, "Vorschau "+anna+" (Kanzlei): 7 Kalendereinträge anlegen") || !strings.Contains(out, "Aufgaben anlegen") || !strings.Contains(out, "--confirm") {
		t.Errorf("activate without confirm: %d %s", code, out)
	}
	// the preview is that of the settings given with the switch, not of the stored ones
	code, out = w.run("", "config", "settings", "set", "--active=true", "--deadlines", "calendar")
	if code != 1 || !strings.Contains(out, "Vorschau "+anna) || strings.Contains(out, "Aufgabe") {
		t.Errorf("activate with Fristen into the calendar, without confirm: %d %s", code, out)
	}
	if _, shown := w.run("", "config", "show"); !strings.Contains(shown, "Fristen und Wiedervorlagen: todo") {
		t.Errorf("a setting given without --confirm was saved: %s", shown)
	}
	if code, out = w.run("", "config", "settings", "set", "--active=true", "--confirm"); code != 0 || !strings.Contains(out, "Schnittstelle eingeschaltet") {
		t.Fatalf("activate: %d %s", code, out)
	}
	code, out = w.run("", "sync", "--once")
	if code != 0 || !strings.Contains(out, "12 angelegt") {
		t.Errorf("sync: %d %s", code, out)
	}
	code, out = w.run("", "sync", "--once")
	if code != 0 || !strings.Contains(out, "Alles aktuell.") {
		t.Errorf("second sync: %d %s", code, out)
	}
	// the cache restored empty (same schema, the Sachbearbeiter still there):
	// nothing is deleted until an administrator says so
	if err := source.Generate(context.Background(), cachePath, source.GenOptions{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	mailbox := func() int { return simtest.Items(t, w.sim, anna) }
	code, out = w.run("", "sync", "--once")
	if code != 1 || !strings.Contains(out, "12 Löschungen zurückgehalten") || !strings.Contains(out, "Der Cache enthält plötzlich keine Termine (bisher 7 exportiert)") ||
		!strings.Contains(out, "Zurückgehaltene Löschungen für "+anna+" (12)") || !strings.Contains(out, "– Termin 1 (Kalender)") ||
		!strings.Contains(out, "--confirm-deletions") || strings.Contains(out, "Anmeldung") {
		t.Errorf("sync of an emptied cache: %d %s", code, out)
	}
	if n := mailbox(); n != 12 {
		t.Errorf("%d items left in Microsoft 365 after the held cycle, want 12", n)
	}
	right := w.deps.AdminPassword
	w.deps.AdminPassword = func() string { return "falsch-falsch" }
	code, out = w.run("", "sync", "--once", "--confirm-deletions")
	if code != 1 || !strings.Contains(out, "Administratorpasswort ist falsch") || mailbox() != 12 {
		t.Errorf("confirm with a wrong password: %d %s", code, out)
	}
	w.deps.AdminPassword = right
	code, out = w.run("", "sync", "--once", "--confirm-deletions")
	if code != 0 || !strings.Contains(out, "12 zurückgehaltene Löschungen freigegeben") || !strings.Contains(out, "12 gelöscht") {
		t.Errorf("confirm: %d %s", code, out)
	}
	if n := mailbox(); n != 0 {
		t.Errorf("%d items left after the confirmed deletions", n)
	}
	if code, _ = w.run("", "sync"); code != 2 {
		t.Errorf("sync without --once: exit %d", code)
	}
	w.scan(append(w.sim.IssuedCredentials(), m365sim.DemoClientSecret))
}

// Testmail senden from the command line: over SMTP to the emulator, with
// each step shown; with SMTP AUTH switched off, the German fix.
func TestMailTestmail(t *testing.T) {
	w := newWorkstation(t)
	w.browser = func(u string) error {
		go simtest.NewBrowser().SignInAndDeliver(u, anna, m365sim.DemoPassword)
		return nil
	}
	w.deps.MailTLS = simtest.TLSConfig(w.sim)
	w.run(m365sim.DemoClientSecret, "config", "entity", "set", "--name", "Kanzlei", "--tenant", m365sim.DemoTenantID, "--client-id", m365sim.DemoClientID,
		"--authority-host", w.sim.URL(), "--graph-endpoint", w.sim.URL(), "--secret-stdin")
	if code, out := w.run("", "config", "worker", "set", "--upn", anna, "--name", "Anna Müller", "--entity", "Kanzlei",
		"--account", anna+",pop3="+w.sim.POP3Addr()+"/starttls,smtp="+w.sim.SMTPAddr(), "--account", "archiv@kanzlei.example,archive,graph"); code != 0 {
		t.Fatalf("worker set: %s", out)
	}
	if code, out := w.run("", "config", "worker", "set", "--upn", anna, "--account", anna+",smtp=kein-port"); code != 2 || !strings.Contains(out, "Server:Port") {
		t.Errorf("bad smtp= accepted: %d %s", code, out)
	}
	if code, out := w.run("", "auth", "login", "--worker", anna); code != 0 {
		t.Fatalf("login: %s", out)
	}
	if code, out := w.run("", "mail", "testmail", "--worker", anna, "--account", "fremd@kanzlei.example"); code != 1 || !strings.Contains(out, "kein Mailkonto fremd@kanzlei.example") {
		t.Errorf("unknown account: %d %s", code, out)
	}
	if code, out := w.run("", "mail", "testmail"); code != 2 || !strings.Contains(out, "--worker fehlt") {
		t.Errorf("without --worker: %d %s", code, out)
	}
	code, out := w.run("", "mail", "testmail", "--worker", anna)
	if code != 0 || !strings.Contains(out, "✓ AUTH") || !strings.Contains(out, "✓ DATA") || !strings.Contains(out, "Die Testmail wurde versendet.") {
		t.Fatalf("testmail: %d %s", code, out)
	}
	code, out = w.run("", "mail", "testmail", "--worker", anna, "--account", anna, "--to", "jens.schaefer@kanzlei.example")
	if code != 0 {
		t.Fatalf("testmail to a colleague: %d %s", code, out)
	}
	on := true
	if err := w.sim.PatchApp(m365sim.DemoClientID, m365sim.AppPatch{TenantSMTPAuthDisabled: &on}); err != nil {
		t.Fatal(err)
	}
	code, out = w.run("", "mail", "testmail", "--worker", anna)
	if code != 1 || !strings.Contains(out, "✗ AUTH") || !strings.Contains(out, "Authentifiziertes SMTP") {
		t.Fatalf("testmail with SMTP AUTH off: %d %s", code, out)
	}
	if st, _ := w.sim.State(anna); !strings.Contains(fmt.Sprint(st.Messages), "kanzleisync: Testmail") {
		t.Error("the test mail did not arrive")
	}
	w.scan(w.sim.IssuedCredentials())
}

// A Sachbearbeiter without the administrator password cannot change the
// entity or the firm settings, and nothing shows the secret.
func TestAdminUnlockRequired(t *testing.T) {
	w := newWorkstation(t)
	code, out := w.run(m365sim.DemoClientSecret+"\n", "config", "entity", "set", "--name", "Kanzlei", "--tenant", m365sim.DemoTenantID,
		"--client-id", m365sim.DemoClientID, "--secret-expires", "31.05.2028", "--secret-stdin")
	if code != 0 {
		t.Fatalf("admin: %d %s", code, out)
	}
	for _, pw := range []string{"", "falsches-passwort"} {
		w.deps.AdminPassword = func() string { return pw }
		want := map[string]string{"": "Administratorrechte nötig", "falsches-passwort": "Administratorpasswort ist falsch"}[pw]
		for _, args := range [][]string{
			{"config", "entity", "set", "--name", "Kanzlei", "--tenant", m365sim.DemoTenantID, "--client-id", "2b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"},
			{"config", "entity", "import", "--file", filepath.Join(w.dir, "x.json")},
			{"config", "settings", "set", "--active=true", "--confirm"},
			{"config", "settings", "set", "--deadlines", "calendar"},
		} {
			if code, out := w.run("", args...); code != 1 || !strings.Contains(out, want) {
				t.Errorf("%q %v: %d %s", pw, args, code, out)
			}
		}
	}
	ent, _ := config.NewRepo(w.st.DB()).Entity(context.Background(), "Kanzlei")
	if ent.ClientID != m365sim.DemoClientID {
		t.Fatal("the entity was changed without the password")
	}
	// reading is allowed, and never shows the secret
	code, out = w.run("", "config", "show")
	if code != 0 || strings.Contains(out, m365sim.DemoClientSecret) {
		t.Fatalf("config show: %d %s", code, out)
	}
	code, out = w.run("", "config", "entity", "export", "--name", "Kanzlei")
	if code != 0 || strings.Contains(out, m365sim.DemoClientSecret) {
		t.Fatalf("export: %d %s", code, out)
	}
	// changing the password needs the current one
	w.deps.AdminPassword = func() string { return "falsch-falsch" }
	if code, out := w.run("Neues-Passwort-2026\n", "admin", "password", "set"); code != 1 || !strings.Contains(out, "falsch") {
		t.Fatalf("change with a wrong password: %d %s", code, out)
	}
	w.deps.AdminPassword = func() string { return testAdminPassword }
	if code, out := w.run("Neues-Passwort-2026\n", "admin", "password", "set"); code != 0 {
		t.Fatalf("change: %d %s", code, out)
	}
	w.deps.AdminPassword = func() string { return "Neues-Passwort-2026" }
	if code, out := w.run("", "config", "settings", "set", "--deadlines", "calendar"); code != 0 {
		t.Fatalf("with the new password: %d %s", code, out)
	}
}

// Changing one value of an entity (here the cache path) keeps the others:
// the cloud endpoints, the expiry date, the secret.
func TestEntitySetKeepsWhatItDoesNotName(t *testing.T) {
	w := newWorkstation(t)
	code, out := w.run(m365sim.DemoClientSecret+"\n", "config", "entity", "set", "--name", "Kanzlei", "--tenant", m365sim.DemoTenantID,
		"--client-id", m365sim.DemoClientID, "--secret-expires", "31.05.2028", "--authority-host", w.sim.URL(), "--graph-endpoint", w.sim.URL(), "--secret-stdin")
	if code != 0 {
		t.Fatalf("entity set: %s", out)
	}
	cache := filepath.Join(w.dir, "cache.db")
	if code, out := w.run("", "config", "entity", "set", "--name", "Kanzlei", "--cache", cache); code != 0 {
		t.Fatalf("set the cache path: %s", out)
	}
	e, err := w.deps.Repo.Entity(context.Background(), "Kanzlei")
	if err != nil {
		t.Fatal(err)
	}
	if e.AuthorityHost != w.sim.URL() || e.GraphEndpoint != w.sim.URL() || e.SecretExpires.German() != "31.05.2028" || e.CachePath != cache || e.Tenant != m365sim.DemoTenantID {
		t.Errorf("after changing the cache path: %+v", e)
	}
	if has, _ := w.deps.Auth.HasClientSecret("Kanzlei"); !has {
		t.Error("the secret is gone")
	}
}

// help and --help answer with the whole usage and exit 0; a wrong flag is
// named once, in German, without the flag package's English; config show
// says whether the secret is stored and where the cache is (or that it is
// missing).
func TestHelpFlagsAndConfigShow(t *testing.T) {
	w := newWorkstation(t)
	for _, args := range [][]string{{"help"}, {"--help"}, {"sync", "--help"}, {"config", "worker", "set", "-h"}} {
		code, out := w.run("", args...)
		if code != 0 || !strings.Contains(out, "kanzleisync serve") || !strings.Contains(out, "kanzleisync demo") || !strings.Contains(out, "--data-dir") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
	// a wrong flag: one German line, the command's own lines of the help
	// (not all fifty), and where the rest is
	for args, want := range map[string]string{
		"sync --bogus":            "Unbekannte Angabe --bogus.",
		"auth login --worker":     "Bei --worker fehlt der Wert.",
		"auth login --timeout xy": "--timeout \"xy\": keine Dauer; erwartet wird z. B. 30s, 2m oder 1h",
		"config worker set --upn a@kanzlei.de --name A --entity Kanzlei --account a@kanzlei.de,pop3=pop.kanzlei.de:70000": "Der Port 70000 in \"pop.kanzlei.de:70000\" liegt nicht zwischen 1 und 65535",
		"config worker set --upn a@kanzlei.de --name A --entity Kanzlei --account a@kanzlei.de,smtp=smtp.kanzlei.de:0":    "Der Port 0 in \"smtp.kanzlei.de:0\" liegt nicht zwischen 1 und 65535",
		"mail testmail --worker a@kanzlei.de --to": "Bei --to fehlt der Wert.",
	} {
		fields := strings.Fields(args)
		code, out := w.run("", fields...)
		if code != 2 || !strings.Contains(out, want) || strings.Contains(out, "flag provided") || strings.Contains(out, "Usage of") || strings.Count(out, want) != 1 {
			t.Errorf("%s: exit %d\n%s", args, code, out)
		}
		command := "kanzleisync " + fields[0] + " " + fields[1]
		if fields[0] == "sync" {
			command = "kanzleisync sync --once"
		}
		if lines := strings.Count(out, "\n"); lines > 6 || !strings.Contains(out, command) || strings.Contains(out, "kanzleisync serve") || !strings.Contains(out, "Alle Befehle: kanzleisync help") {
			t.Errorf("%s: %d lines, want the error and the lines of %q only:\n%s", args, lines, command, out)
		}
	}
	if code, out := w.run("", "config", "entity", "set", "--name", "Kanzlei", "--tenant", m365sim.DemoTenantID, "--client-id", m365sim.DemoClientID); code != 0 {
		t.Fatalf("entity set: %s", out)
	}
	_, out := w.run("", "config", "show")
	for _, want := range []string{"Geheimer Clientschlüssel: nicht hinterlegt", "Ablaufdatum nicht eingetragen", "Cache der Kanzleisoftware: nicht eingetragen"} {
		if !strings.Contains(out, want) {
			t.Errorf("config show without secret and cache lacks %q:\n%s", want, out)
		}
	}
	cache := filepath.Join(w.dir, "cache.sqlite")
	if code, out := w.run(m365sim.DemoClientSecret+"\n", "config", "entity", "set", "--name", "Kanzlei", "--cache", cache, "--secret-expires", "31.05.2028", "--secret-stdin"); code != 0 {
		t.Fatalf("entity set: %s", out)
	}
	_, out = w.run("", "config", "show")
	for _, want := range []string{"Geheimer Clientschlüssel: im Schlüsselspeicher hinterlegt, läuft ab am 31.05.2028", "Cache der Kanzleisoftware: " + cache} {
		if !strings.Contains(out, want) {
			t.Errorf("config show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, m365sim.DemoClientSecret) {
		t.Error("config show printed the secret")
	}
}

// mail retry ends the 24 h wait of a message set aside; with none it says so.
func TestMailRetry(t *testing.T) {
	w := newWorkstation(t)
	if code, out := w.run("", "mail", "retry", "--account", anna); code != 0 || !strings.Contains(out, "Für "+anna+" ist keine Nachricht zurückgestellt.") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if _, err := w.deps.Store.SetAside(context.Background(), anna, "aside:7", "abgebrochen", time.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	code, out := w.run("", "mail", "retry", "--account", anna)
	if code != 0 || !strings.Contains(out, anna+": 1 zurückgestellte Nachricht wird beim nächsten Abruf erneut versucht") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if n, _ := w.deps.Store.AsideCount(context.Background(), anna, time.Now()); n != 0 {
		t.Errorf("%d still set aside", n)
	}
	if code, out := w.run("", "mail", "retry"); code != 2 || !strings.Contains(out, "--account fehlt") {
		t.Errorf("without --account: exit %d: %s", code, out)
	}
}
