// Package m365sim emulates the parts of Microsoft 365 that kanzleisync uses:
// Entra ID v2.0 (sign-in, tokens, consent), Microsoft Graph v1.0 (calendar,
// contacts, To Do, mail, $batch), and the POP3 and SMTP submission services of
// Exchange Online. It serves over real sockets on 127.0.0.1 and keeps its
// state in memory, optionally saved to a file.
//
// It is written from Microsoft's documentation and must not import any of
// kanzleisync's client packages: emulator and client are checked against
// each other, not copied from each other.
package m365sim

import (
	"context"
	cryptorand "crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server beyond its tenant file.
type Options struct {
	// HTTPAddr serves Entra and Graph (default 127.0.0.1:0).
	HTTPAddr string
	// POP3Addr serves POP3 with STLS, POP3SAddr POP3 with implicit TLS,
	// SMTPAddr SMTP submission with STARTTLS. Empty means 127.0.0.1:0;
	// "-" switches the service off.
	POP3Addr, POP3SAddr, SMTPAddr string
	// StateFile, when set, is loaded at start (if present) and written by Save and Close.
	StateFile string
	Logger    *slog.Logger
	// Now replaces the wall clock (tests); Advance moves it either way.
	Now func() time.Time
	// AutoSignIn makes the sign-in pages fill in the password of the user
	// named by login_hint and submit themselves, pick that account and
	// accept consent: a real browser then completes a sign-in unattended
	// (tests only; the demo never sets it).
	AutoSignIn bool
}

// Server is one running emulator.
type Server struct {
	opts Options
	log  *slog.Logger
	// held counts the Graph requests held for the network's latency now
	held atomic.Int64

	mu          sync.Mutex
	cfg         TenantFile
	clockOffset time.Duration
	rng         *rand.Rand
	uidlSalt    [6]byte // random per emulator instance (newUIDL)
	signer      *signer
	tenants     map[string]*tenantState // by id and by lower-case domain
	users       map[string]*userState   // by lower-case UPN, mail and object id
	codes       map[string]*authCode
	refresh     map[string]*refreshToken
	flows       map[string]*authFlow
	sessions    map[string]*browserSession
	reqlog      []LoggedRequest
	watchers    []func(LoggedRequest)
	outbound    []OutboundMessage
	stats       Stats
	issued      []string // every token and code handed out, for leak scans in tests
	faults      Faults
	retryAfter  map[string]retryWindow // throttled client -> when it was told to wait, and until when
	throttle    *throttler
	seq         int64
	uploads     map[string]*uploadSession // attachment upload sessions by id
	jtis        map[string]time.Time      // client assertions seen (client|jti) -> until when they are remembered

	tlsConf   *tls.Config
	certPEM   []byte
	listeners []net.Listener
	httpSrv   *http.Server
	httpURL   string
	pop3Addr  string
	pop3sAddr string
	smtpAddr  string
	wg        sync.WaitGroup
	closed    chan struct{}
	connMu    sync.Mutex
	conns     map[net.Conn]struct{} // open POP3 and SMTP sessions, closed by Close
}

type tenantState struct {
	Tenant
	apps map[string]*appState
}

type appState struct {
	*App
	tenant *tenantState
	// consents: user object id -> granted delegated scopes (lower-case full names).
	consents map[string]map[string]bool
}

type userState struct {
	*User
	tenant  *tenantState
	mailbox *mailbox
	// revokedBefore invalidates refresh tokens issued earlier (Revoke-AzureADUserAllRefreshToken).
	revokedBefore time.Time
	// smtpSessions counts the mailbox's authenticated SMTP connections
	// (Exchange Online allows three at a time); smtpRecipients its
	// recipients per day (10,000).
	smtpSessions   int
	smtpRecipients map[string]int // day (2006-01-02) -> recipients
}

// New builds a server from a tenant file; it does not listen yet.
func New(tf *TenantFile, opts Options) (*Server, error) {
	if tf == nil {
		return nil, errors.New("m365sim: no tenant file")
	}
	cfg := *tf
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:       opts,
		log:        opts.Logger,
		cfg:        cfg,
		rng:        rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6d333635)),
		codes:      map[string]*authCode{},
		jtis:       map[string]time.Time{},
		refresh:    map[string]*refreshToken{},
		flows:      map[string]*authFlow{},
		sessions:   map[string]*browserSession{},
		faults:     cfg.Faults.withDefaults(),
		retryAfter: map[string]retryWindow{},
		closed:     make(chan struct{}),
		stats:      Stats{InjectedStatus: map[int]int{}},
		conns:      map[net.Conn]struct{}{},
	}
	if _, err := cryptorand.Read(s.uidlSalt[:]); err != nil {
		return nil, fmt.Errorf("m365sim: random: %w", err)
	}
	s.throttle = newThrottler(cfg.Throttle)
	s.buildDirectory()
	var err error
	if s.signer, err = newSigner(s.now()); err != nil {
		return nil, err
	}
	if s.tlsConf, s.certPEM, err = selfSignedTLS(s.now()); err != nil {
		return nil, err
	}
	if opts.StateFile != "" {
		if err := s.loadState(opts.StateFile); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Server) buildDirectory() {
	s.tenants = map[string]*tenantState{}
	s.users = map[string]*userState{}
	for ti := range s.cfg.Tenants {
		t := &tenantState{Tenant: s.cfg.Tenants[ti], apps: map[string]*appState{}}
		s.tenants[strings.ToLower(t.ID)] = t
		for _, d := range t.Domains {
			s.tenants[strings.ToLower(d)] = t
		}
		for ui := range t.Users {
			u := &userState{User: &t.Users[ui], tenant: t, mailbox: newMailbox()}
			s.users[strings.ToLower(u.UPN)] = u
			s.users[strings.ToLower(u.Mail)] = u
			s.users[strings.ToLower(u.ID)] = u
		}
		for ai := range t.Apps {
			a := &appState{App: &t.Apps[ai], tenant: t, consents: map[string]map[string]bool{}}
			t.apps[strings.ToLower(a.ClientID)] = a
		}
	}
}

