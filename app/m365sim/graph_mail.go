package m365sim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// deliver stores a message in a local user's Inbox. Caller holds s.mu.
func (s *Server) deliver(u *userState, raw []byte) *item {
	inbox := s.folderByName(u.mailbox, "inbox")
	return s.storeMessage(u.mailbox, inbox.ID, raw)
}

func (s *Server) storeMessage(mb *mailbox, folderID string, raw []byte) *item {
	raw = normalizeCRLF(raw)
	it := s.newItem(mb.Messages, messageProps(raw))
	it.Mail = &mailData{Raw: raw, Folder: folderID, UIDL: s.newUIDL(), Received: s.now()}
	return it
}

// messagesIn lists a folder's messages (all folders when folderID is empty).
func (mb *mailbox) messagesIn(folderID string) []*item {
	var out []*item
	for _, it := range mb.Messages.sorted() {
		if folderID == "" || it.Mail.Folder == folderID {
			out = append(out, it)
		}
	}
	return out
}

func (h *handlerCtx) messages(folderID string, rest []string) *gresp {
	h.s.ensureDefaults(h.mb)
	m := h.req.method
	if len(rest) == 0 {
		switch m {
		case http.MethodGet:
			return h.list("mail", "message", h.mb.messagesIn(folderID), h.renderMessage, "messages")
		case http.MethodPost:
			return h.createDraft()
		}
		return errResp(methodNotAllowed())
	}
	if rest[0] == "delta" && len(rest) == 1 {
		return h.messagesDelta(folderID)
	}
	it := h.mb.Messages.get(rest[0])
	if it != nil && folderID != "" && it.Mail.Folder != folderID {
		it = nil
	}
	if len(rest) == 1 {
		resp := h.entity("mail", "message", it, h.renderMessage, "messages", h.mb.Messages, nil)
		if m == http.MethodDelete && resp.status == http.StatusNoContent {
			h.s.recordRemoval(h.mb, it)
		}
		return resp
	}
	switch rest[1] {
	case "$value":
		if e := h.need("mailbody", false); e != nil {
			return errResp(e)
		}
		if it == nil {
			return errResp(itemNotFound())
		}
		if m != http.MethodGet {
			return errResp(methodNotAllowed())
		}
		return &gresp{status: 200, raw: it.Mail.Raw, header: http.Header{"Content-Type": {"text/plain"}}}
	case "move":
		return h.move(it)
	case "attachments":
		return h.attachments(it, rest[2:])
	case "send":
		return h.sendDraft(it)
	}
	return errResp(unknownSegment(rest[1]))
}

// move answers POST …/messages/{id}/move. Exchange gives the moved item a new id.
func (h *handlerCtx) move(it *item) *gresp {
	if e := h.need("mail", true); e != nil {
		return errResp(e)
	}
	if h.req.method != http.MethodPost {
		return errResp(methodNotAllowed())
	}
	if it == nil {
		return errResp(itemNotFound())
	}
	in, e := decodeBody(h.req.body)
	if e == nil {
		e = validateBody("move", in)
	}
	if e != nil {
		return errResp(e)
	}
	dest, _ := in["destinationId"].(string)
	f := h.s.folderByName(h.mb, dest)
	if f == nil {
		return errResp(&graphError{status: 404, code: "ErrorItemNotFound", message: "The specified object was not found in the store., The process failed to get the correct properties."})
	}
	h.s.removeMessage(h.mb, it)
	it.ID = h.s.newItemID()
	it.Mail.Folder = f.ID
	h.s.touch(it)
	h.mb.Messages.Items[it.ID] = it
	body := h.renderMessage(it, &query{})
	body["@odata.context"] = h.s.contextURL(h.owner, "messages/$entity")
	return &gresp{status: 201, body: body}
}

func (h *handlerCtx) renderMessage(it *item, q *query) map[string]any {
	m := map[string]any{"isDeliveryReceiptRequested": false, "isReadReceiptRequested": false, "isDraft": false,
		"inferenceClassification": "focused", "flag": map[string]any{"flagStatus": "notFlagged"}}
	for k, v := range it.Props {
		m[k] = v
	}
	m["id"] = it.ID
	m["@odata.etag"] = etag(it)
	m["changeKey"] = it.ChangeKey
	m["createdDateTime"] = isoTime(it.Created)
	m["lastModifiedDateTime"] = isoTime(it.Modified)
	m["receivedDateTime"] = isoTime(it.Mail.Received)
	if _, ok := m["sentDateTime"]; !ok {
		m["sentDateTime"] = isoTime(it.Mail.Received)
	}
	m["parentFolderId"] = it.Mail.Folder
	m["conversationId"] = "AAQkAD" + it.ID[6:30]
	m["webLink"] = "https://outlook.office365.com/owa/?ItemID=" + it.ID + "&exvsurl=1&viewmodel=ReadMessageItem"
	m["body"] = h.renderBody(it.Props["body"], "html")
	m["bodyPreview"] = preview(m["body"])
	h.renderExt(m, it, q)
	return m
}

