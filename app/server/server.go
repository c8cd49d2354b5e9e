// Package server is `kanzleisync serve`: the headless exporter for the
// whole firm. It exports every Sachbearbeiter's mailbox with the entity's
// application permissions, holds a lease in the state database so that of
// two servers on the same entity exactly one exports (the other waits and
// takes over when the lease runs out), and shows its state on a loopback
// HTTP endpoint: /health (JSON) for the tray apps and /metrics
// (Prometheus text format) for monitoring.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kanzleisync/app/core"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// LeaseName is the lease of the export in the state database.
const LeaseName = "serve"

// Server runs the export while it holds the lease.
type Server struct {
	Store  *store.Store
	Engine func() *core.Engine // a fresh engine for each time the lease is won
	Logger *slog.Logger
	// Listen is the HTTP address (loopback only; default 127.0.0.1:9465).
	Listen string
	// TTL of the lease (default 30 s); it is renewed every TTL/3 and the
	// export stops when a renewal fails, before the lease can expire.
	TTL time.Duration
	Now func() time.Time
	// OnListen is told the HTTP address once it listens.
	OnListen func(addr string)
	// Events gets start, stop, the lease's changes and every red state
	// (the Windows event log when serve runs as a service); nil: none.
	Events Events

	holder  string
	mu      sync.Mutex
	leader  bool
	since   time.Time
	eng     *core.Engine
	started time.Time
	addr    string

	evMu sync.Mutex
	last core.Health // the exporting engine's last health, for transitions
	// syncRequests counts the accepted POST /sync (Health.SyncRequests)
	syncRequests atomic.Int64
	starting     *core.Engine // the engine being started (its first statuses come before it is s.eng)
}

// Holder is this process's name in the lease: host, pid and a random part.
func (s *Server) Holder() string { return s.holder }

// Addr is where the HTTP endpoint listens (after Run started).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

func (s *Server) defaults() {
	if s.Listen == "" {
		s.Listen = "127.0.0.1:9465"
	}
	if s.TTL <= 0 {
		s.TTL = 30 * time.Second
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.holder == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		s.holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
	}
}

// CheckListen refuses a status address that is not on this machine or
// whose port is not 0 to 65535 (0: a free one), in German.
func CheckListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil {
		return text.Errorf("serve --listen %q: die Adresse hat die Form 127.0.0.1:9465", addr)
	}
	if n < 0 || n > 65535 {
		return text.Errorf("serve --listen %q: der Port liegt zwischen 1 und 65535 (0: ein freier)", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return text.Errorf("serve --listen %q: der Statusdienst lauscht nur auf dieser Maschine (127.0.0.1 oder ::1)", addr)
	}
	return nil
}

