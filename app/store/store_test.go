package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"kanzleisync/app/testsupport"
)

func TestOpenMigratesAndReopens(t *testing.T) {
	path := filepath.Join(testsupport.TempDir(t), "kanzleisync.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q (%v), want wal", mode, err)
	}
	id, err := s.InstallationID(context.Background())
	if err != nil || len(id) != 36 {
		t.Fatalf("installation id %q: %v", id, err)
	}
	v := s.SchemaVersion()
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if s.SchemaVersion() != v || v < 1 {
		t.Errorf("schema version %d after reopen, was %d", s.SchemaVersion(), v)
	}
	if again, _ := s.InstallationID(context.Background()); again != id {
		t.Errorf("installation id changed: %s → %s", id, again)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(testsupport.TempDir(t), "kanzleisync.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 'x')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(path)
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "99") {
		t.Errorf("err = %v, want ErrNewerSchema naming 99", err)
	}
}

func TestFailingMigrationLeavesNoTrace(t *testing.T) {
	path := filepath.Join(testsupport.TempDir(t), "kanzleisync.db")
	bad := fstest.MapFS{
		"sql/0001_ok.sql":     {Data: []byte(`CREATE TABLE a (x INTEGER) STRICT;`)},
		"sql/0002_broken.sql": {Data: []byte(`CREATE TABLE b (x INTEGER) STRICT; INSERT INTO nirgends VALUES (1);`)},
	}
	if _, err := Open(path, withMigrations(bad)); err == nil || !strings.Contains(err.Error(), "0002_broken.sql") {
		t.Fatalf("err = %v, want the broken migration named", err)
	}
	s, err := Open(path, withMigrations(fstest.MapFS{"sql/0001_ok.sql": bad["sql/0001_ok.sql"]}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	_ = s.db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'`).Scan(&n)
	if n != 0 || s.SchemaVersion() != 1 {
		t.Errorf("table b exists (%d) or version %d: the failed migration was not rolled back", n, s.SchemaVersion())
	}
}

func TestMigrationNamesAreChecked(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"sql/0001_a.sql": {Data: []byte(`SELECT 1;`)}, "sql/0003_c.sql": {Data: []byte(`SELECT 1;`)}},
		"bad name": {"sql/eins.sql": {Data: []byte(`SELECT 1;`)}},
	} {
		if _, err := Open(filepath.Join(testsupport.TempDir(t), "x.db"), withMigrations(fsys)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConfigVersionCountsConfigurationOnly(t *testing.T) {
	st, err := Open(filepath.Join(testsupport.TempDir(t), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	v := func() int64 {
		n, err := st.ConfigVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	v0 := v()
	db := st.DB()
	mustExec := func(q string, args ...any) {
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(`INSERT INTO entity (name, tenant, client_id, authority_host, graph_endpoint, updated_at) VALUES ('K', 't', 'c', 'a', 'g', 'x')`)
	mustExec(`INSERT INTO worker (upn, display_name, entity, modules, updated_at) VALUES ('a@k', 'A', 'K', 'calendar', 'x')`)
	v1 := v()
	if v1 != v0+2 {
		t.Fatalf("after two inserts %d → %d", v0, v1)
	}
	mustExec(`UPDATE worker SET last_refresh = 'now', last_sign_in = 'now'`)
	if v() != v1 {
		t.Error("a token refresh counted as a configuration change")
	}
	mustExec(`UPDATE worker SET modules = 'calendar,mail'`)
	mustExec(`INSERT INTO setting (key, value) VALUES ('firm', '{}')`)
	if v() != v1+2 {
		t.Errorf("modules and settings: %d → %d", v1, v())
	}
}

func TestLease(t *testing.T) {
	path := filepath.Join(testsupport.TempDir(t), "k.db")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path) // a second process on the same state database
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	ttl := 30 * time.Second
	if ok, err := a.AcquireLease(ctx, "serve", "A", t0, ttl); !ok || err != nil {
		t.Fatalf("A: %v %v", ok, err)
	}
	if ok, _ := b.AcquireLease(ctx, "serve", "B", t0.Add(10*time.Second), ttl); ok {
		t.Fatal("B took a lease that had not expired")
	}
	if ok, _ := a.AcquireLease(ctx, "serve", "A", t0.Add(20*time.Second), ttl); !ok {
		t.Fatal("A could not renew")
	}
	if ok, _ := b.AcquireLease(ctx, "serve", "B", t0.Add(45*time.Second), ttl); ok {
		t.Fatal("B took the renewed lease")
	}
	if ok, _ := b.AcquireLease(ctx, "serve", "B", t0.Add(51*time.Second), ttl); !ok {
		t.Fatal("B could not take the expired lease")
	}
	if ok, _ := a.AcquireLease(ctx, "serve", "A", t0.Add(52*time.Second), ttl); ok {
		t.Fatal("A came back although B holds the lease")
	}
	holder, exp, _ := a.Lease(ctx, "serve")
	if holder != "B" || !exp.Equal(t0.Add(81*time.Second)) {
		t.Fatalf("lease %s until %v", holder, exp)
	}
	if err := b.ReleaseLease(ctx, "serve", "B"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.AcquireLease(ctx, "serve", "A", t0.Add(53*time.Second), ttl); !ok {
		t.Fatal("A could not take a released lease")
	}
}

// The bytes of taken mail go after the retention, never those still waiting;
// the row stays so that the message is not fetched again.
func TestPruneTakenKeepsWaiting(t *testing.T) {
	st, err := Open(filepath.Join(testsupport.TempDir(t), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, u := range []string{"a", "b", "c"} {
		if err := st.StoreMessages(ctx, Message{Account: "anna@k.example", UIDL: u, Raw: []byte("Subject: " + u + "\r\n\r\nx\r\n")}); err != nil {
			t.Fatal(err)
		}
	}
	msgs, _ := st.Messages(ctx, "anna@k.example")
	if err := st.MarkTaken(ctx, "anna@k.example", []int64{msgs[0].ID}, now.Add(-40*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkTaken(ctx, "anna@k.example", []int64{msgs[1].ID}, now.Add(-2*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := st.PruneTaken(ctx, now.Add(-30*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d: %v", n, err)
	}
	msgs, _ = st.Messages(ctx, "anna@k.example")
	if len(msgs) != 3 || len(msgs[0].Raw) != 0 || len(msgs[1].Raw) == 0 || len(msgs[2].Raw) == 0 {
		t.Errorf("after pruning: %d rows, sizes %d %d %d", len(msgs), len(msgs[0].Raw), len(msgs[1].Raw), len(msgs[2].Raw))
	}
	if f, _ := st.FetchedUIDLs(ctx, "anna@k.example"); len(f) != 3 {
		t.Errorf("%d UIDLs known after pruning, want 3", len(f))
	}
}

// The state database and its WAL files are readable by their owner only,
// whatever the umask and also when the file existed before.
func TestStoreFilesArePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the data directory's ACL applies on Windows")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "kanzleisync.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetHoldOff(context.Background(), "x", time.Now()); err != nil { // a write: the WAL exists
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(p), m)
		}
	}
}