func (h *handlerCtx) mailFolders(rest []string) *gresp {
	h.s.ensureDefaults(h.mb)
	m := h.req.method
	render := func(f *item, _ *query) map[string]any {
		total, unread := 0, 0
		for _, it := range h.mb.messagesIn(f.ID) {
			total++
			if r, _ := it.Props["isRead"].(bool); !r {
				unread++
			}
		}
		return map[string]any{"id": f.ID, "displayName": f.Props["displayName"], "parentFolderId": "AAMkADroot",
			"childFolderCount": 0, "unreadItemCount": unread, "totalItemCount": total, "isHidden": f.Props["isHidden"]}
	}
	if len(rest) == 0 {
		switch m {
		case http.MethodGet:
			return h.list("mail", "mailFolder", h.mb.Folders.sorted(), render, "mailFolders")
		case http.MethodPost:
			return h.create("mail", "mailFolder", h.mb.Folders, render, "mailFolders", func(in map[string]any) *graphError {
				name, _ := in["displayName"].(string)
				if strings.TrimSpace(name) == "" {
					return &graphError{status: 400, code: "ErrorInvalidRequest", message: "The folder name is required."}
				}
				for _, f := range h.mb.Folders.Items {
					if strings.EqualFold(f.Props["displayName"].(string), name) {
						return &graphError{status: 409, code: "ErrorFolderExists", message: "A folder with the specified name already exists."}
					}
				}
				in["isHidden"] = false
				return nil
			})
		}
		return errResp(methodNotAllowed())
	}
	f := h.s.folderByName(h.mb, rest[0])
	if len(rest) == 1 {
		if m == http.MethodDelete && f != nil && f.Extra["wellKnown"] != "" {
			return errResp(&graphError{status: 400, code: "ErrorDeleteDistinguishedFolder", message: "Distinguished folders cannot be deleted."})
		}
		return h.entity("mail", "mailFolder", f, render, "mailFolders", h.mb.Folders, nil)
	}
	if f == nil {
		if e := h.need("mail", false); e != nil {
			return errResp(e)
		}
		return errResp(itemNotFound())
	}
	if rest[1] == "messages" {
		return h.messages(f.ID, rest[2:])
	}
	return errResp(unknownSegment(rest[1]))
}

// sendMail answers POST /sendMail: 202 and delivery to local recipients.
func (h *handlerCtx) sendMail(rest []string) *gresp {
	if len(rest) > 0 {
		return errResp(unknownSegment(rest[0]))
	}
	if h.req.method != http.MethodPost {
		return errResp(methodNotAllowed())
	}
	if e := h.need("send", true); e != nil {
		return errResp(e)
	}
	if ct := h.req.header.Get("Content-Type"); strings.HasPrefix(strings.ToLower(ct), "text/plain") {
		return h.sendMIME()
	}
	in, e := decodeBody(h.req.body)
	if e == nil {
		e = validateBody("sendMail", in)
	}
	if e != nil {
		return errResp(e)
	}
	msg, _ := in["message"].(map[string]any)
	if msg == nil {
		return errResp(&graphError{status: 400, code: "ErrorInvalidRequest", message: "Required property 'message' is missing."})
	}
	var rcpts []string
	for _, field := range []string{"toRecipients", "ccRecipients", "bccRecipients"} {
		for _, r := range asSlice(msg[field]) {
			ea, _ := r.(map[string]any)["emailAddress"].(map[string]any)
			a, _ := ea["address"].(string)
			if !strings.Contains(a, "@") {
				return errResp(&graphError{status: 400, code: "ErrorInvalidRecipients", message: fmt.Sprintf("At least one recipient is not valid., Recipient '%s' is not resolved. All recipients must be resolved before a message can be submitted.", a)})
			}
			rcpts = append(rcpts, a)
		}
	}
	if len(rcpts) == 0 {
		return errResp(&graphError{status: 400, code: "ErrorInvalidRecipients", message: "At least one recipient is not valid., A message can't be sent because it contains no recipients."})
	}
	if from, ok := msg["from"].(map[string]any); ok {
		ea, _ := from["emailAddress"].(map[string]any)
		if a, _ := ea["address"].(string); a != "" && !strings.EqualFold(a, h.owner.Mail) && !strings.EqualFold(a, h.owner.UPN) {
			return errResp(&graphError{status: 403, code: "ErrorSendAsDenied", message: "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message."})
		}
	}
	now := h.s.now()
	raw := buildMIME(msg, h.owner, now, fmt.Sprintf("<%s@m365sim.kanzlei.example>", h.s.newGUID()))
	h.s.routeMail(h.owner.Mail, rcpts, raw, "graph")
	if save, ok := in["saveToSentItems"].(bool); !ok || save {
		sent := h.s.folderByName(h.mb, "sentitems")
		it := h.s.storeMessage(h.mb, sent.ID, raw)
		it.Props["isRead"] = true
	}
	return &gresp{status: 202}
}

