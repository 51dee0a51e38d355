package sqltext

import (
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Info // Tag may be left empty when it equals Command
	}{
		// Empty and odd input.
		{"empty", "", Info{}},
		{"only comments", "-- a\n/* b */", Info{}},
		{"starts with a literal", "'x'", Info{}},
		{"unknown word", "frobnicate the db", Info{Command: "FROBNICATE", Kind: Other}},

		// Reads.
		{"select", "select 1", Info{Command: "SELECT", Kind: Read, ReadOnly: true}},
		{"block comment before keyword", "/* hi */ select 1", Info{Command: "SELECT", Kind: Read, ReadOnly: true}},
		{"line comment before keyword", "-- x\nSeLeCt * from t", Info{Command: "SELECT", Kind: Read, ReadOnly: true}},
		{"nested comment before keyword", "/* a /* b */ c */select 1", Info{Command: "SELECT", Kind: Read, ReadOnly: true}},
		{"parenthesised union", "(select 1) union (select 2)", Info{Command: "SELECT", Kind: Read, ReadOnly: true}},
		{"values", "VALUES (1), (2)", Info{Command: "VALUES", Tag: "SELECT", Kind: Read, ReadOnly: true}},
		{"table", "TABLE t", Info{Command: "TABLE", Tag: "SELECT", Kind: Read, ReadOnly: true}},
		{"params counted", "select * from t where a = $2 and b = $10 and c = '$99'",
			Info{Command: "SELECT", Kind: Read, ReadOnly: true, Params: 10}},
		{"write words in strings and comments", "select 'delete from t' /* update */ -- insert\n, $$merge$$",
			Info{Command: "SELECT", Kind: Read, ReadOnly: true}},
		{"qualified column named update", "select t.update, t.delete from t",
			Info{Command: "SELECT", Kind: Read, ReadOnly: true}},
		{"quoted column named delete", `select "delete" from t`, Info{Command: "SELECT", Kind: Read, ReadOnly: true}},
		{"bare column named update is not trusted", "select update from t", Info{Command: "SELECT", Kind: Write}},
		{"cte of reads", "WITH a AS (SELECT 1), b AS MATERIALIZED (SELECT 2) SELECT * FROM a, b",
			Info{Command: "SELECT", Kind: Read, ReadOnly: true}},
		{"recursive cte", "with recursive t(n) as (values (1) union all select n+1 from t where n < 5) select sum(n) from t",
			Info{Command: "SELECT", Kind: Read, ReadOnly: true}},
		{"cte named values", "with values as (select 1) select * from values",
			Info{Command: "SELECT", Kind: Read, ReadOnly: true}},
		{"cte with search clause", "WITH RECURSIVE t AS (SELECT 1) SEARCH DEPTH FIRST BY id SET ord SELECT * FROM t",
			Info{Command: "SELECT", Kind: Read, ReadOnly: true}},
		{"show", "SHOW search_path", Info{Command: "SHOW", Kind: Session, ReadOnly: true}},
		{"explain", "EXPLAIN SELECT 1", Info{Command: "EXPLAIN", Kind: Read, ReadOnly: true}},
		{"explain options", "EXPLAIN (COSTS off, FORMAT json) SELECT 1", Info{Command: "EXPLAIN", Kind: Read, ReadOnly: true}},
		{"explain analyze of read", "EXPLAIN ANALYZE SELECT 1", Info{Command: "EXPLAIN", Kind: Read, ReadOnly: true}},
		{"sqlite explain query plan", "EXPLAIN QUERY PLAN SELECT 1", Info{Command: "EXPLAIN", Kind: Read, ReadOnly: true}},
		{"mysql explain format", "EXPLAIN FORMAT=JSON SELECT 1", Info{Command: "EXPLAIN", Kind: Read, ReadOnly: true}},

		// Not certainly reads.
		{"select for update", "SELECT * FROM t FOR UPDATE", Info{Command: "SELECT", Kind: Write}},
		{"select for share", "select * from t for share skip locked", Info{Command: "SELECT", Kind: Write}},
		{"select for no key update", "select * from t for no key update", Info{Command: "SELECT", Kind: Write}},
		{"select for key share", "select * from t for key share", Info{Command: "SELECT", Kind: Write}},
		{"locking in subquery", "select * from (select * from t for share) s", Info{Command: "SELECT", Kind: Write}},
		{"mysql lock in share mode", "select * from t lock in share mode", Info{Command: "SELECT", Kind: Write}},
		{"select into", "SELECT * INTO new_t FROM t", Info{Command: "SELECT", Kind: DDL}},
		{"with select into", "WITH a AS (SELECT 1) SELECT * INTO t FROM a", Info{Command: "SELECT", Kind: DDL}},
		{"data-modifying cte", "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
			Info{Command: "SELECT", Kind: Write}},
		{"data-modifying cte insert", "with i as (insert into t values (1) returning id) select id from i",
			Info{Command: "SELECT", Kind: Write}},
		{"two statements", "select 1; select 2", Info{Command: "SELECT", Kind: Read}},
		{"trailing semicolon only", "select 1;", Info{Command: "SELECT", Kind: Read, ReadOnly: true}},
		{"explain analyze of write", "EXPLAIN ANALYZE DELETE FROM t", Info{Command: "EXPLAIN", Kind: Write}},
		{"explain (analyze) of write", "EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1", Info{Command: "EXPLAIN", Kind: Write}},
		{"explain (analyze false) of write", "EXPLAIN (ANALYZE false) INSERT INTO t VALUES (1)", Info{Command: "EXPLAIN", Kind: Read}},
		{"explain of write without analyze", "EXPLAIN INSERT INTO t VALUES (1)", Info{Command: "EXPLAIN", Kind: Read}},
		{"nested explain", "EXPLAIN EXPLAIN SELECT 1", Info{Command: "EXPLAIN", Kind: Other}},

		// Writes.
		{"insert", "INSERT INTO t VALUES ($1, $2)", Info{Command: "INSERT", Kind: Write, Params: 2}},
		{"insert returning", "insert into t (a) values (1) returning id", Info{Command: "INSERT", Kind: Write, Returning: true}},
		{"update returning", "UPDATE t SET a = 1 RETURNING *", Info{Command: "UPDATE", Kind: Write, Returning: true}},
		{"delete", "DELETE FROM t WHERE id = $1", Info{Command: "DELETE", Kind: Write, Params: 1}},
		{"merge", "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a", Info{Command: "MERGE", Kind: Write}},
		{"cte returning is not top-level", "WITH x AS (DELETE FROM t RETURNING *) INSERT INTO l SELECT * FROM x",
			Info{Command: "INSERT", Kind: Write}},
		{"with insert returning", "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x RETURNING id",
			Info{Command: "INSERT", Kind: Write, Returning: true}},
		{"with update", "with x as (select 1) update t set a = 1", Info{Command: "UPDATE", Kind: Write}},
		{"returning in a string", "insert into t values ('returning')", Info{Command: "INSERT", Kind: Write}},
		{"mysql replace", "REPLACE INTO t VALUES (1)", Info{Command: "INSERT", Kind: Write}},
		{"truncate", "truncate t", Info{Command: "TRUNCATE TABLE", Kind: Write}},
		{"copy from", "COPY t (a, b) FROM STDIN", Info{Command: "COPY", Kind: Write}},
		{"copy to", "COPY (SELECT * FROM t) TO STDOUT", Info{Command: "COPY", Kind: Other}},
		{"refresh", "REFRESH MATERIALIZED VIEW CONCURRENTLY mv", Info{Command: "REFRESH MATERIALIZED VIEW", Kind: Write}},

		// DDL.
		{"create table", "CREATE TABLE t (a int)", Info{Command: "CREATE TABLE", Kind: DDL}},
		{"create temp table if not exists", "create temp table if not exists t (a int)", Info{Command: "CREATE TABLE", Kind: DDL}},
		{"create global temporary table", "CREATE GLOBAL TEMPORARY TABLE t (a int)", Info{Command: "CREATE TABLE", Kind: DDL}},
		{"create unlogged table", "CREATE UNLOGGED TABLE t (a int GENERATED ALWAYS AS (1) STORED)", Info{Command: "CREATE TABLE", Kind: DDL}},
		{"create table as", "CREATE TABLE t AS SELECT * FROM s", Info{Command: "CREATE TABLE", Tag: "SELECT", Kind: DDL}},
		{"create table as with no data", "CREATE TABLE t AS SELECT * FROM s WITH NO DATA",
			Info{Command: "CREATE TABLE", Tag: "CREATE TABLE AS", Kind: DDL}},
		{"mysql create table select", "CREATE TABLE t SELECT * FROM s", Info{Command: "CREATE TABLE", Tag: "SELECT", Kind: DDL}},
		{"create materialized view", "CREATE MATERIALIZED VIEW mv AS SELECT 1", Info{Command: "CREATE MATERIALIZED VIEW", Tag: "SELECT", Kind: DDL}},
		{"create materialized view no data", "CREATE MATERIALIZED VIEW mv AS SELECT 1 WITH NO DATA", Info{Command: "CREATE MATERIALIZED VIEW", Kind: DDL}},
		{"create unique index", "create unique index concurrently i on t (a)", Info{Command: "CREATE INDEX", Kind: DDL}},
		{"create or replace view", "create or replace view v as select 1", Info{Command: "CREATE VIEW", Kind: DDL}},
		{"create recursive view", "CREATE RECURSIVE VIEW v (n) AS VALUES (1)", Info{Command: "CREATE VIEW", Kind: DDL}},
		{"create trigger", "CREATE TRIGGER t AFTER INSERT ON x BEGIN UPDATE y SET n=n+1; END", Info{Command: "CREATE TRIGGER", Kind: DDL}},
		{"create constraint trigger", "CREATE CONSTRAINT TRIGGER t AFTER INSERT ON x FOR EACH ROW EXECUTE FUNCTION f()", Info{Command: "CREATE TRIGGER", Kind: DDL}},
		{"create event trigger", "CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()", Info{Command: "CREATE EVENT TRIGGER", Kind: DDL}},
		{"create function", "CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql", Info{Command: "CREATE FUNCTION", Kind: DDL}},
		{"mysql definer procedure", "CREATE DEFINER=`root`@`localhost` PROCEDURE p() BEGIN SELECT 1; END", Info{Command: "CREATE PROCEDURE", Kind: DDL}},
		{"mysql definer view", "CREATE ALGORITHM=MERGE DEFINER=CURRENT_USER SQL SECURITY INVOKER VIEW v AS SELECT 1", Info{Command: "CREATE VIEW", Kind: DDL}},
		{"sqlite virtual table", "CREATE VIRTUAL TABLE f USING fts5(body)", Info{Command: "CREATE TABLE", Kind: DDL}},
		{"create user is a role", "CREATE USER bob", Info{Command: "CREATE ROLE", Kind: DDL}},
		{"create user mapping", "CREATE USER MAPPING FOR bob SERVER s", Info{Command: "CREATE USER MAPPING", Kind: DDL}},
		{"create text search configuration", "CREATE TEXT SEARCH CONFIGURATION c (COPY = english)", Info{Command: "CREATE TEXT SEARCH CONFIGURATION", Kind: DDL}},
		{"create foreign data wrapper", "CREATE FOREIGN DATA WRAPPER w", Info{Command: "CREATE FOREIGN DATA WRAPPER", Kind: DDL}},
		{"create default conversion", "CREATE DEFAULT CONVERSION c FOR 'LATIN1' TO 'UTF8' FROM f", Info{Command: "CREATE CONVERSION", Kind: DDL}},
		{"create schema", "CREATE SCHEMA IF NOT EXISTS s", Info{Command: "CREATE SCHEMA", Kind: DDL}},
		{"create extension", "create extension pgcrypto", Info{Command: "CREATE EXTENSION", Kind: DDL}},
		{"create unknown object", "CREATE WIDGET w", Info{Command: "CREATE", Kind: DDL}},
		{"drop table", "DROP TABLE IF EXISTS t CASCADE", Info{Command: "DROP TABLE", Kind: DDL}},
		{"drop index", "drop index concurrently i", Info{Command: "DROP INDEX", Kind: DDL}},
		{"mysql drop temporary table", "DROP TEMPORARY TABLE t", Info{Command: "DROP TABLE", Kind: DDL}},
		{"drop owned", "DROP OWNED BY bob", Info{Command: "DROP OWNED", Kind: DDL}},
		{"drop user", "DROP USER bob", Info{Command: "DROP ROLE", Kind: DDL}},
		{"alter table", "ALTER TABLE t ADD COLUMN b int", Info{Command: "ALTER TABLE", Kind: DDL}},
		{"alter default privileges", "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob", Info{Command: "ALTER DEFAULT PRIVILEGES", Kind: DDL}},
		{"alter system", "ALTER SYSTEM SET work_mem = '64MB'", Info{Command: "ALTER SYSTEM", Kind: DDL}},
		{"alter materialized view", "ALTER MATERIALIZED VIEW mv RENAME TO m2", Info{Command: "ALTER MATERIALIZED VIEW", Kind: DDL}},
		{"grant privileges", "GRANT SELECT ON t TO bob", Info{Command: "GRANT", Kind: DDL}},
		{"grant role", "GRANT admin TO bob", Info{Command: "GRANT ROLE", Kind: DDL}},
		{"revoke role", "REVOKE admin FROM bob", Info{Command: "REVOKE ROLE", Kind: DDL}},
		{"comment", "COMMENT ON TABLE t IS 'x'", Info{Command: "COMMENT", Kind: DDL}},

		// Transactions.
		{"begin", "BEGIN", Info{Command: "BEGIN", Kind: Transaction, Tx: TxInfo{Op: TxBegin}}},
		{"comment then begin", "-- x\nBEGIN", Info{Command: "BEGIN", Kind: Transaction, Tx: TxInfo{Op: TxBegin}}},
		{"begin work", "begin work", Info{Command: "BEGIN", Kind: Transaction, Tx: TxInfo{Op: TxBegin}}},
		{"begin read only", "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
			Info{Command: "BEGIN", Kind: Transaction, Tx: TxInfo{Op: TxBegin, ReadOnly: true, Isolation: "repeatable read"}}},
		{"begin read committed read write", "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE",
			Info{Command: "BEGIN", Kind: Transaction, Tx: TxInfo{Op: TxBegin, Isolation: "read committed"}}},
		{"sqlite begin immediate", "BEGIN IMMEDIATE TRANSACTION", Info{Command: "BEGIN", Kind: Transaction, Tx: TxInfo{Op: TxBegin}}},
		{"begin then another statement", "BEGIN; SET TRANSACTION READ ONLY", Info{Command: "BEGIN", Kind: Transaction, Tx: TxInfo{Op: TxBegin}}},
		{"start transaction", "START TRANSACTION READ ONLY, ISOLATION LEVEL SERIALIZABLE",
			Info{Command: "START TRANSACTION", Kind: Transaction, Tx: TxInfo{Op: TxBegin, ReadOnly: true, Isolation: "serializable"}}},
		{"mysql start replica", "START REPLICA", Info{Command: "START", Kind: Other}},
		{"commit", "COMMIT", Info{Command: "COMMIT", Kind: Transaction, Tx: TxInfo{Op: TxCommit}}},
		{"commit transaction", "commit transaction", Info{Command: "COMMIT", Kind: Transaction, Tx: TxInfo{Op: TxCommit}}},
		{"commit and chain", "COMMIT AND CHAIN", Info{Command: "COMMIT", Kind: Transaction, Tx: TxInfo{Op: TxCommit, Chain: true}}},
		{"commit and no chain", "COMMIT WORK AND NO CHAIN", Info{Command: "COMMIT", Kind: Transaction, Tx: TxInfo{Op: TxCommit}}},
		{"end", "END", Info{Command: "COMMIT", Kind: Transaction, Tx: TxInfo{Op: TxCommit}}},
		{"rollback", "ROLLBACK", Info{Command: "ROLLBACK", Kind: Transaction, Tx: TxInfo{Op: TxRollback}}},
		{"rollback and chain", "ROLLBACK AND CHAIN", Info{Command: "ROLLBACK", Kind: Transaction, Tx: TxInfo{Op: TxRollback, Chain: true}}},
		{"abort", "abort", Info{Command: "ROLLBACK", Kind: Transaction, Tx: TxInfo{Op: TxRollback}}},
		{"savepoint", "SAVEPOINT My_SP", Info{Command: "SAVEPOINT", Kind: Transaction, Tx: TxInfo{Op: TxSavepoint, Savepoint: "my_sp"}}},
		{"quoted savepoint", `savepoint "My SP"`, Info{Command: "SAVEPOINT", Kind: Transaction, Tx: TxInfo{Op: TxSavepoint, Savepoint: "My SP"}}},
		{"release savepoint", "RELEASE SAVEPOINT a", Info{Command: "RELEASE", Kind: Transaction, Tx: TxInfo{Op: TxRelease, Savepoint: "a"}}},
		{"release without keyword", "release a", Info{Command: "RELEASE", Kind: Transaction, Tx: TxInfo{Op: TxRelease, Savepoint: "a"}}},
		{"release savepoint named savepoint", "RELEASE savepoint", Info{Command: "RELEASE", Kind: Transaction, Tx: TxInfo{Op: TxRelease, Savepoint: "savepoint"}}},
		{"rollback to", "ROLLBACK TO a", Info{Command: "ROLLBACK", Kind: Transaction, Tx: TxInfo{Op: TxRollbackTo, Savepoint: "a"}}},
		{"rollback work to savepoint", "ROLLBACK WORK TO SAVEPOINT \"A\"", Info{Command: "ROLLBACK", Kind: Transaction, Tx: TxInfo{Op: TxRollbackTo, Savepoint: "A"}}},
		{"prepare transaction", "PREPARE TRANSACTION 'gid1'", Info{Command: "PREPARE TRANSACTION", Kind: Transaction, Tx: TxInfo{Op: TxPrepare, GID: "gid1"}}},
		{"commit prepared", "COMMIT PREPARED 'gid1'", Info{Command: "COMMIT PREPARED", Kind: Transaction, Tx: TxInfo{Op: TxCommitPrepared, GID: "gid1"}}},
		{"rollback prepared", "ROLLBACK PREPARED 'gid1'", Info{Command: "ROLLBACK PREPARED", Kind: Transaction, Tx: TxInfo{Op: TxRollbackPrepared, GID: "gid1"}}},

		// Session and other commands.
		{"set", "SET search_path TO a, b", Info{Command: "SET", Kind: Session}},
		{"set transaction", "SET TRANSACTION READ ONLY", Info{Command: "SET", Kind: Session}},
		{"set constraints", "SET CONSTRAINTS ALL DEFERRED", Info{Command: "SET CONSTRAINTS", Kind: Session}},
		{"reset", "RESET ALL", Info{Command: "RESET", Kind: Session}},
		{"discard all", "DISCARD ALL", Info{Command: "DISCARD ALL", Kind: Session}},
		{"discard temporary", "discard temporary", Info{Command: "DISCARD TEMP", Kind: Session}},
		{"prepare statement", "PREPARE q (int) AS SELECT $1", Info{Command: "PREPARE", Kind: Session, Params: 1}},
		{"statement named transaction", "PREPARE transaction AS SELECT 1", Info{Command: "PREPARE", Kind: Session}},
		{"execute", "EXECUTE q (1)", Info{Command: "EXECUTE", Kind: Other}},
		{"deallocate", "DEALLOCATE PREPARE q", Info{Command: "DEALLOCATE", Kind: Session}},
		{"deallocate all", "DEALLOCATE ALL", Info{Command: "DEALLOCATE ALL", Kind: Session}},
		{"listen", "LISTEN chan", Info{Command: "LISTEN", Kind: Session}},
		{"unlisten", "UNLISTEN *", Info{Command: "UNLISTEN", Kind: Session}},
		{"notify", "NOTIFY chan, 'x'", Info{Command: "NOTIFY", Kind: Other}},
		{"call", "CALL p($1)", Info{Command: "CALL", Kind: Other, Params: 1}},
		{"do", "DO $$ BEGIN PERFORM 1; END $$", Info{Command: "DO", Kind: Other}},
		{"vacuum", "VACUUM ANALYZE t", Info{Command: "VACUUM", Kind: Other}},
		{"analyse", "ANALYSE t", Info{Command: "ANALYZE", Kind: Other}},
		{"pragma", "PRAGMA foreign_keys = ON", Info{Command: "PRAGMA", Kind: Other}},
		{"declare", "DECLARE c CURSOR FOR SELECT 1", Info{Command: "DECLARE CURSOR", Kind: Other}},
		{"close all", "CLOSE ALL", Info{Command: "CLOSE CURSOR ALL", Kind: Other}},
		{"lock", "LOCK TABLE t IN SHARE MODE", Info{Command: "LOCK TABLE", Kind: Other}},
		{"mysql use", "USE db", Info{Command: "USE", Kind: Session}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want.Tag == "" {
				want.Tag = want.Command
			}
			if got := Classify(tc.in); got != want {
				t.Errorf("Classify(%q)\n got %+v\nwant %+v", tc.in, got, want)
			}
		})
	}
}

