package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"kanzleisync/app/config"
	"kanzleisync/app/graph"
	"kanzleisync/app/store"
)

const listKey = "list/todo"

// ensureList finds or creates the To Do list the Fristen go into.
func (e *Exporter) ensureList(ctx context.Context, c *graph.Client, w config.Worker, mb string, maps map[string]store.Mapping, check bool) (string, error) {
	fp := settingsFP(e.Settings)
	if m, ok := maps[listKey]; ok && m.GraphID != "" && !check && m.SettingsFP == fp {
		return m.GraphID, nil
	}
	if m, ok := maps[listKey]; ok && m.GraphID != "" {
		// a full check, or the settings changed (the list's name among them)
		r := c.Do(ctx, graph.Request{Method: http.MethodGet, URL: mb + "/todo/lists/" + url.PathEscape(m.GraphID) + "?$select=id,displayName"})
		var ge *graph.Error
		if r.OK() {
			if err := e.nameList(ctx, c, w, mb, m, r.Body); err != nil {
				return "", err
			}
			return m.GraphID, nil
		}
		if !errors.As(r.Err, &ge) || ge.Status != http.StatusNotFound {
			return "", fmt.Errorf("check the To Do list: %w", r.Err)
		}
		// the list was deleted in Microsoft 365: its tasks went with it
		for key := range maps {
			if strings.HasPrefix(key, Task+"/") {
				if err := e.Store.DeleteMapping(ctx, w.UPN, key); err != nil {
					return "", err
				}
			}
		}
	}
	lists, err := c.GetAll(ctx, mb+"/todo/lists")
	if err != nil {
		return "", err
	}
	id := ""
	for _, raw := range lists {
		var l struct{ ID, DisplayName string }
		_ = json.Unmarshal(raw, &l)
		if l.DisplayName == e.Settings.TodoListName {
			id = l.ID
			break
		}
	}
	if id == "" {
		r := c.Do(ctx, graph.Request{Method: http.MethodPost, URL: mb + "/todo/lists", Body: map[string]any{"displayName": e.Settings.TodoListName}})
		if r.Err != nil {
			return "", fmt.Errorf("create the To Do list %q: %w", e.Settings.TodoListName, r.Err)
		}
		var l struct{ ID string }
		_ = json.Unmarshal(r.Body, &l)
		id = l.ID
	}
	if err := e.Store.PutMapping(ctx, store.Mapping{Worker: w.UPN, ItemKey: listKey, GraphID: id, Hashes: map[string]string{}, Updated: e.now(), SettingsFP: fp}); err != nil {
		return "", err
	}
	return id, nil
}

// nameList renames kanzleisync's To Do list when the firm's setting names
// it differently (the setting leads, as for every exported field): the list
// keeps its id, its tasks and whatever users set on them.
func (e *Exporter) nameList(ctx context.Context, c *graph.Client, w config.Worker, mb string, m store.Mapping, body []byte) error {
	var l struct{ DisplayName string }
	_ = json.Unmarshal(body, &l)
	if want := e.Settings.TodoListName; l.DisplayName != want {
		r := c.Do(ctx, graph.Request{Method: http.MethodPatch, URL: mb + "/todo/lists/" + url.PathEscape(m.GraphID), Body: map[string]any{"displayName": want}})
		entry := store.JournalEntry{At: e.now(), Worker: w.UPN, ItemKey: listKey, Action: "rename", Result: "ok", RequestID: r.RequestID}
		if r.Err != nil {
			entry.Result, entry.Error = "error", r.Err.Error()
		}
		if err := e.Store.Journal(ctx, entry); err != nil {
			return err
		}
		if r.Err != nil {
			return fmt.Errorf("rename the To Do list %q to %q: %w", l.DisplayName, want, r.Err)
		}
		e.listRenamed = true
	}
	m.SettingsFP, m.Updated = settingsFP(e.Settings), e.now()
	return e.Store.PutMapping(ctx, m)
}

// found is what Microsoft 365 holds for a source key.
type found struct {
	itemKey string
	ids     []string
}

