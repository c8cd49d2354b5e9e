package m365sim

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// graphError is an error answer in Graph's JSON shape.
type graphError struct {
	status        int
	code, message string
	retryAfter    int // seconds, for 429 and 503
}

func (e *graphError) Error() string { return e.code + ": " + e.message }

func invalidRequest(msg string) *graphError {
	return &graphError{status: 400, code: "ErrorInvalidRequest", message: msg}
}

func itemNotFound() *graphError {
	return &graphError{status: 404, code: "ErrorItemNotFound", message: "The specified object was not found in the store."}
}

func accessDenied() *graphError {
	return &graphError{status: 403, code: "ErrorAccessDenied", message: "Access is denied. Check credentials and try again."}
}

func unknownSegment(seg string) *graphError {
	return &graphError{status: 400, code: "BadRequest", message: fmt.Sprintf("Resource not found for the segment '%s'.", seg)}
}

func methodNotAllowed() *graphError {
	return &graphError{status: 405, code: "ErrorInvalidRequest", message: "The OData request is not supported."}
}

// maxGraphBody is Graph's request size limit (4 MB).
const maxGraphBody = 4 << 20

// gresp is one Graph answer, written either to the wire or into a $batch response.
type gresp struct {
	status int
	header http.Header
	body   any    // JSON value; nil with raw or no content
	raw    []byte // non-JSON body ($value)
	err    *graphError
}

func errResp(e *graphError) *gresp { return &gresp{status: e.status, err: e} }

// greq is one Graph request, from the wire or from inside a $batch.
type greq struct {
	method      string
	path        string // after /v1.0, without query
	query       url.Values
	header      http.Header
	body        []byte
	claims      map[string]any
	requestID   string
	clientReqID string
	inBatch     bool
	received    time.Time // when the (outer) request arrived
	// throttled collects the Retry-Afters of a batch's items: the client
	// learns of them only with the batch's answer, so they are noted then.
	throttled *throttleNotes
}

type throttleNotes struct {
	mu    sync.Mutex
	notes []throttleNote
}

type throttleNote struct {
	key string
	e   *graphError
}

// caller is who a token speaks for. Filled by authenticate.
type caller struct {
	app      *appState
	user     *userState // nil for application tokens
	scopes   []string   // scp or roles
	appToken bool
}

