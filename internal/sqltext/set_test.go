package sqltext

import "testing"

func TestParseSet(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   Set
		wantOK bool
	}{
		{"to", "SET search_path TO public", Set{Name: "search_path", Value: "public"}, true},
		{"equals", "set work_mem = '64MB'", Set{Name: "work_mem", Value: "64MB"}, true},
		{"name lower-cased", "SET DateStyle TO ISO", Set{Name: "datestyle", Value: "iso"}, true},
		{"local", "SET LOCAL statement_timeout = 5000", Set{Name: "statement_timeout", Value: "5000", Local: true}, true},
		{"session", "SET SESSION application_name = 'app'", Set{Name: "application_name", Value: "app"}, true},
		{"dotted name", "SET xconn.cache = on", Set{Name: "xconn.cache", Value: "on"}, true},
		{"quoted name part", `SET "XConn"."Cache" = off`, Set{Name: "xconn.cache", Value: "off"}, true},
		{"variable named local", "SET local = 1", Set{Name: "local", Value: "1"}, true},
		{"default", "SET work_mem TO DEFAULT", Set{Name: "work_mem", Default: true}, true},
		{"list values", "SET datestyle = iso, mdy", Set{Name: "datestyle", Value: "iso, mdy"}, true},
		{"search_path re-quotes", `SET search_path = "$user", public, 'My Schema'`,
			Set{Name: "search_path", Value: `"$user", public, "My Schema"`}, true},
		{"search_path quotes keywords", `SET search_path = "user"`, Set{Name: "search_path", Value: `"user"`}, true},
		{"quoted identifier value keeps case", `SET application_name = "MyApp"`, Set{Name: "application_name", Value: "MyApp"}, true},
		{"escape string value", `SET application_name = E'a\'b'`, Set{Name: "application_name", Value: "a'b"}, true},
		{"dollar string value", `SET application_name = $$x$$`, Set{Name: "application_name", Value: "x"}, true},
		{"true keyword", "SET enable_seqscan = TRUE", Set{Name: "enable_seqscan", Value: "true"}, true},
		{"integer normalised", "SET x.y = 007", Set{Name: "x.y", Value: "7"}, true},
		{"hex integer", "SET x.y = 0x10", Set{Name: "x.y", Value: "16"}, true},
		{"negative integer", "SET extra_float_digits = -3", Set{Name: "extra_float_digits", Value: "-3"}, true},
		{"negative without spaces", "SET extra_float_digits=-3", Set{Name: "extra_float_digits", Value: "-3"}, true},
		{"plus sign dropped", "SET x.y = +3", Set{Name: "x.y", Value: "3"}, true},
		{"decimal as written", "SET x.y = 1.50", Set{Name: "x.y", Value: "1.50"}, true},
		{"negative decimal", "SET x.y = -1.5", Set{Name: "x.y", Value: "-1.5"}, true},
		{"big integer as written", "SET x.y = 99999999999", Set{Name: "x.y", Value: "99999999999"}, true},
		{"comment inside", "SET /* c */ work_mem -- x\n = '1MB'", Set{Name: "work_mem", Value: "1MB"}, true},
		{"trailing semicolon", "SET a.b = 1;", Set{Name: "a.b", Value: "1"}, true},
		{"time zone string", "SET TIME ZONE 'Europe/Paris'", Set{Name: "timezone", Value: "Europe/Paris"}, true},
		{"time zone local", "SET TIME ZONE LOCAL", Set{Name: "timezone", Default: true}, true},
		{"time zone default", "set local time zone default", Set{Name: "timezone", Local: true, Default: true}, true},
		{"time zone number", "SET TIME ZONE 2", Set{Name: "timezone", Value: "2"}, true},
		{"timezone as a name", "SET timezone = 'UTC'", Set{Name: "timezone", Value: "UTC"}, true},
		{"schema", "SET SCHEMA 'app'", Set{Name: "search_path", Value: "app"}, true},
		{"schema needing quotes", "SET SCHEMA 'App'", Set{Name: "search_path", Value: `"App"`}, true},
		{"names", "SET NAMES 'UTF8'", Set{Name: "client_encoding", Value: "UTF8"}, true},
		{"names alone", "SET NAMES", Set{Name: "client_encoding", Default: true}, true},
		{"session authorization", "SET SESSION AUTHORIZATION bob", Set{Name: "session_authorization", Value: "bob"}, true},
		{"local session authorization default", "SET LOCAL SESSION AUTHORIZATION DEFAULT",
			Set{Name: "session_authorization", Local: true, Default: true}, true},
		{"role", "SET ROLE Admin", Set{Name: "role", Value: "admin"}, true},
		{"role none", "SET ROLE NONE", Set{Name: "role", Value: "none"}, true},
		{"xml option", "SET XML OPTION DOCUMENT", Set{Name: "xmloption", Value: "document"}, true},
		{"reset", "RESET work_mem", Set{Name: "work_mem", Default: true, Reset: true}, true},
		{"reset all", "RESET ALL", Set{Default: true, Reset: true, All: true}, true},
		{"reset time zone", "reset time zone", Set{Name: "timezone", Default: true, Reset: true}, true},
		{"reset transaction isolation", "RESET TRANSACTION ISOLATION LEVEL", Set{Name: "transaction_isolation", Default: true, Reset: true}, true},
		{"reset session authorization", "RESET SESSION AUTHORIZATION", Set{Name: "session_authorization", Default: true, Reset: true}, true},
		{"reset role", "RESET ROLE", Set{Name: "role", Default: true, Reset: true}, true},

		{"not set", "SELECT 1", Set{}, false},
		{"empty", "", Set{}, false},
		{"set alone", "SET", Set{}, false},
		{"missing value", "SET a.b =", Set{}, false},
		{"missing assignment", "SET a.b 1", Set{}, false},
		{"default in a list", "SET a.b = 1, DEFAULT", Set{}, false},
		{"trailing junk", "SET a.b = 1 2", Set{}, false},
		{"two statements", "SET a.b = 1; SELECT 1", Set{}, false},
		{"set transaction", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", Set{}, false},
		{"session characteristics", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", Set{}, false},
		{"set constraints", "SET CONSTRAINTS ALL IMMEDIATE", Set{}, false},
		{"from current", "SET work_mem FROM CURRENT", Set{}, false},
		{"time zone interval", "SET TIME ZONE INTERVAL '-08:00' HOUR TO MINUTE", Set{}, false},
		{"bit string value", "SET a.b = B'101'", Set{}, false},
		{"param value", "SET a.b = $1", Set{}, false},
		{"authorization without session", "SET LOCAL AUTHORIZATION bob", Set{}, false},
		{"reset nothing", "RESET", Set{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseSet(tc.in)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("ParseSet(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestParseShow(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string
		wantOK bool
	}{
		{"name", "SHOW search_path", "search_path", true},
		{"upper-case name", "show DateStyle;", "datestyle", true},
		{"dotted", "SHOW xconn.cache", "xconn.cache", true},
		{"all", "SHOW ALL", "all", true},
		{"time zone", "SHOW TIME ZONE", "timezone", true},
		{"transaction isolation level", "show transaction isolation level", "transaction_isolation", true},
		{"session authorization", "SHOW SESSION AUTHORIZATION", "session_authorization", true},
		{"comment first", "/* c */ SHOW server_version", "server_version", true},
		{"not show", "SELECT 1", "", false},
		{"show alone", "SHOW", "", false},
		{"trailing junk", "SHOW VARIABLES LIKE 'x'", "", false},
		{"incomplete isolation", "SHOW TRANSACTION ISOLATION", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseShow(tc.in)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("ParseShow(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestParseShowAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(50, func() { ParseShow("show search_path") }); n != 0 {
		t.Errorf("ParseShow allocated %v times", n)
	}
}
