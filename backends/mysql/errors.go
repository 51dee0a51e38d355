package mysql

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

// SQLSTATEs used here that pgcode does not name (PostgreSQL's errcodes.txt).
const (
	cardinalityViolation = "21000"
	invalidForeignKey    = "42830"
	invalidName          = "42602"
	nameTooLong          = "42622"
	syntaxOrAccessRule   = "42000"
)

// errorCodes maps MySQL and MariaDB error numbers (mysqld_error.h) to the
// SQLSTATE PostgreSQL uses for the same failure. MySQL's own SQLSTATEs are
// coarser (23000 for every integrity error, 42S02 for a missing table,
// HY000 for half of the rest), and clients written for PostgreSQL test the
// fine codes: 23505 to retry an insert as an update, 40P01 to retry a
// transaction.
var errorCodes = map[uint16]string{
	1022: pgcode.UniqueViolation,           // ER_DUP_KEY
	1062: pgcode.UniqueViolation,           // ER_DUP_ENTRY
	1586: pgcode.UniqueViolation,           // ER_DUP_ENTRY_WITH_KEY_NAME
	1048: pgcode.NotNullViolation,          // ER_BAD_NULL_ERROR
	1364: pgcode.NotNullViolation,          // ER_NO_DEFAULT_FOR_FIELD
	1216: pgcode.ForeignKeyViolation,       // ER_NO_REFERENCED_ROW
	1217: pgcode.ForeignKeyViolation,       // ER_ROW_IS_REFERENCED
	1451: pgcode.ForeignKeyViolation,       // ER_ROW_IS_REFERENCED_2
	1452: pgcode.ForeignKeyViolation,       // ER_NO_REFERENCED_ROW_2
	3819: pgcode.CheckViolation,            // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
	4025: pgcode.CheckViolation,            // ER_CONSTRAINT_FAILED (MariaDB)
	1215: invalidForeignKey,                // ER_CANNOT_ADD_FOREIGN
	1146: pgcode.UndefinedTable,            // ER_NO_SUCH_TABLE
	1051: pgcode.UndefinedTable,            // ER_BAD_TABLE_ERROR (DROP TABLE of an unknown table)
	1109: pgcode.UndefinedTable,            // ER_UNKNOWN_TABLE
	1054: pgcode.UndefinedColumn,           // ER_BAD_FIELD_ERROR
	1052: pgcode.AmbiguousColumn,           // ER_NON_UNIQ_ERROR
	1050: pgcode.DuplicateTable,            // ER_TABLE_EXISTS_ERROR
	1061: pgcode.DuplicateTable,            // ER_DUP_KEYNAME (an index is a relation in PostgreSQL)
	1060: pgcode.DuplicateColumn,           // ER_DUP_FIELDNAME
	1091: pgcode.UndefinedObject,           // ER_CANT_DROP_FIELD_OR_KEY
	1193: pgcode.UndefinedObject,           // ER_UNKNOWN_SYSTEM_VARIABLE
	1064: pgcode.SyntaxError,               // ER_PARSE_ERROR
	1149: pgcode.SyntaxError,               // ER_SYNTAX_ERROR
	1136: pgcode.SyntaxError,               // ER_WRONG_VALUE_COUNT_ON_ROW
	1058: pgcode.SyntaxError,               // ER_WRONG_VALUE_COUNT
	1102: invalidName,                      // ER_WRONG_DB_NAME
	1103: invalidName,                      // ER_WRONG_TABLE_NAME
	1166: invalidName,                      // ER_WRONG_COLUMN_NAME
	1059: nameTooLong,                      // ER_TOO_LONG_IDENT
	1630: pgcode.UndefinedFunction,         // ER_FUNC_INEXISTENT_NAME_COLLISION
	1582: pgcode.UndefinedFunction,         // ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT
	1583: pgcode.UndefinedFunction,         // ER_WRONG_PARAMETERS_TO_NATIVE_FCT
	1318: pgcode.UndefinedFunction,         // ER_SP_WRONG_NO_OF_ARGS
	1242: cardinalityViolation,             // ER_SUBQUERY_NO_1_ROW
	1213: pgcode.DeadlockDetected,          // ER_LOCK_DEADLOCK
	1205: pgcode.LockNotAvailable,          // ER_LOCK_WAIT_TIMEOUT
	3572: pgcode.LockNotAvailable,          // ER_LOCK_NOWAIT (MySQL)
	1406: pgcode.StringDataRightTruncation, // ER_DATA_TOO_LONG
	1265: pgcode.StringDataRightTruncation, // WARN_DATA_TRUNCATED (an error in strict mode)
	1366: pgcode.InvalidTextRepresentation, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
	1367: pgcode.InvalidTextRepresentation, // ER_ILLEGAL_VALUE_FOR_TYPE
	1411: pgcode.InvalidDatetimeFormat,     // ER_WRONG_VALUE_FOR_TYPE (STR_TO_DATE and friends)
	1264: pgcode.NumericValueOutOfRange,    // ER_WARN_DATA_OUT_OF_RANGE
	1690: pgcode.NumericValueOutOfRange,    // ER_DATA_OUT_OF_RANGE
	1365: pgcode.DivisionByZero,            // ER_DIVISION_BY_ZERO
	1049: pgcode.InvalidCatalogName,        // ER_BAD_DB_ERROR
	1046: pgcode.InvalidCatalogName,        // ER_NO_DB_ERROR
	1045: pgcode.InvalidPassword,           // ER_ACCESS_DENIED_ERROR
	1698: pgcode.InvalidAuthorizationSpec,  // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
	1044: pgcode.InsufficientPrivilege,     // ER_DBACCESS_DENIED_ERROR
	1142: pgcode.InsufficientPrivilege,     // ER_TABLEACCESS_DENIED_ERROR
	1143: pgcode.InsufficientPrivilege,     // ER_COLUMNACCESS_DENIED_ERROR
	1227: pgcode.InsufficientPrivilege,     // ER_SPECIFIC_ACCESS_DENIED_ERROR
	1370: pgcode.InsufficientPrivilege,     // ER_PROCACCESS_DENIED_ERROR
	1792: pgcode.ReadOnlySQLTransaction,    // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
	1290: pgcode.ReadOnlySQLTransaction,    // ER_OPTION_PREVENTS_STATEMENT (--read-only)
	1836: pgcode.ReadOnlySQLTransaction,    // ER_READ_ONLY_MODE
	1317: pgcode.QueryCanceled,             // ER_QUERY_INTERRUPTED
	1969: pgcode.QueryCanceled,             // ER_STATEMENT_TIMEOUT (MariaDB)
	3024: pgcode.QueryCanceled,             // ER_QUERY_TIMEOUT (MySQL)
	1040: pgcode.TooManyConnections,        // ER_CON_COUNT_ERROR
	1203: pgcode.TooManyConnections,        // ER_TOO_MANY_USER_CONNECTIONS
	1053: pgcode.AdminShutdown,             // ER_SERVER_SHUTDOWN
	1927: pgcode.AdminShutdown,             // ER_CONNECTION_KILLED (MariaDB)
	1295: pgcode.FeatureNotSupported,       // ER_UNSUPPORTED_PS
	1235: pgcode.FeatureNotSupported,       // ER_NOT_SUPPORTED_YET
	1179: pgcode.ActiveSQLTransaction,      // ER_CANT_CHANGE_TX_CHARACTERISTICS
	1568: pgcode.ActiveSQLTransaction,      // ER_CANT_CHANGE_TX_ISOLATION
	1114: pgcode.DiskFull,                  // ER_RECORD_FILE_FULL
	1021: pgcode.DiskFull,                  // ER_DISK_FULL
	1041: pgcode.OutOfMemory,               // ER_OUT_OF_RESOURCES
	1037: pgcode.OutOfMemory,               // ER_OUTOFMEMORY
	1153: pgcode.ProgramLimitExceeded,      // ER_NET_PACKET_TOO_LARGE
	1118: pgcode.ProgramLimitExceeded,      // ER_TOO_BIG_ROWSIZE
	1105: pgcode.InternalError,             // ER_UNKNOWN_ERROR
	2006: pgcode.ConnectionFailure,         // CR_SERVER_GONE_ERROR (client libraries' numbers)
	2013: pgcode.ConnectionFailure,         // CR_SERVER_LOST
	1644: "",                               // ER_SIGNAL_EXCEPTION: the SQLSTATE the SIGNAL names
	1292: pgcode.InvalidDatetimeFormat,     // ER_TRUNCATED_WRONG_VALUE: see mapMySQLError
	1305: pgcode.UndefinedFunction,         // ER_SP_DOES_NOT_EXIST: see mapMySQLError
	1356: pgcode.WrongObjectType,           // ER_VIEW_INVALID
	1347: pgcode.WrongObjectType,           // ER_WRONG_OBJECT
}

