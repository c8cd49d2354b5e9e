package m365sim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// Recurring events as Outlook keeps them: a series master carries the
// patternedRecurrence; its occurrences exist only as computed instances
// (GET …/instances, …/calendarView) with stable ids, until one is changed
// (it becomes an exception of the master) or deleted (a cancelled
// occurrence). GET /events lists masters and single instances, never the
// occurrences — as Microsoft documents for event-list and
// event-list-instances.

// series is what a master keeps about its occurrences, keyed by the
// occurrence's original start (UTC, RFC 3339).
type series struct {
	Cancelled  map[string]bool  `json:"cancelled,omitempty"`
	Exceptions map[string]*item `json:"exceptions,omitempty"`
}

// maxOccurrences bounds one expansion (Outlook shows at most 999
// occurrences of a numbered series; a window is cut there too).
const maxOccurrences = 5000

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// recurrence is a parsed patternedRecurrence.
type recurrence struct {
	kind       string
	interval   int
	days       []time.Weekday
	firstDay   time.Weekday
	dayOfMonth int
	month      time.Month
	index      string
	rangeType  string
	start, end time.Time // dates (midnight UTC)
	count      int
}

func recurrenceError(code, msg string) *graphError {
	return &graphError{status: http.StatusBadRequest, code: code, message: msg}
}

// parseRecurrence checks a patternedRecurrence as Exchange does: the
// properties each pattern type requires, and a range that starts on the
// master's start date (ErrorInvalidRecurrenceRange otherwise).
func parseRecurrence(v any, masterStart time.Time) (*recurrence, *graphError) {
	m, _ := v.(map[string]any)
	p, _ := m["pattern"].(map[string]any)
	rg, _ := m["range"].(map[string]any)
	if p == nil || rg == nil {
		return nil, recurrenceError("ErrorInvalidRecurrencePattern", "A recurrence needs both a pattern and a range.")
	}
	r := &recurrence{firstDay: time.Sunday, index: "first"}
	r.kind, _ = p["type"].(string)
	num := func(mp map[string]any, k string) int {
		switch n := mp[k].(type) {
		case json.Number:
			i, _ := n.Int64()
			return int(i)
		case float64:
			return int(n)
		}
		return 0
	}
	r.interval = num(p, "interval")
	if r.interval < 1 || r.interval > 999 {
		return nil, recurrenceError("ErrorInvalidRecurrencePattern", "The recurrence pattern's interval must be between 1 and 999.")
	}
	for _, d := range asSlice(p["daysOfWeek"]) {
		s, _ := d.(string)
		wd, ok := weekdays[strings.ToLower(s)]
		if !ok {
			return nil, recurrenceError("ErrorInvalidRecurrencePattern", fmt.Sprintf("'%s' is not a valid day of the week.", s))
		}
		r.days = append(r.days, wd)
	}
	if s, _ := p["firstDayOfWeek"].(string); s != "" {
		wd, ok := weekdays[strings.ToLower(s)]
		if !ok {
			return nil, recurrenceError("ErrorInvalidRecurrencePattern", fmt.Sprintf("'%s' is not a valid day of the week.", s))
		}
		r.firstDay = wd
	}
	if s, _ := p["index"].(string); s != "" {
		r.index = s
	}
	r.dayOfMonth, r.month = num(p, "dayOfMonth"), time.Month(num(p, "month"))
	needDays, needDOM, needMonth := false, false, false
	switch r.kind {
	case "daily":
	case "weekly":
		needDays = true
	case "absoluteMonthly":
		needDOM = true
	case "relativeMonthly":
		needDays = true
	case "absoluteYearly":
		needDOM, needMonth = true, true
	case "relativeYearly":
		needDays, needMonth = true, true
	default:
		return nil, recurrenceError("ErrorInvalidRecurrencePattern", fmt.Sprintf("'%s' is not a valid recurrence pattern type.", r.kind))
	}
	switch {
	case needDays && len(r.days) == 0:
		return nil, recurrenceError("ErrorInvalidRecurrencePattern", "The recurrence pattern needs at least one day of the week.")
	case needDOM && (r.dayOfMonth < 1 || r.dayOfMonth > 31):
		return nil, recurrenceError("ErrorInvalidRecurrencePattern", "The recurrence pattern's day of month must be between 1 and 31.")
	case needMonth && (r.month < 1 || r.month > 12):
		return nil, recurrenceError("ErrorInvalidRecurrencePattern", "The recurrence pattern's month must be between 1 and 12.")
	}
	switch r.index {
	case "first", "second", "third", "fourth", "last":
	default:
		return nil, recurrenceError("ErrorInvalidRecurrencePattern", fmt.Sprintf("'%s' is not a valid week index.", r.index))
	}
	date := func(k string) (time.Time, bool) {
		s, _ := rg[k].(string)
		t, err := time.Parse("2006-01-02", s)
		return t, err == nil
	}
	var ok bool
	if r.start, ok = date("startDate"); !ok {
		return nil, recurrenceError("ErrorInvalidRecurrenceRange", "The recurrence range needs a startDate.")
	}
	if s := masterStart.Format("2006-01-02"); s != r.start.Format("2006-01-02") {
		return nil, recurrenceError("ErrorInvalidRecurrenceRange", "The recurrence range's start date must be the date of the event's start ("+s+").")
	}
	r.rangeType, _ = rg["type"].(string)
	switch r.rangeType {
	case "endDate":
		if r.end, ok = date("endDate"); !ok || r.end.Before(r.start) {
			return nil, recurrenceError("ErrorInvalidRecurrenceRange", "The recurrence range's end date must be on or after its start date.")
		}
	case "numbered":
		if r.count = num(rg, "numberOfOccurrences"); r.count < 1 || r.count > 999 {
			return nil, recurrenceError("ErrorInvalidRecurrenceRange", "The number of occurrences must be between 1 and 999.")
		}
	case "noEnd":
	default:
		return nil, recurrenceError("ErrorInvalidRecurrenceRange", fmt.Sprintf("'%s' is not a valid recurrence range type.", r.rangeType))
	}
	return r, nil
}

