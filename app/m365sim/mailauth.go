package m365sim

import (
	"bytes"
	"encoding/base64"
	"strings"
)

// saslXOAUTH2 parses "user=…\x01auth=Bearer …\x01\x01".
func saslXOAUTH2(b64 string) (user, token string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return "", "", false
	}
	for _, f := range bytes.Split(raw, []byte{1}) {
		k, v, _ := strings.Cut(string(f), "=")
		switch k {
		case "user":
			user = v
		case "auth":
			if len(v) > 7 && strings.EqualFold(v[:7], "Bearer ") {
				token = v[7:]
			}
		}
	}
	return user, token, user != "" && token != ""
}

// saslOAUTHBEARER parses RFC 7628: "n,a=user,\x01host=…\x01port=…\x01auth=Bearer …\x01\x01".
func saslOAUTHBEARER(b64 string) (user, token string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return "", "", false
	}
	parts := bytes.Split(raw, []byte{1})
	gs2 := strings.Split(string(parts[0]), ",")
	for _, g := range gs2 {
		if strings.HasPrefix(g, "a=") {
			user = strings.ReplaceAll(strings.ReplaceAll(g[2:], "=2C", ","), "=3D", "=")
		}
	}
	for _, f := range parts[1:] {
		k, v, _ := strings.Cut(string(f), "=")
		if k == "auth" && len(v) > 7 && strings.EqualFold(v[:7], "Bearer ") {
			token = v[7:]
		}
	}
	return user, token, user != "" && token != ""
}

// mailAuthResult says why an XOAUTH2 login to POP or SMTP failed ("" when it succeeded).
type mailAuthResult struct {
	user   *userState
	reason string // for the request log; Exchange tells the client less
}

// checkMailToken validates a bearer token for POP3 or SMTP: signature,
// lifetime, audience outlook.office365.com, the permission, and that the
// SASL user is the token's user (delegated) or any mailbox (application).
func (s *Server) checkMailToken(saslUser, token, delegatedScope, appRole string) mailAuthResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	claims, err := s.signer.verify(token, s.now())
	if err != nil {
		return mailAuthResult{reason: err.Error()}
	}
	if normResource(claimString(claims, "aud")) != resourceOutlook {
		return mailAuthResult{reason: "token audience is not https://outlook.office365.com"}
	}
	u := s.lookupUser(saslUser)
	if u == nil {
		return mailAuthResult{reason: "unknown mailbox " + saslUser}
	}
	if claimString(claims, "idtyp") == "app" {
		roles, _ := claims["roles"].([]any)
		for _, r := range roles {
			if rs, _ := r.(string); strings.EqualFold(rs, appRole) {
				return mailAuthResult{user: u}
			}
		}
		return mailAuthResult{reason: "application token lacks role " + appRole}
	}
	if !strings.EqualFold(claimString(claims, "oid"), u.ID) {
		return mailAuthResult{reason: "SASL user does not match the token's user"}
	}
	for _, sc := range strings.Fields(claimString(claims, "scp")) {
		if strings.EqualFold(sc, delegatedScope) {
			return mailAuthResult{user: u}
		}
	}
	return mailAuthResult{reason: "token lacks scope " + delegatedScope}
}
