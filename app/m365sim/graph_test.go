package m365sim_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
)

const (
	jens      = "jens.schaefer@kanzlei.example"
	sourceKey = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name kanzleisync.SourceKey"
)

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func wantStatus(t *testing.T, what string, got, want int, body map[string]any) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d: %v", what, got, want, body)
	}
}

func event(subject, start, end, zone string, allDay bool) map[string]any {
	return map[string]any{"subject": subject, "isAllDay": allDay,
		"start": map[string]any{"dateTime": start, "timeZone": zone},
		"end":   map[string]any{"dateTime": end, "timeZone": zone}}
}

func TestEventsCRUDAndRules(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)

	st, ev, _ := g.do("POST", "/me/events", event("Frist: Berufungsbegründung 123/24", "2026-03-29", "2026-03-30", "W. Europe Standard Time", true), nil)
	wantStatus(t, "create all-day", st, 201, ev)
	id := ev["id"].(string)
	if ev["isAllDay"] != true || ev["start"].(map[string]any)["dateTime"] != "2026-03-29T00:00:00.0000000" {
		t.Errorf("all-day event start = %v", ev["start"])
	}

	for _, tc := range []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"not midnight", event("x", "2026-03-29T09:00:00", "2026-03-30T00:00:00", "UTC", true), "midnight"},
		{"shorter than a day", event("x", "2026-03-29T00:00:00", "2026-03-29T00:00:00", "UTC", true), "at least 24 hours"},
		{"end before start", event("x", "2026-03-29T10:00:00", "2026-03-29T09:00:00", "UTC", false), "earlier"},
		{"unknown zone", event("x", "2026-03-29T10:00:00", "2026-03-29T11:00:00", "Mars/Olympus", false), "TimeZone"},
		{"invalid date", event("x", "2026-02-30T10:00:00", "2026-03-29T11:00:00", "UTC", false), "2026-02-30"},
	} {
		st, body, _ := g.do("POST", "/me/events", tc.body, nil)
		msg := fmt.Sprint(body["error"])
		if st != 400 || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %s", tc.name, st, msg)
		}
	}

	etag := ev["@odata.etag"].(string)
	st, upd, _ := g.do("PATCH", "/me/events/"+id, map[string]any{"subject": "Frist: Berufungsbegründung (verlängert)"}, map[string]string{"If-Match": etag})
	wantStatus(t, "patch", st, 200, upd)
	if upd["changeKey"] == ev["changeKey"] || upd["isAllDay"] != true || upd["subject"] != "Frist: Berufungsbegründung (verlängert)" {
		t.Errorf("patch: changeKey %v→%v, isAllDay %v, subject %v", ev["changeKey"], upd["changeKey"], upd["isAllDay"], upd["subject"])
	}
	st, body, _ := g.do("PATCH", "/me/events/"+id, map[string]any{"subject": "stale"}, map[string]string{"If-Match": etag})
	if st != 412 || errCode(body) != "ErrorIrresolvableConflict" {
		t.Errorf("stale If-Match: %d %v", st, body)
	}
	st, body, _ = g.do("DELETE", "/me/events/"+id, nil, nil)
	wantStatus(t, "delete", st, 204, body)
	st, body, _ = g.do("GET", "/me/events/"+id, nil, nil)
	if st != 404 || errCode(body) != "ErrorItemNotFound" {
		t.Errorf("get deleted: %d %v", st, body)
	}
	st, body, _ = g.do("PATCH", "/me/events/"+id, map[string]any{"subject": "x"}, nil)
	if st != 404 || errCode(body) != "ErrorItemNotFound" {
		t.Errorf("patch deleted: %d %v", st, body)
	}
}

func TestTransactionIDMakesPOSTIdempotent(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	ev := event("Termin Müller ./. Schmidt", "2026-10-25T02:30:00", "2026-10-25T03:30:00", "Europe/Berlin", false)
	ev["transactionId"] = "kanzleisync-termin-4711-v1"
	st1, a, _ := g.do("POST", "/me/events", ev, nil)
	st2, b, _ := g.do("POST", "/me/events", ev, nil)
	if st1 != 201 || st2 != 201 || a["id"] != b["id"] {
		t.Fatalf("repeated POST: %d %v / %d %v", st1, a["id"], st2, b["id"])
	}
	state, _ := srv.State(anna)
	if len(state.Events) != 1 {
		t.Fatalf("%d events after a repeated POST, want 1", len(state.Events))
	}
}

