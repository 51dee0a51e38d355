package integration

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// reportedParams are the parameters PostgreSQL 15 reports with
// ParameterStatus (GUC_REPORT), with the values a session gets when the
// client asks for nothing; "" means any non-empty value.
var reportedParams = []struct{ name, want string }{
	{"application_name", "\x00"}, // empty: no application_name was sent
	{"client_encoding", "UTF8"},
	{"DateStyle", "ISO, MDY"},
	{"default_transaction_read_only", "off"},
	{"in_hot_standby", "off"},
	{"integer_datetimes", "on"},
	{"IntervalStyle", "postgres"},
	{"is_superuser", "off"},
	{"server_encoding", "UTF8"},
	{"server_version", ""},
	{"session_authorization", "tester"},
	{"standard_conforming_strings", "on"},
	{"TimeZone", ""},
}

// TestParameterStatusAtStartup: the startup sends exactly PostgreSQL 15's
// reported parameters, with its defaults, and each equals what SHOW and
// current_setting() answer in every mode.
func TestParameterStatusAtStartup(t *testing.T) {
	p := newProxy(t, sqliteSecrets("sess_db"))

	t.Run("exactly the 13 names, once each", func(t *testing.T) {
		rc := startRaw(t, p, "sess_db")
		var names []string
		for _, m := range rc.Startup {
			if ps, ok := m.(*pgproto3.ParameterStatus); ok {
				names = append(names, ps.Name)
			}
		}
		want := make([]string, len(reportedParams))
		for i, rp := range reportedParams {
			want[i] = rp.name
		}
		slices.Sort(names)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("ParameterStatus names %v\nwant %v", names, want)
		}
		// Order of the startup answer: AuthenticationOk, the parameters,
		// BackendKeyData, ReadyForQuery (protocol section 55.2.1).
		if _, ok := rc.Startup[0].(*pgproto3.AuthenticationOk); !ok {
			t.Errorf("first message %s, want AuthenticationOk", msgName(rc.Startup[0]))
		}
		if n := len(rc.Startup); n < 2 || msgName(rc.Startup[n-2]) != "BackendKeyData" {
			t.Errorf("startup messages %s: want BackendKeyData before ReadyForQuery", msgNames(rc.Startup))
		}
	})

	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			c := p.Connect(t, "sess_db", mode)
			for _, rp := range reportedParams {
				got := c.PgConn().ParameterStatus(rp.name)
				switch rp.want {
				case "":
					if got == "" {
						t.Errorf("ParameterStatus %s missing", rp.name)
					}
				case "\x00":
					if got != "" {
						t.Errorf("ParameterStatus %s = %q, want empty", rp.name, got)
					}
				default:
					if got != rp.want {
						t.Errorf("ParameterStatus %s = %q, want %q", rp.name, got, rp.want)
					}
				}
				if show := queryString(t, c, "SHOW "+rp.name); show != got {
					t.Errorf("SHOW %s = %q, ParameterStatus said %q", rp.name, show, got)
				}
				if cs := queryString(t, c, fmt.Sprintf("SELECT current_setting('%s')", rp.name)); cs != got {
					t.Errorf("current_setting('%s') = %q, ParameterStatus said %q", rp.name, cs, got)
				}
			}
			if v := c.PgConn().ParameterStatus("server_version"); !strings.HasPrefix(v, "15") {
				t.Errorf("server_version %q, want 15.x", v)
			}
		})
	}
}

