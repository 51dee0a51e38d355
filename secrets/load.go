package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// LoadOptions says which files Load reads and how it resolves "env:" values.
type LoadOptions struct {
	// Files are secrets files to read, in order, later ones winning. When
	// non-empty they replace the default search, and each must exist.
	Files []string
	// Home is the directory whose .streamlit/secrets.toml is read first in
	// the default search. Empty means os.UserHomeDir; when that fails too
	// the home file is left out of the search.
	Home string
	// Dir is the project directory whose .streamlit/secrets.toml is read
	// second in the default search. Empty means os.Getwd; when that fails,
	// "." is used.
	Dir string
	// LookupEnv resolves "env:VAR" values. Nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Config is the merged content of the secrets files. Load returns a new one
// each time and nothing changes it afterwards, so it may be read from many
// goroutines.
type Config struct {
	// Files are the files searched, in order, whether they existed or not.
	Files []string
	// Loaded are the files that existed and were read, in order.
	Loaded []string
	// Connections are the valid sections, by name.
	Connections map[string]*Connection
	// Invalid are the sections that failed validation, by name; each error
	// is a *SectionError. An invalid section never keeps the others out.
	Invalid map[string]error
	// Routes is [xconnproxy.routes]: a database name clients ask for, to a
	// connection name or "env:VAR", unresolved (the router resolves them
	// when a client connects).
	Routes map[string]string
	// Settings is the rest of the merged [xconnproxy] table (listen,
	// log_level, ...), raw as go-toml decoded it, "env:" not resolved.
	Settings map[string]any
	// Problems are keys outside the connection sections that were ignored
	// because they have the wrong shape (a route that is not a string, a
	// connections key that is not a table), each naming the key and the fix.
	Problems []error
}

// DefaultFiles returns the secrets files Streamlit reads, in the order it
// merges them: home/.streamlit/secrets.toml, then cwd/.streamlit/secrets.toml.
func DefaultFiles(home, cwd string) []string {
	return []string{
		filepath.Join(home, ".streamlit", "secrets.toml"),
		filepath.Join(cwd, ".streamlit", "secrets.toml"),
	}
}

// Load reads and merges the secrets files (opts.Files, or DefaultFiles) and
// validates every [connections.<name>] section. It fails only when a file
// cannot be read (a missing default file is skipped, a missing explicit file
// is an error) or does not parse as TOML; both are a *FileError. A section
// that fails validation goes to Config.Invalid and the others load.
func Load(opts LoadOptions) (*Config, error) {
	files, explicit := opts.Files, true
	if len(files) == 0 {
		files, explicit = defaultSearch(opts.Home, opts.Dir), false
	}
	cfg := &Config{
		Files:       append([]string(nil), files...),
		Connections: map[string]*Connection{},
		Invalid:     map[string]error{},
		Routes:      map[string]string{},
		Settings:    map[string]any{},
	}

	merged := map[string]any{}
	var docs []loadedFile
	for _, path := range files {
		doc, err := readFile(path)
		if err != nil {
			if !explicit && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		cfg.Loaded = append(cfg.Loaded, path)
		docs = append(docs, loadedFile{path: path, doc: doc})
		mergeTables(merged, doc)
	}

	cfg.loadConnections(merged, docs, opts.LookupEnv)
	cfg.loadOwnTable(merged)
	return cfg, nil
}

type loadedFile struct {
	path string
	doc  map[string]any
}

// defaultSearch fills in the home and project directories for DefaultFiles.
func defaultSearch(home, dir string) []string {
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			dir = "."
		}
	}
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return DefaultFiles("", dir)[1:]
		}
	}
	return DefaultFiles(home, dir)
}

// readFile reads and parses one file. A syntax error keeps go-toml's line and
// column; only its short message goes into Error, since its long form quotes
// the line, which may hold a password.
func readFile(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in FileError already
		}
		return nil, &FileError{File: path, Err: err}
	}
	doc := map[string]any{}
	if err := toml.Unmarshal(data, &doc); err != nil {
		fe := &FileError{File: path, Err: err}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			fe.Line, fe.Column = de.Position()
		}
		return nil, fe
	}
	return doc, nil
}

