package m365sim_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
)

func series(pattern, rng map[string]any) map[string]any {
	e := event("Kanzleibesprechung", "2026-03-23T09:00:00", "2026-03-23T10:00:00", "W. Europe Standard Time", false)
	e["recurrence"] = map[string]any{"pattern": pattern, "range": rng}
	return e
}

// A series as Exchange keeps it: its rules on the pattern and the range,
// occurrences only in calendarView and /instances (with stable ids and
// the same wall-clock time across the DST change), an occurrence PATCHed
// becomes an exception and a DELETEd one is cancelled; a new pattern
// drops them, a later end keeps them.
func TestRecurringEvents(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	g := newGraphClient(t, srv, anna)
	weekly := map[string]any{"type": "weekly", "interval": 1, "daysOfWeek": []any{"monday"}, "firstDayOfWeek": "monday"}
	for _, tc := range []struct {
		name         string
		pattern, rng map[string]any
		code         string
	}{
		{"weekly without days", map[string]any{"type": "weekly", "interval": 1}, map[string]any{"type": "noEnd", "startDate": "2026-03-23"}, "ErrorInvalidRecurrencePattern"},
		{"interval 0", map[string]any{"type": "daily", "interval": 0}, map[string]any{"type": "noEnd", "startDate": "2026-03-23"}, "ErrorInvalidRecurrencePattern"},
		{"unknown type", map[string]any{"type": "hourly", "interval": 1}, map[string]any{"type": "noEnd", "startDate": "2026-03-23"}, "ErrorInvalidRecurrencePattern"},
		{"start date not the event's", weekly, map[string]any{"type": "noEnd", "startDate": "2026-03-24"}, "ErrorInvalidRecurrenceRange"},
		{"end before start", weekly, map[string]any{"type": "endDate", "startDate": "2026-03-23", "endDate": "2026-03-01"}, "ErrorInvalidRecurrenceRange"},
		{"numbered without number", weekly, map[string]any{"type": "numbered", "startDate": "2026-03-23"}, "ErrorInvalidRecurrenceRange"},
		{"monthly without day", map[string]any{"type": "absoluteMonthly", "interval": 1}, map[string]any{"type": "noEnd", "startDate": "2026-03-23"}, "ErrorInvalidRecurrencePattern"},
	} {
		st, body, _ := g.do("POST", "/me/events", series(tc.pattern, tc.rng), nil)
		if st != 400 || errCode(body) != tc.code {
			t.Errorf("%s: %d %v, want 400 %s", tc.name, st, body["error"], tc.code)
		}
	}
	st, master, _ := g.do("POST", "/me/events", series(weekly, map[string]any{"type": "numbered", "startDate": "2026-03-23", "numberOfOccurrences": 4}), nil)
	wantStatus(t, "create series", st, 201, master)
	if master["type"] != "seriesMaster" {
		t.Errorf("type %v", master["type"])
	}
	id := master["id"].(string)
	view := func(path string) []map[string]any {
		t.Helper()
		q := url.Values{"startDateTime": {"2026-03-01T00:00:00Z"}, "endDateTime": {"2026-05-01T00:00:00Z"}}
		st, body, _ := g.do("GET", path+"?"+q.Encode(), nil, nil)
		wantStatus(t, path, st, 200, body)
		var out []map[string]any
		for _, v := range body["value"].([]any) {
			out = append(out, v.(map[string]any))
		}
		return out
	}
	starts := func(list []map[string]any) string {
		var s []string
		for _, e := range list {
			s = append(s, fmt.Sprintf("%s %s", e["type"], e["start"].(map[string]any)["dateTime"]))
		}
		return strings.Join(s, ", ")
	}
	// 09:00 in Berlin: 08:00 UTC before 29 March, 07:00 after
	want := "occurrence 2026-03-23T08:00:00.0000000, occurrence 2026-03-30T07:00:00.0000000, occurrence 2026-04-06T07:00:00.0000000, occurrence 2026-04-13T07:00:00.0000000"
	if got := starts(view("/me/calendarView")); got != want {
		t.Errorf("calendarView:\n got %s\nwant %s", got, want)
	}
	inst := view("/me/events/" + id + "/instances")
	if got := starts(inst); got != want {
		t.Errorf("instances: %s", got)
	}
	if again := view("/me/events/" + id + "/instances"); again[1]["id"] != inst[1]["id"] || inst[1]["seriesMasterId"] != id || inst[1]["originalStart"] != "2026-03-30T07:00:00Z" {
		t.Errorf("occurrence ids are not stable or lack their master: %v %v", again[1]["id"], inst[1])
	}
	st, body, _ := g.do("GET", "/me/events", nil, nil)
	if st != 200 || len(body["value"].([]any)) != 1 {
		t.Errorf("GET /events lists %d items, want the master only", len(body["value"].([]any)))
	}
	st, body, _ = g.do("PATCH", "/me/events/"+inst[1]["id"].(string), map[string]any{"recurrence": master["recurrence"]}, nil)
	if st != 400 {
		t.Errorf("PATCH recurrence of an occurrence: %d", st)
	}
	st, ex, _ := g.do("PATCH", "/me/events/"+inst[1]["id"].(string), map[string]any{"subject": "verschoben",
		"start": map[string]any{"dateTime": "2026-03-30T11:00:00", "timeZone": "W. Europe Standard Time"},
		"end":   map[string]any{"dateTime": "2026-03-30T12:00:00", "timeZone": "W. Europe Standard Time"}}, nil)
	wantStatus(t, "patch occurrence", st, 200, ex)
	if ex["type"] != "exception" || ex["id"] != inst[1]["id"] {
		t.Errorf("the PATCHed occurrence: type %v, id changed %v", ex["type"], ex["id"] != inst[1]["id"])
	}
	st, body, _ = g.do("DELETE", "/me/events/"+inst[2]["id"].(string), nil, nil)
	wantStatus(t, "delete occurrence", st, 204, body)
	want = "occurrence 2026-03-23T08:00:00.0000000, exception 2026-03-30T09:00:00.0000000, occurrence 2026-04-13T07:00:00.0000000"
	if got := starts(view("/me/calendarView")); got != want {
		t.Errorf("after change and cancel:\n got %s\nwant %s", got, want)
	}
	// a later end keeps the exceptions
	rec := master["recurrence"].(map[string]any)
	rec["range"] = map[string]any{"type": "numbered", "startDate": "2026-03-23", "numberOfOccurrences": 5}
	st, body, _ = g.do("PATCH", "/me/events/"+id, map[string]any{"recurrence": rec}, nil)
	wantStatus(t, "extend", st, 200, body)
	if got := starts(view("/me/calendarView")); got != want+", occurrence 2026-04-20T07:00:00.0000000" {
		t.Errorf("after extending: %s", got)
	}
	// a new pattern drops them
	rec["pattern"] = map[string]any{"type": "weekly", "interval": 2, "daysOfWeek": []any{"monday"}, "firstDayOfWeek": "monday"}
	st, body, _ = g.do("PATCH", "/me/events/"+id, map[string]any{"recurrence": rec}, nil)
	wantStatus(t, "new pattern", st, 200, body)
	want = "occurrence 2026-03-23T08:00:00.0000000, occurrence 2026-04-06T07:00:00.0000000, occurrence 2026-04-20T07:00:00.0000000"
	if got := starts(view("/me/calendarView")); !strings.HasPrefix(got, want) {
		t.Errorf("after a new pattern:\n got %s\nwant %s…", got, want)
	}
	st, body, _ = g.do("GET", "/me/events/"+id+"/instances", nil, nil)
	if st != 400 || errCode(body) != "ErrorInvalidParameter" {
		t.Errorf("instances without a window: %d %v", st, body)
	}
	st, _, _ = g.do("DELETE", "/me/events/"+id, nil, nil)
	if st != 204 || len(view("/me/calendarView")) != 0 {
		t.Errorf("deleting the master leaves occurrences (%d)", st)
	}
}