// TestSessionFunctions: the functions drivers call on connect are answered
// with the session's own values.
func TestSessionFunctions(t *testing.T) {
	p := newProxy(t, sqliteSecrets("sess_db"))
	u, err := url.Parse(p.URL("sess_db"))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User("alice")
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			cfg, err := pgx.ParseConfig(u.String())
			if err != nil {
				t.Fatal(err)
			}
			cfg.DefaultQueryExecMode = mode
			c, err := pgx.ConnectConfig(ctxT(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close(ctxT(t)) })
			tests := []struct {
				sql    string
				want   string
				prefix bool
			}{
				{"SELECT version()", "PostgreSQL 15", true},
				{"SELECT current_database()", "sess_db", false},
				{"SELECT current_user", "alice", false},
				{"SELECT session_user", "alice", false},
				{"SELECT current_schema()", "public", false},
				{"SELECT current_setting('server_version')", "15", true},
				{"SELECT pg_catalog.current_setting('session_authorization')", "alice", false},
			}
			for _, tt := range tests {
				got := queryString(t, c, tt.sql)
				if tt.prefix && !strings.HasPrefix(got, tt.want) || !tt.prefix && got != tt.want {
					t.Errorf("%s = %q, want %q", tt.sql, got, tt.want)
				}
			}
			var db, user string
			if err := c.QueryRow(ctxT(t), "SELECT current_database() AS db, current_user AS u").Scan(&db, &user); err != nil {
				t.Fatal(err)
			}
			if db != "sess_db" || user != "alice" {
				t.Errorf("two functions in one SELECT: %q, %q", db, user)
			}
			_, err = c.Exec(ctxT(t), "SELECT current_setting('no_such_setting')")
			wantCode(t, err, "42704")
			var pid int64
			if err := c.QueryRow(ctxT(t), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				t.Fatal(err)
			}
			if pid != int64(c.PgConn().PID()) {
				t.Errorf("pg_backend_pid() = %d, BackendKeyData said %d", pid, c.PgConn().PID())
			}
		})
	}
}

// TestStartupParameters: application_name, options=-c ... and TimeZone
// given at startup become the session's values (and its RESET defaults).
func TestStartupParameters(t *testing.T) {
	p := newProxy(t, sqliteSecrets("sess_db"))
	c := connectPgconn(t, p.URL("sess_db"), func(cfg *pgconn.Config) {
		cfg.RuntimeParams["application_name"] = "my app"
		cfg.RuntimeParams["options"] = `-c search_path=foo -c statement_timeout=5s`
		cfg.RuntimeParams["TimeZone"] = "Europe/Paris"
	})
	show := func(name string) string {
		t.Helper()
		res, err := execSimple(ctxT(t), c, "SHOW "+name)
		if err != nil {
			t.Fatalf("SHOW %s: %v", name, err)
		}
		return string(res[0].Rows[0][0])
	}
	tests := []struct{ name, want string }{
		{"application_name", "my app"},
		{"search_path", "foo"},
		{"statement_timeout", "5s"},
		{"TimeZone", "Europe/Paris"},
	}
	for _, tt := range tests {
		if got := show(tt.name); got != tt.want {
			t.Errorf("SHOW %s = %q, want %q", tt.name, got, tt.want)
		}
	}
	for _, name := range []string{"application_name", "TimeZone"} {
		if got, want := c.ParameterStatus(name), show(name); got != want {
			t.Errorf("ParameterStatus %s = %q, SHOW says %q", name, got, want)
		}
	}
	// RESET returns to the startup value, not the server default.
	if _, err := execSimple(ctxT(t), c, "SET search_path = bar; RESET search_path"); err != nil {
		t.Fatal(err)
	}
	if got := show("search_path"); got != "foo" {
		t.Errorf("after RESET, search_path = %q, want the startup value foo", got)
	}
}

