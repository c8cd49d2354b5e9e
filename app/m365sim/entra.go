package m365sim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// Resources the emulator issues tokens for.
const (
	resourceGraph   = "https://graph.microsoft.com"
	resourceOutlook = "https://outlook.office365.com"
	graphAppID      = "00000003-0000-0000-c000-000000000000"
	outlookAppID    = "00000002-0000-0ff1-ce00-000000000000"
)

var oidcScopes = []string{"openid", "profile", "email", "offline_access"}

// scopeSet is a parsed scope parameter: delegated permissions per resource
// and the OpenID Connect scopes.
type scopeSet struct {
	perms map[string][]string // resource -> permission names (".default" allowed)
	oidc  []string
	order []string // resources in order of appearance
}

// parseScopes splits "openid Calendars.ReadWrite https://outlook.office365.com/POP.AccessAsUser.All".
func parseScopes(raw string) (*scopeSet, *entraErr) {
	ss := &scopeSet{perms: map[string][]string{}}
	for _, sc := range strings.Fields(raw) {
		if slices.Contains(oidcScopes, strings.ToLower(sc)) {
			ss.oidc = append(ss.oidc, strings.ToLower(sc))
			continue
		}
		res, name := resourceGraph, sc
		if i := strings.LastIndex(sc, "/"); i > 0 && (strings.Contains(sc, "://") || isGUID(sc[:i])) {
			res, name = normResource(sc[:i]), sc[i+1:]
			if res == "" || name == "" {
				return nil, errInvalidScope(sc)
			}
		}
		if _, ok := ss.perms[res]; !ok {
			ss.order = append(ss.order, res)
		}
		ss.perms[res] = append(ss.perms[res], name)
	}
	return ss, nil
}

func normResource(r string) string {
	switch strings.TrimRight(strings.ToLower(r), "/") {
	case resourceGraph, graphAppID, "https://graph.microsoft.com/v1.0":
		return resourceGraph
	case resourceOutlook, "https://outlook.office.com", outlookAppID:
		return resourceOutlook
	}
	return ""
}

// qualify gives a permission its resource prefix as configured scopes are
// compared: Graph permissions are stored bare, others with resource URI.
func qualify(resource, perm string) string {
	if resource == resourceGraph {
		return strings.ToLower(perm)
	}
	return strings.ToLower(resource + "/" + perm)
}

// configuredFor lists the app's configured delegated permissions of a resource.
func (a *appState) configuredFor(resource string) []string {
	var out []string
	for _, sc := range a.DelegatedScopes {
		if slices.Contains(oidcScopes, strings.ToLower(sc)) {
			continue
		}
		res, name := resourceGraph, sc
		if strings.Contains(sc, "://") {
			i := strings.LastIndex(sc, "/")
			res, name = normResource(sc[:i]), sc[i+1:]
		}
		if res == resource {
			out = append(out, name)
		}
	}
	return out
}

