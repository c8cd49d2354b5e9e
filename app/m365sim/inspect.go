package m365sim

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
)

// LoggedRequest is one request as the emulator saw it, for tests to assert on.
type LoggedRequest struct {
	Time    time.Time `json:"time"`
	Service string    `json:"service"` // entra, graph, pop3, smtp
	Method  string    `json:"method"`  // HTTP method or protocol command
	Path    string    `json:"path,omitempty"`
	Query   string    `json:"query,omitempty"`
	Body    string    `json:"body,omitempty"` // decompressed
	// ContentEncoding is the request's Content-Encoding (gzip from msgraph-sdk-go).
	ContentEncoding string `json:"contentEncoding,omitempty"`
	Status          int    `json:"status"` // HTTP status; -1 for a dropped connection; reply code for SMTP
	ErrorCode       string `json:"errorCode,omitempty"`
	RequestID       string `json:"requestId,omitempty"`
	App             string `json:"app,omitempty"`
	User            string `json:"user,omitempty"`
	InBatch         bool   `json:"inBatch,omitempty"`
	BatchID         string `json:"batchId,omitempty"`
}

// Stats counts what the fault and throttling rules did.
type Stats struct {
	InjectedStatus       map[int]int `json:"injectedStatus"`
	InjectedResets       int         `json:"injectedResets"`
	Throttled            int         `json:"throttled"`
	RetryAfterViolations int         `json:"retryAfterViolations"`
}

const maxLogBody = 64 << 10

// secretFields are masked in the request log: the log is for asserting on
// requests, not a place where credentials should end up.
var secretFields = []string{"client_secret", "code_verifier", "refresh_token", "code", "passwd", "token", "client_assertion"}

func truncateForLog(b []byte) string {
	if len(b) > maxLogBody {
		b = b[:maxLogBody]
	}
	return string(b)
}

func redactForm(body string) string {
	v, err := url.ParseQuery(body)
	if err != nil {
		return ""
	}
	for _, f := range secretFields {
		if v.Has(f) {
			v.Set(f, "[redacted]")
		}
	}
	return v.Encode()
}

func (s *Server) logRequest(e LoggedRequest) {
	s.mu.Lock()
	s.reqlog = append(s.reqlog, e)
	watchers := s.watchers
	s.mu.Unlock()
	for _, f := range watchers {
		f(e)
	}
}

// Watch calls f with every request as it is logged (HTTP, POP3, SMTP), so
// that a test can wait for an event instead of sleeping. f must not block.
func (s *Server) Watch(f func(LoggedRequest)) {
	s.mu.Lock()
	s.watchers = append(s.watchers[:len(s.watchers):len(s.watchers)], f)
	s.mu.Unlock()
}

func (s *Server) countStat(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// Requests returns the request log.
func (s *Server) Requests() []LoggedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LoggedRequest(nil), s.reqlog...)
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.reqlog = nil
	s.mu.Unlock()
}

// Stats reports the counters of injected faults and throttling.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.InjectedStatus = map[int]int{}
	for k, v := range s.stats.InjectedStatus {
		st.InjectedStatus[k] = v
	}
	return st
}

// Outbound lists mail addressed outside the emulated tenants.
func (s *Server) Outbound() []OutboundMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]OutboundMessage(nil), s.outbound...)
}

