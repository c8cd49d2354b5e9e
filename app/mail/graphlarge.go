package mail

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/http"
	netmail "net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"kanzleisync/app/graph"
)

// A message larger than one sendMail request goes out as Microsoft
// documents for large attachments (learn.microsoft.com/graph/outlook-large-attachments):
// the message without its attached files becomes a draft (created from
// MIME), each file is added to it — by one POST under
// smallAttachment bytes, else through an upload session in ranges — and the
// draft is sent. Exchange rebuilds the outgoing MIME from the draft and its
// attachments; headers, text and files are the Kommunikator's.
//
// A draft left by an earlier attempt (a crash, a failed upload) carries the
// same Message-ID; it is kanzleisync's own intermediate copy of a message
// still in the outbox, and is deleted before the next attempt.

// smallAttachment is the largest file added with one POST (Microsoft: under
// 3 MB; an upload session takes files from 2 MB).
const smallAttachment = 3_000_000

// largeFile is one attached file taken out of the MIME.
type largeFile struct {
	Name, ContentType, ContentID string
	Inline                       bool
	Data                         []byte
}

// errNotSplittable: a message over one request whose size is not in
// attached files (one huge text part) cannot go over Graph.
var errNotSplittable = errors.New("graph: the message's text itself is larger than one request takes")

// splitAttachments takes the attached files (top-level parts with a file
// name) out of a multipart/mixed message.
func splitAttachments(raw []byte) ([]byte, []largeFile, error) {
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("graph: unreadable message: %w", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || !strings.EqualFold(mt, "multipart/mixed") || params["boundary"] == "" {
		return nil, nil, errNotSplittable
	}
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, nil, errNotSplittable
	}
	head, body := raw[:end+4], raw[end+4:]
	delim := []byte("--" + params["boundary"])
	var kept bytes.Buffer
	var files []largeFile
	var preamble []byte
	segments := splitOnDelimiter(body, delim)
	if len(segments) < 2 {
		return nil, nil, errNotSplittable
	}
	preamble, segments = segments[0], segments[1:]
	kept.Write(preamble)
	for _, seg := range segments {
		f, isFile := attachedFile(seg)
		if !isFile {
			kept.Write(delim)
			kept.WriteString("\r\n")
			kept.Write(seg)
			continue
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, nil, errNotSplittable
	}
	kept.Write(delim)
	kept.WriteString("--\r\n")
	return append(append([]byte(nil), head...), kept.Bytes()...), files, nil
}

// splitOnDelimiter returns the preamble and each part (headers and body,
// without the delimiter lines); the closing delimiter ends the list.
func splitOnDelimiter(body, delim []byte) [][]byte {
	var out [][]byte
	start := 0
	pos := 0
	for pos <= len(body) {
		i := bytes.Index(body[pos:], delim)
		if i < 0 {
			break
		}
		at := pos + i
		if at > 0 && body[at-1] != '\n' { // a delimiter starts a line
			pos = at + len(delim)
			continue
		}
		seg := body[start:at]
		out = append(out, seg)
		rest := body[at+len(delim):]
		if bytes.HasPrefix(rest, []byte("--")) {
			return out
		}
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return out
		}
		start = at + len(delim) + nl + 1
		pos = start
	}
	return out
}

// attachedFile reads a part with a file name as an attached file.
func attachedFile(seg []byte) (largeFile, bool) {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(seg)))
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return largeFile{}, false
	}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	ct, cparams, _ := mime.ParseMediaType(h.Get("Content-Type"))
	name := dparams["filename"]
	if name == "" {
		name = cparams["name"]
	}
	if name == "" || strings.HasPrefix(strings.ToLower(ct), "multipart/") {
		return largeFile{}, false
	}
	if dec, err := new(mime.WordDecoder).DecodeHeader(name); err == nil {
		name = dec
	}
	body, _ := io.ReadAll(tp.R)
	body = bytes.TrimSuffix(body, []byte("\r\n")) // the CRLF before the next delimiter belongs to it
	var data []byte
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, body)
		data, err = base64.StdEncoding.DecodeString(string(clean))
		if err != nil {
			return largeFile{}, false
		}
	case "quoted-printable":
		data, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			return largeFile{}, false
		}
	default:
		data = body
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	return largeFile{Name: name, ContentType: ct, ContentID: strings.Trim(h.Get("Content-Id"), "<> "),
		Inline: strings.EqualFold(disp, "inline"), Data: data}, true
}

// sendLarge sends raw (larger than one request) as draft + attachments + send.
func (g *GraphMail) sendLarge(ctx context.Context, raw []byte) error {
	skeleton, files, err := splitAttachments(raw)
	if errors.Is(err, errNotSplittable) {
		return &SendError{Step: "data", Code: 552, Enhanced: "5.3.4", Message: fmt.Sprintf("message of %d bytes without attached files over Graph", len(raw)), Err: ErrTooLargeForGraph}
	}
	if err != nil {
		return &SendError{Step: "data", Code: 554, Enhanced: "5.6.0", Message: err.Error(), Err: err}
	}
	if len(skeleton) > MaxMIMESend {
		return &SendError{Step: "data", Code: 552, Enhanced: "5.3.4", Message: fmt.Sprintf("text and headers of %d bytes over Graph", len(skeleton)), Err: ErrTooLargeForGraph}
	}
	if err := g.deleteDrafts(ctx, raw); err != nil {
		return err
	}
	r := g.Client.Do(ctx, graph.Request{Method: http.MethodPost, URL: g.user() + "/messages",
		Raw: []byte(base64.StdEncoding.EncodeToString(skeleton)), Headers: map[string]string{"Content-Type": "text/plain"}})
	if r.Err != nil {
		return g.sendErr("create draft", r.Err)
	}
	var draft struct{ ID string }
	if json.Unmarshal(r.Body, &draft); draft.ID == "" {
		return fmt.Errorf("graph mail %s: create draft: no id in the answer", g.Mailbox)
	}
	msg := g.user() + "/messages/" + url.PathEscape(draft.ID)
	for _, f := range files {
		if err := g.attach(ctx, msg, f); err != nil {
			g.dropDraft(msg)
			return err
		}
	}
	r = g.Client.Do(ctx, graph.Request{Method: http.MethodPost, URL: msg + "/send"})
	if r.Err != nil {
		var ge *graph.Error
		if errors.As(r.Err, &ge) && ge.Status >= 400 && ge.Status < 500 {
			g.dropDraft(msg) // refused, not sent: the draft would only confuse in Outlook
		}
		return g.sendErr("send draft", r.Err)
	}
	return nil
}