func (s *Server) handleGraph(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	reqID := s.newGUID()
	s.mu.Unlock()
	clientReqID := r.Header.Get("client-request-id")
	if clientReqID == "" {
		clientReqID = reqID
	}
	writeHeaders := func() {
		h := w.Header()
		h.Set("request-id", reqID)
		h.Set("client-request-id", clientReqID)
		h.Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"Germany West Central","Slice":"E","Ring":"5","ScaleUnit":"000","RoleInstance":"m365sim"}}`)
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	body, gerr := readGraphBody(r)
	logEntry := LoggedRequest{Time: s.Now(), Service: "graph", Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: truncateForLog(body), RequestID: reqID,
		ContentEncoding: r.Header.Get("Content-Encoding")}
	if gerr == nil {
		gerr = s.injectTransportFaults(w, r)
		if gerr != nil && gerr.status == -1 {
			logEntry.Status = -1
			s.logRequest(logEntry)
			return
		}
	}
	req := &greq{method: r.Method, path: strings.TrimPrefix(r.URL.Path, "/v1.0"), query: r.URL.Query(), header: r.Header,
		body: body, requestID: reqID, clientReqID: clientReqID, received: logEntry.Time}
	var resp *gresp
	if gerr != nil {
		resp = errResp(gerr)
	} else {
		resp = s.serveGraph(req)
	}
	logEntry.Status = resp.status
	if resp.err != nil {
		logEntry.ErrorCode = resp.err.code
	}
	logEntry.App, logEntry.User = req.logIdentity()
	s.logRequest(logEntry)
	writeHeaders()
	s.writeGResp(w, req, resp)
}

func (r *greq) logIdentity() (app, user string) {
	if r.claims == nil {
		return "", ""
	}
	return claimString(r.claims, "appid"), claimString(r.claims, "upn")
}

var errConnReset = errors.New("connection reset injected")

func readGraphBody(r *http.Request) ([]byte, *graphError) {
	if r.Body == nil {
		return nil, nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxGraphBody*4+1))
	if err != nil {
		return nil, invalidRequest("The request body could not be read.")
	}
	if enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc == "gzip" {
		if len(raw) == 0 {
			return nil, &graphError{status: 400, code: "BadRequest", message: "The request body is declared as gzip but is empty."}
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, &graphError{status: 400, code: "BadRequest", message: "The request body could not be decompressed (Content-Encoding: gzip)."}
		}
		raw, err = io.ReadAll(io.LimitReader(zr, maxGraphBody+1))
		if err != nil {
			return nil, &graphError{status: 400, code: "BadRequest", message: "The request body could not be decompressed (Content-Encoding: gzip)."}
		}
	} else if enc != "" && enc != "identity" {
		return nil, &graphError{status: 415, code: "UnsupportedMediaType", message: "Content-Encoding '" + enc + "' is not supported."}
	}
	if len(raw) > maxGraphBody {
		return nil, &graphError{status: 413, code: "RequestEntityTooLarge", message: fmt.Sprintf("The request body exceeds the maximum size of %d bytes.", maxGraphBody)}
	}
	return raw, nil
}

// serveGraph authenticates and dispatches one top-level request.
func (s *Server) serveGraph(req *greq) *gresp {
	c, e := s.authenticate(req)
	if e != nil {
		resp := errResp(e)
		resp.header = http.Header{"Www-Authenticate": {`Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`}}
		return resp
	}
	if req.path == "/$batch" {
		if req.method != http.MethodPost {
			return errResp(methodNotAllowed())
		}
		return s.serveBatch(req, c)
	}
	return s.execGraph(req, c)
}

// authenticate checks the bearer token as Graph does: signature, lifetime, audience.
func (s *Server) authenticate(req *greq) (*caller, *graphError) {
	invalid := func(msg string) *graphError {
		return &graphError{status: 401, code: "InvalidAuthenticationToken", message: msg}
	}
	h := req.header.Get("Authorization")
	if h == "" {
		return nil, invalid("Access token is empty.")
	}
	if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return nil, invalid("Access token is empty.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	claims, err := s.signer.verify(strings.TrimSpace(h[7:]), s.now())
	switch {
	case errors.Is(err, errTokenMalformed):
		return nil, invalid("IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format.")
	case errors.Is(err, errTokenSignature):
		return nil, invalid("Access token validation failure.")
	case errors.Is(err, errTokenExpired):
		return nil, invalid("Lifetime validation failed, the token is expired.")
	case errors.Is(err, errTokenNotYet):
		return nil, invalid("Lifetime validation failed, the token is not yet valid.")
	case err != nil:
		return nil, invalid("Access token validation failure.")
	}
	if aud := claimString(claims, "aud"); aud != resourceGraph && aud != graphAppID && aud != resourceGraph+"/" {
		return nil, invalid("Access token validation failure. Invalid audience.")
	}
	req.claims = claims
	t := s.lookupTenant(claimString(claims, "tid"))
	if t == nil {
		return nil, invalid("Access token validation failure.")
	}
	a := t.apps[strings.ToLower(claimString(claims, "appid"))]
	if a == nil {
		return nil, invalid("Access token validation failure.")
	}
	c := &caller{app: a}
	if claimString(claims, "idtyp") == "app" {
		c.appToken = true
		if roles, ok := claims["roles"].([]any); ok {
			for _, r := range roles {
				if s, ok := r.(string); ok {
					c.scopes = append(c.scopes, s)
				}
			}
		}
	} else {
		c.user = s.lookupUser(claimString(claims, "oid"))
		if c.user == nil {
			return nil, invalid("Access token validation failure.")
		}
		c.scopes = strings.Fields(claimString(claims, "scp"))
	}
	return c, nil
}

func (c *caller) has(perms ...string) bool {
	for _, p := range perms {
		if slices.ContainsFunc(c.scopes, func(s string) bool { return strings.EqualFold(s, p) }) {
			return true
		}
	}
	return false
}

// target is the resolved mailbox of a request and the rest of its path.
type target struct {
	owner *userState
	rest  []string
}

// resolveTarget reads /me/… or /users/{id}/…. Caller holds s.mu.
func (s *Server) resolveTarget(c *caller, path string) (*target, *graphError) {
	segs := splitPath(path)
	if len(segs) == 0 {
		return nil, unknownSegment("")
	}
	switch segs[0] {
	case "me":
		if c.appToken {
			return nil, &graphError{status: 400, code: "BadRequest", message: "/me request is only valid with delegated authentication flow."}
		}
		return &target{owner: c.user, rest: segs[1:]}, nil
	case "users":
		if len(segs) < 2 {
			return nil, &graphError{status: 400, code: "BadRequest", message: "Listing users is not supported by this emulator."}
		}
		id := segs[1]
		if strings.HasPrefix(id, "('") && strings.HasSuffix(id, "')") {
			id = id[2 : len(id)-2]
		}
		u := s.lookupUser(id)
		if u == nil || (c.user != nil && u.tenant != c.user.tenant) || u.tenant != c.app.tenant {
			return nil, &graphError{status: 404, code: "ErrorInvalidUser", message: fmt.Sprintf("The requested user '%s' is invalid.", id)}
		}
		if c.user != nil && u != c.user {
			return nil, accessDenied()
		}
		if c.appToken && len(c.app.ScopedMailboxes) > 0 && !(len(segs) > 2 && segs[2] == "todo") &&
			!slices.ContainsFunc(c.app.ScopedMailboxes, func(m string) bool { return strings.EqualFold(m, u.UPN) }) {
			return nil, accessDenied() // outside the app's management scope
		}
		return &target{owner: u, rest: segs[2:]}, nil
	}
	return nil, unknownSegment(segs[0])
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(strings.Trim(p, "/"), "/") {
		if s == "" {
			continue
		}
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		out = append(out, s)
	}
	return out
}

// execGraph runs one non-batch request: mailbox, throttling, faults, route.
func (s *Server) execGraph(req *greq, c *caller) *gresp {
	if isApplicationsPath(req.path) {
		return s.getApplication(req, c)
	}
	if isPolicyPath(req.path) {
		return s.getAppPolicy(req, c)
	}
	s.mu.Lock()
	tg, e := s.resolveTarget(c, req.path)
	s.mu.Unlock()
	if e != nil {
		return errResp(e)
	}
	key := c.app.ClientID + "|" + tg.owner.ID
	if e := s.checkRetryAfter(key, req.received); e != nil {
		return errResp(e)
	}
	release, e := s.throttle.acquire(key, s.Now())
	if e != nil {
		s.noteLater(req, key, e)
		return errResp(e)
	}
	defer release()
	s.injectLatency()
	if e := s.injectStatusFault(); e != nil {
		s.noteLater(req, key, e)
		return errResp(e)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.route(req, c, tg)
}

// route dispatches on the path below the mailbox. Caller holds s.mu.
func (s *Server) route(req *greq, c *caller, tg *target) *gresp {
	rest := tg.rest
	if len(rest) == 0 {
		if req.method != http.MethodGet {
			return errResp(methodNotAllowed())
		}
		if !(c.appToken && c.has("User.Read.All", "User.ReadWrite.All", "Directory.Read.All")) && !(!c.appToken && c.has("User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All")) {
			return errResp(&graphError{status: 403, code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation."})
		}
		return s.getUser(req, tg.owner)
	}
	if tg.owner.NoMailbox {
		return errResp(&graphError{status: 404, code: "MailboxNotEnabledForRESTAPI", message: "The mailbox is either inactive, soft-deleted, or is hosted on-premise."})
	}
	if rest[0] == "calendar" && len(rest) > 1 {
		rest = rest[1:]
	}
	h := &handlerCtx{s: s, req: req, c: c, owner: tg.owner, mb: tg.owner.mailbox}
	switch rest[0] {
	case "events":
		return h.events(rest[1:])
	case "calendarView":
		return h.calendarView(rest[1:])
	case "contacts":
		return h.contacts(rest[1:])
	case "todo":
		return h.todo(rest[1:])
	case "messages":
		return h.messages("", rest[1:])
	case "mailFolders":
		return h.mailFolders(rest[1:])
	case "sendMail":
		return h.sendMail(rest[1:])
	case "outlook":
		if len(rest) > 1 && rest[1] == "masterCategories" {
			return h.masterCategories(rest[2:])
		}
	}
	return errResp(unknownSegment(rest[0]))
}

func (s *Server) getUser(req *greq, u *userState) *gresp {
	return &gresp{status: 200, body: map[string]any{
		"@odata.context": s.httpURL + "/v1.0/$metadata#users/$entity",
		"id":             u.ID, "userPrincipalName": u.UPN, "displayName": u.DisplayName, "givenName": u.GivenName,
		"surname": u.Surname, "mail": u.Mail, "businessPhones": []string{}, "jobTitle": nil, "mobilePhone": nil,
		"officeLocation": nil, "preferredLanguage": "de-DE",
	}}
}

// writeGResp writes an answer to the wire.
func (s *Server) writeGResp(w http.ResponseWriter, req *greq, resp *gresp) {
	for k, vs := range resp.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if resp.err != nil {
		if resp.err.retryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(resp.err.retryAfter))
		}
		writeJSON(w, resp.status, s.errorBody(req, resp.err))
		return
	}
	switch {
	case resp.raw != nil:
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		w.WriteHeader(resp.status)
		_, _ = w.Write(resp.raw)
	case resp.body != nil:
		w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
		w.WriteHeader(resp.status)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(resp.body)
	default:
		w.WriteHeader(resp.status)
	}
}

func (s *Server) errorBody(req *greq, e *graphError) map[string]any {
	return map[string]any{"error": map[string]any{
		"code": e.code, "message": e.message,
		"innerError": map[string]any{
			"date":              s.Now().Format("2006-01-02T15:04:05"),
			"request-id":        req.requestID,
			"client-request-id": req.clientReqID,
		},
	}}
}

// decodeBody reads a JSON object body as Graph's OData reader does.
func decodeBody(body []byte) (map[string]any, *graphError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &graphError{status: 400, code: "BadRequest", message: "Empty Payload. JSON content expected."}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, bodyReadError("Invalid JSON. A token was not recognized in the JSON content.")
	}
	if dec.More() {
		return nil, bodyReadError("Invalid JSON. More than one value was found at the root of the JSON content. JSON content can only have one value at the root level, which is an array, an object or a primitive value.")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, bodyReadError("An unexpected '%s' node was found when reading from the JSON reader. A 'StartObject' node was expected.", jsonNodeKind(v))
	}
	return m, nil
}

func (s *Server) contextURL(owner *userState, suffix string) string {
	return fmt.Sprintf("%s/v1.0/$metadata#users('%s')/%s", s.httpURL, url.PathEscape(owner.UPN), suffix)
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// restError answers a path that no handler took: a wrong method on a
// collection, or an unknown segment below it.
func restError(rest []string) *graphError {
	if len(rest) == 0 {
		return methodNotAllowed()
	}
	return unknownSegment(rest[len(rest)-1])
}

// noteLater remembers a Retry-After now, or, for a batch item, when the
// batch answers.
func (s *Server) noteLater(req *greq, key string, e *graphError) {
	if req.throttled == nil {
		s.noteRetryAfter(key, e)
		return
	}
	req.throttled.mu.Lock()
	req.throttled.notes = append(req.throttled.notes, throttleNote{key, e})
	req.throttled.mu.Unlock()
}
