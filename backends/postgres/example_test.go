package postgres_test

import (
	"fmt"

	"github.com/xconnproxy/xconnproxy/backends/postgres"
)

func ExampleParseConfig() {
	// [connections.staging] with url =
	// "postgresql+psycopg2://jdoe:secret@staging.example.com:5432/staging_db?sslmode=disable&application_name=billing&connect_timeout=5"
	cfg, err := postgres.ParseConfig(postgres.Section{
		Username: "jdoe", Password: "secret", Host: "staging.example.com", Port: 5432, Database: "staging_db",
		Query: map[string]string{"sslmode": "disable", "application_name": "billing", "connect_timeout": "5"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Host, cfg.Port, cfg.User, cfg.Database)
	fmt.Println("TLS:", cfg.TLSConfig != nil, "connect timeout:", cfg.ConnectTimeout)
	fmt.Println("application_name:", cfg.RuntimeParams["application_name"])
	// Output:
	// staging.example.com 5432 jdoe staging_db
	// TLS: false connect timeout: 5s
	// application_name: billing
}

func ExampleParseConfig_error() {
	// The password never reaches the connection string pgconn quotes.
	_, err := postgres.ParseConfig(postgres.Section{
		Username: "jdoe", Password: `it's a secret`, Host: "staging.example.com", Database: "staging_db",
		Query: map[string]string{"sslmode": "sometimes"},
	})
	fmt.Println(err)
	// Output:
	// postgres connection settings: cannot parse `dbname='staging_db' host='staging.example.com' sslmode='sometimes' user='jdoe'`: failed to configure TLS (sslmode is invalid)
}
