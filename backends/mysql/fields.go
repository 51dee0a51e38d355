package mysql

import (
	"database/sql/driver"
	"reflect"
	"sync"
)

// The column definitions the server sends (protocol: "Column Definition")
// carry more than go-sql-driver passes on through database/sql. Two things
// the type mapping needs are only there:
//
//   - the display width, which is how MySQL marks BOOL: BOOL is TINYINT(1),
//     and the only trace of the (1) in a result is the column length 1.
//     go-sql-driver v1.10 reads the length but does not expose it (its
//     ColumnTypeLength is commented out in rows.go);
//   - the columns of a prepared statement before it runs, which MariaDB
//     (10.6 and later, with its "cache metadata" extension) sends in the
//     prepare response and go-sql-driver keeps for itself.
//
// So the proxy reads them from the driver's values by reflection, read
// only: the rows' rs.columns and a statement's columns, each a slice of
// mysqlField{name, length, flags, fieldType, decimals, charSet}. The
// layout is pinned by go.mod and checked by TestDriverFieldLayout against
// a live server; if a future driver changes it, fields returns ok=false
// and the proxy falls back to the driver's type names (BOOL then reads as
// smallint, and Describe of a statement runs the statement if it only
// reads), never to wrong values.

// field is one column definition.
type field struct {
	name     string
	length   uint32
	flags    uint16
	typ      byte
	decimals byte
	charset  uint8
}

// Protocol column types (MySQL's enum_field_types) and flags.
const (
	typeDecimal    = 0
	typeTiny       = 1
	typeShort      = 2
	typeLong       = 3
	typeFloat      = 4
	typeDouble     = 5
	typeNull       = 6
	typeTimestamp  = 7
	typeLongLong   = 8
	typeInt24      = 9
	typeDate       = 10
	typeTime       = 11
	typeDateTime   = 12
	typeYear       = 13
	typeNewDate    = 14
	typeVarChar    = 15
	typeBit        = 16
	typeVector     = 242
	typeJSON       = 245
	typeNewDecimal = 246
	typeEnum       = 247
	typeSet        = 248
	typeTinyBlob   = 249
	typeMediumBlob = 250
	typeLongBlob   = 251
	typeBlob       = 252
	typeVarString  = 253
	typeString     = 254
	typeGeometry   = 255

	flagUnsigned = 32
	flagEnum     = 256
	flagSet      = 2048

	binaryCharset = 63
)

// fieldPaths are the struct field indexes of mysqlField, found once per
// type.
type fieldPaths struct {
	name, length, flags, typ, decimals, charset []int
}

var pathCache sync.Map // reflect.Type of mysqlField → *fieldPaths (nil: not the expected layout)

func pathsFor(t reflect.Type) *fieldPaths {
	if p, ok := pathCache.Load(t); ok {
		return p.(*fieldPaths)
	}
	find := func(name string, kind reflect.Kind) []int {
		f, ok := t.FieldByName(name)
		if !ok || f.Type.Kind() != kind {
			return nil
		}
		return f.Index
	}
	p := &fieldPaths{
		name: find("name", reflect.String), length: find("length", reflect.Uint32),
		flags: find("flags", reflect.Uint16), typ: find("fieldType", reflect.Uint8),
		decimals: find("decimals", reflect.Uint8), charset: find("charSet", reflect.Uint8),
	}
	if p.name == nil || p.length == nil || p.flags == nil || p.typ == nil || p.decimals == nil || p.charset == nil {
		p = nil
	}
	pathCache.Store(t, p)
	return p
}

// fieldsOf reads a []mysqlField value.
func fieldsOf(v reflect.Value) ([]field, bool) {
	if !v.IsValid() || v.Kind() != reflect.Slice || v.Type().Elem().Kind() != reflect.Struct {
		return nil, false
	}
	p := pathsFor(v.Type().Elem())
	if p == nil {
		return nil, false
	}
	out := make([]field, v.Len())
	for i := range out {
		f := v.Index(i)
		out[i] = field{
			name:     f.FieldByIndex(p.name).String(),
			length:   uint32(f.FieldByIndex(p.length).Uint()),
			flags:    uint16(f.FieldByIndex(p.flags).Uint()),
			typ:      byte(f.FieldByIndex(p.typ).Uint()),
			decimals: byte(f.FieldByIndex(p.decimals).Uint()),
			charset:  uint8(f.FieldByIndex(p.charset).Uint()),
		}
	}
	return out, true
}

// structField returns the named field of the struct *x points to.
func structField(x any, name string) reflect.Value {
	v := reflect.ValueOf(x)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.Elem().FieldByName(name)
}

// rowsFields returns the column definitions of go-sql-driver rows.
func rowsFields(r driver.Rows) ([]field, bool) {
	rs := structField(r, "rs")
	if !rs.IsValid() || rs.Kind() != reflect.Struct {
		return nil, false
	}
	return fieldsOf(rs.FieldByName("columns"))
}

// stmtFields returns the result columns a prepared statement announced:
// ok is false when the driver kept none (MySQL, or MariaDB before 10.6,
// whose prepare responses it skips; or a statement without a result).
func stmtFields(s driver.Stmt) ([]field, bool) {
	return fieldsOf(structField(s, "columns"))
}

// typeName is the name the proxy types a column by: go-sql-driver's
// DatabaseTypeName for the same definition, refined where the definition
// says more (TINYINT(1), BIT(1)).
func (f field) typeName() string {
	unsigned := f.flags&flagUnsigned != 0
	binary := f.charset == binaryCharset
	pick := func(cond bool, yes, no string) string {
		if cond {
			return yes
		}
		return no
	}
	switch f.typ {
	case typeDecimal, typeNewDecimal:
		return "DECIMAL"
	case typeTiny:
		if f.length == 1 {
			return "TINYINT(1)"
		}
		return pick(unsigned, "UNSIGNED TINYINT", "TINYINT")
	case typeShort:
		return pick(unsigned, "UNSIGNED SMALLINT", "SMALLINT")
	case typeInt24:
		return pick(unsigned, "UNSIGNED MEDIUMINT", "MEDIUMINT")
	case typeLong:
		return pick(unsigned, "UNSIGNED INT", "INT")
	case typeLongLong:
		return pick(unsigned, "UNSIGNED BIGINT", "BIGINT")
	case typeFloat:
		return "FLOAT"
	case typeDouble:
		return "DOUBLE"
	case typeNull:
		return "NULL"
	case typeTimestamp:
		return "TIMESTAMP"
	case typeDate, typeNewDate:
		return "DATE"
	case typeTime:
		return "TIME"
	case typeDateTime:
		return "DATETIME"
	case typeYear:
		return "YEAR"
	case typeBit:
		return pick(f.length == 1, "BIT(1)", "BIT")
	case typeJSON:
		return "JSON"
	case typeEnum:
		return "ENUM"
	case typeSet:
		return "SET"
	case typeTinyBlob, typeMediumBlob, typeLongBlob, typeBlob:
		return pick(binary, "BLOB", "TEXT")
	case typeVarChar, typeVarString:
		return pick(binary, "VARBINARY", "VARCHAR")
	case typeString:
		switch {
		case f.flags&flagEnum != 0:
			return "ENUM"
		case f.flags&flagSet != 0:
			return "SET"
		}
		return pick(binary, "BINARY", "CHAR")
	case typeGeometry:
		return "GEOMETRY"
	case typeVector:
		return "VECTOR"
	}
	return ""
}