// dates lists the occurrence days of the series, in order, up to the
// day last (inclusive) or the end of its range.
func (r *recurrence) dates(last time.Time) []time.Time {
	var out []time.Time
	add := func(d time.Time) bool {
		if d.Before(r.start) {
			return true
		}
		if r.rangeType == "endDate" && d.After(r.end) || d.After(last) {
			return false
		}
		if r.rangeType == "numbered" && len(out) >= r.count || len(out) >= maxOccurrences {
			return false
		}
		out = append(out, d)
		return true
	}
	monthDay := func(y int, m time.Month) time.Time {
		days := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
		// Outlook puts the 31st of a 30-day month on its last day
		return time.Date(y, m, min(r.dayOfMonth, days), 0, 0, 0, 0, time.UTC)
	}
	relative := func(y int, m time.Month) time.Time {
		var hits []time.Time
		for d := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC); d.Month() == m; d = d.AddDate(0, 0, 1) {
			for _, wd := range r.days {
				if d.Weekday() == wd {
					hits = append(hits, d)
					break
				}
			}
		}
		n := map[string]int{"first": 0, "second": 1, "third": 2, "fourth": 3}[r.index]
		if r.index == "last" {
			return hits[len(hits)-1]
		}
		return hits[n]
	}
	switch r.kind {
	case "daily":
		for d := r.start; add(d); d = d.AddDate(0, 0, r.interval) {
		}
	case "weekly":
		week := r.start.AddDate(0, 0, -((int(r.start.Weekday()) - int(r.firstDay) + 7) % 7))
		for ; ; week = week.AddDate(0, 0, 7*r.interval) {
			for i := 0; i < 7; i++ {
				d := week.AddDate(0, 0, i)
				if !slices.Contains(r.days, d.Weekday()) {
					continue
				}
				if !add(d) {
					return out
				}
			}
		}
	case "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly":
		step, y, m := r.interval, r.start.Year(), r.start.Month()
		if strings.HasSuffix(r.kind, "Yearly") {
			step, m = 12*r.interval, r.month
		}
		for i := 0; ; i += step {
			first := time.Date(y, m+time.Month(i), 1, 0, 0, 0, 0, time.UTC)
			d := monthDay(first.Year(), first.Month())
			if strings.HasPrefix(r.kind, "relative") {
				d = relative(first.Year(), first.Month())
			}
			if first.After(last) || !add(d) {
				return out
			}
		}
	}
	return out
}

// instance is one computed occurrence or stored exception of a master.
type instance struct {
	it       *item
	original time.Time
}

