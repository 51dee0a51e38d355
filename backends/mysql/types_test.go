package mysql

import (
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// The mapping the issue asks for (issue 4, "Types map to PostgreSQL
// types"), from each way a column reaches the mapping: a column definition
// (field.typeName) and a declared type (declTypeName).
func TestTypeMapping(t *testing.T) {
	tests := []struct {
		name string
		f    field  // a result column definition
		decl string // the same column in information_schema.COLUMNS.COLUMN_TYPE
		want uint32
	}{
		{"BOOL", field{typ: typeTiny, length: 1, charset: binaryCharset}, "tinyint(1)", pgtype.BoolOID},
		{"TINYINT", field{typ: typeTiny, length: 4, charset: binaryCharset}, "tinyint(4)", pgtype.Int2OID},
		{"TINYINT UNSIGNED", field{typ: typeTiny, length: 3, flags: flagUnsigned, charset: binaryCharset}, "tinyint(3) unsigned", pgtype.Int2OID},
		{"SMALLINT", field{typ: typeShort, length: 6}, "smallint(6)", pgtype.Int2OID},
		{"SMALLINT UNSIGNED", field{typ: typeShort, length: 5, flags: flagUnsigned}, "smallint(5) unsigned", pgtype.Int4OID},
		{"MEDIUMINT", field{typ: typeInt24, length: 9}, "mediumint(9)", pgtype.Int4OID},
		{"MEDIUMINT UNSIGNED", field{typ: typeInt24, length: 8, flags: flagUnsigned}, "mediumint(8) unsigned", pgtype.Int4OID},
		{"INT", field{typ: typeLong, length: 11}, "int(11)", pgtype.Int4OID},
		{"INT UNSIGNED", field{typ: typeLong, length: 10, flags: flagUnsigned}, "int(10) unsigned", pgtype.Int8OID},
		{"BIGINT", field{typ: typeLongLong, length: 20}, "bigint(20)", pgtype.Int8OID},
		{"BIGINT UNSIGNED", field{typ: typeLongLong, length: 20, flags: flagUnsigned}, "bigint(20) unsigned", pgtype.NumericOID},
		{"DECIMAL", field{typ: typeNewDecimal, length: 12, decimals: 2}, "decimal(10,2)", pgtype.NumericOID},
		{"FLOAT", field{typ: typeFloat, length: 12}, "float", pgtype.Float4OID},
		{"DOUBLE", field{typ: typeDouble, length: 22}, "double", pgtype.Float8OID},
		{"CHAR", field{typ: typeString, length: 12, charset: 45}, "char(3)", pgtype.TextOID},
		{"VARCHAR", field{typ: typeVarString, length: 40, charset: 45}, "varchar(10)", pgtype.TextOID},
		{"TEXT", field{typ: typeBlob, length: 65535, charset: 45}, "text", pgtype.TextOID},
		{"LONGTEXT", field{typ: typeBlob, length: 4294967295, charset: 45}, "longtext", pgtype.TextOID},
		{"ENUM", field{typ: typeString, flags: flagEnum, charset: 45}, "enum('a','b')", pgtype.TextOID},
		{"SET", field{typ: typeString, flags: flagSet, charset: 45}, "set('x','y')", pgtype.TextOID},
		{"BINARY", field{typ: typeString, length: 2, charset: binaryCharset}, "binary(2)", pgtype.ByteaOID},
		{"VARBINARY", field{typ: typeVarString, length: 4, charset: binaryCharset}, "varbinary(4)", pgtype.ByteaOID},
		{"BLOB", field{typ: typeBlob, length: 65535, charset: binaryCharset}, "blob", pgtype.ByteaOID},
		{"LONGBLOB", field{typ: typeBlob, length: 4294967295, charset: binaryCharset}, "longblob", pgtype.ByteaOID},
		{"DATE", field{typ: typeDate, length: 10}, "date", pgtype.DateOID},
		{"DATETIME", field{typ: typeDateTime, length: 26, decimals: 6}, "datetime(6)", pgtype.TimestampOID},
		{"TIMESTAMP", field{typ: typeTimestamp, length: 19}, "timestamp", pgtype.TimestampOID},
		{"TIME", field{typ: typeTime, length: 14, decimals: 3}, "time(3)", pgtype.TimeOID},
		{"YEAR", field{typ: typeYear, length: 4, flags: flagUnsigned}, "year(4)", pgtype.Int2OID},
		{"JSON (MySQL)", field{typ: typeJSON, charset: binaryCharset}, "json", pgtype.JSONOID},
		{"BIT(1)", field{typ: typeBit, length: 1, flags: flagUnsigned}, "bit(1)", pgtype.BoolOID},
		{"BIT(5)", field{typ: typeBit, length: 5, flags: flagUnsigned}, "bit(5)", pgtype.ByteaOID},
		{"GEOMETRY", field{typ: typeGeometry, charset: binaryCharset}, "geometry", pgtype.ByteaOID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := typeOID(tt.f.typeName()); got != tt.want {
				t.Errorf("column definition %+v: %q -> oid %d, want %d", tt.f, tt.f.typeName(), got, tt.want)
			}
			if got := typeOID(declTypeName(tt.decl, false)); got != tt.want {
				t.Errorf("declared %q: %q -> oid %d, want %d", tt.decl, declTypeName(tt.decl, false), got, tt.want)
			}
		})
	}
}

// MariaDB declares JSON as LONGTEXT with a json_valid() check; the check
// (found by schema.go) makes it json, the declaration alone is text.
func TestDeclTypeNameMariaDBJSON(t *testing.T) {
	if got := typeOID(declTypeName("longtext", true)); got != pgtype.JSONOID {
		t.Errorf("longtext with json_valid check -> %d, want json", got)
	}
	if got := typeOID(declTypeName("longtext", false)); got != pgtype.TextOID {
		t.Errorf("plain longtext -> %d, want text", got)
	}
	if got := typeOID(declTypeName("int(11)", true)); got != pgtype.Int4OID {
		t.Errorf("a json_valid check on an int column -> %d, want int4", got)
	}
}

func TestDeclTypeNameSpellings(t *testing.T) {
	tests := []struct{ decl, want string }{
		{"int unsigned", "UNSIGNED INT"}, // MySQL 8 drops the display width
		{"int(10) unsigned zerofill", "UNSIGNED INT"},
		{"tinyint(1) unsigned", "TINYINT(1)"},
		{"TINYINT(1)", "TINYINT(1)"},
		{"tinyint", "TINYINT"},
		{"decimal(65,30)", "DECIMAL"},
		{"double precision", "DOUBLE"},
		{"varchar(255)", "VARCHAR"},
		{"enum('a(',')')", "ENUM"},
	}
	for _, tt := range tests {
		if got := declTypeName(tt.decl, false); got != tt.want {
			t.Errorf("declTypeName(%q) = %q, want %q", tt.decl, got, tt.want)
		}
	}
}

func TestUnknownTypeIsText(t *testing.T) {
	for _, name := range []string{"", "NEWTYPE", "UUID"} {
		if got := typeOID(name); got != pgtype.TextOID {
			t.Errorf("typeOID(%q) = %d, want text", name, got)
		}
	}
}
