package sqltext

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func tableStrings(ts []Table) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.String())
	}
	return out
}

func TestCacheability(t *testing.T) {
	pg, my, lite, any := Postgres, MySQL, SQLite, AnyDialect
	tests := []struct {
		name   string
		d      Dialect
		in     string
		ok     bool
		tables []string // String() of each read table; nil means none
		reason string   // a substring of Reason when !ok
	}{
		// Reads and their tables.
		{"plain select", pg, "SELECT * FROM t", true, []string{"t"}, ""},
		{"no table", pg, "select 1", true, nil, ""},
		{"case folded, quoted kept", pg, `select a from Public.Orders o join "Sales"."Q1" q on q.id = o.id where o.x = $1`, true,
			[]string{"public.orders", `"Sales"."Q1"`}, ""},
		{"comma list", pg, "SELECT * FROM a, b, c", true, []string{"a", "b", "c"}, ""},
		{"comma after join condition", pg, "SELECT * FROM a JOIN b ON a.x = b.x, c WHERE 1 = 1", true, []string{"a", "b", "c"}, ""},
		{"using and outer join", pg, "SELECT * FROM a JOIN b USING (id) LEFT OUTER JOIN c ON true", true, []string{"a", "b", "c"}, ""},
		{"aliases", pg, "SELECT * FROM t1 a, t2 AS b WHERE a.id = b.id", true, []string{"t1", "t2"}, ""},
		{"alias with columns then comma", pg, "SELECT * FROM (SELECT 1) x(a), t", true, []string{"t"}, ""},
		{"case inside join condition", pg, "SELECT * FROM t JOIN u ON CASE WHEN t.a THEN true END, v", true, []string{"t", "u", "v"}, ""},
		{"parenthesised join", pg, "SELECT * FROM (a JOIN b ON a.x = b.x) JOIN c ON true", true, []string{"a", "b", "c"}, ""},
		{"subqueries everywhere", pg, "SELECT (SELECT max(x) FROM t2) FROM t1 WHERE EXISTS (SELECT 1 FROM t3) AND id IN (SELECT id FROM t4)", true,
			[]string{"t2", "t1", "t3", "t4"}, ""},
		{"array subquery and array literal", pg, "SELECT ARRAY(SELECT x FROM t), ARRAY[a, b] FROM u", true, []string{"t", "u"}, ""},
		{"lateral subquery", pg, "SELECT * FROM t, LATERAL (SELECT * FROM u WHERE u.t = t.id) x", true, []string{"t", "u"}, ""},
		{"lateral function", pg, "SELECT * FROM t CROSS JOIN LATERAL unnest(t.arr) AS a(v)", true, []string{"t"}, ""},
		{"function in from with alias columns", pg, "SELECT * FROM generate_series(1, 10) g(n)", true, nil, ""},
		{"with ordinality", pg, "SELECT * FROM unnest(a) WITH ORDINALITY AS x(v, n), t2", true, []string{"t2"}, ""},
		{"rows from", pg, "SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(a)) AS r", true, nil, ""},
		{"from only", pg, "SELECT * FROM ONLY t", true, []string{"t"}, ""},
		{"table named rows", pg, "SELECT * FROM rows WHERE a = 1", true, []string{"rows"}, ""},
		{"table named set", pg, "SELECT * FROM set", true, []string{"set"}, ""},
		{"from inside extract and substring", pg, "SELECT extract(year FROM ts), substring(s FROM 2 FOR 3) FROM t", true, []string{"t"}, ""},
		{"is distinct from", pg, "SELECT a IS NOT DISTINCT FROM b FROM t", true, []string{"t"}, ""},
		{"table command", pg, "TABLE t", true, []string{"t"}, ""},
		{"union table", pg, "SELECT 1 UNION TABLE t", true, []string{"t"}, ""},
		{"in table", pg, "SELECT * FROM t WHERE a IN (TABLE u)", true, []string{"t", "u"}, ""},
		{"values", pg, "VALUES (1), (2)", true, nil, ""},
		{"parenthesised union", pg, "(SELECT * FROM a) UNION (SELECT * FROM b)", true, []string{"a", "b"}, ""},
		{"duplicates once", pg, "SELECT * FROM t WHERE x IN (SELECT x FROM t)", true, []string{"t"}, ""},
		{"three-part name keeps schema", pg, "SELECT * FROM db.s.t", true, []string{"s.t"}, ""},
		{"mysql backticks", my, "SELECT * FROM `Db`.`T`", true, []string{`"Db"."T"`}, ""},
		{"reserved word table quoted", pg, `SELECT * FROM "user"`, true, []string{`"user"`}, ""},

		// CTE names are not tables, where SQL scopes them.
		{"cte", pg, "WITH x AS (SELECT * FROM t) SELECT * FROM x JOIN u ON u.id = x.id", true, []string{"t", "u"}, ""},
		{"cte shadowing its own table", pg, "WITH t AS (SELECT * FROM t) SELECT * FROM t", true, []string{"t"}, ""},
		{"recursive cte", pg, "WITH RECURSIVE r(n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r", true, nil, ""},
		{"cte out of scope", pg, "SELECT * FROM (WITH t AS (SELECT 1) SELECT * FROM t) x, t", true, []string{"t"}, ""},
		{"earlier cte visible", pg, "WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b, c", true, []string{"c"}, ""},
		{"later cte not visible", pg, "WITH b AS (SELECT * FROM a), a AS (SELECT 1) SELECT * FROM b", true, []string{"a"}, ""},
		{"search clause commas", pg, "WITH RECURSIVE t AS (SELECT 1) SEARCH DEPTH FIRST BY a, b SET ord SELECT * FROM t, b", true, []string{"b"}, ""},
		{"cycle clause commas", pg, "WITH RECURSIVE t AS (SELECT 1) CYCLE a, b SET c USING p SELECT * FROM t, b", true, []string{"b"}, ""},
		{"materialized", pg, "WITH x AS MATERIALIZED (SELECT * FROM t) SELECT * FROM x", true, []string{"t"}, ""},
		{"not materialized with columns", pg, "WITH x(a, b) AS NOT MATERIALIZED (SELECT 1, 2) SELECT * FROM x", true, nil, ""},
		{"quoted cte name is exact", pg, `WITH "X" AS (SELECT 1) SELECT * FROM x, "X"`, true, []string{"x"}, ""},

		// Keywords and calls hidden where they do not count.
		{"words in strings and comments", pg, "SELECT 'nextval(1)', $$ random() $$, E'now()' /* now() */ FROM t -- setval(1)", true, []string{"t"}, ""},
		{"nextval as a column", pg, "SELECT nextval FROM t", true, []string{"t"}, ""},
		{"nextval qualified and quoted columns", pg, `SELECT t.nextval, "nextval" FROM t`, true, []string{"t"}, ""},
		{"safe builtins", pg, "SELECT count(*), sum(x), lower(name), coalesce(a, 0) FROM t GROUP BY 1", true, []string{"t"}, ""},
		{"casts with modifiers", pg, "SELECT CAST(x AS varchar(10)), x::numeric(10, 2) FROM t", true, []string{"t"}, ""},
		{"window", pg, "SELECT sum(x) OVER (PARTITION BY y ORDER BY z) FROM t", true, []string{"t"}, ""},
		{"within group", pg, "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM t", true, []string{"t"}, ""},
		{"grouping sets", pg, "SELECT count(*) FROM t GROUP BY GROUPING SETS ((a), (b)), CUBE (a, b), ROLLUP (a)", true, []string{"t"}, ""},
		{"quoted builtin", pg, `SELECT "count"(*) FROM t`, true, []string{"t"}, ""},
		{"pg_catalog builtin", pg, "SELECT pg_catalog.lower('A')", true, nil, ""},
		{"age of two dates", pg, "SELECT age(a, b) FROM t", true, []string{"t"}, ""},
		{"jsonb containment operator", pg, "SELECT * FROM t WHERE a @> '{1}'", true, []string{"t"}, ""},
		{"trailing semicolon", pg, "SELECT * FROM t;", true, []string{"t"}, ""},
		{"explain", pg, "EXPLAIN SELECT * FROM t", true, []string{"t"}, ""},
		{"explain options", pg, "EXPLAIN (FORMAT JSON) SELECT * FROM t", true, []string{"t"}, ""},
		{"show", pg, "SHOW search_path", true, nil, ""},
		{"mysql show tables", my, "SHOW TABLES", true, nil, ""},
		{"mysql index hints", my, "SELECT SQL_NO_CACHE * FROM t USE INDEX (i) JOIN u FORCE INDEX (j) ON t.a = u.a", true, []string{"t", "u"}, ""},
		{"mysql unix_timestamp of a column", my, "SELECT UNIX_TIMESTAMP(ts) FROM t", true, []string{"t"}, ""},
		{"mysql date and if", my, "SELECT DATE(ts), IF(a, 1, 2), IFNULL(b, 0) FROM t", true, []string{"t"}, ""},
		{"mysql user column", my, "SELECT user, host FROM mysql.user", true, []string{`mysql."user"`}, ""},
		{"sqlite strftime of a column", lite, "SELECT strftime('%Y', created_at) FROM t", true, []string{"t"}, ""},
		{"sqlite fixed date", lite, "SELECT date('2024-01-01', '+1 day')", true, nil, ""},
		{"sqlite user column", lite, "SELECT user FROM t", true, []string{"t"}, ""},
		{"sqlite table function", lite, "SELECT * FROM json_each('[1,2]')", true, nil, ""},
		{"sqlite indexed by", lite, "SELECT * FROM t INDEXED BY i, u", true, []string{"t", "u"}, ""},
		{"sqlite at-parameter", lite, "SELECT * FROM t WHERE a = @a", true, []string{"t"}, ""},
		{"postgres abs operator", pg, "SELECT @ x FROM t", true, []string{"t"}, ""},
		{"postgres comment without space", pg, "SELECT 1 --x", true, nil, ""},

		// Not reads, or not alone.
		{"empty", pg, "", false, nil, "no statement"},
		{"insert", pg, "INSERT INTO t VALUES (1)", false, nil, "INSERT writes"},
		{"two statements", pg, "select 1; select 2", false, nil, "more than one statement"},
		{"select into", pg, "SELECT * INTO x FROM t", false, nil, "SELECT INTO"},
		{"for update", pg, "SELECT * FROM t FOR UPDATE", false, nil, "locks rows"},
		{"for no key update", pg, "SELECT * FROM t FOR NO KEY UPDATE", false, nil, "locks rows"},
		{"for key share", pg, "SELECT * FROM t FOR KEY SHARE", false, nil, "locks rows"},
		{"lock in share mode", my, "SELECT * FROM t LOCK IN SHARE MODE", false, nil, "locks rows"},
		{"data-modifying cte", pg, "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", false, nil, "write keyword"},
		{"explain analyze", pg, "EXPLAIN ANALYZE SELECT * FROM t", false, []string{"t"}, "EXPLAIN ANALYZE"},
		{"explain (analyze)", pg, "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t", false, []string{"t"}, "EXPLAIN ANALYZE"},
		{"set", pg, "SET search_path = x", false, nil, "not a read"},
		{"begin", pg, "BEGIN", false, nil, "not a read"},
		{"show warnings", my, "SHOW WARNINGS", false, nil, "SHOW WARNINGS"},
		{"show full processlist", my, "SHOW FULL PROCESSLIST", false, nil, "SHOW PROCESSLIST"},

		// Volatile functions, literals and relations.
		{"nextval", pg, "SELECT nextval('s')", false, nil, "nextval"},
		{"setval", pg, "SELECT setval('s', 1)", false, nil, "setval"},
		{"random in where", pg, "SELECT * FROM t WHERE random() < 0.1", false, []string{"t"}, "random"},
		{"advisory lock in subquery", pg, "SELECT x FROM t WHERE x = (SELECT pg_try_advisory_lock(1))", false, []string{"t"}, "pg_try_advisory_lock"},
		{"pg_sleep", pg, "SELECT pg_sleep(1)", false, nil, "pg_sleep"},
		{"txid_current", pg, "SELECT txid_current()", false, nil, "txid_current"},
		{"gen_random_uuid", pg, "SELECT gen_random_uuid()", false, nil, "gen_random_uuid"},
		{"uuid-ossp", pg, "SELECT uuid_generate_v4()", false, nil, "uuid_generate_v4"},
		{"set_config", pg, "SELECT set_config('search_path', 'x', false)", false, nil, "set_config"},
		{"pg_notify", pg, "SELECT pg_notify('c', 'x')", false, nil, "pg_notify"},
		{"large object", pg, "SELECT lo_get(1)", false, nil, "lo_get"},
		{"dblink", pg, "SELECT * FROM dblink('db', 'select 1') AS t(a int)", false, nil, "dblink"},
		{"pg_stat function", pg, "SELECT pg_stat_get_numscans(1)", false, nil, "pg_stat_get_numscans"},
		{"backend pid", pg, "SELECT pg_backend_pid()", false, nil, "pg_backend_pid"},
		{"now", pg, "SELECT * FROM t WHERE ts > now() - interval '1 day'", false, []string{"t"}, "now()"},
		{"now upper case", pg, "SELECT NOW()", false, nil, "now()"},
		{"qualified now", pg, "SELECT pg_catalog.now()", false, nil, "now()"},
		{"clock_timestamp", pg, "SELECT clock_timestamp()", false, nil, "clock_timestamp"},
		{"current_timestamp bare", pg, "SELECT current_timestamp", false, nil, "current_timestamp"},
		{"current_date bare", pg, "SELECT * FROM t WHERE d = CURRENT_DATE", false, []string{"t"}, "current_date"},
		{"localtimestamp with precision", pg, "SELECT localtimestamp(3)", false, nil, "localtimestamp"},
		{"current_user", pg, "SELECT current_user", false, nil, "current_user"},
		{"user bare in postgres", pg, "SELECT user", false, nil, "user"},
		{"current_setting", pg, "SELECT current_setting('work_mem')", false, nil, "current_setting"},
		{"age of one date", pg, "SELECT age(ts) FROM t", false, []string{"t"}, "age()"},
		{"literal today", pg, "SELECT * FROM t WHERE d > 'today'::date", false, []string{"t"}, "'today'"},
		{"literal now with spaces", pg, "SELECT 1 FROM t WHERE b = ' Now '", false, []string{"t"}, "'Now'"},
		{"timestamp now literal", pg, "SELECT timestamp 'now'", false, nil, "'now'"},
		{"tablesample", pg, "SELECT * FROM t TABLESAMPLE SYSTEM (10)", false, []string{"t"}, "TABLESAMPLE"},
		{"pg_stat_activity", pg, "SELECT * FROM pg_stat_activity", false, []string{"pg_stat_activity"}, "pg_stat_activity"},
		{"pg_locks qualified", pg, "SELECT * FROM pg_catalog.pg_locks", false, []string{"pg_catalog.pg_locks"}, "pg_locks"},
		{"pg_settings", pg, "SELECT * FROM pg_settings", false, []string{"pg_settings"}, "pg_settings"},
		{"pg_temp table", pg, "SELECT * FROM pg_temp.x", false, []string{"pg_temp.x"}, "temporary"},
		{"mysql rand and uuid", my, "SELECT RAND(), UUID() FROM t", false, []string{"t"}, "rand"},
		{"mysql last_insert_id", my, "SELECT * FROM t WHERE id = LAST_INSERT_ID()", false, []string{"t"}, "last_insert_id"},
		{"mysql sleep", my, "SELECT SLEEP(1)", false, nil, "sleep"},
		{"mysql get_lock", my, "SELECT GET_LOCK('x', 1)", false, nil, "get_lock"},
		{"mysql release_lock", my, "SELECT RELEASE_LOCK('x')", false, nil, "release_lock"},
		{"mysql is_free_lock", my, "SELECT IS_FREE_LOCK('x')", false, nil, "is_free_lock"},
		{"mysql connection_id", my, "SELECT CONNECTION_ID()", false, nil, "connection_id"},
		{"mysql sysdate", my, "SELECT SYSDATE()", false, nil, "sysdate"},
		{"mysql current_timestamp call", my, "SELECT CURRENT_TIMESTAMP()", false, nil, "current_timestamp"},
		{"mysql unix_timestamp now", my, "SELECT UNIX_TIMESTAMP()", false, nil, "unix_timestamp"},
		{"mysql found_rows", my, "SELECT FOUND_ROWS()", false, nil, "found_rows"},
		{"mysql row_count", my, "SELECT ROW_COUNT()", false, nil, "row_count"},
		{"mysql benchmark", my, "SELECT BENCHMARK(10, 1)", false, nil, "benchmark"},
		{"mysql uuid_short", my, "SELECT UUID_SHORT()", false, nil, "uuid_short"},
		{"mysql user function", my, "SELECT USER()", false, nil, "user()"},
		{"mysql database", my, "SELECT DATABASE()", false, nil, "database()"},
		{"mysql user variable", my, "SELECT @x", false, nil, "session variable"},
		{"mysql system variable", my, "SELECT @@sql_mode", false, nil, "session variable"},
		{"mysql assignment", my, "SELECT @a := 1", false, nil, "variable"},
		{"mysql executable comment", my, "SELECT /*!50000 SLEEP(1) */ 1", false, nil, "/*!"},
		{"mysql double minus", my, "SELECT 1 --1", false, nil, `"--"`},
		{"mysql processlist table", my, "SELECT * FROM information_schema.processlist", false, []string{"information_schema.processlist"}, "processlist"},
		{"mysql performance_schema", my, "SELECT * FROM performance_schema.threads", false, []string{"performance_schema.threads"}, "performance_schema"},
		{"sqlite random", lite, "SELECT random()", false, nil, "random"},
		{"sqlite randomblob", lite, "SELECT randomblob(4)", false, nil, "randomblob"},
		{"sqlite last_insert_rowid", lite, "SELECT last_insert_rowid()", false, nil, "last_insert_rowid"},
		{"sqlite changes", lite, "SELECT changes()", false, nil, "changes"},
		{"sqlite total_changes", lite, "SELECT total_changes()", false, nil, "total_changes"},
		{"sqlite date now", lite, "SELECT date('now')", false, nil, "'now'"},
		{"sqlite datetime no argument", lite, "SELECT datetime()", false, nil, "datetime()"},
		{"sqlite julianday of a parameter", lite, "SELECT julianday(?) FROM t", false, []string{"t"}, "julianday()"},
		{"sqlite date of a dollar parameter", lite, "SELECT date($1) FROM t", false, []string{"t"}, "date()"},
		{"sqlite current_timestamp", lite, "SELECT CURRENT_TIMESTAMP", false, nil, "current_timestamp"},
		{"sqlite temp schema", lite, "SELECT * FROM temp.t", false, []string{"temp.t"}, "temporary"},
		{"any dialect: user variable", any, "SELECT @x", false, nil, "session variable"},
		{"any dialect: date of a parameter", any, "SELECT date($1)", false, nil, "date()"},

		// Functions the classifier does not know.
		{"unknown function", pg, "SELECT f(1) FROM t", false, []string{"t"}, "calls f()"},
		{"schema-qualified function", pg, "SELECT myschema.f(1) FROM t", false, []string{"t"}, "myschema.f()"},
		{"qualified builtin name outside pg_catalog", pg, "SELECT public.lower('x')", false, nil, "public.lower()"},
		{"quoted mixed case is another function", pg, `SELECT "Now"()`, false, nil, `"Now"()`},
		{"unknown function in from", pg, "SELECT * FROM my_report(1)", false, nil, "my_report()"},

		// Hints.
		{"ttl hint vouches for unknown function", pg, "/* xconn:ttl=30s */ SELECT f(1) FROM t", true, []string{"t"}, ""},
		{"ttl hint does not vouch for volatile", pg, "/* xconn:ttl=30s */ SELECT random()", false, nil, "random"},
		{"ttl hint does not vouch for writes", pg, "/* xconn:ttl=30s */ DELETE FROM t", false, nil, "DELETE writes"},
		{"nocache hint", pg, "/* xconn:nocache */ SELECT 1", false, nil, "xconn:nocache"},
		{"nocache hint in line comment at the end", pg, "SELECT * FROM t -- xconn:nocache", false, []string{"t"}, "xconn:nocache"},
		{"misspelt nocache", pg, "/* xconn:nocahce */ SELECT 1", false, nil, "unknown hint"},
		{"bad ttl", pg, "/* xconn:ttl=soon */ SELECT 1", false, nil, "invalid hint"},
		{"hint text in a string is not a hint", pg, "SELECT '/* xconn:nocache */'", true, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ci := Cacheability(tc.in, tc.d)
			if ci.Cacheable != tc.ok {
				t.Errorf("Cacheability(%q, %v).Cacheable = %v (reason %q), want %v", tc.in, tc.d, ci.Cacheable, ci.Reason, tc.ok)
			}
			if ci.Cacheable != (ci.Reason == "") {
				t.Errorf("Cacheable %v with reason %q", ci.Cacheable, ci.Reason)
			}
			if !tc.ok && !strings.Contains(ci.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", ci.Reason, tc.reason)
			}
			want := tc.tables
			if want == nil {
				want = []string{}
			}
			if got := tableStrings(ci.Tables); !reflect.DeepEqual(got, want) {
				t.Errorf("tables %q, want %q", got, want)
			}
		})
	}
}

