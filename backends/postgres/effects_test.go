package postgres

import (
	"slices"
	"testing"
)

func TestAnalyze(t *testing.T) {
	tests := []struct {
		name, sql               string
		settings, dirty, listen bool
	}{
		{name: "plain select", sql: "SELECT * FROM t WHERE settled = true"},
		{name: "word inside a string", sql: "SELECT 'SET search_path = x; LISTEN y'"},
		{name: "word inside a comment", sql: "SELECT 1 /* set_config, pg_advisory_lock */"},
		{name: "set", sql: "SET search_path = app, public", settings: true},
		{name: "set time zone", sql: "SET TIME ZONE 'UTC'", settings: true},
		{name: "reset all", sql: "RESET ALL", settings: true},
		{name: "set in a multi-statement query", sql: "SET work_mem = '64MB'; SELECT 1", settings: true},
		{name: "set role", sql: "SET ROLE app_reader", settings: true},
		{name: "set local", sql: "SET LOCAL statement_timeout = 5"},
		{name: "set transaction", sql: "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"},
		{name: "set constraints", sql: "SET CONSTRAINTS ALL DEFERRED"},
		{name: "set session characteristics", sql: "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", settings: true},
		{name: "set session authorization", sql: "SET SESSION AUTHORIZATION app", dirty: true},
		{name: "set_config", sql: "SELECT set_config('search_path', 'x', false)", settings: true},
		{name: "discard all", sql: "DISCARD ALL", settings: true},
		{name: "discard temp", sql: "DISCARD TEMP"},
		{name: "deallocate all", sql: "DEALLOCATE ALL"},
		{name: "listen", sql: "LISTEN jobs", listen: true},
		{name: "unlisten", sql: "UNLISTEN *", listen: true},
		{name: "listen and a temp table", sql: "LISTEN jobs; CREATE TEMP TABLE x (a int)", listen: true, dirty: true},
		{name: "sql prepare", sql: "PREPARE q AS SELECT 1", dirty: true},
		{name: "temp table", sql: "CREATE TEMP TABLE x (a int)", dirty: true},
		{name: "temporary view", sql: "create temporary view v as select 1", dirty: true},
		{name: "pg_temp schema", sql: "CREATE TABLE pg_temp.x (a int)", dirty: true},
		{name: "select into temp", sql: "SELECT 1 AS a INTO TEMP t", dirty: true},
		{name: "column named temp", sql: "SELECT temp FROM weather"},
		{name: "hold cursor", sql: "DECLARE c CURSOR WITH HOLD FOR SELECT 1", dirty: true},
		{name: "plain cursor", sql: "DECLARE c CURSOR FOR SELECT 1"},
		{name: "advisory lock", sql: "SELECT pg_advisory_lock(1)", dirty: true},
		{name: "transaction advisory lock", sql: "SELECT pg_advisory_xact_lock(1)"},
		{name: "load", sql: "LOAD 'auto_explain'", dirty: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := analyze(tc.sql)
			if fx.settings != tc.settings || fx.dirty != tc.dirty || fx.listen != tc.listen {
				t.Fatalf("analyze(%q) = settings %v, dirty %v, listen %v; want %v, %v, %v",
					tc.sql, fx.settings, fx.dirty, fx.listen, tc.settings, tc.dirty, tc.listen)
			}
		})
	}
}

func TestErrorCode(t *testing.T) {
	body := []byte("SERROR\x00VERROR\x00C26000\x00Mprepared statement \"x\" does not exist\x00\x00")
	if got := errorCode(body); got != "26000" {
		t.Fatalf("errorCode = %q", got)
	}
	if got := errorCode([]byte("SERROR")); got != "" {
		t.Fatalf("errorCode of a truncated body = %q", got)
	}
}

func TestReplayable(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT abalance FROM pgbench_accounts WHERE aid = $1":  true,
		"SELECT 'answer' FROM pg_sleep(1)":                      true,
		"SELECT nextval('s')":                                   false,
		"SELECT pg_advisory_lock(1)":                            false,
		"SELECT my_function()":                                  false,
		"UPDATE t SET a = 1":                                    false,
		"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d": false,
		"BEGIN": false,
	} {
		if got := replayable(q); got != want {
			t.Errorf("replayable(%q) = %v, want %v", q, got, want)
		}
	}
}

// The kinds of state session mode follows, and the statement names of
// PREPARE and DEALLOCATE.
func TestHeldState(t *testing.T) {
	for _, tc := range []struct {
		sql                   string
		held                  held
		prepared, deallocated []string
	}{
		{sql: "CREATE TEMP TABLE x (a int)", held: heldTemp},
		{sql: "DECLARE c CURSOR WITH HOLD FOR SELECT 1", held: heldCursor},
		{sql: "SELECT pg_advisory_lock(1)", held: heldLock},
		{sql: "LOAD 'auto_explain'", held: heldOther},
		{sql: `PREPARE Q1 (int) AS SELECT $1`, prepared: []string{"q1"}},
		{sql: `PREPARE "Q2" AS SELECT 1`, prepared: []string{"Q2"}},
		{sql: "DEALLOCATE PREPARE q1", deallocated: []string{"q1"}},
		{sql: "DEALLOCATE ALL", deallocated: []string{""}},
	} {
		fx := analyze(tc.sql)
		if fx.held != tc.held || !slices.Equal(fx.prepared, tc.prepared) || !slices.Equal(fx.deallocated, tc.deallocated) {
			t.Errorf("analyze(%q) = held %b, prepared %q, deallocated %q; want %b, %q, %q",
				tc.sql, fx.held, fx.prepared, fx.deallocated, tc.held, tc.prepared, tc.deallocated)
		}
	}
}
