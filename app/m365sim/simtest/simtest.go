// Package simtest starts the Microsoft 365 emulator for tests and signs
// users in the way a browser would, so that tests of any package get real
// tokens over real sockets.
package simtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
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

// Browser is a cookie-keeping HTTP client that fills in the emulator's
// sign-in pages as a person would, without following the final redirect.
type Browser struct {
	Client *http.Client
}

// NewBrowser returns a browser with an empty session.
func NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{Client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Page is one answer of the emulator to the browser.
type Page struct {
	Status   int
	Location string // redirect target, if any
	Body     string
	Flow     string
	Action   string
	base     string
}

var (
	flowRE   = regexp.MustCompile(`name="flow" value="([^"]+)"`)
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

func (b *Browser) do(req *http.Request) (*Page, error) {
	resp, err := b.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := &Page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(body),
		base: req.URL.Scheme + "://" + req.URL.Host}
	if m := flowRE.FindStringSubmatch(p.Body); m != nil {
		p.Flow = m[1]
	}
	if m := actionRE.FindStringSubmatch(p.Body); m != nil {
		p.Action = m[1]
	}
	return p, nil
}

// Get opens a URL.
func (b *Browser) Get(u string) (*Page, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return b.do(req)
}

// Submit posts a page's form with the given fields.
func (b *Browser) Submit(p *Page, fields url.Values) (*Page, error) {
	if p.Action == "" {
		return nil, fmt.Errorf("page has no form (status %d): %.300s", p.Status, p.Body)
	}
	fields.Set("flow", p.Flow)
	req, err := http.NewRequest(http.MethodPost, p.base+p.Action, strings.NewReader(fields.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// SignIn walks the pages of an authorization request: it signs in with
// upn/password when asked, picks the account on the account picker and
// accepts consent. It returns the final redirect's query.
func (b *Browser) SignIn(authURL, upn, password string) (url.Values, error) {
	p, err := b.walk(authURL, upn, password)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(p.Location)
	if err != nil {
		return nil, err
	}
	return u.Query(), nil
}

// SignInAndDeliver walks the sign-in pages for authURL and then delivers the
// final redirect to the application's loopback listener, as a browser does,
// returning the listener's page.
func (b *Browser) SignInAndDeliver(authURL, upn, password string) (*Page, error) {
	p, err := b.walk(authURL, upn, password)
	if err != nil {
		return nil, err
	}
	return b.Get(p.Location)
}

// walk fills in the pages until Entra redirects; it returns that page.
func (b *Browser) walk(authURL, upn, password string) (*Page, error) {
	p, err := b.Get(authURL)
	if err != nil {
		return nil, err
	}
	for range 6 {
		if p.Location != "" {
			return p, nil
		}
		switch {
		case strings.Contains(p.Body, `name="passwd"`):
			p, err = b.Submit(p, url.Values{"loginfmt": {upn}, "passwd": {password}})
		case strings.Contains(p.Body, `name="account"`):
			acct := "other"
			if strings.Contains(p.Body, `value="`+upn+`"`) {
				acct = upn
			}
			p, err = b.Submit(p, url.Values{"account": {acct}})
		case strings.Contains(p.Body, `name="accept"`):
			p, err = b.Submit(p, url.Values{"accept": {"yes"}})
		default:
			return nil, fmt.Errorf("unexpected page (status %d): %.500s", p.Status, p.Body)
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("sign-in did not finish")
}

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