func TestTimeZonesAndPrefer(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	// 29 March 2026: clocks in Germany go from 02:00 to 03:00.
	st, ev, _ := g.do("POST", "/me/events", event("Besprechung", "2026-03-29T01:30:00", "2026-03-29T04:00:00", "W. Europe Standard Time", false), nil)
	wantStatus(t, "create", st, 201, ev)
	id := ev["id"].(string)
	if ev["start"].(map[string]any)["timeZone"] != "UTC" || ev["start"].(map[string]any)["dateTime"] != "2026-03-29T00:30:00.0000000" ||
		ev["end"].(map[string]any)["dateTime"] != "2026-03-29T02:00:00.0000000" {
		t.Errorf("without Prefer the times are UTC: start %v end %v", ev["start"], ev["end"])
	}
	if ev["originalStartTimeZone"] != "W. Europe Standard Time" {
		t.Errorf("originalStartTimeZone = %v", ev["originalStartTimeZone"])
	}
	for _, zone := range []string{"W. Europe Standard Time", "Europe/Berlin"} {
		st, got, h := g.do("GET", "/me/events/"+id, nil, map[string]string{"Prefer": `outlook.timezone="` + zone + `"`})
		wantStatus(t, "get", st, 200, got)
		if got["start"].(map[string]any)["dateTime"] != "2026-03-29T01:30:00.0000000" || got["end"].(map[string]any)["dateTime"] != "2026-03-29T04:00:00.0000000" || got["start"].(map[string]any)["timeZone"] != zone {
			t.Errorf("Prefer %s: start %v end %v", zone, got["start"], got["end"])
		}
		if !strings.Contains(h.Get("Preference-Applied"), zone) {
			t.Errorf("Preference-Applied = %q", h.Get("Preference-Applied"))
		}
	}
	st, view, _ := g.do("GET", "/me/calendarView?startDateTime=2026-03-29T00:00:00Z&endDateTime=2026-03-29T01:00:00Z", nil, nil)
	if st != 200 || len(view["value"].([]any)) != 1 {
		t.Errorf("calendarView overlapping: %d %v", st, view)
	}
	st, view, _ = g.do("GET", "/me/calendarView?startDateTime=2026-03-30T00:00:00Z&endDateTime=2026-03-31T00:00:00Z", nil, nil)
	if st != 200 || len(view["value"].([]any)) != 0 {
		t.Errorf("calendarView outside: %d %v", st, view)
	}
	st, view, _ = g.do("GET", "/me/calendarView", nil, nil)
	if st != 400 || errCode(view) != "ErrorInvalidParameter" {
		t.Errorf("calendarView without window: %d %v", st, view)
	}
}

func TestBodiesAsOutlookReturnsThem(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	ev := event("Mandantengespräch", "2026-05-04T09:00:00", "2026-05-04T10:00:00", "Europe/Berlin", false)
	ev["body"] = map[string]any{"contentType": "text", "content": "Akte 123/24\nBitte Vollmacht mitbringen <wichtig>"}
	_, created, _ := g.do("POST", "/me/events", ev, nil)
	body := created["body"].(map[string]any)
	if body["contentType"] != "html" || !strings.Contains(body["content"].(string), "Akte 123/24<br>") || !strings.Contains(body["content"].(string), "&lt;wichtig&gt;") {
		t.Errorf("a text body comes back as HTML by default: %v", body)
	}
	_, asText, _ := g.do("GET", "/me/events/"+created["id"].(string), nil, map[string]string{"Prefer": `outlook.body-content-type="text"`})
	if b := asText["body"].(map[string]any); b["contentType"] != "text" || b["content"] != "Akte 123/24\nBitte Vollmacht mitbringen <wichtig>" {
		t.Errorf("body as text: %q", b["content"])
	}
	if asText["bodyPreview"] != "Akte 123/24 Bitte Vollmacht mitbringen <wichtig>" {
		t.Errorf("bodyPreview = %q", asText["bodyPreview"])
	}
}

func TestExtendedPropertiesFilterAndExpand(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	for i, kind := range []string{"events", "contacts"} {
		body := map[string]any{"singleValueExtendedProperties": []any{map[string]any{"id": sourceKey, "value": fmt.Sprintf("termin:%d", 4711+i)}}}
		if kind == "events" {
			body = event("Termin", "2026-06-01T10:00:00", "2026-06-01T11:00:00", "UTC", false)
			body["singleValueExtendedProperties"] = []any{map[string]any{"id": sourceKey, "value": "termin:4711"}}
		} else {
			body["givenName"] = "Jürgen"
			body["surname"] = "Weiß"
		}
		st, created, _ := g.do("POST", "/me/"+kind, body, nil)
		wantStatus(t, "create "+kind, st, 201, created)
		if _, ok := created["singleValueExtendedProperties"]; ok {
			t.Errorf("%s: extended properties are returned only with $expand", kind)
		}
		val := fmt.Sprint(body["singleValueExtendedProperties"].([]any)[0].(map[string]any)["value"])
		filter := fmt.Sprintf("singleValueExtendedProperties/Any(ep: ep/id eq '%s' and ep/value eq '%s')", sourceKey, val)
		expand := fmt.Sprintf("singleValueExtendedProperties($filter=id eq '%s')", sourceKey)
		q := url.Values{"$filter": {filter}, "$expand": {expand}}
		st, found, _ := g.do("GET", "/me/"+kind+"?"+q.Encode(), nil, nil)
		wantStatus(t, "filter "+kind, st, 200, found)
		vals := found["value"].([]any)
		if len(vals) != 1 || vals[0].(map[string]any)["id"] != created["id"] {
			t.Fatalf("%s: filter found %d items", kind, len(vals))
		}
		ext := vals[0].(map[string]any)["singleValueExtendedProperties"].([]any)
		if len(ext) != 1 || ext[0].(map[string]any)["value"] != val {
			t.Errorf("%s: expanded properties %v", kind, ext)
		}
		q.Set("$filter", strings.Replace(filter, val, "termin:0", 1))
		_, none, _ := g.do("GET", "/me/"+kind+"?"+q.Encode(), nil, nil)
		if len(none["value"].([]any)) != 0 {
			t.Errorf("%s: filter with another value found %v", kind, none["value"])
		}
	}
	st, body, _ := g.do("POST", "/me/contacts", map[string]any{"singleValueExtendedProperties": []any{map[string]any{"id": "SourceKey", "value": "x"}}}, nil)
	if st != 400 {
		t.Errorf("invalid extended property id: %d %v", st, body)
	}
}

