package mail

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	netmail "net/mail"
	"net/url"
	"strings"
	"time"

	"kanzleisync/app/graph"
	"kanzleisync/app/store"
)

// GraphMail is the Graph transport of an account, chosen instead of
// POP3/SMTP. By default new messages of the Inbox are found by its delta
// query and copied as MIME ($value): the mailbox stays as the user sees it
// in Outlook. With MoveTo, a message the Kommunikator took is moved to that
// folder instead. Sending uses sendMail.
type GraphMail struct {
	Client *graph.Client
	Store  *store.Store
	Logger *slog.Logger
	// Mailbox is the account's address (the user of /users/{id}).
	Mailbox string
	// MoveTo receives fetched messages once the Kommunikator took them
	// (created when missing); empty: nothing is moved (delta query).
	MoveTo string
	// LeaveDays keeps a taken message in the Inbox this many days (with MoveTo).
	LeaveDays int
	Now       func() time.Time
}

// DefaultDoneFolder is the folder suggested for moving fetched messages.
const DefaultDoneFolder = "Von kanzleisync abgeholt"

// graphKey marks a Graph message in the store's uidl column. It is the
// message's id, not its Message-ID header: some mailers reuse Message-IDs,
// and keying by them would skip a second, different message. The id is
// stable while the message stays in the Inbox.
func graphKey(id string) string { return "graph:" + id }

func (g *GraphMail) user() string { return "/users/" + url.PathEscape(g.Mailbox) }

func (g *GraphMail) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Fetch stores every new message of the Inbox.
func (g *GraphMail) Fetch(ctx context.Context) (Result, error) {
	g.Client.RememberHoldOffs(ctx, g.Store, g.Mailbox)
	if g.MoveTo == "" {
		return g.fetchDelta(ctx)
	}
	return g.fetchAndMove(ctx)
}

