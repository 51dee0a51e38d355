# Shared by the benchmark scripts: sourced, not run.

# start_pgpool DIR PORT PCP_PORT CHILDREN [EXTRA_CONF]: pgpool-II 4.3 in raw
# mode (one backend at $PGHOST:$PGPORT, no replication checks) in the
# foreground of a background job, its pid appended to the caller's pids.
# What it takes to run it from a script: -n keeps it in the foreground, so
# $! is its main process and the caller's trap stops it (SIGTERM); every
# file it writes (sockets, pid file, pgpool_status in logdir) goes to DIR,
# so it runs as root or as any user without touching /var/run;
# enable_pool_hba = off is trust for every client; the pcp process still
# starts, on a unix socket in DIR. max_pool 1 per child.
start_pgpool() {
	local dir=$1 port=$2 pcp=$3 children=$4 extra=${5:-}
	mkdir -p "$dir"
	cat > "$dir/pgpool.conf" <<CONF
backend_clustering_mode = 'raw'
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
pcp_listen_addresses = ''
pcp_port = $pcp
pcp_socket_dir = '$dir'
backend_hostname0 = '$PGHOST'
backend_port0 = $PGPORT
backend_weight0 = 1
backend_flag0 = 'DISALLOW_TO_FAILOVER'
enable_pool_hba = off
num_init_children = $children
max_pool = 1
pid_file_name = '$dir/pgpool.pid'
logdir = '$dir'
log_destination = 'stderr'
health_check_period = 0
sr_check_period = 0
load_balance_mode = off
$extra
CONF
	: > "$dir/pcp.conf"
	"$pgpool" -n -f "$dir/pgpool.conf" -F "$dir/pcp.conf" 2>"$dir/pgpool.log" &
	pids+=($!)
}

# find_pgbench: sets pgbench to PostgreSQL's pgbench (Debian's server
# package ships it off PATH), or stops the script.
find_pgbench() {
	pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -1)
	[ -x "$pgbench" ] || { echo "pgbench not found (it comes with the PostgreSQL server package)"; exit 1; }
}

# make_work: sets work (a directory the postgres user can read, for
# PgBouncer run as postgres), out (integration/bench/out) and pids (the
# background jobs), and stops those jobs and removes work when the script
# exits.
make_work() {
	work=$(mktemp -d)
	chmod 755 "$work"
	out=integration/bench/out
	mkdir -p "$out"
	pids=()
	trap cleanup_work EXIT
}

cleanup_work() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}

# start_pgbouncer INI: PgBouncer on INI as a background job. It refuses to
# run as root: as root it runs as postgres, which then needs to write its
# log and pid file in the work directory.
start_pgbouncer() {
	local user=()
	if [ "$(id -u)" = 0 ]; then
		user=(-u postgres)
		chown postgres "$work"
	fi
	pgbouncer "${user[@]}" "$1" 2>/dev/null &
	pids+=($!)
}
