// Package pgcode holds the PostgreSQL SQLSTATE codes xconnproxy sends and the
// Error type that carries one to a client as an ErrorResponse.
//
// Every error a client sees, whether raised by the proxy itself or mapped from a
// MySQL or SQLite error, is an *Error, so it reaches the client in the protocol's
// own form (severity, SQLSTATE, message, detail, hint) instead of a dropped
// socket. Codes are named constants (PostgreSQL Appendix A) and never bare
// strings elsewhere in the code.
package pgcode

import (
	"errors"

	"github.com/jackc/pgx/v5/pgproto3"
)

// SQLSTATE codes, named as in PostgreSQL's errcodes.txt.
const (
	SuccessfulCompletion            = "00000"
	Warning                         = "01000"
	NoActiveSQLTransaction          = "25P01"
	ActiveSQLTransaction            = "25001"
	InFailedSQLTransaction          = "25P02"
	ReadOnlySQLTransaction          = "25006"
	ConnectionException             = "08000"
	ConnectionFailure               = "08006"
	SQLClientUnableToEstablishConn  = "08001"
	ProtocolViolation               = "08P01"
	FeatureNotSupported             = "0A000"
	InvalidAuthorizationSpec        = "28000"
	InvalidPassword                 = "28P01"
	InvalidCatalogName              = "3D000"
	InvalidSavepointSpecification   = "3B001"
	DataException                   = "22000"
	InvalidTextRepresentation       = "22P02"
	InvalidParameterValue           = "22023"
	NumericValueOutOfRange          = "22003"
	InvalidDatetimeFormat           = "22007"
	DatetimeFieldOverflow           = "22008"
	DivisionByZero                  = "22012"
	StringDataRightTruncation       = "22001"
	IntegrityConstraintViolation    = "23000"
	NotNullViolation                = "23502"
	ForeignKeyViolation             = "23503"
	UniqueViolation                 = "23505"
	CheckViolation                  = "23514"
	SyntaxError                     = "42601"
	UndefinedColumn                 = "42703"
	UndefinedTable                  = "42P01"
	UndefinedFunction               = "42883"
	UndefinedObject                 = "42704"
	DuplicateTable                  = "42P07"
	DuplicateColumn                 = "42701"
	DuplicatePreparedStatement      = "42P05"
	DuplicateCursor                 = "42P03"
	InvalidSQLStatementName         = "26000"
	InvalidCursorName               = "34000"
	AmbiguousColumn                 = "42702"
	DatatypeMismatch                = "42804"
	InsufficientPrivilege           = "42501"
	TooManyConnections              = "53300"
	ProgramLimitExceeded            = "54000"
	LockNotAvailable                = "55P03"
	ObjectInUse                     = "55006"
	QueryCanceled                   = "57014"
	AdminShutdown                   = "57P01"
	CannotConnectNow                = "57P03"
	DeadlockDetected                = "40P01"
	SerializationFailure            = "40001"
	DiskFull                        = "53100"
	OutOfMemory                     = "53200"
	IOError                         = "58030"
	UndefinedFile                   = "58P01"
	InternalError                   = "XX000"
	DataCorrupted                   = "XX001"
	ConfigFileError                 = "F0000"
	InvalidTransactionState         = "25000"
	InvalidTransactionInitiation    = "0B000"
	WrongObjectType                 = "42809"
	InvalidNameOrParameterReference = "42P02"
)

// Severities as PostgreSQL writes them in the S and V fields.
const (
	SeverityError   = "ERROR"
	SeverityFatal   = "FATAL"
	SeverityWarning = "WARNING"
	SeverityNotice  = "NOTICE"
)

// Error is an error in PostgreSQL's terms. Its fields map one to one onto the
// fields of an ErrorResponse (protocol section 55.8, "Error and Notice Message
// Fields").
type Error struct {
	Severity string // SeverityError when empty
	Code     string // SQLSTATE
	Message  string
	Detail   string
	Hint     string
	Position int32 // 1-based character position in the query, 0 = none
}

// Error returns the message with its SQLSTATE, like libpq's default verbosity.
func (e *Error) Error() string {
	sev := e.Severity
	if sev == "" {
		sev = SeverityError
	}
	return sev + ": " + e.Message + " (SQLSTATE " + e.Code + ")"
}

// Fatal reports whether the error ends the session (protocol: FATAL closes).
func (e *Error) Fatal() bool { return e.Severity == SeverityFatal }

// Response converts the error to the message sent to the client.
func (e *Error) Response() *pgproto3.ErrorResponse {
	sev := e.Severity
	if sev == "" {
		sev = SeverityError
	}
	return &pgproto3.ErrorResponse{
		Severity:            sev,
		SeverityUnlocalized: sev,
		Code:                e.Code,
		Message:             e.Message,
		Detail:              e.Detail,
		Hint:                e.Hint,
		Position:            e.Position,
	}
}

// Notice converts the error to a NoticeResponse (for WARNING and NOTICE).
func (e *Error) Notice() *pgproto3.NoticeResponse {
	return (*pgproto3.NoticeResponse)(e.Response())
}

// New returns an ERROR with the given code and message.
func New(code, message string) *Error {
	return &Error{Severity: SeverityError, Code: code, Message: message}
}

// WithHint is New with a hint telling the user what to do.
func WithHint(code, message, hint string) *Error {
	return &Error{Severity: SeverityError, Code: code, Message: message, Hint: hint}
}

// Fatal returns a FATAL error: the session ends after it is sent.
func Fatal(code, message string) *Error {
	return &Error{Severity: SeverityFatal, Code: code, Message: message}
}

// From returns err as an *Error if it is one (or wraps one), else an
// internal error whose message is err's text.
func From(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return New(InternalError, err.Error())
}