// fetchDelta follows the Inbox's delta query from the last complete
// round's link and stores what is new; "@removed" entries (the user moved
// or deleted a message in Outlook) change nothing here. The delta link is
// kept only after every message of the round is stored: a crash repeats
// the round, and the stored ids keep it from storing anything twice. An
// expired link (410) starts over with the whole Inbox, again without
// doubles.
func (g *GraphMail) fetchDelta(ctx context.Context) (Result, error) {
	var res Result
	stored, err := g.Store.FetchedUIDLs(ctx, g.Mailbox)
	if err != nil {
		return res, err
	}
	link, err := g.Store.DeltaLink(ctx, g.Mailbox)
	if err != nil {
		return res, err
	}
	start := g.user() + "/mailFolders/inbox/messages/delta?" + url.Values{"$select": {"id,receivedDateTime"}}.Encode()
	next := start
	if link != "" {
		next = link
	}
	restarted := false
	for next != "" {
		r := g.Client.Do(ctx, graph.Request{Method: http.MethodGet, URL: g.relative(next), Headers: map[string]string{"Prefer": "odata.maxpagesize=50"}})
		var ge *graph.Error
		if errors.As(r.Err, &ge) && ge.Status == http.StatusGone && !restarted {
			g.logger().Info("graph delta link expired, listing the whole Inbox again", "account", g.Mailbox, "code", ge.Code)
			restarted, next = true, start
			continue
		}
		if r.Err != nil {
			return res, fmt.Errorf("graph mail %s: delta: %w", g.Mailbox, r.Err)
		}
		var page struct {
			Value     []json.RawMessage `json:"value"`
			NextLink  string            `json:"@odata.nextLink"`
			DeltaLink string            `json:"@odata.deltaLink"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			return res, fmt.Errorf("graph mail %s: unreadable delta page: %w", g.Mailbox, err)
		}
		for _, raw := range page.Value {
			var m struct {
				ID      string          `json:"id"`
				Removed json.RawMessage `json:"@removed"`
			}
			if err := json.Unmarshal(raw, &m); err != nil || m.ID == "" {
				return res, fmt.Errorf("graph mail %s: unreadable message entry: %s", g.Mailbox, truncate(string(raw)))
			}
			if m.Removed != nil {
				continue // left the Inbox in Outlook; the copy stays with the Kommunikator
			}
			key := graphKey(m.ID)
			if _, ok := stored[key]; ok {
				continue // stored before; a change of its flags lists it again
			}
			if err := g.store(ctx, m.ID); err != nil {
				return res, err
			}
			stored[key] = store.Fetched{At: g.now()}
			res.Fetched++
		}
		next = page.NextLink
		if next == "" {
			if page.DeltaLink == "" {
				return res, fmt.Errorf("graph mail %s: the last delta page has no deltaLink", g.Mailbox)
			}
			if err := g.Store.SetDeltaLink(ctx, g.Mailbox, page.DeltaLink, g.now()); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// relative turns Graph's absolute next and delta links into the client's
// version-relative form.
func (g *GraphMail) relative(link string) string {
	if i := strings.Index(link, "/v1.0/"); i >= 0 && strings.HasPrefix(link, "http") {
		return link[i+len("/v1.0"):]
	}
	return link
}

// store reads one message as MIME and stores it.
func (g *GraphMail) store(ctx context.Context, id string) error {
	r := g.Client.Do(ctx, graph.Request{Method: http.MethodGet, URL: g.user() + "/messages/" + url.PathEscape(id) + "/$value"})
	if r.Err != nil {
		return fmt.Errorf("graph mail %s: read message: %w", g.Mailbox, r.Err)
	}
	return g.Store.StoreMessages(ctx, store.Message{Account: g.Mailbox, UIDL: graphKey(id), Raw: r.Body, Fetched: g.now()})
}

// fetchAndMove stores every new message of the Inbox; a message the
// Kommunikator has taken (local POP3 server) is moved to MoveTo by a later
// fetch. A crash between storing and moving leaves the message in the
// Inbox; the next run finds it in the store and only moves it.
func (g *GraphMail) fetchAndMove(ctx context.Context) (Result, error) {
	var res Result
	folder, err := g.doneFolderID(ctx)
	if err != nil {
		return res, err
	}
	stored, err := g.Store.FetchedUIDLs(ctx, g.Mailbox)
	if err != nil {
		return res, err
	}
	q := url.Values{"$select": {"id,receivedDateTime"}, "$orderby": {"receivedDateTime asc"}, "$top": {"50"}}
	pages, err := g.Client.GetAll(ctx, g.user()+"/mailFolders/inbox/messages?"+q.Encode())
	if err != nil {
		return res, fmt.Errorf("graph mail %s: %w", g.Mailbox, err)
	}
	for _, raw := range pages {
		var m struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &m); err != nil || m.ID == "" {
			return res, fmt.Errorf("graph mail %s: unreadable message entry: %s", g.Mailbox, truncate(string(raw)))
		}
		f, ok := stored[graphKey(m.ID)]
		if !ok {
			if err := g.store(ctx, m.ID); err != nil {
				return res, err
			}
			res.Fetched++
			continue // it leaves the Inbox once the Kommunikator has it
		}
		if !taken(f, g.LeaveDays, g.now()) {
			continue
		}
		r := g.Client.Do(ctx, graph.Request{Method: http.MethodPost, URL: g.user() + "/messages/" + url.PathEscape(m.ID) + "/move",
			Body: map[string]any{"destinationId": folder}})
		if r.Err != nil {
			return res, fmt.Errorf("graph mail %s: move to %q: %w", g.Mailbox, g.doneFolder(), r.Err)
		}
		res.Deleted++ // moved out of the Inbox
	}
	return res, nil
}

func (g *GraphMail) doneFolder() string {
	if g.MoveTo == "" {
		return DefaultDoneFolder
	}
	return g.MoveTo
}

// doneFolderID finds the done folder by name, creating it when missing.
func (g *GraphMail) doneFolderID(ctx context.Context) (string, error) {
	name := g.doneFolder()
	for attempt := 0; attempt < 2; attempt++ {
		folders, err := g.Client.GetAll(ctx, g.user()+"/mailFolders?$top=100&$select=id,displayName")
		if err != nil {
			return "", fmt.Errorf("graph mail %s: folders: %w", g.Mailbox, err)
		}
		for _, raw := range folders {
			var f struct{ ID, DisplayName string }
			if json.Unmarshal(raw, &f) == nil && strings.EqualFold(f.DisplayName, name) {
				return f.ID, nil
			}
		}
		r := g.Client.Do(ctx, graph.Request{Method: http.MethodPost, URL: g.user() + "/mailFolders", Body: map[string]any{"displayName": name}})
		var ge *graph.Error
		if errors.As(r.Err, &ge) && ge.Code == "ErrorFolderExists" {
			continue // made by another client in between: list again
		}
		if r.Err != nil {
			return "", fmt.Errorf("graph mail %s: create folder %q: %w", g.Mailbox, name, r.Err)
		}
		var f struct{ ID string }
		if err := json.Unmarshal(r.Body, &f); err != nil || f.ID == "" {
			return "", fmt.Errorf("graph mail %s: create folder %q: no id in the answer", g.Mailbox, name)
		}
		return f.ID, nil
	}
	return "", fmt.Errorf("graph mail %s: folder %q exists but is not listed", g.Mailbox, name)
}

// MaxGraphSend is the largest sendMail request Graph takes in one call
// (larger messages need an upload session).
const MaxGraphSend = 4 << 20

// Send submits m with sendMail and keeps a copy in Sent Items.
func (g *GraphMail) Send(ctx context.Context, m *Message) error {
	_, err := g.send(ctx, m)
	return err
}

// SendTestMail is "Testmail senden" for a Graph account: one sendMail call,
// reported with Graph's status and request-id (what Microsoft support asks for).
// MaxMIMESend is the largest MIME message one sendMail request takes
// (Graph's 4 MB request limit, after base64); larger ones go as a draft
// with attachments (sendLarge).
const MaxMIMESend = 3 << 20

// ErrTooLargeForGraph: a message whose text itself (without attached
// files) is larger than one request takes.
var ErrTooLargeForGraph = errors.New("graph sendMail: message larger than one request takes")

// SendMIME sends the Kommunikator's message as it is (sendMail with a
// base64 MIME body; a larger one as draft, attachments and send).
// Envelope recipients that are in no To or Cc header (Bcc from an SMTP
// submission) are added as a Bcc header, which Exchange removes before
// delivery.
func (g *GraphMail) SendMIME(ctx context.Context, raw []byte, rcpts []string) error {
	raw = withBcc(raw, rcpts)
	if len(raw) > MaxMIMESend {
		return g.sendLarge(ctx, raw)
	}
	r := g.Client.Do(ctx, graph.Request{Method: http.MethodPost, URL: g.user() + "/sendMail",
		Raw: []byte(base64.StdEncoding.EncodeToString(raw)), Headers: map[string]string{"Content-Type": "text/plain"}})
	if r.Err != nil {
		return g.sendErr("sendMail", r.Err)
	}
	return nil
}

// InSentItems reports whether a message (by its Message-ID) is in the
// mailbox's Sent Items: after a crash while sending, a message already
// there was sent and must not go out twice.
func (g *GraphMail) InSentItems(ctx context.Context, raw []byte) (bool, error) {
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return false, nil
	}
	id := strings.TrimSpace(m.Header.Get("Message-ID"))
	if id == "" {
		return false, nil
	}
	q := url.Values{"$filter": {"internetMessageId eq '" + strings.ReplaceAll(id, "'", "''") + "'"}, "$select": {"id"}, "$top": {"1"}}
	r := g.Client.Do(ctx, graph.Request{Method: http.MethodGet, URL: g.user() + "/mailFolders/sentitems/messages?" + q.Encode()})
	if r.Err != nil {
		return false, fmt.Errorf("graph mail %s: look in Sent Items: %w", g.Mailbox, r.Err)
	}
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	_ = json.Unmarshal(r.Body, &page)
	return len(page.Value) > 0, nil
}

// withBcc adds a Bcc header for envelope recipients the headers do not name.
func withBcc(raw []byte, rcpts []string) []byte {
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return raw
	}
	named := map[string]bool{}
	for _, f := range []string{"To", "Cc", "Bcc"} {
		if list, err := m.Header.AddressList(f); err == nil {
			for _, a := range list {
				named[strings.ToLower(a.Address)] = true
			}
		}
	}
	var bcc []string
	for _, r := range rcpts {
		if !named[strings.ToLower(r)] {
			bcc = append(bcc, "<"+r+">")
		}
	}
	if len(bcc) == 0 {
		return raw
	}
	return append([]byte("Bcc: "+strings.Join(bcc, ", ")+"\r\n"), raw...)
}

func (g *GraphMail) SendTestMail(ctx context.Context, fromName, to string) TestMailReport {
	if to == "" {
		to = g.Mailbox
	}
	r, err := g.send(ctx, testMessage(fromName, to, g.Mailbox, "Microsoft Graph"))
	rep := TestMailReport{Err: err}
	st := Step{Name: "Graph", OK: err == nil, Detail: fmt.Sprintf("POST /users/%s/sendMail → %d", g.Mailbox, r.Status)}
	if err != nil {
		st.Detail += ": " + err.Error()
		var se *SendError
		if errors.As(err, &se) {
			rep.Advice = se.Advice()
		}
	}
	if r.RequestID != "" {
		st.Detail += " (request-id " + r.RequestID + ")"
	}
	rep.Steps = []Step{st}
	return rep
}

func (g *GraphMail) send(ctx context.Context, m *Message) (graph.Response, error) {
	var none graph.Response
	if len(m.Recipients()) == 0 {
		return none, errors.New("graph sendMail: the message has no recipient")
	}
	if _, err := m.Bytes(g.Mailbox); err != nil { // the same checks as SMTP
		return none, err
	}
	rcpt := func(l []netmail.Address) []any {
		out := []any{}
		for _, a := range l {
			out = append(out, map[string]any{"emailAddress": map[string]any{"name": a.Name, "address": a.Address}})
		}
		return out
	}
	msg := map[string]any{
		"subject":       m.Subject,
		"body":          map[string]any{"contentType": "text", "content": m.Text},
		"toRecipients":  rcpt(m.To),
		"ccRecipients":  rcpt(m.Cc),
		"bccRecipients": rcpt(m.Bcc),
	}
	size := len(m.Text)
	if len(m.Attachments) > 0 {
		var atts []any
		for _, a := range m.Attachments {
			enc := base64.StdEncoding.EncodeToString(a.Data)
			size += len(enc)
			atts = append(atts, map[string]any{"@odata.type": "#microsoft.graph.fileAttachment", "name": a.Name, "contentType": a.Type(), "contentBytes": enc})
		}
		msg["attachments"] = atts
	}
	if size > MaxGraphSend {
		return none, &SendError{Step: "graph", Code: 413, Message: fmt.Sprintf("message of %d bytes, sendMail takes %d", size, MaxGraphSend), Err: ErrTooLargeToSend}
	}
	r := g.Client.Do(ctx, graph.Request{Method: http.MethodPost, URL: g.user() + "/sendMail", Body: map[string]any{"message": msg, "saveToSentItems": true}})
	if r.Err != nil {
		se := &SendError{Step: "graph", Code: r.Status, Err: r.Err, Temporary: r.Status == 0 || r.Status == 429 || r.Status >= 500}
		var ge *graph.Error
		if errors.As(r.Err, &ge) {
			se.Enhanced, se.Message = ge.Code, ge.Message
		}
		return r, se
	}
	return r, nil
}
