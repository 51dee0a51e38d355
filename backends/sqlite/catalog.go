package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"modernc.org/sqlite"
)

// The catalog. Drivers look types up in pg_catalog on connect
// (SQLAlchemy asks pg_type whether hstore exists; psycopg resolves type
// names to OIDs). Every SQLite connection the proxy opens gets an attached
// in-memory database named pg_catalog with pg_type, holding the types the
// bridge sends, and pg_namespace, so those lookups get PostgreSQL's answers:
// the rows for known types, none for others. Unqualified names reach it too
// (SQLite searches attached databases after main), unless the user's own
// database has a table of the same name.
//
// This is the part of the catalog that connecting needs; the tables psql's
// \d and BI tools read (pg_class, pg_attribute, information_schema) are not
// here.

// driverName is modernc's driver with the catalog hook, registered once.
const driverName = "xconnproxy-sqlite"

// catalogDriver is that driver, for file connections (see file.go).
var catalogDriver = func() *sqlite.Driver {
	d := &sqlite.Driver{}
	d.RegisterConnectionHook(attachCatalog)
	return d
}()

func init() { sql.Register(driverName, catalogDriver) }

// Namespace OIDs, as in PostgreSQL.
const (
	pgCatalogNamespace = 11
	publicNamespace    = 2200
)

// catalogTypes are PostgreSQL's OIDs for the types the bridge reports:
// name, oid, array oid, length, category.
var catalogTypes = []struct {
	name     string
	oid      int
	array    int
	length   int
	category string
}{
	{"bool", 16, 1000, 1, "B"},
	{"bytea", 17, 1001, -1, "U"},
	{"name", 19, 1003, 64, "S"},
	{"int8", 20, 1016, 8, "N"},
	{"int2", 21, 1005, 2, "N"},
	{"int4", 23, 1007, 4, "N"},
	{"text", 25, 1009, -1, "S"},
	{"oid", 26, 1028, 4, "N"},
	{"json", 114, 199, -1, "U"},
	{"float4", 700, 1021, 4, "N"},
	{"float8", 701, 1022, 8, "N"},
	{"unknown", 705, 0, -2, "X"},
	{"bpchar", 1042, 1014, -1, "S"},
	{"varchar", 1043, 1015, -1, "S"},
	{"date", 1082, 1182, 4, "D"},
	{"time", 1083, 1183, 8, "D"},
	{"timestamp", 1114, 1115, 8, "D"},
	{"timestamptz", 1184, 1185, 8, "D"},
	{"interval", 1186, 1187, 16, "T"},
	{"numeric", 1700, 1231, -1, "N"},
	{"uuid", 2950, 2951, 16, "U"},
	{"jsonb", 3802, 3807, -1, "U"},
}

// catalogSQL creates and fills the attached catalog.
var catalogSQL = func() string {
	var b strings.Builder
	b.WriteString(`ATTACH DATABASE ':memory:' AS pg_catalog;
CREATE TABLE pg_catalog.pg_namespace (oid INTEGER PRIMARY KEY, nspname TEXT NOT NULL, nspowner INTEGER NOT NULL);
INSERT INTO pg_catalog.pg_namespace VALUES (11, 'pg_catalog', 10), (2200, 'public', 10), (13000, 'information_schema', 10);
CREATE TABLE pg_catalog.pg_type (oid INTEGER PRIMARY KEY, typname TEXT NOT NULL, typnamespace INTEGER NOT NULL,
  typowner INTEGER NOT NULL, typlen INTEGER NOT NULL, typbyval BOOLEAN NOT NULL, typtype TEXT NOT NULL,
  typcategory TEXT NOT NULL, typispreferred BOOLEAN NOT NULL, typisdefined BOOLEAN NOT NULL, typdelim TEXT NOT NULL,
  typrelid INTEGER NOT NULL, typelem INTEGER NOT NULL, typarray INTEGER NOT NULL, typbasetype INTEGER NOT NULL,
  typtypmod INTEGER NOT NULL, typnotnull BOOLEAN NOT NULL, typndims INTEGER NOT NULL, typcollation INTEGER NOT NULL);
INSERT INTO pg_catalog.pg_type VALUES `)
	for i, t := range catalogTypes {
		if i > 0 {
			b.WriteString(",\n")
		}
		byval := t.length > 0 && t.length <= 8
		fmt.Fprintf(&b, "(%d, '%s', %d, 10, %d, %t, 'b', '%s', false, true, ',', 0, 0, %d, 0, -1, false, 0, 0)",
			t.oid, t.name, pgCatalogNamespace, t.length, byval, t.category, t.array)
		if t.array != 0 {
			fmt.Fprintf(&b, ",\n(%d, '_%s', %d, 10, -1, false, 'b', 'A', false, true, ',', 0, %d, 0, 0, -1, false, 0, 0)",
				t.array, t.name, pgCatalogNamespace, t.oid)
		}
	}
	b.WriteString(";")
	return b.String()
}()

func attachCatalog(conn sqlite.ExecQuerierContext, _ string) error {
	_, err := conn.ExecContext(context.Background(), catalogSQL, []driver.NamedValue{})
	if err != nil {
		return fmt.Errorf("attaching the pg_catalog database: %w", err)
	}
	return nil
}