// standardClasses are the SQLSTATE classes MySQL and PostgreSQL share;
// an unmapped MySQL SQLSTATE in one of them is passed on as it is.
var standardClasses = map[string]bool{
	"0A": true, "21": true, "22": true, "23": true, "25": true, "28": true,
	"3D": true, "40": true, "42": true, "44": true, "08": true,
}

// Error maps a driver error to the nearest PostgreSQL error. A server
// error keeps MySQL's message, with its error number and SQLSTATE in the
// detail. A lost connection is FATAL 08006: the session's server
// connection is gone, and with it any transaction.
func (d *Dialect) Error(err error) *pgcode.Error {
	var pe *pgcode.Error
	if errors.As(err, &pe) {
		return pe
	}
	var me *gomysql.MySQLError
	if errors.As(err, &me) {
		return mapMySQLError(d.Name(), me)
	}
	var pc *paramCountError
	if errors.As(err, &pc) {
		return pgcode.WithHint(pgcode.ProtocolViolation, pc.Error(),
			"A ? in the statement text is a placeholder to "+d.Name()+"; write $1, $2... for parameters and put a literal ? in quotes.")
	}
	if e := connectError(d.Name(), err); e != nil {
		return e
	}
	if errors.Is(err, gomysql.ErrPktTooLarge) {
		return pgcode.WithHint(pgcode.ProgramLimitExceeded, "the statement is larger than the server's max_allowed_packet",
			"Send smaller statements or values, or raise max_allowed_packet on the server.")
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.SQLClientUnableToEstablishConn,
			Message: fmt.Sprintf("could not connect to the %s server: %v", d.Name(), err),
			Hint:    "Check the host, port or unix_socket of the connection, and that the server is running."}
	}
	if lostConnection(err) {
		return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.ConnectionFailure,
			Message: fmt.Sprintf("the connection to the %s server was lost: %v", d.Name(), err),
			Hint:    "The statement in progress may or may not have completed. Reconnect."}
	}
	return pgcode.New(pgcode.InternalError, err.Error())
}