// Start opens the listeners and serves until Close.
func (s *Server) Start() error {
	listen := func(addr string) (net.Listener, error) {
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("listen %s: the emulator serves loopback addresses only", addr)
		}
		return net.Listen("tcp", addr)
	}
	hl, err := listen(s.opts.HTTPAddr)
	if err != nil {
		return err
	}
	s.listeners = append(s.listeners, hl)
	s.httpURL = "http://" + hl.Addr().String()
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 30 * time.Second}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); _ = s.httpSrv.Serve(hl) }()

	type svc struct {
		addr  string
		dst   *string
		serve func(net.Listener)
	}
	for _, v := range []svc{
		{s.opts.POP3Addr, &s.pop3Addr, func(l net.Listener) { s.servePOP3(l, false) }},
		{s.opts.POP3SAddr, &s.pop3sAddr, func(l net.Listener) { s.servePOP3(l, true) }},
		{s.opts.SMTPAddr, &s.smtpAddr, s.serveSMTP},
	} {
		if v.addr == "-" {
			continue
		}
		l, err := listen(v.addr)
		if err != nil {
			s.Close()
			return err
		}
		s.listeners = append(s.listeners, l)
		*v.dst = l.Addr().String()
		s.wg.Add(1)
		go func() { defer s.wg.Done(); v.serve(l) }()
	}
	s.log.Info("m365sim started", "http", s.httpURL, "pop3", s.pop3Addr, "pop3s", s.pop3sAddr, "smtp", s.smtpAddr)
	return nil
}

// Close stops every listener, waits for the connections and saves the state file.
func (s *Server) Close() error {
	select {
	case <-s.closed:
		return nil
	default:
		close(s.closed)
	}
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.httpSrv.Shutdown(ctx)
		cancel()
	}
	for _, l := range s.listeners {
		_ = l.Close()
	}
	s.connMu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.connMu.Unlock()
	s.wg.Wait()
	if s.opts.StateFile != "" {
		return s.Save()
	}
	return nil
}

// URL is the base of the HTTP services, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return s.httpURL }

// GraphURL is the Graph v1.0 base URL to give msgraph-sdk-go's SetBaseUrl.
func (s *Server) GraphURL() string { return s.httpURL + "/v1.0" }

// AuthorityURL is the Entra authority of a tenant, e.g. http://127.0.0.1:41234/{tenant}.
func (s *Server) AuthorityURL(tenant string) string { return s.httpURL + "/" + tenant }

// POP3Addr, POP3SAddr and SMTPAddr are the host:port of the mail services.
func (s *Server) POP3Addr() string  { return s.pop3Addr }
func (s *Server) POP3SAddr() string { return s.pop3sAddr }
func (s *Server) SMTPAddr() string  { return s.smtpAddr }

// CACertPEM is the self-signed certificate of the POP3 and SMTP services;
// tests trust it with x509.CertPool.AppendCertsFromPEM.
func (s *Server) CACertPEM() []byte { return s.certPEM }

// now is the emulator's clock: the wall clock (or Options.Now) plus Advance.
func (s *Server) now() time.Time {
	base := time.Now()
	if s.opts.Now != nil {
		base = s.opts.Now()
	}
	return base.Add(s.clockOffset).UTC()
}

// Now reports the emulator's clock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// Advance moves the emulator's clock, e.g. to let tokens or secrets expire.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	s.clockOffset += d
	s.mu.Unlock()
}

// lookupTenant finds a tenant by GUID or domain. Caller holds s.mu.
func (s *Server) lookupTenant(id string) *tenantState {
	return s.tenants[strings.ToLower(id)]
}

// lookupUser finds a user by UPN, mail address or object id. Caller holds s.mu.
func (s *Server) lookupUser(id string) *userState {
	return s.users[strings.ToLower(strings.TrimSpace(id))]
}

// track registers a mail session's connection so that Close can end it;
// the returned function unregisters it.
func (s *Server) track(c net.Conn) func() {
	s.connMu.Lock()
	s.conns[c] = struct{}{}
	s.connMu.Unlock()
	return func() {
		s.connMu.Lock()
		delete(s.conns, c)
		s.connMu.Unlock()
	}
}