// Graph's rules for filtering extended properties: the Name in the id is
// case-sensitive (the type and GUID are not), the value is not; and a
// contact is found by one of its mail addresses.
func TestFilterCaseRulesAndContactAddress(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	body := map[string]any{"givenName": "Käthe", "surname": "Groß",
		"emailAddresses":                []any{map[string]any{"address": "k.gross@mandant.example", "name": "Käthe Groß"}, map[string]any{"address": "kaethe@privat.example"}},
		"singleValueExtendedProperties": []any{map[string]any{"id": sourceKey, "value": "adresse:AB12"}}}
	st, created, _ := g.do("POST", "/me/contacts", body, nil)
	wantStatus(t, "create contact", st, 201, created)
	count := func(filter string) int {
		t.Helper()
		st, found, _ := g.do("GET", "/me/contacts?"+url.Values{"$filter": {filter}}.Encode(), nil, nil)
		wantStatus(t, filter, st, 200, found)
		return len(found["value"].([]any))
	}
	ext := func(id, value string) string {
		return fmt.Sprintf("singleValueExtendedProperties/Any(ep: ep/id eq '%s' and ep/value eq '%s')", id, value)
	}
	for _, c := range []struct {
		filter string
		want   int
	}{
		{ext(sourceKey, "adresse:AB12"), 1},
		{ext(sourceKey, "ADRESSE:ab12"), 1}, // the value ignores case
		{ext(strings.ToUpper(strings.Split(sourceKey, " Name ")[0])+" Name kanzleisync.SourceKey", "adresse:AB12"), 1}, // type and GUID too
		{ext(strings.Replace(sourceKey, "kanzleisync.SourceKey", "kanzleisync.sourcekey", 1), "adresse:AB12"), 0},      // the Name does not
		{"emailAddresses/any(a:a/address eq 'kaethe@privat.example')", 1},
		{"emailAddresses/any(a:a/address eq 'K.Gross@Mandant.example')", 1},
		{"emailAddresses/any(a:a/address eq 'niemand@mandant.example')", 0},
	} {
		if n := count(c.filter); n != c.want {
			t.Errorf("%s: %d contacts, want %d", c.filter, n, c.want)
		}
	}
}

func TestPagingAndSelect(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	for i := range 25 {
		if st, b, _ := g.do("POST", "/me/contacts", map[string]any{"givenName": fmt.Sprintf("Person%02d", i), "surname": "Schröder"}, nil); st != 201 {
			t.Fatalf("create: %d %v", st, b)
		}
	}
	seen := map[string]bool{}
	next := g.srv.GraphURL() + "/me/contacts?$select=givenName"
	pages := 0
	for next != "" {
		path := strings.TrimPrefix(next, g.srv.GraphURL())
		st, page, _ := g.do("GET", path, nil, nil)
		wantStatus(t, "page", st, 200, page)
		for _, v := range page["value"].([]any) {
			m := v.(map[string]any)
			seen[m["id"].(string)] = true
			if _, ok := m["surname"]; ok {
				t.Fatal("$select=givenName returned surname")
			}
		}
		next, _ = page["@odata.nextLink"].(string)
		pages++
	}
	if len(seen) != 25 || pages != 3 {
		t.Errorf("paging gave %d distinct contacts in %d pages, want 25 in 3 (default page size 10)", len(seen), pages)
	}
	_, top, _ := g.do("GET", "/me/contacts?$top=25", nil, nil)
	if len(top["value"].([]any)) != 25 || top["@odata.nextLink"] != nil {
		t.Errorf("$top=25: %d items, nextLink %v", len(top["value"].([]any)), top["@odata.nextLink"])
	}
	st, bad, _ := g.do("GET", "/me/contacts?$select=schuhgroesse", nil, nil)
	if st != 400 || errCode(bad) != "RequestBroker--ParseUri" {
		t.Errorf("unknown $select: %d %v", st, bad)
	}
	st, bad, _ = g.do("GET", "/me/contacts?$top=viele", nil, nil)
	if st != 400 {
		t.Errorf("bad $top: %d %v", st, bad)
	}
}