// Run serves until ctx ends; the lease is released on the way out.
func (s *Server) Run(ctx context.Context) error {
	s.defaults()
	if err := CheckListen(s.Listen); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	s.mu.Lock()
	s.addr, s.started = ln.Addr().String(), s.Now()
	s.mu.Unlock()
	if s.OnListen != nil {
		s.OnListen(ln.Addr().String())
	}
	srv := &http.Server{Handler: machinesOnly(ln.Addr().String(), s.mux()), ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	s.Logger.Info("serve started", "holder", s.holder, "listen", ln.Addr().String())
	s.emit(event{levelInfo, EventStarted, text.F("kanzleisync serve läuft (Status unter http://%s/health, Kennung %s).", ln.Addr().String(), s.holder)})

	tick := time.NewTicker(s.TTL / 3)
	defer tick.Stop()
	for {
		s.step(ctx)
		select {
		case <-ctx.Done():
			s.stepDown()
			// ctx is done: release with a short context of its own
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = s.Store.ReleaseLease(rctx, LeaseName, s.holder)
			cancel()
			s.emit(event{levelInfo, EventStopped, text.F("kanzleisync serve beendet (Kennung %s).", s.holder)})
			return nil
		case <-tick.C:
		}
	}
}

// step renews or tries to take the lease and starts or stops the export.
func (s *Server) step(ctx context.Context) {
	ok, err := s.Store.AcquireLease(ctx, LeaseName, s.holder, s.Now(), s.TTL)
	if err != nil {
		s.Logger.Warn("lease", "error", err.Error())
		ok = false // not sure to hold it: stop exporting rather than risk two
	}
	s.mu.Lock()
	leader := s.leader
	s.mu.Unlock()
	switch {
	case ok && !leader:
		eng := s.Engine()
		s.mu.Lock()
		s.starting = eng
		s.mu.Unlock()
		eng.Subscribe(func(st core.Status) { s.observe(eng, st) })
		if err := eng.Start(ctx); err != nil {
			s.Logger.Error("start export", "error", err.Error())
			s.emit(event{levelError, EventStartFailed, text.F("Der Export konnte nicht starten: %v", err)})
			s.mu.Lock()
			s.starting = nil
			s.mu.Unlock()
			_ = s.Store.ReleaseLease(ctx, LeaseName, s.holder)
			return
		}
		s.mu.Lock()
		s.leader, s.since, s.eng, s.starting = true, s.Now(), eng, nil
		s.mu.Unlock()
		s.Logger.Info("lease won: exporting", "holder", s.holder)
		s.emit(event{levelInfo, EventLeaseWon, text.F("Dieser Server exportiert jetzt (Sperre „%s“ übernommen, Kennung %s).", LeaseName, s.holder)})
	case !ok && leader:
		s.Logger.Warn("lease lost: export stopped", "holder", s.holder)
		s.emit(event{levelWarning, EventLeaseLost, text.F("Die Export-Sperre ist verloren (Datenbank nicht erreichbar oder ein anderer Server hat sie): der Export dieses Servers ist angehalten, bis er sie wieder hat. Kennung %s.", s.holder)})
		s.stepDown()
	}
}

func (s *Server) stepDown() {
	s.mu.Lock()
	eng := s.eng
	s.leader, s.eng = false, nil
	s.mu.Unlock()
	if eng != nil {
		eng.Close()
	}
	s.evMu.Lock()
	s.last = core.Health{}
	s.evMu.Unlock()
}

// observe turns the exporting engine's statuses into events.
func (s *Server) observe(eng *core.Engine, st core.Status) {
	if s.Events == nil {
		return
	}
	s.mu.Lock()
	current := s.eng == eng || s.starting == eng // not an engine that lost the lease and is closing
	s.mu.Unlock()
	if !current {
		return // an engine that lost the lease
	}
	h := core.HealthOf(st)
	s.evMu.Lock()
	evs := transitions(s.last, h)
	s.last = h
	s.evMu.Unlock()
	s.emit(evs...)
}

// Health is the JSON of /health (one type with the workstations' reader).
type Health = core.Health

// Health reports the current state.
func (s *Server) Health(ctx context.Context) Health {
	s.mu.Lock()
	leader, since, eng := s.leader, s.since, s.eng
	s.mu.Unlock()
	h := Health{Holder: s.holder, Leader: leader, Status: "standby", Mailboxes: []core.MailboxHealth{}, Warnings: []diagnose.Warning{}, SyncRequests: s.syncRequests.Load()}
	h.LeaseHolder, h.LeaseUntil, _ = s.Store.Lease(ctx, LeaseName)
	if !leader {
		h.Reason = text.F("Bereitschaft: ein anderer Server exportiert (%s)", h.LeaseHolder)
		if h.LeaseHolder == "" {
			h.Reason = text.T("Bereitschaft: der Export startet, sobald die Sperre frei ist")
		}
		return h
	}
	st := core.HealthOf(eng.Status())
	st.Holder, st.Leader, st.Since, st.LeaseHolder, st.LeaseUntil, st.SyncRequests = h.Holder, true, since, h.LeaseHolder, h.LeaseUntil, h.SyncRequests
	return st
}

// SyncHeader must accompany POST /sync: a web page cannot send it to
// another origin without a preflight, which this server never grants.
const SyncHeader = "X-Kanzleisync"

// machinesOnly lets through only what a program on this machine sends
// (issue 19): the Host must be this listener's loopback address and port
// (a page whose DNS name was rebound to 127.0.0.1 sends its own name), a
// browser's request from another origin is refused, and a POST needs
// SyncHeader.
func machinesOnly(listen string, next http.Handler) http.Handler {
	_, port, _ := net.SplitHostPort(listen)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, p, err := net.SplitHostPort(r.Host)
		if err != nil || p != port || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
			http.Error(w, text.F("Abgelehnt: der Statusdienst antwortet nur unter 127.0.0.1:%s, localhost:%s oder [::1]:%s (angefragt: %q).", port, port, port, r.Host), http.StatusMisdirectedRequest)
			return
		}
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
			http.Error(w, text.T("Abgelehnt: Anfragen von Webseiten nimmt der Statusdienst nicht an."), http.StatusForbidden)
			return
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			http.Error(w, text.T("Abgelehnt: Anfragen von Webseiten nimmt der Statusdienst nicht an."), http.StatusForbidden)
			return
		}
		if r.Method == http.MethodPost && r.Header.Get(SyncHeader) == "" {
			http.Error(w, text.F("Abgelehnt: POST nur mit dem Kopf „%s: sync“ (z. B. curl -X POST -H '%s: sync' http://%s/sync).", SyncHeader, SyncHeader, r.Host), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) mux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		h := s.Health(r.Context())
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if h.Status == "error" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(h)
	})
	// POST /sync starts a cycle at once (loopback only, like everything here).
	m.HandleFunc("POST /sync", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		eng := s.eng
		s.mu.Unlock()
		if eng == nil {
			http.Error(w, text.T("Bereitschaft: dieser Server exportiert gerade nicht."), http.StatusConflict)
			return
		}
		s.syncRequests.Add(1)
		eng.SyncNow()
		w.WriteHeader(http.StatusAccepted)
	})
	m.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write([]byte(s.metrics(r.Context())))
	})
	return m
}

