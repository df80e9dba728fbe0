# shellcheck shell=bash
# The PostgreSQL server behind the stack's --postgres URL: its port, its Debian cluster, and the
# connections of one instance. Sourced by deploy/chaos.sh; POSTGRES is set by then. Stopping or
# restarting it hits everyone who uses that server: give the stack a cluster of its own
# (PG_CLUSTER=chaos bash .ci/postgres.sh).

pg_port() {
    local hostport=${POSTGRES#*://}
    hostport=${hostport#*@}
    hostport=${hostport%%/*}
    [[ $hostport == *:* ]] && echo "${hostport##*:}" || echo 5432
}

# "15 main" for the cluster listening on the URL's port.
pg_cluster() {
    pg_lsclusters --no-header 2>/dev/null | awk -v port="$(pg_port)" '$3 == port { print $1, $2; exit }'
}

pg_control() { # start|stop|restart [pg_ctlcluster options]
    local version cluster
    read -r version cluster <<<"$(pg_cluster)"
    [[ -n $version ]] || { event "no PostgreSQL cluster on port $(pg_port) (pg_lsclusters)"; return 1; }
    pg_ctlcluster "$version" "$cluster" "$@"
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$(pg_port)"; }

pg_query() { # sql
    psql "${POSTGRES%/}/postgres" -X -q -tAc "$1" 2>/dev/null
}

# The client ports of one process's connections to the server, comma-separated.
pg_client_ports() { # pid
    ss -tnpH state established "( dport = :$(pg_port) )" 2>/dev/null \
        | awk -v pid="pid=$1," 'index($0, pid) { n = split($3, a, ":"); print a[n] }' | paste -sd, -
}

# How many of those connections are inside a transaction that wrote rows (so holds row locks)
# and wait for their client.
pg_open_write_transactions() { # client_ports
    [[ -n $1 ]] || { echo 0; return; }
    pg_query "SELECT count(*) FROM pg_stat_activity WHERE client_port IN ($1) AND backend_xid IS NOT NULL AND state LIKE 'idle in transaction%'"
}
