#!/usr/bin/env bash
# pgbench -S with 4 clients through xconnproxy, PgBouncer and pgpool-II
# while the local PostgreSQL restarts with -m fast, one target at a time;
# prints, for each, the clients pgbench aborted and the transactions that
# failed.
#
#   integration/bench/restart.sh          # 12 s per target, restart after 4 s
#
# It RESTARTS the PostgreSQL cluster at $PGHOST:$PGPORT (pg_ctlcluster, so
# it needs the rights to: root, or the postgres user), three times. Do not
# run it where others use that server. Needs pgbench (PostgreSQL's server
# package), pgbouncer and pgpool2 (Debian packages), go.
#
# PgBouncer runs its transaction pool mode (pgpool-II has no such mode; it
# runs as it does by default, in raw mode); xconnproxy runs twice, in
# transaction mode and in session mode. xconnproxy finds server
# connections that died while idle before it hands them out (in session
# mode it notices at once and gives the session a new one), waits for the
# server to come back (retry_timeout), and sends a read whose connection
# failed before any of its answer was sent again on a new connection.
set -euo pipefail
cd "$(dirname "$0")/../.."
. integration/bench/lib.sh

DURATION=${DURATION:-12}
RESTART_AFTER=${RESTART_AFTER:-4}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
DB=xcp_restart
BOUNCER_PORT=6456
PGPOOL_PORT=6457
PCP_PORT=6458
PROXY_PORT=6459
SESSION_PORT=6460

find_pgbench
command -v pgbouncer >/dev/null || { echo "pgbouncer not found: apt-get install pgbouncer"; exit 1; }
pgpool=$(command -v pgpool || ls /usr/sbin/pgpool 2>/dev/null || true)
[ -n "$pgpool" ] || { echo "pgpool not found: apt-get install pgpool2"; exit 1; }
cluster=$(ls /etc/postgresql | sort -V | tail -1)

make_work
export PGSSLMODE=disable

restart_pg() {
	pg_ctlcluster --skip-systemctl-redirect "$cluster" main restart -m fast >/dev/null 2>&1 ||
		pg_ctlcluster "$cluster" main restart -m fast
}

echo "== preparing $DB (pgbench -i -s 1)"
psql -X -q -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"$pgbench" -q -i -s 1 -h "$PGHOST" -p "$PGPORT" -U postgres "$DB" >/dev/null 2>&1

echo "== starting PgBouncer (transaction mode), pgpool-II and xconnproxy (transaction and session mode)"
cat > "$work/pgbouncer.ini" <<INI
[databases]
$DB = host=$PGHOST port=$PGPORT dbname=$DB user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = transaction
default_pool_size = 8
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
INI
echo '"postgres" ""' > "$work/userlist.txt"
chmod 644 "$work"/*
start_pgbouncer "$work/pgbouncer.ini"

# pgpool-II in raw mode (integration/bench/lib.sh), 8 children.
start_pgpool "$work/pgpool" "$PGPOOL_PORT" "$PCP_PORT" 8

go build -o "$work/xconnproxy" ./cmd/xconnproxy
for mode in transaction session; do
	cat > "$work/secrets-$mode.toml" <<TOML
[connections.$DB]
url = "postgresql://postgres@$PGHOST:$PGPORT/$DB?sslmode=disable"
pool_mode = "$mode"
pool_size = 8
TOML
	port=$PROXY_PORT
	[ "$mode" = session ] && port=$SESSION_PORT
	"$work/xconnproxy" --secrets "$work/secrets-$mode.toml" --listen "127.0.0.1:$port" --log-level warn 2>"$work/xconnproxy-$mode.log" &
	pids+=($!)
done
for port in $BOUNCER_PORT $PGPOOL_PORT $PROXY_PORT $SESSION_PORT; do
	for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
done

# run NAME PORT: pgbench -S -c 4 for DURATION seconds, PostgreSQL
# restarting after RESTART_AFTER seconds; prints "aborted failed tps".
run() {
	local log="$work/$1.pgbench"
	"$pgbench" -n -S -c 4 -j 2 -T "$DURATION" -h 127.0.0.1 -p "$2" -U postgres "$DB" >"$log" 2>&1 &
	local bench=$!
	sleep "$RESTART_AFTER"
	restart_pg
	wait "$bench" || true
	local aborted failed tps
	aborted=$(grep -c 'aborted in command' "$log" || true)
	failed=$(awk '/number of failed transactions/ { print $5; exit }' "$log")
	tps=$(awk '/^tps = / { print int($3); exit }' "$log")
	echo "${aborted:-0} ${failed:-0} ${tps:-0}"
	cp "$log" "$out/restart-$1.log"
	sleep 2 # let every pooler see the server back before the next target
}

printf 'target\taborted_clients\tfailed_transactions\ttps\n' > "$out/restart.tsv"
printf '\n%-20s %16s %20s %8s\n' target "aborted clients" "failed transactions" tps
for target in xconnproxy-transaction xconnproxy-session pgbouncer pgpool; do
	case $target in
	xconnproxy-transaction) port=$PROXY_PORT ;;
	xconnproxy-session) port=$SESSION_PORT ;;
	pgbouncer) port=$BOUNCER_PORT ;;
	pgpool) port=$PGPOOL_PORT ;;
	esac
	read -r aborted failed tps < <(run "$target" "$port")
	printf '%s\t%s\t%s\t%s\n' "$target" "$aborted" "$failed" "$tps" >> "$out/restart.tsv"
	printf '%-20s %16s %20s %8s\n' "$target" "$aborted/4" "$failed" "$tps"
done
echo
echo "raw figures: $out/restart.tsv; pgbench output: $out/restart-*.log"
