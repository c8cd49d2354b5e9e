package m365sim

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Drafts, their attachments and attachment upload sessions, as Microsoft
// documents them for messages too large for one sendMail request
// (learn.microsoft.com/graph/outlook-large-attachments):
//
//   - POST /messages creates a draft in Drafts, from JSON or from a MIME
//     message (Content-Type: text/plain, base64);
//   - POST /messages/{id}/attachments adds a fileAttachment (its bytes at most
//     3,145,611: a larger POST is 413);
//   - POST /messages/{id}/attachments/createUploadSession opens a session for
//     a file of at least 2,097,152 bytes
//     (ErrorAttachmentSizeShouldNotBeLessThanMinimumSize below) and at most
//     150 MB; the session's pre-authenticated uploadUrl takes PUTs of byte
//     ranges in order without an Authorization header, answers 200 with
//     nextExpectedRanges and, for the last range, 201 with a Location;
//   - POST /messages/{id}/send sends the draft and files it in Sent Items.
//
// The mailbox's send limit (MaxSendSize, TenantFile.SMTPMaxSize) counts the
// message as it goes out, attachments base64-encoded: a draft that would
// exceed it is ErrorMessageSizeExceeded (413).

const (
	maxAttachmentPost   = 3145611   // largest fileAttachment one POST takes
	minUploadSession    = 2097152   // smallest file an upload session takes
	maxUploadAttachment = 150 << 20 // largest file attachment
	uploadSessionTTL    = 2 * time.Hour
)

// simAttachment is a file attached to a draft.
type simAttachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	IsInline    bool   `json:"isInline,omitempty"`
	ContentID   string `json:"contentId,omitempty"`
	Data        []byte `json:"data"`
}

// uploadSession is an open attachment upload.
type uploadSession struct {
	owner   *userState
	msgID   string
	att     simAttachment
	size    int64
	token   string
	expires time.Time
}

func messageSizeExceeded() *graphError {
	return &graphError{status: 413, code: "ErrorMessageSizeExceeded", message: "The message exceeds the maximum supported size."}
}

// outgoingSize is the size of the draft as it would be sent.
func outgoingSize(md *mailData, extra int64) int64 {
	n := int64(len(md.Raw))
	for _, a := range md.Attachments {
		n += int64(base64.StdEncoding.EncodedLen(len(a.Data)))*78/76 + 200
	}
	if extra > 0 {
		n += int64(base64.StdEncoding.EncodedLen(int(extra)))*78/76 + 200
	}
	return n
}

// createDraft answers POST /messages: a new draft in Drafts.
func (h *handlerCtx) createDraft() *gresp {
	if e := h.need("mail", true); e != nil {
		return errResp(e)
	}
	var raw []byte
	if ct := h.req.header.Get("Content-Type"); strings.HasPrefix(strings.ToLower(ct), "text/plain") {
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(h.req.body)))
		if err != nil || len(dec) == 0 {
			return errResp(&graphError{status: 400, code: "ErrorMimeContentInvalidBase64String", message: "Invalid base64 string for MIME content."})
		}
		if _, err := mail.ReadMessage(bytes.NewReader(dec)); err != nil {
			return errResp(&graphError{status: 400, code: "ErrorMimeContentInvalid", message: "The MIME content is invalid."})
		}
		raw = dec
		if m, _ := mail.ReadMessage(bytes.NewReader(dec)); m.Header.Get("Message-Id") == "" {
			raw = append([]byte(fmt.Sprintf("Message-ID: <%s@m365sim.kanzlei.example>\r\n", h.s.newGUID())), raw...)
		}
	} else {
		in, e := decodeBody(h.req.body)
		if e == nil {
			e = validateBody("message", in)
		}
		if e != nil {
			return errResp(e)
		}
		raw = buildMIME(in, h.owner, h.s.now(), fmt.Sprintf("<%s@m365sim.kanzlei.example>", h.s.newGUID()))
	}
	if int64(len(raw)) > h.s.cfg.SMTPMaxSize {
		return errResp(messageSizeExceeded())
	}
	drafts := h.s.folderByName(h.mb, "drafts")
	it := h.s.storeMessage(h.mb, drafts.ID, raw)
	it.Props["isDraft"] = true
	it.Props["isRead"] = true
	body := h.renderMessage(it, &query{})
	body["@odata.context"] = h.s.contextURL(h.owner, "messages/$entity")
	return &gresp{status: 201, body: body}
}

