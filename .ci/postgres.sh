#!/usr/bin/env bash
# Makes a PostgreSQL server available for the persistence tests on a Debian machine.
# Runs as root without stdin; idempotent. Prints the URL the tests use (POSTGRES_URL).
#
#   PG_ROLE / PG_PASSWORD / PG_DATABASE   default saga / saga / saga_test
#   PG_CLUSTER                            Debian cluster name, default main
#   PG_WAIT_SECONDS                       how long to wait for the server, default 60
set -euo pipefail

PG_ROLE="${PG_ROLE:-saga}"
PG_PASSWORD="${PG_PASSWORD:-saga}"
PG_DATABASE="${PG_DATABASE:-saga_test}"
PG_CLUSTER="${PG_CLUSTER:-main}"
PG_WAIT_SECONDS="${PG_WAIT_SECONDS:-60}"

log() { echo "postgres.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (installs packages, manages the cluster)"

# Identifiers and the password are interpolated into SQL below: keep them boring.
for value in "$PG_ROLE" "$PG_DATABASE"; do
    [[ "$value" =~ ^[a-z_][a-z0-9_]*$ ]] || die "invalid identifier '$value' (use [a-z0-9_])"
done
[[ "$PG_PASSWORD" != *"'"* ]] || die "PG_PASSWORD must not contain a single quote"

if ! command -v pg_lsclusters >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing PostgreSQL (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null
    apt-get install -y -qq --no-install-recommends postgresql postgresql-client </dev/null >/dev/null
fi

# The newest installed server version (bookworm ships 15).
PG_VERSION="${PG_VERSION:-$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n | tail -n 1)}"
[ -n "$PG_VERSION" ] || die "no PostgreSQL server found under /usr/lib/postgresql"

# pg_lsclusters --no-header columns: version cluster port status owner datadir logfile
cluster_field() {
    pg_lsclusters --no-header | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" -v f="$1" '$1 == v && $2 == c { print $f }'
}

if [ -z "$(cluster_field 2)" ]; then
    log "creating cluster $PG_VERSION/$PG_CLUSTER"
    pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >/dev/null
fi

if [ "$(cluster_field 4)" != "online" ]; then
    log "starting cluster $PG_VERSION/$PG_CLUSTER"
    # Containers have no systemd: pg_ctlcluster starts the server directly.
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start ||
        die "cannot start cluster $PG_VERSION/$PG_CLUSTER; see $(cluster_field 7)"
fi

PG_PORT="$(cluster_field 3)"

deadline=$((SECONDS + PG_WAIT_SECONDS))
until pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; do
    [ "$SECONDS" -lt "$deadline" ] || die "server on 127.0.0.1:$PG_PORT not ready after ${PG_WAIT_SECONDS}s; see $(cluster_field 7)"
    sleep 0.5
done

as_postgres() {
    # From /, so psql does not complain about a cwd the postgres user cannot read.
    (cd / && runuser -u postgres -- psql --no-psqlrc -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@" </dev/null)
}

if [ "$(as_postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$PG_ROLE'")" != "1" ]; then
    log "creating role $PG_ROLE"
    as_postgres -c "CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD'"
else
    as_postgres -c "ALTER ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD'"
fi

if [ "$(as_postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'")" != "1" ]; then
    log "creating database $PG_DATABASE"
    as_postgres -c "CREATE DATABASE $PG_DATABASE OWNER $PG_ROLE"
fi

# deploy/cost-bench.sh reads pg_stat_statements (each statement's calls and execution time):
# the library loads at server start, the role may read and reset what every role ran.
if [[ "$(as_postgres -tAc "SHOW shared_preload_libraries")" != *pg_stat_statements* ]]; then
    log "loading pg_stat_statements (restarts the server)"
    as_postgres -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart
    deadline=$((SECONDS + PG_WAIT_SECONDS))
    until pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; do
        [ "$SECONDS" -lt "$deadline" ] || die "server on 127.0.0.1:$PG_PORT not back after ${PG_WAIT_SECONDS}s; see $(cluster_field 7)"
        sleep 0.5
    done
fi
as_postgres -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
as_postgres -d postgres -c "GRANT pg_read_all_stats TO $PG_ROLE"
as_postgres -d postgres -c "GRANT EXECUTE ON FUNCTION pg_stat_statements_reset(oid, oid, bigint) TO $PG_ROLE"

# Fail here, not in the tests, if password authentication over TCP does not work.
PGPASSWORD="$PG_PASSWORD" psql --no-psqlrc -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DATABASE" \
    -tAc "SELECT 1" </dev/null >/dev/null ||
    die "cannot log in as $PG_ROLE over TCP on 127.0.0.1:$PG_PORT (check pg_hba.conf)"

echo "postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DATABASE"
