#!/usr/bin/env bash
# The result cache against its ceiling: pgbench runs a heavy aggregate
#
#   SELECT count(*), sum(abalance) FROM pgbench_accounts WHERE bid = :b
#
# (b random in 1..10 on a scale-10 database, so ten distinct answers) with
# 8 clients in -M simple and -M extended, in one run, against
#
#   direct      PostgreSQL itself, which reads all 1,000,000 accounts every
#               time (bid has no index);
#   pgpool      pgpool-II with its in-memory query cache (shmem);
#   xconnproxy  xconnproxy with cache_ttl = "60s" on the connection;
#   ceiling     integration/bench/ceiling, a wire server that answers every
#               statement with the same row at once: no cache can be faster.
#
#   integration/bench/cache.sh              # 3 rounds of 10 s per cell
#   DURATION=30 ROUNDS=5 integration/bench/cache.sh
#
# Every cache is warmed by a short run (WARMUP seconds) before its cell.
# The targets take turns, ROUNDS times over, and each cell is the median of
# its rounds: on a small shared machine one run of a target can be slowed
# by what else the machine does, and turns spread that over all targets.
# A target's ratio to the ceiling is the median of its ratio in each round
# (the ceiling runs seconds after it, in the same spell of the machine),
# not the ratio of two medians, which can pair one target's slow round
# with the other's fast one.
# Prints transactions per second with each one's ratio to the ceiling
# (target: xconnproxy >= 0.8), the hit latency at p50/p99 of xconnproxy and
# of the ceiling (pgbench --log, at 1 client and at CLIENTS), and the memory
# one cached answer of this query takes. Raw figures go to
# integration/bench/out/cache.tsv and cache-latency.tsv, the plot to
# integration/bench/out/cache.png (docs/img/cache.png is one).
#
# Needs: a PostgreSQL at $PGHOST:$PGPORT (default 127.0.0.1:5432, user
# postgres, trust), pgbench (PostgreSQL's server package ships it), go;
# pgpool-II (Debian: apt-get install pgpool2) for its column, which reads
# n/a without it; gnuplot for the plot (optional).
set -euo pipefail
cd "$(dirname "$0")/../.."
. integration/bench/lib.sh

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}
LAT_DURATION=${LAT_DURATION:-$DURATION}
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-8}
JOBS=${JOBS:-2}
MODES=${MODES:-"simple extended"}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
DB=xcp_cache_bench
PGPOOL_PORT=6446
PCP_PORT=6447
PROXY_PORT=6448
CEILING_PORT=6449
TARGETS="direct pgpool xconnproxy ceiling"

find_pgbench
pgpool=$(command -v pgpool || ls /usr/sbin/pgpool 2>/dev/null || true)
[ -n "$pgpool" ] || echo "pgpool not found (Debian: apt-get install pgpool2): its cells read n/a"
for port in $PGPOOL_PORT $PCP_PORT $PROXY_PORT $CEILING_PORT; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "port $port is taken (another run of this script?)"; exit 1
	fi
done

make_work

echo "== preparing $DB (pgbench -i -s $SCALE)"
psql -X -q -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"$pgbench" -q -i -s "$SCALE" -h "$PGHOST" -p "$PGPORT" -U postgres "$DB" >/dev/null 2>&1
cat > "$work/aggregate.sql" <<SQL
\set b random(1, $SCALE)
SELECT count(*), sum(abalance) FROM pgbench_accounts WHERE bid = :b;
SQL

echo "== building xconnproxy and the ceiling server"
go build -o "$work/xconnproxy" ./cmd/xconnproxy
go build -o "$work/ceiling" ./integration/bench/ceiling
go build -o "$work/entrysize" ./integration/bench/entrysize

echo "== starting pgpool-II, xconnproxy and the ceiling"
# pgpool-II with its query cache in shared memory (how it is run:
# integration/bench/lib.sh); 16 children serve the 8 clients with room to
# spare.
if [ -n "$pgpool" ]; then
	mkdir -p "$work/pgpool/oiddir"
	start_pgpool "$work/pgpool" "$PGPOOL_PORT" "$PCP_PORT" 16 "memory_cache_enabled = on
memqcache_method = 'shmem'
memqcache_total_size = 64MB
memqcache_max_num_cache = 100000
memqcache_expire = 60
memqcache_oiddir = '$work/pgpool/oiddir'"
fi

cat > "$work/secrets.toml" <<TOML
[connections.$DB]
url = "postgresql://postgres@$PGHOST:$PGPORT/$DB?sslmode=disable"
pool_size = 16
cache_ttl = "60s"
TOML
"$work/xconnproxy" --secrets "$work/secrets.toml" --listen "127.0.0.1:$PROXY_PORT" --log-level warn &
pids+=($!)
proxy_pid=$!
"$work/ceiling" -listen "127.0.0.1:$CEILING_PORT" 2>/dev/null &
pids+=($!)
ceiling_pid=$!

