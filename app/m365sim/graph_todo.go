package m365sim

import (
	"net/http"
	"strings"
	"time"
)

func (h *handlerCtx) contacts(rest []string) *gresp {
	m := h.req.method
	switch {
	case len(rest) == 0 && m == http.MethodGet:
		return h.list("contacts", "contact", h.mb.Contacts.sorted(), h.renderContact, "contacts")
	case len(rest) == 0 && m == http.MethodPost:
		return h.create("contacts", "contact", h.mb.Contacts, h.renderContact, "contacts", nil)
	case len(rest) == 1:
		return h.entity("contacts", "contact", h.mb.Contacts.get(rest[0]), h.renderContact, "contacts", h.mb.Contacts, nil)
	}
	return errResp(restError(rest))
}

// create answers POST on a collection.
func (h *handlerCtx) create(perm, schema string, coll *collection, render func(*item, *query) map[string]any, ctx string, prepare func(in map[string]any) *graphError) *gresp {
	if e := h.need(perm, true); e != nil {
		return errResp(e)
	}
	in, e := decodeBody(h.req.body)
	if e == nil {
		e = validateBody(schema, in)
	}
	if e == nil && in["singleValueExtendedProperties"] != nil {
		e = checkExtProps(in["singleValueExtendedProperties"])
	}
	if e == nil && prepare != nil {
		e = prepare(in)
	}
	if e != nil {
		return errResp(e)
	}
	it := h.s.newItem(coll, map[string]any{})
	h.applyProps(it, in)
	body := render(it, &query{})
	body["@odata.context"] = h.s.contextURL(h.owner, ctx+"/$entity")
	return &gresp{status: 201, body: body, header: h.preferApplied()}
}

func (h *handlerCtx) renderContact(it *item, q *query) map[string]any {
	m := map[string]any{
		"birthday": nil, "fileAs": "", "displayName": "", "givenName": nil, "initials": nil, "middleName": nil,
		"nickName": nil, "surname": nil, "title": nil, "yomiGivenName": nil, "yomiSurname": nil, "yomiCompanyName": nil,
		"generation": nil, "imAddresses": []any{}, "jobTitle": nil, "companyName": nil, "department": nil,
		"officeLocation": nil, "profession": nil, "businessHomePage": nil, "assistantName": nil, "manager": nil,
		"homePhones": []any{}, "mobilePhone": nil, "businessPhones": []any{}, "spouseName": nil, "personalNotes": "",
		"children": []any{}, "emailAddresses": []any{}, "homeAddress": map[string]any{}, "businessAddress": map[string]any{},
		"otherAddress": map[string]any{}, "categories": []any{},
	}
	for k, v := range it.Props {
		m[k] = v
	}
	if dn, _ := it.Props["displayName"].(string); dn == "" {
		given, _ := it.Props["givenName"].(string)
		sur, _ := it.Props["surname"].(string)
		m["displayName"] = strings.TrimSpace(given + " " + sur)
	}
	m["id"] = it.ID
	m["@odata.etag"] = etag(it)
	m["changeKey"] = it.ChangeKey
	m["createdDateTime"] = isoTime(it.Created)
	m["lastModifiedDateTime"] = isoTime(it.Modified)
	m["parentFolderId"] = "AAMkADcontacts"
	h.renderExt(m, it, q)
	return m
}