func TestToDo(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	st, list, _ := g.do("POST", "/me/todo/lists", map[string]any{"displayName": "Fristen (kanzleisync)"}, nil)
	wantStatus(t, "create list", st, 201, list)
	lid := list["id"].(string)
	task := map[string]any{"title": "Frist 123/24: Klageerwiderung", "importance": "high",
		"dueDateTime":     map[string]any{"dateTime": "2026-07-01T00:00:00", "timeZone": "W. Europe Standard Time"},
		"linkedResources": []any{map[string]any{"applicationName": "kanzleisync", "displayName": "Akte 123/24", "externalId": "frist:815"}}}
	st, created, _ := g.do("POST", "/me/todo/lists/"+lid+"/tasks", task, nil)
	wantStatus(t, "create task", st, 201, created)
	tid := created["id"].(string)
	// To Do keeps due dates in UTC: midnight in Berlin is 22:00 the day before.
	if due := created["dueDateTime"].(map[string]any); due["dateTime"] != "2026-06-30T22:00:00.0000000" || due["timeZone"] != "UTC" {
		t.Errorf("dueDateTime = %v", due)
	}
	if lr := created["linkedResources"].([]any); len(lr) != 1 || lr[0].(map[string]any)["externalId"] != "frist:815" {
		t.Errorf("linkedResources = %v", created["linkedResources"])
	}
	st, done, _ := g.do("PATCH", "/me/todo/lists/"+lid+"/tasks/"+tid, map[string]any{"status": "completed"}, nil)
	wantStatus(t, "complete", st, 200, done)
	if done["completedDateTime"] == nil || done["title"] != task["title"] {
		t.Errorf("completed task: %v", done)
	}
	_, withLinks, _ := g.do("GET", "/me/todo/lists/"+lid+"/tasks?$expand=linkedResources", nil, nil)
	if v := withLinks["value"].([]any); len(v) != 1 || len(v[0].(map[string]any)["linkedResources"].([]any)) != 1 {
		t.Errorf("$expand=linkedResources: %v", withLinks)
	}
	// todoTask has no singleValueExtendedProperties in Graph v1.0.
	st, bad, _ := g.do("POST", "/me/todo/lists/"+lid+"/tasks", map[string]any{"title": "x",
		"singleValueExtendedProperties": []any{map[string]any{"id": sourceKey, "value": "x"}}}, nil)
	if st != 400 || errCode(bad) != "RequestBodyRead" {
		t.Errorf("extended property on a task: %d %v", st, bad)
	}
	st, _, _ = g.do("DELETE", "/me/todo/lists/"+lid, nil, nil)
	st2, gone, _ := g.do("GET", "/me/todo/lists/"+lid+"/tasks/"+tid, nil, nil)
	if st != 204 || st2 != 404 {
		t.Errorf("delete list: %d, then task: %d %v", st, st2, gone)
	}
}

func TestMessagesAndSendMail(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	st, _, _ := g.do("POST", "/me/sendMail", map[string]any{"message": map[string]any{
		"subject": "Schriftsatz Müller ./. Schäfer", "body": map[string]any{"contentType": "Text", "content": "Anbei der Entwurf."},
		"toRecipients": []any{map[string]any{"emailAddress": map[string]any{"address": jens, "name": "Jens Schäfer"}}},
		"attachments": []any{map[string]any{"@odata.type": "#microsoft.graph.fileAttachment", "name": "Entwurf.txt",
			"contentType": "text/plain", "contentBytes": "RW50d3VyZg=="}}}}, nil)
	if st != 202 {
		t.Fatalf("sendMail: %d", st)
	}
	gj := newGraphClient(t, srv, jens)
	st, inbox, _ := gj.do("GET", "/me/mailFolders/inbox/messages", nil, nil)
	wantStatus(t, "inbox", st, 200, inbox)
	msgs := inbox["value"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the recipient's inbox, want 1", len(msgs))
	}
	m := msgs[0].(map[string]any)
	if m["subject"] != "Schriftsatz Müller ./. Schäfer" || m["hasAttachments"] != true || m["from"].(map[string]any)["emailAddress"].(map[string]any)["address"] != anna {
		t.Errorf("delivered message: subject %v attachments %v from %v", m["subject"], m["hasAttachments"], m["from"])
	}
	id := m["id"].(string)
	st, raw, h := gj.do("GET", "/me/messages/"+id+"/$value", nil, nil)
	if st != 200 || !strings.Contains(raw["_raw"].(string), "Subject: =?utf-8?q?Schriftsatz_M=C3=BCller") || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("$value: %d %.300v", st, raw)
	}
	st, folder, _ := gj.do("POST", "/me/mailFolders", map[string]any{"displayName": "Abgeholt (kanzleisync)"}, nil)
	wantStatus(t, "create folder", st, 201, folder)
	st, dup, _ := gj.do("POST", "/me/mailFolders", map[string]any{"displayName": "Abgeholt (kanzleisync)"}, nil)
	if st != 409 || errCode(dup) != "ErrorFolderExists" {
		t.Errorf("duplicate folder: %d %v", st, dup)
	}
	st, moved, _ := gj.do("POST", "/me/messages/"+id+"/move", map[string]any{"destinationId": folder["id"]}, nil)
	wantStatus(t, "move", st, 201, moved)
	if moved["id"] == id || moved["parentFolderId"] != folder["id"] {
		t.Errorf("moved message id %v (old %v) folder %v", moved["id"], id, moved["parentFolderId"])
	}
	if st, _, _ := gj.do("GET", "/me/messages/"+id, nil, nil); st != 404 {
		t.Errorf("old id after move: %d, want 404", st)
	}
	_, inbox, _ = gj.do("GET", "/me/mailFolders/inbox/messages", nil, nil)
	if len(inbox["value"].([]any)) != 0 {
		t.Error("inbox not empty after the move")
	}
	_, sent, _ := g.do("GET", "/me/mailFolders/sentitems/messages", nil, nil)
	if len(sent["value"].([]any)) != 1 {
		t.Errorf("sent items: %v", sent)
	}
	for name, msg := range map[string]map[string]any{
		"no recipients": {"subject": "x"},
		"send as":       {"subject": "x", "from": map[string]any{"emailAddress": map[string]any{"address": jens}}, "toRecipients": []any{map[string]any{"emailAddress": map[string]any{"address": jens}}}},
	} {
		st, body, _ := g.do("POST", "/me/sendMail", map[string]any{"message": msg}, nil)
		if st < 400 || errCode(body) == "" {
			t.Errorf("%s: %d %v", name, st, body)
		}
	}
	_ = srv.Outbound()
}