// attachments answers …/messages/{id}/attachments[/createUploadSession].
func (h *handlerCtx) attachments(it *item, rest []string) *gresp {
	write := h.req.method != http.MethodGet
	if e := h.need("mail", write); e != nil {
		return errResp(e)
	}
	if it == nil {
		return errResp(itemNotFound())
	}
	if len(rest) == 1 && rest[0] == "createUploadSession" {
		if h.req.method != http.MethodPost {
			return errResp(methodNotAllowed())
		}
		return h.createUploadSession(it)
	}
	if len(rest) > 0 {
		return errResp(unknownSegment(rest[0]))
	}
	switch h.req.method {
	case http.MethodGet:
		var out []any
		for _, a := range it.Mail.Attachments {
			out = append(out, h.renderAttachment(a))
		}
		if out == nil {
			out = []any{}
		}
		return &gresp{status: 200, body: map[string]any{"@odata.context": h.s.contextURL(h.owner, "messages('"+it.ID+"')/attachments"), "value": out}}
	case http.MethodPost:
	default:
		return errResp(methodNotAllowed())
	}
	in, e := decodeBody(h.req.body)
	if e != nil {
		return errResp(e)
	}
	if t, _ := in["@odata.type"].(string); t != "#microsoft.graph.fileAttachment" {
		return errResp(&graphError{status: 400, code: "ErrorInvalidRequest", message: "Only file attachments (#microsoft.graph.fileAttachment) are supported by this emulator."})
	}
	if d, _ := it.Props["isDraft"].(bool); !d {
		return errResp(&graphError{status: 400, code: "ErrorInvalidRequest", message: "Attachments can only be added to a draft message."})
	}
	name, _ := in["name"].(string)
	enc, _ := in["contentBytes"].(string)
	data, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || name == "" {
		return errResp(&graphError{status: 400, code: "ErrorInvalidRequest", message: "The attachment needs a name and base64 contentBytes."})
	}
	if len(data) > maxAttachmentPost {
		return errResp(&graphError{status: 413, code: "RequestEntityTooLarge", message: "The maximum request length supported is 4MB."})
	}
	if outgoingSize(it.Mail, int64(len(data))) > h.s.cfg.SMTPMaxSize {
		return errResp(messageSizeExceeded())
	}
	a := simAttachment{ID: "AAMkAtt" + h.s.newItemID()[6:], Name: name, Data: data}
	a.ContentType, _ = in["contentType"].(string)
	a.IsInline, _ = in["isInline"].(bool)
	a.ContentID, _ = in["contentId"].(string)
	it.Mail.Attachments = append(it.Mail.Attachments, a)
	it.Props["hasAttachments"] = true
	h.s.touch(it)
	body := h.renderAttachment(a)
	body["@odata.context"] = h.s.contextURL(h.owner, "messages('"+it.ID+"')/attachments/$entity")
	return &gresp{status: 201, body: body}
}

func (h *handlerCtx) renderAttachment(a simAttachment) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.fileAttachment", "id": a.ID, "name": a.Name, "contentType": a.ContentType,
		"size": len(a.Data), "isInline": a.IsInline, "contentId": a.ContentID, "lastModifiedDateTime": isoTime(h.s.now())}
}

