// Package auth signs case workers in to Microsoft 365 (authorization code
// flow with PKCE in the external browser), keeps their refresh tokens in
// the OS keyring, and hands out access tokens — per worker for Graph and
// for Exchange's POP and SMTP, per entity for Graph with application
// permissions. Access tokens stay in memory.
package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"kanzleisync/app/config"
	"kanzleisync/platform/keyring"
)

// Secrets is the keyring as this package needs it (*keyring.Store).
type Secrets interface {
	Get(key string) (string, error)
	Set(key, secret string) error
	Delete(key string) error
}

var _ Secrets = (*keyring.Store)(nil)

// Directory is the configuration as this package needs it (*config.Repo).
type Directory interface {
	Entity(ctx context.Context, name string) (config.Entity, error)
	Worker(ctx context.Context, upn string) (config.Worker, error)
	RecordSignIn(ctx context.Context, upn string, at time.Time) error
	RecordRefresh(ctx context.Context, upn string, at time.Time) error
}

var _ Directory = (*config.Repo)(nil)

// SecretKey is the keyring entry of an entity's client secret.
func SecretKey(entity string) string { return "entity/" + entity + "/client-secret" }

// RefreshKey is the keyring entry of a worker's refresh token.
func RefreshKey(upn string) string { return "worker/" + strings.ToLower(upn) + "/refresh-token" }

// Outlook's delegated permissions for POP and SMTP.
var outlookScopes = []string{"https://outlook.office.com/POP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send"}

// GraphScopes are the delegated Graph permissions a worker's modules need.
func GraphScopes(w config.Worker) []string {
	scopes := []string{"User.Read"}
	for _, m := range w.Modules {
		switch m {
		case config.Calendar:
			scopes = append(scopes, "Calendars.ReadWrite")
		case config.Contacts:
			scopes = append(scopes, "Contacts.ReadWrite")
		case config.Tasks:
			scopes = append(scopes, "Tasks.ReadWrite")
		case config.Mail:
			scopes = append(scopes, "Mail.ReadWrite", "Mail.Send")
		}
	}
	return scopes
}

// Options configure a Manager.
type Options struct {
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
	// RefreshMargin: access tokens are renewed this long before they expire (default 5 min).
	RefreshMargin time.Duration
}

// Manager signs workers in and hands out their tokens.
type Manager struct {
	dir     Directory
	secrets Secrets
	opts    Options

	mu       sync.Mutex
	accounts map[string]*account   // by lower-case UPN
	apps     map[string]*appSource // by entity name
}

// NewManager builds a manager on the configuration and the keyring.
func NewManager(dir Directory, secrets Secrets, opts Options) *Manager {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RefreshMargin == 0 {
		opts.RefreshMargin = 5 * time.Minute
	}
	return &Manager{dir: dir, secrets: secrets, opts: opts, accounts: map[string]*account{}, apps: map[string]*appSource{}}
}

// SetClientSecret validates and stores an entity's client secret in the keyring.
func (m *Manager) SetClientSecret(entity, secret string) error {
	if err := config.ValidateSecret(secret); err != nil {
		return err
	}
	if err := m.secrets.Set(SecretKey(entity), secret); err != nil {
		return fmt.Errorf("store client secret of %s: %w", entity, err)
	}
	m.mu.Lock()
	delete(m.apps, entity)
	m.mu.Unlock()
	return nil
}

