package secrets

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
)

// parts is what ParseURL fills in, for comparing in tests.
type parts struct {
	Dialect, Driver, Username, Password, Host string
	Port                                      int
	Database                                  string
	Query                                     map[string]string
}

func partsOf(c *Connection) parts {
	q := c.Query
	if len(q) == 0 {
		q = nil
	}
	return parts{c.Dialect, c.Driver, c.Username, c.Password, c.Host, c.Port, c.Database, q}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want parts
	}{
		{"postgres full", "postgresql://jdoe:pw@db.example.com:5433/sales",
			parts{Dialect: "postgresql", Username: "jdoe", Password: "pw", Host: "db.example.com", Port: 5433, Database: "sales"}},
		{"postgres alias", "postgres://u@h/db",
			parts{Dialect: "postgresql", Username: "u", Host: "h", Database: "db"}},
		{"psql alias", "psql://h", parts{Dialect: "postgresql", Host: "h"}},
		{"dialect case folded", "PostgreSQL://h", parts{Dialect: "postgresql", Host: "h"}},
		{"psycopg2 driver", "postgresql+psycopg2://u:p@h:5432/d",
			parts{Dialect: "postgresql", Driver: "psycopg2", Username: "u", Password: "p", Host: "h", Port: 5432, Database: "d"}},
		{"pymysql driver", "mysql+pymysql://me:secret@localhost:3306/local_db",
			parts{Dialect: "mysql", Driver: "pymysql", Username: "me", Password: "secret", Host: "localhost", Port: 3306, Database: "local_db"}},
		{"mariadbconnector driver", "mariadb+mariadbconnector://u:p@maria/app",
			parts{Dialect: "mariadb", Driver: "mariadbconnector", Username: "u", Password: "p", Host: "maria", Database: "app"}},
		{"no port", "mysql://u:p@h/d",
			parts{Dialect: "mysql", Username: "u", Password: "p", Host: "h", Database: "d"}},
		{"empty port is no port", "mysql://h:/d", parts{Dialect: "mysql", Host: "h", Database: "d"}},
		{"no database", "postgresql://u:p@h:5432",
			parts{Dialect: "postgresql", Username: "u", Password: "p", Host: "h", Port: 5432}},
		{"only dialect", "postgresql://", parts{Dialect: "postgresql"}},
		{"password with colons", "postgresql://u:a:b:c@h/d",
			parts{Dialect: "postgresql", Username: "u", Password: "a:b:c", Host: "h", Database: "d"}},
		{"password with slash and question mark", "postgresql://u:a/b?c@h/d",
			parts{Dialect: "postgresql", Username: "u", Password: "a/b?c", Host: "h", Database: "d"}},
		{"percent-encoded password with @ and /", "postgresql://u:p%40ss%2Fw%3Ard@h/d",
			parts{Dialect: "postgresql", Username: "u", Password: "p@ss/w:rd", Host: "h", Database: "d"}},
		{"plus in password stays plus", "postgresql://u:a+b@h/d",
			parts{Dialect: "postgresql", Username: "u", Password: "a+b", Host: "h", Database: "d"}},
		{"bad escape kept as written", "postgresql://u:100%zz@h/d",
			parts{Dialect: "postgresql", Username: "u", Password: "100%zz", Host: "h", Database: "d"}},
		{"percent-encoded user", "postgresql://j%40doe%3A:p@h/d",
			parts{Dialect: "postgresql", Username: "j@doe:", Password: "p", Host: "h", Database: "d"}},
		{"user with raw @", "postgresql://a@b:p@h/d",
			parts{Dialect: "postgresql", Username: "a@b", Password: "p", Host: "h", Database: "d"}},
		{"empty user with password", "postgresql://:p@h/d",
			parts{Dialect: "postgresql", Password: "p", Host: "h", Database: "d"}},
		{"percent-encoded host", "postgresql://my%2Dhost/d", parts{Dialect: "postgresql", Host: "my-host", Database: "d"}},
		{"percent-encoded database", "postgresql://h/my%20db", parts{Dialect: "postgresql", Host: "h", Database: "my db"}},
		{"ipv6 with port", "postgresql://u:p@[2001:db8::1]:5432/d",
			parts{Dialect: "postgresql", Username: "u", Password: "p", Host: "2001:db8::1", Port: 5432, Database: "d"}},
		{"ipv6 loopback no port", "mysql://[::1]/d", parts{Dialect: "mysql", Host: "::1", Database: "d"}},
		{"ipv6 zone", "postgresql://[fe80::1%25eth0]:5432/d",
			parts{Dialect: "postgresql", Host: "fe80::1%eth0", Port: 5432, Database: "d"}},
		{"query", "postgresql://h/d?sslmode=require&application_name=my+app&x=%2F",
			parts{Dialect: "postgresql", Host: "h", Database: "d",
				Query: map[string]string{"sslmode": "require", "application_name": "my app", "x": "/"}}},
		{"query drops blank and bare fields", "postgresql://h/d?a=&b&&c=1",
			parts{Dialect: "postgresql", Host: "h", Database: "d", Query: map[string]string{"c": "1"}}},
		{"query value with =", "postgresql://h/d?options=-c%20x=y",
			parts{Dialect: "postgresql", Host: "h", Database: "d", Query: map[string]string{"options": "-c x=y"}}},
		{"query without database", "postgresql://h?sslmode=disable",
			parts{Dialect: "postgresql", Host: "h", Query: map[string]string{"sslmode": "disable"}}},
		{"sqlite relative", "sqlite:///relative.db", parts{Dialect: "sqlite", Database: "relative.db"}},
		{"sqlite relative dir", "sqlite:///data/pets.db", parts{Dialect: "sqlite", Database: "data/pets.db"}},
		{"sqlite absolute", "sqlite:////abs/path.db", parts{Dialect: "sqlite", Database: "/abs/path.db"}},
		{"sqlite memory empty", "sqlite://", parts{Dialect: "sqlite"}},
		{"sqlite memory named", "sqlite:///:memory:", parts{Dialect: "sqlite", Database: ":memory:"}},
		{"sqlite with driver and query", "sqlite+pysqlite:///file.db?mode=ro&uri=true",
			parts{Dialect: "sqlite", Driver: "pysqlite", Database: "file.db", Query: map[string]string{"mode": "ro", "uri": "true"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseURL(tt.raw)
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tt.raw, err)
			}
			if got := partsOf(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseURL(%q)\n got %+v\nwant %+v", tt.raw, got, tt.want)
			}
			// What URL renders (password shown) must read back the same.
			back, err := ParseURL(c.render(false))
			if err != nil {
				t.Fatalf("ParseURL(render) = %v", err)
			}
			if !reflect.DeepEqual(partsOf(back), tt.want) {
				t.Errorf("round trip through %q\n got %+v\nwant %+v", c.URL(), partsOf(back), tt.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		want   []error
		secret string // must not appear in the error
	}{
		{"not a url", "localhost:5432", []error{ErrBadURL}, ""},
		{"empty", "", []error{ErrBadURL}, ""},
		{"no scheme", "://u:p@h/d", []error{ErrBadURL}, ""},
		{"bad scheme char", "post-gres://h", []error{ErrBadURL}, ""},
		{"non-numeric port", "postgresql://u:s3cret@host:notaport/db", []error{ErrBadURL, ErrBadPort}, "s3cret"},
		{"port out of range", "postgresql://u:s3cret@host:65536/db", []error{ErrBadURL, ErrBadPort}, "s3cret"},
		{"port zero", "postgresql://h:0/db", []error{ErrBadURL, ErrBadPort}, ""},
		{"huge port", "postgresql://h:99999999999999999999999/db", []error{ErrBadURL, ErrBadPort}, ""},
		{"signed port", "postgresql://h:+5432/db", []error{ErrBadURL, ErrBadPort}, ""},
		{"password without @ lands in port", "postgresql://u:hunter2pass/db", []error{ErrBadURL, ErrBadPort}, "hunter2pass"},
		{"unencoded @ in password", "postgresql://u:p@ssw0rd@h/db", []error{ErrBadURL}, "ssw0rd"},
		{"text after ipv6", "postgresql://u:s3cret@[::1]5432/db", []error{ErrBadURL}, "s3cret"},
		{"newline in query", "postgresql://u:s3cret@h/db?a=1\nb=2", []error{ErrBadURL}, "s3cret"},
		{"repeated query key", "postgresql://u:s3cret@h/db?host=a&host=b", []error{ErrBadURL}, "s3cret"},
		{"empty driver", "postgresql+://h/db", []error{ErrBadURL}, ""},
		{"two drivers", "postgresql+a+b://h/db", []error{ErrBadURL}, ""},
		{"no dialect", "+psycopg2://h/db", []error{ErrBadURL}, ""},
		{"snowflake", "snowflake://u:s3cret@acct/db", []error{ErrUnsupportedDialect}, "s3cret"},
		{"mssql", "mssql+pyodbc://u:s3cret@h/db", []error{ErrUnsupportedDialect}, "s3cret"},
		{"sqlite with host", "sqlite://pets.db", []error{ErrBadURL}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseURL(tt.raw)
			if err == nil {
				t.Fatalf("ParseURL(%q) = %v, want an error", tt.raw, c)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("ParseURL(%q) = %v, want errors.Is %v", tt.raw, err, w)
				}
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q shows the password %q", err, tt.secret)
			}
		})
	}
}

