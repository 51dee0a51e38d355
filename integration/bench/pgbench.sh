#!/usr/bin/env bash
# pgbench -S directly, through PgBouncer and through xconnproxy, each proxy
# in session and in transaction pool mode, in one run.
#
#   integration/bench/pgbench.sh            # 10 s per cell
#   DURATION=30 integration/bench/pgbench.sh
#   CONTROLS=1 integration/bench/pgbench.sh # and the bare Go relays
#
# With CONTROLS=1 a second table compares direct with the two designs of
# integration/bench/relay, the least a Go proxy can do: a goroutine per
# direction (copy) and one goroutine per client (sync).
#
# Needs: a PostgreSQL at $PGHOST:$PGPORT (default 127.0.0.1:5432, user
# postgres, trust), pgbench (PostgreSQL's server package ships it), pgbouncer
# (Debian: apt-get install pgbouncer), go; gnuplot for the plot (optional).
# Prints one table of transactions per second and each proxy's ratio to
# direct (PgBouncer before 1.21 cannot run -M prepared in transaction mode:
# those cells read n/a), and writes the raw figures to integration/bench/out/pgbench.tsv and
# the plot to integration/bench/out/pgbench.png (docs/img/pgbench.png is one).
set -euo pipefail
cd "$(dirname "$0")/../.."
. integration/bench/lib.sh

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
COPY_RELAY_PORT=6438
SYNC_RELAY_PORT=6439
CONTROLS=${CONTROLS:-0}

find_pgbench
command -v pgbouncer >/dev/null || { echo "pgbouncer not found: apt-get install pgbouncer"; exit 1; }
make_work

echo "== preparing $DB (pgbench -i -s $SCALE)"
psql -X -q -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"$pgbench" -q -i -s "$SCALE" -h "$PGHOST" -p "$PGPORT" -U postgres "$DB" >/dev/null 2>&1

echo "== starting PgBouncer and xconnproxy (session and transaction mode, pools of $POOL)"
# The transaction-mode pools are the same server database under a second
# name, so one process of each serves both modes.
cat > "$work/pgbouncer.ini" <<INI
[databases]
$DB = host=$PGHOST port=$PGPORT dbname=$DB user=postgres
${DB}_tx = host=$PGHOST port=$PGPORT dbname=$DB user=postgres pool_mode=transaction
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
start_pgbouncer "$work/pgbouncer.ini"

go build -o "$work/xconnproxy" ./cmd/xconnproxy
cat > "$work/secrets.toml" <<TOML
[connections.$DB]
url = "postgresql://postgres@$PGHOST:$PGPORT/$DB?sslmode=disable"
pool_size = $POOL
pool_idle_timeout = "1s"

[connections.${DB}_tx]
url = "postgresql://postgres@$PGHOST:$PGPORT/$DB?sslmode=disable"
pool_mode = "transaction"
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
tps() { # port mode clients [database]
	local jobs=$(( $3 < 2 ? 1 : 2 )) v
	v=$("$pgbench" -n -S -M "$2" -c "$3" -j "$jobs" -T "$DURATION" -h 127.0.0.1 -p "$1" -U postgres "${4:-$DB}" 2>"$work/pgbench.err" |
		awk '/^tps = / { print int($3); exit }') || true
	sleep 3
	if [ -z "$v" ]; then
		echo "pgbench failed on port $1 ($2, $3 clients): $(tail -1 "$work/pgbench.err")" >&2
		v=n/a
	fi
	echo "$v"
}

ratio() { if [ "$1" = n/a ] || [ "$2" = n/a ]; then echo n/a; else printf '%.2f' "$(echo "$1 / $2" | bc -l)"; fi; }