// HasClientSecret reports whether an entity's secret is in the keyring.
func (m *Manager) HasClientSecret(entity string) (bool, error) {
	_, err := m.secrets.Get(SecretKey(entity))
	if errors.Is(err, keyring.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// ClientSecretHint is the first three characters of the stored client
// secret: what Microsoft shows of it as "hint" (empty when none is stored).
func (m *Manager) ClientSecretHint(entity string) string {
	s, err := m.clientSecret(entity)
	if err != nil || len(s) < 3 {
		return ""
	}
	return s[:3]
}

func (m *Manager) clientSecret(entity string) (string, error) {
	s, err := m.secrets.Get(SecretKey(entity))
	if errors.Is(err, keyring.ErrNotFound) {
		return "", fmt.Errorf("entity %s: %w", entity, ErrNoSecret)
	}
	if err != nil {
		return "", fmt.Errorf("read client secret of %s: %w", entity, err)
	}
	return s, nil
}

// SignInOptions change how SignIn talks to the person.
type SignInOptions struct {
	OpenBrowser func(string) error
	OfferURL    func(string)
	Timeout     time.Duration
	ListenAddr  string
}

// SignIn runs the browser sign-in for a worker, stores the refresh token in
// the keyring and records the time. Nothing is stored when the keyring
// cannot take the token.
func (m *Manager) SignIn(ctx context.Context, upn string, so SignInOptions) (*LoginResult, error) {
	w, err := m.dir.Worker(ctx, upn)
	if err != nil {
		return nil, err
	}
	ent, err := m.dir.Entity(ctx, w.Entity)
	if err != nil {
		return nil, err
	}
	cred, err := m.credential(ent.Name, ent.ClientID, true)
	if err != nil {
		return nil, err
	}
	graph := GraphScopes(w)
	scopes := append([]string(nil), graph...)
	if w.Has(config.Mail) {
		scopes = append(scopes, outlookScopes...)
	}
	res, err := Login(ctx, LoginConfig{Entity: ent, ClientSecret: cred.secret, Certificate: cred.cert, UPN: w.UPN, Scopes: scopes,
		TokenScopes: qualify(ent.GraphEndpoint, graph), ListenAddr: so.ListenAddr, Timeout: so.Timeout,
		OpenBrowser: so.OpenBrowser, OfferURL: so.OfferURL, HTTPClient: m.opts.HTTPClient, Logger: m.opts.Logger, Now: m.opts.Now})
	if err != nil {
		return nil, err
	}
	if err := m.secrets.Set(RefreshKey(w.UPN), res.Token.RefreshToken); err != nil {
		return nil, fmt.Errorf("store the sign-in of %s: %w", w.UPN, err)
	}
	if err := m.dir.RecordSignIn(ctx, w.UPN, res.SignedInAt); err != nil {
		return nil, err
	}
	a := m.account(w.UPN)
	a.mu.Lock()
	a.rt = res.Token.RefreshToken
	a.cache = map[string]*oauth2.Token{"graph": {AccessToken: res.Token.AccessToken, TokenType: "Bearer", Expiry: res.Token.Expiry}}
	a.mu.Unlock()
	m.opts.Logger.Info("signed in", "upn", w.UPN, "redirect", res.RedirectURI)
	return res, nil
}

// SignOut forgets a worker's tokens and removes the refresh token from the keyring.
func (m *Manager) SignOut(upn string) error {
	m.mu.Lock()
	delete(m.accounts, strings.ToLower(upn))
	m.mu.Unlock()
	if err := m.secrets.Delete(RefreshKey(upn)); err != nil {
		return fmt.Errorf("sign out %s: %w", upn, err)
	}
	return nil
}

// HasSignIn reports whether a refresh token is stored for the worker.
func (m *Manager) HasSignIn(upn string) (bool, error) {
	_, err := m.secrets.Get(RefreshKey(upn))
	if errors.Is(err, keyring.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (m *Manager) account(upn string) *account {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := strings.ToLower(upn)
	a := m.accounts[key]
	if a == nil {
		a = &account{m: m, upn: upn, cache: map[string]*oauth2.Token{}}
		m.accounts[key] = a
	}
	return a
}

func qualify(resource string, scopes []string) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = strings.TrimRight(resource, "/") + "/" + s
	}
	return out
}

// Graph is the worker's token source for Microsoft Graph (delegated).
func (m *Manager) Graph(upn string) *TokenSource {
	return &TokenSource{get: func(ctx context.Context, force bool) (*oauth2.Token, error) {
		return m.account(upn).token(ctx, "graph", force)
	}}
}

// Outlook is the worker's token source for POP and SMTP (outlook.office.com).
func (m *Manager) Outlook(upn string) *TokenSource {
	return &TokenSource{get: func(ctx context.Context, force bool) (*oauth2.Token, error) {
		return m.account(upn).token(ctx, "outlook", force)
	}}
}

// App is the entity's token source for Graph with application permissions.
func (m *Manager) App(entity string) *TokenSource {
	return &TokenSource{get: func(ctx context.Context, force bool) (*oauth2.Token, error) { return m.app(entity).token(ctx, force) }}
}

// TokenSource hands out access tokens; it is an oauth2.TokenSource.
type TokenSource struct {
	get func(ctx context.Context, force bool) (*oauth2.Token, error)
}

var _ oauth2.TokenSource = (*TokenSource)(nil)

// Token returns a valid access token (oauth2.TokenSource).
func (t *TokenSource) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return t.get(ctx, false)
}

// TokenContext is Token with a context.
func (t *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	return t.get(ctx, false)
}

// Renew gets a new access token although the cached one has not expired:
// the answer to a 401 from the service.
func (t *TokenSource) Renew(ctx context.Context) (*oauth2.Token, error) { return t.get(ctx, true) }

// account holds one worker's refresh token and access tokens. Its mutex
// makes concurrent callers share one refresh.
type account struct {
	m     *Manager
	upn   string
	mu    sync.Mutex
	rt    string
	cache map[string]*oauth2.Token // "graph", "outlook"
}

func (a *account) token(ctx context.Context, resource string, force bool) (*oauth2.Token, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.m
	now := m.opts.Now()
	if t := a.cache[resource]; t != nil && !force && now.Add(m.opts.RefreshMargin).Before(t.Expiry) {
		return t, nil
	}
	w, err := m.dir.Worker(ctx, a.upn)
	if err != nil {
		return nil, err
	}
	ent, err := m.dir.Entity(ctx, w.Entity)
	if err != nil {
		return nil, err
	}
	if a.rt == "" {
		rt, err := m.secrets.Get(RefreshKey(a.upn))
		if errors.Is(err, keyring.ErrNotFound) {
			return nil, &SignInRequiredError{UPN: a.upn}
		}
		if err != nil {
			return nil, fmt.Errorf("read the sign-in of %s: %w", a.upn, err)
		}
		a.rt = rt
	}
	cred, err := m.credential(ent.Name, ent.ClientID, true)
	if err != nil {
		return nil, err
	}
	scopes := qualify(ent.GraphEndpoint, GraphScopes(w))
	if resource == "outlook" {
		scopes = outlookScopes
	}
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {ent.ClientID},
		"refresh_token": {a.rt}, "scope": {strings.Join(append(scopes, "offline_access"), " ")}}
	tokenURL := ent.Authority() + "/oauth2/v2.0/token"
	if err := cred.apply(form, tokenURL, now); err != nil {
		return nil, err
	}
	tok, _, err := postToken(ctx, m.opts.HTTPClient, tokenURL, form, now)
	if err != nil {
		var ee *EntraError
		if errors.As(err, &ee) && (signInCodes[ee.Code] || (ee.OAuth == "invalid_grant" && ee.Code == 0)) {
			a.rt = ""
			return nil, &SignInRequiredError{UPN: a.upn, Cause: ee}
		}
		return nil, fmt.Errorf("refresh %s token of %s: %w", resource, a.upn, err)
	}
	if tok.RefreshToken != "" && tok.RefreshToken != a.rt {
		if err := m.secrets.Set(RefreshKey(a.upn), tok.RefreshToken); err != nil {
			// the old refresh token stays valid at Entra; keep going with it stored
			m.opts.Logger.Warn("could not store the rotated refresh token; the previous one stays in use", "upn", a.upn, "error", err.Error())
		} else {
			a.rt = tok.RefreshToken
		}
	}
	if err := m.dir.RecordRefresh(ctx, a.upn, now); err != nil {
		m.opts.Logger.Warn("could not record the refresh time", "upn", a.upn, "error", err.Error())
	}
	stored := &oauth2.Token{AccessToken: tok.AccessToken, TokenType: "Bearer", Expiry: tok.Expiry}
	a.cache[resource] = stored
	m.opts.Logger.Debug("access token refreshed", "upn", a.upn, "resource", resource, "expires", tok.Expiry.Format(time.RFC3339))
	return stored, nil
}

