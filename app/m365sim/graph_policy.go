package m365sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Tenant app-management policies, as far as they restrict client secrets
// ("Microsoft Entra application management policies", the Graph resources
// tenantAppManagementPolicy and passwordCredentialConfiguration): with the
// restriction passwordAddition no new client secret can be added to an app
// registration — neither in the portal nor with addPassword — and with
// passwordLifetime none for longer than maxLifetime. The policy governs the
// adding: a secret that exists keeps signing in until it expires, so a firm
// whose tenant forbids secrets cannot renew the one it has and must move to
// a certificate. Adding a secret against the policy answers 400
// CredentialTypeNotAllowedAsPerAppPolicy (the code Graph returns for it;
// Microsoft's reference pages name no code, the emulator uses this one).
// GET /policies/defaultAppManagementPolicy needs Policy.Read.All (or
// Policy.Read.ApplicationConfiguration); an app registration usually has
// neither.

// AppManagementPolicy is the tenant's default app management policy as
// far as client secrets go.
type AppManagementPolicy struct {
	// BlockPasswordAddition is the restriction passwordAddition: no new client secrets.
	BlockPasswordAddition bool `json:"blockPasswordAddition,omitempty"`
	// MaxPasswordLifetime is the restriction passwordLifetime (0: none).
	MaxPasswordLifetime Duration `json:"maxPasswordLifetime,omitempty"`
}

// errPolicyForbidsSecret is Graph's answer to a secret the policy forbids.
func errPolicyForbidsSecret(why string) *graphError {
	return &graphError{status: 400, code: "CredentialTypeNotAllowedAsPerAppPolicy", message: "Credential type not allowed as per assigned policy. " + why}
}

// AddSecret adds a client secret to the registration clientID as the Azure
// portal's "New client secret" does (lifetime 0: Microsoft's recommended
// 180 days) and returns it with its value, shown once. The tenant's
// app-management policy may refuse it. Caller must not hold s.mu.
func (s *Server) AddSecret(clientID string, lifetime time.Duration) (Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tenants {
		if a := t.apps[strings.ToLower(clientID)]; a != nil {
			sec, e := s.addSecret(a, lifetime)
			if e != nil {
				return Secret{}, e
			}
			return sec, nil
		}
	}
	return Secret{}, fmt.Errorf("unknown app %q", clientID)
}

// addSecret checks the tenant policy and adds a secret. Caller holds s.mu.
func (s *Server) addSecret(a *appState, lifetime time.Duration) (Secret, *graphError) {
	if lifetime <= 0 {
		lifetime = 180 * 24 * time.Hour
	}
	if p := a.tenant.AppPolicy; p != nil {
		if p.BlockPasswordAddition {
			return Secret{}, errPolicyForbidsSecret("Password addition is restricted by the tenant's default app management policy (restrictionType passwordAddition).")
		}
		if limit := time.Duration(p.MaxPasswordLifetime); limit > 0 && lifetime > limit {
			return Secret{}, errPolicyForbidsSecret(fmt.Sprintf("The password lifetime exceeds the maximum of %s allowed by the tenant's default app management policy (restrictionType passwordLifetime).", isoDuration(limit)))
		}
	}
	value := fmt.Sprintf("%s~%s", s.newGUID()[:3], strings.ReplaceAll(s.newGUID()+s.newGUID()[:4], "-", "."))
	sec := Secret{KeyID: s.newGUID(), Value: value, Hint: value[:3], Expires: s.now().Add(lifetime).UTC()}
	a.Secrets = append(a.Secrets, sec)
	return sec, nil
}

// isoDuration writes d as ISO 8601 in days (P90D) or hours.
func isoDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("P%dD", int(d/(24*time.Hour)))
	}
	return fmt.Sprintf("PT%dH", int(d/time.Hour))
}

