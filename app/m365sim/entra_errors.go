package m365sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// entraErr is one AADSTS error as Entra ID v2.0 reports it.
type entraErr struct {
	status int    // HTTP status on the token endpoint
	oauth  string // OAuth 2.0 "error" value
	code   int    // AADSTS number
	desc   string // text after "AADSTSnnnnn: "
}

func (e *entraErr) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.code, e.desc) }

// The catalogue follows Microsoft's "Microsoft Entra authentication and
// authorization error codes" and the responses real tenants return.
func errTenantNotFound(tenant string) *entraErr {
	return &entraErr{400, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)}
}

func errSingleTenantCommon(clientID, name string) *entraErr {
	return &entraErr{400, "invalid_request", 50194, fmt.Sprintf("Application '%s'(%s) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.", clientID, name)}
}

func errAppNotFound(clientID, tenant string) *entraErr {
	return &entraErr{400, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant)}
}

func errInvalidSecret(clientID string) *entraErr {
	return &entraErr{401, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)}
}

func errExpiredSecret(clientID string) *entraErr {
	return &entraErr{401, "invalid_client", 7000222, fmt.Sprintf("The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", clientID)}
}

func errSecretMissing() *entraErr {
	return &entraErr{401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

// errPublicClientCredential: the registration is a public client (its
// redirect is on the "Mobile and desktop applications" platform) and the
// request carried a secret or an assertion.
func errPublicClientCredential() *entraErr {
	return &entraErr{400, "invalid_request", 700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."}
}

func errRedirectMismatch(uri, clientID string) *entraErr {
	return &entraErr{400, "invalid_request", 50011, fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.", uri, clientID)}
}

func errReplyAddressMismatch(got, want string) *entraErr {
	return &entraErr{400, "invalid_grant", 500112, fmt.Sprintf("The reply address '%s' does not match the reply address '%s' provided when requesting Authorization code.", got, want)}
}

func errConsentMissing(clientID, name string) *entraErr {
	return &entraErr{400, "invalid_grant", 65001, fmt.Sprintf("The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", clientID, name)}
}

func errConsentDeclined() *entraErr {
	return &entraErr{400, "access_denied", 65004, "User declined to consent to access the app."}
}

func errAdminApprovalNeeded(name string) *entraErr {
	return &entraErr{400, "access_denied", 90094, fmt.Sprintf("The grant requires admin permission. %s needs permission to access resources in your organization that only an admin can grant. Please ask an admin to grant permission to this app before you can use it.", name)}
}

func errWrongPassword() *entraErr {
	return &entraErr{400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password."}
}

func errUnknownUser(tenant string) *entraErr {
	return &entraErr{400, "invalid_grant", 50034, fmt.Sprintf("The user account {EUII Hidden} does not exist in the %s directory. To sign into this application, the account must be added to the directory.", tenant)}
}

func errRefreshInactive(issued time.Time, inactive time.Duration) *entraErr {
	return &entraErr{400, "invalid_grant", 700082, fmt.Sprintf("The refresh token has expired due to inactivity. The token was issued on %s and was inactive for %s.", issued.UTC().Format("2006-01-02T15:04:05.0000000Z"), inactive.Truncate(time.Second))}
}

func errRefreshRevoked() *entraErr {
	return &entraErr{400, "invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password."}
}

func errCodeRedeemed() *entraErr {
	return &entraErr{400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."}
}

func errCodeExpired() *entraErr {
	return &entraErr{400, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."}
}

func errPKCEMismatch() *entraErr {
	return &entraErr{400, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request."}
}

func errPKCEMissing() *entraErr {
	return &entraErr{400, "invalid_grant", 50148, "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE."}
}

func errMalformedGrant() *entraErr {
	return &entraErr{400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."}
}

func errMissingParam(name string) *entraErr {
	return &entraErr{400, "invalid_request", 900144, fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)}
}

func errUnsupportedGrant(grant string) *entraErr {
	return &entraErr{400, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant)}
}

func errInvalidScope(scope string) *entraErr {
	return &entraErr{400, "invalid_scope", 70011, fmt.Sprintf("The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope)}
}

func errMultiResource(scope string) *entraErr {
	return &entraErr{400, "invalid_scope", 28000, fmt.Sprintf("Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", scope)}
}

func errClientCredentialsScope(scope string) *entraErr {
	return &entraErr{400, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)}
}

func errUnsupportedResponseType(rt string) *entraErr {
	return &entraErr{400, "unsupported_response_type", 700054, fmt.Sprintf("response_type '%s' is not enabled for the application.", rt)}
}

func errLoginRequired() *entraErr {
	return &entraErr{400, "login_required", 50058, "A silent sign-in request was sent but no user is signed in."}
}

func errInvalidChallengeMethod() *entraErr {
	return &entraErr{400, "invalid_request", 5000811, "Unsupported code_challenge_method. Supported values are 'S256' and 'plain'."}
}

// entraErrorBody is the JSON body of a failed token request.
type entraErrorBody struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	ErrorCodes    []int  `json:"error_codes"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	ErrorURI      string `json:"error_uri"`
}

// writeEntraError answers a token or discovery request with Entra's JSON error.
func (s *Server) writeEntraError(w http.ResponseWriter, r *http.Request, e *entraErr) {
	s.mu.Lock()
	trace, corr := s.newGUID(), r.Header.Get("client-request-id")
	if !isGUID(corr) {
		corr = s.newGUID()
	}
	ts := s.now().Format("2006-01-02 15:04:05Z")
	s.mu.Unlock()
	body := entraErrorBody{
		Error:         e.oauth,
		Description:   fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", e.code, e.desc, trace, corr, ts),
		ErrorCodes:    []int{e.code},
		Timestamp:     ts,
		TraceID:       trace,
		CorrelationID: corr,
		ErrorURI:      fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", e.code),
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("x-ms-request-id", trace)
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="m365sim"`)
	}
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(body)
}

// ErrorCodes lists the AADSTS numbers the emulator can answer with, so that
// a client's tests can check it explains each of them.
func ErrorCodes() []int {
	return []int{28000, 50011, 50013, 50034, 50058, 50126, 50148, 50173, 50194, 54005, 65001, 65004, 70003, 70008, 70011, 90002,
		90094, 500112, 501481, 700016, 700021, 700023, 700024, 700025, 700027, 700054, 700082, 900144, 1002012, 5000811, 7000215, 7000218, 7000222, 7000274, 9002313}
}