// occurrenceID is stable for one occurrence of one master, as Exchange's
// are; it encodes both, so that GET …/events/{id} finds the occurrence.
func occurrenceID(masterID string, original time.Time) string {
	return "AAMkAD" + base64.RawURLEncoding.EncodeToString([]byte("occ|"+masterID+"|"+original.UTC().Format(time.RFC3339)))
}

// parseOccurrenceID reads an occurrence id back.
func parseOccurrenceID(id string) (string, time.Time, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(id, "AAMkAD"))
	if err != nil {
		return "", time.Time{}, false
	}
	parts := strings.SplitN(string(raw), "|", 3)
	if len(parts) != 3 || parts[0] != "occ" {
		return "", time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, parts[2])
	return parts[1], t, err == nil
}

// instances expands a master between from and to: its occurrences (not
// cancelled) and its exceptions, each judged by its own start and end.
func (h *handlerCtx) instances(master *item, from, to time.Time) []instance {
	start, e1 := parseDTZ(master.Props["start"])
	end, e2 := parseDTZ(master.Props["end"])
	r, e3 := parseRecurrence(master.Props["recurrence"], start.t)
	if e1 != nil || e2 != nil || e3 != nil {
		return nil
	}
	loc := start.t.Location()
	allDay, _ := master.Props["isAllDay"].(bool)
	var out []instance
	lt := to.In(loc)
	for _, d := range r.dates(time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, time.UTC)) {
		s := time.Date(d.Year(), d.Month(), d.Day(), start.t.Hour(), start.t.Minute(), start.t.Second(), 0, loc)
		var e time.Time
		if allDay {
			e = s.AddDate(0, 0, days(start.t, end.t))
		} else {
			e = s.Add(end.t.Sub(start.t))
		}
		key := s.UTC().Format(time.RFC3339)
		var it *item
		if master.Series != nil && master.Series.Cancelled[key] {
			continue
		}
		if master.Series != nil && master.Series.Exceptions[key] != nil {
			it = master.Series.Exceptions[key]
			es, _ := parseDTZ(it.Props["start"])
			ee, _ := parseDTZ(it.Props["end"])
			s, e = es.t, ee.t
		} else {
			it = h.occurrence(master, s, e)
		}
		if s.Before(to) && e.After(from) {
			out = append(out, instance{it: it, original: s})
		}
	}
	return out
}

// occurrence is the computed item of one unchanged occurrence.
func (h *handlerCtx) occurrence(master *item, s, e time.Time) *item {
	props := cloneMap(master.Props)
	delete(props, "recurrence")
	delete(props, "transactionId")
	zone, _ := master.Props["start"].(map[string]any)["timeZone"].(string)
	props["start"] = map[string]any{"dateTime": s.Format(graphDateTime), "timeZone": zone}
	props["end"] = map[string]any{"dateTime": e.Format(graphDateTime), "timeZone": zone}
	return &item{ID: occurrenceID(master.ID, s), Props: props, Ext: master.Ext, ChangeKey: master.ChangeKey, Created: master.Created,
		Modified: master.Modified, Seq: master.Seq, Extra: map[string]string{"type": "occurrence", "seriesMasterId": master.ID, "originalStart": s.UTC().Format(time.RFC3339)}}
}

// findInstance resolves an occurrence or exception id.
func (h *handlerCtx) findInstance(id string) (*item, *item, time.Time) {
	masterID, original, ok := parseOccurrenceID(id)
	if !ok {
		return nil, nil, time.Time{}
	}
	master := h.mb.Events.get(masterID)
	if master == nil || master.Props["recurrence"] == nil {
		return nil, nil, time.Time{}
	}
	for _, in := range h.instances(master, original.Add(-time.Minute), original.Add(time.Minute)) {
		if in.original.Equal(original) {
			return master, in.it, original
		}
	}
	// an exception moved away from its original time
	if ex := master.Series.exception(original); ex != nil {
		return master, ex, original
	}
	return nil, nil, time.Time{}
}

func (s *series) exception(original time.Time) *item {
	if s == nil {
		return nil
	}
	return s.Exceptions[original.UTC().Format(time.RFC3339)]
}

