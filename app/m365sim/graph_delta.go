package m365sim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// The delta query of a mail folder (GET /mailFolders/{id}/messages/delta),
// as Microsoft documents it (learn.microsoft.com/graph/delta-query-messages):
// the first round lists the folder's messages, later rounds what was added
// or changed and, as "@removed", what left the folder since the round the
// deltaLink ended. Pages are linked by @odata.nextLink; the last page has
// the @odata.deltaLink. Page size: Prefer: odata.maxpagesize (default 10).
//
// Like Exchange, the emulator keeps only the latest sync state generations
// of a folder: a link older than the newest deltaSyncGenerations answers
// 410 SyncStateNotFound, and the client must start over.

const deltaSyncGenerations = 3

// tombstone records a message that left a folder (moved, deleted,
// downloaded with POP3 DELE, a draft sent).
type tombstone struct {
	Folder string `json:"folder"`
	ID     string `json:"id"`
	Seq    int64  `json:"seq"`
}

// deltaToken is the state a delta or next link carries.
type deltaToken struct {
	Folder string `json:"f"`
	Gen    int64  `json:"g"`
	Since  int64  `json:"s"` // changes after this sequence number …
	Upper  int64  `json:"u"` // … up to this one belong to the round
	After  int64  `json:"a"` // the round's changes after this one are still to come
	Delta  bool   `json:"d"` // a deltaLink (a new round), not a nextLink
}

func encodeDeltaToken(t deltaToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeDeltaToken(s string) (deltaToken, bool) {
	var t deltaToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	return t, err == nil && json.Unmarshal(b, &t) == nil && t.Folder != ""
}

// removeMessage takes a message out of its folder and records it for the
// delta query. Caller holds s.mu.
func (s *Server) removeMessage(mb *mailbox, it *item) {
	delete(mb.Messages.Items, it.ID)
	s.recordRemoval(mb, it)
}

// recordRemoval notes that a message left its folder. Caller holds s.mu.
func (s *Server) recordRemoval(mb *mailbox, it *item) {
	s.seq++
	mb.Removed = append(mb.Removed, tombstone{Folder: it.Mail.Folder, ID: it.ID, Seq: s.seq})
}

// deltaChange is one entry of a round: a message or a tombstone.
type deltaChange struct {
	seq     int64
	it      *item
	removed string
}

func (h *handlerCtx) messagesDelta(folderID string) *gresp {
	if e := h.need("mail", false); e != nil {
		return errResp(e)
	}
	if h.req.method != http.MethodGet {
		return errResp(methodNotAllowed())
	}
	if folderID == "" {
		return errResp(&graphError{status: 400, code: "ErrorInvalidRequest", message: "Delta queries on messages need a mail folder: /mailFolders/{id}/messages/delta."})
	}
	if h.mb.DeltaGen == nil {
		h.mb.DeltaGen = map[string]int64{}
	}
	tok := deltaToken{Folder: folderID, Upper: h.s.seq}
	raw := h.req.query.Get("$deltatoken")
	if raw == "" {
		raw = h.req.query.Get("$skiptoken")
	}
	if raw != "" {
		t, ok := decodeDeltaToken(raw)
		if !ok || t.Folder != folderID {
			return errResp(&graphError{status: 400, code: "ErrorInvalidSyncStateData", message: "The sync state data is corrupt or otherwise invalid."})
		}
		if highest := h.mb.DeltaGen[folderID]; t.Gen <= highest-deltaSyncGenerations {
			return errResp(&graphError{status: 410, code: "SyncStateNotFound", message: fmt.Sprintf("The sync state generation is not found; generation=%d;[highest=%d].", t.Gen, highest)})
		}
		tok = t
		if t.Delta { // a new round: what changed since the last one ended
			tok = deltaToken{Folder: folderID, Since: t.Upper, Upper: h.s.seq}
		}
	}
	var changes []deltaChange
	for _, it := range h.mb.messagesIn(folderID) {
		if c := it.changed(); c > tok.Since && c <= tok.Upper && c > tok.After {
			changes = append(changes, deltaChange{seq: c, it: it})
		}
	}
	if tok.Since > 0 { // the first round lists what is there, nothing removed
		for _, r := range h.mb.Removed {
			if r.Folder == folderID && r.Seq > tok.Since && r.Seq <= tok.Upper && r.Seq > tok.After {
				changes = append(changes, deltaChange{seq: r.Seq, removed: r.ID})
			}
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].seq < changes[j].seq })
	size := 10
	if v := h.prefer("odata.maxpagesize"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			size = min(n, 1000)
		}
	}
	q, e := parseQuery(url.Values{"$select": h.req.query["$select"]}, "message")
	if e != nil {
		return errResp(e)
	}
	var value []any
	for _, c := range changes[:min(size, len(changes))] {
		if c.removed != "" {
			value = append(value, map[string]any{"@odata.type": "#microsoft.graph.message", "id": c.removed, "@removed": map[string]any{"reason": "deleted"}})
			continue
		}
		value = append(value, selectProps(h.renderMessage(c.it, q), q.selectProps))
	}
	if value == nil {
		value = []any{}
	}
	h.mb.DeltaGen[folderID]++
	next := tok
	next.Gen = h.mb.DeltaGen[folderID]
	base := h.s.httpURL + "/v1.0" + h.req.path
	body := map[string]any{"@odata.context": h.s.contextURL(h.owner, "mailFolders('"+folderID+"')/messages/delta"), "value": value}
	if len(changes) > size {
		next.After = changes[size-1].seq
		next.Delta = false
		body["@odata.nextLink"] = base + "?" + keepSelect(h.req.query, "$skiptoken", encodeDeltaToken(next))
	} else {
		next.Delta = true
		next.After = 0
		body["@odata.deltaLink"] = base + "?" + keepSelect(h.req.query, "$deltatoken", encodeDeltaToken(next))
	}
	var hdr http.Header
	if h.prefer("odata.maxpagesize") != "" {
		hdr = http.Header{"Preference-Applied": {"odata.maxpagesize=" + strconv.Itoa(size)}}
	}
	return &gresp{status: 200, body: body, header: hdr}
}

// keepSelect builds a link's query: the original $select and the token.
func keepSelect(q url.Values, key, token string) string {
	v := url.Values{key: {token}}
	if sel := q.Get("$select"); sel != "" {
		v.Set("$select", sel)
	}
	return strings.ReplaceAll(v.Encode(), "%24", "$")
}

// changed is the sequence number of the message's last change.
func (it *item) changed() int64 {
	if it.Changed > 0 {
		return it.Changed
	}
	return it.Seq
}
