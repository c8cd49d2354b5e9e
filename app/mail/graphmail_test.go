package mail_test

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"net/textproto"
	"sort"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/graph"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/mail"
	"kanzleisync/app/testsupport"
)

func graphMail(t *testing.T, srv *m365sim.Server, attempts int) *mail.GraphMail {
	p := graph.NewPacer()
	p.Base = 10 * time.Millisecond
	if attempts > 0 {
		p.MaxAttempts = attempts
	}
	c := graph.New(srv.URL(), testsupport.StaticTokens{Token: simtest.SignIn(t, srv, anna).AccessToken}, graph.Options{Pacer: p})
	return &mail.GraphMail{Client: c, Store: openStore(t), Mailbox: anna, MoveTo: mail.DefaultDoneFolder}
}

func folderCount(t *testing.T, srv *m365sim.Server, folder string) int {
	st, err := srv.State(anna)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range st.Messages {
		if strings.EqualFold(m["_folder"].(string), folder) {
			n++
		}
	}
	return n
}

func deliverN(t *testing.T, srv *m365sim.Server, from, n int) map[string]string {
	want := map[string]string{}
	for i := from; i < from+n; i++ {
		raw := mailText(i, strings.Repeat("Graph-Abruf ", i*20))
		want[fmt.Sprintf("<m%d@lg.example>", i)] = string(raw)
		if _, err := srv.Deliver(anna, raw); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

func TestGraphMailFetchMovesAfterStoring(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	want := deliverN(t, srv, 0, 60) // more than one page of 50
	g := graphMail(t, srv, 0)
	res, err := g.Fetch(context.Background())
	if err != nil || res.Fetched != 60 || res.Deleted != 0 || folderCount(t, srv, "inbox") != 60 {
		t.Fatalf("fetch %+v %v, inbox %d", res, err, folderCount(t, srv, "inbox"))
	}
	handOff(t, g.Store, time.Now())
	if res, err := g.Fetch(context.Background()); err != nil || res.Fetched != 0 || res.Deleted != 60 {
		t.Fatalf("fetch after the hand-off %+v %v", res, err)
	}
	msgs, _ := g.Store.Messages(context.Background(), anna)
	if len(msgs) != 60 {
		t.Fatalf("%d stored", len(msgs))
	}
	for _, m := range msgs {
		if id := headerValue(string(m.Raw), "Message-ID"); want[id] != string(m.Raw) {
			t.Errorf("%s: stored MIME differs from what was delivered", id)
		}
	}
	if in, done := folderCount(t, srv, "inbox"), folderCount(t, srv, mail.DefaultDoneFolder); in != 0 || done != 60 {
		t.Fatalf("inbox %d, done folder %d", in, done)
	}
	if res, err := g.Fetch(context.Background()); err != nil || res.Fetched != 0 {
		t.Fatalf("second fetch %+v %v", res, err)
	}
}

// A failure after storing and before moving (here: the move answered 500,
// no retry) leaves the message in the Inbox; the next fetch only moves it.
func TestGraphMailFailedMoveNoDuplicate(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	deliverN(t, srv, 0, 5)
	g := graphMail(t, srv, 1)
	if res, err := g.Fetch(context.Background()); err != nil || res.Fetched != 5 {
		t.Fatalf("fetch: %+v %v", res, err)
	}
	handOff(t, g.Store, time.Now())
	// folders, inbox list, move 1, move 2 → 500
	srv.SetFaults(m365sim.Faults{Script: []int{0, 0, 0, 500}})
	res, err := g.Fetch(context.Background())
	if err == nil || res.Fetched != 0 || res.Deleted != 1 {
		t.Fatalf("fetch with a failing move: %+v %v", res, err)
	}
	if folderCount(t, srv, "inbox") != 4 {
		t.Fatalf("inbox %d, want 4", folderCount(t, srv, "inbox"))
	}
	res, err = g.Fetch(context.Background())
	if err != nil || res.Fetched != 0 || res.Deleted != 4 {
		t.Fatalf("second fetch %+v %v", res, err)
	}
	msgs, _ := g.Store.Messages(context.Background(), anna)
	if len(msgs) != 5 || folderCount(t, srv, "inbox") != 0 || folderCount(t, srv, mail.DefaultDoneFolder) != 5 {
		t.Fatalf("%d stored, inbox %d", len(msgs), folderCount(t, srv, "inbox"))
	}
}

// Throttling and server errors are retried; nothing is lost or stored twice.
func TestGraphMailFetchUnderFaults(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	want := deliverN(t, srv, 0, 15)
	g := graphMail(t, srv, 0)
	srv.SetFaults(m365sim.Faults{Script: []int{429, 0, 503, 0, 0, 500}, Status: map[int]float64{429: 0.1, 503: 0.05, 500: 0.05}})
	fetch := func() {
		for range 5 {
			if _, err := g.Fetch(context.Background()); err == nil {
				return
			}
		}
	}
	fetch()
	handOff(t, g.Store, time.Now())
	fetch()
	msgs, _ := g.Store.Messages(context.Background(), anna)
	seen := storedOnce(t, msgs)
	if len(seen) != len(want) || folderCount(t, srv, "inbox") != 0 {
		t.Fatalf("%d of %d stored, %d left in the inbox", len(seen), len(want), folderCount(t, srv, "inbox"))
	}
	if srv.Stats().InjectedStatus[429] == 0 {
		t.Fatal("no fault was injected")
	}
}

func TestGraphMailSend(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := graphMail(t, srv, 0)
	m := testMessage()
	if err := g.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	out := srv.Outbound()
	if len(out) != 2 || out[0].Via != "graph" {
		t.Fatalf("outbound %d", len(out))
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(out[0].Raw))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); got != subject {
		t.Errorf("subject %q", got)
	}
	if !bytes.Contains(out[0].Raw, []byte("Schriftsatz")) {
		t.Error("attachment missing")
	}
	if folderCount(t, srv, "sentitems") != 1 {
		t.Error("no copy in Sent Items")
	}
	big := testMessage()
	big.Attachments[0].Data = make([]byte, 4<<20)
	err = g.Send(context.Background(), big)
	var se *mail.SendError
	if !errors.Is(err, mail.ErrTooLargeToSend) || !errors.As(err, &se) || !strings.Contains(se.Advice(), "zu groß") {
		t.Fatalf("%v", err)
	}
	if len(srv.Outbound()) != 2 {
		t.Fatal("the oversized message went out")
	}
}

func TestGraphTestMail(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := graphMail(t, srv, 1)
	rep := g.SendTestMail(context.Background(), "Anna Müller", "")
	if rep.Err != nil || len(rep.Steps) != 1 || !rep.Steps[0].OK || !strings.Contains(rep.Steps[0].Detail, "202") ||
		!strings.Contains(rep.Steps[0].Detail, "request-id") {
		t.Fatalf("report:\n%s", rep.Text())
	}
	if folderCount(t, srv, "inbox") != 1 {
		t.Fatal("the test mail did not arrive in the own inbox")
	}
	srv.SetFaults(m365sim.Faults{Script: []int{503}})
	rep = g.SendTestMail(context.Background(), "Anna Müller", "")
	if rep.Err == nil || rep.Steps[0].OK || !strings.Contains(rep.Steps[0].Detail, "503") || !strings.Contains(rep.Text(), "später erneut") {
		t.Fatalf("report:\n%s", rep.Text())
	}
	t.Logf("report:\n%s", rep.Text())
}

// Two different messages with the same Message-ID (some mailers reuse
// them) are both stored before they leave the Inbox.
func TestGraphMailReusedMessageID(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	for _, body := range []string{"Erste Nachricht", "Zweite, andere Nachricht"} {
		raw := "From: scanner@kanzlei.example\r\nTo: " + anna + "\r\nSubject: Scan\r\nMessage-ID: <scan@scanner>\r\n\r\n" + body + "\r\n"
		if _, err := srv.Deliver(anna, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	g := graphMail(t, srv, 0)
	if res, err := g.Fetch(context.Background()); err != nil || res.Fetched != 2 {
		t.Fatalf("fetch %+v %v", res, err)
	}
	msgs, _ := g.Store.Messages(context.Background(), anna)
	if len(msgs) != 2 || bytes.Equal(msgs[0].Raw, msgs[1].Raw) {
		t.Fatalf("%d stored", len(msgs))
	}
}

// The Kommunikator's MIME goes out over Graph as it is: the recipients of
// the headers and the envelope's Bcc get it, the Bcc header does not
// travel, a copy is in Sent Items and found there by its Message-ID.
func TestGraphSendMIME(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := graphMail(t, srv, 0)
	jens, oezlem := "jens.schaefer@kanzlei.example", "oezlem.yilmaz@kanzlei.example"
	raw := []byte("From: " + anna + "\r\nTo: " + jens + "\r\nSubject: =?utf-8?q?Schriftsatz_M=C3=BCller?=\r\nMessage-ID: <mime1@kanzlei.example>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0100\r\n\r\nText mit Ümlauten.\r\n")
	if err := g.SendMIME(context.Background(), raw, []string{jens, oezlem}); err != nil {
		t.Fatal(err)
	}
	for _, upn := range []string{jens, oezlem} {
		st, _ := srv.State(upn)
		if len(st.Messages) != 1 {
			t.Fatalf("%s has %d messages", upn, len(st.Messages))
		}
		if b, _ := st.Messages[0]["bccRecipients"].([]any); len(b) != 0 {
			t.Errorf("%s sees the Bcc: %v", upn, b)
		}
	}
	if sent, err := g.InSentItems(context.Background(), raw); err != nil || !sent {
		t.Errorf("in Sent Items: %v %v", sent, err)
	}
	other := []byte(strings.Replace(string(raw), "<mime1@", "<mime2@", 1))
	if sent, err := g.InSentItems(context.Background(), other); err != nil || sent {
		t.Errorf("an unsent message in Sent Items: %v %v", sent, err)
	}
	// what Microsoft answers to a body that is no base64
	r := g.Client.Do(context.Background(), graph.Request{Method: "POST", URL: "/users/" + anna + "/sendMail", Raw: []byte("kein base64 !!"),
		Headers: map[string]string{"Content-Type": "text/plain"}})
	var ge *graph.Error
	if !errors.As(r.Err, &ge) || ge.Code != "ErrorMimeContentInvalidBase64String" {
		t.Errorf("bad base64: %v", r.Err)
	}
	big := append([]byte("From: "+anna+"\r\nTo: "+jens+"\r\nSubject: gross\r\n\r\n"), bytes.Repeat([]byte("x"), mail.MaxMIMESend+1)...)
	var se *mail.SendError
	if err := g.SendMIME(context.Background(), big, []string{jens}); !errors.As(err, &se) || !errors.Is(err, mail.ErrTooLargeForGraph) {
		t.Errorf("a message over one request: %v", err)
	}
}

// bigMessage is a Kommunikator message with a text part and attached files.
func bigMessage(t *testing.T, from, to, msgID string, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\nDate: Tue, 01 Dec 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=%q\r\n\r\n",
		from, to, mime.QEncoding.Encode("utf-8", "Akte Müller: Anlagen"), msgID, mw.Boundary())
	pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Transfer-Encoding": {"8bit"}})
	_, _ = pw.Write([]byte("Sehr geehrte Frau Özdemir,\r\nanbei die Unterlagen.\r\n"))
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		aw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {mime.FormatMediaType("application/pdf", map[string]string{"name": n})},
			"Content-Disposition": {mime.FormatMediaType("attachment", map[string]string{"filename": n})}, "Content-Transfer-Encoding": {"base64"}})
		enc := base64.StdEncoding.EncodeToString(files[n])
		for len(enc) > 76 {
			_, _ = io.WriteString(aw, enc[:76]+"\r\n")
			enc = enc[76:]
		}
		_, _ = io.WriteString(aw, enc+"\r\n")
	}
	_ = mw.Close()
	return b.Bytes()
}