func TestParseURLUnsupportedDialectNamesSupported(t *testing.T) {
	_, err := ParseURL("bigquery://project/dataset")
	for _, want := range []string{`"bigquery"`, "postgresql", "mysql", "mariadb", "sqlite"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func TestURLRendering(t *testing.T) {
	tests := []struct {
		name string
		c    Connection
		want string
	}{
		{"full", Connection{Dialect: "postgresql", Driver: "psycopg2", Username: "jdoe", Password: "pw",
			Host: "h", Port: 5432, Database: "d", Query: map[string]string{"sslmode": "require", "a b": "c&d"}},
			"postgresql+psycopg2://jdoe:***@h:5432/d?a+b=c%26d&sslmode=require"},
		{"no credentials", Connection{Dialect: "mysql", Host: "h"}, "mysql://h"},
		{"user only", Connection{Dialect: "mysql", Username: "me", Host: "h"}, "mysql://me@h"},
		{"password only", Connection{Dialect: "mysql", Password: "pw", Host: "h"}, "mysql://:***@h"},
		{"escaped user", Connection{Dialect: "mysql", Username: "a@b:c", Host: "h"}, "mysql://a%40b%3Ac@h"},
		{"ipv6", Connection{Dialect: "postgresql", Host: "::1", Port: 5432}, "postgresql://[::1]:5432"},
		{"sqlite relative", Connection{Dialect: "sqlite", Database: "pets.db"}, "sqlite:///pets.db"},
		{"sqlite absolute", Connection{Dialect: "sqlite", Database: "/var/pets.db"}, "sqlite:////var/pets.db"},
		{"sqlite memory", Connection{Dialect: "sqlite"}, "sqlite://"},
		{"sqlite named memory", Connection{Dialect: "sqlite", Database: ":memory:"}, "sqlite:///:memory:"},
		{"secret query value", Connection{Dialect: "postgresql", Host: "h",
			Query: map[string]string{"sslpassword": "keypw", "sslmode": "verify-full"}},
			"postgresql://h?sslmode=verify-full&sslpassword=***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.URL(); got != tt.want {
				t.Errorf("URL() = %q, want %q", got, tt.want)
			}
			back, err := ParseURL(tt.c.render(false))
			if err != nil {
				t.Fatalf("ParseURL(render) = %v", err)
			}
			if !reflect.DeepEqual(partsOf(back), partsOf(&tt.c)) {
				t.Errorf("round trip\n got %+v\nwant %+v", partsOf(back), partsOf(&tt.c))
			}
		})
	}
}

func TestQuote(t *testing.T) {
	if got := quote("a b+c/é", " +"); got != "a b+c%2F%C3%A9" {
		t.Errorf("quote = %q", got)
	}
	if got := quotePlus("a b&c=d"); got != "a+b%26c%3Dd" {
		t.Errorf("quotePlus = %q", got)
	}
	q := map[string]string{}
	if err := parseQuery("k=%zz&j=100%", q); err != nil || !maps.Equal(q, map[string]string{"k": "%zz", "j": "100%"}) {
		t.Errorf("parseQuery = %v, %v", q, err)
	}
}
