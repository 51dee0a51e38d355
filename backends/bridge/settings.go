package bridge

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

// A guc is one PostgreSQL run-time parameter the bridge emulates, so that the
// statements drivers send on connect (SET extra_float_digits = 3, SHOW
// TimeZone, current_setting('search_path')...) are answered as PostgreSQL 15
// answers them.
type guc struct {
	name   string // canonical spelling, used as SHOW's column name
	def    string // PostgreSQL 15's default
	report bool   // GUC_REPORT: sent as ParameterStatus at startup and on change
	fixed  bool   // cannot be changed by SET (PostgreSQL: 55P02)
	desc   string
	// check validates and normalises a new value; nil accepts anything.
	check func(string) (string, error)
}

// ServerVersion is the PostgreSQL version the bridge presents. Drivers choose
// features by it; 15 is the newest release whose protocol and catalog the
// bridge follows.
const (
	ServerVersion    = "15.0"
	ServerVersionNum = "150000"
)

const cantChangeRuntimeParam = "55P02"

var gucList = []*guc{
	{name: "application_name", report: true, desc: "Sets the application name to be reported in statistics and logs."},
	{name: "client_encoding", def: "UTF8", report: true, check: checkEncoding, desc: "Sets the client's character set encoding."},
	{name: "DateStyle", def: "ISO, MDY", report: true, check: checkDateStyle, desc: "Sets the display format for date and time values."},
	{name: "default_transaction_read_only", def: "off", report: true, check: checkBool, desc: "Sets the default read-only status of new transactions."},
	{name: "in_hot_standby", def: "off", report: true, fixed: true, desc: "Shows whether hot standby is currently active."},
	{name: "integer_datetimes", def: "on", report: true, fixed: true, desc: "Shows whether datetimes are integer based."},
	{name: "IntervalStyle", def: "postgres", report: true, check: only("postgres"), desc: "Sets the display format for interval values."},
	{name: "is_superuser", def: "off", report: true, fixed: true, desc: "Shows whether the current user is a superuser."},
	{name: "server_encoding", def: "UTF8", report: true, fixed: true, desc: "Shows the server (database) character set encoding."},
	{name: "server_version", def: ServerVersion, report: true, fixed: true, desc: "Shows the server version."},
	{name: "session_authorization", report: true, fixed: true, desc: "Sets the session user name."},
	{name: "standard_conforming_strings", def: "on", report: true, check: only("on"), desc: "Causes '...' strings to treat backslashes literally."},
	{name: "TimeZone", def: "UTC", report: true, check: checkTimeZone, desc: "Sets the time zone for displaying and interpreting time stamps."},

	{name: "search_path", def: `"$user", public`, desc: "Sets the schema search order for names that are not schema-qualified."},
	{name: "extra_float_digits", def: "1", check: checkFloatDigits, desc: "Sets the number of digits displayed for floating-point values."},
	{name: "statement_timeout", def: "0", check: checkDuration, desc: "Sets the maximum allowed duration of any statement."},
	{name: "lock_timeout", def: "0", check: checkDuration, desc: "Sets the maximum allowed duration of any wait for a lock."},
	{name: "idle_in_transaction_session_timeout", def: "0", check: checkDuration, desc: "Sets the maximum allowed idle time between queries, when in a transaction."},
	{name: "bytea_output", def: "hex", check: only("hex"), desc: "Sets the output format for bytea."},
	{name: "default_transaction_isolation", def: "read committed", check: checkIsolation, desc: "Sets the transaction isolation level of each new transaction."},
	{name: "transaction_isolation", def: "read committed", check: checkIsolation, desc: "Sets the current transaction's isolation level."},
	{name: "transaction_read_only", def: "off", check: checkBool, desc: "Sets the current transaction's read-only status."},
	{name: "client_min_messages", def: "notice", desc: "Sets the message levels that are sent to the client."},
	{name: "lc_messages", def: "C", desc: "Sets the language in which messages are displayed."},
	{name: "lc_monetary", def: "C", desc: "Sets the locale for formatting monetary amounts."},
	{name: "lc_numeric", def: "C", desc: "Sets the locale for formatting numbers."},
	{name: "lc_time", def: "C", desc: "Sets the locale for formatting date and time values."},
	{name: "lc_collate", def: "C", fixed: true, desc: "Shows the collation order locale."},
	{name: "lc_ctype", def: "C", fixed: true, desc: "Shows the character classification and case conversion locale."},
	{name: "max_identifier_length", def: "63", fixed: true, desc: "Shows the maximum identifier length."},
	{name: "server_version_num", def: ServerVersionNum, fixed: true, desc: "Shows the server version as an integer."},
	{name: "block_size", def: "8192", fixed: true, desc: "Shows the size of a disk block."},
	{name: "max_connections", def: "100", fixed: true, desc: "Sets the maximum number of concurrent connections."},
	{name: "work_mem", def: "4MB", check: checkMemory, desc: "Sets the maximum memory to be used for query workspaces."},
	{name: "maintenance_work_mem", def: "64MB", check: checkMemory, desc: "Sets the maximum memory to be used for maintenance operations."},
	{name: "row_security", def: "on", check: checkBool, desc: "Enable row security."},
	{name: "synchronous_commit", def: "on", desc: "Sets the current transaction's synchronization level."},
	{name: "timezone_abbreviations", def: "Default", desc: "Selects a file of time zone abbreviations."},
	{name: "default_text_search_config", def: "pg_catalog.simple", desc: "Sets default text search configuration."},
	{name: "xmloption", def: "content", desc: "Sets whether XML data in implicit parsing and serialization operations is to be considered as documents or content fragments."},
	{name: "escape_string_warning", def: "on", check: checkBool, desc: "Warn about backslash escapes in ordinary string literals."},
	{name: "array_nulls", def: "on", check: checkBool, desc: "Enable input of NULL elements in arrays."},
	{name: "jit", def: "off", check: checkBool, desc: "Allow JIT compilation."},
	{name: "enable_seqscan", def: "on", check: checkBool, desc: "Enables the planner's use of sequential-scan plans."},
	{name: "geqo", def: "on", check: checkBool, desc: "Enables genetic query optimization."},
	{name: "ssl", def: "off", fixed: true, desc: "Enables SSL connections."},
}

