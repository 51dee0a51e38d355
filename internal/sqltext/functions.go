package sqltext

import "strings"

// The function lists behind Cacheability and Writes. Names are lower case:
// an unquoted call is compared after down-casing, a quoted one as written
// (so "Now"() is not now() and counts as unknown).
//
// Why an allowlist: PostgreSQL creates a function VOLATILE unless told
// otherwise, MySQL and SQLite user functions are opaque, and a cached call
// of a function with side effects silently skips them. So a call is cached
// only when every function it names is a builtin known to return the same
// value for the same arguments and to change nothing. An unknown function
// costs a cache miss, never a wrong answer. The denylist below exists for
// the debug reason and because its entries stay uncacheable even under an
// explicit /* xconn:ttl=... */ hint, which vouches for unknown functions
// only.

// volatileFunctions are functions whose result must never be served from
// the cache, with a short reason for debug logs.
var volatileFunctions = func() map[string]string {
	m := map[string]string{}
	add := func(why, names string) {
		for _, n := range strings.Fields(names) {
			m[n] = why
		}
	}
	add("changes state", `nextval setval setseed set_config pg_notify
		pg_cancel_backend pg_terminate_backend pg_reload_conf pg_rotate_logfile
		pg_switch_wal pg_create_restore_point pg_backup_start pg_backup_stop
		pg_start_backup pg_stop_backup pg_export_snapshot pg_stat_reset
		pg_log_backend_memory_contexts query_to_xml query_to_xmlschema
		query_to_xml_and_xmlschema cursor_to_xml cursor_to_xmlschema
		get_lock release_lock release_all_locks benchmark load_extension
		master_pos_wait source_pos_wait`)
	add("differs on every call", `random random_normal gen_random_uuid uuid uuidv4 uuidv7
		uuid_short rand random_bytes randomblob array_shuffle array_sample sleep`)
	add("depends on the time", `now clock_timestamp statement_timestamp transaction_timestamp
		timeofday current_timestamp current_time current_date localtime
		localtimestamp sysdate curdate curtime utc_date utc_time utc_timestamp`)
	add("depends on the session", `currval lastval current_setting current_user session_user
		current_role system_user user current_schema current_schemas
		pg_backend_pid pg_my_temp_schema pg_trigger_depth pg_current_snapshot
		inet_client_addr inet_client_port inet_server_addr inet_server_port
		last_insert_id connection_id found_rows row_count database schema
		last_insert_rowid changes total_changes is_free_lock is_used_lock`)
	add("reads files", `pg_read_file pg_read_binary_file pg_stat_file pg_ls_dir load_file`)
	return m
}()

// volatilePrefixes extend volatileFunctions to whole families.
var volatilePrefixes = [...]struct{ prefix, why string }{
	{"pg_advisory_", "takes a lock"},
	{"pg_try_advisory_", "takes a lock"},
	{"pg_sleep", "waits"},
	{"lo_", "reads or writes large objects"},
	{"txid_", "depends on the transaction"},
	{"pg_current_xact_id", "depends on the transaction"},
	{"pg_xact_", "depends on the transaction"},
	{"dblink", "runs SQL elsewhere"},
	{"uuid_generate_", "differs on every call"},
	{"pg_stat_", "reads live statistics"},
	{"pg_ls_", "reads files"},
	{"pg_logical_", "changes replication state"},
	{"pg_replication_", "changes replication state"},
	{"pg_create_", "changes server state"},
	{"pg_drop_", "changes server state"},
	{"pg_promote", "changes server state"},
	{"pg_wal_", "depends on the moment"},
	{"pg_last_", "depends on the moment"},
}

// writingFunctions are volatile functions that may change tables the
// statement does not name: Writes answers "invalidate everything" for them.
// Functions that change only sequences, locks, settings or nothing
// (nextval, pg_advisory_lock, set_config, random) are not here.
func writingFunction(name string) bool {
	switch name {
	case "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema",
		"cursor_to_xml", "cursor_to_xmlschema", "load_extension":
		return true
	}
	return strings.HasPrefix(name, "lo_") || strings.HasPrefix(name, "dblink")
}

// volatileFunction reports whether name is on the denylist and why.
func volatileFunction(name string) (string, bool) {
	if why, ok := volatileFunctions[name]; ok {
		return why, true
	}
	for _, p := range volatilePrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.why, true
		}
	}
	return "", false
}

// nowFunctions are SQLite's date and time functions: with no argument, or
// with 'now' (any literal is checked separately), or with a bound parameter
// that may be 'now', they read the clock. In PostgreSQL and MySQL date() and
// time() are casts of their argument.
var nowFunctions = wordSet(`date time datetime julianday strftime unixepoch timediff`)

