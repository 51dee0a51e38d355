package bridge

import (
	"database/sql"

	"github.com/jackc/pgx/v5/pgtype"
)

// rowSource is a portal's result: a data-source cursor or rows the bridge
// computed itself.
type rowSource interface {
	columns() []outCol
	// next returns the next row, or nil at the end. The slice is reused.
	next() ([]any, error)
	// more reports whether another row follows, without consuming it.
	more() (bool, error)
	close() error
}

// sqlRows reads a database/sql cursor. Columns without a declared type are
// typed by the value in the first row, which is why the first row is read
// before the columns are described.
type sqlRows struct {
	rows   *sql.Rows
	cols   []outCol
	vals   []any
	ptrs   []any
	peeked bool // vals holds a row not yet returned
	eof    bool
}

func newSQLRows(rows *sql.Rows, d Dialect) (*sqlRows, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		rows.Close()
		return nil, err
	}
	r := &sqlRows{rows: rows, cols: make([]outCol, len(types)), vals: make([]any, len(types)), ptrs: make([]any, len(types))}
	for i := range r.vals {
		r.ptrs[i] = &r.vals[i]
	}
	byValue := false
	for i, t := range types {
		r.cols[i] = outCol{name: t.Name(), oid: d.TypeOID(t.DatabaseTypeName())}
		byValue = byValue || r.cols[i].oid == 0
	}
	if byValue {
		if _, err := r.more(); err != nil {
			rows.Close()
			return nil, err
		}
		for i := range r.cols {
			if r.cols[i].oid != 0 {
				continue
			}
			r.cols[i].oid = pgtype.TextOID
			if r.peeked && r.vals[i] != nil {
				r.cols[i].oid = OIDOfValue(r.vals[i])
			}
		}
	}
	return r, nil
}

func (r *sqlRows) columns() []outCol { return append([]outCol(nil), r.cols...) }

func (r *sqlRows) more() (bool, error) {
	if r.peeked {
		return true, nil
	}
	if r.eof {
		return false, nil
	}
	if !r.rows.Next() {
		r.eof = true
		return false, r.rows.Err()
	}
	if err := r.rows.Scan(r.ptrs...); err != nil {
		return false, err
	}
	r.peeked = true
	return true, nil
}

func (r *sqlRows) next() ([]any, error) {
	ok, err := r.more()
	if !ok || err != nil {
		return nil, err
	}
	r.peeked = false
	return r.vals, nil
}

func (r *sqlRows) close() error {
	if err := r.rows.Close(); err != nil {
		return err
	}
	return r.rows.Err()
}

// staticRows are rows the bridge answers itself (SHOW, version(), ...).
type staticRows struct {
	cols []outCol
	rows [][]any
	i    int
}

func (r *staticRows) columns() []outCol { return append([]outCol(nil), r.cols...) }

func (r *staticRows) next() ([]any, error) {
	if r.i >= len(r.rows) {
		return nil, nil
	}
	r.i++
	return r.rows[r.i-1], nil
}

func (r *staticRows) more() (bool, error) { return r.i < len(r.rows), nil }

func (r *staticRows) close() error { return nil }
