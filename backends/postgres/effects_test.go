package postgres

import "testing"

func TestAnalyze(t *testing.T) {
	tests := []struct {
		name, sql    string
		dirty        bool
		set          string // the SET's parameter, "" for none
		discard, dea bool
	}{
		{name: "plain select", sql: "SELECT * FROM t WHERE settled = true"},
		{name: "word inside a string", sql: "SELECT 'SET search_path = x; LISTEN y'"},
		{name: "set", sql: "SET search_path = app, public", set: "search_path"},
		{name: "set time zone", sql: "SET TIME ZONE 'UTC'", set: "timezone"},
		{name: "reset all", sql: "RESET ALL", set: ""},
		{name: "set local", sql: "SET LOCAL statement_timeout = 5"},
		{name: "set transaction", sql: "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"},
		{name: "set constraints", sql: "SET CONSTRAINTS ALL DEFERRED"},
		{name: "set session characteristics", sql: "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", dirty: true},
		{name: "set in a multi-statement query", sql: "SET work_mem = '64MB'; SELECT 1", dirty: true},
		{name: "listen", sql: "LISTEN jobs", dirty: true},
		{name: "unlisten", sql: "UNLISTEN *", dirty: true},
		{name: "sql prepare", sql: "PREPARE q AS SELECT 1", dirty: true},
		{name: "discard all", sql: "DISCARD ALL", discard: true},
		{name: "discard all with more", sql: "DISCARD ALL; SELECT 1", discard: true, dirty: true},
		{name: "discard temp", sql: "DISCARD TEMP", dirty: true},
		{name: "deallocate all", sql: "DEALLOCATE ALL", dea: true},
		{name: "deallocate one", sql: "DEALLOCATE q", dirty: true},
		{name: "temp table", sql: "CREATE TEMP TABLE x (a int)", dirty: true},
		{name: "temporary view", sql: "create temporary view v as select 1", dirty: true},
		{name: "column named temp", sql: "SELECT temp FROM weather"},
		{name: "hold cursor", sql: "DECLARE c CURSOR WITH HOLD FOR SELECT 1", dirty: true},
		{name: "plain cursor", sql: "DECLARE c CURSOR FOR SELECT 1"},
		{name: "set_config", sql: "SELECT set_config('search_path', 'x', false)", dirty: true},
		{name: "advisory lock", sql: "SELECT pg_advisory_lock(1)", dirty: true},
		{name: "transaction advisory lock", sql: "SELECT pg_advisory_xact_lock(1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := analyze(tc.sql)
			set := ""
			if fx.set != nil {
				set = fx.set.Name
			}
			if fx.dirty != tc.dirty || set != tc.set || fx.discardAll != tc.discard || fx.deallocateAll != tc.dea {
				t.Fatalf("analyze(%q) = dirty %v, set %q, discard %v, deallocate %v", tc.sql, fx.dirty, set, fx.discardAll, fx.deallocateAll)
			}
		})
	}
}

func TestServerNameIsUnambiguous(t *testing.T) {
	a := serverName("SELECT 1", []byte{0, 0}, "x")
	for _, b := range []string{
		serverName("SELECT 1", []byte{0, 0}, "y"),
		serverName("SELECT 1", []byte{0, 1, 0, 0, 0, 23}, "x"),
		serverName("SELECT 1x", []byte{0, 0}, ""),
	} {
		if a == b {
			t.Fatalf("two statements share the name %s", a)
		}
	}
	if a != serverName("SELECT 1", []byte{0, 0}, "x") {
		t.Fatal("the name is not stable")
	}
}