port_of() {
	case $1 in
	direct) echo "$PGPORT" ;; pgpool) echo "$PGPOOL_PORT" ;;
	xconnproxy) echo "$PROXY_PORT" ;; ceiling) echo "$CEILING_PORT" ;;
	esac
}
for t in pgpool xconnproxy ceiling; do
	[ "$t" = pgpool ] && [ -z "$pgpool" ] && continue
	for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$(port_of "$t")" && break; sleep 0.1; done
done

# Every leg in plain TCP: libpq's sslmode=prefer would encrypt the direct
# leg only.
export PGSSLMODE=disable

# pgbench target mode seconds clients [more pgbench flags]: prints tps, or
# n/a when the run failed.
bench() {
	local target=$1 mode=$2 secs=$3 c=$4 host=127.0.0.1 v
	shift 4
	[ "$target" = direct ] && host=$PGHOST
	if [ "$target" = pgpool ] && [ -z "$pgpool" ]; then echo n/a; return; fi
	v=$("$pgbench" -n -f "$work/aggregate.sql" -M "$mode" -c "$c" -j "$(( c < JOBS ? c : JOBS ))" -T "$secs" \
		-h "$host" -p "$(port_of "$target")" -U postgres "$@" "$DB" 2>"$work/pgbench.err" |
		awk '/^tps = / { print int($3); exit }') || true
	if [ -z "$v" ]; then
		echo "pgbench failed on $target ($mode): $(tail -1 "$work/pgbench.err")" >&2
		v=n/a
	fi
	echo "$v"
}

# CPU time a process used so far, in microseconds (Linux /proc; empty
# elsewhere): with it, the server's CPU per transaction, which is what a
# machine whose cores the client shares turns into throughput.
tick_us=$(( 1000000 / $(getconf CLK_TCK) ))
cpu_us() { [ -r "/proc/$1/stat" ] && awk -v t="$tick_us" '{ print ($14 + $15) * t }' "/proc/$1/stat" || true; }
per_tx() { # cpu_before cpu_after tps
	if [ -z "$1" ] || [ -z "$2" ] || [ "$3" = n/a ]; then echo n/a; else echo $(( ($2 - $1) / ($3 * DURATION) )); fi
}

# round_ratios mode target: the target's tps over the ceiling's, one line
# per round (n/a where either run failed).
round_ratios() {
	awk -F'\t' -v m="$1" -v t="$2" '$1 == m && $3 == t { x[$2] = $4 } $1 == m && $3 == "ceiling" { c[$2] = $4 }
		END { for (r = 1; r in x; r++) print (x[r] == "n/a" || c[r] == "n/a" || c[r] == 0) ? "n/a" : sprintf(x[r] / c[r] < 0.01 ? "%.2g" : "%.2f", x[r] / c[r]) }' "$out/cache-rounds.tsv"
}

# median values...: the middle one (the lower middle of an even count),
# n/a when a run failed.
median() {
	case " $* " in *" n/a "*) echo n/a; return ;; esac
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "== $CLIENTS clients (-j $JOBS), $ROUNDS rounds of $DURATION s per cell after $WARMUP s of warm-up"
printf 'mode\tclients\tdirect\tpgpool\txconnproxy\tceiling\txconnproxy_cpu_us\tceiling_cpu_us\tdirect_ratio\tpgpool_ratio\txconnproxy_ratio\n' > "$out/cache.tsv"
printf 'mode\tround\ttarget\ttps\tcpu_us_per_tx\n' > "$out/cache-rounds.tsv"
printf '\n%-9s %9s %9s %10s %9s | %8s %8s %8s | %9s %9s\n' mode direct pgpool xconnproxy ceiling \
	"direct/c" "pgpool/c" "xcp/c" "xcp µs/tx" "ceil µs/tx"
for mode in $MODES; do
	for round in $(seq "$ROUNDS"); do
		for t in $TARGETS; do
			bench "$t" "$mode" "$WARMUP" "$CLIENTS" >/dev/null
			pid=; [ "$t" = xconnproxy ] && pid=$proxy_pid; [ "$t" = ceiling ] && pid=$ceiling_pid
			[ -n "$pid" ] && before=$(cpu_us "$pid")
			tps=$(bench "$t" "$mode" "$DURATION" "$CLIENTS")
			cpu=n/a
			[ -n "$pid" ] && cpu=$(per_tx "$before" "$(cpu_us "$pid")" "$tps")
			printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$round" "$t" "$tps" "$cpu" >> "$out/cache-rounds.tsv"
		done
	done
	row=() cpu=() rr=()
	for t in $TARGETS; do
		# shellcheck disable=SC2046 # one word per round
		row+=("$(median $(awk -F'\t' -v m="$mode" -v t="$t" '$1 == m && $3 == t { print $4 }' "$out/cache-rounds.tsv"))")
		case $t in xconnproxy | ceiling)
			# shellcheck disable=SC2046
			cpu+=("$(median $(awk -F'\t' -v m="$mode" -v t="$t" '$1 == m && $3 == t { print $5 }' "$out/cache-rounds.tsv"))") ;;
		esac
		case $t in ceiling) ;; *)
			# shellcheck disable=SC2046
			rr+=("$(median $(round_ratios "$mode" "$t"))") ;;
		esac
	done
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$CLIENTS" "${row[@]}" "${cpu[@]}" "${rr[@]}" >> "$out/cache.tsv"
	printf '%-9s %9s %9s %10s %9s | %8s %8s %8s | %9s %9s\n' "$mode" "${row[@]}" "${rr[@]}" "${cpu[@]}"
	# The ratio of each round too: how far one run can be off.
	echo "          xcp/c by round: $(round_ratios "$mode" xconnproxy | tr '\n' ' ')"