// Handler serves Entra, Graph and the inspection API.
func (s *Server) Handler() http.Handler {
	entra := http.NewServeMux()
	entra.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", s.handleAuthorize)
	entra.HandleFunc("POST /{tenant}/oauth2/v2.0/authorize", s.handleAuthorize)
	entra.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.handleToken)
	entra.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.handleDiscovery)
	entra.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.handleKeys)
	entra.HandleFunc("GET /{tenant}/adminconsent", s.handleAdminConsent)
	entra.HandleFunc("GET /{tenant}/v2.0/adminconsent", s.handleAdminConsent)
	entra.HandleFunc("POST /{tenant}/login", s.handleLogin)
	entra.HandleFunc("POST /{tenant}/pick", s.handlePick)
	entra.HandleFunc("POST /{tenant}/consent", s.handleConsent)
	entra.HandleFunc("POST /introspect", s.handleIntrospect)
	entra.HandleFunc("POST /{tenant}/oauth2/v2.0/introspect", s.handleIntrospect)
	sim := s.simMux()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("m365sim: panic while serving", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				http.Error(w, `{"error":{"code":"InternalServerError","message":"The emulator failed on this request."}}`, http.StatusInternalServerError)
			}
		}()
		switch {
		case strings.HasPrefix(r.URL.Path, "/v1.0/"):
			s.handleGraph(w, r)
		case strings.HasPrefix(r.URL.Path, "/api/v2.0/"):
			s.handleUpload(w, r)
		case strings.HasPrefix(r.URL.Path, "/_sim/"):
			sim.ServeHTTP(w, r)
		default:
			var body []byte
			if r.Body != nil {
				body, _ = io.ReadAll(io.LimitReader(r.Body, 1<<20))
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
			rec := &statusRecorder{ResponseWriter: w, status: 200}
			entra.ServeHTTP(rec, r)
			s.logRequest(LoggedRequest{Time: s.Now(), Service: "entra", Method: r.Method, Path: r.URL.Path,
				Query: redactForm(r.URL.RawQuery), Body: redactForm(string(body)), Status: rec.status})
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) simMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/state/{upn}", func(w http.ResponseWriter, r *http.Request) {
		st, err := s.State(r.PathValue("upn"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /_sim/requests", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.Requests()) })
	mux.HandleFunc("DELETE /_sim/requests", func(w http.ResponseWriter, r *http.Request) { s.ResetRequests(); w.WriteHeader(204) })
	mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.Stats()) })
	mux.HandleFunc("GET /_sim/outbound", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.Outbound()) })
	mux.HandleFunc("PUT /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults // keys of "status" are HTTP codes: {"status":{"429":0.1}}
		if err := decodeStrict(r.Body, &f); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		s.SetFaults(f)
		w.WriteHeader(204)
	})
	mux.HandleFunc("PUT /_sim/throttle", func(w http.ResponseWriter, r *http.Request) {
		var t ThrottleConfig
		if err := decodeStrict(r.Body, &t); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		s.SetThrottle(t)
		w.WriteHeader(204)
	})
	mux.HandleFunc("POST /_sim/clock", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("advance"))
		if err != nil {
			writeJSON(w, 400, map[string]string{"error": "advance must be a duration like 24h"})
			return
		}
		s.Advance(d)
		writeJSON(w, 200, map[string]string{"now": s.Now().Format(time.RFC3339)})
	})
	mux.HandleFunc("POST /_sim/deliver/{upn}", func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		id, err := s.Deliver(r.PathValue("upn"), raw)
		if err != nil {
			writeJSON(w, 404, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, 201, map[string]string{"id": id})
	})
	mux.HandleFunc("PATCH /_sim/users/{upn}", func(w http.ResponseWriter, r *http.Request) {
		var p UserPatch
		if err := decodeStrict(r.Body, &p); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		if err := s.PatchUser(r.PathValue("upn"), p); err != nil {
			writeJSON(w, 404, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(204)
	})
	mux.HandleFunc("PATCH /_sim/apps/{clientId}", func(w http.ResponseWriter, r *http.Request) {
		var p AppPatch
		if err := decodeStrict(r.Body, &p); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		if err := s.PatchApp(r.PathValue("clientId"), p); err != nil {
			writeJSON(w, 404, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(204)
	})
	// the Azure portal's "Upload certificate": the body is the .cer (DER, or PEM)
	mux.HandleFunc("POST /_sim/apps/{clientId}/certificates", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		if blk, _ := pem.Decode(b); blk != nil {
			b = blk.Bytes
		}
		if err := s.AddCertificate(r.PathValue("clientId"), b); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(204)
	})
	// the Azure portal's "New client secret" (body {"days": N}, optional):
	// the answer holds the value, shown once; the tenant's app-management
	// policy may refuse it (400 CredentialTypeNotAllowedAsPerAppPolicy)
	mux.HandleFunc("POST /_sim/apps/{clientId}/secrets", func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Days int `json:"days"`
		}
		if b, _ := io.ReadAll(io.LimitReader(r.Body, 4<<10)); len(bytes.TrimSpace(b)) > 0 {
			if err := decodeStrict(bytes.NewReader(b), &p); err != nil {
				writeJSON(w, 400, map[string]string{"error": err.Error()})
				return
			}
		}
		sec, err := s.AddSecret(r.PathValue("clientId"), time.Duration(p.Days)*24*time.Hour)
		if ge, ok := err.(*graphError); ok {
			writeJSON(w, ge.status, map[string]any{"error": map[string]string{"code": ge.code, "message": ge.message}})
			return
		}
		if err != nil {
			writeJSON(w, 404, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, 201, map[string]any{"keyId": sec.KeyID, "secretText": sec.Value, "endDateTime": sec.Expires.Format(time.RFC3339)})
	})
	mux.HandleFunc("PUT /_sim/tenants/{tenant}/appPolicy", func(w http.ResponseWriter, r *http.Request) {
		var p AppManagementPolicy
		if err := decodeStrict(r.Body, &p); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		if err := s.SetAppPolicy(r.PathValue("tenant"), &p); err != nil {
			writeJSON(w, 404, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(204)
	})
	mux.HandleFunc("POST /_sim/save", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Save(); err != nil {
			writeJSON(w, 500, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(204)
	})
	return mux
}

func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// MailboxState is a user's mailbox as the inspection API shows it: items
// rendered as Graph would, with their extended properties and, for
// messages, folder and POP3 UIDL.
type MailboxState struct {
	UPN       string           `json:"upn"`
	Events    []map[string]any `json:"events"`
	Contacts  []map[string]any `json:"contacts"`
	TaskLists []map[string]any `json:"taskLists"`
	Messages  []map[string]any `json:"messages"`
}

// State renders a user's mailbox.
func (s *Server) State(upn string) (*MailboxState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUser(upn)
	if u == nil {
		return nil, fmt.Errorf("unknown user %q", upn)
	}
	s.ensureDefaults(u.mailbox)
	h := &handlerCtx{s: s, req: &greq{header: http.Header{}}, owner: u, mb: u.mailbox}
	all := &query{expandExt: &extFilter{}, expandLinks: true}
	st := &MailboxState{UPN: u.UPN, Events: []map[string]any{}, Contacts: []map[string]any{}, TaskLists: []map[string]any{}, Messages: []map[string]any{}}
	for _, it := range u.mailbox.Events.sorted() {
		st.Events = append(st.Events, h.renderEvent(it, all))
	}
	for _, it := range u.mailbox.Contacts.sorted() {
		st.Contacts = append(st.Contacts, h.renderContact(it, all))
	}
	for _, l := range u.mailbox.Lists.sorted() {
		lm := h.renderList(l, all)
		tasks := []any{}
		for _, t := range u.mailbox.Tasks[l.ID].sorted() {
			tasks = append(tasks, h.renderTask(t, all))
		}
		lm["tasks"] = tasks
		st.TaskLists = append(st.TaskLists, lm)
	}
	for _, it := range u.mailbox.Messages.sorted() {
		m := h.renderMessage(it, all)
		m["_folder"] = s.folderName(u.mailbox, it.Mail.Folder)
		m["_uidl"] = it.Mail.UIDL
		m["_size"] = len(it.Mail.Raw)
		st.Messages = append(st.Messages, m)
	}
	return st, nil
}

// RawMessages are the MIME messages in a user's folder (by well-known
// name such as "inbox" or by display name), oldest first: what a mail
// client would download.
func (s *Server) RawMessages(upn, folder string) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUser(upn)
	if u == nil {
		return nil, fmt.Errorf("unknown user %q", upn)
	}
	f := s.folderByName(u.mailbox, folder)
	if f == nil {
		return nil, fmt.Errorf("%s has no folder %q", upn, folder)
	}
	var out [][]byte
	for _, it := range u.mailbox.messagesIn(f.ID) {
		out = append(out, append([]byte(nil), it.Mail.Raw...))
	}
	return out, nil
}

func (s *Server) folderName(mb *mailbox, id string) string {
	if f := mb.Folders.get(id); f != nil {
		if wk := f.Extra["wellKnown"]; wk != "" {
			return wk
		}
		name, _ := f.Props["displayName"].(string)
		return name
	}
	return ""
}

// Deliver puts a raw RFC 822 message into a user's Inbox, as inbound mail would arrive.
func (s *Server) Deliver(upn string, raw []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUser(upn)
	if u == nil {
		return "", fmt.Errorf("unknown user %q", upn)
	}
	return s.deliver(u, raw).ID, nil
}

// UserPatch changes a user's mailbox settings while the emulator runs.
type UserPatch struct {
	POPDisabled *bool   `json:"popDisabled,omitempty"`
	SMTPAuth    *bool   `json:"smtpAuth,omitempty"`
	Password    *string `json:"password,omitempty"`
	// RevokeSignIns invalidates every refresh token issued so far.
	RevokeSignIns bool `json:"revokeSignIns,omitempty"`
}

// PatchUser applies a UserPatch.
func (s *Server) PatchUser(upn string, p UserPatch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUser(upn)
	if u == nil {
		return fmt.Errorf("unknown user %q", upn)
	}
	if p.POPDisabled != nil {
		u.POPDisabled = *p.POPDisabled
	}
	if p.SMTPAuth != nil {
		v := *p.SMTPAuth
		u.SMTPAuth = &v
	}
	if p.Password != nil {
		u.Password = *p.Password
	}
	if p.RevokeSignIns {
		u.revokedBefore = s.now()
	}
	return nil
}

// AppPatch changes an app registration while the emulator runs.
type AppPatch struct {
	AdminConsent *bool `json:"adminConsent,omitempty"`
	// WithdrawUserConsents removes every user's own consent.
	WithdrawUserConsents bool `json:"withdrawUserConsents,omitempty"`
	// SecretExpires sets the expiry of every secret of the app.
	SecretExpires *time.Time `json:"secretExpires,omitempty"`
	// TenantSMTPAuthDisabled sets the organisation-wide SMTP AUTH switch.
	TenantSMTPAuthDisabled *bool `json:"tenantSmtpAuthDisabled,omitempty"`
}

// PatchApp applies an AppPatch to the app with that client id.
func (s *Server) PatchApp(clientID string, p AppPatch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tenants {
		a := t.apps[strings.ToLower(clientID)]
		if a == nil {
			continue
		}
		if p.AdminConsent != nil {
			a.AdminConsent = *p.AdminConsent
		}
		if p.WithdrawUserConsents {
			a.consents = map[string]map[string]bool{}
		}
		if p.SecretExpires != nil {
			for i := range a.Secrets {
				a.Secrets[i].Expires = *p.SecretExpires
			}
		}
		if p.TenantSMTPAuthDisabled != nil {
			t.SMTPAuthDisabled = *p.TenantSMTPAuthDisabled
		}
		return nil
	}
	return fmt.Errorf("unknown app %q", clientID)
}

// IssuedCredentials lists every access, refresh and id token and every
// authorization code the emulator handed out: tests scan files and logs
// for them.
func (s *Server) IssuedCredentials() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.issued {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}
