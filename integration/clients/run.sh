#!/usr/bin/env bash
# Run every driver script whose runtime is available against one PostgreSQL URL.
#
#   integration/clients/run.sh [URL]
#
# URL defaults to $XCONNPROXY_URL, else postgresql://postgres@127.0.0.1:6544/pets_db.
# Installs nothing: a driver whose runtime or library is missing is skipped
# with the command that would install it. Exits non-zero if any script fails
# (or if none could run).
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
url="${1:-${XCONNPROXY_URL:-postgresql://postgres@127.0.0.1:6544/pets_db}}"

ran=0
failed=0
skipped=0
failures=()

run() { # name, command...
  local name="$1"
  shift
  echo "=== $name"
  ran=$((ran + 1))
  if "$@"; then
    :
  else
    failed=$((failed + 1))
    failures+=("$name")
  fi
  echo
}

skip() { # name, reason
  echo "=== $1: skipped ($2)"
  echo
  skipped=$((skipped + 1))
}

# Debian's python3-psycopg / python3-sqlalchemy live in /usr/lib/python3/dist-packages,
# which only Debian's /usr/bin/python3 sees (a pyenv or venv python3 may not).
find_python() { # module to import
  local py
  for py in "${PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c "import $1" >/dev/null 2>&1; then
      echo "$py"
      return 0
    fi
  done
  return 1
}

if py="$(find_python psycopg)"; then
  run "psycopg 3 (python/psycopg_pets.py)" "$py" "$here/python/psycopg_pets.py" "$url"
else
  skip "psycopg 3" "apt-get install -y python3-psycopg"
fi

if py="$(find_python 'sqlalchemy, psycopg')" || py="$(find_python 'sqlalchemy, psycopg2')"; then
  run "SQLAlchemy (python/sqlalchemy_pets.py)" "$py" "$here/python/sqlalchemy_pets.py" "$url"
else
  skip "SQLAlchemy" "apt-get install -y python3-sqlalchemy python3-psycopg (SQLAlchemy 1.4 also needs python3-psycopg2)"
fi

if command -v node >/dev/null 2>&1; then
  if [ -d "$here/node/node_modules/pg" ]; then
    run "node-postgres (node/pets.js)" node "$here/node/pets.js" "$url"
  else
    skip "node-postgres" "cd $here/node && npm ci"
  fi
else
  skip "node-postgres" "no node; apt-get install -y nodejs npm, then npm ci in node/"
fi

jar="${PGJDBC_JAR:-/usr/share/java/postgresql.jar}"
if command -v java >/dev/null 2>&1; then
  if [ -f "$jar" ]; then
    # Java 11+ runs a single source file directly; no javac step.
    run "pgjdbc (java/Pets.java)" java -cp "$jar" "$here/java/Pets.java" "$url"
  else
    skip "pgjdbc" "apt-get install -y libpostgresql-jdbc-java (or set PGJDBC_JAR)"
  fi
else
  skip "pgjdbc" "no java; apt-get install -y default-jdk-headless libpostgresql-jdbc-java"
fi

if [ "$failed" -gt 0 ]; then
  echo "failed: ${failures[*]}"
fi
echo "scripts: $((ran - failed)) passed, $failed failed, $skipped skipped"
if [ "$ran" -eq 0 ]; then
  echo "no driver could run" >&2
  exit 2
fi
[ "$failed" -eq 0 ]