var gucs = func() map[string]*guc {
	m := make(map[string]*guc, len(gucList))
	for _, g := range gucList {
		m[strings.ToLower(g.name)] = g
	}
	return m
}()

func only(allowed ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		for _, a := range allowed {
			if strings.EqualFold(v, a) {
				return a, nil
			}
		}
		return "", fmt.Errorf("only %s is supported", strings.Join(allowed, ", "))
	}
}

func checkBool(v string) (string, error) {
	b, ok := ParseBool(v)
	if !ok {
		return "", fmt.Errorf("requires a Boolean value")
	}
	if b {
		return "on", nil
	}
	return "off", nil
}

func checkIsolation(v string) (string, error) {
	switch l := strings.ToLower(strings.Join(strings.Fields(v), " ")); l {
	case "serializable", "repeatable read", "read committed", "read uncommitted":
		return l, nil
	}
	return "", fmt.Errorf("available values: serializable, repeatable read, read committed, read uncommitted")
}

func checkEncoding(v string) (string, error) {
	switch strings.ToUpper(strings.ReplaceAll(v, "-", "")) {
	case "UTF8", "UNICODE":
		return "UTF8", nil
	case "SQL_ASCII":
		return "SQL_ASCII", nil
	}
	return "", fmt.Errorf("xconnproxy serves UTF8 only")
}

// checkDateStyle accepts the ISO output style with any field order; the
// bridge formats dates only in ISO, which is also what every driver asks for.
func checkDateStyle(v string) (string, error) {
	order := "MDY"
	for _, part := range strings.Split(v, ",") {
		switch p := strings.ToUpper(strings.TrimSpace(part)); p {
		case "ISO", "", "DEFAULT":
		case "MDY", "DMY", "YMD":
			order = p
		case "US", "NONEURO", "NONEUROPEAN":
			order = "MDY"
		case "EURO", "EUROPEAN":
			order = "DMY"
		default:
			return "", fmt.Errorf("only the ISO output style is supported")
		}
	}
	return "ISO, " + order, nil
}

func checkTimeZone(v string) (string, error) {
	if strings.EqualFold(v, "utc") || strings.EqualFold(v, "gmt") {
		return strings.ToUpper(v), nil
	}
	if _, err := time.LoadLocation(v); err != nil {
		return "", fmt.Errorf("unknown time zone")
	}
	return v, nil
}

func checkFloatDigits(v string) (string, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < -15 || n > 3 {
		return "", fmt.Errorf("must be an integer from -15 to 3")
	}
	return strconv.Itoa(n), nil
}

