// Package secrets loads Streamlit secrets.toml files and turns each
// [connections.<name>] section into a validated connection spec.
//
// # Files
//
// The search mirrors Streamlit's: ~/.streamlit/secrets.toml, then
// ./.streamlit/secrets.toml (see [DefaultFiles]). A missing default file is
// skipped. Explicit files ([LoadOptions.Files]) replace the search, and each of
// them must exist. Files are merged key by key in order, later files winning:
// TOML tables merge recursively, so a project file's
//
//	[connections.staging]
//	password = "x"
//
// overrides only the password of a staging section defined in the home file.
// Any other value (string, number, array) replaces the earlier one whole.
// Streamlit itself merges only top-level keys; the deep merge is ours, so that
// a project file can override one credential without repeating the section.
//
// # Sections
//
// A section is either a SQLAlchemy URL,
//
//	url = "postgresql+psycopg2://user:pass@host:5432/db?sslmode=require"
//
// parsed exactly as SQLAlchemy's make_url parses it (see [ParseURL]), or the
// parts Streamlit passes to SQLAlchemy's URL.create: dialect, driver,
// username, password, host, port, database and query. Parts beside a url
// override that part of the url (query keys merge, the query table winning);
// Streamlit ignores parts beside a url, we let them override so that a project
// file can change one part of a url defined in the home file. Every other key
// of the section (cache_ttl, pool_size, create_engine_kwargs, ...) is kept raw
// in [Connection.Options] for the packages that own it.
//
// A section that fails validation lands in [Config.Invalid] with a
// [*SectionError] naming the section, the files and the key; it never stops
// the other sections from loading.
//
// # Environment
//
// Any string value of a connection section, at any depth, may be "env:VAR":
// Load replaces it with $VAR, and a missing variable makes that section
// invalid (the error names VAR and the key, never a value). Streamlit gives
// "env:" a meaning only for connection names; reading values from the
// environment is our extension, so that passwords need not sit in the file.
// Values inside a url string are not resolved ("postgresql://u:env:PW@h" has
// the password "env:PW"); write url = "env:DATABASE_URL" or give the password
// as its own key instead. The routes of [xconnproxy.routes] are returned
// unresolved: the router resolves them when a client connects.
//
// # Redaction
//
// No password appears in an error, in [Connection.URL], or when a Connection is
// printed with %v, %+v, %s or %#v. Query values whose key names a secret
// (password, secret, token) are redacted too.
package secrets