// dropDraft deletes an unfinished draft of a failed attempt (the message
// stays in the outbox); if that fails too, the next attempt finds it.
func (g *GraphMail) dropDraft(msg string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if r := g.Client.Do(ctx, graph.Request{Method: http.MethodDelete, URL: msg}); r.Err != nil {
		g.logger().Warn("could not delete the draft of a failed send attempt; the next attempt deletes it", "account", g.Mailbox, "error", r.Err)
	}
}

func (g *GraphMail) attach(ctx context.Context, msg string, f largeFile) error {
	if len(f.Data) < smallAttachment {
		r := g.Client.Do(ctx, graph.Request{Method: http.MethodPost, URL: msg + "/attachments", Body: map[string]any{
			"@odata.type": "#microsoft.graph.fileAttachment", "name": f.Name, "contentType": f.ContentType,
			"isInline": f.Inline, "contentId": f.ContentID, "contentBytes": base64.StdEncoding.EncodeToString(f.Data)}})
		if r.Err != nil {
			return g.sendErr(fmt.Sprintf("attach %q", f.Name), r.Err)
		}
		return nil
	}
	item := map[string]any{"attachmentType": "file", "name": f.Name, "size": len(f.Data), "contentType": f.ContentType, "isInline": f.Inline}
	if f.ContentID != "" {
		item["contentId"] = f.ContentID
	}
	r := g.Client.Do(ctx, graph.Request{Method: http.MethodPost, URL: msg + "/attachments/createUploadSession", Body: map[string]any{"AttachmentItem": item}})
	if r.Err != nil {
		return g.sendErr(fmt.Sprintf("upload session for %q", f.Name), r.Err)
	}
	var sess struct {
		UploadURL string `json:"uploadUrl"`
	}
	if json.Unmarshal(r.Body, &sess); sess.UploadURL == "" {
		return fmt.Errorf("graph mail %s: upload session for %q: no uploadUrl in the answer", g.Mailbox, f.Name)
	}
	if up := g.Client.Upload(ctx, sess.UploadURL, f.Data); up.Err != nil {
		return g.sendErr(fmt.Sprintf("upload %q", f.Name), up.Err)
	}
	return nil
}

// deleteDrafts removes kanzleisync's own drafts of this message left by
// an earlier attempt (found by Message-ID in Drafts).
func (g *GraphMail) deleteDrafts(ctx context.Context, raw []byte) error {
	id := messageID(raw)
	if id == "" {
		return nil
	}
	q := url.Values{"$filter": {"internetMessageId eq '" + strings.ReplaceAll(id, "'", "''") + "'"}, "$select": {"id"}}
	pages, err := g.Client.GetAll(ctx, g.user()+"/mailFolders/drafts/messages?"+q.Encode())
	if err != nil {
		return fmt.Errorf("graph mail %s: look in Drafts: %w", g.Mailbox, err)
	}
	for _, p := range pages {
		var d struct{ ID string }
		if json.Unmarshal(p, &d) != nil || d.ID == "" {
			continue
		}
		r := g.Client.Do(ctx, graph.Request{Method: http.MethodDelete, URL: g.user() + "/messages/" + url.PathEscape(d.ID)})
		var ge *graph.Error
		if r.Err != nil && !(errors.As(r.Err, &ge) && ge.Status == http.StatusNotFound) {
			return fmt.Errorf("graph mail %s: delete the draft of an earlier attempt: %w", g.Mailbox, r.Err)
		}
		g.logger().Info("deleted the draft of an earlier send attempt", "account", g.Mailbox)
	}
	return nil
}

// sendErr: a refusal of the message itself (4xx but 429) is permanent;
// the rest may succeed later.
func (g *GraphMail) sendErr(step string, err error) error {
	var ge *graph.Error
	if errors.As(err, &ge) {
		if ge.Code == "ErrorMessageSizeExceeded" || ge.Status == http.StatusRequestEntityTooLarge {
			return &SendError{Step: "data", Code: 552, Enhanced: "5.3.4", Message: ge.Code + ": " + ge.Message, Err: err}
		}
		if ge.Status >= 400 && ge.Status < 500 && ge.Status != http.StatusTooManyRequests && ge.Status != http.StatusRequestedRangeNotSatisfiable {
			return &SendError{Step: "data", Code: 550, Enhanced: "5.6.0", Message: ge.Code + ": " + ge.Message, Err: err}
		}
	}
	return fmt.Errorf("graph mail %s: %s: %w", g.Mailbox, step, err)
}

func messageID(raw []byte) string {
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(m.Header.Get("Message-ID"))
}

func (g *GraphMail) logger() *slog.Logger {
	if g.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Logger
}
