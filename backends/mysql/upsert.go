package mysql

import (
	"database/sql/driver"
	"strings"

	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// upsertRows is, for INSERT ... ON DUPLICATE KEY UPDATE, the number of
// rows the statement proposes: the VALUES rows, or 1 for INSERT ... SET.
// It is 0 for any other statement and for INSERT ... SELECT (unknown).
//
// MySQL counts 1 for a row inserted and 2 for one updated (1 for one left
// as it was, under CLIENT_FOUND_ROWS); PostgreSQL's INSERT ... ON
// CONFLICT DO UPDATE counts 1 for each row inserted or updated, which is
// every proposed row.
func upsertRows(query string) int64 {
	if !strings.Contains(strings.ToUpper(query), "DUPLICATE") {
		return 0
	}
	toks := sqltext.Significant(query)
	if len(toks) == 0 || !isWord(toks[0], "INSERT") {
		return 0
	}
	depth := 0
	var rows int64
	source := "" // VALUES, SET or SELECT
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.Kind == sqltext.TokOperator && t.Text == "(":
			if depth == 0 && source == "VALUES" && (toks[i-1].Kind == sqltext.TokIdent || toks[i-1].Text == ",") {
				rows++
			}
			depth++
		case t.Kind == sqltext.TokOperator && t.Text == ")":
			depth--
		case depth > 0 || t.Kind != sqltext.TokIdent:
		case source == "" && (isWord(t, "VALUES") || isWord(t, "VALUE")):
			source = "VALUES"
		case source == "" && isWord(t, "SET"):
			source, rows = "SET", 1
		case source == "" && (isWord(t, "SELECT") || isWord(t, "TABLE") || isWord(t, "WITH")):
			return 0
		case isWord(t, "ON") && i+3 < len(toks) && isWord(toks[i+1], "DUPLICATE") && isWord(toks[i+2], "KEY") && isWord(toks[i+3], "UPDATE"):
			if source == "" {
				return 0
			}
			return rows
		case source == "VALUES" && rows > 0:
			// VALUES (...) AS alias: the list has ended.
			source = "done"
		}
	}
	return 0
}

// upsertResult reports PostgreSQL's count for an upsert (see upsertRows).
type upsertResult struct {
	driver.Result
	rows int64
}

func (r upsertResult) RowsAffected() (int64, error) {
	n, err := r.Result.RowsAffected()
	if err != nil {
		return n, err
	}
	return min(n, r.rows), nil
}

// upsertCount wraps the result of query for upsertRows.
func upsertCount(query string, res driver.Result, err error) (driver.Result, error) {
	if err != nil || res == nil {
		return res, err
	}
	if n := upsertRows(query); n > 0 {
		return upsertResult{Result: res, rows: n}, nil
	}
	return res, nil
}
