package integration

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDriverScripts runs the driver scripts of integration/clients
// (psycopg 3, SQLAlchemy, node-postgres, pgjdbc) against the proxy. Each
// script runs the pets example, typed round trips, errors in transactions
// and driver-specific paths, on SQLite and on PostgreSQL in transaction
// pool mode. A script whose runtime is missing is skipped
// by run.sh; under XCONNPROXY_REQUIRE_BACKENDS=1 (CI installs them all)
// that fails the test.
func TestDriverScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("driver scripts take a few seconds; skipped with -short")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		unavailable(t, "bash is not on PATH")
	}
	t.Run("sqlite", func(t *testing.T) {
		runDriverScripts(t, bash, startProxy(t, sqliteSecrets("pets_db")))
	})
	// The same scripts against PostgreSQL in transaction pool mode, with
	// fewer server connections than the scripts' concurrent clients:
	// pgjdbc's and psycopg's server-prepared statements and node-postgres'
	// named statements move between connections.
	t.Run("postgres-transaction-mode", func(t *testing.T) {
		runDriverScripts(t, bash, startProxy(t, pgSecrets(t, "pets_db", "pool_mode = \"transaction\"\npool_size = 2"), proxyOptions{quiet: true}))
	})
}

func runDriverScripts(t *testing.T, bash string, p *testProxy) {
	url := strings.Replace(p.URL("pets_db"), "tester@", "postgres@", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, filepath.Join("clients", "run.sh"), url)
	out, err := cmd.CombinedOutput()
	t.Logf("run.sh output:\n%s", out)
	if err != nil {
		t.Fatalf("driver scripts failed: %v", err)
	}
	m := regexp.MustCompile(`scripts: (\d+) passed, (\d+) failed, (\d+) skipped`).FindSubmatch(out)
	if m == nil {
		t.Fatal("run.sh printed no summary")
	}
	if string(m[3]) != "0" {
		unavailable(t, "%s driver script(s) skipped for a missing runtime (see the output above for how to install)", m[3])
	}
}