// mergeTables merges src into dst key by key: tables merge recursively, any
// other value replaces what dst had. Tables from src are copied, so that dst
// never shares a map with a file's document.
func mergeTables(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			dv, ok := dst[k].(map[string]any)
			if !ok {
				dv = map[string]any{}
				dst[k] = dv
			}
			mergeTables(dv, sv)
			continue
		}
		dst[k] = v
	}
}

// definedIn returns the files whose document has the key path.
func definedIn(docs []loadedFile, path ...string) []string {
	var files []string
	for _, f := range docs {
		var v any = f.doc
		for _, k := range path {
			t, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			if v, ok = t[k]; !ok {
				break
			}
		}
		if v != nil {
			files = append(files, f.path)
		}
	}
	return files
}

func (cfg *Config) loadConnections(merged map[string]any, docs []loadedFile, lookup func(string) (string, bool)) {
	raw, ok := merged["connections"]
	if !ok {
		return
	}
	conns, ok := raw.(map[string]any)
	if !ok {
		cfg.Problems = append(cfg.Problems, fmt.Errorf(
			"secrets: connections in %s: %w: must be a table of [connections.<name>] sections; ignored",
			strings.Join(definedIn(docs, "connections"), ", "), ErrBadValue))
		return
	}
	for name, section := range conns {
		sources := definedIn(docs, "connections", name)
		c, err := newConnection(name, section, lookup)
		if err != nil {
			se := &SectionError{Section: name, Files: sources, Err: err}
			var ke *keyError
			if errors.As(err, &ke) {
				se.Key, se.Err = ke.key, ke.err
			}
			cfg.Invalid[name] = se
			continue
		}
		c.Sources = sources
		cfg.Connections[name] = c
	}
}

// loadOwnTable splits [xconnproxy] into Routes and Settings.
func (cfg *Config) loadOwnTable(merged map[string]any) {
	own, ok := merged["xconnproxy"].(map[string]any)
	if !ok {
		if _, present := merged["xconnproxy"]; present {
			cfg.Problems = append(cfg.Problems, fmt.Errorf(
				"secrets: xconnproxy: %w: must be a table, [xconnproxy]; ignored", ErrBadValue))
		}
		return
	}
	for k, v := range own {
		if k != "routes" {
			cfg.Settings[k] = v
		}
	}
	raw, ok := own["routes"]
	if !ok {
		return
	}
	routes, ok := raw.(map[string]any)
	if !ok {
		cfg.Problems = append(cfg.Problems, fmt.Errorf(
			"secrets: xconnproxy.routes: %w: must be a table, [xconnproxy.routes] with name = \"connection\" lines; ignored",
			ErrBadValue))
		return
	}
	for _, name := range sortedKeys(routes) {
		target, ok := routes[name].(string)
		if !ok {
			cfg.Problems = append(cfg.Problems, fmt.Errorf(
				"secrets: xconnproxy.routes.%s: %w: want a connection name or \"env:VAR\", not %s; ignored",
				tomlKey(name), ErrBadValue, describe(routes[name])))
			continue
		}
		cfg.Routes[name] = target
	}
}

// Names returns every section name, valid and invalid, sorted.
func (cfg *Config) Names() []string {
	names := make([]string, 0, len(cfg.Connections)+len(cfg.Invalid))
	for n := range cfg.Connections {
		names = append(names, n)
	}
	for n := range cfg.Invalid {
		if _, dup := cfg.Connections[n]; !dup {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Lookup returns the connection named name: its *SectionError when the
// section is invalid, or an error wrapping ErrNotFound that names the files
// searched. Routes are not followed; that is the router's job.
func (cfg *Config) Lookup(name string) (*Connection, error) {
	if c, ok := cfg.Connections[name]; ok {
		return c, nil
	}
	if err, ok := cfg.Invalid[name]; ok {
		return nil, err
	}
	return nil, fmt.Errorf("secrets: %w: [connections.%s] is in none of %s", ErrNotFound, tomlKey(name), cfg.searched())
}

func (cfg *Config) searched() string {
	if len(cfg.Files) == 0 {
		return "no files"
	}
	return strings.Join(cfg.Files, ", ")
}
