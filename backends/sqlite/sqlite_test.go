package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

func TestTypeOID(t *testing.T) {
	tests := map[string]uint32{
		"":                         0,
		"INTEGER":                  pgtype.Int8OID,
		"bigint":                   pgtype.Int8OID,
		"UNSIGNED BIG INT":         pgtype.Int8OID,
		"TEXT":                     pgtype.TextOID,
		"VARCHAR(255)":             pgtype.TextOID,
		"NCHAR(2)":                 pgtype.TextOID,
		"CLOB":                     pgtype.TextOID,
		"BLOB":                     pgtype.ByteaOID,
		"REAL":                     pgtype.Float8OID,
		"DOUBLE PRECISION":         pgtype.Float8OID,
		"FLOAT":                    pgtype.Float8OID,
		"NUMERIC":                  pgtype.NumericOID,
		"DECIMAL(10,2)":            pgtype.NumericOID,
		"BOOLEAN":                  pgtype.BoolOID,
		"bool":                     pgtype.BoolOID,
		"DATE":                     pgtype.DateOID,
		"DATETIME":                 pgtype.TimestampOID,
		"TIMESTAMP":                pgtype.TimestampOID,
		"TIMESTAMP WITH TIME ZONE": pgtype.TimestamptzOID,
		"JSON":                     pgtype.JSONOID,
		"STRING":                   pgtype.TextOID,
		"UUID":                     pgtype.TextOID,
	}
	for decl, want := range tests {
		if got := (Dialect{}).TypeOID(decl); got != want {
			t.Errorf("TypeOID(%q) = %d, want %d", decl, got, want)
		}
	}
}

// The error mapping is checked against errors SQLite really raises.
func TestErrorMapping(t *testing.T) {
	ctx := context.Background()
	b, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "e.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	db := b.DB()
	for _, s := range []string{
		"CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER CHECK (n > 0))",
		"CREATE TABLE c (pid INTEGER REFERENCES p (id))",
		"INSERT INTO p VALUES (1, 'a', 1)",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		sql, code string
	}{
		{"INSERT INTO p VALUES (1, 'b', 1)", pgcode.UniqueViolation},
		{"INSERT INTO p VALUES (2, 'a', 1)", pgcode.UniqueViolation},
		{"INSERT INTO p (id, n) VALUES (3, 1)", pgcode.NotNullViolation},
		{"INSERT INTO p VALUES (4, 'd', -1)", pgcode.CheckViolation},
		{"INSERT INTO c VALUES (99)", pgcode.ForeignKeyViolation},
		{"SELECT * FROM nope", pgcode.UndefinedTable},
		{"SELECT nope FROM p", pgcode.UndefinedColumn},
		{"SELEC 1", pgcode.SyntaxError},
		{"SELECT (1", pgcode.SyntaxError},
		{"SELECT nofunc(1)", pgcode.UndefinedFunction},
		{"CREATE TABLE p (x)", pgcode.DuplicateTable},
		{"RELEASE nosuch", pgcode.InvalidSavepointSpecification},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, err := db.ExecContext(ctx, tt.sql)
			if err == nil {
				t.Fatal("no error")
			}
			pe := (Dialect{}).Error(err)
			if pe.Code != tt.code {
				t.Errorf("%v mapped to %s, want %s", err, pe.Code, tt.code)
			}
			if pe.Message == "" || pe.Message[len(pe.Message)-1] == ')' {
				t.Errorf("message %q still carries the driver's decoration", pe.Message)
			}
		})
	}
}

func TestMessage(t *testing.T) {
	tests := map[string]string{
		"constraint failed: UNIQUE constraint failed: p.id (1555)": "UNIQUE constraint failed: p.id",
		"SQL logic error: no such table: x (1)":                    "no such table: x",
		"database is locked (5) (SQLITE_BUSY)":                     "database is locked",
		"plain":                                                    "plain",
	}
	for in, want := range tests {
		if got := message(in); got != want {
			t.Errorf("message(%q) = %q, want %q", in, got, want)
		}
	}
}

// An in-memory database is one database for all sessions of its backend,
// and a separate one for each backend.
func TestMemoryDatabaseShared(t *testing.T) {
	ctx := context.Background()
	b, err := Open(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s1, err := b.Open(ctx, backends.SessionParams{User: "u", Database: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	if _, err := b.DB().ExecContext(ctx, "CREATE TABLE shared (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	c, err := b.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "INSERT INTO shared VALUES (1)"); err != nil {
		t.Fatalf("another connection does not see the table: %v", err)
	}

	other, err := Open(ctx, Config{Path: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.DB().ExecContext(ctx, "SELECT * FROM shared"); err == nil {
		t.Fatal("a second in-memory backend sees the first one's table")
	}
}

func TestReadOnlyMode(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ro.db")
	rw, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rw.DB().ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	ro, err := Open(ctx, Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = ro.DB().ExecContext(ctx, "INSERT INTO t VALUES (1)")
	if pe := (Dialect{}).Error(err); err == nil || pe.Code != pgcode.ReadOnlySQLTransaction {
		t.Fatalf("write to a read-only file: %v (%v)", err, pe)
	}
}