printf 'mode\tclients\tdirect\tpgbouncer\txconnproxy\tpgbouncer_tx\txconnproxy_tx\n' > "$out/pgbench.tsv"
printf '\n%-9s %7s %8s %8s %8s %8s %8s | %7s %7s %7s %7s\n' mode clients direct pgb xcp pgb-tx xcp-tx "pgb/d" "xcp/d" "pgbtx/d" "xcptx/d"
for mode in $MODES; do
	for c in $CLIENTS; do
		d=$(tps "$PGPORT" "$mode" "$c")
		b=$(tps "$BOUNCER_PORT" "$mode" "$c"); x=$(tps "$PROXY_PORT" "$mode" "$c")
		bt=$(tps "$BOUNCER_PORT" "$mode" "$c" "${DB}_tx"); xt=$(tps "$PROXY_PORT" "$mode" "$c" "${DB}_tx")
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$c" "$d" "$b" "$x" "$bt" "$xt" >> "$out/pgbench.tsv"
		printf '%-9s %7s %8s %8s %8s %8s %8s | %7s %7s %7s %7s\n' "$mode" "$c" "$d" "$b" "$x" "$bt" "$xt" \
			"$(ratio "$b" "$d")" "$(ratio "$x" "$d")" "$(ratio "$bt" "$d")" "$(ratio "$xt" "$d")"
	done
done
echo
echo "raw figures: $out/pgbench.tsv"

if [ "$CONTROLS" = 1 ]; then
	go build -o "$work/relay" ./integration/bench/relay
	"$work/relay" -mode copy -listen "127.0.0.1:$COPY_RELAY_PORT" -server "$PGHOST:$PGPORT" &
	pids+=($!)
	"$work/relay" -mode sync -listen "127.0.0.1:$SYNC_RELAY_PORT" -server "$PGHOST:$PGPORT" &
	pids+=($!)
	for port in $COPY_RELAY_PORT $SYNC_RELAY_PORT; do
		for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
	done
	printf 'mode\tclients\tdirect\tcopy_relay\tsync_relay\txconnproxy\n' > "$out/pgbench-controls.tsv"
	printf '\n%-9s %7s %8s %8s %8s %8s | %7s %7s %7s\n' mode clients direct copy sync xcp "copy/d" "sync/d" "xcp/d"
	for mode in $MODES; do
		for c in $CLIENTS; do
			d=$(tps "$PGPORT" "$mode" "$c")
			r1=$(tps "$COPY_RELAY_PORT" "$mode" "$c"); r2=$(tps "$SYNC_RELAY_PORT" "$mode" "$c")
			x=$(tps "$PROXY_PORT" "$mode" "$c")
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$c" "$d" "$r1" "$r2" "$x" >> "$out/pgbench-controls.tsv"
			printf '%-9s %7s %8s %8s %8s %8s | %7s %7s %7s\n' "$mode" "$c" "$d" "$r1" "$r2" "$x" \
				"$(ratio "$r1" "$d")" "$(ratio "$r2" "$d")" "$(ratio "$x" "$d")"
		done
	done
	echo
	echo "raw figures: $out/pgbench-controls.tsv"
fi

# The plot for docs/benchmarks.md, when gnuplot is installed.
if command -v gnuplot >/dev/null 2>&1; then
	awk -F'\t' 'NR > 1 && $3 != "n/a" {
		printf "\"%s c=%s\"", $1, $2
		for (i = 4; i <= 7; i++) printf " %.3f", ($i == "n/a") ? 0 : $i / $3
		printf "\n" }' "$out/pgbench.tsv" > "$work/ratios.dat"
	gnuplot <<GP
set terminal pngcairo size 1000,440 font ",10"
set output "$out/pgbench.png"
set title "pgbench -S, transactions per second as a fraction of direct PostgreSQL (pools of $POOL)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:1.1]
set ytics 0.1
set grid ytics
set key top right
set xtics rotate by -30
plot "$work/ratios.dat" using 2:xtic(1) title "PgBouncer session", "" using 3 title "xconnproxy session", \\
	"" using 4 title "PgBouncer transaction", "" using 5 title "xconnproxy transaction", \\
	0.95 with lines dt 2 lc rgb "black" title "target 0.95"
GP
	echo "plot: $out/pgbench.png"
fi
