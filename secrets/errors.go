package secrets

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Errors that sections and URLs fail with. They are wrapped with %w, so test
// them with errors.Is; a section's error is a [*SectionError] around one of
// them. None of their messages ever carries a password or any other part of a
// URL but its dialect name.
var (
	// ErrMissingEnv means an "env:VAR" value named a variable that is not set.
	ErrMissingEnv = errors.New("environment variable not set")
	// ErrUnsupportedDialect means the dialect is none of postgresql
	// (postgres, psql), mysql, mariadb or sqlite.
	ErrUnsupportedDialect = errors.New("unsupported dialect")
	// ErrUnsupportedType means a section's type is something other than "sql".
	ErrUnsupportedType = errors.New("unsupported connection type")
	// ErrBadURL means a url that SQLAlchemy's make_url would not read, or that
	// would not open what its writer meant (a sqlite url with a host).
	ErrBadURL = errors.New("bad connection URL")
	// ErrBadPort means a port that is not a whole number from 1 to 65535.
	// In a url it comes wrapped together with ErrBadURL.
	ErrBadPort = errors.New("bad port")
	// ErrNoURL means a section with neither url nor dialect.
	ErrNoURL = errors.New("no url or dialect")
	// ErrBadValue means a key holds the wrong kind of TOML value (a table
	// where a string belongs, and so on).
	ErrBadValue = errors.New("bad value")
	// ErrNotFound means no section has the name asked for.
	ErrNotFound = errors.New("no such connection")
)

// SectionError is why one [connections.<name>] section is invalid.
type SectionError struct {
	// Section is the connection name, the <name> of [connections.<name>].
	Section string
	// Files are the secrets files that define the section, in load order.
	Files []string
	// Key is the key at fault ("url", "password",
	// "create_engine_kwargs.connect_args.sslkey"); empty when the fault is the
	// section as a whole.
	Key string
	// Err is the cause; it wraps one of the package's sentinel errors.
	Err error
}

// Error names the section as it is written in TOML, the files and the key, so
// that the reader knows where to look; it never prints a value.
func (e *SectionError) Error() string {
	var b strings.Builder
	b.WriteString("secrets: [connections.")
	b.WriteString(tomlKey(e.Section))
	b.WriteString("]")
	if len(e.Files) > 0 {
		b.WriteString(" in ")
		b.WriteString(strings.Join(e.Files, ", "))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *SectionError) Unwrap() error { return e.Err }

// FileError is a secrets file that could not be read or parsed.
type FileError struct {
	// File is the path as it was searched.
	File string
	// Line and Column locate a TOML syntax error, both 1-based; zero when the
	// file could not be read at all.
	Line, Column int
	// Err is the cause: a *toml.DecodeError, or the read error (errors.Is(err,
	// fs.ErrNotExist) holds for a missing explicit file). A DecodeError's
	// String method quotes the offending line, which may hold a secret: show
	// it to the file's owner, never in a log.
	Err error
}

// Error returns "secrets: FILE:LINE:COLUMN: message" for a syntax error and
// "secrets: FILE: message" otherwise, the form editors jump to.
func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("secrets: %s:%d:%d: %v", e.File, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("secrets: %s: %v", e.File, e.Err)
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// keyError carries the key at fault up to the SectionError that reports it.
type keyError struct {
	key string
	err error
}

func (e *keyError) Error() string { return e.key + ": " + e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

var bareKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// tomlKey writes a key as it would appear in a TOML table header, quoted when
// it is not a bare key, so that "[connections.a.b]" is never ambiguous.
func tomlKey(k string) string {
	if bareKey.MatchString(k) {
		return k
	}
	return strconv.Quote(k)
}