// safeFunctions are builtins of PostgreSQL, MySQL and SQLite that are
// immutable or stable within a statement and have no side effects, plus the
// type names that appear before "(" as type modifiers (varchar(10)).
var safeFunctions = wordSet(`
	count sum avg min max every bool_and bool_or bit_and bit_or bit_xor
	array_agg string_agg json_agg jsonb_agg json_object_agg jsonb_object_agg
	json_objectagg json_arrayagg xmlagg group_concat total any_value range_agg
	range_intersect_agg stddev stddev_pop stddev_samp std variance var_pop var_samp
	corr covar_pop covar_samp regr_avgx regr_avgy regr_count regr_intercept
	regr_r2 regr_slope regr_sxx regr_sxy regr_syy percentile_cont
	percentile_disc mode median grouping
	row_number rank dense_rank percent_rank cume_dist ntile lag lead
	first_value last_value nth_value
	abs ceil ceiling floor round trunc truncate sign sqrt cbrt exp ln log log10
	log2 power pow mod div pi degrees radians sin cos tan cot asin acos atan
	atan2 sinh cosh tanh asinh acosh atanh greatest least width_bucket gcd lcm
	factorial scale min_scale trim_scale conv bin oct hex unhex crc32 md5 sha1
	sha2 sha224 sha256 sha384 sha512 bit_count
	lower upper lcase ucase length char_length character_length octet_length
	bit_length concat concat_ws substring substr mid left right lpad rpad ltrim
	rtrim btrim trim replace translate reverse repeat position strpos instr
	locate split_part initcap ascii chr char format quote_ident quote_literal
	quote_nullable regexp_replace regexp_match regexp_matches
	regexp_split_to_array regexp_split_to_table regexp_like regexp_substr
	regexp_instr regexp_count starts_with to_hex encode decode convert
	convert_from convert_to overlay space field find_in_set elt soundex
	difference printf unicode unistr quote glob like string_to_array
	string_to_table array_to_string normalize casefold to_ascii insert
	strcmp char_length
	coalesce nullif ifnull isnull nvl if iif nullifzero
	cast int integer int2 int4 int8 smallint bigint float float4 float8 real
	double numeric decimal dec text varchar nchar character varying bit varbit
	bool boolean bytea timestamp timestamptz timetz interval json jsonb xml
	inet cidr macaddr money name oid regclass regtype regproc signed unsigned
	binary tsvector tsquery point line lseg box path polygon circle
	date_trunc date_part extract make_date make_time make_timestamp
	make_timestamptz make_interval justify_days justify_hours justify_interval
	date_bin isfinite to_char to_number to_date to_timestamp date_add date_sub
	adddate subdate datediff timestampdiff timestampadd date_format str_to_date
	dayofweek dayofmonth dayofyear dayname monthname year month day hour minute
	second microsecond week weekday weekofyear yearweek quarter last_day
	from_unixtime from_days to_days to_seconds makedate maketime sec_to_time
	time_to_sec period_add period_diff time_format convert_tz overlaps
	json_build_object json_build_array jsonb_build_object jsonb_build_array
	to_json to_jsonb row_to_json array_to_json json_object json_array
	json_extract_path json_extract_path_text jsonb_extract_path
	jsonb_extract_path_text json_array_length jsonb_array_length json_each
	jsonb_each json_each_text jsonb_each_text json_array_elements
	jsonb_array_elements json_array_elements_text jsonb_array_elements_text
	json_object_keys jsonb_object_keys json_typeof jsonb_typeof jsonb_set
	jsonb_set_lax jsonb_insert jsonb_pretty jsonb_strip_nulls json_strip_nulls
	jsonb_path_query jsonb_path_exists jsonb_path_match jsonb_path_query_array
	jsonb_path_query_first json_populate_record jsonb_populate_record
	json_populate_recordset jsonb_populate_recordset json_to_record
	jsonb_to_record json_to_recordset jsonb_to_recordset json_extract
	json_unquote json_contains json_contains_path json_keys json_length
	json_type json_valid json_set json_insert json_replace json_remove
	json_merge_patch json_merge_preserve json_quote json_search json_depth
	json_pretty json_value json_query json_exists json_table json_scalar
	json_serialize json_group_array json_group_object json_tree json_patch
	json_array_insert json_array_append json_overlaps json_schema_valid
	json_quote jsonb_exists
	array_length array_lower array_upper array_position array_positions
	array_cat array_append array_prepend array_remove array_replace
	array_dims array_ndims cardinality unnest generate_series
	generate_subscripts array_fill trim_array array_reverse array_sort
	int4range int8range numrange tsrange tstzrange daterange isempty
	lower_inc upper_inc lower_inf upper_inf range_merge multirange
	to_tsvector to_tsquery plainto_tsquery phraseto_tsquery
	websearch_to_tsquery ts_rank ts_rank_cd ts_headline setweight strip
	numnode querytree ts_rewrite array_to_tsvector tsvector_to_array
	xmlelement xmlforest xmlconcat xmlpi xmlroot xmlparse xmlserialize xmlexists
	xmltable xpath xpath_exists xml_is_well_formed xmlattributes xmlcomment xmltext
	num_nulls num_nonnulls pg_typeof format_type typeof likelihood likely
	unlikely version sqlite_version current_database current_catalog
	pg_size_pretty pg_size_bytes inet_aton inet_ntoa inet6_aton inet6_ntoa
	is_ipv4 is_ipv6 host hostmask masklen netmask network broadcast family
	abbrev set_masklen bin_to_uuid uuid_to_bin is_uuid treat collation
	row array exists match against
`)

