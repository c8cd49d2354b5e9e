package m365sim

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// The mailbox's master list of categories (outlookCategory): a name,
// unique in the mailbox and never renamed, and one of 25 preset colours.
// A new mailbox has Outlook's six default categories, in German.

var defaultCategories = []struct{ name, color string }{
	{"Rote Kategorie", "preset0"}, {"Orange Kategorie", "preset1"}, {"Gelbe Kategorie", "preset3"},
	{"Grüne Kategorie", "preset4"}, {"Blaue Kategorie", "preset7"}, {"Lila Kategorie", "preset8"},
}

var presetRE = regexp.MustCompile(`^(?i:none|preset([0-9]|1[0-9]|2[0-4]))$`)

func (s *Server) categories(mb *mailbox) *collection {
	if mb.Categories == nil {
		mb.Categories = newCollection()
		for _, c := range defaultCategories {
			s.newCategory(mb, c.name, c.color)
		}
	}
	return mb.Categories
}

// newCategory adds a category; its id is a GUID, as Outlook's. Caller holds s.mu.
func (s *Server) newCategory(mb *mailbox, name, color string) *item {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	now := s.now()
	s.seq++
	it := &item{ID: fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]),
		Props: map[string]any{"displayName": name, "color": color}, ChangeKey: s.newChangeKey(), Created: now, Modified: now, Seq: s.seq}
	mb.Categories.Items[it.ID] = it
	return it
}

func renderCategory(it *item, _ *query) map[string]any {
	return map[string]any{"id": it.ID, "displayName": it.Props["displayName"], "color": it.Props["color"]}
}

// masterCategories answers …/outlook/masterCategories[/{id}].
func (h *handlerCtx) masterCategories(rest []string) *gresp {
	cats := h.s.categories(h.mb)
	write := h.req.method != http.MethodGet
	if e := h.need("mailboxSettings", write); e != nil {
		return errResp(e)
	}
	if len(rest) == 0 {
		switch h.req.method {
		case http.MethodGet:
			return h.list("mailboxSettings", "outlookCategory", cats.sorted(), renderCategory, "outlook/masterCategories")
		case http.MethodPost:
			in, e := decodeBody(h.req.body)
			if e != nil {
				return errResp(e)
			}
			name, _ := in["displayName"].(string)
			color, _ := in["color"].(string)
			if color == "" {
				color = "none"
			}
			if strings.TrimSpace(name) == "" {
				return errResp(invalidRequest("The category's displayName is required."))
			}
			if !presetRE.MatchString(color) {
				return errResp(bodyReadError("Cannot convert the literal '%s' to the expected type 'microsoft.graph.categoryColor'.", color))
			}
			for _, it := range cats.Items {
				if strings.EqualFold(it.Props["displayName"].(string), name) {
					// The name must be unique in the master list; the
					// error code of a duplicate is not documented.
					return errResp(&graphError{status: http.StatusConflict, code: "ErrorDuplicateCategory", message: "A category with the name '" + name + "' already exists."})
				}
			}
			it := h.s.newCategory(h.mb, name, strings.ToLower(color[:1])+color[1:])
			body := renderCategory(it, nil)
			body["@odata.context"] = h.s.contextURL(h.owner, "outlook/masterCategories/$entity")
			return &gresp{status: 201, body: body}
		}
		return errResp(methodNotAllowed())
	}
	if len(rest) > 1 {
		return errResp(unknownSegment(rest[1]))
	}
	it := cats.get(rest[0])
	if it == nil {
		return errResp(itemNotFound())
	}
	switch h.req.method {
	case http.MethodGet:
		body := renderCategory(it, nil)
		body["@odata.context"] = h.s.contextURL(h.owner, "outlook/masterCategories/$entity")
		return &gresp{status: 200, body: body}
	case http.MethodPatch:
		in, e := decodeBody(h.req.body)
		if e != nil {
			return errResp(e)
		}
		if _, ok := in["displayName"]; ok {
			return errResp(invalidRequest("The displayName of a category cannot be changed."))
		}
		if c, ok := in["color"].(string); ok {
			if !presetRE.MatchString(c) {
				return errResp(bodyReadError("Cannot convert the literal '%s' to the expected type 'microsoft.graph.categoryColor'.", c))
			}
			it.Props["color"] = c
			h.s.touch(it)
		}
		return &gresp{status: 200, body: renderCategory(it, nil)}
	case http.MethodDelete:
		delete(cats.Items, it.ID)
		return &gresp{status: 204}
	}
	return errResp(methodNotAllowed())
}
