package m365sim_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/testsupport"
)

func TestInspectionAPIOverHTTP(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	g.do("POST", "/me/contacts", map[string]any{"givenName": "Ida", "surname": "Ölmann"}, nil)

	get := func(path string, v any) int {
		resp, err := http.Get(srv.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if v != nil {
			_ = json.NewDecoder(resp.Body).Decode(v)
		}
		return resp.StatusCode
	}
	var st m365sim.MailboxState
	if code := get("/_sim/state/"+anna, &st); code != 200 || len(st.Contacts) != 1 || st.Contacts[0]["surname"] != "Ölmann" {
		t.Fatalf("state: %d %+v", code, st.Contacts)
	}
	if code := get("/_sim/state/niemand@x.example", nil); code != 404 {
		t.Errorf("unknown user: %d", code)
	}
	var reqs []m365sim.LoggedRequest
	get("/_sim/requests", &reqs)
	var sawToken, sawPost bool
	for _, r := range reqs {
		if r.Service == "entra" && strings.HasSuffix(r.Path, "/token") {
			sawToken = true
			if strings.Contains(r.Body, m365sim.DemoClientSecret) || !strings.Contains(r.Body, "redacted") {
				t.Errorf("token request logged with its secret: %q", r.Body)
			}
		}
		if r.Service == "graph" && r.Method == "POST" && r.Path == "/v1.0/me/contacts" && r.Status == 201 && r.User == anna {
			sawPost = true
		}
	}
	if !sawToken || !sawPost {
		t.Errorf("request log lacks the token request (%v) or the POST (%v)", sawToken, sawPost)
	}
	put := func(path, body string) int {
		req, _ := http.NewRequest("PUT", srv.URL()+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put("/_sim/faults", `{"status":{"503":1},"retryAfter":3}`); code != 204 {
		t.Fatalf("put faults: %d", code)
	}
	if st, _, h := g.do("GET", "/me/events", nil, nil); st != 503 || h.Get("Retry-After") != "3" {
		t.Errorf("after PUT /_sim/faults: %d %q", st, h.Get("Retry-After"))
	}
	if code := put("/_sim/faults", `{"unbekannt":1}`); code != 400 {
		t.Errorf("bad faults body: %d", code)
	}
	put("/_sim/faults", `{}`)
	resp, err := http.Post(srv.URL()+"/_sim/deliver/"+jens, "message/rfc822", strings.NewReader("Subject: Hallo\r\n\r\nText\r\n"))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("deliver: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, _ = http.Post(srv.URL()+"/_sim/clock?advance=2h", "", nil)
	resp.Body.Close()
	if st, _, _ := g.do("GET", "/me/events", nil, nil); st != 401 {
		t.Errorf("after advancing the clock by 2h the token should have expired: %d", st)
	}
}

func TestStateFileSurvivesRestart(t *testing.T) {
	file := filepath.Join(testsupport.TempDir(t), "sim-state.json")
	tf := m365sim.DemoTenant(time.Now())
	srv, err := m365sim.New(tf, m365sim.Options{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	tok := simtest.SignIn(t, srv, anna)
	g := &graphClient{t: t, srv: srv, token: tok.AccessToken}
	st, ev, _ := g.do("POST", "/me/events", event("Bleibt", "2026-06-01", "2026-06-02", "UTC", true), nil)
	if st != 201 {
		t.Fatal(ev)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("close (saves): %v", err)
	}
	srv2, err := m365sim.New(tf, m365sim.Options{StateFile: file})
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if err := srv2.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	g2 := &graphClient{t: t, srv: srv2, token: tok.AccessToken}
	if st, got, _ := g2.do("GET", "/me/events/"+ev["id"].(string), nil, nil); st != 200 || got["subject"] != "Bleibt" {
		t.Errorf("after restart, the old access token and the event: %d %v", st, got)
	}
	code, body := postTokenOK(t, srv2, map[string][]string{"grant_type": {"refresh_token"}, "client_id": {m365sim.DemoClientID},
		"client_secret": {m365sim.DemoClientSecret}, "refresh_token": {tok.RefreshToken}})
	if code != 200 {
		t.Errorf("refresh token after restart: %d %v", code, body)
	}
}

func TestSeedMakesIDsRepeatable(t *testing.T) {
	ids := func() []string {
		srv := simtest.Start(t, nil, m365sim.Options{})
		g := newGraphClient(t, srv, anna)
		var out []string
		for range 3 {
			_, c, _ := g.do("POST", "/me/contacts", map[string]any{"surname": "Gleich"}, nil)
			out = append(out, c["id"].(string))
		}
		return out
	}
	a, b := ids(), ids()
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("same seed, different ids:\n%v\n%v", a, b)
	}
}

func TestTenantFileValidation(t *testing.T) {
	dir := testsupport.TempDir(t)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := writeFile(p, body); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, body := range map[string]string{
		"no tenants":     `{"tenants":[]}`,
		"bad guid":       `{"tenants":[{"id":"kanzlei","domains":[],"users":[],"apps":[]}]}`,
		"unknown field":  `{"tenantz":[]}`,
		"duplicate user": `{"tenants":[{"id":"6f1c2b7e-3d4a-4e59-9a1b-2c3d4e5f6a7b","users":[{"id":"0a1b2c3d-0000-4000-8000-000000000001","upn":"a@b.de"},{"id":"0a1b2c3d-0000-4000-8000-000000000002","upn":"A@b.de"}],"apps":[]}]}`,
		"not json":       `tenants: []`,
		"bad duration":   `{"accessTokenLifetime": 5, "tenants":[]}`,
	} {
		if _, err := m365sim.LoadTenantFile(write(strings.ReplaceAll(name, " ", "_")+".json", body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	demo, _ := json.Marshal(m365sim.DemoTenant(time.Now()))
	if _, err := m365sim.LoadTenantFile(write("demo.json", string(demo))); err != nil {
		t.Errorf("the demo tenant as a file: %v", err)
	}
}