// connectError maps the driver's errors about starting a connection: TLS
// the server does not offer and login methods the proxy does not use.
func connectError(product string, err error) *pgcode.Error {
	fatal := func(code, msg, hint string) *pgcode.Error {
		return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: code, Message: msg, Hint: hint}
	}
	switch {
	case errors.Is(err, gomysql.ErrNoTLS):
		return fatal(pgcode.SQLClientUnableToEstablishConn, "the "+product+" server does not offer TLS, which the connection requires",
			"Enable TLS on the server, or drop ssl_mode (or ssl, ssl_ca) from the connection to accept an unencrypted one.")
	case errors.Is(err, gomysql.ErrCleartextPassword):
		return fatal(pgcode.InvalidAuthorizationSpec, "the "+product+" user logs in with a clear-text password (mysql_clear_password)",
			"The proxy sends a clear-text password only over TLS or a Unix socket: set ssl_mode=required (or stronger) on the connection.")
	case errors.Is(err, gomysql.ErrOldPassword), errors.Is(err, gomysql.ErrNativePassword), errors.Is(err, gomysql.ErrUnknownPlugin):
		return fatal(pgcode.InvalidAuthorizationSpec, "the "+product+" user's authentication method is not supported: "+err.Error(),
			"Supported: mysql_native_password, caching_sha2_password, sha256_password, client_ed25519, and mysql_clear_password over TLS.")
	case errors.Is(err, gomysql.ErrOldProtocol):
		return fatal(pgcode.SQLClientUnableToEstablishConn, "the "+product+" server is too old (protocol 4.1 or later is required)", "")
	}
	return nil
}

// lostConnection reports errors after which the server connection cannot
// be used: database/sql's and the driver's bad-connection errors, a
// closed sql.Conn, and network failures.
func lostConnection(err error) bool {
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, gomysql.ErrInvalidConn) ||
		errors.Is(err, gomysql.ErrMalformPkt) || errors.Is(err, gomysql.ErrBusyBuffer) ||
		errors.Is(err, gomysql.ErrPktSync) || errors.Is(err, gomysql.ErrPktSyncMul) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &ne)
}

func mapMySQLError(product string, me *gomysql.MySQLError) *pgcode.Error {
	state := string(me.SQLState[:])
	code, known := errorCodes[me.Number]
	switch {
	case me.Number == 1644 && state != "" && state != "\x00\x00\x00\x00\x00":
		code = state // SIGNAL SQLSTATE '...': the application's own code
	case me.Number == 1292 && !strings.Contains(strings.ToLower(me.Message), "date") &&
		!strings.Contains(strings.ToLower(me.Message), "time"):
		code = pgcode.InvalidTextRepresentation // "Truncated incorrect DOUBLE value"
	case me.Number == 1305 && strings.HasPrefix(me.Message, "SAVEPOINT"):
		code = pgcode.InvalidSavepointSpecification // "SAVEPOINT x does not exist"
	case !known || code == "":
		code = pgcode.InternalError
		if len(state) == 5 && standardClasses[state[:2]] && !strings.ContainsRune(state, 'S') {
			code = state
		} else if strings.HasPrefix(state, "42") {
			code = syntaxOrAccessRule
		}
	}
	e := pgcode.New(code, me.Message)
	switch me.Number {
	case 1045, 1698, 1040, 1203: // no session can start
		e.Severity = pgcode.SeverityFatal
	case 2006, 2013, 1927: // the server connection is gone
		e.Severity = pgcode.SeverityFatal
	}
	e.Detail = fmt.Sprintf("%s error %d (SQLSTATE %s)", product, me.Number, state)
	return e
}

// paramCountError is a statement whose placeholders the server counted
// differently from the client: a ? written in the text is one to MySQL.
type paramCountError struct{ want, got int }

func (e *paramCountError) Error() string {
	return fmt.Sprintf("the statement has %d placeholders for the server but %d parameters were bound", e.want, e.got)
}
