package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
	"kanzleisync/platform/keyring"
	"kanzleisync/platform/keyring/keyringtest"
)

const (
	anna = "anna.mueller@kanzlei.example"
	jens = "jens.schaefer@kanzlei.example"
)

// env is one workstation: the emulator, kanzleisync's store in a temp
// directory, the real keyring under a service name of its own, and a log.
type env struct {
	t       *testing.T
	sim     *m365sim.Server
	dir     string
	st      *store.Store
	repo    *config.Repo
	secrets auth.Secrets
	service string
	logs    *syncBuffer
	mgr     *auth.Manager
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, tf *m365sim.TenantFile, simOpts m365sim.Options) *env {
	t.Helper()
	kr, service := keyringtest.Real(t, auth.SecretKey("Kanzlei"), auth.RefreshKey(anna), auth.RefreshKey(jens))
	return newEnvWith(t, tf, simOpts, kr, service)
}

func newEnvWith(t *testing.T, tf *m365sim.TenantFile, simOpts m365sim.Options, secrets auth.Secrets, service string) *env {
	t.Helper()
	e := &env{t: t, sim: simtest.Start(t, tf, simOpts), dir: testsupport.TempDir(t), secrets: secrets, service: service, logs: &syncBuffer{}}
	var err error
	if e.st, err = store.Open(filepath.Join(e.dir, "kanzleisync.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	e.repo = config.NewRepo(e.st.DB())
	ctx := context.Background()
	if err := e.repo.SaveEntity(ctx, config.Entity{Name: "Kanzlei", Tenant: m365sim.DemoTenantDomain, ClientID: m365sim.DemoClientID,
		AuthorityHost: e.sim.URL(), GraphEndpoint: e.sim.URL()}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []config.Worker{
		{UPN: anna, DisplayName: "Anna Müller", Entity: "Kanzlei", Modules: config.AllModules},
		{UPN: jens, DisplayName: "Jens Schäfer", Entity: "Kanzlei", Modules: []config.Module{config.Calendar}},
	} {
		if err := e.repo.SaveWorker(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	e.mgr = e.newManager()
	if service != "" {
		if err := e.mgr.SetClientSecret("Kanzlei", m365sim.DemoClientSecret); err != nil {
			t.Fatalf("store client secret: %v", err)
		}
	}
	return e
}

// newManager is a fresh process on the same workstation.
func (e *env) newManager() *auth.Manager {
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return auth.NewManager(e.repo, e.secrets, auth.Options{Logger: logger, Now: e.sim.Now})
}

// httpOpener signs in as upn through the emulator's pages over plain HTTP
// and delivers the redirect to the loopback listener, like a browser.
func httpOpener(t *testing.T, upn string, pages chan<- *simtest.Page) func(string) error {
	return func(u string) error {
		go func() {
			p, err := simtest.NewBrowser().SignInAndDeliver(u, upn, m365sim.DemoPassword)
			if err != nil {
				t.Errorf("browser: %v", err)
			}
			if pages != nil {
				pages <- p
			}
		}()
		return nil
	}
}

func signIn(t *testing.T, e *env, upn string, opener func(string) error) (*auth.LoginResult, error) {
	t.Helper()
	return e.mgr.SignIn(context.Background(), upn, auth.SignInOptions{OpenBrowser: opener, ListenAddr: "127.0.0.1:0", Timeout: 30 * time.Second})
}

func TestSignInOverHTTP(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	pages := make(chan *simtest.Page, 1)
	res, err := signIn(t, e, anna, httpOpener(t, anna, pages))
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if p := <-pages; p == nil || !strings.Contains(p.Body, "Überprüfungscode erhalten – Sie können dieses Fenster schließen.") {
		t.Errorf("browser page after the redirect: %+v", p)
	}
	if !strings.EqualFold(res.Account, anna) || !strings.HasPrefix(res.RedirectURI, "http://localhost:") || !strings.HasSuffix(res.RedirectURI, "/authorize/") {
		t.Errorf("result: %+v", res)
	}
	e.checkSignedIn(anna)
}

func (e *env) checkSignedIn(upn string) {
	t := e.t
	t.Helper()
	rt, err := e.secrets.Get(auth.RefreshKey(upn))
	if err != nil || rt == "" {
		t.Fatalf("refresh token in the keyring: %v", err)
	}
	w, _ := e.repo.Worker(context.Background(), upn)
	if w.LastSignIn.IsZero() || e.sim.Now().Sub(w.LastSignIn) > time.Minute {
		t.Errorf("last sign-in not recorded: %v", w.LastSignIn)
	}
	tok, err := e.mgr.Graph(upn).Token()
	if err != nil {
		t.Fatalf("graph token: %v", err)
	}
	g := &graphProbe{sim: e.sim, token: tok.AccessToken}
	if st := g.get("/me"); st != 200 {
		t.Errorf("GET /me with the token: %d", st)
	}
}

func TestWrongStateIsRefusedAndTheFlowGoesOn(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	opener := func(u string) error {
		au, _ := url.Parse(u)
		redirect := au.Query().Get("redirect_uri")
		go func() {
			p, err := simtest.NewBrowser().Get(redirect + "?code=gefaelscht&state=falsch")
			if err != nil || p.Status != 400 || !strings.Contains(p.Body, "state passt nicht") {
				t.Errorf("wrong state: %v %+v", err, p)
			}
			if _, err := simtest.NewBrowser().SignInAndDeliver(u, anna, m365sim.DemoPassword); err != nil {
				t.Errorf("browser: %v", err)
			}
		}()
		return nil
	}
	if _, err := signIn(t, e, anna, opener); err != nil {
		t.Fatalf("the good redirect after a bad one: %v", err)
	}
	if !strings.Contains(e.logs.String(), "wrong state refused") {
		t.Error("the refused redirect was not logged")
	}
}

// authorizeFor runs a separate authorize request (as an attacker or a stale
// browser tab would) and returns its code.
func authorizeFor(t *testing.T, e *env, redirect, upn string) string {
	cfg := simtest.OAuthConfig(e.sim, "openid", "offline_access", "User.Read")
	cfg.RedirectURL = redirect
	q, err := simtest.NewBrowser().SignIn(cfg.AuthCodeURL("x", simtestChallenge()), upn, m365sim.DemoPassword)
	if err != nil || q.Get("code") == "" {
		t.Fatalf("separate authorize: %v %v", err, q)
	}
	return q.Get("code")
}

func TestCodeReplayAndPKCEMismatch(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	var firstCode string
	_, err := signIn(t, e, anna, func(u string) error {
		go func() {
			b := simtest.NewBrowser()
			au, _ := url.Parse(u)
			q, err := b.SignIn(u, anna, m365sim.DemoPassword)
			if err != nil {
				t.Error(err)
				return
			}
			firstCode = q.Get("code")
			b.Get(au.Query().Get("redirect_uri") + "?" + q.Encode())
		}()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// replay delivers a code of our choosing with the running flow's state
	replay := func(codeFor func(redirect string) string) error {
		_, err := signIn(t, e, anna, func(u string) error {
			au, _ := url.Parse(u)
			redirect := au.Query().Get("redirect_uri")
			go func() {
				code := codeFor(redirect)
				simtest.NewBrowser().Get(redirect + "?" + url.Values{"code": {code}, "state": {au.Query().Get("state")}}.Encode())
			}()
			return nil
		})
		return err
	}
	err = replay(func(string) string { return firstCode })
	var ee *auth.EntraError
	if !errors.As(err, &ee) || ee.Code != 54005 {
		t.Fatalf("replayed code: %v", err)
	}
	if a := auth.Explain(err, auth.Context{}); !strings.Contains(a.Problem, "bereits eingelöst") {
		t.Errorf("54005 advice: %+v", a)
	}
	// a fresh code, but from an authorize request with another PKCE challenge
	err = replay(func(redirect string) string { return authorizeFor(t, e, redirect, anna) })
	if !errors.As(err, &ee) || ee.Code != 501481 {
		t.Fatalf("foreign code: %v", err)
	}
	if a := auth.Explain(err, auth.Context{}); !strings.Contains(a.Problem, "PKCE") {
		t.Errorf("501481 advice: %+v", a)
	}
}

func TestUserCancelsConsent(t *testing.T) {
	tf := m365sim.DemoTenant(time.Now())
	tf.Tenants[0].Apps[0].AdminConsent = false
	e := newEnv(t, tf, m365sim.Options{})
	pages := make(chan *simtest.Page, 1)
	_, err := signIn(t, e, jens, func(u string) error {
		go func() {
			b := simtest.NewBrowser()
			p, _ := b.Get(u)
			p, _ = b.Submit(p, url.Values{"loginfmt": {jens}, "passwd": {m365sim.DemoPassword}})
			p, _ = b.Submit(p, url.Values{"accept": {"no"}})
			p, _ = b.Get(p.Location)
			pages <- p
		}()
		return nil
	})
	if !errors.Is(err, auth.ErrCancelled) {
		t.Fatalf("err = %v, want ErrCancelled", err)
	}
	if p := <-pages; p == nil || !strings.Contains(p.Body, "nicht zugestimmt") {
		t.Errorf("browser page: %+v", p)
	}
	if ok, _ := e.mgr.HasSignIn(jens); ok {
		t.Error("a refresh token was stored for a cancelled sign-in")
	}
}

func TestTimeout(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	var offered string
	_, err := e.mgr.SignIn(context.Background(), anna, auth.SignInOptions{ListenAddr: "127.0.0.1:0", Timeout: 300 * time.Millisecond,
		OpenBrowser: func(string) error { return errors.New("kein Browser") }, OfferURL: func(u string) { offered = u }})
	if !errors.Is(err, auth.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if !strings.Contains(offered, "/oauth2/v2.0/authorize?") || !strings.Contains(offered, "prompt=select_account") ||
		!strings.Contains(offered, "login_hint=anna.mueller%40kanzlei.example") || !strings.Contains(offered, "code_challenge_method=S256") {
		t.Errorf("offered URL: %s", offered)
	}
	// cancelling the wait
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err = e.mgr.SignIn(ctx, anna, auth.SignInOptions{ListenAddr: "127.0.0.1:0", OpenBrowser: func(string) error { return nil }})
	if !errors.Is(err, auth.ErrCancelled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestBusyPortFallsBack(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	l, err := net.Listen("tcp", "127.0.0.1:50993")
	if err == nil {
		defer l.Close()
	} // else something else holds it already, which is the same case
	res, err := e.mgr.SignIn(context.Background(), anna, auth.SignInOptions{OpenBrowser: httpOpener(t, anna, nil), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("sign in with 50993 busy: %v", err)
	}
	if strings.Contains(res.RedirectURI, ":50993/") {
		t.Errorf("redirect %s uses the busy port", res.RedirectURI)
	}
	if !strings.Contains(e.logs.String(), "sign-in redirect port unavailable") {
		t.Error("the fallback port was not logged")
	}
}

func TestWrongAccountIsRefused(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	pages := make(chan *simtest.Page, 1)
	_, err := signIn(t, e, anna, httpOpener(t, jens, pages))
	var wa *auth.WrongAccountError
	if !errors.As(err, &wa) || !strings.EqualFold(wa.Got, jens) {
		t.Fatalf("err = %v, want WrongAccountError", err)
	}
	if p := <-pages; !strings.Contains(p.Body, "erwartet wird "+anna) {
		t.Errorf("browser page: %.300s", p.Body)
	}
	if ok, _ := e.mgr.HasSignIn(anna); ok {
		t.Error("the wrong account's refresh token was stored")
	}
}

func TestRotatedRefreshTokenSurvivesRestart(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	if _, err := signIn(t, e, anna, httpOpener(t, anna, nil)); err != nil {
		t.Fatal(err)
	}
	first, _ := e.secrets.Get(auth.RefreshKey(anna))
	e.sim.Advance(2 * time.Hour)
	if _, err := e.mgr.Graph(anna).Token(); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	rotated, _ := e.secrets.Get(auth.RefreshKey(anna))
	if rotated == first {
		t.Fatal("the rotated refresh token was not written back")
	}
	w, _ := e.repo.Worker(context.Background(), anna)
	if w.LastRefresh.IsZero() {
		t.Error("last refresh not recorded")
	}
	// a new process on the same workstation
	e.sim.Advance(2 * time.Hour)
	again := e.newManager()
	tok, err := again.Outlook(anna).Token()
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if c := jwtPayload(tok.AccessToken); c["aud"] != "https://outlook.office365.com" || !strings.Contains(fmt.Sprint(c["scp"]), "POP.AccessAsUser.All") {
		t.Errorf("outlook token claims: aud %v scp %v", c["aud"], c["scp"])
	}
}

func TestConcurrentCallersShareOneRefresh(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	if _, err := signIn(t, e, anna, httpOpener(t, anna, nil)); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(57 * time.Minute) // inside the 5-minute margin
	e.sim.ResetRequests()
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.mgr.Graph(anna).Token(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	refreshes := 0
	for _, r := range e.sim.Requests() {
		if strings.HasSuffix(r.Path, "/token") && strings.Contains(r.Body, "grant_type=refresh_token") {
			refreshes++
		}
	}
	if refreshes != 1 {
		t.Errorf("%d refreshes for 10 concurrent callers, want 1", refreshes)
	}
}

func TestRefreshTokenExpiredMeansSignInAgain(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	if _, err := signIn(t, e, anna, httpOpener(t, anna, nil)); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(91 * 24 * time.Hour)
	_, err := e.mgr.Graph(anna).Token()
	var sir *auth.SignInRequiredError
	if !errors.Is(err, auth.ErrSignInRequired) || !errors.As(err, &sir) || sir.Cause == nil || sir.Cause.Code != 700082 {
		t.Fatalf("err = %v, want sign-in required (700082)", err)
	}
	if a := auth.Explain(err, auth.Context{}); !strings.Contains(a.Problem, "90 Tage") || !strings.Contains(a.Fix, "anmelden") {
		t.Errorf("advice: %+v", a)
	}
	// never signed in at all
	_, err = e.mgr.Graph(jens).Token()
	if !errors.Is(err, auth.ErrSignInRequired) {
		t.Errorf("never signed in: %v", err)
	}
}

func TestExpiredClientSecretIsExplained(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	if _, err := signIn(t, e, anna, httpOpener(t, anna, nil)); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.PatchApp(m365sim.DemoClientID, m365sim.AppPatch{SecretExpires: ptr(e.sim.Now().Add(-time.Hour))}); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(2 * time.Hour)
	for name, ts := range map[string]*auth.TokenSource{"delegated": e.mgr.Graph(anna), "application": e.mgr.App("Kanzlei")} {
		_, err := ts.Token()
		var ee *auth.EntraError
		if !errors.As(err, &ee) || ee.Code != 7000222 || errors.Is(err, auth.ErrSignInRequired) {
			t.Fatalf("%s: err = %v, want 7000222 and no sign-in demand", name, err)
		}
		if a := auth.Explain(err, auth.Context{}); a.Problem != "Der geheime Clientschlüssel ist abgelaufen." || !strings.Contains(a.Fix, "Zertifikate & Geheimnisse") {
			t.Errorf("%s advice: %+v", name, a)
		}
	}
}

func TestApplicationToken(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	tok, err := e.mgr.App("Kanzlei").Token()
	if err != nil {
		t.Fatal(err)
	}
	if roles := fmt.Sprint(jwtPayload(tok.AccessToken)["roles"]); !strings.Contains(roles, "Calendars.ReadWrite") {
		t.Errorf("roles %s", roles)
	}
	again, _ := e.mgr.App("Kanzlei").Token()
	if again.AccessToken != tok.AccessToken {
		t.Error("a valid application token was not reused")
	}
}

func TestDamagedRefreshTokenIsNotUsed(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	long := strings.Repeat("x", 5000) // three entries
	if err := e.secrets.Set(auth.RefreshKey(anna), long); err != nil {
		t.Fatal(err)
	}
	// write part 1 of another secret over it, as a crash between writes could leave it
	other := keyring.New(e.service)
	if err := other.Set("scratch", strings.Repeat("y", 5000)); err != nil {
		t.Fatal(err)
	}
	part, err := rawEntry(e.service, "scratch#1")
	if err != nil {
		t.Fatal(err)
	}
	if err := setRawEntry(e.service, auth.RefreshKey(anna)+"#1", part); err != nil {
		t.Fatal(err)
	}
	_ = other.Delete("scratch")
	_, err = e.newManager().Graph(anna).Token()
	if !errors.Is(err, keyring.ErrDamaged) {
		t.Fatalf("err = %v, want ErrDamaged", err)
	}
	if a := auth.Explain(err, auth.Context{}); !strings.Contains(a.Problem, "beschädigt") {
		t.Errorf("advice: %+v", a)
	}
}

// failingSecrets is a keyring that cannot be reached.
type failingSecrets struct{}

func (failingSecrets) Get(string) (string, error) { return "", keyring.ErrUnavailable }
func (failingSecrets) Set(string, string) error {
	return fmt.Errorf("store: %w", keyring.ErrUnavailable)
}
func (failingSecrets) Delete(string) error { return keyring.ErrUnavailable }

func TestKeyringUnavailable(t *testing.T) {
	e := newEnvWith(t, nil, m365sim.Options{}, failingSecrets{}, "")
	err := e.mgr.SetClientSecret("Kanzlei", m365sim.DemoClientSecret)
	if !errors.Is(err, keyring.ErrUnavailable) {
		t.Fatalf("set secret: %v", err)
	}
	_, err = signIn(t, e, anna, httpOpener(t, anna, nil))
	if !errors.Is(err, keyring.ErrUnavailable) {
		t.Fatalf("sign in: %v", err)
	}
	a := auth.Explain(err, auth.Context{})
	if !strings.Contains(a.Problem, "Schlüsselspeicher") || !strings.Contains(a.Problem, "nirgendwo sonst") {
		t.Errorf("advice: %+v", a)
	}
	scanForLeaks(t, e, []string{m365sim.DemoClientSecret})
}

func TestNoTokenOrSecretLeaks(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	if _, err := signIn(t, e, anna, httpOpener(t, anna, nil)); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(2 * time.Hour)
	for _, ts := range []*auth.TokenSource{e.mgr.Graph(anna), e.mgr.Outlook(anna), e.mgr.App("Kanzlei")} {
		if _, err := ts.Token(); err != nil {
			t.Fatal(err)
		}
	}
	e.sim.Advance(91 * 24 * time.Hour)
	_, _ = e.mgr.Graph(anna).Token() // an error path, logged too
	scanForLeaks(t, e, append(e.sim.IssuedCredentials(), m365sim.DemoClientSecret))
}

// scanForLeaks looks for every credential in the data directory (SQLite
// files with WAL and journal) and in the log.
func scanForLeaks(t *testing.T, e *env, creds []string) {
	t.Helper()
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	var haystack []string
	_ = filepath.Walk(e.dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(path)
			haystack = append(haystack, path+"\x00"+string(b))
		}
		return nil
	})
	haystack = append(haystack, "log\x00"+e.logs.String())
	if len(haystack) < 2 {
		t.Fatal("nothing to scan")
	}
	checked := 0
	for _, c := range creds {
		if len(c) < 16 {
			continue
		}
		checked++
		for _, h := range haystack {
			name, body, _ := strings.Cut(h, "\x00")
			// tokens are long; a 24-character piece is enough to tell
			if strings.Contains(body, c[len(c)-24:]) {
				t.Errorf("a credential (…%s) appears in %s", c[len(c)-8:], name)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no credentials to look for")
	}
}

func ptr[T any](v T) *T { return &v }

// TestBrowserPageEscapesTheReason: Entra's error_description comes from the
// redirect URL, so it is shown HTML-escaped.
func TestBrowserPageEscapesTheReason(t *testing.T) {
	e := newEnv(t, nil, m365sim.Options{})
	pages := make(chan *simtest.Page, 1)
	_, err := signIn(t, e, anna, func(u string) error {
		au, _ := url.Parse(u)
		q := url.Values{"state": {au.Query().Get("state")}, "error": {"server_error"},
			"error_description": {"AADSTS999: <script>alert(1)</script>"}}
		go func() {
			p, _ := simtest.NewBrowser().Get(au.Query().Get("redirect_uri") + "?" + q.Encode())
			pages <- p
		}()
		return nil
	})
	var ee *auth.EntraError
	if !errors.As(err, &ee) || ee.OAuth != "server_error" {
		t.Fatalf("err = %v", err)
	}
	p := <-pages
	if strings.Contains(p.Body, "<script>") || !strings.Contains(p.Body, "vorübergehend nicht erreichbar") {
		t.Errorf("page: %s", p.Body)
	}
}
