package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"kanzleisync/app/config"
	"kanzleisync/app/text"
)

// LoginConfig describes one interactive sign-in.
type LoginConfig struct {
	Entity       config.Entity
	ClientSecret string
	// Certificate, when set, proves the app instead of ClientSecret.
	Certificate *Certificate
	UPN         string // the account that must sign in
	// Scopes asked at the authorize endpoint (consent); TokenScopes at code
	// redemption (one resource). openid, profile and offline_access are added.
	Scopes, TokenScopes []string
	// ListenAddr is where the loopback redirect is received (default
	// 127.0.0.1:50993); when it cannot be bound a free port is taken.
	ListenAddr string
	Path       string        // default /authorize/
	Timeout    time.Duration // default 120 s
	// OpenBrowser opens the sign-in page; OfferURL is told the address when
	// no browser could be opened, so that it can be copied.
	OpenBrowser func(string) error
	OfferURL    func(string)
	HTTPClient  *http.Client
	Logger      *slog.Logger
	Now         func() time.Time
}

// LoginResult is a completed sign-in.
type LoginResult struct {
	Token       *oauth2.Token // access token for TokenScopes' resource, and the refresh token
	Account     string        // the account that signed in
	RedirectURI string
	SignedInAt  time.Time
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// listenLoopback binds 127.0.0.1 on the wanted port, or on a free one when
// that port is taken or reserved (Windows excludes port ranges for Hyper-V).
func listenLoopback(addr string, log *slog.Logger) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err == nil {
		return l, nil
	}
	host, _, _ := net.SplitHostPort(addr)
	l, err2 := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err2 != nil {
		return nil, fmt.Errorf("listen for the sign-in redirect: %w (and no free port: %v)", err, err2)
	}
	log.Warn("sign-in redirect port unavailable, using another (Entra ignores the port of http://localhost)",
		"wanted", addr, "using", l.Addr().String(), "reason", err.Error())
	return l, nil
}

// Login runs the authorization code flow with PKCE in the external browser.
func Login(ctx context.Context, cfg LoginConfig) (*LoginResult, error) {
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = fmt.Sprintf("127.0.0.1:%d", config.DefaultRedirectPort)
	}
	if cfg.Path == "" {
		cfg.Path = config.DefaultRedirectPath
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 120 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	host, _, err := net.SplitHostPort(cfg.ListenAddr)
	if err != nil || (host != "127.0.0.1" && host != "::1") {
		return nil, fmt.Errorf("sign-in: the redirect listener must be on loopback, not %q", cfg.ListenAddr)
	}
	l, err := listenLoopback(cfg.ListenAddr, cfg.Logger)
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	redirect := fmt.Sprintf("http://localhost:%d%s", port, cfg.Path)
	ent := cfg.Entity.WithDefaults()
	verifier := oauth2.GenerateVerifier()
	state := randomString(24)
	oc := &oauth2.Config{ClientID: ent.ClientID, RedirectURL: redirect,
		Scopes:   withOIDC(cfg.Scopes),
		Endpoint: oauth2.Endpoint{AuthURL: ent.Authority() + "/oauth2/v2.0/authorize"}}
	authURL := oc.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("prompt", "select_account"),
		oauth2.SetAuthURLParam("login_hint", cfg.UPN))

	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	type outcome struct {
		res *LoginResult
		err error
	}
	done := make(chan outcome, 1)
	var once sync.Once
	finish := func(o outcome) { once.Do(func() { done <- o }) }
	var finished bool
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc(cfg.Path, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if finished {
			writePage(w, http.StatusGone, text.T("Anmeldung bereits abgeschlossen"), text.T("Diese Anmeldung ist schon abgeschlossen. Sie können dieses Fenster schließen."))
			return
		}
		q := r.URL.Query()
		if q.Get("state") != state {
			// A stray or forged request: refuse it, keep waiting for the real one.
			cfg.Logger.Warn("sign-in redirect with wrong state refused")
			writePage(w, http.StatusBadRequest, text.T("Ungültige Anfrage"), text.T("Diese Anfrage gehört nicht zur laufenden Anmeldung (state passt nicht). Bitte die Anmeldung in kanzleisync verwenden."))
			return
		}
		finished = true
		if e := q.Get("error"); e != "" {
			ee := &EntraError{OAuth: e, Description: q.Get("error_description"), Code: codeFrom(q.Get("error_description"))}
			var err error = ee
			if e == "access_denied" && (ee.Code == 0 || ee.Code == 65004) {
				err = fmt.Errorf("%w: %w", ErrCancelled, ee)
			}
			adv := Explain(err, Context{Entity: ent, RedirectURI: redirect, UPN: cfg.UPN})
			writePage(w, http.StatusOK, text.T("Anmeldung nicht abgeschlossen"), adv.String())
			finish(outcome{err: err})
			return
		}
		res, err := redeem(r.Context(), cfg, ent, q.Get("code"), verifier, redirect)
		if err != nil {
			adv := Explain(err, Context{Entity: ent, RedirectURI: redirect, UPN: cfg.UPN})
			writePage(w, http.StatusOK, text.T("Anmeldung nicht abgeschlossen"), adv.String())
			finish(outcome{err: err})
			return
		}
		writePage(w, http.StatusOK, text.T("Überprüfungscode erhalten"), text.T("Überprüfungscode erhalten – Sie können dieses Fenster schließen."))
		finish(outcome{res: res})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(sctx)
		c()
	}()

	cfg.Logger.Info("sign-in started", "upn", cfg.UPN, "redirect", redirect)
	if cfg.OpenBrowser == nil || cfg.OpenBrowser(authURL) != nil {
		if cfg.OfferURL != nil {
			cfg.OfferURL(authURL)
		}
	}
	select {
	case o := <-done:
		return o.res, o.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w after %s", ErrTimeout, cfg.Timeout)
		}
		return nil, fmt.Errorf("%w: %v", ErrCancelled, ctx.Err())
	}
}

// redeem exchanges the code and checks that the right account signed in.
func redeem(ctx context.Context, cfg LoginConfig, ent config.Entity, code, verifier, redirect string) (*LoginResult, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {ent.ClientID},
		"code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect},
		"scope": {strings.Join(withOIDC(cfg.TokenScopes), " ")}}
	now := cfg.Now()
	tokenURL := ent.Authority() + "/oauth2/v2.0/token"
	if err := (credential{clientID: ent.ClientID, secret: cfg.ClientSecret, cert: cfg.Certificate}).apply(form, tokenURL, now); err != nil {
		return nil, err
	}
	tok, tr, err := postToken(ctx, cfg.HTTPClient, tokenURL, form, now)
	if err != nil {
		return nil, err
	}
	got := signedInAs(tr.IDToken, tr.AccessToken)
	if !strings.EqualFold(got, cfg.UPN) {
		return nil, &WrongAccountError{Want: cfg.UPN, Got: got}
	}
	if tok.RefreshToken == "" {
		return nil, fmt.Errorf("sign-in: Entra issued no refresh token (offline_access not granted)")
	}
	return &LoginResult{Token: tok, Account: got, RedirectURI: redirect, SignedInAt: now}, nil
}

func withOIDC(scopes []string) []string {
	out := []string{"openid", "profile", "offline_access"}
	for _, s := range scopes {
		switch s {
		case "openid", "profile", "offline_access":
		default:
			out = append(out, s)
		}
	}
	return out
}

func writePage(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>kanzleisync – %s</title></head>
<body style="font-family:Segoe UI,Arial,sans-serif;margin:3em"><h1>%s</h1><p id="message">%s</p></body></html>`,
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(text))
}