func TestBatch(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	ev := event("Termin", "2026-06-01T10:00:00", "2026-06-01T11:00:00", "UTC", false)
	batch := map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "POST", "url": "/me/events", "headers": map[string]any{"Content-Type": "application/json"}, "body": ev},
		map[string]any{"id": "2", "method": "GET", "url": "/me/events/AAMkADunbekannt=", "dependsOn": []any{"1"}},
		map[string]any{"id": "3", "method": "GET", "url": "/me/events?$top=5", "dependsOn": []any{"2"}},
		map[string]any{"id": "4", "method": "GET", "url": "/me/contacts"},
	}}
	st, resp, _ := g.do("POST", "/$batch", batch, nil)
	wantStatus(t, "batch", st, 200, resp)
	got := map[string]float64{}
	for _, r := range resp["responses"].([]any) {
		m := r.(map[string]any)
		got[m["id"].(string)] = m["status"].(float64)
		if m["id"] == "2" && errCode(m["body"].(map[string]any)) != "ErrorItemNotFound" {
			t.Errorf("item 2 body: %v", m["body"])
		}
	}
	if got["1"] != 201 || got["2"] != 404 || got["3"] != 424 || got["4"] != 200 {
		t.Errorf("statuses %v, want 1:201 2:404 3:424 4:200", got)
	}
	var many []any
	for i := range 21 {
		many = append(many, map[string]any{"id": fmt.Sprint(i), "method": "GET", "url": "/me/events"})
	}
	if st, body, _ := g.do("POST", "/$batch", map[string]any{"requests": many}, nil); st != 400 {
		t.Errorf("21 requests: %d %v", st, body)
	}
	if st, body, _ := g.do("POST", "/$batch", map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "POST", "url": "/me/events", "body": ev}}}, nil); st != 400 {
		t.Errorf("body without Content-Type: %d %v", st, body)
	}
	if st, body, _ := g.do("POST", "/$batch", map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "GET", "url": "/me/events", "dependsOn": []any{"9"}}}}, nil); st != 400 {
		t.Errorf("unknown dependency: %d %v", st, body)
	}
}

func TestGraphAuthorization(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	anon := &graphClient{t: t, srv: srv}
	st, body, h := anon.do("GET", "/me/events", nil, nil)
	if st != 401 || errCode(body) != "InvalidAuthenticationToken" || h.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d %v", st, body)
	}
	inner := body["error"].(map[string]any)["innerError"].(map[string]any)
	for _, k := range []string{"date", "request-id", "client-request-id"} {
		if inner[k] == nil {
			t.Errorf("innerError lacks %s", k)
		}
	}
	outlook := &graphClient{t: t, srv: srv, token: simtest.AppToken(t, srv, "https://outlook.office365.com")}
	if st, body, _ := outlook.do("GET", "/users/"+anna+"/events", nil, nil); st != 401 || !strings.Contains(fmt.Sprint(body), "audience") {
		t.Errorf("outlook audience on Graph: %d %v", st, body)
	}
	if st, body, _ := g.do("GET", "/users/"+jens+"/events", nil, nil); st != 403 || errCode(body) != "ErrorAccessDenied" {
		t.Errorf("delegated access to another mailbox: %d %v", st, body)
	}
	app := &graphClient{t: t, srv: srv, token: simtest.AppToken(t, srv, "https://graph.microsoft.com")}
	if st, body, _ := app.do("GET", "/users/"+jens+"/events", nil, nil); st != 200 {
		t.Errorf("application token on /users/{upn}: %d %v", st, body)
	}
	if st, body, _ := app.do("GET", "/me/events", nil, nil); st != 400 || !strings.Contains(fmt.Sprint(body), "/me request is only valid with delegated") {
		t.Errorf("application token on /me: %d %v", st, body)
	}
	if st, body, _ := app.do("GET", "/users/niemand@kanzlei.example/events", nil, nil); st != 404 || errCode(body) != "ErrorInvalidUser" {
		t.Errorf("unknown user: %d %v", st, body)
	}
	srv.Advance(2 * time.Hour)
	if st, body, _ := g.do("GET", "/me/events", nil, nil); st != 401 || !strings.Contains(fmt.Sprint(body), "Lifetime validation failed") {
		t.Errorf("expired token: %d %v", st, body)
	}
	g.token = "eyJhbGciOiJub25lIn0.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20ifQ.c2ln"
	if st, _, _ := g.do("GET", "/me/events", nil, nil); st != 401 {
		t.Errorf("forged token: %d", st)
	}
}

