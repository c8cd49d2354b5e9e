package m365sim

import (
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// handlerCtx carries one routed request. Its methods run with s.mu held.
type handlerCtx struct {
	s     *Server
	req   *greq
	c     *caller
	owner *userState
	mb    *mailbox
}

// permissions per module, from Graph's permission reference.
var permTable = map[string][2][]string{ // kind -> {read, write}; app tokens use roles of the same names
	"calendar": {{"Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"}, {"Calendars.ReadWrite"}},
	"contacts": {{"Contacts.Read", "Contacts.ReadWrite"}, {"Contacts.ReadWrite"}},
	"mail":     {{"Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"}, {"Mail.ReadWrite"}},
	"mailbody": {{"Mail.Read", "Mail.ReadWrite"}, {"Mail.ReadWrite"}},
	"send":     {{"Mail.Send"}, {"Mail.Send"}},
	"tasks":    {{"Tasks.Read", "Tasks.ReadWrite"}, {"Tasks.ReadWrite"}},
	"tasksApp": {{"Tasks.Read.All", "Tasks.ReadWrite.All"}, {"Tasks.ReadWrite.All"}},
	// outlook/masterCategories (outlookuser-list-mastercategories, …-post-)
	"mailboxSettings": {{"MailboxSettings.Read", "MailboxSettings.ReadWrite"}, {"MailboxSettings.ReadWrite"}},
}

func (h *handlerCtx) need(kind string, write bool) *graphError {
	if kind == "tasks" && h.c.appToken {
		kind = "tasksApp"
	}
	p := permTable[kind]
	perms := p[0]
	if write {
		perms = p[1]
	}
	if h.c.has(perms...) {
		return nil
	}
	return accessDenied()
}

// prefer reads Prefer: outlook.timezone="…" and outlook.body-content-type="…".
func (h *handlerCtx) prefer(name string) string {
	for _, v := range h.req.header.Values("Prefer") {
		for _, part := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), name) {
				return strings.Trim(strings.TrimSpace(val), `"`)
			}
		}
	}
	return ""
}

func (h *handlerCtx) ifMatch(it *item) *graphError {
	im := h.req.header.Get("If-Match")
	if im == "" || im == "*" {
		return nil
	}
	if strings.Trim(strings.TrimPrefix(im, "W/"), `"`) != it.ChangeKey {
		return &graphError{status: 412, code: "ErrorIrresolvableConflict", message: "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item."}
	}
	return nil
}

func etag(it *item) string { return `W/"` + it.ChangeKey + `"` }

// extIDRE accepts the id formats of singleValueLegacyExtendedProperty.
var extIDRE = regexp.MustCompile(`(?i)^(String|Integer|Long|Boolean|SystemTime|Double|Float|Currency|Binary|CLSID|Short|Null|Object|ApplicationTime)\s+(\{[0-9a-f-]{36}\}\s+(Name\s+\S.*|Id\s+0x[0-9a-f]+)|0x[0-9a-f]{1,4})$`)

func checkExtProps(v any) *graphError {
	arr, _ := v.([]any)
	for _, p := range arr {
		m, _ := p.(map[string]any)
		id, _ := m["id"].(string)
		if !extIDRE.MatchString(strings.TrimSpace(id)) {
			return &graphError{status: 400, code: "ErrorInvalidProperty", message: fmt.Sprintf("The extended property id '%s' is not valid.", id)}
		}
		if _, ok := m["value"].(string); !ok {
			return &graphError{status: 400, code: "ErrorInvalidProperty", message: "An extended property needs a string value."}
		}
	}
	return nil
}

// applyProps merges validated input into an item (complex values are
// replaced whole, as a Graph PATCH does).
func (h *handlerCtx) applyProps(it *item, in map[string]any) {
	for k, v := range in {
		if k == "singleValueExtendedProperties" {
			it.setExt(asSlice(v))
			continue
		}
		if v == nil {
			delete(it.Props, k)
			continue
		}
		it.Props[k] = v
	}
}