func TestFirstKeyword(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain", "select 1", "SELECT"},
		{"after comments", "/* a */ -- b\n  Insert into t", "INSERT"},
		{"after parens", "((values (1)))", "VALUES"},
		{"unknown word", "frob x", "FROB"},
		{"literal first", "'x'", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FirstKeyword(tc.in); got != tc.want {
				t.Errorf("FirstKeyword(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestStringers(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"kind", Read.String(), "Read"},
		{"bad kind", Kind(99).String(), "Kind(?)"},
		{"tx op", TxRollbackTo.String(), "RollbackTo"},
		{"bad tx op", TxOp(99).String(), "TxOp(?)"},
		{"token kind", TokQuotedIdent.String(), "QuotedIdent"},
		{"bad token kind", TokenKind(0).String(), "TokenKind(?)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestClassifyAllocatesNothing(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"select", "SELECT id FROM users WHERE tenant_id = $1 AND status = 'active' LIMIT $2"},
		{"cte write", "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"},
		{"insert returning", "insert into t (a) values ($1) returning id"},
		{"create", "create unique index concurrently i on t (a)"},
		{"begin", "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY"},
		{"savepoint", "SAVEPOINT sp1"},
		{"explain", "EXPLAIN ANALYZE SELECT 1"},
		{"set", "SET search_path TO public"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(50, func() { Classify(tc.in) }); n != 0 {
				t.Errorf("Classify allocated %v times", n)
			}
			if n := testing.AllocsPerRun(50, func() { FirstKeyword(tc.in) }); n != 0 {
				t.Errorf("FirstKeyword allocated %v times", n)
			}
		})
	}
}