// sendMIME answers sendMail with a MIME body (Content-Type: text/plain,
// the message base64-encoded), as Microsoft documents it: the recipients
// come from the To, Cc and Bcc headers, the Bcc header is removed, a copy
// goes to Sent Items.
func (h *handlerCtx) sendMIME() *gresp {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(h.req.body)))
	if err != nil || len(raw) == 0 {
		return errResp(&graphError{status: 400, code: "ErrorMimeContentInvalidBase64String", message: "Invalid base64 string for MIME content."})
	}
	return h.submitMIME(raw, nil)
}

// submitMIME sends a MIME message as Exchange does for sendMail and a
// draft's send: recipients from To, Cc and Bcc, the From must be the
// mailbox, the Bcc header does not travel, a copy goes to Sent Items; a
// sent draft (draft != nil) leaves Drafts.
func (h *handlerCtx) submitMIME(raw []byte, draft *item) *gresp {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return errResp(&graphError{status: 400, code: "ErrorMimeContentInvalid", message: "The MIME content is invalid."})
	}
	var rcpts []string
	for _, field := range []string{"To", "Cc", "Bcc"} {
		if list, err := m.Header.AddressList(field); err == nil {
			for _, a := range list {
				rcpts = append(rcpts, a.Address)
			}
		}
	}
	if len(rcpts) == 0 {
		return errResp(&graphError{status: 400, code: "ErrorInvalidRecipients", message: "At least one recipient is not valid., A message can't be sent because it contains no recipients."})
	}
	if from, err := m.Header.AddressList("From"); err == nil && len(from) > 0 &&
		!strings.EqualFold(from[0].Address, h.owner.Mail) && !strings.EqualFold(from[0].Address, h.owner.UPN) {
		return errResp(&graphError{status: 403, code: "ErrorSendAsDenied", message: "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message."})
	}
	raw = withoutHeader(raw, "Bcc")
	h.s.routeMail(h.owner.Mail, rcpts, raw, "graph")
	if draft != nil {
		h.s.removeMessage(h.mb, draft)
	}
	sent := h.s.folderByName(h.mb, "sentitems")
	it := h.s.storeMessage(h.mb, sent.ID, raw)
	it.Props["isRead"] = true
	return &gresp{status: 202}
}

// withoutHeader removes a header field (with its continuation lines).
func withoutHeader(raw []byte, name string) []byte {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return raw
	}
	var out []byte
	skip := false
	for _, line := range bytes.SplitAfter(raw[:end+2], []byte("\r\n")) {
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if !skip {
				out = append(out, line...)
			}
			continue
		}
		skip = bytes.HasPrefix(bytes.ToLower(line), []byte(strings.ToLower(name)+":"))
		if !skip {
			out = append(out, line...)
		}
	}
	return append(out, raw[end+2:]...)
}

// routeMail delivers to local recipients and records the rest as outbound.
// Caller holds s.mu.
func (s *Server) routeMail(from string, rcpts []string, raw []byte, via string) {
	delivered := map[string]bool{}
	for _, r := range rcpts {
		if u := s.lookupUser(r); u != nil && !u.NoMailbox {
			if !delivered[u.ID] {
				s.deliver(u, raw)
				delivered[u.ID] = true
			}
			continue
		}
		s.outbound = append(s.outbound, OutboundMessage{Time: s.now(), From: from, To: r, Via: via, Raw: raw})
	}
}

// OutboundMessage is mail addressed outside the emulated tenants.
type OutboundMessage struct {
	Time time.Time `json:"time"`
	From string    `json:"from"`
	To   string    `json:"to"`
	Via  string    `json:"via"`
	Raw  []byte    `json:"raw"`
}

// normalizeCRLF gives every line a CRLF end, as a message on the wire has.
func normalizeCRLF(raw []byte) []byte {
	lf := strings.ReplaceAll(string(raw), "\r\n", "\n")
	out := strings.ReplaceAll(lf, "\n", "\r\n")
	if !strings.HasSuffix(out, "\r\n") {
		out += "\r\n"
	}
	return []byte(out)
}