func (h *handlerCtx) createUploadSession(it *item) *gresp {
	in, e := decodeBody(h.req.body)
	if e != nil {
		return errResp(e)
	}
	ai, _ := in["AttachmentItem"].(map[string]any)
	if ai == nil {
		ai, _ = in["attachmentItem"].(map[string]any)
	}
	if ai == nil {
		return errResp(&graphError{status: 400, code: "ErrorInvalidRequest", message: "Required parameter 'AttachmentItem' is missing."})
	}
	if t, _ := ai["attachmentType"].(string); t != "file" {
		return errResp(&graphError{status: 400, code: "ErrorInvalidRequest", message: "attachmentType must be 'file'."})
	}
	name, _ := ai["name"].(string)
	size, err := asInt64(ai["size"])
	if name == "" || err != nil {
		return errResp(&graphError{status: 400, code: "ErrorInvalidRequest", message: "The attachment item needs a name and a size."})
	}
	if d, _ := it.Props["isDraft"].(bool); !d {
		return errResp(&graphError{status: 400, code: "ErrorInvalidRequest", message: "Attachments can only be added to a draft message."})
	}
	if size < minUploadSession {
		return errResp(&graphError{status: 400, code: "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize", message: "Attachment size must be greater than the minimum size."})
	}
	if size > maxUploadAttachment || outgoingSize(it.Mail, size) > h.s.cfg.SMTPMaxSize {
		return errResp(messageSizeExceeded())
	}
	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	sid := "AAMkSess" + h.s.newItemID()[6:]
	us := &uploadSession{owner: h.owner, msgID: it.ID, size: size, token: hex.EncodeToString(tok), expires: h.s.now().Add(uploadSessionTTL),
		att: simAttachment{ID: "AAMkAtt" + h.s.newItemID()[6:], Name: name}}
	us.att.ContentType, _ = ai["contentType"].(string)
	us.att.IsInline, _ = ai["isInline"].(bool)
	us.att.ContentID, _ = ai["contentId"].(string)
	if h.s.uploads == nil {
		h.s.uploads = map[string]*uploadSession{}
	}
	h.s.uploads[sid] = us
	uploadURL := fmt.Sprintf("%s/api/v2.0/Users('%s@%s')/Messages('%s')/AttachmentSessions('%s')?authtoken=%s",
		h.s.httpURL, h.owner.ID, h.owner.tenant.ID, url.PathEscape(it.ID), sid, us.token)
	return &gresp{status: 201, body: map[string]any{
		"@odata.context":     "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.uploadSession",
		"uploadUrl":          uploadURL,
		"expirationDateTime": us.expires.UTC().Format("2006-01-02T15:04:05.0000000Z"),
		"nextExpectedRanges": []string{"0-"},
	}}
}

func asInt64(v any) (int64, error) {
	switch n := v.(type) {
	case json.Number:
		return n.Int64()
	case float64:
		return int64(n), nil
	}
	return 0, fmt.Errorf("not a number")
}

// handleUpload answers a PUT to an upload session's URL (the outlook.office.com
// host in Microsoft 365): no Authorization header, the authtoken in the URL.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
	}
	path := r.URL.Path
	i := strings.Index(path, "AttachmentSessions('")
	if i < 0 || !strings.HasSuffix(path, "')") {
		fail(404, "ErrorInvalidUrlQuery", "The upload session was not found.")
		return
	}
	sid := path[i+len("AttachmentSessions('") : len(path)-2]
	s.injectLatency()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	log := LoggedRequest{Time: s.Now(), Service: "upload", Method: r.Method, Path: r.URL.Path}
	defer func() { s.logRequest(log) }() // runs after the unlock below
	s.mu.Lock()
	defer s.mu.Unlock()
	us := s.uploads[sid]
	if us == nil || r.URL.Query().Get("authtoken") != us.token {
		log.Status = 404
		fail(404, "ErrorItemNotFound", "The upload session was not found or its token is not valid.")
		return
	}
	if r.Header.Get("Authorization") != "" {
		log.Status = 401
		fail(401, "InvalidAuthenticationToken", "Do not send an Authorization header to a pre-authenticated upload URL.")
		return
	}
	if s.now().After(us.expires) {
		delete(s.uploads, sid)
		log.Status = 404
		fail(404, "ErrorItemNotFound", "The upload session has expired.")
		return
	}
	if r.Method == http.MethodDelete {
		delete(s.uploads, sid)
		log.Status = 204
		w.WriteHeader(204)
		return
	}
	if r.Method != http.MethodPut {
		log.Status = 405
		fail(405, "ErrorInvalidRequest", "Only PUT and DELETE are allowed on an upload session.")
		return
	}
	from, to, total, ok := parseContentRange(r.Header.Get("Content-Range"))
	got := int64(len(us.att.Data))
	switch {
	case !ok || total != us.size || to-from+1 != int64(len(body)):
		log.Status = 400
		fail(400, "ErrorInvalidRequest", "The Content-Range header is missing or does not match the body and the session's size.")
		return
	case from != got:
		log.Status = 416
		fail(416, "ErrorInvalidRange", fmt.Sprintf("The range does not start at the next expected byte %d.", got))
		return
	}
	us.att.Data = append(us.att.Data, body...)
	if int64(len(us.att.Data)) < us.size {
		log.Status = 200
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_ = json.NewEncoder(w).Encode(map[string]any{"expirationDateTime": us.expires.UTC().Format("2006-01-02T15:04:05.0000000Z"),
			"nextExpectedRanges": []string{strconv.FormatInt(int64(len(us.att.Data)), 10)}})
		return
	}
	delete(s.uploads, sid)
	it := us.owner.mailbox.Messages.get(us.msgID)
	if it == nil {
		log.Status = 404
		fail(404, "ErrorItemNotFound", "The message of this upload session no longer exists.")
		return
	}
	it.Mail.Attachments = append(it.Mail.Attachments, us.att)
	it.Props["hasAttachments"] = true
	s.touch(it)
	log.Status = 201
	w.Header().Set("Location", fmt.Sprintf("%s/api/v2.0/Users('%s@%s')/Messages('%s')/Attachments('%s')", s.httpURL, us.owner.ID, us.owner.tenant.ID, url.PathEscape(it.ID), us.att.ID))
	w.WriteHeader(201)
}