// listInstances answers GET …/events/{id}/instances.
func (h *handlerCtx) listInstances(id string) *gresp {
	if h.req.method != http.MethodGet {
		return errResp(methodNotAllowed())
	}
	from, to, e := h.window()
	if e != nil {
		return errResp(e)
	}
	if e := h.need("calendar", false); e != nil {
		return errResp(e)
	}
	master := h.mb.Events.get(id)
	if master == nil {
		return errResp(itemNotFound())
	}
	var hits []*item
	if master.Props["recurrence"] != nil {
		for _, in := range h.instances(master, from, to) {
			hits = append(hits, in.it)
		}
	}
	return h.list("calendar", "event", hits, h.renderEvent, "events('"+id+"')/instances")
}

// window reads the required startDateTime and endDateTime.
func (h *handlerCtx) window() (time.Time, time.Time, *graphError) {
	sv, ev := h.req.query.Get("startDateTime"), h.req.query.Get("endDateTime")
	if sv == "" || ev == "" {
		return time.Time{}, time.Time{}, &graphError{status: 400, code: "ErrorInvalidParameter", message: "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime."}
	}
	from, to := parseDateTimeOffset(sv), parseDateTimeOffset(ev)
	if from.IsZero() || to.IsZero() {
		return time.Time{}, time.Time{}, &graphError{status: 400, code: "ErrorInvalidParameter", message: "The parameter 'StartDateTime' or 'EndDateTime' is not a valid date and time."}
	}
	return from, to, nil
}

// instanceEntity answers GET, PATCH and DELETE on an occurrence or an
// exception: a PATCH makes the occurrence an exception of its master, a
// DELETE cancels it.
func (h *handlerCtx) instanceEntity(master, inst *item, original time.Time) *gresp {
	if e := h.need("calendar", h.req.method != http.MethodGet); e != nil {
		return errResp(e)
	}
	key := original.UTC().Format(time.RFC3339)
	if master.Series == nil {
		master.Series = &series{}
	}
	switch h.req.method {
	case http.MethodGet:
		return h.entity("calendar", "event", inst, h.renderEvent, "events", nil, nil)
	case http.MethodPatch:
		in, e := decodeBody(h.req.body)
		if e == nil {
			e = validateBody("event", in)
		}
		if e == nil && in["recurrence"] != nil {
			e = invalidRequest("The recurrence of an occurrence cannot be changed; change the series master instead.")
		}
		if e != nil {
			return errResp(e)
		}
		ex := master.Series.Exceptions[key]
		if ex == nil {
			ex = &item{ID: inst.ID, Props: cloneMap(inst.Props), Ext: append([]extProp(nil), inst.Ext...), Created: master.Created, Seq: master.Seq,
				Extra: map[string]string{"type": "exception", "seriesMasterId": master.ID, "originalStart": key}}
		}
		trial := &item{Props: cloneMap(ex.Props)}
		h.applyProps(trial, in)
		if e := h.validateEvent(trial); e != nil {
			return errResp(e)
		}
		h.applyProps(ex, in)
		h.s.touch(ex)
		if master.Series.Exceptions == nil {
			master.Series.Exceptions = map[string]*item{}
		}
		master.Series.Exceptions[key] = ex
		h.s.touch(master)
		body := h.renderEvent(ex, &query{})
		body["@odata.context"] = h.s.contextURL(h.owner, "events/$entity")
		return &gresp{status: 200, body: body}
	case http.MethodDelete:
		delete(master.Series.Exceptions, key)
		if master.Series.Cancelled == nil {
			master.Series.Cancelled = map[string]bool{}
		}
		master.Series.Cancelled[key] = true
		h.s.touch(master)
		return &gresp{status: 204}
	}
	return errResp(methodNotAllowed())
}

// recurrenceChanged applies what a PATCH of a master does to its
// occurrences: a new pattern, range start or time of day drops the
// exceptions and cancellations (Outlook: „Alle Ausnahmen gehen
// verloren“); a changed end of the range keeps them (EWS does not bring
// back a cancelled occurrence when a series is extended).
func recurrenceChanged(master *item, before map[string]any) {
	if master.Series == nil {
		return
	}
	pat := func(props map[string]any) any {
		r, _ := props["recurrence"].(map[string]any)
		rg, _ := r["range"].(map[string]any)
		return []any{r["pattern"], rg["startDate"], props["start"], props["end"], props["isAllDay"]}
	}
	if !reflect.DeepEqual(pat(before), pat(master.Props)) {
		master.Series = nil
	}
}

// sortedInstances orders instances by start.
func sortedInstances(in []instance) {
	sort.Slice(in, func(i, j int) bool { return in[i].original.Before(in[j].original) })
}
