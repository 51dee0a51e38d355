#!/usr/bin/env bash
# pgbench -S through xconnproxy, PgBouncer and directly, in one run.
#
#   integration/bench/pgbench.sh            # 10 s per cell
#   DURATION=30 integration/bench/pgbench.sh
#
# Needs: a PostgreSQL at $PGHOST:$PGPORT (default 127.0.0.1:5432, user
# postgres, trust), pgbench (PostgreSQL's server package ships it), pgbouncer
# (Debian: apt-get install pgbouncer), go; gnuplot for the plot (optional).
# Prints one table of transactions per second and each proxy's ratio to
# direct, and writes the raw figures to integration/bench/out/pgbench.tsv and
# the plot to integration/bench/out/pgbench.png (docs/img/pgbench.png is one).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10}
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-"1 8 64"}
MODES=${MODES:-"simple extended prepared"}
POOL=${POOL:-64}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
DB=xcp_bench
BOUNCER_PORT=6436
PROXY_PORT=6437

pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -1)
[ -x "$pgbench" ] || { echo "pgbench not found (it comes with the PostgreSQL server package)"; exit 1; }
command -v pgbouncer >/dev/null || { echo "pgbouncer not found: apt-get install pgbouncer"; exit 1; }

work=$(mktemp -d)
chmod 755 "$work"
out=integration/bench/out
mkdir -p "$out"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

echo "== preparing $DB (pgbench -i -s $SCALE)"
psql -X -q -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"$pgbench" -q -i -s "$SCALE" -h "$PGHOST" -p "$PGPORT" -U postgres "$DB" >/dev/null 2>&1

echo "== starting PgBouncer (session mode, pool $POOL) and xconnproxy (session mode, pool $POOL)"
cat > "$work/pgbouncer.ini" <<INI
[databases]
$DB = host=$PGHOST port=$PGPORT dbname=$DB user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = session
default_pool_size = $POOL
max_client_conn = 1000
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
log_connections = 0
log_disconnections = 0
server_idle_timeout = 1
INI
echo '"postgres" ""' > "$work/userlist.txt"
chmod 644 "$work"/*
# PgBouncer refuses to run as root: as root, run it as postgres, which then
# needs to write its log and pid file in the work directory.
if [ "$(id -u)" = 0 ]; then bouncer_user=(-u postgres); chown postgres "$work"; else bouncer_user=(); fi
pgbouncer "${bouncer_user[@]}" "$work/pgbouncer.ini" 2>/dev/null &
pids+=($!)

go build -o "$work/xconnproxy" ./cmd/xconnproxy
cat > "$work/secrets.toml" <<TOML
[connections.$DB]
url = "postgresql://postgres@$PGHOST:$PGPORT/$DB?sslmode=disable"
pool_size = $POOL
pool_idle_timeout = "1s"
TOML
"$work/xconnproxy" --secrets "$work/secrets.toml" --listen "127.0.0.1:$PROXY_PORT" --log-level warn &
pids+=($!)
for port in $BOUNCER_PORT $PROXY_PORT; do
	for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
done

# Every leg in plain TCP, as PgBouncer talks to the server by default:
# libpq's sslmode=prefer would encrypt only the direct and proxy legs.
export PGSSLMODE=disable

# Both poolers close idle server connections after 1 s, and each run waits
# for that: PostgreSQL's max_connections (100 by default) cannot hold two
# idle pools of 64 and a third run's 64 at once.
tps() { # port mode clients
	local jobs=$(( $3 < 2 ? 1 : 2 )) v
	v=$("$pgbench" -n -S -M "$2" -c "$3" -j "$jobs" -T "$DURATION" -h 127.0.0.1 -p "$1" -U postgres "$DB" 2>"$work/pgbench.err" |
		awk '/^tps = / { print int($3); exit }') || true
	sleep 3
	if [ -z "$v" ]; then
		echo "pgbench failed on port $1 ($2, $3 clients): $(tail -1 "$work/pgbench.err")" >&2
		v=n/a
	fi
	echo "$v"
}

ratio() { if [ "$1" = n/a ] || [ "$2" = n/a ]; then echo n/a; else printf '%.2f' "$(echo "$1 / $2" | bc -l)"; fi; }

printf 'mode\tclients\tdirect\tpgbouncer\txconnproxy\n' > "$out/pgbench.tsv"
printf '\n%-9s %7s %10s %10s %10s %10s %10s\n' mode clients direct pgbouncer xconnproxy "pgb/dir" "xcp/dir"
for mode in $MODES; do
	for c in $CLIENTS; do
		d=$(tps "$PGPORT" "$mode" "$c"); b=$(tps "$BOUNCER_PORT" "$mode" "$c"); x=$(tps "$PROXY_PORT" "$mode" "$c")
		printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$c" "$d" "$b" "$x" >> "$out/pgbench.tsv"
		printf '%-9s %7s %10s %10s %10s %10s %10s\n' "$mode" "$c" "$d" "$b" "$x" "$(ratio "$b" "$d")" "$(ratio "$x" "$d")"
	done
done
echo
echo "raw figures: $out/pgbench.tsv"

# The plot for docs/benchmarks.md, when gnuplot is installed.
if command -v gnuplot >/dev/null 2>&1; then
	awk -F'\t' 'NR > 1 && $3 != "n/a" {
		b = ($4 == "n/a") ? 0 : $4 / $3; x = ($5 == "n/a") ? 0 : $5 / $3
		printf "\"%s c=%s\" %.3f %.3f\n", $1, $2, b, x }' "$out/pgbench.tsv" > "$work/ratios.dat"
	gnuplot <<GP
set terminal pngcairo size 900,420 font ",10"
set output "$out/pgbench.png"
set title "pgbench -S, transactions per second as a fraction of direct PostgreSQL (session pools of $POOL)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:1.1]
set ytics 0.1
set grid ytics
set key top right
set xtics rotate by -30
plot "$work/ratios.dat" using 2:xtic(1) title "PgBouncer", "" using 3 title "xconnproxy", 0.95 with lines dt 2 lc rgb "black" title "target 0.95"
GP
	echo "plot: $out/pgbench.png"
fi