func wordSet(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// sessionWords are unquoted words that PostgreSQL reads as functions
// without parentheses (SQL value functions). current_date and its kin
// change with the clock; current_user and its kin with SET ROLE.
var bareVolatile = map[string]string{
	"current_timestamp": "depends on the time",
	"current_time":      "depends on the time",
	"current_date":      "depends on the time",
	"localtime":         "depends on the time",
	"localtimestamp":    "depends on the time",
	"current_user":      "depends on the session",
	"session_user":      "depends on the session",
	"current_role":      "depends on the session",
	"system_user":       "depends on the session",
	"current_schema":    "depends on the session",
	"user":              "depends on the session", // a column name to MySQL and SQLite
}

// TimeDependentLiteral reports whether s, as a date/time input, means a
// different moment depending on when it is read: PostgreSQL's special
// values 'now', 'today', 'tomorrow' and 'yesterday' (also SQLite's 'now').
// Cacheability checks the literals of a statement; a proxy that knows the
// text-format parameter values of a statement can check them too, since
// SELECT ... WHERE ts > $1::timestamptz with $1 = 'today' is as
// time-dependent as the literal.
func TimeDependentLiteral(s string) bool {
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	// The words count anywhere: PostgreSQL reads 'today 10:00' and
	// '10:00 tomorrow' too. A text that merely contains one of them (a
	// title, a name) is taken for a time as well: not cached, never
	// wrong.
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isASCIILetter(c) && (c < '0' || c > '9') && !strings.ContainsRune(" \t:+-./,", rune(c)) {
			return false // not how a date or time is written ('now()')
		}
	}
	for i := 0; i < len(s); {
		if !isASCIILetter(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isASCIILetter(s[j]) {
			j++
		}
		switch strings.ToLower(s[i:j]) {
		case "now", "today", "tomorrow", "yesterday":
			return true
		}
		i = j
	}
	return false
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// volatileRelation reports why reading relation t may return a different
// answer without any write through the proxy, or "".
func volatileRelation(t Table) string {
	schema, name := strings.ToLower(t.Schema), strings.ToLower(t.Name)
	switch {
	case schema == "pg_temp" || strings.HasPrefix(schema, "pg_temp_") || schema == "temp":
		return "reads a temporary table, private to its session"
	case name == "sqlite_temp_master" || name == "sqlite_temp_schema":
		return "reads the session's temporary schema"
	case schema == "performance_schema" || schema == "sys":
		return "reads " + t.String() + ", which changes by itself"
	case schema == "information_schema" && (name == "processlist" ||
		strings.HasPrefix(name, "innodb_") || strings.HasSuffix(name, "_status") ||
		strings.HasSuffix(name, "_variables")):
		return "reads " + t.String() + ", which changes by itself"
	case schema != "" && schema != "pg_catalog":
		return ""
	}
	switch {
	case strings.HasPrefix(name, "pg_stat"), name == "pg_locks", name == "pg_cursors",
		name == "pg_prepared_statements", name == "pg_prepared_xacts",
		name == "pg_settings", name == "pg_backend_memory_contexts",
		name == "pg_replication_slots", name == "pg_shmem_allocations",
		name == "pg_file_settings", name == "pg_replication_origin_status":
		return "reads " + t.String() + ", which changes by itself"
	}
	return ""
}

// volatileShow lists the words after SHOW (past GLOBAL/SESSION/FULL) whose
// answer changes by itself or describes the previous statement: MySQL's
// SHOW WARNINGS, SHOW PROCESSLIST, SHOW STATUS and kin.
var volatileShow = wordSet(`warnings errors count processlist status engine engines
	master slave replica replicas binary binlog relaylog profile profiles open`)