func (h *handlerCtx) todo(rest []string) *gresp {
	h.s.ensureDefaults(h.mb)
	if len(rest) == 0 || rest[0] != "lists" {
		if len(rest) == 0 {
			return errResp(unknownSegment("todo"))
		}
		return errResp(unknownSegment(rest[0]))
	}
	rest = rest[1:]
	m := h.req.method
	switch {
	case len(rest) == 0 && m == http.MethodGet:
		return h.list("tasks", "todoTaskList", h.mb.Lists.sorted(), h.renderList, "todo/lists")
	case len(rest) == 0 && m == http.MethodPost:
		resp := h.create("tasks", "todoTaskList", h.mb.Lists, h.renderList, "todo/lists", func(in map[string]any) *graphError {
			if name, _ := in["displayName"].(string); strings.TrimSpace(name) == "" {
				return invalidRequest("Invalid request: displayName is required.")
			}
			return nil
		})
		if resp.status == 201 {
			id, _ := resp.body.(map[string]any)["id"].(string)
			h.mb.Tasks[id] = newCollection()
		}
		return resp
	}
	list := h.mb.Lists.get(rest[0])
	if len(rest) == 1 {
		if m == http.MethodDelete && list != nil && list.Extra["wellKnown"] == "defaultList" {
			return errResp(&graphError{status: 400, code: "invalidRequest", message: "The default list cannot be deleted."})
		}
		resp := h.entity("tasks", "todoTaskList", list, h.renderList, "todo/lists", h.mb.Lists, nil)
		if m == http.MethodDelete && resp.status == 204 {
			delete(h.mb.Tasks, rest[0])
		}
		return resp
	}
	if list == nil {
		if e := h.need("tasks", m != http.MethodGet); e != nil {
			return errResp(e)
		}
		return errResp(itemNotFound())
	}
	if rest[1] != "tasks" {
		return errResp(unknownSegment(rest[1]))
	}
	tasks := h.mb.Tasks[list.ID]
	rest = rest[2:]
	switch {
	case len(rest) == 0 && m == http.MethodGet:
		return h.list("tasks", "todoTask", tasks.sorted(), h.renderTask, "todo/lists('"+list.ID+"')/tasks")
	case len(rest) == 0 && m == http.MethodPost:
		var links []any
		resp := h.create("tasks", "todoTask", tasks, h.renderTask, "todo/lists('"+list.ID+"')/tasks", func(in map[string]any) *graphError {
			links = asSlice(in["linkedResources"])
			delete(in, "linkedResources")
			return h.normTaskDates(in, nil)
		})
		if resp.status == 201 && len(links) > 0 {
			it := tasks.get(resp.body.(map[string]any)["id"].(string))
			for _, l := range links {
				h.addLink(it, l.(map[string]any))
			}
			body := h.renderTask(it, &query{expandLinks: true})
			body["@odata.context"] = resp.body.(map[string]any)["@odata.context"]
			resp.body = body
		}
		return resp
	case len(rest) == 1:
		it := tasks.get(rest[0])
		if m == http.MethodPatch && it != nil {
			in, e := decodeBody(h.req.body)
			if e == nil {
				e = validateBody("todoTask", in)
			}
			if e == nil {
				if _, ok := in["linkedResources"]; ok {
					e = invalidRequest("linkedResources cannot be updated with the task; use the linkedResources navigation property.")
				}
			}
			if e == nil {
				e = h.normTaskDates(in, it)
			}
			if e != nil {
				if pe := h.need("tasks", true); pe != nil {
					return errResp(pe)
				}
				return errResp(e)
			}
			h.req.body = mustJSON(in)
		}
		return h.entity("tasks", "todoTask", it, h.renderTask, "todo/lists('"+list.ID+"')/tasks", tasks, nil)
	case len(rest) >= 2 && rest[1] == "linkedResources":
		return h.linkedResources(tasks.get(rest[0]), rest[2:])
	}
	return errResp(restError(rest))
}

// normTaskDates stores To Do dates in UTC as the To Do service does, and
// keeps completedDateTime in step with status.
func (h *handlerCtx) normTaskDates(in map[string]any, existing *item) *graphError {
	for _, k := range []string{"dueDateTime", "startDateTime", "reminderDateTime", "completedDateTime"} {
		if v, ok := in[k]; ok && v != nil {
			d, e := parseDTZ(v)
			if e != nil {
				return e
			}
			in[k] = renderDTZ(d.t, "UTC")
		}
	}
	if st, ok := in["status"].(string); ok {
		if st == "completed" {
			if in["completedDateTime"] == nil {
				in["completedDateTime"] = renderDTZ(h.s.now(), "UTC")
			}
		} else if existing != nil {
			in["completedDateTime"] = nil
		}
	}
	return nil
}

