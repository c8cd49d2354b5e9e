package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"time"
)

// Message is an outgoing message as the practice software's mail client
// composes it: plain text, UTF-8, optional attachments.
type Message struct {
	FromName    string
	To, Cc, Bcc []netmail.Address
	Subject     string
	Text        string
	Attachments []Attachment
	Date        time.Time // zero: now
	MessageID   string    // without angle brackets; empty: generated
}

// Attachment is one file sent with a message.
type Attachment struct {
	Name        string
	ContentType string // empty: derived from the name
	Data        []byte
}

// Type is the attachment's content type: as given, else by the file
// name's extension, else application/octet-stream.
func (a Attachment) Type() string {
	if a.ContentType != "" {
		return a.ContentType
	}
	if i := strings.LastIndex(a.Name, "."); i >= 0 {
		if ct := mime.TypeByExtension(strings.ToLower(a.Name[i:])); ct != "" {
			return ct
		}
	}
	return "application/octet-stream"
}

// Recipients are the envelope recipients: To, Cc and Bcc.
func (m *Message) Recipients() []string {
	var out []string
	for _, l := range [][]netmail.Address{m.To, m.Cc, m.Bcc} {
		for _, a := range l {
			out = append(out, a.Address)
		}
	}
	return out
}

// Bytes renders the message as RFC 5322 with MIME; the Bcc recipients do
// not appear in the headers.
func (m *Message) Bytes(from string) ([]byte, error) {
	if from == "" || !strings.Contains(from, "@") {
		return nil, fmt.Errorf("mail: sender address %q is not an address", from)
	}
	for _, a := range append(append(append([]netmail.Address{}, m.To...), m.Cc...), m.Bcc...) {
		if _, err := netmail.ParseAddress(a.Address); err != nil || strings.ContainsAny(a.Address, "\r\n<>") {
			return nil, fmt.Errorf("mail: recipient %q is not an address", a.Address)
		}
	}
	if strings.ContainsAny(m.Subject, "\r\n") || strings.ContainsAny(m.FromName, "\r\n") {
		return nil, errors.New("mail: subject or sender name contains a line break")
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	id := m.MessageID
	if id == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:]) + "@" + from[strings.LastIndex(from, "@")+1:]
	}
	var buf bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&buf, "%s: %s\r\n", name, value) }
	header("From", (&netmail.Address{Name: m.FromName, Address: from}).String())
	if len(m.To) > 0 {
		header("To", addressList(m.To))
	}
	if len(m.Cc) > 0 {
		header("Cc", addressList(m.Cc))
	}
	header("Subject", fold(mime.QEncoding.Encode("utf-8", m.Subject)))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", "<"+id+">")
	header("MIME-Version", "1.0")
	if len(m.Attachments) == 0 {
		writeText(&buf, m.Text)
		return buf.Bytes(), nil
	}
	var rb [12]byte
	_, _ = rand.Read(rb[:])
	boundary := "=_ks_" + hex.EncodeToString(rb[:])
	header("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": boundary}))
	buf.WriteString("\r\nThis is a multi-part message in MIME format.\r\n")
	fmt.Fprintf(&buf, "\r\n--%s\r\n", boundary)
	writeText(&buf, m.Text)
	for _, at := range m.Attachments {
		fmt.Fprintf(&buf, "\r\n--%s\r\n", boundary)
		ct := at.Type()
		// The name goes both as RFC 2231 (filename*) and, for older
		// clients such as Outlook 2010, as an encoded-word in name=.
		fmt.Fprintf(&buf, "Content-Type: %s; name=\"%s\"\r\n", ct, mime.QEncoding.Encode("utf-8", at.Name))
		fmt.Fprintf(&buf, "Content-Disposition: %s\r\n", mime.FormatMediaType("attachment", map[string]string{"filename": at.Name}))
		buf.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString(at.Data)
		for len(enc) > 76 {
			buf.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		buf.WriteString(enc + "\r\n")
	}
	fmt.Fprintf(&buf, "\r\n--%s--\r\n", boundary)
	return buf.Bytes(), nil
}

func writeText(buf *bytes.Buffer, text string) {
	buf.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n")
	w := quotedprintable.NewWriter(buf)
	_, _ = w.Write([]byte(text))
	_ = w.Close()
	buf.WriteString("\r\n")
}

func addressList(l []netmail.Address) string {
	parts := make([]string, len(l))
	for i := range l {
		parts[i] = l[i].String()
	}
	return strings.Join(parts, ",\r\n ")
}

// fold breaks a header of several encoded-words between the words, so no
// line gets longer than RFC 5322 allows.
func fold(v string) string { return strings.ReplaceAll(v, "?= =?", "?=\r\n =?") }
