package secrets_test

import (
	"fmt"

	"github.com/xconnproxy/xconnproxy/secrets"
)

func ExampleParseURL() {
	c, err := secrets.ParseURL("postgresql+psycopg2://jdoe:p%40ss@db.example.com:5433/sales?sslmode=require")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Dialect, c.Driver, c.Username, c.Password, c.Host, c.Port, c.Database, c.Query)
	fmt.Println(c) // the password is never printed

	_, err = secrets.ParseURL("postgresql://jdoe:s3cret@db.example.com:notaport/sales")
	fmt.Println(err)
	// Output:
	// postgresql psycopg2 jdoe p@ss db.example.com 5433 sales map[sslmode:require]
	// postgresql+psycopg2://jdoe:***@db.example.com:5433/sales?sslmode=require
	// bad connection URL: bad port: want a number from 1 to 65535
}

func ExampleLoad() {
	// testdata/home and testdata/project each hold a .streamlit/secrets.toml;
	// the project's is merged over the home one.
	cfg, err := secrets.Load(secrets.LoadOptions{
		Home: "testdata/home",
		Dir:  "testdata/project",
		LookupEnv: func(name string) (string, bool) {
			if name == "STAGING_PG_PASSWORD" {
				return "from-the-environment", true
			}
			return "", false
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range cfg.Names() {
		if c, ok := cfg.Connections[name]; ok {
			fmt.Printf("%s: %v\n", name, c)
		} else {
			fmt.Println(cfg.Invalid[name])
		}
	}
	fmt.Println("staging password from the environment:", cfg.Connections["staging"].Password != "")
	fmt.Println("routes:", cfg.Routes)
	fmt.Println("settings:", cfg.Settings)
	// Output:
	// analytics: postgresql+psycopg2://analyst:***@db.internal/analytics?sslmode=require
	// local: mysql://me:***@localhost:3306/local_db
	// pets_db: sqlite:///pets.db
	// staging: postgresql://jdoe:***@staging.example.com:5432/staging_db
	// secrets: [connections.warehouse] in testdata/project/.streamlit/secrets.toml: type: unsupported connection type "snowflake": xconnproxy serves sql connections; set type = "sql" or remove the key
	// staging password from the environment: true
	// routes: map[app:env:DB_CONN pets:pets_db]
	// settings: map[listen:127.0.0.1:5432 log_level:debug]
}