// addPassword answers POST /applications/{id}/addPassword (Graph): the
// app adds a secret to a registration it may write.
func (s *Server) addPassword(req *greq, c *caller, a *appState) *gresp {
	if !c.has("Application.ReadWrite.All", "Application.ReadWrite.OwnedBy") {
		return errResp(&graphError{status: 403, code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation."})
	}
	var body struct {
		PasswordCredential struct {
			DisplayName string    `json:"displayName"`
			EndDateTime time.Time `json:"endDateTime"`
		} `json:"passwordCredential"`
	}
	if len(req.body) > 0 && json.Unmarshal(req.body, &body) != nil {
		return errResp(invalidRequest("Invalid JSON. A token was not recognized in the JSON content."))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lifetime := time.Duration(0)
	if !body.PasswordCredential.EndDateTime.IsZero() {
		lifetime = body.PasswordCredential.EndDateTime.Sub(s.now())
	}
	sec, e := s.addSecret(a, lifetime)
	if e != nil {
		return errResp(e)
	}
	return &gresp{status: 200, body: map[string]any{
		"@odata.context":      s.httpURL + "/v1.0/$metadata#microsoft.graph.passwordCredential",
		"customKeyIdentifier": nil, "displayName": body.PasswordCredential.DisplayName, "keyId": sec.KeyID, "hint": sec.Hint,
		"secretText": sec.Value, "startDateTime": s.now().UTC().Format(time.RFC3339), "endDateTime": sec.Expires.Format(time.RFC3339),
	}}
}

// isPolicyPath reports whether a Graph path addresses the tenant's default
// app-management policy.
func isPolicyPath(path string) bool {
	return strings.EqualFold(strings.Trim(path, "/"), "policies/defaultAppManagementPolicy")
}

// getAppPolicy answers GET /policies/defaultAppManagementPolicy.
func (s *Server) getAppPolicy(req *greq, c *caller) *gresp {
	if req.method != http.MethodGet {
		return errResp(methodNotAllowed())
	}
	if !c.has("Policy.Read.All", "Policy.Read.ApplicationConfiguration", "Policy.ReadWrite.ApplicationConfiguration") {
		return errResp(&graphError{status: 403, code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation."})
	}
	s.mu.Lock()
	p := c.app.tenant.AppPolicy
	s.mu.Unlock()
	restrictions := []map[string]any{}
	enabled := false
	if p != nil {
		since := "2019-01-01T00:00:00Z"
		if p.BlockPasswordAddition {
			enabled = true
			restrictions = append(restrictions, map[string]any{"restrictionType": "passwordAddition", "state": "enabled", "maxLifetime": nil, "restrictForAppsCreatedAfterDateTime": since})
		}
		if limit := time.Duration(p.MaxPasswordLifetime); limit > 0 {
			enabled = true
			restrictions = append(restrictions, map[string]any{"restrictionType": "passwordLifetime", "state": "enabled", "maxLifetime": isoDuration(limit), "restrictForAppsCreatedAfterDateTime": since})
		}
	}
	return &gresp{status: 200, body: map[string]any{
		"@odata.context": s.httpURL + "/v1.0/$metadata#policies/defaultAppManagementPolicy/$entity",
		"id":             "00000000-0000-0000-0000-000000000000", "displayName": "Default app management tenant policy",
		"description":                  "Default tenant policy that enforces app management restrictions on applications and service principals.",
		"isEnabled":                    enabled,
		"applicationRestrictions":      map[string]any{"passwordCredentials": restrictions, "keyCredentials": []any{}},
		"servicePrincipalRestrictions": map[string]any{"passwordCredentials": []any{}, "keyCredentials": []any{}},
	}}
}

// SetAppPolicy sets the default app-management policy of the tenant (id or
// domain); nil removes it.
func (s *Server) SetAppPolicy(tenant string, p *AppManagementPolicy) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tenants {
		if strings.EqualFold(t.ID, tenant) || containsFold(t.Domains, tenant) {
			t.AppPolicy = p
			return nil
		}
	}
	return fmt.Errorf("unknown tenant %q", tenant)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
