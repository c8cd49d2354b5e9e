package m365sim

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "windows-1252":
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		runes := make([]rune, len(b))
		for i, c := range b {
			runes[i] = rune(c)
		}
		return strings.NewReader(string(runes)), nil
	}
	return nil, fmt.Errorf("unsupported charset %s", charset)
}}

// messageProps derives a message's Graph properties from its RFC 822 bytes.
func messageProps(raw []byte) map[string]any {
	props := map[string]any{"isRead": false, "importance": "normal", "categories": []any{}, "hasAttachments": false,
		"toRecipients": []any{}, "ccRecipients": []any{}, "bccRecipients": []any{}, "replyTo": []any{}}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		props["subject"] = ""
		props["body"] = map[string]any{"contentType": "text", "content": string(raw)}
		return props
	}
	subj, err := wordDecoder.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		subj = msg.Header.Get("Subject")
	}
	props["subject"] = subj
	props["internetMessageId"] = msg.Header.Get("Message-Id")
	if d, err := msg.Header.Date(); err == nil {
		props["sentDateTime"] = isoTime(d)
	}
	parser := &mail.AddressParser{WordDecoder: wordDecoder}
	recips := func(h string) []any {
		out := []any{}
		list, err := parser.ParseList(msg.Header.Get(h))
		if err != nil {
			return out
		}
		for _, a := range list {
			out = append(out, map[string]any{"emailAddress": map[string]any{"name": a.Name, "address": a.Address}})
		}
		return out
	}
	props["toRecipients"] = recips("To")
	props["ccRecipients"] = recips("Cc")
	if from := recips("From"); len(from) > 0 {
		props["from"] = from[0]
		props["sender"] = from[0]
	}
	if imp := strings.ToLower(msg.Header.Get("Importance")); imp == "high" || imp == "low" {
		props["importance"] = imp
	}
	ct, content, attach := extractBody(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	props["body"] = map[string]any{"contentType": ct, "content": content}
	props["hasAttachments"] = attach
	return props
}

// extractBody finds the HTML (preferred) or text part and reports attachments.
func extractBody(ctype, cte string, r io.Reader) (string, string, bool) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(r, params["boundary"])
		var text, htmlBody string
		attach := false
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			disp, _, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
			if disp == "attachment" {
				attach = true
				continue
			}
			ct, c, a := extractBody(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			attach = attach || a
			if ct == "html" && htmlBody == "" {
				htmlBody = c
			} else if ct == "text" && text == "" {
				text = c
			}
		}
		if htmlBody != "" {
			return "html", htmlBody, attach
		}
		return "text", text, attach
	}
	body, _ := io.ReadAll(decodeTransfer(cte, r))
	if mt == "text/html" {
		return "html", string(body), false
	}
	if !strings.HasPrefix(mt, "text/") {
		return "text", "", true
	}
	return "text", string(body), false
}

func decodeTransfer(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &stripNewlines{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

type stripNewlines struct{ r io.Reader }

func (s *stripNewlines) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' {
			p[j] = c
			j++
		}
	}
	return j, err
}

// buildMIME turns a Graph message (sendMail) into RFC 822 bytes.
func buildMIME(msg map[string]any, from *userState, now time.Time, msgID string) []byte {
	var b bytes.Buffer
	addr := func(v any) string {
		m, _ := v.(map[string]any)
		ea, _ := m["emailAddress"].(map[string]any)
		name, _ := ea["name"].(string)
		a, _ := ea["address"].(string)
		return (&mail.Address{Name: name, Address: a}).String()
	}
	list := func(v any) string {
		var parts []string
		for _, r := range asSlice(v) {
			parts = append(parts, addr(r))
		}
		return strings.Join(parts, ", ")
	}
	fmt.Fprintf(&b, "From: %s\r\n", (&mail.Address{Name: from.DisplayName, Address: from.Mail}).String())
	if to := list(msg["toRecipients"]); to != "" {
		fmt.Fprintf(&b, "To: %s\r\n", to)
	}
	if cc := list(msg["ccRecipients"]); cc != "" {
		fmt.Fprintf(&b, "Cc: %s\r\n", cc)
	}
	subj, _ := msg["subject"].(string)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subj))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: %s\r\n", msgID)
	if imp, _ := msg["importance"].(string); imp != "" && imp != "normal" {
		fmt.Fprintf(&b, "Importance: %s\r\n", imp)
	}
	for _, h := range asSlice(msg["internetMessageHeaders"]) {
		m, _ := h.(map[string]any)
		fmt.Fprintf(&b, "%s: %s\r\n", m["name"], m["value"])
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	body, _ := msg["body"].(map[string]any)
	content, _ := body["content"].(string)
	ctype := "text/plain"
	if ct, _ := body["contentType"].(string); strings.EqualFold(ct, "html") {
		ctype = "text/html"
	}
	writeText := func(w io.Writer) {
		qp := quotedprintable.NewWriter(w)
		_, _ = qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(content, "\r\n", "\n"), "\n", "\r\n")))
		_ = qp.Close()
	}
	atts := asSlice(msg["attachments"])
	if len(atts) == 0 {
		fmt.Fprintf(&b, "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", ctype)
		writeText(&b)
		b.WriteString("\r\n")
		return b.Bytes()
	}
	mw := multipart.NewWriter(&b)
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", mw.Boundary())
	pw, _ := mw.CreatePart(map[string][]string{"Content-Type": {ctype + "; charset=utf-8"}, "Content-Transfer-Encoding": {"quoted-printable"}})
	writeText(pw)
	for _, a := range atts {
		m, _ := a.(map[string]any)
		name, _ := m["name"].(string)
		ct, _ := m["contentType"].(string)
		if ct == "" {
			ct = "application/octet-stream"
		}
		data, _ := m["contentBytes"].(string)
		aw, _ := mw.CreatePart(map[string][]string{
			"Content-Type":              {mime.FormatMediaType(ct, map[string]string{"name": name})},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": name})},
			"Content-Transfer-Encoding": {"base64"},
		})
		for len(data) > 76 {
			_, _ = io.WriteString(aw, data[:76]+"\r\n")
			data = data[76:]
		}
		_, _ = io.WriteString(aw, data+"\r\n")
	}
	_ = mw.Close()
	return b.Bytes()
}
