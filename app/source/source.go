// Package source reads the practice software's local SQLite cache: case
// workers, Termine, Fristen, Wiedervorlagen, Adressen and the workers'
// subscriptions of Adressen. It opens the cache read-only, next to the
// practice software writing it (WAL, busy timeout), checks its schema
// first, and reports rows it cannot export instead of failing on them.
package source

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	_ "time/tzdata" // Europe/Berlin on machines without zone files

	_ "modernc.org/sqlite"
)

// SchemaVersion is the newest cache schema this package reads.
const SchemaVersion = 1

//go:embed schema.sql
var schemaSQL string

// ErrSchema means the cache is not in a form this version understands.
var ErrSchema = errors.New("source: cache schema")

// Berlin is the zone of the practice software's local times.
var Berlin = mustZone("Europe/Berlin")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // time/tzdata is linked in
	}
	return loc
}

// Cache is an open, read-only cache.
type Cache struct {
	db   *sql.DB
	path string
}

// Open opens the cache read-only and checks its schema.
func Open(ctx context.Context, path string) (*Cache, error) {
	dsn := "file:" + path + "?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open cache %s: %w", path, err)
	}
	c := &Cache{db: db, path: path}
	if err := c.checkSchema(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the cache.
func (c *Cache) Close() error { return c.db.Close() }

var createRE = regexp.MustCompile(`(?s)CREATE TABLE (\w+) \((.*?)\n\);`)

// expectedColumns reads table and column names from schema.sql.
func expectedColumns() map[string][]string {
	out := map[string][]string{}
	for _, m := range createRE.FindAllStringSubmatch(schemaSQL, -1) {
		for _, line := range strings.Split(m[2], "\n") {
			f := strings.Fields(strings.TrimSpace(line))
			if len(f) == 0 || f[0] == "PRIMARY" || strings.HasPrefix(f[0], "--") {
				continue
			}
			out[m[1]] = append(out[m[1]], f[0])
		}
	}
	return out
}

func (c *Cache) checkSchema(ctx context.Context) error {
	for table, cols := range expectedColumns() {
		rows, err := c.db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			return fmt.Errorf("open cache %s: %w", c.path, err)
		}
		have := map[string]bool{}
		for rows.Next() {
			var n string
			_ = rows.Scan(&n)
			have[n] = true
		}
		rows.Close()
		if len(have) == 0 {
			return fmt.Errorf("%w: table %q is missing in %s", ErrSchema, table, c.path)
		}
		for _, col := range cols {
			if !have[col] {
				return fmt.Errorf("%w: column %q is missing in table %q of %s", ErrSchema, col, table, c.path)
			}
		}
	}
	var v int
	if err := c.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_info`).Scan(&v); err != nil {
		return fmt.Errorf("%w: no schema version in %s: %v", ErrSchema, c.path, err)
	}
	if v > SchemaVersion {
		return fmt.Errorf("%w: the cache has schema version %d, this kanzleisync reads up to %d", ErrSchema, v, SchemaVersion)
	}
	return nil
}