func TestDelegatedPermissionsAreChecked(t *testing.T) {
	tf := m365sim.DemoTenant(time.Now())
	tf.Tenants[0].Apps[0].AdminConsent = false
	srv := simtest.Start(t, tf, m365sim.Options{})
	tok := simtest.SignIn(t, srv, jens, "openid", "offline_access", "Calendars.Read")
	g := &graphClient{t: t, srv: srv, token: tok.AccessToken}
	if st, body, _ := g.do("GET", "/me/events", nil, nil); st != 200 {
		t.Errorf("read with Calendars.Read: %d %v", st, body)
	}
	for _, tc := range []struct{ method, path string }{{"POST", "/me/events"}, {"GET", "/me/contacts"}, {"GET", "/me/messages"}, {"POST", "/me/sendMail"}, {"GET", "/me/todo/lists"}} {
		if st, body, _ := g.do(tc.method, tc.path, map[string]any{}, nil); st != 403 || errCode(body) != "ErrorAccessDenied" {
			t.Errorf("%s %s without permission: %d %v", tc.method, tc.path, st, body)
		}
	}
}

func TestBadInputNeverPanics(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	big := `{"subject":"` + strings.Repeat("x", 5<<20) + `"}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"givenName":"Gzip","surname":"Körper"}`))
	_ = zw.Close()
	for _, tc := range []struct {
		name, method, path string
		body               any
		headers            map[string]string
		status             int
		code               string
	}{
		{"malformed JSON", "POST", "/me/events", `{"subject": "x",`, nil, 400, "RequestBodyRead"},
		{"unknown property", "POST", "/me/events", `{"subjekt": "x"}`, nil, 400, "RequestBodyRead"},
		{"wrong type", "POST", "/me/events", `{"isAllDay": "ja"}`, nil, 400, "RequestBodyRead"},
		{"wrong nested type", "POST", "/me/contacts", `{"emailAddresses": "a@b.de"}`, nil, 400, "RequestBodyRead"},
		{"bad enum", "POST", "/me/events", `{"importance": "dringend"}`, nil, 400, "RequestBodyRead"},
		{"array at the root", "POST", "/me/contacts", `[]`, nil, 400, "RequestBodyRead"},
		{"empty body", "POST", "/me/contacts", ``, nil, 400, "BadRequest"},
		{"oversized body", "POST", "/me/contacts", big, nil, 413, "RequestEntityTooLarge"},
		{"invalid date", "POST", "/me/contacts", `{"birthday": "31.12.1970"}`, nil, 400, "RequestBodyRead"},
		{"unknown id", "GET", "/me/contacts/AAMkADgibtsnicht=", nil, nil, 404, "ErrorItemNotFound"},
		{"unknown segment", "GET", "/me/kalender", nil, nil, 400, "BadRequest"},
		{"gzip that does not decompress", "POST", "/me/contacts", []byte("not gzip"), map[string]string{"Content-Encoding": "gzip"}, 400, "BadRequest"},
		{"gzip declared, empty body", "POST", "/me/contacts", []byte{}, map[string]string{"Content-Encoding": "gzip"}, 400, "BadRequest"},
		{"bad filter", "GET", "/me/events?$filter=" + url.QueryEscape("subject startswith 'x'"), nil, nil, 400, "ErrorInvalidUrlQueryFilter"},
		{"unknown query option", "GET", "/me/events?$search=x", nil, nil, 400, "BadRequest"},
		{"method not allowed", "PUT", "/me/events", `{}`, nil, 405, "ErrorInvalidRequest"},
	} {
		st, body, _ := g.do(tc.method, tc.path, tc.body, tc.headers)
		if st != tc.status || errCode(body) != tc.code {
			t.Errorf("%s: %d %s, want %d %s (%v)", tc.name, st, errCode(body), tc.status, tc.code, body)
		}
	}
	st, body, _ := g.do("POST", "/me/contacts", gz.Bytes(), map[string]string{"Content-Encoding": "gzip"})
	if st != 201 || body["surname"] != "Körper" {
		t.Errorf("valid gzip body: %d %v", st, body)
	}
	for _, r := range srv.Requests() {
		if r.Status >= 500 {
			t.Errorf("the emulator answered %d to %s %s", r.Status, r.Method, r.Path)
		}
	}
}

