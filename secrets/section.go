package secrets

import (
	"fmt"
	"strconv"
	"strings"
)

// partKeys are the keys Streamlit's SQLConnection reads (plus type); every
// other key of a section goes to Options.
var partKeys = map[string]bool{
	"url": true, "type": true, "dialect": true, "driver": true, "username": true,
	"password": true, "host": true, "port": true, "database": true, "query": true,
}

// sqlTypes are the type values that name Streamlit's SQLConnection: the
// short name and the class paths st.connection also accepts.
var sqlTypes = map[string]bool{
	"":                                    true,
	"sql":                                 true,
	"streamlit.connections.SQLConnection": true,
	"streamlit.connections.sql_connection.SQLConnection": true,
}

// newConnection validates one section. Its errors are *keyError when a key is
// at fault, plain otherwise; Load wraps them in a SectionError.
func newConnection(name string, raw any, lookup func(string) (string, bool)) (*Connection, error) {
	tbl, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: connections.%s must be a table; write [connections.%s] with url = \"...\" under it",
			ErrBadValue, tomlKey(name), tomlKey(name))
	}
	resolved, err := resolveTree(tbl, "", lookup)
	if err != nil {
		return nil, err
	}
	tbl = resolved.(map[string]any)

	c := &Connection{Name: name, Query: map[string]string{}, Options: map[string]any{}}
	if v, ok := tbl["type"]; ok {
		s, isString := v.(string)
		if !isString || !sqlTypes[s] {
			what := describe(v)
			if isString {
				what = strconv.Quote(s) // a type is never secret
			}
			return nil, &keyError{key: "type", err: fmt.Errorf(
				`%w %s: xconnproxy serves sql connections; set type = "sql" or remove the key`,
				ErrUnsupportedType, what)}
		}
		if s != "" {
			c.Type = "sql"
		}
	}

	urlDialect := ""
	if v, ok := tbl["url"]; ok {
		s, isString := v.(string)
		if !isString {
			return nil, &keyError{key: "url", err: fmt.Errorf("%w: want a string, as in url = \"postgresql://user:password@host:5432/db\"", ErrBadValue)}
		}
		u, err := parseURL(s)
		if err != nil {
			return nil, &keyError{key: "url", err: err}
		}
		c.Dialect, c.Driver = u.Dialect, u.Driver
		c.Username, c.Password, c.Host, c.Port, c.Database = u.Username, u.Password, u.Host, u.Port, u.Database
		c.Query = u.Query
		urlDialect = u.Dialect
	}

	// Parts beside a url override it, one part at a time.
	if v, ok := tbl["dialect"]; ok {
		s, isString := v.(string)
		d, drv, hasDriver := strings.Cut(s, "+")
		if !isString || d == "" || (hasDriver && drv == "") {
			return nil, &keyError{key: "dialect", err: fmt.Errorf(
				"%w: want a dialect name, one of %s, optionally with +driver", ErrBadValue, supportedDialects)}
		}
		c.Dialect = strings.ToLower(d)
		switch {
		case hasDriver:
			c.Driver = drv
		case c.Dialect != urlDialect:
			c.Driver = "" // the url's driver belongs to the url's dialect
		}
	}
	if v, ok := tbl["driver"]; ok {
		s, isString := v.(string)
		if !isString {
			return nil, &keyError{key: "driver", err: fmt.Errorf("%w: want a string, as in driver = \"psycopg2\"", ErrBadValue)}
		}
		c.Driver = s
	}
	for _, p := range []struct {
		key string
		dst *string
	}{{"username", &c.Username}, {"password", &c.Password}, {"host", &c.Host}, {"database", &c.Database}} {
		v, ok := tbl[p.key]
		if !ok {
			continue
		}
		switch v := v.(type) {
		case string:
			*p.dst = v
		case int64: // password = 1234 is a TOML integer
			*p.dst = strconv.FormatInt(v, 10)
		default:
			return nil, &keyError{key: p.key, err: fmt.Errorf("%w: want a string, not %s", ErrBadValue, describe(v))}
		}
	}
	if v, ok := tbl["port"]; ok {
		port, err := portValue(v)
		if err != nil {
			return nil, &keyError{key: "port", err: err}
		}
		c.Port = port
	}
	if v, ok := tbl["query"]; ok {
		q, isTable := v.(map[string]any)
		if !isTable {
			return nil, &keyError{key: "query", err: fmt.Errorf(
				"%w: want a table, as in query = { sslmode = \"require\" }", ErrBadValue)}
		}
		for _, k := range sortedKeys(q) {
			s, ok := scalarString(q[k])
			if !ok {
				return nil, &keyError{key: joinKey("query", k), err: fmt.Errorf(
					"%w: want a string, not %s", ErrBadValue, describe(q[k]))}
			}
			c.Query[k] = s
		}
	}

	if c.Dialect == "" {
		return nil, fmt.Errorf(`%w: add url = "postgresql://user:password@host:5432/db", `+
			`or dialect = "postgresql" with host, port, username, password and database`, ErrNoURL)
	}
	dialectKey := "url"
	if _, ok := tbl["dialect"]; ok {
		dialectKey = "dialect"
	}
	if c.Dialect, err = normalizeDialect(c.Dialect); err != nil {
		return nil, &keyError{key: dialectKey, err: err}
	}
	if err := checkSQLiteHost(c); err != nil {
		if _, ok := tbl["host"]; ok {
			return nil, &keyError{key: "host", err: fmt.Errorf("%w: %w", ErrBadValue, err)}
		}
		return nil, &keyError{key: "url", err: fmt.Errorf("%w: %w", ErrBadURL, err)}
	}

	for k, v := range tbl {
		if !partKeys[k] {
			c.Options[k] = v
		}
	}
	return c, nil
}

// portValue reads a port key: a TOML integer or a string of digits, 1 to
// 65535.
func portValue(v any) (int, error) {
	switch v := v.(type) {
	case int64:
		if v < 1 || v > 65535 {
			return 0, fmt.Errorf("%w: out of range, want 1 to 65535", ErrBadPort)
		}
		return int(v), nil
	case string:
		return parsePort(v)
	default:
		return 0, fmt.Errorf("%w: want a number from 1 to 65535, not %s", ErrBadPort, describe(v))
	}
}

// scalarString writes a query value as the string a url would carry.
func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case int64:
		return strconv.FormatInt(v, 10), true
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// describe names the kind of a value for an error without printing the value.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return "a string"
	case map[string]any:
		return "a table"
	case []any:
		return "an array"
	case int64, float64:
		return "a number"
	case bool:
		return "a boolean"
	default:
		return fmt.Sprintf("a %T", v)
	}
}
