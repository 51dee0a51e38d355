package bridge

import (
	"errors"
	"testing"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

func TestSettingsTransactions(t *testing.T) {
	s := newSettings(map[string]string{"application_name": "start"})
	show := func(name string) string {
		t.Helper()
		v, ok := s.get(name)
		if !ok {
			t.Fatalf("%s unknown", name)
		}
		return v
	}
	mustSet := func(name, v string, local, inTx bool) {
		t.Helper()
		if err := s.set(name, v, local, false, inTx); err != nil {
			t.Fatal(err)
		}
	}

	s.begin(false, "")
	mustSet("application_name", "in_tx", false, true)
	s.rollback()
	if got := show("application_name"); got != "start" {
		t.Errorf("after ROLLBACK: %q, want start", got)
	}

	s.begin(false, "")
	mustSet("application_name", "kept", false, true)
	mustSet("DateStyle", "iso, dmy", true, true)
	if got := show("datestyle"); got != "ISO, DMY" {
		t.Errorf("SET LOCAL inside: %q", got)
	}
	s.commit()
	if got := show("application_name"); got != "kept" {
		t.Errorf("after COMMIT: %q, want kept", got)
	}
	if got := show("DateStyle"); got != "ISO, MDY" {
		t.Errorf("SET LOCAL after COMMIT: %q, want the default", got)
	}

	s.begin(false, "")
	s.savepoint("a")
	mustSet("application_name", "after_a", false, true)
	i := s.findSavepoint("a")
	s.rollbackTo(i)
	if got := show("application_name"); got != "kept" {
		t.Errorf("after ROLLBACK TO: %q, want kept", got)
	}
	s.commit()

	if err := s.set("application_name", "", false, true, false); err != nil {
		t.Fatal(err)
	}
	if got := show("application_name"); got != "start" {
		t.Errorf("RESET returns to the startup value: %q", got)
	}
}

func TestSettingsErrors(t *testing.T) {
	s := newSettings(nil)
	tests := []struct {
		name, param, value, code string
	}{
		{"unknown", "no_such", "1", pgcode.UndefinedObject},
		{"fixed", "server_version", "9", cantChangeRuntimeParam},
		{"bad bool", "default_transaction_read_only", "perhaps", pgcode.InvalidParameterValue},
		{"bad float digits", "extra_float_digits", "9", pgcode.InvalidParameterValue},
		{"bad time zone", "TimeZone", "Mars/Olympus", pgcode.InvalidParameterValue},
		{"unsupported encoding", "client_encoding", "LATIN1", pgcode.InvalidParameterValue},
		{"unsupported date style", "DateStyle", "German", pgcode.InvalidParameterValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.set(tt.param, tt.value, false, false, false)
			var pe *pgcode.Error
			if !errors.As(err, &pe) || pe.Code != tt.code {
				t.Fatalf("SET %s = %s: %v, want SQLSTATE %s", tt.param, tt.value, err, tt.code)
			}
		})
	}
	if err := s.set("myapp.tenant", "7", false, false, false); err != nil {
		t.Errorf("custom dotted parameters are accepted: %v", err)
	}
}

func TestChangedReportsOnlyChanges(t *testing.T) {
	s := newSettings(nil)
	if n := len(s.changed()); n != 13 {
		t.Fatalf("startup reports %d parameters, want PostgreSQL 15's 13", n)
	}
	if n := len(s.changed()); n != 0 {
		t.Fatalf("nothing changed, but %d reported", n)
	}
	_ = s.set("application_name", "x", false, false, false)
	_ = s.set("search_path", "a", false, false, false) // not GUC_REPORT
	ch := s.changed()
	if len(ch) != 1 || ch[0].name != "application_name" || ch[0].value != "x" {
		t.Fatalf("changed() = %v", ch)
	}
}

func TestStartupSettings(t *testing.T) {
	tests := []struct {
		name    string
		opts    map[string]string
		check   map[string]string
		errCode string
	}{
		{name: "application_name", opts: map[string]string{"application_name": "psql"}, check: map[string]string{"application_name": "psql"}},
		{name: "options -c", opts: map[string]string{"options": "-c search_path=foo --statement-timeout=5s"},
			check: map[string]string{"search_path": "foo", "statement_timeout": "5s"}},
		{name: "options escaped space", opts: map[string]string{"options": `-c application_name=a\ b`}, check: map[string]string{"application_name": "a b"}},
		{name: "unknown parameter", opts: map[string]string{"frobnicate": "1"}, errCode: pgcode.UndefinedObject},
		{name: "bad value", opts: map[string]string{"DateStyle": "German"}, errCode: pgcode.InvalidParameterValue},
		{name: "replication refused", opts: map[string]string{"replication": "database"}, errCode: pgcode.FeatureNotSupported},
		{name: "bad option switch", opts: map[string]string{"options": "-x"}, errCode: pgcode.FeatureNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := startupSettings(backends.SessionParams{User: "u", Options: tt.opts})
			if tt.errCode != "" {
				var pe *pgcode.Error
				if !errors.As(err, &pe) || pe.Code != tt.errCode || !pe.Fatal() {
					t.Fatalf("got %v, want FATAL %s", err, tt.errCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.check {
				if got, _ := s.get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got, _ := s.get("session_authorization"); got != "u" {
				t.Errorf("session_authorization = %q", got)
			}
		})
	}
}

func TestParseFuncSelect(t *testing.T) {
	tests := []struct {
		sql   string
		ok    bool
		names []string
	}{
		{"SELECT version()", true, []string{"version"}},
		{"select current_database(), current_schema(), current_user", true, []string{"current_database", "current_schema", "current_user"}},
		{"SELECT pg_catalog.version() AS v", true, []string{"version"}},
		{"/* jdbc */ SELECT current_setting('DateStyle') ds;", true, []string{"current_setting"}},
		{"SELECT current_setting('x', true)", true, []string{"current_setting"}},
		{"SELECT current_schema", true, []string{"current_schema"}},
		{"SELECT version", false, nil},
		{"SELECT current_user()", false, nil},
		{"SELECT version() FROM t", false, nil},
		{"SELECT version(), 1", false, nil},
		{"SELECT upper(version())", false, nil},
		{"SELECT 1", false, nil},
		{"SELECT version(); SELECT 2", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			cols, ok := parseFuncSelect(tt.sql)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			for i, n := range tt.names {
				if cols[i].fn != n {
					t.Errorf("item %d = %q, want %q", i, cols[i].fn, n)
				}
			}
		})
	}
}
