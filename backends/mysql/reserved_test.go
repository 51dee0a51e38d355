package mysql

import (
	"testing"

	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

func TestCheckStatementReserved(t *testing.T) {
	d := &Dialect{}
	refused := []string{
		"SET sql_mode = ''",
		"SET autocommit = 0",
		"SET @@autocommit = 0",
		"SET @@autocommit:=0",
		"SET @@SESSION.sql_mode = ''",
		"set @@global.sql_mode = ''",
		"SET SESSION sql_mode = ''",
		"SET GLOBAL autocommit = 0",
		"SET LOCAL autocommit = 0",
		"SET foreign_key_checks = 1, sql_mode = ''",
		"SET @x = (1, 2), @@session.autocommit = 0",
		"SET a = CONCAT('x', 'y'), `SQL_MODE` = ''",
		"SET CHARACTER SET latin1",
		"SET CHARSET latin1",
		"SET NAMES latin1",
		"SET NAMES utf8mb4 COLLATE utf8mb4_bin",
		"SET character_set_results = latin1",
		"SET character_set_server = latin1",
		"SET collation_connection = latin1_swedish_ci",
		"SET completion_type = 1",
		"SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE",
		"SET GLOBAL TRANSACTION READ ONLY",
		"SET STATEMENT sql_mode = '' FOR SELECT 1",
		"SET STATEMENT max_statement_time = 1, sql_mode = '' FOR SELECT 1",
		"SET tx_isolation = 'SERIALIZABLE'",
	}
	allowed := []string{
		"SET @x = 1",
		"SET @sql_mode = ''",
		"SET @x = @@sql_mode",
		"SET foreign_key_checks = 0",
		"SET SESSION group_concat_max_len = 100000",
		"SET a = 'sql_mode', b = 2",
		"SET STATEMENT max_statement_time = 1 FOR SELECT @@sql_mode",
		"SET ROLE r",
		"SET PASSWORD = 'x'",
		"SET session = 1",
		"SELECT @@autocommit",
		"UPDATE t SET sql_mode = 1",
	}
	for _, q := range refused {
		if err := d.CheckStatement(sqltext.Classify(q), q); err == nil {
			t.Errorf("%s: not refused", q)
		}
	}
	for _, q := range allowed {
		if err := d.CheckStatement(sqltext.Classify(q), q); err != nil {
			t.Errorf("%s: refused: %v", q, err)
		}
	}
}
