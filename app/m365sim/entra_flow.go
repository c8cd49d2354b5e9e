package m365sim

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// authFlow is one interactive request (authorize or admin consent) between
// its pages: sign-in, account picker, consent.
type authFlow struct {
	id, kind                   string // kind: "authorize" or "adminconsent"
	tenant                     *tenantState
	app                        *appState
	redirectURI, state         string
	scopes                     *scopeSet
	challenge, method, nonce   string
	responseMode, prompt, hint string
	userID                     string
	expires                    time.Time
}

type browserSession struct {
	userIDs []string
}

const sessionCookie = "ESTSAUTH"

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:Segoe UI,Arial,sans-serif;background:#f2f2f2}main{background:#fff;max-width:440px;margin:60px auto;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
.err{color:#e81123}.sub{color:#666;font-size:90%}input[type=text],input[type=password],input[type=email]{width:100%;padding:6px;margin:6px 0}button{margin-top:12px;padding:6px 20px}li{margin:4px 0}</style></head>
<body><main>
<div class="sub">{{.Tenant}} · m365sim</div>
<h1 id="pageTitle">{{.Title}}</h1>
{{if .Error}}<p class="err" id="errorText">{{.Error}}</p>{{end}}
{{if eq .Kind "signin"}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="flow" value="{{.Flow}}">
<label for="i0116">E-Mail, Telefon oder Skype (Email, phone or Skype)</label>
<input type="email" id="i0116" name="loginfmt" value="{{.Hint}}" autocomplete="username">
<label for="i0118">Kennwort (Password)</label>
<input type="password" id="i0118" name="passwd" autocomplete="current-password">
<button type="submit" id="idSIButton9">Anmelden (Sign in)</button>
</form>
{{else if eq .Kind "picker"}}
<p>Konto auswählen (Pick an account)</p>
<form method="post" action="{{.Action}}"><input type="hidden" name="flow" value="{{.Flow}}">
<ul>{{range .Accounts}}<li><button type="submit" name="account" value="{{.}}" class="tile">{{.}}</button></li>{{end}}
<li><button type="submit" name="account" value="other" id="otherTile">Anderes Konto verwenden (Use another account)</button></li></ul>
</form>
{{else if eq .Kind "consent"}}
<p><b>{{.App}}</b> möchte (wants to):</p>
<ul id="permissions">{{range .Perms}}<li>{{.}}</li>{{end}}</ul>
<p class="sub">Angemeldet als (signed in as) {{.User}}</p>
<form method="post" action="{{.Action}}"><input type="hidden" name="flow" value="{{.Flow}}">
{{if .CanOrg}}<label><input type="checkbox" name="org" value="1" id="orgConsent"> Im Namen Ihrer Organisation zustimmen (Consent on behalf of your organization)</label>{{end}}
<button type="submit" name="accept" value="no" id="idBtn_Back">Abbrechen (Cancel)</button>
<button type="submit" name="accept" value="yes" id="idSIButton9">Akzeptieren (Accept)</button>
</form>
{{else if eq .Kind "redirect"}}
<form method="post" action="{{.Action}}" id="hiddenform">{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<noscript><button type="submit">Weiter (Continue)</button></noscript></form>
<script>document.getElementById("hiddenform").submit()</script>
{{end}}
{{if .Code}}<p class="sub" id="errorCode">AADSTS{{.Code}}</p>{{end}}
{{if .Auto}}<script>(function(){var f=document.forms[0];if(!f)return;{{if eq .Kind "signin"}}document.getElementById("i0118").value={{.AutoPassword}};f.submit();{{else if eq .Kind "picker"}}var b=document.querySelector('button[value="'+{{.AutoAccount}}+'"]')||document.getElementById("otherTile");b.click();{{else if eq .Kind "consent"}}document.getElementById("idSIButton9").click();{{end}}})();</script>{{end}}
</main></body></html>`))

type pageData struct {
	Kind, Title, Tenant, Error, Action, Flow, Hint, App, User string
	Auto                                                      bool
	AutoPassword, AutoAccount                                 string
	Accounts, Perms                                           []string
	CanOrg                                                    bool
	Code                                                      int
	Fields                                                    map[string]string
}

func (s *Server) renderPage(w http.ResponseWriter, status int, d pageData) {
	if s.opts.AutoSignIn && d.Error == "" {
		d.Auto = true
		if u := s.lookupUser(d.Hint); u != nil {
			d.AutoPassword, d.AutoAccount = u.Password, u.UPN
		}
		if d.Kind == "picker" && d.AutoAccount == "" {
			d.AutoAccount = "other"
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, d)
}

// renderErrorPage is what Entra shows when it cannot redirect (unknown
// tenant or app, redirect URI mismatch).
func (s *Server) renderErrorPage(w http.ResponseWriter, tenant string, e *entraErr) {
	s.renderPage(w, http.StatusBadRequest, pageData{Kind: "error", Title: "Anmeldung nicht möglich (Sorry, but we’re having trouble signing you in.)",
		Tenant: tenant, Error: e.Error(), Code: e.code})
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	q := r.Form
	tenant := r.PathValue("tenant")
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookupTenant(tenant)
	if t == nil {
		if a := s.appAnywhere(q.Get("client_id")); a != nil && isMultiTenantAlias(tenant) {
			s.renderErrorPage(w, tenant, errSingleTenantCommon(a.ClientID, a.DisplayName))
			return
		}
		s.renderErrorPage(w, tenant, errTenantNotFound(tenant))
		return
	}
	clientID := q.Get("client_id")
	a := t.apps[strings.ToLower(clientID)]
	if a == nil {
		s.renderErrorPage(w, tenant, errAppNotFound(clientID, t.ID))
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" && len(a.RedirectURIs) == 1 {
		redirect = a.RedirectURIs[0]
	}
	if !a.redirectAllowed(redirect) {
		s.renderErrorPage(w, tenant, errRedirectMismatch(redirect, a.ClientID))
		return
	}
	f := &authFlow{id: s.newOpaque("", 18), kind: "authorize", tenant: t, app: a, redirectURI: redirect,
		state: q.Get("state"), challenge: q.Get("code_challenge"), method: q.Get("code_challenge_method"),
		nonce: q.Get("nonce"), responseMode: q.Get("response_mode"), prompt: q.Get("prompt"),
		hint: q.Get("login_hint"), expires: s.now().Add(time.Hour)}
	if f.responseMode == "" {
		f.responseMode = "query"
	}
	if rt := q.Get("response_type"); rt != "code" {
		if rt == "" {
			s.finishWithError(w, f, errMissingParam("response_type"))
		} else {
			s.finishWithError(w, f, errUnsupportedResponseType(rt))
		}
		return
	}
	if f.challenge != "" {
		if f.method == "" {
			f.method = "plain"
		}
		if f.method != "S256" && f.method != "plain" {
			s.finishWithError(w, f, errInvalidChallengeMethod())
			return
		}
	}
	ss, e := parseScopes(s.canonScopes(q.Get("scope")))
	if e == nil && len(ss.perms) == 0 && len(ss.oidc) == 0 {
		e = errMissingParam("scope")
	}
	if e != nil {
		s.finishWithError(w, f, e)
		return
	}
	f.scopes = ss
	s.flows[f.id] = f
	s.continueFlow(w, r, f)
}

// continueFlow decides the next page of a flow from prompt, session and consent.
func (s *Server) continueFlow(w http.ResponseWriter, r *http.Request, f *authFlow) {
	sess := s.session(r)
	if f.userID == "" {
		var candidates []string
		if sess != nil {
			candidates = sess.userIDs
		}
		if f.hint != "" {
			if u := s.lookupUser(f.hint); u != nil && slices.Contains(candidates, u.ID) {
				candidates = []string{u.ID}
			} else {
				candidates = nil
			}
		}
		switch {
		case f.prompt == "login":
			s.signInPage(w, f, "", 0)
			return
		case f.prompt == "select_account":
			if sess == nil || len(sess.userIDs) == 0 {
				s.signInPage(w, f, "", 0)
				return
			}
			s.pickerPage(w, f, sess)
			return
		case len(candidates) == 1:
			f.userID = candidates[0]
		case f.prompt == "none":
			s.finishWithError(w, f, errLoginRequired())
			return
		default:
			s.signInPage(w, f, "", 0)
			return
		}
	}
	u := s.lookupUser(f.userID)
	if f.kind == "adminconsent" {
		if !u.Admin {
			s.renderErrorPage(w, f.tenant.DisplayName, errAdminApprovalNeeded(f.app.DisplayName))
			return
		}
		s.consentPage(w, f, u, s.adminPerms(f.app))
		return
	}
	missing := f.app.missingConsent(u, f.scopes)
	if f.prompt == "consent" && len(missing) == 0 {
		missing = f.app.missingConsent(&userState{User: &User{}}, f.scopes)
	}
	if len(missing) > 0 {
		if f.prompt == "none" {
			e := errConsentMissing(f.app.ClientID, f.app.DisplayName)
			e.oauth = "consent_required"
			s.finishWithError(w, f, e)
			return
		}
		if f.tenant.UserConsentDisabled && !u.Admin {
			s.renderErrorPage(w, f.tenant.DisplayName, errAdminApprovalNeeded(f.app.DisplayName))
			return
		}
		s.consentPage(w, f, u, missing)
		return
	}
	s.finishWithCode(w, f, u)
}

func (s *Server) adminPerms(a *appState) []string {
	var out []string
	for _, p := range a.DelegatedScopes {
		out = append(out, "Delegiert (delegated): "+p)
	}
	for _, p := range a.AppRoles {
		out = append(out, "Anwendung (application): "+p)
	}
	return out
}

func (s *Server) session(r *http.Request) *browserSession {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	return s.sessions[c.Value]
}

func (s *Server) action(f *authFlow, step string) string {
	return "/" + f.tenant.ID + "/" + step
}

func (s *Server) signInPage(w http.ResponseWriter, f *authFlow, msg string, code int) {
	s.renderPage(w, http.StatusOK, pageData{Kind: "signin", Title: "Anmelden (Sign in)", Tenant: f.tenant.DisplayName,
		Action: s.action(f, "login"), Flow: f.id, Hint: f.hint, Error: msg, Code: code})
}

func (s *Server) pickerPage(w http.ResponseWriter, f *authFlow, sess *browserSession) {
	var accounts []string
	for _, id := range sess.userIDs {
		if u := s.lookupUser(id); u != nil {
			accounts = append(accounts, u.UPN)
		}
	}
	s.renderPage(w, http.StatusOK, pageData{Kind: "picker", Title: "Konto auswählen (Pick an account)", Tenant: f.tenant.DisplayName,
		Action: s.action(f, "pick"), Flow: f.id, Accounts: accounts, Hint: f.hint})
}

func (s *Server) consentPage(w http.ResponseWriter, f *authFlow, u *userState, perms []string) {
	s.renderPage(w, http.StatusOK, pageData{Kind: "consent", Title: "Angeforderte Berechtigungen (Permissions requested)",
		Tenant: f.tenant.DisplayName, Action: s.action(f, "consent"), Flow: f.id, App: f.app.DisplayName,
		User: u.UPN, Perms: perms, CanOrg: u.Admin && f.kind == "authorize"})
}

// lookupFlow finds the flow a page posted back. Caller holds s.mu.
func (s *Server) lookupFlow(w http.ResponseWriter, r *http.Request) *authFlow {
	_ = r.ParseForm()
	f := s.flows[r.PostForm.Get("flow")]
	if f == nil || !s.now().Before(f.expires) || !strings.EqualFold(f.tenant.ID, r.PathValue("tenant")) && s.lookupTenant(r.PathValue("tenant")) != f.tenant {
		s.renderErrorPage(w, r.PathValue("tenant"), &entraErr{400, "invalid_request", 50058, "The sign-in session has expired or is unknown. Start the sign-in again."})
		return nil
	}
	return f
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.lookupFlow(w, r)
	if f == nil {
		return
	}
	login := strings.TrimSpace(r.PostForm.Get("loginfmt"))
	f.hint = login
	u := s.lookupUser(login)
	if u == nil || u.tenant != f.tenant {
		e := errUnknownUser(f.tenant.DisplayName)
		s.signInPage(w, f, "Dieses Konto ist in der Organisation nicht vorhanden. (This account does not exist in the organisation.) "+e.Error(), e.code)
		return
	}
	if r.PostForm.Get("passwd") != u.Password {
		e := errWrongPassword()
		s.signInPage(w, f, "Ihr Konto oder Kennwort ist falsch. (Your account or password is incorrect.) "+e.Error(), e.code)
		return
	}
	f.userID = u.ID
	sid := ""
	if c, err := r.Cookie(sessionCookie); err == nil && s.sessions[c.Value] != nil {
		sid = c.Value
	} else {
		sid = s.newOpaque("", 24)
		s.sessions[sid] = &browserSession{}
	}
	sess := s.sessions[sid]
	if !slices.Contains(sess.userIDs, u.ID) {
		sess.userIDs = append(sess.userIDs, u.ID)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	s.continueFlow(w, r, f)
}

func (s *Server) handlePick(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.lookupFlow(w, r)
	if f == nil {
		return
	}
	acct := r.PostForm.Get("account")
	sess := s.session(r)
	u := s.lookupUser(acct)
	if acct == "other" || u == nil || sess == nil || !slices.Contains(sess.userIDs, u.ID) {
		f.hint = ""
		s.signInPage(w, f, "", 0)
		return
	}
	f.userID = u.ID
	f.prompt = ""
	s.continueFlow(w, r, f)
}

func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.lookupFlow(w, r)
	if f == nil || f.userID == "" {
		return
	}
	u := s.lookupUser(f.userID)
	if r.PostForm.Get("accept") != "yes" {
		s.finishWithError(w, f, errConsentDeclined())
		return
	}
	if f.kind == "adminconsent" {
		f.app.AdminConsent = true
		delete(s.flows, f.id)
		v := url.Values{"admin_consent": {"True"}, "tenant": {f.tenant.ID}}
		if f.state != "" {
			v.Set("state", f.state)
		}
		if f.scopes != nil {
			v.Set("scope", scopeString(f.scopes))
		}
		s.redirect(w, f, v)
		return
	}
	if r.PostForm.Get("org") == "1" && u.Admin {
		f.app.AdminConsent = true
	}
	var perms []string
	for res, ps := range f.scopes.perms {
		for _, p := range ps {
			if p == ".default" {
				for _, c := range f.app.configuredFor(res) {
					perms = append(perms, qualify(res, c))
				}
				continue
			}
			perms = append(perms, qualify(res, p))
		}
	}
	f.app.grantConsent(u, perms)
	s.finishWithCode(w, f, u)
}

// finishWithCode issues an authorization code and redirects. Caller holds s.mu.
func (s *Server) finishWithCode(w http.ResponseWriter, f *authFlow, u *userState) {
	code := s.newOpaque("1.AQ0Acode", 48)
	s.issued = append(s.issued, code)
	s.codes[code] = &authCode{clientID: f.app.ClientID, redirectURI: f.redirectURI, userID: u.ID, tenantID: f.tenant.ID,
		challenge: f.challenge, method: f.method, nonce: f.nonce, scopes: f.scopes, expires: s.now().Add(10 * time.Minute)}
	delete(s.flows, f.id)
	v := url.Values{"code": {code}, "session_state": {s.newGUID()}}
	if f.state != "" {
		v.Set("state", f.state)
	}
	s.redirect(w, f, v)
}

// finishWithError redirects with error and error_description. Caller holds s.mu.
func (s *Server) finishWithError(w http.ResponseWriter, f *authFlow, e *entraErr) {
	delete(s.flows, f.id)
	v := url.Values{"error": {e.oauth}, "error_description": {fmt.Sprintf("%s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
		e.Error(), s.newGUID(), s.newGUID(), s.now().Format("2006-01-02 15:04:05Z"))}, "error_uri": {fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", e.code)}}
	if f.state != "" {
		v.Set("state", f.state)
	}
	s.redirect(w, f, v)
}

func (s *Server) redirect(w http.ResponseWriter, f *authFlow, v url.Values) {
	switch f.responseMode {
	case "form_post":
		fields := map[string]string{}
		for k := range v {
			fields[k] = v.Get(k)
		}
		s.renderPage(w, http.StatusOK, pageData{Kind: "redirect", Title: "Weiterleitung (Working…)", Tenant: f.tenant.DisplayName, Action: f.redirectURI, Fields: fields})
	case "fragment":
		w.Header().Set("Location", f.redirectURI+"#"+v.Encode())
		w.WriteHeader(http.StatusFound)
	default:
		sep := "?"
		if strings.Contains(f.redirectURI, "?") {
			sep = "&"
		}
		w.Header().Set("Location", f.redirectURI+sep+v.Encode())
		w.WriteHeader(http.StatusFound)
	}
}

// handleAdminConsent serves /{tenant}/adminconsent and /{tenant}/v2.0/adminconsent.
func (s *Server) handleAdminConsent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tenant := r.PathValue("tenant")
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookupTenant(tenant)
	if t == nil {
		s.renderErrorPage(w, tenant, errTenantNotFound(tenant))
		return
	}
	a := t.apps[strings.ToLower(q.Get("client_id"))]
	if a == nil {
		s.renderErrorPage(w, tenant, errAppNotFound(q.Get("client_id"), t.ID))
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" && len(a.RedirectURIs) > 0 {
		redirect = a.RedirectURIs[0]
	}
	if !a.redirectAllowed(redirect) {
		s.renderErrorPage(w, tenant, errRedirectMismatch(redirect, a.ClientID))
		return
	}
	f := &authFlow{id: s.newOpaque("", 18), kind: "adminconsent", tenant: t, app: a, redirectURI: redirect,
		state: q.Get("state"), responseMode: "query", prompt: "select_account", expires: s.now().Add(time.Hour)}
	if sc := q.Get("scope"); sc != "" {
		if ss, e := parseScopes(s.canonScopes(sc)); e == nil {
			f.scopes = ss
		}
	}
	s.flows[f.id] = f
	s.continueFlow(w, r, f)
}

func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	s.mu.Lock()
	t := s.lookupTenant(tenant)
	s.mu.Unlock()
	if t == nil {
		s.writeEntraError(w, r, errTenantNotFound(tenant))
		return
	}
	base := s.httpURL + "/" + t.ID
	doc := map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     s.httpURL + "/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"kerberos_endpoint":                     base + "/kerberos",
		"introspection_endpoint":                s.httpURL + "/introspect",
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
		"rbac_url":                              "https://pas.windows.net",
		"code_challenge_methods_supported":      []string{"plain", "S256"},
	}
	writeJSON(w, http.StatusOK, doc)
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	s.mu.Lock()
	t := s.lookupTenant(tenant)
	s.mu.Unlock()
	if t == nil {
		s.writeEntraError(w, r, errTenantNotFound(tenant))
		return
	}
	writeJSON(w, http.StatusOK, s.signer.jwks(s.httpURL+"/"+t.ID+"/v2.0"))
}

// handleIntrospect implements RFC 7662 for the emulator's own tokens, so that
// a real Dovecot can validate XOAUTH2 bearer tokens.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	tok := r.PostForm.Get("token")
	if tok == "" {
		tok = r.URL.Query().Get("token")
	}
	if tok == "" {
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			tok = strings.TrimPrefix(h, "Bearer ")
		}
	}
	s.mu.Lock()
	claims, err := s.signer.verify(tok, s.now())
	s.mu.Unlock()
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	resp := map[string]any{"active": true, "token_type": "Bearer", "client_id": claims["appid"],
		"exp": claims["exp"], "iat": claims["iat"], "nbf": claims["nbf"], "sub": claims["sub"],
		"aud": claims["aud"], "iss": claims["iss"]}
	if upn := claimString(claims, "upn"); upn != "" {
		resp["username"] = upn
	}
	if scp := claimString(claims, "scp"); scp != "" {
		resp["scope"] = scp
	}
	writeJSON(w, http.StatusOK, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