func TestCacheabilityHints(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		ttl     time.Duration
		noCache bool
	}{
		{"none", "SELECT 1", 0, false},
		{"seconds unit", "/* xconn:ttl=30s */ SELECT 1", 30 * time.Second, false},
		{"minutes", "SELECT 1 /* xconn:ttl=10m */", 10 * time.Minute, false},
		{"days", "/*xconn:ttl=1d*/SELECT 1", 24 * time.Hour, false},
		{"bare seconds", "-- xconn:ttl=90\nSELECT 1", 90 * time.Second, false},
		{"upper case", "/* XCONN:TTL=2h */ SELECT 1", 2 * time.Hour, false},
		{"among other words", "/* app=dash, xconn:ttl=5s, owner=me */ SELECT 1", 5 * time.Second, false},
		{"last ttl wins", "/* xconn:ttl=5s */ /* xconn:ttl=7s */ SELECT 1", 7 * time.Second, false},
		{"nocache wins over ttl", "/* xconn:ttl=5s xconn:nocache */ SELECT 1", 0, true},
		{"zero ttl is nocache", "/* xconn:ttl=0 */ SELECT 1", 0, true},
		{"nested comment", "/* outer /* xconn:ttl=3s */ */ SELECT 1", 3 * time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ci := Cacheability(tc.in, Postgres)
			if ci.TTL != tc.ttl || ci.NoCache != tc.noCache {
				t.Errorf("TTL %v NoCache %v, want %v %v (reason %q)", ci.TTL, ci.NoCache, tc.ttl, tc.noCache, ci.Reason)
			}
		})
	}
}

func TestParseHintDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90s", 90 * time.Second, true},
		{"10m", 10 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true},
		{"1d", 24 * time.Hour, true},
		{"0.5d", 12 * time.Hour, true},
		{"30", 30 * time.Second, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"0", 0, true},
		{"", 0, false},
		{"-1s", 0, false},
		{"-5", 0, false},
		{"xd", 0, false},
		{"soon", 0, false},
		{"1e300", 0, false},
		{"NaN", 0, false},
		{"300000d", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseHintDuration(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseHintDuration(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestWrites(t *testing.T) {
	pg, my, lite := Postgres, MySQL, SQLite
	tests := []struct {
		name    string
		d       Dialect
		in      string
		tables  []string
		all     bool
		session bool
	}{
		{"select writes nothing", pg, "SELECT * FROM t", nil, false, false},
		{"mysql select into a user variable", my, "SELECT count(*) INTO @n FROM t", nil, false, true},
		{"mysql get_lock holds a lock for the session", my, "SELECT GET_LOCK('x', 0)", nil, false, true},
		{"mysql lock tables holds locks for the session", my, "LOCK TABLES t READ", nil, false, true},
		{"postgres lock table is the transaction's", pg, "LOCK TABLE t", nil, false, false},
		{"session advisory lock", pg, "SELECT pg_advisory_lock(1)", nil, false, true},
		{"transaction advisory lock", pg, "SELECT pg_advisory_xact_lock(1)", nil, false, false},
		{"for update writes nothing", pg, "SELECT * FROM t FOR UPDATE", nil, false, false},
		{"insert", pg, "INSERT INTO t (a, b) VALUES (1, 2)", []string{"t"}, false, false},
		{"insert select reads the source", pg, "INSERT INTO t SELECT * FROM u", []string{"t"}, false, false},
		{"insert qualified", pg, `INSERT INTO app."Orders" AS o (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = excluded.a`, []string{`app."Orders"`}, false, false},
		{"insert with sequence", pg, `INSERT INTO t VALUES (nextval('public."MySeq"'))`, []string{"t", `public."MySeq"`}, false, false},
		{"insert calling now", pg, "INSERT INTO t VALUES (now())", []string{"t"}, false, false},
		{"insert into a table named rows", pg, "INSERT INTO rows VALUES (1)", []string{"rows"}, false, false},
		{"update from", pg, "UPDATE t SET a = 1 FROM u WHERE t.id = u.id", []string{"t"}, false, false},
		{"update only with alias and subquery", pg, "UPDATE ONLY t AS x SET a = (SELECT b FROM u)", []string{"t"}, false, false},
		{"delete using", pg, "DELETE FROM t USING u WHERE t.id = u.id", []string{"t"}, false, false},
		{"delete returning", pg, "DELETE FROM t RETURNING *", []string{"t"}, false, false},
		{"delete from a table named quick", pg, "DELETE FROM quick WHERE a = 1", []string{"quick"}, false, false},
		{"merge", pg, "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a WHEN NOT MATCHED THEN INSERT (a) VALUES (s.a)", []string{"t"}, false, false},
		{"merge using subquery", pg, "MERGE INTO t USING (SELECT * FROM s) AS src ON t.id = src.id WHEN MATCHED THEN DELETE", []string{"t"}, false, false},
		{"data-modifying ctes", pg, "WITH x AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM x", []string{"a", "b"}, false, false},
		{"data-modifying cte under select", pg, "WITH d AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM d", []string{"t"}, false, false},
		{"truncate list", pg, "TRUNCATE TABLE a, ONLY s.b", []string{"a", "s.b"}, false, false},
		{"truncate cascade", pg, "TRUNCATE a CASCADE", []string{"a"}, true, false},
		{"copy from", pg, "COPY s.t (a, b) FROM STDIN", []string{"s.t"}, false, false},
		{"copy to", pg, "COPY t TO STDOUT", nil, false, false},
		{"refresh", pg, "REFRESH MATERIALIZED VIEW CONCURRENTLY mv", []string{"mv"}, false, false},
		{"ddl", pg, "CREATE TABLE x (a int)", nil, true, false},
		{"alter", pg, "ALTER TABLE t ADD COLUMN b int", nil, true, false},
		{"temp table", pg, "CREATE TEMP TABLE x (a int)", nil, true, true},
		{"temporary view", pg, "CREATE OR REPLACE TEMPORARY VIEW v AS SELECT 1", nil, true, true},
		{"pg_temp table", pg, "CREATE TABLE pg_temp.x (a int)", nil, true, true},
		{"select into temp", pg, "SELECT * INTO TEMP x FROM t", nil, true, true},
		{"call", pg, "CALL p()", nil, true, false},
		{"do", pg, "DO $$ BEGIN END $$", nil, true, false},
		{"execute", pg, "EXECUTE q", nil, true, false},
		{"unknown function in a read", pg, "SELECT f()", nil, true, false},
		{"unknown function in an insert", pg, "INSERT INTO t VALUES (f())", []string{"t"}, true, false},
		{"large objects", pg, "SELECT lo_unlink(1)", nil, true, false},
		{"query_to_xml runs any SQL", pg, "SELECT query_to_xml('delete from t', true, true, '')", nil, true, false},
		{"nextval changes its sequence", pg, "SELECT nextval('s')", []string{"s"}, false, false},
		{"set_config changes the session", pg, "SELECT set_config('search_path', 'x', false)", nil, false, true},
		{"transaction control", pg, "COMMIT", nil, false, false},
		{"set", pg, "SET search_path = x", nil, false, false},
		{"vacuum", pg, "VACUUM t", nil, false, false},
		{"lock", pg, "LOCK TABLE t IN SHARE MODE", nil, false, false},
		{"explain without analyze", pg, "EXPLAIN DELETE FROM t", nil, false, false},
		{"explain analyze runs it", pg, "EXPLAIN ANALYZE DELETE FROM t", []string{"t"}, false, false},
		{"column named update", pg, "SELECT update FROM t", nil, true, false},
		{"batch", pg, "BEGIN; INSERT INTO a VALUES (1); UPDATE b SET x = 1; COMMIT", []string{"a", "b"}, false, false},
		{"batch with ddl", pg, "INSERT INTO a VALUES (1); DROP TABLE b", []string{"a"}, true, false},
		{"mysql insert ignore on duplicate", my, "INSERT IGNORE INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a)", []string{"t"}, false, false},
		{"mysql insert without into", my, "INSERT t (a) VALUES (1)", []string{"t"}, false, false},
		{"mysql replace set", my, "REPLACE INTO t SET a = 1", []string{"t"}, false, false},
		{"mysql multi-table update", my, "UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = t2.b", []string{"t1", "t2"}, false, false},
		{"mysql update list", my, "UPDATE LOW_PRIORITY t1, t2 SET t1.a = 1", []string{"t1", "t2"}, false, false},
		{"mysql delete by alias writes every joined table", my, "DELETE a FROM t AS a JOIN u ON a.id = u.id", []string{"a", "t", "u"}, false, false},
		{"mysql delete using", my, "DELETE FROM t1, t2 USING t1 JOIN t2 JOIN t3 WHERE t1.id = t2.id", []string{"t1", "t2"}, false, false},
		{"mysql delete quick", my, "DELETE QUICK FROM t WHERE a = 1", []string{"t"}, false, false},
		{"mysql INSERT() function", my, "SELECT INSERT('abc', 1, 1, 'x')", nil, true, false},
		{"mysql use", my, "USE otherdb", nil, false, true},
		{"mysql set user variable", my, "SET @x = 1", nil, false, true},
		{"mysql assignment in select", my, "SELECT @a := 1", nil, false, true},
		{"mysql executable comment", my, "SELECT /*!50000 1 */", nil, true, false},
		{"mysql temporary table", my, "CREATE TEMPORARY TABLE x (a int)", nil, true, true},
		{"sqlite insert or replace", lite, "INSERT OR REPLACE INTO t VALUES (1)", []string{"t"}, false, false},
		{"sqlite update or ignore", lite, "UPDATE OR IGNORE t SET a = 1", []string{"t"}, false, false},
		{"sqlite pragma", lite, "PRAGMA foreign_keys = ON", nil, true, true},
		{"sqlite attach", lite, "ATTACH 'x.db' AS x", nil, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := Writes(tc.in, tc.d)
			want := tc.tables
			if want == nil {
				want = []string{}
			}
			if got := tableStrings(ws.Tables); !reflect.DeepEqual(got, want) {
				t.Errorf("Writes(%q).Tables = %q, want %q", tc.in, got, want)
			}
			if ws.All != tc.all || ws.Session != tc.session {
				t.Errorf("All %v (%q) Session %v, want %v %v", ws.All, ws.Reason, ws.Session, tc.all, tc.session)
			}
			if ws.All != (ws.Reason != "") {
				t.Errorf("All %v with reason %q", ws.All, ws.Reason)
			}
		})
	}
}

func TestTable(t *testing.T) {
	tests := []struct {
		name     string
		tb       Table
		str, key string
	}{
		{"plain", Table{Name: "orders"}, "orders", "orders"},
		{"qualified", Table{Schema: "public", Name: "orders"}, "public.orders", "orders"},
		{"quoted case", Table{Schema: "Sales", Name: "Q1"}, `"Sales"."Q1"`, "q1"},
		{"reserved word", Table{Name: "user"}, `"user"`, "user"},
		{"dot inside a name", Table{Name: "a.b"}, `"a.b"`, "a.b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tb.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
			if got := tc.tb.Key(); got != tc.key {
				t.Errorf("Key() = %q, want %q", got, tc.key)
			}
		})
	}
	keys := TableKeys([]Table{{Name: "T"}, {Schema: "s", Name: "t"}, {Name: "u"}})
	if !reflect.DeepEqual(keys, []string{"t", "u"}) {
		t.Errorf("TableKeys = %q, want [t u]", keys)
	}
}

func TestTimeDependentLiteral(t *testing.T) {
	for in, want := range map[string]bool{
		"now": true, " Today ": true, "TOMORROW": true, "yesterday": true,
		"2024-01-01": false, "epoch": false, "nowhere": false, "": false, "no": false,
		"today 10:00": true, "10:00 tomorrow": true, "yesterday 23:59:59.5": true,
		"now()": false, "snow": false, "right now!": false,
	} {
		if got := TimeDependentLiteral(in); got != want {
			t.Errorf("TimeDependentLiteral(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestDialectString(t *testing.T) {
	if MySQL.String() != "mysql" || Dialect(9).String() != "Dialect(?)" {
		t.Errorf("Dialect.String: %q %q", MySQL.String(), Dialect(9).String())
	}
}