// granted lists the delegated permissions of a resource that the user (or an
// admin for everyone) consented to. Caller holds s.mu.
func (a *appState) granted(u *userState, resource string) []string {
	set := map[string]string{}
	if a.AdminConsent {
		for _, p := range a.configuredFor(resource) {
			set[strings.ToLower(p)] = p
		}
	}
	for q := range a.consents[u.ID] {
		res, name := resourceGraph, q
		if strings.Contains(q, "://") {
			i := strings.LastIndex(q, "/")
			res, name = q[:i], q[i+1:]
		}
		if res == resource {
			if _, ok := set[name]; !ok {
				set[name] = canonicalPerm(a, resource, name)
			}
		}
	}
	out := make([]string, 0, len(set))
	for _, v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func canonicalPerm(a *appState, resource, lower string) string {
	for _, p := range a.configuredFor(resource) {
		if strings.EqualFold(p, lower) {
			return p
		}
	}
	return lower
}

// missingConsent returns the requested permissions that are not granted.
func (a *appState) missingConsent(u *userState, ss *scopeSet) []string {
	var missing []string
	for res, perms := range ss.perms {
		have := a.granted(u, res)
		for _, p := range perms {
			if p == ".default" {
				if len(have) == 0 && len(a.configuredFor(res)) > 0 {
					for _, c := range a.configuredFor(res) {
						missing = append(missing, qualify(res, c))
					}
				}
				continue
			}
			if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, p) }) {
				missing = append(missing, qualify(res, p))
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// grantConsent records a user's consent. Caller holds s.mu.
func (a *appState) grantConsent(u *userState, perms []string) {
	if a.consents[u.ID] == nil {
		a.consents[u.ID] = map[string]bool{}
	}
	for _, p := range perms {
		a.consents[u.ID][strings.ToLower(p)] = true
	}
}

// checkSecret authenticates a confidential client. Caller holds s.mu.
func (s *Server) checkSecret(a *appState, secret string) *entraErr {
	if secret == "" {
		if a.PublicClient {
			return nil
		}
		return errSecretMissing()
	}
	if a.PublicClient {
		return errPublicClientCredential()
	}
	for _, sec := range a.Secrets {
		if subtle.ConstantTimeCompare([]byte(sec.Value), []byte(secret)) == 1 {
			if !sec.Expires.IsZero() && !s.now().Before(sec.Expires) {
				return errExpiredSecret(a.ClientID)
			}
			return nil
		}
	}
	return errInvalidSecret(a.ClientID)
}

// redirectAllowed applies Entra's matching rules: exact match, except that
// for http://localhost and http://127.0.0.1 the port is ignored (the path
// must still match exactly).
func (a *appState) redirectAllowed(uri string) bool {
	got, err := url.Parse(uri)
	if err != nil || got.Fragment != "" {
		return false
	}
	for _, reg := range a.RedirectURIs {
		if reg == uri {
			return true
		}
		want, err := url.Parse(reg)
		if err != nil {
			continue
		}
		loop := func(u *url.URL) bool {
			return u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1")
		}
		if loop(got) && loop(want) && got.Hostname() == want.Hostname() &&
			got.EscapedPath() == want.EscapedPath() && got.RawQuery == want.RawQuery {
			return true
		}
	}
	return false
}

type authCode struct {
	clientID, redirectURI, userID, tenantID string
	challenge, method, nonce                string
	scopes                                  *scopeSet
	expires                                 time.Time
	redeemed                                bool
}

type refreshToken struct {
	clientID, userID, tenantID string
	issued, lastUsed           time.Time
	scope                      string // scopes of the original grant, used when a refresh names none
}

// tokenResponse is the success body of the token endpoint.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeEntraError(w, r, errMalformedGrant())
		return
	}
	resp, e := s.token(r)
	if e != nil {
		s.writeEntraError(w, r, e)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(resp)
}

func (s *Server) token(r *http.Request) (*tokenResponse, *entraErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tenant := r.PathValue("tenant")
	t := s.lookupTenant(tenant)
	clientID, secret, basic := r.BasicAuth()
	if t == nil {
		if a := s.appAnywhere(r.PostForm.Get("client_id")); a != nil && isMultiTenantAlias(tenant) {
			return nil, errSingleTenantCommon(a.ClientID, a.DisplayName)
		}
		return nil, errTenantNotFound(tenant)
	}
	if basic {
		clientID, _ = url.QueryUnescape(clientID)
		secret, _ = url.QueryUnescape(secret)
	} else {
		clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	grant := r.PostForm.Get("grant_type")
	if grant == "" {
		return nil, errMissingParam("grant_type")
	}
	if clientID == "" {
		return nil, errMissingParam("client_id")
	}
	a := t.apps[strings.ToLower(clientID)]
	if a == nil {
		return nil, errAppNotFound(clientID, t.ID)
	}
	if assertion := r.PostForm.Get("client_assertion"); assertion != "" || r.PostForm.Get("client_assertion_type") != "" {
		if t := r.PostForm.Get("client_assertion_type"); t != jwtBearer {
			return nil, errMissingParam("client_assertion_type")
		}
		if a.PublicClient {
			return nil, errPublicClientCredential()
		}
		if e := s.checkAssertion(r, a, assertion); e != nil {
			return nil, e
		}
	} else if e := s.checkSecret(a, secret); e != nil {
		return nil, e
	} else if secret == "" && grant == "client_credentials" {
		// application permissions need a credential, also for a public client
		return nil, errSecretMissing()
	}
	switch grant {
	case "authorization_code":
		return s.redeemCode(a, r.PostForm)
	case "refresh_token":
		return s.redeemRefresh(a, r.PostForm)
	case "client_credentials":
		return s.clientCredentials(a, r.PostForm.Get("scope"))
	default:
		return nil, errUnsupportedGrant(grant)
	}
}

func (s *Server) redeemCode(a *appState, f url.Values) (*tokenResponse, *entraErr) {
	raw := f.Get("code")
	if raw == "" {
		return nil, errMissingParam("code")
	}
	c := s.codes[raw]
	if c == nil || !strings.EqualFold(c.clientID, a.ClientID) {
		return nil, errMalformedGrant()
	}
	if c.redeemed {
		return nil, errCodeRedeemed()
	}
	if !s.now().Before(c.expires) {
		return nil, errCodeExpired()
	}
	if got := f.Get("redirect_uri"); got != c.redirectURI {
		return nil, errReplyAddressMismatch(got, c.redirectURI)
	}
	if c.challenge != "" {
		v := f.Get("code_verifier")
		if v == "" {
			return nil, errPKCEMissing()
		}
		calc := v
		if c.method == "S256" {
			sum := sha256.Sum256([]byte(v))
			calc = base64.RawURLEncoding.EncodeToString(sum[:])
		}
		if subtle.ConstantTimeCompare([]byte(calc), []byte(c.challenge)) != 1 {
			return nil, errPKCEMismatch()
		}
	}
	ss := c.scopes
	if sc := f.Get("scope"); sc != "" {
		var e *entraErr
		if ss, e = parseScopes(s.canonScopes(sc)); e != nil {
			return nil, e
		}
		if len(ss.order) > 1 {
			return nil, errMultiResource(sc)
		}
	}
	c.redeemed = true
	u := s.lookupUser(c.userID)
	if u == nil {
		return nil, errMalformedGrant()
	}
	return s.issueDelegated(a, u, ss, c.nonce, true)
}

func (s *Server) redeemRefresh(a *appState, f url.Values) (*tokenResponse, *entraErr) {
	raw := f.Get("refresh_token")
	if raw == "" {
		return nil, errMissingParam("refresh_token")
	}
	rt := s.refresh[raw]
	if rt == nil || !strings.EqualFold(rt.clientID, a.ClientID) {
		return nil, errMalformedGrant()
	}
	now := s.now()
	inactivity := time.Duration(s.cfg.RefreshTokenInactivity)
	if idle := now.Sub(rt.lastUsed); idle > inactivity {
		return nil, errRefreshInactive(rt.issued, idle)
	}
	u := s.lookupUser(rt.userID)
	if u == nil {
		return nil, errMalformedGrant()
	}
	if !u.revokedBefore.IsZero() && !rt.issued.After(u.revokedBefore) {
		return nil, errRefreshRevoked()
	}
	scope := f.Get("scope")
	if scope == "" {
		scope = rt.scope
	}
	ss, e := parseScopes(s.canonScopes(scope))
	if e != nil {
		return nil, e
	}
	if len(ss.perms) == 0 {
		ss.perms[resourceGraph] = []string{".default"}
		ss.order = []string{resourceGraph}
	}
	if len(a.missingConsent(u, ss)) > 0 {
		return nil, errConsentMissing(a.ClientID, a.DisplayName)
	}
	rt.lastUsed = now
	return s.issueDelegated(a, u, ss, "", false)
}

// issueDelegated makes access, refresh and id token for a user. Caller holds s.mu.
func (s *Server) issueDelegated(a *appState, u *userState, ss *scopeSet, nonce string, fromCode bool) (*tokenResponse, *entraErr) {
	if len(ss.order) > 1 && !fromCode {
		return nil, errMultiResource(scopeString(ss))
	}
	resource := resourceGraph
	if len(ss.order) > 0 {
		resource = ss.order[0]
	}
	granted := a.granted(u, resource)
	now := s.now()
	life := time.Duration(s.cfg.AccessTokenLifetime)
	claims := s.baseClaims(u.tenant, a, resource, now, life)
	claims["idtyp"] = "user"
	claims["oid"] = u.ID
	claims["sub"] = s.subject(u.ID, a.ClientID)
	claims["upn"] = u.UPN
	claims["unique_name"] = u.UPN
	claims["preferred_username"] = u.UPN
	claims["name"] = u.DisplayName
	claims["given_name"] = u.GivenName
	claims["family_name"] = u.Surname
	claims["scp"] = strings.Join(granted, " ")
	claims["amr"] = []string{"pwd"}
	at, err := s.signer.sign(claims)
	if err != nil {
		return nil, errMalformedGrant()
	}
	resp := &tokenResponse{TokenType: "Bearer", ExpiresIn: int(life.Seconds()), ExtExpiresIn: int(life.Seconds()), AccessToken: at}
	scopes := make([]string, 0, len(granted)+2)
	for _, g := range granted {
		if resource == resourceGraph {
			scopes = append(scopes, resourceGraph+"/"+g)
		} else {
			scopes = append(scopes, resource+"/"+g)
		}
	}
	if slices.Contains(ss.oidc, "openid") {
		scopes = append([]string{"openid", "profile"}, scopes...)
		if slices.Contains(ss.oidc, "email") {
			scopes = append(scopes, "email")
		}
		id := map[string]any{
			"aud": a.ClientID, "iss": s.httpURL + "/" + u.tenant.ID + "/v2.0",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"name": u.DisplayName, "oid": u.ID, "preferred_username": u.UPN,
			"sub": s.subject(u.ID, a.ClientID), "tid": u.tenant.ID, "ver": "2.0",
			"rh": "0.m365sim", "uti": s.newOpaque("", 16),
		}
		if nonce != "" {
			id["nonce"] = nonce
		}
		if slices.Contains(ss.oidc, "email") {
			id["email"] = u.Mail
		}
		if resp.IDToken, err = s.signer.sign(id); err != nil {
			return nil, errMalformedGrant()
		}
	}
	if slices.Contains(ss.oidc, "offline_access") || !fromCode {
		raw := s.newOpaque("1.AQ0Am365sim", 96)
		s.refresh[raw] = &refreshToken{clientID: a.ClientID, userID: u.ID, tenantID: u.tenant.ID, issued: now, lastUsed: now, scope: scopeString(ss)}
		resp.RefreshToken = raw
		scopes = append(scopes, "offline_access")
	}
	resp.Scope = strings.Join(scopes, " ")
	s.issued = append(s.issued, resp.AccessToken, resp.RefreshToken, resp.IDToken)
	return resp, nil
}

func (s *Server) clientCredentials(a *appState, scope string) (*tokenResponse, *entraErr) {
	if scope == "" {
		return nil, errMissingParam("scope")
	}
	fields := strings.Fields(s.canonScopes(scope))
	if len(fields) != 1 || !strings.HasSuffix(fields[0], "/.default") {
		return nil, errClientCredentialsScope(scope)
	}
	resource := normResource(strings.TrimSuffix(fields[0], "/.default"))
	if resource == "" {
		return nil, errInvalidScope(scope)
	}
	now := s.now()
	life := time.Duration(s.cfg.AccessTokenLifetime)
	claims := s.baseClaims(a.tenant, a, resource, now, life)
	claims["idtyp"] = "app"
	spID := s.servicePrincipalID(a)
	claims["oid"] = spID
	claims["sub"] = spID
	if a.AdminConsent {
		var roles []string
		for _, r := range a.AppRoles {
			res, name := resourceGraph, r
			if strings.Contains(r, "://") {
				i := strings.LastIndex(r, "/")
				res, name = normResource(r[:i]), r[i+1:]
			}
			if res == resource {
				roles = append(roles, name)
			}
		}
		if len(roles) > 0 {
			sort.Strings(roles)
			claims["roles"] = roles
		}
	}
	at, err := s.signer.sign(claims)
	if err != nil {
		return nil, errMalformedGrant()
	}
	s.issued = append(s.issued, at)
	return &tokenResponse{TokenType: "Bearer", ExpiresIn: int(life.Seconds()), ExtExpiresIn: int(life.Seconds()), AccessToken: at}, nil
}

// baseClaims are the claims shared by user and app tokens. Graph and
// Outlook issue v1.0 access tokens (iss sts.windows.net style).
func (s *Server) baseClaims(t *tenantState, a *appState, resource string, now time.Time, life time.Duration) map[string]any {
	return map[string]any{
		"aud":                 resource,
		"iss":                 s.httpURL + "/" + t.ID + "/",
		"iat":                 now.Unix(),
		"nbf":                 now.Unix(),
		"exp":                 now.Add(life).Unix(),
		"appid":               a.ClientID,
		"app_displayname":     a.DisplayName,
		"appidacr":            "1",
		"tid":                 t.ID,
		"ver":                 "1.0",
		"uti":                 s.newOpaque("", 16),
		"rh":                  "0.m365sim",
		"xms_tcdt":            1600000000,
		"tenant_region_scope": "EU",
	}
}

func (s *Server) servicePrincipalID(a *appState) string {
	sum := sha256.Sum256([]byte("sp:" + a.ClientID))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatGUID(b)
}

func (s *Server) subject(userID, clientID string) string {
	sum := sha256.Sum256([]byte(userID + "|" + clientID))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:43]
}

func scopeString(ss *scopeSet) string {
	var parts []string
	for _, res := range ss.order {
		for _, p := range ss.perms[res] {
			parts = append(parts, res+"/"+p)
		}
	}
	return strings.Join(parts, " ")
}

// isMultiTenantAlias reports the authorities that are not one tenant.
func isMultiTenantAlias(tenant string) bool {
	switch strings.ToLower(tenant) {
	case "common", "organizations", "consumers":
		return true
	}
	return false
}

// appAnywhere finds an app registration in any tenant. Caller holds s.mu.
func (s *Server) appAnywhere(clientID string) *appState {
	for _, t := range s.tenants {
		if a := t.apps[strings.ToLower(clientID)]; a != nil {
			return a
		}
	}
	return nil
}

// canonScopes lets the emulator's own address stand for Graph's resource,
// so that a client configured with the emulator as its Graph endpoint asks
// for scopes the way it asks https://graph.microsoft.com in the field.
func (s *Server) canonScopes(raw string) string {
	if s.httpURL == "" {
		return raw
	}
	return strings.ReplaceAll(raw, s.httpURL+"/", resourceGraph+"/")
}
