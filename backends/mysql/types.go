package mysql

import (
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// typeOIDs maps the type names the proxy gives MySQL columns (go-sql-driver's
// DatabaseTypeName, refined by field.typeName and declTypeName) to the
// PostgreSQL type each is sent as. Unsigned integers take the next wider
// type so that every value fits: SMALLINT UNSIGNED (to 65535) is integer,
// INT UNSIGNED (to 4294967295) bigint, BIGINT UNSIGNED numeric.
var typeOIDs = map[string]uint32{
	"TINYINT(1)": pgtype.BoolOID, // BOOL and BOOLEAN are TINYINT(1)
	"BOOL":       pgtype.BoolOID,
	"BOOLEAN":    pgtype.BoolOID,
	"BIT(1)":     pgtype.BoolOID,

	"TINYINT":            pgtype.Int2OID,
	"UNSIGNED TINYINT":   pgtype.Int2OID,
	"SMALLINT":           pgtype.Int2OID,
	"YEAR":               pgtype.Int2OID,
	"UNSIGNED SMALLINT":  pgtype.Int4OID,
	"MEDIUMINT":          pgtype.Int4OID,
	"UNSIGNED MEDIUMINT": pgtype.Int4OID,
	"INT":                pgtype.Int4OID,
	"UNSIGNED INT":       pgtype.Int8OID,
	"BIGINT":             pgtype.Int8OID,
	"UNSIGNED BIGINT":    pgtype.NumericOID,
	"DECIMAL":            pgtype.NumericOID,
	"FLOAT":              pgtype.Float4OID,
	"DOUBLE":             pgtype.Float8OID,

	"CHAR":       pgtype.TextOID,
	"VARCHAR":    pgtype.TextOID,
	"TEXT":       pgtype.TextOID,
	"TINYTEXT":   pgtype.TextOID,
	"MEDIUMTEXT": pgtype.TextOID,
	"LONGTEXT":   pgtype.TextOID,
	"ENUM":       pgtype.TextOID,
	"SET":        pgtype.TextOID,
	"NULL":       pgtype.TextOID, // SELECT NULL: PostgreSQL says text too

	"BINARY":     pgtype.ByteaOID,
	"VARBINARY":  pgtype.ByteaOID,
	"BLOB":       pgtype.ByteaOID,
	"TINYBLOB":   pgtype.ByteaOID,
	"MEDIUMBLOB": pgtype.ByteaOID,
	"LONGBLOB":   pgtype.ByteaOID,
	"BIT":        pgtype.ByteaOID, // BIT(n > 1): the bits, big-endian, in ceil(n/8) bytes
	"GEOMETRY":   pgtype.ByteaOID, // MySQL's internal WKB with an SRID prefix
	"VECTOR":     pgtype.ByteaOID,

	"DATE":      pgtype.DateOID,
	"DATETIME":  pgtype.TimestampOID,
	"TIMESTAMP": pgtype.TimestampOID, // read in the session time zone, UTC by default
	"TIME":      pgtype.TimeOID,
	"JSON":      pgtype.JSONOID,
}

// typeOID maps a type name to a PostgreSQL type; unknown names are text.
func typeOID(name string) uint32 {
	if oid, ok := typeOIDs[name]; ok {
		return oid
	}
	return pgtype.TextOID
}

// declTypeName turns a column's declared type as information_schema
// writes it (COLUMN_TYPE: "tinyint(1)", "int(10) unsigned",
// "decimal(10,2)", "enum('a','b')") into the name typeOID takes. json is
// set for MariaDB's JSON columns, which it declares as longtext with a
// json_valid check.
func declTypeName(columnType string, json bool) string {
	t := strings.ToLower(strings.TrimSpace(columnType))
	base, rest, _ := strings.Cut(t, "(")
	base = strings.TrimSpace(base)
	width := ""
	if rest != "" {
		width, rest, _ = strings.Cut(rest, ")")
	} else if b, r, ok := strings.Cut(base, " "); ok {
		base, rest = b, r
	}
	unsigned := strings.Contains(rest, "unsigned")
	name := strings.ToUpper(base)
	switch {
	case json && strings.HasSuffix(name, "TEXT"):
		return "JSON"
	case name == "TINYINT" && width == "1", name == "BIT" && width == "1":
		return name + "(1)"
	case name == "INTEGER":
		name = "INT"
	case name == "NUMERIC" || name == "DEC" || name == "FIXED":
		name = "DECIMAL"
	case name == "REAL" || name == "DOUBLE PRECISION":
		name = "DOUBLE"
	}
	if unsigned {
		switch name {
		case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT":
			return "UNSIGNED " + name
		}
	}
	return name
}