// TestUnknownStartupParameter: like PostgreSQL, an unknown parameter in the
// startup packet is FATAL 42704.
func TestUnknownStartupParameter(t *testing.T) {
	p := newProxy(t, sqliteSecrets("sess_db"))
	tests := []struct {
		name   string
		params map[string]string
	}{
		{"as a startup parameter", map[string]string{"no_such_param": "1"}},
		{"in options", map[string]string{"options": "-c no_such_param=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := pgconn.ParseConfig(p.URL("sess_db"))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.params {
				cfg.RuntimeParams[k] = v
			}
			c, err := pgconn.ConnectConfig(ctxT(t), cfg)
			if err == nil {
				c.Close(ctxT(t))
				t.Fatal("connected; want FATAL 42704")
			}
			pe := wantCode(t, err, "42704")
			if pe.Severity != "FATAL" {
				t.Errorf("severity %q, want FATAL", pe.Severity)
			}
			if !strings.Contains(pe.Message, `"no_such_param"`) {
				t.Errorf("message %q does not name the parameter", pe.Message)
			}
		})
	}
	// The proxy still serves others.
	c := p.Connect(t, "sess_db")
	if got := queryString(t, c, "SELECT current_database()"); got != "sess_db" {
		t.Errorf("current_database() = %q", got)
	}
}

// TestParameterStatusOnSet: changing a reported parameter sends a new
// ParameterStatus before ReadyForQuery; changing another sends none; a
// rolled back change is reported back.
func TestParameterStatusOnSet(t *testing.T) {
	p := newProxy(t, sqliteSecrets("sess_db"))

	t.Run("pgconn", func(t *testing.T) {
		for _, mode := range allModes {
			t.Run(mode.String(), func(t *testing.T) {
				c := p.Connect(t, "sess_db", mode)
				mustExec(t, c, "SET application_name = 'x'")
				if got := c.PgConn().ParameterStatus("application_name"); got != "x" {
					t.Errorf("after SET: ParameterStatus application_name = %q, want x", got)
				}
				mustExec(t, c, "SET TimeZone = 'America/New_York'")
				if got := c.PgConn().ParameterStatus("TimeZone"); got != "America/New_York" {
					t.Errorf("after SET: ParameterStatus TimeZone = %q", got)
				}
				mustExec(t, c, "BEGIN")
				mustExec(t, c, "SET application_name = 'in tx'")
				if got := c.PgConn().ParameterStatus("application_name"); got != "in tx" {
					t.Errorf("inside the transaction: application_name = %q, want 'in tx'", got)
				}
				mustExec(t, c, "ROLLBACK")
				if got := c.PgConn().ParameterStatus("application_name"); got != "x" {
					t.Errorf("after ROLLBACK: ParameterStatus application_name = %q, want x again", got)
				}
				mustExec(t, c, "RESET ALL")
				if got := c.PgConn().ParameterStatus("application_name"); got != "" {
					t.Errorf("after RESET ALL: application_name = %q, want empty", got)
				}
			})
		}
	})

	t.Run("wire", func(t *testing.T) {
		rc := startRaw(t, p, "sess_db")
		tests := []struct {
			sql    string
			params []string // ParameterStatus messages expected, as name=value
		}{
			{"SET application_name = 'x'", []string{"application_name=x"}},
			{"SET application_name = 'x'", nil}, // unchanged: nothing to report
			{"SET search_path = other", nil},    // not a reported parameter
			{"SET DateStyle = 'ISO, DMY'", []string{"DateStyle=ISO, DMY"}},
			{"SELECT 1", nil},
		}
		for _, tt := range tests {
			rc.send(&pgproto3.Query{String: tt.sql})
			msgs := rc.untilReady()
			var got []string
			for _, m := range msgs {
				if ps, ok := m.(*pgproto3.ParameterStatus); ok {
					got = append(got, ps.Name+"="+ps.Value)
				}
			}
			if !slices.Equal(got, tt.params) {
				t.Errorf("%s: ParameterStatus %q, want %q", tt.sql, got, tt.params)
			}
			// ParameterStatus comes after CommandComplete, before ReadyForQuery.
			if len(tt.params) > 0 && msgName(msgs[len(msgs)-2]) != "ParameterStatus" {
				t.Errorf("%s: messages %s", tt.sql, msgNames(msgs))
			}
		}
	})
}