func asSlice(v any) []any { a, _ := v.([]any); return a }

func (h *handlerCtx) events(rest []string) *gresp {
	m := h.req.method
	switch {
	case len(rest) == 0 && m == http.MethodGet:
		return h.list("calendar", "event", h.mb.Events.sorted(), h.renderEvent, "events")
	case len(rest) == 0 && m == http.MethodPost:
		return h.createEvent()
	case len(rest) == 1:
		it := h.mb.Events.get(rest[0])
		if it == nil {
			if master, inst, original := h.findInstance(rest[0]); inst != nil {
				return h.instanceEntity(master, inst, original)
			}
		}
		var before map[string]any
		if it != nil {
			before = cloneMap(it.Props)
		}
		r := h.entity("calendar", "event", it, h.renderEvent, "events", h.mb.Events, h.validateEvent)
		if it != nil && m == http.MethodPatch && r.status == http.StatusOK {
			recurrenceChanged(it, before)
		}
		return r
	case len(rest) == 2 && rest[1] == "instances":
		return h.listInstances(rest[0])
	}
	return errResp(restError(rest))
}

// list answers GET on a collection.
func (h *handlerCtx) list(perm, schema string, items []*item, render func(*item, *query) map[string]any, ctx string) *gresp {
	if e := h.need(perm, false); e != nil {
		return errResp(e)
	}
	q, e := parseQuery(h.req.query, schema)
	if e != nil {
		return errResp(e)
	}
	body := page(items, q, 10, func(it *item) map[string]any { return render(it, q) }, h.s.httpURL+"/v1.0"+h.req.path, h.req.query)
	body["@odata.context"] = h.s.contextURL(h.owner, ctx)
	return &gresp{status: 200, body: body, header: h.preferApplied()}
}

func (h *handlerCtx) preferApplied() http.Header {
	var applied []string
	if tz := h.prefer("outlook.timezone"); tz != "" {
		applied = append(applied, fmt.Sprintf(`outlook.timezone="%s"`, tz))
	}
	if ct := h.prefer("outlook.body-content-type"); ct != "" {
		applied = append(applied, fmt.Sprintf(`outlook.body-content-type="%s"`, ct))
	}
	if len(applied) == 0 {
		return nil
	}
	return http.Header{"Preference-Applied": {strings.Join(applied, ",")}}
}