func TestThrottling(t *testing.T) {
	t.Run("requests per window", func(t *testing.T) {
		srv := simtest.Start(t, nil, m365sim.Options{})
		srv.SetThrottle(m365sim.ThrottleConfig{Requests: 5, Window: m365sim.Duration(time.Minute)})
		g := newGraphClient(t, srv, anna)
		for i := range 5 {
			if st, _, _ := g.do("GET", "/me/events", nil, nil); st != 200 {
				t.Fatalf("request %d: %d", i, st)
			}
		}
		st, body, h := g.do("GET", "/me/events", nil, nil)
		if st != 429 || errCode(body) != "ApplicationThrottled" || h.Get("Retry-After") == "" {
			t.Fatalf("6th request: %d %v Retry-After %q", st, body, h.Get("Retry-After"))
		}
		// another mailbox of the same app has its own budget
		if st, _, _ := newGraphClient(t, srv, jens).do("GET", "/me/events", nil, nil); st != 200 {
			t.Errorf("other mailbox: %d", st)
		}
		srv.Advance(time.Minute)
		if st, _, _ := g.do("GET", "/me/events", nil, nil); st != 200 {
			t.Errorf("after the window: %d", st)
		}
	})
	t.Run("four concurrent requests per mailbox", func(t *testing.T) {
		srv := simtest.Start(t, nil, m365sim.Options{})
		g := newGraphClient(t, srv, anna)
		srv.SetFaults(m365sim.Faults{ItemLatency: m365sim.Duration(time.Second)}) // long enough that all 8 arrive while 4 are held
		var mu sync.Mutex
		counts := map[int]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, _, _ := g.do("GET", "/me/events", nil, nil)
				mu.Lock()
				counts[st]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if counts[200] != 4 || counts[429] != 4 {
			t.Errorf("8 concurrent requests gave %v, want 4×200 and 4×429", counts)
		}
	})
	t.Run("batch items count one by one", func(t *testing.T) {
		srv := simtest.Start(t, nil, m365sim.Options{})
		srv.SetThrottle(m365sim.ThrottleConfig{Requests: 3, Window: m365sim.Duration(time.Minute)})
		g := newGraphClient(t, srv, anna)
		var reqs []any
		for i := range 6 {
			reqs = append(reqs, map[string]any{"id": fmt.Sprint(i), "method": "GET", "url": "/me/contacts", "dependsOn": deps(i)})
		}
		st, resp, _ := g.do("POST", "/$batch", map[string]any{"requests": reqs}, nil)
		wantStatus(t, "batch", st, 200, resp)
		counts := map[float64]int{}
		for _, r := range resp["responses"].([]any) {
			m := r.(map[string]any)
			counts[m["status"].(float64)]++
			if m["status"].(float64) == 429 && m["headers"].(map[string]any)["Retry-After"] == nil {
				t.Error("throttled batch item without Retry-After")
			}
		}
		if counts[200] != 3 || counts[429]+counts[424] != 3 {
			t.Errorf("batch statuses %v, want 3×200 and the rest throttled", counts)
		}
	})
}

func deps(i int) []any {
	if i == 0 {
		return nil
	}
	return []any{fmt.Sprint(i - 1)}
}

func TestFaultInjection(t *testing.T) {
	for _, code := range []int{429, 500, 502, 503, 504} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			srv := simtest.Start(t, nil, m365sim.Options{})
			g := newGraphClient(t, srv, anna)
			srv.SetFaults(m365sim.Faults{Status: map[int]float64{code: 1}, RetryAfter: 7})
			st, body, h := g.do("GET", "/me/events", nil, nil)
			if st != code || errCode(body) == "" {
				t.Fatalf("got %d %v", st, body)
			}
			if ra := h.Get("Retry-After"); (code == 429 || code == 503) != (ra == "7") {
				t.Errorf("Retry-After %q on %d", ra, code)
			}
			if srv.Stats().InjectedStatus[code] != 1 {
				t.Errorf("stats %v", srv.Stats())
			}
		})
	}
	t.Run("probability", func(t *testing.T) {
		srv := simtest.Start(t, nil, m365sim.Options{})
		g := newGraphClient(t, srv, anna)
		srv.SetFaults(m365sim.Faults{Status: map[int]float64{503: 0.3}})
		failed := 0
		for range 200 {
			if st, _, _ := g.do("GET", "/me/contacts", nil, nil); st == 503 {
				failed++
			}
			srv.Advance(2 * time.Second) // past each Retry-After
		}
		if failed < 30 || failed > 90 {
			t.Errorf("%d of 200 requests failed with p=0.3", failed)
		}
	})
	t.Run("connection reset", func(t *testing.T) {
		srv := simtest.Start(t, nil, m365sim.Options{})
		g := newGraphClient(t, srv, anna)
		srv.SetFaults(m365sim.Faults{Reset: 1})
		req, _ := http.NewRequest("GET", srv.GraphURL()+"/me/events", nil)
		req.Header.Set("Authorization", "Bearer "+g.token)
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got %d, want a dropped connection", resp.StatusCode)
		}
		if srv.Stats().InjectedResets != 1 {
			t.Errorf("stats %v", srv.Stats())
		}
	})
	t.Run("latency", func(t *testing.T) {
		srv := simtest.Start(t, nil, m365sim.Options{})
		g := newGraphClient(t, srv, anna)
		srv.SetFaults(m365sim.Faults{Latency: m365sim.Duration(150 * time.Millisecond)})
		start := time.Now()
		g.do("GET", "/me/events", nil, nil)
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("answer after %v, latency 150ms was set", d)
		}
	})
	t.Run("retry before Retry-After fails", func(t *testing.T) {
		srv := simtest.Start(t, nil, m365sim.Options{})
		g := newGraphClient(t, srv, anna)
		srv.SetFaults(m365sim.Faults{Status: map[int]float64{429: 1}, RetryAfter: 10, EnforceRetryAfter: true})
		if st, _, _ := g.do("GET", "/me/events", nil, nil); st != 429 {
			t.Fatalf("first: %d", st)
		}
		srv.SetFaults(m365sim.Faults{EnforceRetryAfter: true})
		srv.Advance(time.Second) // past the grace of a request already under way
		st, body, _ := g.do("GET", "/me/events", nil, nil)
		if st != 429 || !strings.Contains(fmt.Sprint(body), "Retry-After") || srv.Stats().RetryAfterViolations != 1 {
			t.Fatalf("early retry: %d %v %+v", st, body, srv.Stats())
		}
		srv.Advance(10 * time.Second)
		if st, _, _ := g.do("GET", "/me/events", nil, nil); st != 200 {
			t.Errorf("retry after the wait: %d", st)
		}
	})
}