func (h *handlerCtx) addLink(task *item, in map[string]any) *item {
	if task.Links == nil {
		task.Links = map[string]*item{}
	}
	h.s.seq++
	l := &item{ID: h.s.newGUID(), Props: in, Seq: h.s.seq, Created: h.s.now(), Modified: h.s.now()}
	task.Links[l.ID] = l
	return l
}

func (h *handlerCtx) linkedResources(task *item, rest []string) *gresp {
	write := h.req.method != http.MethodGet
	if e := h.need("tasks", write); e != nil {
		return errResp(e)
	}
	if task == nil {
		return errResp(itemNotFound())
	}
	render := func(l *item) map[string]any {
		m := map[string]any{"webUrl": nil, "applicationName": nil, "displayName": nil, "externalId": nil}
		for k, v := range l.Props {
			m[k] = v
		}
		m["id"] = l.ID
		return m
	}
	if len(rest) == 0 {
		switch h.req.method {
		case http.MethodGet:
			coll := &collection{Items: task.Links}
			out := []any{}
			for _, l := range coll.sorted() {
				out = append(out, render(l))
			}
			return &gresp{status: 200, body: map[string]any{"value": out}}
		case http.MethodPost:
			in, e := decodeBody(h.req.body)
			if e == nil {
				e = validateBody("linkedResource", in)
			}
			if e != nil {
				return errResp(e)
			}
			l := h.addLink(task, in)
			h.s.touch(task)
			return &gresp{status: 201, body: render(l)}
		}
		return errResp(methodNotAllowed())
	}
	l := task.Links[rest[0]]
	if l == nil {
		return errResp(itemNotFound())
	}
	switch h.req.method {
	case http.MethodGet:
		return &gresp{status: 200, body: render(l)}
	case http.MethodPatch:
		in, e := decodeBody(h.req.body)
		if e == nil {
			e = validateBody("linkedResource", in)
		}
		if e != nil {
			return errResp(e)
		}
		for k, v := range in {
			l.Props[k] = v
		}
		h.s.touch(task)
		return &gresp{status: 200, body: render(l)}
	case http.MethodDelete:
		delete(task.Links, l.ID)
		h.s.touch(task)
		return &gresp{status: 204}
	}
	return errResp(methodNotAllowed())
}

func (h *handlerCtx) renderList(it *item, _ *query) map[string]any {
	wk := it.Extra["wellKnown"]
	if wk == "" {
		wk = "none"
	}
	return map[string]any{"@odata.etag": etag(it), "id": it.ID, "displayName": it.Props["displayName"],
		"isOwner": true, "isShared": false, "wellknownListName": wk}
}

func (h *handlerCtx) renderTask(it *item, q *query) map[string]any {
	m := map[string]any{"importance": "normal", "isReminderOn": false, "status": "notStarted", "title": "",
		"hasAttachments": false, "categories": []any{}, "body": map[string]any{"content": "", "contentType": "text"}}
	for k, v := range it.Props {
		m[k] = v
	}
	m["@odata.etag"] = etag(it)
	m["id"] = it.ID
	m["createdDateTime"] = it.Created.Format(time.RFC3339Nano)
	m["lastModifiedDateTime"] = it.Modified.Format(time.RFC3339Nano)
	m["bodyLastModifiedDateTime"] = it.Modified.Format(time.RFC3339Nano)
	if q != nil && q.expandLinks {
		out := []any{}
		for _, l := range (&collection{Items: it.Links}).sorted() {
			lm := map[string]any{"id": l.ID}
			for k, v := range l.Props {
				lm[k] = v
			}
			out = append(out, lm)
		}
		m["linkedResources"] = out
	}
	return m
}
