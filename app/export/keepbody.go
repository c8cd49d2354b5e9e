package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"kanzleisync/app/config"
	"kanzleisync/app/graph"
	"kanzleisync/app/store"
)

// Keys in a mapping's hashes that are no Graph field (docs/export.md,
// "In Outlook geänderte Texte behalten").
const (
	bodySentKey = "body#sent" // fingerprint of the text of the body last sent
	bodyKeptKey = "body#kept" // "1": edited in Outlook; kept while the setting is on
)

var (
	lineBreakRE = regexp.MustCompile(`(?i)<br\s*/?>|</p>|</div>|</li>|</tr>`)
	headTagRE   = regexp.MustCompile(`(?is)<head>.*?</head>|<style.*?</style>`)
	anyTagRE    = regexp.MustCompile(`(?s)<[^>]*>`)
)

// bodyText is the text of an itemBody as a person reads it: tags removed,
// entities decoded, whitespace collapsed. Outlook rewrites HTML on every
// save, so only the text can tell an edit from a re-rendering.
func bodyText(b any) string {
	m, _ := b.(map[string]any)
	content, _ := m["content"].(string)
	if ct, _ := m["contentType"].(string); strings.EqualFold(ct, "html") || strings.Contains(content, "<") {
		content = headTagRE.ReplaceAllString(content, "")
		content = lineBreakRE.ReplaceAllString(content, "\n")
		content = anyTagRE.ReplaceAllString(content, "")
		content = html.UnescapeString(content)
	}
	return strings.Join(strings.Fields(content), " ")
}

func textFP(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}

// sentBodyFP is what a mapping records of a body it sends.
func sentBodyFP(it Item) (string, bool) {
	b, ok := it.Fields()["body"]
	if !ok {
		return "", false
	}
	return textFP(bodyText(b)), true
}

// keepOutlookBodies takes the body out of updates of events whose body a
// user changed in Outlook, when the firm's setting says to keep such
// edits. An edit is a body whose text in Outlook differs from the text
// kanzleisync last sent (or, when that is not known because the state was
// lost, from the text it would send now). Such an event is marked and its
// body is never overwritten again while the setting is on. Updates whose
// body cannot be read now are left for the next cycle.
func (e *Exporter) keepOutlookBodies(ctx context.Context, c *graph.Client, w config.Worker, mb string, ops []Op) ([]Op, error) {
	if !e.Settings.KeepOutlookBodyEdits {
		return ops, nil
	}
	var check []int
	var reqs []graph.Request
	for i := range ops {
		op := &ops[i]
		if op.Action != "update" || op.Item.Kind != Event || !slices.Contains(op.Fields, "body") {
			continue
		}
		if op.Mapping.Hashes[bodyKeptKey] == "1" {
			op.keepBody = true
			continue
		}
		check = append(check, i)
		reqs = append(reqs, graph.Request{ID: op.Item.Key, Method: http.MethodGet,
			URL:     e.collection(Event, mb, "") + "/" + url.PathEscape(op.Mapping.GraphID) + "?$select=body",
			Headers: map[string]string{"Prefer": `outlook.body-content-type="text"`}})
	}
	unread := map[int]bool{}
	if len(reqs) > 0 {
		for n, a := range c.Batch(ctx, reqs) {
			i := check[n]
			op := &ops[i]
			if a.Status == http.StatusNotFound {
				continue // deleted in Outlook: the update re-creates it
			}
			if !a.OK() {
				unread[i] = true
				continue
			}
			var got struct {
				Body map[string]any `json:"body"`
			}
			_ = json.Unmarshal(a.Body, &got)
			inOutlook := textFP(bodyText(got.Body))
			last := op.Mapping.Hashes[bodySentKey]
			if last == "" { // state lost or exported before this was recorded
				last, _ = sentBodyFP(op.Item)
			}
			if inOutlook != last {
				op.keepBody = true
			}
		}
	}
	out := ops[:0:0]
	var marks []store.Mapping
	for i, op := range ops {
		if unread[i] {
			continue
		}
		if op.keepBody {
			op.Fields = slices.DeleteFunc(slices.Clone(op.Fields), func(f string) bool { return f == "body" })
			if len(op.Fields) == 0 {
				marks = append(marks, e.updatedMapping(op))
				continue
			}
		}
		out = append(out, op)
	}
	return out, e.Store.PutMappings(ctx, marks...)
}

// updatedMapping is the mapping after an update of op was sent: the new
// fingerprints, except for a body kept from Outlook.
func (e *Exporter) updatedMapping(op Op) store.Mapping {
	m := op.Mapping
	hashes := make(map[string]string, len(m.Hashes))
	for k, h := range m.Hashes {
		hashes[k] = h
	}
	for k, h := range op.Item.Hashes() {
		if k == "body" && op.keepBody {
			continue
		}
		hashes[k] = h
	}
	if op.keepBody {
		hashes[bodyKeptKey] = "1"
	} else if fp, ok := sentBodyFP(op.Item); ok && slices.Contains(op.Fields, "body") {
		hashes[bodySentKey] = fp
		delete(hashes, bodyKeptKey)
	}
	m.Hashes = hashes
	m.Updated, m.SourceModified, m.SettingsFP = e.now(), modifiedStamp(op.Item.Modified), settingsFP(e.Settings)
	return m
}