// checkDuration accepts PostgreSQL's time units (a bare number is
// milliseconds) and stores the value as SHOW prints it: in the largest unit
// that divides it exactly ("1000" shows as "1s").
func checkDuration(v string) (string, error) {
	d, err := parseMillis(v)
	if err != nil {
		return "", err
	}
	ms := d.Milliseconds()
	for _, u := range []struct {
		n    int64
		name string
	}{{86400000, "d"}, {3600000, "h"}, {60000, "min"}, {1000, "s"}} {
		if ms != 0 && ms%u.n == 0 {
			return strconv.FormatInt(ms/u.n, 10) + u.name, nil
		}
	}
	if ms == 0 {
		return "0", nil
	}
	return strconv.FormatInt(ms, 10) + "ms", nil
}

func parseMillis(v string) (time.Duration, error) {
	s := strings.TrimSpace(strings.ToLower(v))
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid duration")
	}
	unit := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	u, ok := unit[strings.TrimSpace(s[i:])]
	if !ok {
		return 0, fmt.Errorf("valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\"")
	}
	return time.Duration(n * float64(u)), nil
}

// checkMemory accepts PostgreSQL's memory units (a bare number is kB) and
// stores the value as SHOW prints it ("1024" shows as "1MB").
func checkMemory(v string) (string, error) {
	s := strings.TrimSpace(v)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return "", fmt.Errorf("invalid memory size")
	}
	mult := map[string]int64{"": 1, "kB": 1, "MB": 1 << 10, "GB": 1 << 20, "TB": 1 << 30}
	m, ok := mult[strings.TrimSpace(s[i:])]
	if !ok {
		return "", fmt.Errorf("valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\"")
	}
	kb := n * m
	for _, u := range []struct {
		n    int64
		name string
	}{{1 << 30, "TB"}, {1 << 20, "GB"}, {1 << 10, "MB"}} {
		if kb != 0 && kb%u.n == 0 {
			return strconv.FormatInt(kb/u.n, 10) + u.name, nil
		}
	}
	return strconv.FormatInt(kb, 10) + "kB", nil
}

// settings is one session's parameter state, including PostgreSQL's
// transactional behaviour: a SET inside a transaction is undone by ROLLBACK,
// and SET LOCAL lasts until the transaction ends.
type settings struct {
	defaults map[string]string // per-session defaults (startup parameters applied)
	values   map[string]string // session values
	local    map[string]string // SET LOCAL values of the current transaction
	txStart  map[string]string // values at BEGIN, restored by ROLLBACK
	saves    []savepoint       // values at each SAVEPOINT
	reported map[string]string // what the client was last told via ParameterStatus
	// dirty is set by every change, so that the per-statement work at
	// ReadyForQuery (changed, floatDigits) is skipped when nothing changed.
	dirty bool
}

type savepoint struct {
	name          string
	values, local map[string]string
}

func newSettings(overrides map[string]string) *settings {
	d := make(map[string]string, len(gucList)+len(overrides))
	for _, g := range gucList {
		d[strings.ToLower(g.name)] = g.def
	}
	maps.Copy(d, overrides)
	return &settings{defaults: d, values: maps.Clone(d), reported: map[string]string{}, dirty: true}
}

// get returns the current value of name (any case) and whether it exists.
func (s *settings) get(name string) (string, bool) {
	key := strings.ToLower(name)
	if v, ok := s.local[key]; ok {
		return v, true
	}
	v, ok := s.values[key]
	return v, ok
}

// canonical returns the spelling PostgreSQL uses for the column of SHOW name.
func canonical(name string) string {
	if g, ok := gucs[strings.ToLower(name)]; ok {
		return g.name
	}
	return strings.ToLower(name)
}

func unrecognized(name string) *pgcode.Error {
	return pgcode.New(pgcode.UndefinedObject, fmt.Sprintf("unrecognized configuration parameter %q", strings.ToLower(name)))
}

// check validates SET name = value (reset: to the default) and returns the
// key and the value to store, as PostgreSQL's check hooks would.
func (s *settings) check(name, value string, reset bool) (string, string, error) {
	key := strings.ToLower(name)
	g, known := gucs[key]
	if !known && !strings.Contains(key, ".") {
		return "", "", unrecognized(name)
	}
	if known && g.fixed {
		return "", "", pgcode.New(cantChangeRuntimeParam, fmt.Sprintf("parameter %q cannot be changed", key))
	}
	if reset {
		return key, s.defaults[key], nil
	}
	if known && g.check != nil {
		v, err := g.check(value)
		if err != nil {
			return "", "", pgcode.WithHint(pgcode.InvalidParameterValue,
				fmt.Sprintf("invalid value for parameter %q: %q", key, value), err.Error())
		}
		value = v
	}
	return key, value, nil
}

