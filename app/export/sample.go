package export

import (
	"context"
	"html"
	"strings"

	"kanzleisync/app/config"
	"kanzleisync/app/source"
)

// Sample is one item as it would leave the firm under some settings: what
// an Outlook user, a delegate, a phone and Microsoft see.
type Sample struct {
	Key      string // "termin:4711"
	Subject  string
	Location string
	Body     string // as plain text
	Private  bool   // sensitivity private
}

// Samples shows how the first Termine (a confidential one among them, if
// the cache has one), a Frist and a Wiedervorlage of the cache would be
// exported under s — the preview of a disclosure setting before it is saved.
func Samples(ctx context.Context, c *source.Cache, s config.Settings) ([]Sample, error) {
	appts, _, err := c.Appointments(ctx, "")
	if err != nil {
		return nil, err
	}
	deadlines, _, err := c.Deadlines(ctx, "")
	if err != nil {
		return nil, err
	}
	resubs, _, err := c.Resubmissions(ctx, "")
	if err != nil {
		return nil, err
	}
	var items []Item
	confidential := false
	for i, a := range appts {
		if i < 2 || (a.Confidential && !confidential) {
			items = append(items, appointmentItem(a, s))
			confidential = confidential || a.Confidential
		}
	}
	if len(deadlines) > 0 {
		items = append(items, deadlineItems(deadlines[0], s)[0])
	}
	if len(resubs) > 0 {
		items = append(items, resubmissionItem(resubs[0], s))
	}
	out := make([]Sample, 0, len(items))
	for _, it := range items {
		f := it.Fields()
		str := func(k string) string { v, _ := f[k].(string); return v }
		sm := Sample{Key: it.SourceKey, Subject: str("subject"), Private: str("sensitivity") == "private"}
		if sm.Subject == "" {
			sm.Subject = str("title")
		}
		if loc, ok := f["location"].(map[string]any); ok {
			sm.Location, _ = loc["displayName"].(string)
		}
		if b, ok := f["body"].(map[string]any); ok {
			content, _ := b["content"].(string)
			if b["contentType"] == "html" {
				content = html.UnescapeString(strings.ReplaceAll(content, "<br>", "\n"))
			}
			sm.Body = strings.ReplaceAll(content, "\n", " / ")
		}
		out = append(out, sm)
	}
	return out, nil
}