// appSource holds an entity's application token.
type appSource struct {
	m      *Manager
	entity string
	mu     sync.Mutex
	tok    *oauth2.Token
}

func (m *Manager) app(entity string) *appSource {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.apps[entity]
	if s == nil {
		s = &appSource{m: m, entity: entity}
		m.apps[entity] = s
	}
	return s
}

func (s *appSource) token(ctx context.Context, force bool) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.m
	now := m.opts.Now()
	if s.tok != nil && !force && now.Add(m.opts.RefreshMargin).Before(s.tok.Expiry) {
		return s.tok, nil
	}
	ent, err := m.dir.Entity(ctx, s.entity)
	if err != nil {
		return nil, err
	}
	cred, err := m.credential(ent.Name, ent.ClientID, false)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {ent.ClientID}, "scope": {ent.GraphEndpoint + "/.default"}}
	tokenURL := ent.Authority() + "/oauth2/v2.0/token"
	if err := cred.apply(form, tokenURL, now); err != nil {
		return nil, err
	}
	tok, _, err := postToken(ctx, m.opts.HTTPClient, tokenURL, form, now)
	if err != nil {
		return nil, fmt.Errorf("application token of %s: %w", s.entity, err)
	}
	s.tok = &oauth2.Token{AccessToken: tok.AccessToken, TokenType: "Bearer", Expiry: tok.Expiry}
	return s.tok, nil
}

// LocalPasswordKey is the keyring entry of a mail account's password for
// the local servers the Kommunikator uses.
func LocalPasswordKey(address string) string {
	return "account/" + strings.ToLower(address) + "/local-password"
}

// LocalPassword is the account's password for the local POP3 server, made
// at first use: 32 random characters from an alphabet without look-alikes,
// kept in the keyring only.
func (m *Manager) LocalPassword(address string) (string, error) {
	key := LocalPasswordKey(address)
	if pw, err := m.secrets.Get(key); err == nil && pw != "" {
		return pw, nil
	} else if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return "", err
	}
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	pw := string(b)
	if err := m.secrets.Set(key, pw); err != nil {
		return "", fmt.Errorf("store the local password of %s: %w", address, err)
	}
	return pw, nil
}