// set applies SET [LOCAL] name = value, or SET name TO DEFAULT / RESET name
// when reset is true. SET LOCAL outside a transaction changes nothing.
func (s *settings) set(name, value string, local, reset, inTx bool) error {
	key, value, err := s.check(name, value, reset)
	if err != nil {
		return err
	}
	if local {
		if !inTx {
			return nil
		}
		if s.local == nil {
			s.local = map[string]string{}
		}
		s.local[key] = value
		s.dirty = true
		return nil
	}
	s.dirty = true
	s.values[key] = value
	if s.local != nil {
		delete(s.local, key)
	}
	return nil
}

func (s *settings) resetAll() {
	s.dirty = true
	for k, v := range s.defaults {
		if g, ok := gucs[k]; ok && g.fixed {
			continue
		}
		s.values[k] = v
	}
	for k := range s.values {
		if _, ok := s.defaults[k]; !ok {
			delete(s.values, k)
		}
	}
	s.local = nil
}

// Transaction hooks.

// begin starts a transaction's settings: transaction_read_only and
// transaction_isolation take the transaction's modes (or the defaults).
func (s *settings) begin(readOnly bool, isolation string) {
	s.txStart = maps.Clone(s.values)
	s.local = map[string]string{"transaction_read_only": "off", "transaction_isolation": s.values["default_transaction_isolation"]}
	if readOnly {
		s.local["transaction_read_only"] = "on"
	}
	if isolation != "" {
		s.local["transaction_isolation"] = strings.ToLower(isolation)
	}
	s.dirty = true
}

// defaultReadOnly reports default_transaction_read_only.
func (s *settings) defaultReadOnly() bool {
	v, _ := s.get("default_transaction_read_only")
	return v == "on"
}

// isolation is the current transaction_isolation.
func (s *settings) isolation() string {
	v, _ := s.get("transaction_isolation")
	return v
}

func (s *settings) commit() {
	s.dirty = s.dirty || s.local != nil
	s.txStart, s.local, s.saves = nil, nil, nil
}

func (s *settings) rollback() {
	s.dirty = true
	if s.txStart != nil {
		s.values = s.txStart
	}
	s.txStart, s.local, s.saves = nil, nil, nil
}

func (s *settings) savepoint(name string) {
	s.saves = append(s.saves, savepoint{name: name, values: maps.Clone(s.values), local: maps.Clone(s.local)})
}

// findSavepoint returns the index of the newest savepoint called name.
func (s *settings) findSavepoint(name string) int {
	for i := len(s.saves) - 1; i >= 0; i-- {
		if s.saves[i].name == name {
			return i
		}
	}
	return -1
}

func (s *settings) rollbackTo(i int) {
	sp := s.saves[i]
	s.dirty = true
	s.values, s.local = maps.Clone(sp.values), maps.Clone(sp.local)
	s.saves = s.saves[:i+1]
}

func (s *settings) release(i int) { s.saves = s.saves[:i] }

// changed returns the reported parameters whose value differs from what the
// client was last told, and records them as told.
func (s *settings) changed() []paramStatus {
	if !s.dirty {
		return nil
	}
	s.dirty = false
	var out []paramStatus
	for _, g := range gucList {
		if !g.report {
			continue
		}
		v, _ := s.get(g.name)
		if r, ok := s.reported[g.name]; !ok || r != v {
			s.reported[g.name] = v
			out = append(out, paramStatus{g.name, v})
		}
	}
	return out
}

type paramStatus struct{ name, value string }

// all lists every parameter for SHOW ALL, sorted by name.
func (s *settings) all() [][3]string {
	names := slices.Collect(maps.Keys(s.values))
	slices.Sort(names)
	out := make([][3]string, 0, len(names))
	for _, k := range names {
		v, _ := s.get(k)
		desc := ""
		if g, ok := gucs[k]; ok {
			desc = g.desc
		}
		out = append(out, [3]string{canonical(k), v, desc})
	}
	return out
}

// statementTimeout is statement_timeout as a duration (0 = none).
func (s *settings) statementTimeout() time.Duration {
	v, _ := s.get("statement_timeout")
	d, _ := parseMillis(v)
	return d
}

func (s *settings) floatDigits() int {
	v, _ := s.get("extra_float_digits")
	n, _ := strconv.Atoi(v)
	return n
}