done
echo "(tps: medians of the rounds; x/c: the median of each round's ratio to the ceiling;"
echo " µs/tx: the server process's CPU per transaction)"
echo
echo "raw figures: $out/cache.tsv (medians), $out/cache-rounds.tsv (every round)"

# Hit latency: every transaction of a run logged (pgbench --log, the
# third column is its latency in microseconds), at one client (the
# round trip alone) and at CLIENTS (with the queueing of a busy machine).
# The ceiling's figures are the floor the hits are measured against.
percentiles() { # files...: prints "p50 p99" in microseconds
	awk '{ print $3 }' "$@" | sort -n | awk '{ v[NR] = $1 }
		function at(p,   i) { i = int(p * NR); if (i < p * NR) i++; if (i < 1) i = 1; return v[i] }
		END { if (NR) printf "%d %d\n", at(0.50), at(0.99); else print "n/a n/a" }'
}
echo
echo "== hit latency, microseconds (pgbench --log, $LAT_DURATION s per cell)"
printf 'mode\tclients\ttarget\tp50_us\tp99_us\n' > "$out/cache-latency.tsv"
printf '%-9s %7s %-10s %8s %8s\n' mode clients target p50 p99
for mode in $MODES; do
	for c in 1 $CLIENTS; do
		for t in xconnproxy ceiling; do
			rm -f "$work"/lat.*
			bench "$t" "$mode" "$LAT_DURATION" "$c" --log --log-prefix="$work/lat" >/dev/null
			read -r p50 p99 < <(percentiles "$work"/lat.*)
			printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$c" "$t" "$p50" "$p99" >> "$out/cache-latency.tsv"
			printf '%-9s %7s %-10s %8s %8s\n' "$mode" "$c" "$t" "$p50" "$p99"
		done
	done
done
echo "raw figures: $out/cache-latency.tsv"

# Memory: the cache's own benchmark (synthetic 1 KB and 64 KB answers),
# then this query's real answer, measured the same way by entrysize.
echo
echo "== memory per cached entry"
go test -run '^$' -bench MemoryPerEntry ./cache/ | awk '/^Benchmark/ {
	sub(/-[0-9]+$/, "", $1)
	for (i = 3; i < NF; i++) { if ($(i + 1) == "B/entry") b = $i; if ($(i + 1) == "overhead-B/entry") o = $i }
	printf "%-30s %6d B/entry, %5d B over the answer\n", $1, b, o }'
"$work/entrysize" -url "postgres://postgres@$PGHOST:$PGPORT/$DB?sslmode=disable" \
	-query 'SELECT count(*), sum(abalance) FROM pgbench_accounts WHERE bid = $1' -param 1 |
	awk -F'\t' '{ printf "this query, -M %-8s %6d B/entry, %5d B over the answer of %d B (%s)\n", $1, $3, $3 - $2, $2, $4 }'

# The plot for docs/benchmarks.md, when gnuplot is installed: bars of the
# ratio to the ceiling, each labelled with its transactions per second.
if command -v gnuplot >/dev/null 2>&1; then
	awk -F'\t' 'NR > 1 && $6 != "n/a" {
		printf "\"-M %s\"", $1
		for (i = 9; i <= 11; i++) printf " %.4f", ($i == "n/a") ? 0 : $i
		printf " 1"
		for (i = 3; i <= 6; i++) printf " %s", $i
		printf "\n" }' "$out/cache.tsv" > "$work/ratios.dat"
	gnuplot <<GP
set terminal pngcairo size 900,440 font ",10"
set output "$out/cache.png"
set title "pgbench, cached aggregate, $CLIENTS clients: fraction of the ceiling, median of the rounds (labels: median tps)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:1.15]
set ytics 0.1
set grid ytics
set key top left
# Bar i of group g is centred at g + (i - 1.5) / 5: four bars and a gap.
plot "$work/ratios.dat" using 2:xtic(1) title "PostgreSQL direct", "" using 3 title "pgpool-II query cache", \\
	"" using 4 title "xconnproxy cache", "" using 5 title "ceiling", \\
	for [i=0:3] "" using (\$0 + (i - 1.5) / 5):(column(i + 2)):(stringcolumn(i + 6)) with labels offset 0,0.6 notitle, \\
	0.8 with lines dt 2 lc rgb "black" title "target 0.8"
GP
	echo "plot: $out/cache.png"
fi