// Drafts and upload sessions as Microsoft documents them: a session only
// for files from 2 MB, PUTs without Authorization and in order, 201 with a
// Location for the last range, the mailbox's size limit.
func TestDraftsAndUploadSessions(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	st, draft, _ := g.do("POST", "/me/messages", map[string]any{"subject": "Entwurf", "body": map[string]any{"contentType": "Text", "content": "Text"},
		"toRecipients": []any{map[string]any{"emailAddress": map[string]any{"address": jens}}}}, nil)
	wantStatus(t, "create draft", st, 201, draft)
	if draft["isDraft"] != true {
		t.Errorf("draft: %v", draft["isDraft"])
	}
	id := draft["id"].(string)
	session := func(size int) (int, map[string]any) {
		st, body, _ := g.do("POST", "/me/messages/"+id+"/attachments/createUploadSession",
			map[string]any{"AttachmentItem": map[string]any{"attachmentType": "file", "name": "Akte.pdf", "size": size}}, nil)
		return st, body
	}
	if st, body := session(1 << 20); st != 400 || errCode(body) != "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize" {
		t.Errorf("1 MB session: %d %v", st, body)
	}
	if st, body := session(40 << 20); st != 413 || errCode(body) != "ErrorMessageSizeExceeded" {
		t.Errorf("40 MB into a 35 MB mailbox: %d %v", st, body)
	}
	st, sess := session(5 << 20)
	wantStatus(t, "session", st, 201, sess)
	put := func(from, to int, auth bool) *http.Response {
		req, _ := http.NewRequest("PUT", sess["uploadUrl"].(string), bytes.NewReader(make([]byte, to-from+1)))
		req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, 5<<20))
		if auth {
			req.Header.Set("Authorization", "Bearer x")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := put(0, 999, true); r.StatusCode != 401 {
		t.Errorf("PUT with Authorization: %d", r.StatusCode)
	}
	if r := put(1000, 1999, false); r.StatusCode != 416 {
		t.Errorf("PUT out of order: %d", r.StatusCode)
	}
	if r := put(0, 4<<20-1, false); r.StatusCode != 200 {
		t.Errorf("first range: %d", r.StatusCode)
	}
	r := put(4<<20, 5<<20-1, false)
	if r.StatusCode != 201 || !strings.Contains(r.Header.Get("Location"), "/Attachments('") {
		t.Errorf("last range: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	st, atts, _ := g.do("GET", "/me/messages/"+id+"/attachments", nil, nil)
	if v, _ := atts["value"].([]any); st != 200 || len(v) != 1 || v[0].(map[string]any)["size"] != float64(5<<20) {
		t.Errorf("attachments: %d %v", st, atts)
	}
	big := base64.StdEncoding.EncodeToString(make([]byte, 3145612))
	if st, body, _ := g.do("POST", "/me/messages/"+id+"/attachments", map[string]any{"@odata.type": "#microsoft.graph.fileAttachment", "name": "x", "contentBytes": big}, nil); st != 413 {
		t.Errorf("POST of a 3 MB attachment: %d %v", st, errCode(body))
	}
	if st, body, _ := g.do("POST", "/me/messages/"+id+"/send", nil, nil); st != 202 {
		t.Fatalf("send: %d %v", st, body)
	}
	gj := newGraphClient(t, srv, jens)
	_, inbox, _ := gj.do("GET", "/me/mailFolders/inbox/messages", nil, nil)
	if v := inbox["value"].([]any); len(v) != 1 || v[0].(map[string]any)["hasAttachments"] != true {
		t.Errorf("jens's inbox: %v", inbox)
	}
	if st, _, _ := g.do("GET", "/me/messages/"+id, nil, nil); st != 404 {
		t.Errorf("the draft after send: %d", st)
	}
}
