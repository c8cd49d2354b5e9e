// Package simtest starts the Microsoft 365 emulator for tests and signs
// users in the way a browser would, so that tests of any package get real
// tokens over real sockets.
package simtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"kanzleisync/app/m365sim"
)

// Start runs the emulator with the demo tenant (or tf) on loopback and stops it when the test ends.
func Start(t testing.TB, tf *m365sim.TenantFile, opts m365sim.Options) *m365sim.Server {
	t.Helper()
	if tf == nil {
		tf = m365sim.DemoTenant(time.Now())
	}
	srv, err := m365sim.New(tf, opts)
	if err != nil {
		t.Fatalf("m365sim.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("m365sim.Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// OAuthConfig is the demo app registration as golang.org/x/oauth2 sees it.
func OAuthConfig(srv *m365sim.Server, scopes ...string) *oauth2.Config {
	auth := srv.AuthorityURL(m365sim.DemoTenantID)
	return &oauth2.Config{
		ClientID:     m365sim.DemoClientID,
		ClientSecret: m365sim.DemoClientSecret,
		RedirectURL:  m365sim.DemoRedirectURI,
		Scopes:       scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   auth + "/oauth2/v2.0/authorize",
			TokenURL:  auth + "/oauth2/v2.0/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

// Browser walks the emulator's sign-in pages like a person (m365sim.Browser).
type Browser = m365sim.Browser

// Page is one answer of the emulator to the browser.
type Page = m365sim.Page

// NewBrowser returns a browser with an empty session.
func NewBrowser() *Browser { return m365sim.NewBrowser() }

// SignIn runs the authorization code flow with PKCE for a demo user and
// returns the token (access token for the first resource of scopes).
func SignIn(t testing.TB, srv *m365sim.Server, upn string, scopes ...string) *oauth2.Token {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{"openid", "offline_access", "https://graph.microsoft.com/.default"}
	}
	cfg := OAuthConfig(srv, scopes...)
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("login_hint", upn),
		oauth2.SetAuthURLParam("prompt", "select_account"))
	q, err := NewBrowser().SignIn(authURL, upn, m365sim.DemoPassword)
	if err != nil {
		t.Fatalf("sign in %s: %v", upn, err)
	}
	if q.Get("error") != "" {
		t.Fatalf("sign in %s: %s: %s", upn, q.Get("error"), q.Get("error_description"))
	}
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("redeem code for %s: %v", upn, err)
	}
	return tok
}

// AppToken gets an application token (client credentials) for a resource
// ("https://graph.microsoft.com" or "https://outlook.office365.com").
func AppToken(t testing.TB, srv *m365sim.Server, resource string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {m365sim.DemoClientID},
		"client_secret": {m365sim.DemoClientSecret}, "scope": {resource + "/.default"}}
	cfg := OAuthConfig(srv)
	resp, err := http.PostForm(cfg.Endpoint.TokenURL, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`"access_token":"([^"]+)"`).FindStringSubmatch(string(body))
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("client credentials: %d %s", resp.StatusCode, body)
	}
	return m[1]
}

// TLSConfig trusts the emulator's POP3/SMTP certificate.
func TLSConfig(srv *m365sim.Server) *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(srv.CACertPEM())
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Items counts what a mailbox holds: events, contacts and the tasks of
// every To Do list.
func Items(t testing.TB, srv *m365sim.Server, upn string) int {
	t.Helper()
	st, err := srv.State(upn)
	if err != nil {
		t.Fatal(err)
	}
	n := len(st.Events) + len(st.Contacts)
	for _, l := range st.TaskLists {
		tasks, _ := l["tasks"].([]any)
		n += len(tasks)
	}
	return n
}