// reconcile rebuilds the mapping from the source keys stored in Microsoft
// 365: pending and missing mappings are adopted (never created twice),
// doubles are deleted, and mappings of items deleted there are dropped so
// that the plan creates them again.
func (e *Exporter) reconcile(ctx context.Context, c *graph.Client, w config.Worker, mb, listID string) (int, error) {
	inGraph := map[string]*found{}
	add := func(kind, sourceKey, id string) {
		key := kind + "/" + sourceKey
		f := inGraph[key]
		if f == nil {
			f = &found{itemKey: key}
			inGraph[key] = f
		}
		f.ids = append(f.ids, id)
	}
	filter := url.Values{
		"$filter": {fmt.Sprintf("singleValueExtendedProperties/Any(ep: ep/id eq '%s')", SourceKeyProperty)},
		"$expand": {fmt.Sprintf("singleValueExtendedProperties($filter=id eq '%s')", SourceKeyProperty)},
		"$select": {"id"}, "$top": {"1000"},
	}.Encode()
	for _, kind := range []string{Event, Contact} {
		if (kind == Event && !w.Has(config.Calendar)) || (kind == Contact && !w.Has(config.Contacts)) {
			continue
		}
		items, err := c.GetAll(ctx, e.collection(kind, mb, "")+"?"+filter)
		if err != nil {
			return 0, err
		}
		for _, raw := range items {
			var it struct {
				ID  string                       `json:"id"`
				Ext []struct{ ID, Value string } `json:"singleValueExtendedProperties"`
			}
			_ = json.Unmarshal(raw, &it)
			for _, x := range it.Ext {
				if strings.EqualFold(x.ID, SourceKeyProperty) {
					add(kind, x.Value, it.ID)
				}
			}
		}
	}
	if listID != "" {
		tasks, err := c.GetAll(ctx, e.collection(Task, mb, listID)+"?$expand=linkedResources&$top=1000")
		if err != nil {
			return 0, err
		}
		for _, raw := range tasks {
			var t struct {
				ID    string                                         `json:"id"`
				Links []struct{ ApplicationName, ExternalID string } `json:"linkedResources"`
			}
			_ = json.Unmarshal(raw, &t)
			for _, l := range t.Links {
				if l.ApplicationName == linkedApp && l.ExternalID != "" {
					add(Task, l.ExternalID, t.ID)
				}
			}
		}
	}
	maps, err := e.Store.Mappings(ctx, w.UPN)
	if err != nil {
		return 0, err
	}
	adopted := 0
	var doubles []graph.Request
	var doubleKinds []string
	for key, f := range inGraph {
		kind, _, _ := strings.Cut(key, "/")
		m, ok := maps[key]
		keep := f.ids[0]
		if ok && !m.Pending() {
			for _, id := range f.ids {
				if id == m.GraphID {
					keep = id
				}
			}
		}
		if !ok || m.Pending() || m.GraphID != keep {
			// adopt: the hashes stay empty, so the plan sends every field once
			if err := e.Store.PutMapping(ctx, store.Mapping{Worker: w.UPN, ItemKey: key, GraphID: keep, ContainerID: listID, Hashes: map[string]string{}, Updated: e.now()}); err != nil {
				return 0, err
			}
			adopted++
		}
		for _, id := range f.ids {
			if id != keep {
				doubles = append(doubles, graph.Request{Method: http.MethodDelete, URL: e.collection(kind, mb, listID) + "/" + url.PathEscape(id)})
				doubleKinds = append(doubleKinds, key)
			}
		}
	}
	// mappings whose item is gone from Microsoft 365 are dropped (re-created by the plan)
	for key, m := range maps {
		if key == listKey {
			continue
		}
		kind, _, _ := strings.Cut(key, "/")
		checked := (kind == Event && w.Has(config.Calendar)) || (kind == Contact && w.Has(config.Contacts)) || (kind == Task && listID != "")
		lookFor := key
		if master := masterOf(m); master != "" {
			// an occurrence of a series is no item of its own in the list:
			// it goes with its master, and is applied again with a new one
			lookFor = master
		}
		if _, ok := inGraph[lookFor]; !ok && checked {
			if err := e.Store.DeleteMapping(ctx, w.UPN, key); err != nil {
				return 0, err
			}
		}
	}
	if len(doubles) > 0 {
		var journal []store.JournalEntry
		for i, a := range c.Batch(ctx, doubles) {
			entry := store.JournalEntry{At: e.now(), Worker: w.UPN, ItemKey: doubleKinds[i], Action: "delete-double", Result: "ok", RequestID: a.RequestID}
			if !a.OK() && a.Status != http.StatusNotFound {
				entry.Result, entry.Error = "error", fmt.Sprint(a.Err)
			}
			journal = append(journal, entry)
		}
		if err := e.Store.Journal(ctx, journal...); err != nil {
			return 0, err
		}
	}
	if adopted > 0 {
		e.logger().Info("mapping rebuilt from Microsoft 365", "upn", w.UPN, "adopted", adopted, "doubles", len(doubles))
	}
	return adopted, nil
}