// metrics renders /metrics in the Prometheus text format.
func (s *Server) metrics(ctx context.Context) string {
	h := s.Health(ctx)
	var b strings.Builder
	gauge := func(name, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
	}
	gauge("kanzleisync_up", "1 while the server runs.")
	b.WriteString("kanzleisync_up 1\n")
	gauge("kanzleisync_leader", "1 when this server holds the lease and exports.")
	fmt.Fprintf(&b, "kanzleisync_leader %d\n", boolInt(h.Leader))
	gauge("kanzleisync_state", "1 for the current state (ok, warning, error, standby).")
	for _, st := range []string{"ok", "warning", "error", "standby"} {
		fmt.Fprintf(&b, "kanzleisync_state{state=%q} %d\n", st, boolInt(h.Status == st))
	}
	gauge("kanzleisync_warnings", "Expiry and other warnings by colour.")
	counts := map[string]int{"gelb": 0, "rot": 0}
	for _, w := range h.Warnings {
		counts[string(w.Status)]++
	}
	keys := []string{"gelb", "rot"}
	for _, k := range keys {
		fmt.Fprintf(&b, "kanzleisync_warnings{status=%q} %d\n", k, counts[k])
	}
	sort.Slice(h.Mailboxes, func(i, j int) bool { return h.Mailboxes[i].UPN < h.Mailboxes[j].UPN })
	gauge("kanzleisync_mailbox_last_run_timestamp_seconds", "End of the mailbox's last export cycle (Unix time).")
	for _, m := range h.Mailboxes {
		if !m.LastRun.IsZero() {
			fmt.Fprintf(&b, "kanzleisync_mailbox_last_run_timestamp_seconds{upn=%q} %d\n", m.UPN, m.LastRun.Unix())
		}
	}
	gauge("kanzleisync_mailbox_error", "1 when the mailbox's last cycle failed.")
	for _, m := range h.Mailboxes {
		fmt.Fprintf(&b, "kanzleisync_mailbox_error{upn=%q} %d\n", m.UPN, boolInt(m.Error != ""))
	}
	gauge("kanzleisync_mailbox_last_cycle_items", "Items of the mailbox's last cycle by action.")
	for _, m := range h.Mailboxes {
		for _, a := range []struct {
			action string
			n      int
		}{{"created", m.Created}, {"updated", m.Updated}, {"deleted", m.Deleted}, {"cancelled", m.Cancelled}, {"failed", m.Failed}} {
			fmt.Fprintf(&b, "kanzleisync_mailbox_last_cycle_items{upn=%q,action=%q} %d\n", m.UPN, a.action, a.n)
		}
	}
	gauge("kanzleisync_mailbox_held_deletions", "Deletions the mailbox's last cycle held back until an administrator releases them.")
	for _, m := range h.Mailboxes {
		fmt.Fprintf(&b, "kanzleisync_mailbox_held_deletions{upn=%q} %d\n", m.UPN, m.Held)
	}
	gauge("kanzleisync_max_parallel_mailboxes", "Most mailboxes exported at the same time since the lease was won.")
	fmt.Fprintf(&b, "kanzleisync_max_parallel_mailboxes %d\n", h.MaxParallel)
	fmt.Fprintf(&b, "# HELP kanzleisync_sync_requests_total POST /sync accepted since the start.\n# TYPE kanzleisync_sync_requests_total counter\nkanzleisync_sync_requests_total %d\n", h.SyncRequests)
	return b.String()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