// TestSetShowEmulation: SET, SHOW, RESET and current_setting() answer as
// PostgreSQL 15 does, checked against PostgreSQL itself when it is up.
// "=" marks the value SHOW (or the SELECT) must return; "!" an error code;
// otherwise the statement must simply succeed.
func TestSetShowEmulation(t *testing.T) {
	steps := []struct{ sql, want string }{
		{"SET search_path TO a, b", ""},
		{"SHOW search_path", "=a, b"},
		{`SET search_path = 'a', "B"`, ""},
		{"SHOW search_path", `=a, "B"`},
		{"SET TIME ZONE 'Europe/Berlin'", ""},
		{"SHOW TimeZone", "=Europe/Berlin"},
		{"SHOW timezone", "=Europe/Berlin"},
		{"SELECT current_setting('timezone')", "=Europe/Berlin"},
		{"SET statement_timeout = '1min'", ""},
		{"SHOW statement_timeout", "=1min"},
		{"SET statement_timeout = '1500ms'", ""},
		{"SHOW statement_timeout", "=1500ms"},
		{"SET statement_timeout = 1000", ""},
		{"SHOW statement_timeout", "=1s"},
		{"SET statement_timeout TO DEFAULT", ""},
		{"SHOW statement_timeout", "=0"},
		{"SET extra_float_digits = 3", ""},
		{"SHOW extra_float_digits", "=3"},
		{"SET client_min_messages = warning", ""},
		{"SHOW client_min_messages", "=warning"},
		{"SET application_name = 'a b'", ""},
		{"SHOW application_name", "=a b"},
		{"RESET application_name", ""},
		{"SHOW application_name", "="},
		{"SET datestyle = 'iso, dmy'", ""},
		{"SHOW DateStyle", "=ISO, DMY"},
		{"SET server_version = '16'", "!55P02"},
		{"SET no_such_setting = 1", "!42704"},
		{"SHOW no_such_setting", "!42704"},
		{"SELECT current_setting('no_such_setting')", "!42704"},
		{"SELECT current_setting('no_such_setting', true)", "=NULL"},
		{"SET myext.flag = 'on'", ""},
		{"SHOW myext.flag", "=on"},
		{"SET default_transaction_read_only = true", ""},
		{"SHOW default_transaction_read_only", "=on"},
		{"RESET ALL", ""},
		{"SHOW default_transaction_read_only", "=off"},
		{"SHOW search_path", `="$user", public`},
		{"SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", ""},
		{"SHOW default_transaction_read_only", "=on"},
		{"RESET ALL", ""},
		{"SHOW transaction_isolation", "=read committed"},
		{"BEGIN ISOLATION LEVEL SERIALIZABLE", ""},
		{"SHOW transaction_isolation", "=serializable"},
		{"COMMIT", ""},
		{"SHOW transaction_isolation", "=read committed"},
		{"SHOW integer_datetimes", "=on"},
		{"SHOW max_identifier_length", "=63"},
	}
	for _, target := range wireTargets() {
		t.Run(target.name, func(t *testing.T) {
			rc := target.connect(t)
			for _, st := range steps {
				got := rc.exchange(&pgproto3.Query{String: st.sql})
				var value, code string
				for _, m := range got {
					if v, ok := strings.CutPrefix(m, "DataRow "); ok {
						value = "=" + v
					}
					if c, ok := strings.CutPrefix(m, "ErrorResponse "); ok {
						code = "!" + c
					}
				}
				switch {
				case strings.HasPrefix(st.want, "!"):
					if code != st.want {
						t.Errorf("%s: got %v, want error %s", st.sql, got, st.want[1:])
					}
				case code != "":
					t.Errorf("%s: error %s", st.sql, code[1:])
				case strings.HasPrefix(st.want, "=") && value != st.want:
					t.Errorf("%s: %q, want %q", st.sql, strings.TrimPrefix(value, "="), st.want[1:])
				}
			}
		})
	}
}
