package integration

import (
	"context"
	"database/sql"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// The pets example of Streamlit's "Connecting to data" guide: create
// pet_owners, insert with parameters in one transaction, read back.
var pets = [][2]string{{"jerry", "fish"}, {"barbara", "cat"}, {"alex", "puppy"}}

func TestPetsPgxEveryMode(t *testing.T) {
	p := startProxy(t, sqliteSecrets("pets_db"))
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := ctxT(t)
			c := p.Connect(t, "pets_db", mode)
			mustExec(t, c, "DROP TABLE IF EXISTS pet_owners")
			mustExec(t, c, "CREATE TABLE pet_owners (person TEXT, pet TEXT)")
			tx, err := c.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, po := range pets {
				if _, err := tx.Exec(ctx, "INSERT INTO pet_owners (person, pet) VALUES ($1, $2)", po[0], po[1]); err != nil {
					t.Fatalf("insert %v: %v", po, err)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			rows, err := c.Query(ctx, "SELECT person, pet FROM pet_owners ORDER BY person")
			if err != nil {
				t.Fatal(err)
			}
			got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
				var a, b string
				err := r.Scan(&a, &b)
				return [2]string{a, b}, err
			})
			if err != nil {
				t.Fatal(err)
			}
			want := [][2]string{{"alex", "puppy"}, {"barbara", "cat"}, {"jerry", "fish"}}
			if len(got) != len(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("row %d: got %v, want %v", i, got[i], want[i])
				}
			}
			if tag := rows.CommandTag().String(); tag != "SELECT 3" {
				t.Errorf("command tag %q, want SELECT 3", tag)
			}
		})
	}
}

func TestPetsDatabaseSQL(t *testing.T) {
	p := startProxy(t, sqliteSecrets("pets_db"))
	db, err := sql.Open("pgx", p.URL("pets_db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := ctxT(t)
	if _, err := db.ExecContext(ctx, "CREATE TABLE pet_owners (person TEXT, pet TEXT)"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, po := range pets {
		if _, err := tx.ExecContext(ctx, "INSERT INTO pet_owners (person, pet) VALUES ($1, $2)", po[0], po[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pet_owners WHERE pet <> $1", "cat").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("count = %d, want 2", n)
	}
	var pet string
	if err := db.QueryRowContext(ctx, "SELECT pet FROM pet_owners WHERE person = $1", "jerry").Scan(&pet); err != nil || pet != "fish" {
		t.Fatalf("jerry's pet = %q, %v", pet, err)
	}
}

func TestPetsPsql(t *testing.T) {
	psql := psqlPath(t)
	p := startProxy(t, sqliteSecrets("pets_db"))
	script := `
CREATE TABLE pet_owners (person TEXT, pet TEXT);
BEGIN;
INSERT INTO pet_owners (person, pet) VALUES ('jerry', 'fish');
INSERT INTO pet_owners (person, pet) VALUES ('barbara', 'cat');
INSERT INTO pet_owners (person, pet) VALUES ('alex', 'puppy');
COMMIT;
SELECT * FROM pet_owners ORDER BY person;
`
	cmd := exec.Command(psql, "-X", "-v", "ON_ERROR_STOP=1", "-d", p.URL("pets_db"))
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	want := ` person  |  pet  
---------+-------
 alex    | puppy
 barbara | cat
 jerry   | fish
(3 rows)`
	if !strings.Contains(string(out), want) {
		t.Fatalf("psql output:\n%s\nwant it to contain:\n%s", out, want)
	}
	for _, tag := range []string{"CREATE TABLE", "BEGIN", "INSERT 0 1", "COMMIT"} {
		if !strings.Contains(string(out), tag) {
			t.Errorf("psql output lacks %q:\n%s", tag, out)
		}
	}
}

func mustExec(t testing.TB, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
