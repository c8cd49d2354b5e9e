package m365sim_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
)

const anna = "anna.mueller@kanzlei.example"

// claims decodes a JWT's payload without checking it.
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// verifyWithJWKS checks a JWT's RS256 signature against the published keys.
func verifyWithJWKS(t *testing.T, srv *m365sim.Server, jwt string) {
	t.Helper()
	resp, err := http.Get(srv.AuthorityURL(m365sim.DemoTenantDomain) + "/discovery/v2.0/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jwks struct {
		Keys []struct{ Kid, N, E, Kty string } `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jwt, ".")
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr struct{ Kid, Alg string }
	_ = json.Unmarshal(hb, &hdr)
	for _, k := range jwks.Keys {
		if k.Kid != hdr.Kid {
			continue
		}
		n, _ := base64.RawURLEncoding.DecodeString(k.N)
		e, _ := base64.RawURLEncoding.DecodeString(k.E)
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			t.Fatalf("signature does not verify with the published key: %v", err)
		}
		if hdr.Alg != "RS256" {
			t.Fatalf("alg = %q, want RS256", hdr.Alg)
		}
		return
	}
	t.Fatalf("kid %q not in the keys document", hdr.Kid)
}

func TestAuthorizationCodeFlowWithPKCE(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	tok := simtest.SignIn(t, srv, anna, "openid", "profile", "offline_access", "Calendars.ReadWrite", "Mail.Send")
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token although offline_access was asked for")
	}
	idTok, _ := tok.Extra("id_token").(string)
	if idTok == "" {
		t.Fatal("no id_token although openid was asked for")
	}
	verifyWithJWKS(t, srv, tok.AccessToken)
	verifyWithJWKS(t, srv, idTok)
	c := claims(t, tok.AccessToken)
	for claim, want := range map[string]string{
		"aud": "https://graph.microsoft.com", "tid": m365sim.DemoTenantID, "upn": anna, "preferred_username": anna,
		"appid": m365sim.DemoClientID, "ver": "1.0", "idtyp": "user", "oid": "0a1b2c3d-0000-4000-8000-000000000001",
		"iss": srv.URL() + "/" + m365sim.DemoTenantID + "/",
	} {
		if got, _ := c[claim].(string); got != want {
			t.Errorf("access token %s = %q, want %q", claim, got, want)
		}
	}
	scp := strings.Fields(c["scp"].(string))
	for _, want := range []string{"Calendars.ReadWrite", "Mail.Send", "Contacts.ReadWrite"} {
		if !slices.Contains(scp, want) {
			t.Errorf("scp %v lacks %s (tokens carry every consented permission of the resource)", scp, want)
		}
	}
	for _, k := range []string{"iat", "nbf", "exp"} {
		if _, ok := c[k].(float64); !ok {
			t.Errorf("claim %s missing", k)
		}
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 3599 {
		t.Errorf("lifetime = %v s, want 3599", exp-iat)
	}
	id := claims(t, idTok)
	if id["preferred_username"] != anna || id["aud"] != m365sim.DemoClientID || id["ver"] != "2.0" {
		t.Errorf("id_token claims = %v", id)
	}
}

func TestRefreshRotatesAndReachesOtherResource(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	tok := simtest.SignIn(t, srv, anna)
	srv.Advance(2 * time.Hour)                // the access token has expired …
	tok.Expiry = time.Now().Add(-time.Minute) // … which x/oauth2 learns from its own clock
	ts := simtest.OAuthConfig(srv, "https://graph.microsoft.com/.default", "offline_access").TokenSource(context.Background(), tok)
	fresh, err := ts.Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken || fresh.RefreshToken == "" {
		t.Fatal("refresh did not return a new access and a new (rotated) refresh token")
	}
	// The same refresh token buys a token for Exchange's POP/SMTP resource
	// when the request names that scope (x/oauth2's refresh sends no scope,
	// so a client must post this itself).
	st, body := postTokenOK(t, srv, url.Values{"grant_type": {"refresh_token"}, "client_id": {m365sim.DemoClientID},
		"client_secret": {m365sim.DemoClientSecret}, "refresh_token": {fresh.RefreshToken},
		"scope": {"https://outlook.office365.com/.default offline_access"}})
	if st != 200 {
		t.Fatalf("refresh for outlook.office365.com: %d %v", st, body)
	}
	c := claims(t, body["access_token"].(string))
	if c["aud"] != "https://outlook.office365.com" {
		t.Errorf("aud = %v, want https://outlook.office365.com", c["aud"])
	}
	scp := strings.Fields(c["scp"].(string))
	if !slices.Contains(scp, "POP.AccessAsUser.All") || !slices.Contains(scp, "SMTP.Send") || slices.Contains(scp, "Mail.Send") {
		t.Errorf("outlook scp = %v, want POP.AccessAsUser.All and SMTP.Send only", scp)
	}
}

func TestClientCredentialsGivesConsentedRoles(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	tok := simtest.AppToken(t, srv, "https://graph.microsoft.com")
	c := claims(t, tok)
	roles := c["roles"].([]any)
	if len(roles) != 6 || c["idtyp"] != "app" || c["scp"] != nil {
		t.Errorf("app token roles=%v idtyp=%v scp=%v", roles, c["idtyp"], c["scp"])
	}
	// Without admin consent the token carries no roles (Graph then refuses).
	if err := srv.PatchApp(m365sim.DemoClientID, m365sim.AppPatch{AdminConsent: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	c = claims(t, simtest.AppToken(t, srv, "https://graph.microsoft.com"))
	if _, ok := c["roles"]; ok {
		t.Errorf("roles without admin consent: %v", c["roles"])
	}
}

func ptr[T any](v T) *T { return &v }

func TestClientCredentialsWithXOAuth2(t *testing.T) {
	tf := m365sim.DemoTenant(time.Now())
	tf.AccessTokenLifetime = m365sim.Duration(10 * time.Minute)
	srv := simtest.Start(t, tf, m365sim.Options{})
	cfg := clientcredentials.Config{ClientID: m365sim.DemoClientID, ClientSecret: m365sim.DemoClientSecret,
		TokenURL: srv.AuthorityURL(m365sim.DemoTenantDomain) + "/oauth2/v2.0/token", Scopes: []string{"https://graph.microsoft.com/.default"}}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	c := claims(t, tok.AccessToken)
	if c["exp"].(float64)-c["iat"].(float64) != 600 {
		t.Errorf("configured lifetime 10 min, token lives %v s", c["exp"].(float64)-c["iat"].(float64))
	}
	if until := time.Until(tok.Expiry); until < 9*time.Minute || until > 11*time.Minute {
		t.Errorf("expires_in gives %v", until)
	}
	cfg.ClientSecret = "falsch"
	_, err = cfg.Token(context.Background())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Errorf("wrong secret through x/oauth2: %v", err)
	}
}

// entraError is the JSON error body of the token endpoint.
type entraError struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	ErrorCodes    []int  `json:"error_codes"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	ErrorURI      string `json:"error_uri"`
}

func postToken(t *testing.T, srv *m365sim.Server, tenant string, form url.Values) (int, entraError) {
	t.Helper()
	resp, err := http.PostForm(srv.AuthorityURL(tenant)+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e entraError
	body, _ := io.ReadAll(resp.Body)
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if resp.StatusCode != 200 {
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("error body has an unexpected shape: %v: %s", err, body)
		}
	}
	return resp.StatusCode, e
}

func checkEntraError(t *testing.T, status int, e entraError, wantStatus, wantCode int, wantErr string) {
	t.Helper()
	if status != wantStatus || e.Error != wantErr || len(e.ErrorCodes) != 1 || e.ErrorCodes[0] != wantCode {
		t.Fatalf("got %d %s %v, want %d %s [%d]: %s", status, e.Error, e.ErrorCodes, wantStatus, wantErr, wantCode, e.Description)
	}
	prefix := "AADSTS" + itoa(wantCode) + ": "
	if !strings.HasPrefix(e.Description, prefix) {
		t.Errorf("error_description %q does not start with %q", e.Description, prefix)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`).MatchString(e.Timestamp) {
		t.Errorf("timestamp %q not in Entra's format", e.Timestamp)
	}
	guid := regexp.MustCompile(`^[0-9a-f-]{36}$`)
	if !guid.MatchString(e.TraceID) || !guid.MatchString(e.CorrelationID) {
		t.Errorf("trace_id %q / correlation_id %q are not GUIDs", e.TraceID, e.CorrelationID)
	}
	if e.ErrorURI != "https://login.microsoftonline.com/error?code="+itoa(wantCode) {
		t.Errorf("error_uri = %q", e.ErrorURI)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// codeFor runs the authorize leg and returns a fresh code and its verifier.
func codeFor(t *testing.T, srv *m365sim.Server, upn string) (code, verifier string) {
	t.Helper()
	cfg := simtest.OAuthConfig(srv, "openid", "offline_access", "Calendars.ReadWrite")
	verifier = oauth2.GenerateVerifier()
	q, err := simtest.NewBrowser().SignIn(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), upn, m365sim.DemoPassword)
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
	return q.Get("code"), verifier
}

func codeForm(code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {m365sim.DemoClientID},
		"client_secret": {m365sim.DemoClientSecret}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {m365sim.DemoRedirectURI}}
}

func TestTokenEndpointErrors(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	cc := func(mod func(url.Values)) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}, "client_id": {m365sim.DemoClientID},
			"client_secret": {m365sim.DemoClientSecret}, "scope": {"https://graph.microsoft.com/.default"}}
		mod(f)
		return f
	}
	t.Run("7000215 invalid secret", func(t *testing.T) {
		st, e := postToken(t, srv, m365sim.DemoTenantID, cc(func(f url.Values) { f.Set("client_secret", "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a") }))
		checkEntraError(t, st, e, 401, 7000215, "invalid_client")
	})
	t.Run("700016 unknown application", func(t *testing.T) {
		st, e := postToken(t, srv, m365sim.DemoTenantID, cc(func(f url.Values) { f.Set("client_id", "00000000-1111-2222-3333-444444444444") }))
		checkEntraError(t, st, e, 400, 700016, "unauthorized_client")
	})
	t.Run("90002 tenant not found", func(t *testing.T) {
		st, e := postToken(t, srv, "nirgendwo.onmicrosoft.com", cc(func(url.Values) {}))
		checkEntraError(t, st, e, 400, 90002, "invalid_tenant")
	})
	t.Run("50194 /common with a single-tenant app", func(t *testing.T) {
		st, e := postToken(t, srv, "common", cc(func(url.Values) {}))
		checkEntraError(t, st, e, 400, 50194, "invalid_request")
	})
	t.Run("tenant by domain", func(t *testing.T) {
		st, e := postToken(t, srv, m365sim.DemoTenantDomain, cc(func(url.Values) {}))
		if st != 200 {
			t.Fatalf("token by domain: %d %+v", st, e)
		}
	})
	t.Run("1002012 client credentials need .default", func(t *testing.T) {
		st, e := postToken(t, srv, m365sim.DemoTenantID, cc(func(f url.Values) { f.Set("scope", "Mail.Read") }))
		checkEntraError(t, st, e, 400, 1002012, "invalid_scope")
	})
	t.Run("54005 code already redeemed", func(t *testing.T) {
		code, v := codeFor(t, srv, anna)
		if st, e := postToken(t, srv, m365sim.DemoTenantID, codeForm(code, v)); st != 200 {
			t.Fatalf("first redemption: %d %+v", st, e)
		}
		st, e := postToken(t, srv, m365sim.DemoTenantID, codeForm(code, v))
		checkEntraError(t, st, e, 400, 54005, "invalid_grant")
	})
	t.Run("501481 PKCE verifier mismatch", func(t *testing.T) {
		code, _ := codeFor(t, srv, anna)
		st, e := postToken(t, srv, m365sim.DemoTenantID, codeForm(code, oauth2.GenerateVerifier()))
		checkEntraError(t, st, e, 400, 501481, "invalid_grant")
	})
	t.Run("70008 code older than 10 minutes", func(t *testing.T) {
		code, v := codeFor(t, srv, anna)
		srv.Advance(11 * time.Minute)
		st, e := postToken(t, srv, m365sim.DemoTenantID, codeForm(code, v))
		checkEntraError(t, st, e, 400, 70008, "invalid_grant")
	})
	t.Run("500112 redirect_uri differs from the authorize request", func(t *testing.T) {
		code, v := codeFor(t, srv, anna)
		f := codeForm(code, v)
		f.Set("redirect_uri", "http://localhost:50993/other/")
		st, e := postToken(t, srv, m365sim.DemoTenantID, f)
		checkEntraError(t, st, e, 400, 500112, "invalid_grant")
	})
	t.Run("70003 unsupported grant", func(t *testing.T) {
		st, e := postToken(t, srv, m365sim.DemoTenantID, cc(func(f url.Values) { f.Set("grant_type", "password") }))
		checkEntraError(t, st, e, 400, 70003, "unsupported_grant_type")
	})
	t.Run("7000218 secret missing", func(t *testing.T) {
		st, e := postToken(t, srv, m365sim.DemoTenantID, cc(func(f url.Values) { f.Del("client_secret") }))
		checkEntraError(t, st, e, 401, 7000218, "invalid_client")
	})
}

func TestRefreshTokenErrors(t *testing.T) {
	refresh := func(rt string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "client_id": {m365sim.DemoClientID},
			"client_secret": {m365sim.DemoClientSecret}, "refresh_token": {rt}, "scope": {"https://graph.microsoft.com/.default offline_access"}}
	}
	t.Run("700082 expired by inactivity", func(t *testing.T) {
		srv := simtest.Start(t, nil, m365sim.Options{})
		tok := simtest.SignIn(t, srv, anna)
		srv.Advance(91 * 24 * time.Hour)
		st, e := postToken(t, srv, m365sim.DemoTenantID, refresh(tok.RefreshToken))
		checkEntraError(t, st, e, 400, 700082, "invalid_grant")
	})
	t.Run("used within 90 days stays valid", func(t *testing.T) {
		srv := simtest.Start(t, nil, m365sim.Options{})
		tok := simtest.SignIn(t, srv, anna)
		srv.Advance(89 * 24 * time.Hour)
		if st, e := postToken(t, srv, m365sim.DemoTenantID, refresh(tok.RefreshToken)); st != 200 {
			t.Fatalf("refresh after 89 days: %d %+v", st, e)
		}
	})
	t.Run("65001 consent withdrawn", func(t *testing.T) {
		srv := simtest.Start(t, nil, m365sim.Options{})
		tok := simtest.SignIn(t, srv, anna)
		if err := srv.PatchApp(m365sim.DemoClientID, m365sim.AppPatch{AdminConsent: ptr(false), WithdrawUserConsents: true}); err != nil {
			t.Fatal(err)
		}
		st, e := postToken(t, srv, m365sim.DemoTenantID, refresh(tok.RefreshToken))
		checkEntraError(t, st, e, 400, 65001, "invalid_grant")
	})
	t.Run("7000222 expired secret", func(t *testing.T) {
		srv := simtest.Start(t, nil, m365sim.Options{})
		tok := simtest.SignIn(t, srv, anna)
		if err := srv.PatchApp(m365sim.DemoClientID, m365sim.AppPatch{SecretExpires: ptr(srv.Now().Add(-time.Hour))}); err != nil {
			t.Fatal(err)
		}
		st, e := postToken(t, srv, m365sim.DemoTenantID, refresh(tok.RefreshToken))
		checkEntraError(t, st, e, 401, 7000222, "invalid_client")
	})
	t.Run("50173 revoked", func(t *testing.T) {
		srv := simtest.Start(t, nil, m365sim.Options{})
		tok := simtest.SignIn(t, srv, anna)
		srv.Advance(time.Second)
		if err := srv.PatchUser(anna, m365sim.UserPatch{RevokeSignIns: true}); err != nil {
			t.Fatal(err)
		}
		st, e := postToken(t, srv, m365sim.DemoTenantID, refresh(tok.RefreshToken))
		checkEntraError(t, st, e, 400, 50173, "invalid_grant")
	})
	t.Run("x/oauth2 reports the Entra error", func(t *testing.T) {
		srv := simtest.Start(t, nil, m365sim.Options{})
		tok := simtest.SignIn(t, srv, anna)
		srv.Advance(91 * 24 * time.Hour)
		_, err := simtest.OAuthConfig(srv).TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || !strings.Contains(re.ErrorDescription, "AADSTS700082") {
			t.Fatalf("err = %v, want RetrieveError invalid_grant AADSTS700082", err)
		}
	})
}

func authorizeURL(srv *m365sim.Server, params map[string]string) string {
	v := url.Values{"client_id": {m365sim.DemoClientID}, "response_type": {"code"}, "redirect_uri": {m365sim.DemoRedirectURI},
		"scope": {"openid offline_access Calendars.ReadWrite"}, "state": {"xyz"}}
	for k, val := range params {
		if val == "" {
			v.Del(k)
		} else {
			v.Set(k, val)
		}
	}
	return srv.AuthorityURL(m365sim.DemoTenantID) + "/oauth2/v2.0/authorize?" + v.Encode()
}

func TestAuthorizePages(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	t.Run("50011 redirect URI mismatch shows an error page", func(t *testing.T) {
		p, err := simtest.NewBrowser().Get(authorizeURL(srv, map[string]string{"redirect_uri": "http://localhost:50993/authorize"}))
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != 400 || p.Location != "" || !strings.Contains(p.Body, "AADSTS50011") {
			t.Fatalf("status %d location %q body %.300s", p.Status, p.Location, p.Body)
		}
	})
	t.Run("localhost redirect on another port is accepted", func(t *testing.T) {
		q, err := simtest.NewBrowser().SignIn(authorizeURL(srv, map[string]string{"redirect_uri": "http://localhost:61234/authorize/"}), anna, m365sim.DemoPassword)
		if err != nil || q.Get("code") == "" || q.Get("state") != "xyz" {
			t.Fatalf("q=%v err=%v", q, err)
		}
	})
	t.Run("127.0.0.1 is not localhost", func(t *testing.T) {
		p, _ := simtest.NewBrowser().Get(authorizeURL(srv, map[string]string{"redirect_uri": "http://127.0.0.1:50993/authorize/"}))
		if p.Status != 400 || !strings.Contains(p.Body, "AADSTS50011") {
			t.Fatalf("status %d", p.Status)
		}
	})
	t.Run("90002 and 700016 on the authorize endpoint", func(t *testing.T) {
		p, _ := simtest.NewBrowser().Get(strings.Replace(authorizeURL(srv, nil), m365sim.DemoTenantID, "unbekannt.example", 1))
		if p.Status != 400 || !strings.Contains(p.Body, "AADSTS90002") {
			t.Fatalf("unknown tenant: %d %.200s", p.Status, p.Body)
		}
		p, _ = simtest.NewBrowser().Get(authorizeURL(srv, map[string]string{"client_id": "00000000-1111-2222-3333-444444444444"}))
		if p.Status != 400 || !strings.Contains(p.Body, "AADSTS700016") {
			t.Fatalf("unknown app: %d %.200s", p.Status, p.Body)
		}
	})
	t.Run("50126 wrong password and 50034 unknown user stay on the page", func(t *testing.T) {
		b := simtest.NewBrowser()
		p, _ := b.Get(authorizeURL(srv, map[string]string{"login_hint": anna}))
		if !strings.Contains(p.Body, `value="`+anna+`"`) {
			t.Error("login_hint does not pre-fill the user name")
		}
		p, _ = b.Submit(p, url.Values{"loginfmt": {anna}, "passwd": {"falsch"}})
		if p.Location != "" || !strings.Contains(p.Body, "AADSTS50126") {
			t.Fatalf("wrong password: location %q body %.300s", p.Location, p.Body)
		}
		p, _ = b.Submit(p, url.Values{"loginfmt": {"niemand@kanzlei.example"}, "passwd": {"x"}})
		if p.Location != "" || !strings.Contains(p.Body, "AADSTS50034") {
			t.Fatalf("unknown user: location %q", p.Location)
		}
		p, _ = b.Submit(p, url.Values{"loginfmt": {anna}, "passwd": {m365sim.DemoPassword}})
		if !strings.Contains(p.Location, "code=") {
			t.Fatalf("after a correct password: %q %.200s", p.Location, p.Body)
		}
	})
	t.Run("select_account shows the signed-in accounts and another account", func(t *testing.T) {
		b := simtest.NewBrowser()
		if _, err := b.SignIn(authorizeURL(srv, nil), anna, m365sim.DemoPassword); err != nil {
			t.Fatal(err)
		}
		// without prompt the session is reused silently …
		p, _ := b.Get(authorizeURL(srv, nil))
		if !strings.Contains(p.Location, "code=") {
			t.Fatalf("single sign-on expected, got %d %.200s", p.Status, p.Body)
		}
		// … with select_account the person chooses
		p, _ = b.Get(authorizeURL(srv, map[string]string{"prompt": "select_account"}))
		if !strings.Contains(p.Body, `value="`+anna+`"`) || !strings.Contains(p.Body, `value="other"`) {
			t.Fatalf("account picker: %.400s", p.Body)
		}
		p, _ = b.Submit(p, url.Values{"account": {"other"}})
		if !strings.Contains(p.Body, `name="passwd"`) {
			t.Fatalf("another account should ask for a sign-in: %.300s", p.Body)
		}
	})
	t.Run("prompt=none without session gives login_required", func(t *testing.T) {
		p, _ := simtest.NewBrowser().Get(authorizeURL(srv, map[string]string{"prompt": "none"}))
		u, _ := url.Parse(p.Location)
		if u == nil || u.Query().Get("error") != "login_required" || !strings.Contains(u.Query().Get("error_description"), "AADSTS50058") {
			t.Fatalf("location %q", p.Location)
		}
	})
	t.Run("unsupported response_type is redirected as an error", func(t *testing.T) {
		p, _ := simtest.NewBrowser().Get(authorizeURL(srv, map[string]string{"response_type": "token"}))
		u, _ := url.Parse(p.Location)
		if u == nil || u.Query().Get("error") != "unsupported_response_type" || u.Query().Get("state") != "xyz" {
			t.Fatalf("location %q", p.Location)
		}
	})
}

func TestConsentPages(t *testing.T) {
	tf := m365sim.DemoTenant(time.Now())
	tf.Tenants[0].Apps[0].AdminConsent = false
	srv := simtest.Start(t, tf, m365sim.Options{})
	jens := "jens.schaefer@kanzlei.example"
	t.Run("65004 declined", func(t *testing.T) {
		b := simtest.NewBrowser()
		p, _ := b.Get(authorizeURL(srv, nil))
		p, _ = b.Submit(p, url.Values{"loginfmt": {jens}, "passwd": {m365sim.DemoPassword}})
		if !strings.Contains(p.Body, "Calendars.readwrite") && !strings.Contains(p.Body, "calendars.readwrite") {
			t.Fatalf("consent page should list the permission: %.500s", p.Body)
		}
		p, _ = b.Submit(p, url.Values{"accept": {"no"}})
		u, _ := url.Parse(p.Location)
		if u.Query().Get("error") != "access_denied" || !strings.Contains(u.Query().Get("error_description"), "AADSTS65004") {
			t.Fatalf("location %q", p.Location)
		}
	})
	t.Run("accepted consent gives a code, and is remembered", func(t *testing.T) {
		b := simtest.NewBrowser()
		q, err := b.SignIn(authorizeURL(srv, nil), jens, m365sim.DemoPassword)
		if err != nil || q.Get("code") == "" {
			t.Fatalf("q=%v err=%v", q, err)
		}
		p, _ := b.Get(authorizeURL(srv, nil))
		if !strings.Contains(p.Location, "code=") {
			t.Fatalf("consent asked again: %.300s", p.Body)
		}
	})
	t.Run("admin consent endpoint", func(t *testing.T) {
		v := url.Values{"client_id": {m365sim.DemoClientID}, "redirect_uri": {m365sim.DemoRedirectURI}, "state": {"a1"}}
		q, err := simtest.NewBrowser().SignIn(srv.AuthorityURL(m365sim.DemoTenantDomain)+"/adminconsent?"+v.Encode(), anna, m365sim.DemoPassword)
		if err != nil {
			t.Fatal(err)
		}
		if q.Get("admin_consent") != "True" || q.Get("tenant") != m365sim.DemoTenantID || q.Get("state") != "a1" {
			t.Fatalf("admin consent redirect: %v", q)
		}
		c := claims(t, simtest.AppToken(t, srv, "https://graph.microsoft.com"))
		if _, ok := c["roles"]; !ok {
			t.Fatal("no roles after admin consent")
		}
	})
	t.Run("a non-admin cannot grant admin consent", func(t *testing.T) {
		v := url.Values{"client_id": {m365sim.DemoClientID}, "redirect_uri": {m365sim.DemoRedirectURI}}
		b := simtest.NewBrowser()
		p, _ := b.Get(srv.AuthorityURL(m365sim.DemoTenantID) + "/adminconsent?" + v.Encode())
		p, _ = b.Submit(p, url.Values{"loginfmt": {jens}, "passwd": {m365sim.DemoPassword}})
		if p.Status != 400 || !strings.Contains(p.Body, "AADSTS90094") {
			t.Fatalf("status %d body %.300s", p.Status, p.Body)
		}
	})
}

func TestDiscoveryAndIntrospection(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	resp, err := http.Get(srv.AuthorityURL(m365sim.DemoTenantDomain) + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	base := srv.AuthorityURL(m365sim.DemoTenantID)
	for k, want := range map[string]string{"issuer": base + "/v2.0", "token_endpoint": base + "/oauth2/v2.0/token",
		"authorization_endpoint": base + "/oauth2/v2.0/authorize", "jwks_uri": base + "/discovery/v2.0/keys"} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %s", k, doc[k], want)
		}
	}
	tok := simtest.SignIn(t, srv, anna, "https://outlook.office365.com/POP.AccessAsUser.All", "offline_access")
	for _, tc := range []struct {
		token  string
		active bool
	}{{tok.AccessToken, true}, {"kein.gueltiges.token", false}} {
		resp, err := http.PostForm(srv.URL()+"/introspect", url.Values{"token": {tc.token}})
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if out["active"] != tc.active {
			t.Errorf("active = %v, want %v", out["active"], tc.active)
		}
		if tc.active && out["username"] != anna {
			t.Errorf("username = %v", out["username"])
		}
	}
}

func postTokenOK(t *testing.T, srv *m365sim.Server, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(srv.AuthorityURL(m365sim.DemoTenantID)+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestErrorCodesListsEveryCode(t *testing.T) {
	src, err := os.ReadFile("entra_errors.go")
	if err != nil {
		t.Fatal(err)
	}
	flow, _ := os.ReadFile("entra_flow.go")
	assertion, _ := os.ReadFile("entra_assertion.go")
	found := map[int]bool{}
	for _, m := range regexp.MustCompile(`&entraErr\{\d+, "[a-z_]+", (\d+)`).FindAllStringSubmatch(string(src)+string(flow)+string(assertion), -1) {
		n, _ := strconv.Atoi(m[1])
		found[n] = true
	}
	listed := map[int]bool{}
	for _, c := range m365sim.ErrorCodes() {
		listed[c] = true
	}
	for c := range found {
		if !listed[c] {
			t.Errorf("AADSTS%d is answered but not in ErrorCodes()", c)
		}
	}
	if len(found) != len(listed) {
		t.Errorf("ErrorCodes() has %d codes, the source %d", len(listed), len(found))
	}
}