// entity answers GET, PATCH and DELETE on one item.
func (h *handlerCtx) entity(perm, schema string, it *item, render func(*item, *query) map[string]any, ctx string, coll *collection, validate func(*item) *graphError) *gresp {
	write := h.req.method != http.MethodGet
	if e := h.need(perm, write); e != nil {
		return errResp(e)
	}
	if it == nil {
		return errResp(itemNotFound())
	}
	switch h.req.method {
	case http.MethodGet:
		q, e := parseQuery(h.req.query, schema)
		if e != nil {
			return errResp(e)
		}
		body := selectProps(render(it, q), q.selectProps)
		body["@odata.context"] = h.s.contextURL(h.owner, ctx+"/$entity")
		return &gresp{status: 200, body: body, header: h.preferApplied()}
	case http.MethodPatch:
		if e := h.ifMatch(it); e != nil {
			return errResp(e)
		}
		in, e := decodeBody(h.req.body)
		if e == nil {
			e = validateBody(schema, in)
		}
		if e == nil && in["singleValueExtendedProperties"] != nil {
			e = checkExtProps(in["singleValueExtendedProperties"])
		}
		if e != nil {
			return errResp(e)
		}
		trial := &item{Props: cloneMap(it.Props)}
		h.applyProps(trial, in)
		if validate != nil {
			if e := validate(trial); e != nil {
				return errResp(e)
			}
		}
		h.applyProps(it, in)
		h.s.touch(it)
		body := render(it, &query{})
		body["@odata.context"] = h.s.contextURL(h.owner, ctx+"/$entity")
		return &gresp{status: 200, body: body, header: h.preferApplied()}
	case http.MethodDelete:
		if e := h.ifMatch(it); e != nil {
			return errResp(e)
		}
		delete(coll.Items, it.ID)
		return &gresp{status: 204}
	}
	return errResp(methodNotAllowed())
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (h *handlerCtx) createEvent() *gresp {
	if e := h.need("calendar", true); e != nil {
		return errResp(e)
	}
	in, e := decodeBody(h.req.body)
	if e == nil {
		e = validateBody("event", in)
	}
	if e == nil && in["singleValueExtendedProperties"] != nil {
		e = checkExtProps(in["singleValueExtendedProperties"])
	}
	if e != nil {
		return errResp(e)
	}
	if tx, _ := in["transactionId"].(string); tx != "" {
		if id, ok := h.mb.TxIDs[tx]; ok {
			if it := h.mb.Events.get(id); it != nil {
				body := h.renderEvent(it, &query{})
				body["@odata.context"] = h.s.contextURL(h.owner, "events/$entity")
				return &gresp{status: 201, body: body, header: h.preferApplied()}
			}
		}
	}
	trial := &item{Props: map[string]any{}}
	h.applyProps(trial, in)
	if e := h.validateEvent(trial); e != nil {
		return errResp(e)
	}
	it := h.s.newItem(h.mb.Events, map[string]any{})
	h.applyProps(it, in)
	if tx, _ := in["transactionId"].(string); tx != "" {
		h.mb.TxIDs[tx] = it.ID
	}
	body := h.renderEvent(it, &query{})
	body["@odata.context"] = h.s.contextURL(h.owner, "events/$entity")
	return &gresp{status: 201, body: body, header: h.preferApplied()}
}

// validateEvent applies Outlook's rules on start, end and isAllDay.
func (h *handlerCtx) validateEvent(it *item) *graphError {
	if it.Props["start"] == nil || it.Props["end"] == nil {
		return invalidRequest("Your request can't be completed. An event needs both a start and an end time.")
	}
	start, e := parseDTZ(it.Props["start"])
	if e != nil {
		return e
	}
	end, e := parseDTZ(it.Props["end"])
	if e != nil {
		return e
	}
	if allDay, _ := it.Props["isAllDay"].(bool); allDay {
		midnight := func(t time.Time) bool {
			return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
		}
		if !midnight(start.t) || !midnight(end.t) {
			return invalidRequest("Your request can't be completed. If the event is an all-day event, the start and end times must be set to midnight.")
		}
		if days(start.t, end.t) < 1 {
			return invalidRequest("The duration of an event marked as All day must be at least 24 hours.")
		}
		return validateRecurrence(it, start.t)
	}
	if end.t.Before(start.t) {
		return invalidRequest("Your request can't be completed. The end time can't be earlier than the start time.")
	}
	return validateRecurrence(it, start.t)
}

func validateRecurrence(it *item, start time.Time) *graphError {
	if it.Props["recurrence"] == nil {
		return nil
	}
	_, e := parseRecurrence(it.Props["recurrence"], start)
	return e
}

// days counts calendar days between two local midnights (DST-safe).
func days(a, b time.Time) int {
	da := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}

func (h *handlerCtx) renderEvent(it *item, q *query) map[string]any {
	m := map[string]any{
		"categories": []any{}, "reminderMinutesBeforeStart": 15, "isReminderOn": true, "hasAttachments": false,
		"subject": "", "importance": "normal", "sensitivity": "normal", "isAllDay": false, "isCancelled": false,
		"isOrganizer": true, "responseRequested": true, "seriesMasterId": nil, "showAs": "busy", "type": "singleInstance",
		"onlineMeetingUrl": nil, "isOnlineMeeting": false, "onlineMeetingProvider": "unknown", "allowNewTimeProposals": true,
		"isDraft": false, "hideAttendees": false, "recurrence": nil, "onlineMeeting": nil, "transactionId": nil,
		"responseStatus": map[string]any{"response": "organizer", "time": "0001-01-01T00:00:00Z"},
		"location":       map[string]any{"displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": map[string]any{}, "coordinates": map[string]any{}},
		"locations":      []any{}, "attendees": []any{},
		"organizer": map[string]any{"emailAddress": map[string]any{"name": h.owner.DisplayName, "address": h.owner.Mail}},
	}
	for k, v := range it.Props {
		m[k] = v
	}
	if it.Props["recurrence"] != nil {
		m["type"] = "seriesMaster"
	}
	if t := it.Extra["type"]; t == "occurrence" || t == "exception" {
		m["type"], m["seriesMasterId"], m["originalStart"] = t, it.Extra["seriesMasterId"], it.Extra["originalStart"]
		m["recurrence"] = nil
	}
	m["id"] = it.ID
	m["@odata.etag"] = etag(it)
	m["changeKey"] = it.ChangeKey
	m["createdDateTime"] = it.Created.Format(time.RFC3339Nano)
	m["lastModifiedDateTime"] = it.Modified.Format(time.RFC3339Nano)
	m["iCalUId"] = "040000008200E00074C5B7101A82E008" + strings.ToUpper(fmt.Sprintf("%x", []byte(it.ID[6:22])))
	m["uid"] = m["iCalUId"]
	m["webLink"] = "https://outlook.office365.com/owa/?itemid=" + it.ID + "&exvsurl=1&path=/calendar/item"
	zone := h.prefer("outlook.timezone")
	if zone == "" {
		zone = "UTC"
	}
	start, _ := parseDTZ(it.Props["start"])
	end, _ := parseDTZ(it.Props["end"])
	m["originalStartTimeZone"] = start.zone
	m["originalEndTimeZone"] = end.zone
	if allDay, _ := it.Props["isAllDay"].(bool); allDay {
		// all-day events float: the date stays the date in every zone
		m["start"] = map[string]any{"dateTime": start.t.Format("2006-01-02") + "T00:00:00.0000000", "timeZone": zone}
		m["end"] = map[string]any{"dateTime": end.t.Format("2006-01-02") + "T00:00:00.0000000", "timeZone": zone}
	} else {
		m["start"] = renderDTZ(start.t, zone)
		m["end"] = renderDTZ(end.t, zone)
	}
	m["body"] = h.renderBody(it.Props["body"], "html")
	m["bodyPreview"] = preview(m["body"])
	renderLocations(m, it.Props)
	m["attendees"] = renderAttendees(m["attendees"])
	h.renderExt(m, it, q)
	return m
}

// renderLocations fills in what Outlook adds to a location given by name:
// a private uniqueId, and the same location in locations.
func renderLocations(m, props map[string]any) {
	loc := map[string]any{"displayName": "", "locationType": "default", "uniqueIdType": "unknown"}
	if given, ok := props["location"].(map[string]any); ok {
		for k, v := range given {
			loc[k] = v
		}
		if name, _ := loc["displayName"].(string); name != "" && loc["uniqueId"] == nil {
			loc["uniqueId"], loc["uniqueIdType"] = name, "private"
		}
		if lt, _ := loc["locationType"].(string); lt != "" {
			loc["locationType"] = strings.ToLower(lt[:1]) + lt[1:]
		}
	}
	m["location"] = loc
	if _, ok := props["locations"]; !ok {
		if name, _ := loc["displayName"].(string); name != "" {
			m["locations"] = []any{map[string]any{"displayName": name, "locationType": "default", "uniqueIdType": "unknown"}}
		}
	}
}

func renderAttendees(v any) []any {
	out := []any{}
	for _, a := range asSlice(v) {
		m, _ := a.(map[string]any)
		c := cloneMap(m)
		if c["status"] == nil {
			c["status"] = map[string]any{"response": "none", "time": "0001-01-01T00:00:00Z"}
		}
		if t, _ := c["type"].(string); t != "" {
			c["type"] = strings.ToLower(t)
		} else {
			c["type"] = "required"
		}
		out = append(out, c)
	}
	return out
}

func (h *handlerCtx) renderExt(m map[string]any, it *item, q *query) {
	if q == nil || q.expandExt == nil {
		return
	}
	out := []any{}
	for _, e := range it.Ext {
		if q.expandExt.id == "" || strings.EqualFold(q.expandExt.id, e.ID) {
			out = append(out, map[string]any{"id": e.ID, "value": e.Value})
		}
	}
	m["singleValueExtendedProperties"] = out
}

// renderBody returns an itemBody as Outlook does: in the stored type, or
// converted when the client asked via Prefer: outlook.body-content-type.
func (h *handlerCtx) renderBody(v any, def string) map[string]any {
	b, _ := v.(map[string]any)
	ct, _ := b["contentType"].(string)
	content, _ := b["content"].(string)
	ct = strings.ToLower(ct)
	if ct == "" {
		ct = "text"
	}
	want := strings.ToLower(h.prefer("outlook.body-content-type"))
	if want == "" {
		want = def
	}
	switch {
	case want == "html" && ct == "text":
		content = textToHTML(content)
		ct = "html"
	case want == "text" && ct == "html":
		content = htmlToText(content)
		ct = "text"
	}
	return map[string]any{"contentType": ct, "content": content}
}

func textToHTML(s string) string {
	if s == "" {
		return ""
	}
	esc := strings.ReplaceAll(html.EscapeString(s), "\n", "<br>\r\n")
	return "<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n<div>" + esc + "</div>\r\n</body>\r\n</html>\r\n"
}

var (
	tagRE   = regexp.MustCompile(`(?s)<[^>]*>`)
	brRE    = regexp.MustCompile(`(?i)<br\s*/?>|</p>|</div>`)
	headRE  = regexp.MustCompile(`(?is)<head>.*?</head>`)
	spaceRE = regexp.MustCompile(`\r\n`)
)

func htmlToText(s string) string {
	s = headRE.ReplaceAllString(s, "")
	s = spaceRE.ReplaceAllString(s, "")
	s = brRE.ReplaceAllString(s, "\n")
	s = tagRE.ReplaceAllString(s, "")
	return strings.TrimSpace(html.UnescapeString(s))
}

func preview(body any) string {
	b, _ := body.(map[string]any)
	content, _ := b["content"].(string)
	if ct, _ := b["contentType"].(string); ct == "html" {
		content = htmlToText(content)
	}
	content = strings.Join(strings.Fields(content), " ")
	r := []rune(content)
	if len(r) > 255 {
		r = r[:255]
	}
	return string(r)
}

func (h *handlerCtx) calendarView(rest []string) *gresp {
	if len(rest) > 0 {
		return errResp(unknownSegment(rest[0]))
	}
	if h.req.method != http.MethodGet {
		return errResp(methodNotAllowed())
	}
	from, to, e := h.window()
	if e != nil {
		return errResp(e)
	}
	// occurrences, exceptions and single instances, never the masters
	var hits []*item
	for _, it := range h.mb.Events.sorted() {
		if it.Props["recurrence"] != nil {
			in := h.instances(it, from, to)
			sortedInstances(in)
			for _, i := range in {
				hits = append(hits, i.it)
			}
			continue
		}
		s, _ := parseDTZ(it.Props["start"])
		e, _ := parseDTZ(it.Props["end"])
		if s.t.Before(to) && e.t.After(from) {
			hits = append(hits, it)
		}
	}
	return h.list("calendar", "event", hits, h.renderEvent, "calendarView")
}
