package m365sim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
)

func benchClient(b *testing.B, srv *m365sim.Server) (string, *http.Client) {
	tok := simtest.SignIn(b, srv, anna).AccessToken
	return tok, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
}

func post(b *testing.B, c *http.Client, u, tok string, body []byte) {
	req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// BenchmarkGraphCreateEvent measures POST /me/events over loopback.
func BenchmarkGraphCreateEvent(b *testing.B) {
	srv := simtest.Start(b, nil, m365sim.Options{})
	tok, c := benchClient(b, srv)
	body, _ := json.Marshal(event("Termin", "2026-06-01T10:00:00", "2026-06-01T11:00:00", "Europe/Berlin", false))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		post(b, c, srv.GraphURL()+"/me/events", tok, body)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkGraphBatch20 measures $batch with 20 creates each (Outlook's
// four-request concurrency limit applies to the items).
func BenchmarkGraphBatch20(b *testing.B) {
	srv := simtest.Start(b, nil, m365sim.Options{})
	tok, c := benchClient(b, srv)
	var reqs []any
	for i := range 20 {
		reqs = append(reqs, map[string]any{"id": fmt.Sprint(i), "method": "POST", "url": "/me/contacts",
			"headers": map[string]any{"Content-Type": "application/json"}, "body": map[string]any{"surname": "Müller"}, "dependsOn": deps(i)})
	}
	body, _ := json.Marshal(map[string]any{"requests": reqs})
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		post(b, c, srv.GraphURL()+"/$batch", tok, body)
	}
	b.ReportMetric(float64(20*b.N)/time.Since(start).Seconds(), "items/s")
}

// BenchmarkTokenClientCredentials measures token issuance (RS256 signing).
func BenchmarkTokenClientCredentials(b *testing.B) {
	srv := simtest.Start(b, nil, m365sim.Options{})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {m365sim.DemoClientID},
		"client_secret": {m365sim.DemoClientSecret}, "scope": {"https://graph.microsoft.com/.default"}}.Encode()
	c := &http.Client{}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		resp, err := c.Post(srv.AuthorityURL(m365sim.DemoTenantID)+"/oauth2/v2.0/token", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err, resp)
		}
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tokens/s")
}

// BenchmarkPOP3Retr measures RETR of 50 KB messages over STLS.
func BenchmarkPOP3Retr(b *testing.B) {
	srv := simtest.Start(b, nil, m365sim.Options{})
	msg := "Subject: Anlage\r\n\r\n" + strings.Repeat(strings.Repeat("x", 76)+"\r\n", 650)
	if _, err := srv.Deliver(anna, []byte(msg)); err != nil {
		b.Fatal(err)
	}
	tok := simtest.SignIn(b, srv, anna, "https://outlook.office365.com/POP.AccessAsUser.All").AccessToken
	t := &testing.T{}
	c := dial(t, srv.POP3SAddr(), simtest.TLSConfig(srv))
	c.line()
	if r := c.cmd("AUTH XOAUTH2 %s", xoauth2(anna, tok)); !strings.HasPrefix(r, "+OK") {
		b.Fatal(r)
	}
	b.ResetTimer()
	start := time.Now()
	total := 0
	for range b.N {
		_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
		c.cmd("RETR 1")
		for _, l := range c.multi() {
			total += len(l) + 2
		}
	}
	b.ReportMetric(float64(total)/1e6/time.Since(start).Seconds(), "MB/s")
	c.cmd("QUIT")
	c.conn.Close()
}

// BenchmarkMailboxMemory reports the heap an emulated mailbox needs per event.
func BenchmarkMailboxMemory(b *testing.B) {
	const n = 5000
	for range b.N {
		srv := simtest.Start(b, nil, m365sim.Options{})
		tok, c := benchClient(b, srv)
		body, _ := json.Marshal(event("Termin mit etwas längerem Betreff", "2026-06-01T10:00:00", "2026-06-01T11:00:00", "Europe/Berlin", false))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range n {
			post(b, c, srv.GraphURL()+"/me/events", tok, body)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-bytes/event")
		srv.Close()
	}
}