// parseContentRange reads "bytes 0-2097151/3483322".
func parseContentRange(v string) (from, to, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	a, b, found2 := strings.Cut(rng, "-")
	if !found || !found2 {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	from, err1 = strconv.ParseInt(a, 10, 64)
	to, err2 = strconv.ParseInt(b, 10, 64)
	total, err3 = strconv.ParseInt(tot, 10, 64)
	return from, to, total, err1 == nil && err2 == nil && err3 == nil && from <= to && to < total
}

// sendDraft answers POST /messages/{id}/send.
func (h *handlerCtx) sendDraft(it *item) *gresp {
	if e := h.need("send", true); e != nil {
		return errResp(e)
	}
	if h.req.method != http.MethodPost {
		return errResp(methodNotAllowed())
	}
	if it == nil {
		return errResp(itemNotFound())
	}
	if d, _ := it.Props["isDraft"].(bool); !d {
		return errResp(&graphError{status: 400, code: "ErrorInvalidRequest", message: "Only a draft message can be sent."})
	}
	if outgoingSize(it.Mail, 0) > h.s.cfg.SMTPMaxSize {
		return errResp(messageSizeExceeded())
	}
	return h.submitMIME(withAttachments(it.Mail.Raw, it.Mail.Attachments), it)
}

// withAttachments is the draft as it goes out: its MIME wrapped in a
// multipart/mixed with the attached files.
func withAttachments(raw []byte, atts []simAttachment) []byte {
	if len(atts) == 0 {
		return raw
	}
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return raw
	}
	var top, part bytes.Buffer
	cur := &top
	for _, line := range bytes.SplitAfter(raw[:end+2], []byte("\r\n")) {
		if len(line) == 0 {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			lower := bytes.ToLower(line)
			switch {
			case bytes.HasPrefix(lower, []byte("content-")):
				cur = &part
			case bytes.HasPrefix(lower, []byte("mime-version:")):
				cur = nil
			default:
				cur = &top
			}
		}
		if cur != nil {
			cur.Write(line)
		}
	}
	if part.Len() == 0 {
		part.WriteString("Content-Type: text/plain; charset=us-ascii\r\n")
	}
	var b bytes.Buffer
	b.Write(top.Bytes())
	mw := multipart.NewWriter(&b)
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=%q\r\n\r\n", mw.Boundary())
	fmt.Fprintf(&b, "--%s\r\n", mw.Boundary())
	b.Write(part.Bytes())
	b.WriteString("\r\n")
	b.Write(raw[end+4:])
	for _, a := range atts {
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		hdr := textproto.MIMEHeader{
			"Content-Type":              {mime.FormatMediaType(ct, map[string]string{"name": a.Name})},
			"Content-Transfer-Encoding": {"base64"},
		}
		disp := "attachment"
		if a.IsInline {
			disp = "inline"
		}
		hdr.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": a.Name}))
		if a.ContentID != "" {
			hdr.Set("Content-ID", "<"+strings.Trim(a.ContentID, "<>")+">")
		}
		b.WriteString("\r\n")
		aw, _ := mw.CreatePart(hdr)
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			_, _ = io.WriteString(aw, enc[:76]+"\r\n")
			enc = enc[76:]
		}
		_, _ = io.WriteString(aw, enc+"\r\n")
	}
	_ = mw.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}
