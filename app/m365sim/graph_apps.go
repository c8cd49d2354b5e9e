package m365sim

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The application object, as far as kanzleisync reads it: GET
// /applications(appId='{appId}') returns the registration with its
// passwordCredentials (keyId, hint = first three characters, start and end
// in UTC; never the secret's text). Microsoft's least privileged
// permission is Application.Read.All; an app registration may also read
// itself with Application.ReadWrite.OwnedBy. See
// https://learn.microsoft.com/graph/api/application-get and
// https://learn.microsoft.com/graph/api/resources/passwordcredential.

// isApplicationsPath reports whether a Graph path addresses /applications.
func isApplicationsPath(path string) bool {
	segs := splitPath(path)
	return len(segs) > 0 && (segs[0] == "applications" || strings.HasPrefix(segs[0], "applications("))
}

// getApplication answers GET /applications(appId='…') and /applications/{id}.
func (s *Server) getApplication(req *greq, c *caller) *gresp {
	if segs := splitPath(req.path); len(segs) == 3 && segs[0] == "applications" && strings.EqualFold(segs[2], "addPassword") {
		if req.method != http.MethodPost {
			return errResp(methodNotAllowed())
		}
		s.mu.Lock()
		var target *appState
		for _, a := range c.app.tenant.apps {
			if strings.EqualFold(appObjectID(a.App), segs[1]) {
				target = a
			}
		}
		s.mu.Unlock()
		if target == nil {
			return errResp(&graphError{status: 404, code: "Request_ResourceNotFound", message: fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", segs[1])})
		}
		if c.has("Application.ReadWrite.OwnedBy") && !c.has("Application.ReadWrite.All") && target != c.app {
			return errResp(&graphError{status: 403, code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation."})
		}
		return s.addPassword(req, c, target)
	}
	if req.method != http.MethodGet {
		return errResp(methodNotAllowed())
	}
	if !c.has("Application.Read.All", "Application.ReadWrite.All", "Application.ReadWrite.OwnedBy", "Directory.Read.All") {
		return errResp(&graphError{status: 403, code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation."})
	}
	segs := splitPath(req.path)
	var key string
	switch {
	case strings.HasPrefix(segs[0], "applications(appId='") && strings.HasSuffix(segs[0], "')"):
		key = strings.TrimSuffix(strings.TrimPrefix(segs[0], "applications(appId='"), "')")
	case segs[0] == "applications" && len(segs) == 2:
		key = segs[1]
	default:
		return errResp(&graphError{status: 400, code: "Request_BadRequest", message: "Listing applications is not supported by this emulator; address one by id or appId."})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range c.app.tenant.apps {
		if !strings.EqualFold(a.ClientID, key) && !strings.EqualFold(appObjectID(a.App), key) {
			continue
		}
		if c.has("Application.ReadWrite.OwnedBy") && !c.has("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All") && a != c.app {
			break // OwnedBy reads only the apps the caller owns: here, itself
		}
		creds := []map[string]any{}
		for _, sec := range a.Secrets {
			hint := sec.Hint
			if hint == "" && len(sec.Value) >= 3 {
				hint = sec.Value[:3]
			}
			creds = append(creds, map[string]any{"customKeyIdentifier": nil, "displayName": "kanzleisync", "keyId": sec.KeyID, "hint": hint,
				"secretText": nil, "startDateTime": sec.Expires.AddDate(-2, 0, 0).UTC().Format(time.RFC3339),
				"endDateTime": sec.Expires.UTC().Format(time.RFC3339)})
		}
		// the uploaded certificates: customKeyIdentifier is the SHA-1
		// thumbprint (base64), never the key
		keys := []map[string]any{}
		for _, c := range a.Certificates {
			cert, err := x509.ParseCertificate(c.DER)
			if err != nil {
				continue
			}
			sum := sha1.Sum(c.DER)
			id := sha256.Sum256(c.DER)
			keys = append(keys, map[string]any{"customKeyIdentifier": base64.StdEncoding.EncodeToString(sum[:]), "displayName": "CN=" + cert.Subject.CommonName,
				"keyId": fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16]), "type": "AsymmetricX509Cert", "usage": "Verify", "key": nil,
				"startDateTime": cert.NotBefore.UTC().Format(time.RFC3339), "endDateTime": cert.NotAfter.UTC().Format(time.RFC3339)})
		}
		return &gresp{status: 200, body: map[string]any{
			"@odata.context": s.httpURL + "/v1.0/$metadata#applications/$entity",
			"id":             appObjectID(a.App), "appId": a.ClientID, "displayName": a.DisplayName,
			"signInAudience": "AzureADMyOrg", "passwordCredentials": creds, "keyCredentials": keys,
		}}
	}
	return errResp(&graphError{status: 404, code: "Request_ResourceNotFound", message: fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", key)})
}

// appObjectID is the application object's id (not the client id): stable,
// derived from the client id.
func appObjectID(a *App) string {
	h := sha256.Sum256([]byte("application:" + strings.ToLower(a.ClientID)))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
