package m365sim

import (
	"sort"
	"strings"
	"time"
)

// item is one stored Graph object: its writable properties as JSON values,
// its extended properties and the metadata Exchange keeps.
type item struct {
	ID        string            `json:"id"`
	Props     map[string]any    `json:"props"`
	Ext       []extProp         `json:"ext,omitempty"`
	ChangeKey string            `json:"changeKey"`
	Created   time.Time         `json:"created"`
	Modified  time.Time         `json:"modified"`
	Seq       int64             `json:"seq"`
	Changed   int64             `json:"changed,omitempty"` // sequence number of the last change (0: Seq)
	Links     map[string]*item  `json:"links,omitempty"`   // To Do linkedResources
	Mail      *mailData         `json:"mail,omitempty"`
	Extra     map[string]string `json:"extra,omitempty"`
	// Series: a series master's exceptions and cancelled occurrences
	Series *series `json:"series,omitempty"`
}

type extProp struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// mailData is what a message has beyond its Graph properties.
type mailData struct {
	Raw      []byte    `json:"raw"`
	Folder   string    `json:"folder"`
	UIDL     string    `json:"uidl"`
	Received time.Time `json:"received"`
	// Attachments are the files added to a draft (sent with it).
	Attachments []simAttachment `json:"attachments,omitempty"`
}

// sameExtID compares extended property ids as Exchange does: the type and
// the property set GUID (or tag) ignore case, the string Name after
// " Name " does not ("Filtering the string name (Name) in the id of an
// extended property is case-sensitive", Graph's
// singleValueLegacyExtendedProperty-get).
func sameExtID(a, b string) bool {
	split := func(id string) (string, string) {
		if i := strings.Index(strings.ToLower(id), " name "); i >= 0 {
			return id[:i], id[i+len(" name "):]
		}
		return id, ""
	}
	ap, an := split(a)
	bp, bn := split(b)
	return strings.EqualFold(strings.Join(strings.Fields(ap), " "), strings.Join(strings.Fields(bp), " ")) && an == bn
}

func (it *item) extValue(id string) (string, bool) {
	for _, e := range it.Ext {
		if sameExtID(e.ID, id) {
			return e.Value, true
		}
	}
	return "", false
}

// setExt sets extended properties, replacing values of the same id.
func (it *item) setExt(props []any) {
	for _, p := range props {
		m, _ := p.(map[string]any)
		id, _ := m["id"].(string)
		val, _ := m["value"].(string)
		replaced := false
		for i := range it.Ext {
			if sameExtID(it.Ext[i].ID, id) {
				it.Ext[i].Value = val
				replaced = true
			}
		}
		if !replaced {
			it.Ext = append(it.Ext, extProp{ID: id, Value: val})
		}
	}
}

// lookup reads a property by OData path ("start/dateTime").
func (it *item) lookup(path string) any {
	if path == "id" {
		return it.ID
	}
	if path == "lastModifiedDateTime" {
		return isoTime(it.Modified)
	}
	if path == "createdDateTime" {
		return isoTime(it.Created)
	}
	if path == "receivedDateTime" && it.Mail != nil {
		return isoTime(it.Mail.Received)
	}
	var cur any = it.Props
	for _, seg := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[seg]
	}
	return cur
}

// collection keeps items in creation order.
type collection struct {
	Items map[string]*item `json:"items"`
}

func newCollection() *collection { return &collection{Items: map[string]*item{}} }

func (c *collection) get(id string) *item { return c.Items[id] }

func (c *collection) sorted() []*item {
	out := make([]*item, 0, len(c.Items))
	for _, it := range c.Items {
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// mailbox is the Exchange mailbox of one user.
type mailbox struct {
	Events   *collection            `json:"events"`
	Contacts *collection            `json:"contacts"`
	Lists    *collection            `json:"lists"`
	Tasks    map[string]*collection `json:"tasks"` // list id -> tasks
	Folders  *collection            `json:"folders"`
	Messages *collection            `json:"messages"`
	TxIDs    map[string]string      `json:"txIds"` // transactionId -> event id
	// Categories: the master list of categories (nil: not yet touched)
	Categories *collection `json:"categories,omitempty"`
	// Removed are the messages that left a folder, for the delta query;
	// DeltaGen is each folder's newest sync state generation.
	Removed  []tombstone      `json:"removed,omitempty"`
	DeltaGen map[string]int64 `json:"deltaGen,omitempty"`
	popBusy  bool             // a POP3 session holds the maildrop
}

// Well-known mail folders; display names are those of a German mailbox.
var wellKnownFolders = []struct{ name, display string }{
	{"inbox", "Posteingang"}, {"sentitems", "Gesendete Elemente"}, {"deleteditems", "Gelöschte Elemente"},
	{"drafts", "Entwürfe"}, {"archive", "Archiv"}, {"junkemail", "Junk-E-Mail"},
}

func newMailbox() *mailbox {
	return &mailbox{Events: newCollection(), Contacts: newCollection(), Lists: newCollection(),
		Tasks: map[string]*collection{}, Folders: newCollection(), Messages: newCollection(), TxIDs: map[string]string{}}
}

// ensureDefaults creates the well-known folders and the default To Do list
// the first time a mailbox is touched. Caller holds s.mu.
func (s *Server) ensureDefaults(mb *mailbox) {
	if len(mb.Folders.Items) > 0 {
		return
	}
	now := s.now()
	for _, f := range wellKnownFolders {
		id := s.newItemID()
		s.seq++
		mb.Folders.Items[id] = &item{ID: id, Props: map[string]any{"displayName": f.display, "isHidden": false},
			ChangeKey: s.newChangeKey(), Created: now, Modified: now, Seq: s.seq, Extra: map[string]string{"wellKnown": f.name}}
	}
	id := s.newItemID()
	s.seq++
	mb.Lists.Items[id] = &item{ID: id, Props: map[string]any{"displayName": "Aufgaben"}, ChangeKey: s.newChangeKey(),
		Created: now, Modified: now, Seq: s.seq, Extra: map[string]string{"wellKnown": "defaultList"}}
	mb.Tasks[id] = newCollection()
}

// folderByName resolves a folder id or well-known name. Caller holds s.mu.
func (s *Server) folderByName(mb *mailbox, idOrName string) *item {
	s.ensureDefaults(mb)
	if it := mb.Folders.get(idOrName); it != nil {
		return it
	}
	for _, it := range mb.Folders.Items {
		if strings.EqualFold(it.Extra["wellKnown"], idOrName) {
			return it
		}
	}
	return nil
}

// newItem stores a fresh item. Caller holds s.mu.
func (s *Server) newItem(c *collection, props map[string]any) *item {
	now := s.now()
	s.seq++
	it := &item{ID: s.newItemID(), Props: props, ChangeKey: s.newChangeKey(), Created: now, Modified: now, Seq: s.seq}
	c.Items[it.ID] = it
	return it
}

// touch records a change. Caller holds s.mu.
func (s *Server) touch(it *item) {
	it.ChangeKey = s.newChangeKey()
	it.Modified = s.now()
	s.seq++
	it.Changed = s.seq
}
