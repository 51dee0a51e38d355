package sqltext

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"only semicolons", ";;", nil},
		{"only whitespace and semicolons", " ; \n ; ", nil},
		{"only a line comment", "-- c", nil},
		{"only a block comment", "/* a */ ; /* b */", nil},
		{"one statement", "select 1", []string{"select 1"}},
		{"trailing semicolon", "select 1;", []string{"select 1"}},
		{"two statements trimmed", "  select 1 ;\n\tselect 2;  ", []string{"select 1", "select 2"}},
		{"empty statements dropped", "select 1;;;select 2", []string{"select 1", "select 2"}},
		{"comment before statement kept", "/* hi */ select 1; -- x\nBEGIN",
			[]string{"/* hi */ select 1", "-- x\nBEGIN"}},
		{"trailing comment after last semicolon dropped", "select 1; -- done", []string{"select 1"}},
		{"comment inside statement kept", "select 1 -- one\n, 2; select 3",
			[]string{"select 1 -- one\n, 2", "select 3"}},
		{"semicolon in string", "select ';' ; select 'a''b;'", []string{"select ';'", "select 'a''b;'"}},
		{"semicolon in escape string", `select E'\';' ; select 2`, []string{`select E'\';'`, "select 2"}},
		{"plain string backslash does not escape", `select 'a\'; select 2`, []string{`select 'a\'`, "select 2"}},
		{"semicolon in dollar quote", "create function f() returns int as $$ begin return 1; end $$ language plpgsql; select f()",
			[]string{"create function f() returns int as $$ begin return 1; end $$ language plpgsql", "select f()"}},
		{"semicolon in tagged dollar quote", "select $x$;$$;$x$; select 2", []string{"select $x$;$$;$x$", "select 2"}},
		{"semicolon in quoted identifier", `select 1 as "a;b"; select 2`, []string{`select 1 as "a;b"`, "select 2"}},
		{"semicolon in backtick identifier", "select 1 as `a;b`; select 2", []string{"select 1 as `a;b`", "select 2"}},
		{"semicolon in line comment", "select 1 -- ; no\n; select 2", []string{"select 1 -- ; no", "select 2"}},
		{"semicolon in nested comment", "select /* a /* ; */ ; */ 1; select 2", []string{"select /* a /* ; */ ; */ 1", "select 2"}},
		{"semicolon in parentheses", "select (1; select 2); select 3", []string{"select (1; select 2)", "select 3"}},
		{"unbalanced close paren ignored", "select 1); select 2", []string{"select 1)", "select 2"}},
		{"unterminated string runs to end", "select 1; select 'a; select 2", []string{"select 1", "select 'a; select 2"}},
		{"unterminated comment runs to end", "select 1; /* ; select 2", []string{"select 1"}},
		{"sqlite trigger body", "CREATE TRIGGER t AFTER INSERT ON x BEGIN UPDATE y SET n=n+1; END;",
			[]string{"CREATE TRIGGER t AFTER INSERT ON x BEGIN UPDATE y SET n=n+1; END"}},
		{"trigger body then more", "create temp trigger if not exists t after insert on x begin insert into l values (1); delete from y; end; select 1",
			[]string{"create temp trigger if not exists t after insert on x begin insert into l values (1); delete from y; end", "select 1"}},
		{"trigger body with CASE ... END", "CREATE TRIGGER t BEFORE UPDATE ON x BEGIN SELECT CASE WHEN new.a < 0 THEN RAISE(ABORT, 'neg') END; END; SELECT 2",
			[]string{"CREATE TRIGGER t BEFORE UPDATE ON x BEGIN SELECT CASE WHEN new.a < 0 THEN RAISE(ABORT, 'neg') END; END", "SELECT 2"}},
		{"trigger WHEN CASE before body", "CREATE TRIGGER t AFTER INSERT ON x WHEN CASE WHEN 1 THEN 1 END BEGIN SELECT 1; END; SELECT 2",
			[]string{"CREATE TRIGGER t AFTER INSERT ON x WHEN CASE WHEN 1 THEN 1 END BEGIN SELECT 1; END", "SELECT 2"}},
		{"postgres BEGIN ATOMIC body", "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3",
			[]string{"CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END", "SELECT 3"}},
		{"mysql procedure with END IF and END LOOP",
			"CREATE DEFINER=`root`@`%` PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; l: LOOP LEAVE l; END LOOP; END; SELECT 9",
			[]string{"CREATE DEFINER=`root`@`%` PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; l: LOOP LEAVE l; END LOOP; END", "SELECT 9"}},
		{"mysql CASE statement END CASE",
			"CREATE PROCEDURE p() BEGIN CASE x WHEN 1 THEN SELECT 1; END CASE; END; SELECT 9",
			[]string{"CREATE PROCEDURE p() BEGIN CASE x WHEN 1 THEN SELECT 1; END CASE; END", "SELECT 9"}},
		{"mysql event", "CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO BEGIN DELETE FROM t; END; SELECT 1",
			[]string{"CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO BEGIN DELETE FROM t; END", "SELECT 1"}},
		{"transaction BEGIN ... END is not a body", "BEGIN; INSERT INTO t VALUES (1); END;",
			[]string{"BEGIN", "INSERT INTO t VALUES (1)", "END"}},
		{"create table named trigger is not a body", "CREATE TABLE begin (a int); BEGIN; SELECT 1",
			[]string{"CREATE TABLE begin (a int)", "BEGIN", "SELECT 1"}},
		{"begin inside parens of routine ignored", "CREATE FUNCTION f(begin int) RETURNS int RETURN 1; SELECT 2",
			[]string{"CREATE FUNCTION f(begin int) RETURNS int RETURN 1", "SELECT 2"}},
		{"comments between END and semicolon", "CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END /* c */ ; SELECT 2",
			[]string{"CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END /* c */", "SELECT 2"}},
		{"unicode space is not trimmed", "\u00a0;select 1", []string{"\u00a0", "select 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Split(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Split(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}