// attachedFiles reads the files of a delivered message.
func attachedFiles(t *testing.T, raw []byte) map[string][]byte {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	var walk func(ct string, body io.Reader)
	walk = func(ct string, body io.Reader) {
		mt, params, _ := mime.ParseMediaType(ct)
		if !strings.HasPrefix(mt, "multipart/") {
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return
			}
			if p.FileName() != "" {
				data, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
				out[p.FileName()] = data
				continue
			}
			walk(p.Header.Get("Content-Type"), p)
		}
	}
	walk(m.Header.Get("Content-Type"), m.Body)
	return out
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return b
}

// A 30 MB attachment goes over Graph as Microsoft documents it: draft from
// MIME, the file through an upload session, send. With the mailbox's
// default limit (35 MB, counted encoded) the same message is refused as
// too large, permanently, and leaves no draft behind.
func TestGraphSendLarge(t *testing.T) {
	tf := m365sim.DemoTenant(time.Now())
	tf.SMTPMaxSize = 50 << 20 // Set-Mailbox -MaxSendSize 50MB
	srv := simtest.Start(t, tf, m365sim.Options{})
	g := graphMail(t, srv, 0)
	jens := "jens.schaefer@kanzlei.example"
	files := map[string][]byte{"Klageschrift.pdf": randomBytes(30 << 20), "Vollmacht Müller.pdf": randomBytes(200 << 10)}
	raw := bigMessage(t, anna, jens, "<gross1@kanzlei.example>", files)
	// an earlier attempt's draft (a crash after creating it) is replaced
	r := g.Client.Do(context.Background(), graph.Request{Method: "POST", URL: "/users/" + anna + "/messages",
		Raw:     []byte(base64.StdEncoding.EncodeToString([]byte("From: " + anna + "\r\nTo: " + jens + "\r\nSubject: alt\r\nMessage-ID: <gross1@kanzlei.example>\r\n\r\nx\r\n"))),
		Headers: map[string]string{"Content-Type": "text/plain"}})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if err := g.SendMIME(context.Background(), raw, []string{jens}); err != nil {
		t.Fatal(err)
	}
	st, _ := srv.State(jens)
	if len(st.Messages) != 1 {
		t.Fatalf("jens has %d messages", len(st.Messages))
	}
	raws, err := srv.RawMessages(jens, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	got := attachedFiles(t, raws[0])
	for n, want := range files {
		if !bytes.Equal(got[n], want) {
			t.Errorf("%s: %d bytes arrived, %d sent", n, len(got[n]), len(want))
		}
	}
	if subj := st.Messages[0]["subject"]; subj != "Akte Müller: Anlagen" {
		t.Errorf("subject %q", subj)
	}
	if n := folderCount(t, srv, "drafts"); n != 0 {
		t.Errorf("%d drafts left", n)
	}
	if sent, err := g.InSentItems(context.Background(), raw); err != nil || !sent {
		t.Errorf("in Sent Items: %v %v", sent, err)
	}
	uploads := 0
	for _, l := range srv.Requests() {
		if l.Service == "upload" && l.Status/100 == 2 {
			uploads++
		}
	}
	if want := (30<<20 + graph.UploadChunk - 1) / graph.UploadChunk; uploads != want {
		t.Errorf("%d ranges uploaded, want %d", uploads, want)
	}

	small := simtest.Start(t, nil, m365sim.Options{}) // 35 MB, Microsoft's default
	g2 := graphMail(t, small, 0)
	err = g2.SendMIME(context.Background(), raw, []string{jens})
	var se *mail.SendError
	if !errors.As(err, &se) || se.Code != 552 || !strings.Contains(se.Message, "ErrorMessageSizeExceeded") {
		t.Fatalf("30 MB over a 35 MB mailbox: %v", err)
	}
	if !strings.Contains(se.Advice(), "zu groß") {
		t.Errorf("advice %q", se.Advice())
	}
	if n := folderCount(t, small, "drafts"); n != 0 {
		t.Errorf("%d drafts left after the refusal", n)
	}
	if st, _ := small.State(jens); len(st.Messages) != 0 {
		t.Errorf("jens got %d messages", len(st.Messages))
	}
}

func deltaMail(t *testing.T, srv *m365sim.Server, attempts int) *mail.GraphMail {
	g := graphMail(t, srv, attempts)
	g.MoveTo = "" // the default: copy, leave the mailbox as it is
	return g
}

// The default over Graph: the Inbox's delta query finds new mail, which is
// copied; nothing is moved or deleted, also after the Kommunikator took it.
// What the user deletes or moves in Outlook changes nothing here.
func TestGraphMailDeltaCopies(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	want := deliverN(t, srv, 0, 60) // two pages of 50
	g := deltaMail(t, srv, 0)
	res, err := g.Fetch(context.Background())
	if err != nil || res.Fetched != 60 || res.Deleted != 0 {
		t.Fatalf("first round: %+v %v", res, err)
	}
	handOff(t, g.Store, time.Now())
	if res, err := g.Fetch(context.Background()); err != nil || res.Fetched != 0 || res.Deleted != 0 {
		t.Fatalf("nothing new: %+v %v", res, err)
	}
	if in := folderCount(t, srv, "inbox"); in != 60 {
		t.Fatalf("inbox %d after the Kommunikator took everything, want 60 (nothing moved)", in)
	}
	more := deliverN(t, srv, 60, 3)
	// the user deletes one message and flags another in Outlook
	gu := graph.New(srv.URL(), testsupport.StaticTokens{Token: simtest.SignIn(t, srv, anna).AccessToken}, graph.Options{})
	pages, err := gu.GetAll(context.Background(), "/users/"+anna+"/mailFolders/inbox/messages?$select=id&$top=50")
	if err != nil || len(pages) < 2 {
		t.Fatalf("list: %v", err)
	}
	var first, second struct{ ID string }
	_ = json.Unmarshal(pages[0], &first)
	_ = json.Unmarshal(pages[1], &second)
	if r := gu.Do(context.Background(), graph.Request{Method: "DELETE", URL: "/users/" + anna + "/messages/" + first.ID}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := gu.Do(context.Background(), graph.Request{Method: "PATCH", URL: "/users/" + anna + "/messages/" + second.ID, Body: map[string]any{"isRead": true}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if res, err := g.Fetch(context.Background()); err != nil || res.Fetched != 3 {
		t.Fatalf("round after 3 new, 1 deleted, 1 read: %+v %v", res, err)
	}
	msgs, _ := g.Store.Messages(context.Background(), anna)
	seen := map[string]int{}
	for _, m := range msgs {
		seen[headerValue(string(m.Raw), "Message-ID")]++
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("%s stored %d times", id, seen[id])
		}
	}
	for id := range more {
		if seen[id] != 1 {
			t.Errorf("new %s stored %d times", id, seen[id])
		}
	}
	if n := folderCount(t, srv, mail.DefaultDoneFolder); n != 0 {
		t.Errorf("%d moved", n)
	}
}

// A round cut off after storing (a crash, here a 500 that is not retried)
// keeps the old delta link: the next round lists the same messages again
// and stores none twice. An expired link (410 SyncStateNotFound, Exchange
// keeps only the newest sync states) starts over, again without doubles.
func TestGraphMailDeltaRepeatAndExpiry(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	deliverN(t, srv, 0, 5)
	g := deltaMail(t, srv, 1)
	if res, err := g.Fetch(context.Background()); err != nil || res.Fetched != 5 {
		t.Fatalf("first round: %+v %v", res, err)
	}
	deliverN(t, srv, 5, 60)
	// delta page 1 (50), its 50 $value reads, page 2 → 500
	script := make([]int, 52)
	script[51] = 500
	srv.SetFaults(m365sim.Faults{Script: script})
	res, err := g.Fetch(context.Background())
	if err == nil || res.Fetched != 50 {
		t.Fatalf("cut-off round: %+v %v", res, err)
	}
	srv.SetFaults(m365sim.Faults{})
	if res, err := g.Fetch(context.Background()); err != nil || res.Fetched != 10 {
		t.Fatalf("repeated round: %+v %v", res, err)
	}
	// three more rounds make the stored link's generation too old
	link, _ := g.Store.DeltaLink(context.Background(), anna)
	for range 3 {
		if _, err := g.Fetch(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Store.SetDeltaLink(context.Background(), anna, link, time.Now()); err != nil {
		t.Fatal(err)
	}
	deliverN(t, srv, 65, 2)
	srv.ResetRequests()
	if res, err := g.Fetch(context.Background()); err != nil || res.Fetched != 2 {
		t.Fatalf("after an expired link: %+v %v", res, err)
	}
	gone := false
	for _, l := range srv.Requests() {
		gone = gone || l.Status == 410 && l.ErrorCode == "SyncStateNotFound"
	}
	if !gone {
		t.Error("the old link was not refused as expired")
	}
	msgs, _ := g.Store.Messages(context.Background(), anna)
	seen := storedOnce(t, msgs)
	if len(seen) != 67 {
		t.Errorf("%d of 67 stored", len(seen))
	}
}
