package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

func myErr(n uint16, state, msg string) *gomysql.MySQLError {
	e := &gomysql.MySQLError{Number: n, Message: msg}
	copy(e.SQLState[:], state)
	return e
}

func TestErrorMapping(t *testing.T) {
	d := &Dialect{}
	tests := []struct {
		name  string
		err   error
		code  string
		fatal bool
	}{
		{"duplicate key", myErr(1062, "23000", "Duplicate entry '1' for key 'PRIMARY'"), pgcode.UniqueViolation, false},
		{"no such table", myErr(1146, "42S02", "Table 'test.x' doesn't exist"), pgcode.UndefinedTable, false},
		{"syntax", myErr(1064, "42000", "You have an error in your SQL syntax"), pgcode.SyntaxError, false},
		{"deadlock", myErr(1213, "40001", "Deadlock found when trying to get lock"), pgcode.DeadlockDetected, false},
		{"lock wait", myErr(1205, "HY000", "Lock wait timeout exceeded"), pgcode.LockNotAvailable, false},
		{"unknown column", myErr(1054, "42S22", "Unknown column 'x' in 'field list'"), pgcode.UndefinedColumn, false},
		{"fk child", myErr(1452, "23000", "Cannot add or update a child row"), pgcode.ForeignKeyViolation, false},
		{"fk parent", myErr(1451, "23000", "Cannot delete or update a parent row"), pgcode.ForeignKeyViolation, false},
		{"not null", myErr(1048, "23000", "Column 'name' cannot be null"), pgcode.NotNullViolation, false},
		{"no default", myErr(1364, "HY000", "Field 'name' doesn't have a default value"), pgcode.NotNullViolation, false},
		{"too long", myErr(1406, "22001", "Data too long for column 'c'"), pgcode.StringDataRightTruncation, false},
		{"bad integer", myErr(1366, "22007", "Incorrect integer value: 'x' for column 'i'"), pgcode.InvalidTextRepresentation, false},
		{"bad datetime", myErr(1292, "22007", "Incorrect datetime value: 'x' for column 'd'"), pgcode.InvalidDatetimeFormat, false},
		{"truncated double", myErr(1292, "22007", "Truncated incorrect DOUBLE value: 'x'"), pgcode.InvalidTextRepresentation, false},
		{"out of range", myErr(1264, "22003", "Out of range value for column 'b'"), pgcode.NumericValueOutOfRange, false},
		{"check MariaDB", myErr(4025, "23000", "CONSTRAINT `c` failed for `test`.`t`"), pgcode.CheckViolation, false},
		{"check MySQL", myErr(3819, "HY000", "Check constraint 'c' is violated."), pgcode.CheckViolation, false},
		{"unknown database", myErr(1049, "42000", "Unknown database 'nope'"), pgcode.InvalidCatalogName, false},
		{"access denied", myErr(1045, "28000", "Access denied for user 'u'@'h' (using password: YES)"), pgcode.InvalidPassword, true},
		{"table exists", myErr(1050, "42S01", "Table 't' already exists"), pgcode.DuplicateTable, false},
		{"savepoint", myErr(1305, "42000", "SAVEPOINT sp does not exist"), pgcode.InvalidSavepointSpecification, false},
		{"function", myErr(1305, "42000", "FUNCTION test.f does not exist"), pgcode.UndefinedFunction, false},
		{"interrupted", myErr(1317, "70100", "Query execution was interrupted"), pgcode.QueryCanceled, false},
		{"server gone", myErr(2006, "HY000", "MySQL server has gone away"), pgcode.ConnectionFailure, true},
		{"connection killed", myErr(1927, "70100", "Connection was killed"), pgcode.AdminShutdown, true},
		{"read only transaction", myErr(1792, "25006", "Cannot execute statement in a READ ONLY transaction"), pgcode.ReadOnlySQLTransaction, false},
		{"signal keeps its state", myErr(1644, "P0001", "custom"), "P0001", false},
		{"unmapped standard class passes", myErr(9999, "22023", "x"), "22023", false},
		{"unmapped 42S becomes 42000", myErr(9998, "42S99", "x"), "42000", false},
		{"unmapped HY000 is internal", myErr(9997, "HY000", "x"), pgcode.InternalError, false},
		{"bad connection", driver.ErrBadConn, pgcode.ConnectionFailure, true},
		{"invalid connection", gomysql.ErrInvalidConn, pgcode.ConnectionFailure, true},
		{"closed sql.Conn", sql.ErrConnDone, pgcode.ConnectionFailure, true},
		{"eof", fmt.Errorf("reading: %w", io.EOF), pgcode.ConnectionFailure, true},
		{"cannot connect", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, pgcode.SQLClientUnableToEstablishConn, true},
		{"network", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, pgcode.ConnectionFailure, true},
		{"placeholder count", &paramCountError{want: 2, got: 1}, pgcode.ProtocolViolation, false},
		{"no TLS", gomysql.ErrNoTLS, pgcode.SQLClientUnableToEstablishConn, true},
		{"clear-text password", gomysql.ErrCleartextPassword, pgcode.InvalidAuthorizationSpec, true},
		{"packet too large", gomysql.ErrPktTooLarge, pgcode.ProgramLimitExceeded, false},
		{"already mapped", pgcode.New(pgcode.QueryCanceled, "x"), pgcode.QueryCanceled, false},
		{"other", errors.New("something else"), pgcode.InternalError, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := d.Error(tt.err)
			if e.Code != tt.code || e.Fatal() != tt.fatal {
				t.Fatalf("Error(%v) = %s %s (%s), want %s fatal=%v", tt.err, e.Severity, e.Code, e.Message, tt.code, tt.fatal)
			}
			var me *gomysql.MySQLError
			if errors.As(tt.err, &me) {
				if e.Message != me.Message {
					t.Errorf("message %q, want MySQL's %q", e.Message, me.Message)
				}
				want := fmt.Sprintf("MySQL error %d (SQLSTATE %s)", me.Number, me.SQLState[:])
				if e.Detail != want {
					t.Errorf("detail %q, want %q", e.Detail, want)
				}
			}
		})
	}
}

// No error text may carry the password, wherever it comes from.
func TestErrorsNeverShowThePassword(t *testing.T) {
	const pw = "s3cret-pw"
	cfg := Config{Host: "127.0.0.1", Port: 1, User: "u", Password: pw, ConnectTimeout: 1}
	_, err := Open(context.Background(), cfg)
	if err == nil {
		t.Fatal("opening port 1 succeeded")
	}
	if strings.Contains(err.Error(), pw) {
		t.Errorf("error shows the password: %v", err)
	}
	bad := Config{Password: pw, TLS: TLSConfig{Cert: "/nonexistent"}}
	if err := bad.Validate(); err == nil || strings.Contains(err.Error(), pw) {
		t.Errorf("Validate = %v", err)
	}
}
