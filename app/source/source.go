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
	"os"
	"regexp"
	"strings"
	"time"

	_ "time/tzdata" // Europe/Berlin on machines without zone files

	_ "modernc.org/sqlite"
)

// SchemaVersion is the newest cache schema this package reads; it reads
// every older one too (a column added later counts as its default).
const SchemaVersion = 3

//go:embed schema.sql
var schemaSQL string

// ErrSchema means the cache is not in a form this version understands.
var ErrSchema = errors.New("source: cache schema")

// Problem is what is wrong with the cache, for the German explanation.
type Problem int

const (
	Unreadable    Problem = iota // any other failure to read it
	Missing                      // the file is not there
	Locked                       // another program holds it locked
	Newer                        // written by a newer practice software
	MissingTable                 // a table this version reads is not there
	MissingColumn                // a column this version reads is not there
	NotADatabase                 // the file is no SQLite database
)

// CacheError is a failure to open or read the cache: which file, what is
// wrong with it, and the technical cause (for the log, never shown).
type CacheError struct {
	Path    string
	Problem Problem
	Table   string // MissingTable, MissingColumn
	Column  string // MissingColumn
	Version int    // Newer: the cache's schema version
	Err     error
}

func (e *CacheError) Error() string {
	return fmt.Sprintf("cache %s: %v", e.Path, e.Err)
}

func (e *CacheError) Unwrap() error { return e.Err }

// classify wraps a failure of the cache's database in a CacheError.
func (c *Cache) classify(err error) error {
	if err == nil {
		return nil
	}
	var ce *CacheError
	if errors.As(err, &ce) {
		return err
	}
	p := Unreadable
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		switch coded.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			p = Locked
		case 14: // SQLITE_CANTOPEN
			p = Missing
			if _, serr := os.Stat(c.path); serr == nil {
				p = Unreadable
			}
		case 26: // SQLITE_NOTADB
			p = NotADatabase
		}
	}
	return &CacheError{Path: c.path, Problem: p, Err: err}
}

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
	has  map[string]bool // "termin.vertraulich": a later column this cache has
}

// column is a later column in a SELECT: itself when the cache has it,
// else its default under its name.
func (c *Cache) column(table, col, def string) string {
	if c.has[table+"."+col] {
		return col
	}
	return def + " AS " + col
}

// BusyTimeout is how long a read waits for the practice software's lock.
var BusyTimeout = 10 * time.Second

// Open opens the cache read-only and checks its schema. Its failures are
// *CacheError.
func Open(ctx context.Context, path string) (*Cache, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, &CacheError{Path: path, Problem: Missing, Err: err}
	}
	dsn := fmt.Sprintf("file:%s?mode=ro&_pragma=busy_timeout(%d)&_pragma=query_only(1)", path, BusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, &CacheError{Path: path, Problem: Unreadable, Err: err}
	}
	c := &Cache{db: db, path: path}
	if err := c.checkSchema(ctx); err != nil {
		db.Close()
		return nil, c.classify(err)
	}
	return c, nil
}

// Close closes the cache.
func (c *Cache) Close() error { return c.db.Close() }

var createRE = regexp.MustCompile(`(?s)CREATE TABLE (\w+) \((.*?)\n\);`)

// expectedColumns reads table and column names from schema.sql: the
// columns every cache has, and the later ones ("(schema N)" in their
// comment) that an older cache may lack.
func expectedColumns() (required, later map[string][]string) {
	required, later = map[string][]string{}, map[string][]string{}
	for _, m := range createRE.FindAllStringSubmatch(schemaSQL, -1) {
		// a table whose first line is "-- (schema N)" came later as a whole
		laterTable := strings.HasPrefix(strings.TrimSpace(m[2]), "-- (schema ")
		for _, line := range strings.Split(m[2], "\n") {
			f := strings.Fields(strings.TrimSpace(line))
			if len(f) == 0 || f[0] == "PRIMARY" || strings.HasPrefix(f[0], "--") {
				continue
			}
			if laterTable || strings.Contains(line, "-- (schema ") {
				later[m[1]] = append(later[m[1]], f[0])
			} else {
				required[m[1]] = append(required[m[1]], f[0])
			}
		}
	}
	return required, later
}

func (c *Cache) checkSchema(ctx context.Context) error {
	required, later := expectedColumns()
	c.has = map[string]bool{}
	for table := range later {
		if _, ok := required[table]; !ok {
			required[table] = nil // a later table: checked below, may be missing
		}
	}
	for table, cols := range required {
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
		if err := rows.Err(); err != nil {
			return fmt.Errorf("open cache %s: %w", c.path, err)
		}
		if len(have) == 0 && len(cols) == 0 {
			c.has[table] = false // a later table this cache does not have
			continue
		}
		if len(have) == 0 {
			return &CacheError{Path: c.path, Problem: MissingTable, Table: table, Err: fmt.Errorf("%w: table %q is missing in %s", ErrSchema, table, c.path)}
		}
		if len(cols) == 0 {
			c.has[table] = true
		}
		for _, col := range cols {
			if !have[col] {
				return &CacheError{Path: c.path, Problem: MissingColumn, Table: table, Column: col,
					Err: fmt.Errorf("%w: column %q is missing in table %q of %s", ErrSchema, col, table, c.path)}
			}
		}
		for _, col := range later[table] {
			c.has[table+"."+col] = have[col]
			if len(cols) == 0 && !have[col] { // a later table holds all of its columns
				return &CacheError{Path: c.path, Problem: MissingColumn, Table: table, Column: col,
					Err: fmt.Errorf("%w: column %q is missing in table %q of %s", ErrSchema, col, table, c.path)}
			}
		}
	}
	var v int
	if err := c.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_info`).Scan(&v); err != nil {
		return &CacheError{Path: c.path, Problem: MissingTable, Table: "schema_info", Err: fmt.Errorf("%w: no schema version in %s: %v", ErrSchema, c.path, err)}
	}
	if v > SchemaVersion {
		return &CacheError{Path: c.path, Problem: Newer, Version: v,
			Err: fmt.Errorf("%w: the cache has schema version %d, this kanzleisync reads up to %d", ErrSchema, v, SchemaVersion)}
	}
	return nil
}
