package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"kanzleisync/app/testsupport"
)

func TestMappingsAndJournal(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(testsupport.TempDir(t), "k.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pending := Mapping{Worker: "anna@kanzlei.de", ItemKey: "event/termin:1", PendingTx: "ks-1", Hashes: map[string]string{"subject": "ab"}}
	if err := s.PutMapping(ctx, pending); err != nil {
		t.Fatal(err)
	}
	m, _ := s.Mappings(ctx, "ANNA@kanzlei.de")
	if got := m["event/termin:1"]; !got.Pending() || got.PendingTx != "ks-1" {
		t.Fatalf("pending mapping: %+v", got)
	}
	if h, err := s.FieldHashes(ctx, "anna@kanzlei.de", []string{"event/termin:1", "event/fehlt"}); err != nil || h["event/termin:1"]["subject"] != "ab" || len(h) != 1 {
		t.Fatalf("field hashes: %v %v", h, err)
	}
	pending.GraphID, pending.PendingTx = "AAMkAD1", ""
	if err := s.PutMapping(ctx, pending); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(path); err != nil { // survives a restart
		t.Fatal(err)
	}
	defer s.Close()
	m, _ = s.Mappings(ctx, "anna@kanzlei.de")
	if got := m["event/termin:1"]; got.Pending() || got.GraphID != "AAMkAD1" || got.PendingTx != "" {
		t.Fatalf("confirmed mapping: %+v", got)
	}
	if err := s.DeleteMapping(ctx, "anna@kanzlei.de", "event/termin:1"); err != nil {
		t.Fatal(err)
	}
	if m, _ = s.Mappings(ctx, "anna@kanzlei.de"); len(m) != 0 {
		t.Errorf("after delete: %v", m)
	}

	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	err = s.Journal(ctx,
		JournalEntry{At: t0, Worker: "anna@kanzlei.de", ItemKey: "event/termin:1", Action: "create", Result: "ok", RequestID: "r1"},
		JournalEntry{At: t0.Add(time.Second), Worker: "anna@kanzlei.de", ItemKey: "event/termin:2", Action: "skip", Result: "error", Error: "Betreff ist leer"},
		JournalEntry{At: t0.Add(2 * time.Second), Worker: "jens@kanzlei.de", ItemKey: "task/frist:3", Action: "update", Result: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	all, _ := s.ReadJournal(ctx, JournalFilter{})
	if len(all) != 3 || all[0].ItemKey != "task/frist:3" {
		t.Errorf("journal newest first: %+v", all)
	}
	errs, _ := s.ReadJournal(ctx, JournalFilter{Worker: "anna@kanzlei.de", Result: "error"})
	if len(errs) != 1 || errs[0].Error != "Betreff ist leer" || !errs[0].At.Equal(t0.Add(time.Second)) {
		t.Errorf("filtered: %+v", errs)
	}
	later, _ := s.ReadJournal(ctx, JournalFilter{Since: t0.Add(1500 * time.Millisecond)})
	if len(later) != 1 {
		t.Errorf("since: %+v", later)
	}
}

func TestMappingCacheSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(testsupport.TempDir(t), "k.db")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path) // another process on the same file
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	put := func(s *Store, key string) {
		if err := s.PutMapping(ctx, Mapping{Worker: "w", ItemKey: key, GraphID: "g-" + key}); err != nil {
			t.Fatal(err)
		}
	}
	put(a, "k1")
	if m, _ := a.Mappings(ctx, "w"); len(m) != 1 {
		t.Fatalf("%d mappings", len(m))
	}
	put(b, "k2")
	if m, _ := a.Mappings(ctx, "w"); len(m) != 2 {
		t.Errorf("after another writer: %d mappings, want 2", len(m))
	}
	if err := b.DeleteMapping(ctx, "w", "k1"); err != nil {
		t.Fatal(err)
	}
	if m, _ := a.Mappings(ctx, "w"); len(m) != 1 || m["k2"].GraphID != "g-k2" {
		t.Errorf("after another delete: %v", m)
	}
	put(a, "k3")
	if m, _ := a.Mappings(ctx, "W"); len(m) != 2 {
		t.Errorf("after its own write: %v", m)
	}
}
